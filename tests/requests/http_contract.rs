//! The conventions every endpoint shares: JSON errors for the framework's
//! own rejections, trailing slashes, body limits, probes, API docs.
use serde_json::{json, Value};

use super::prepare_data::{assert_error, PASSWORD};

#[tokio::test]
async fn unknown_route_is_a_json_404() {
    crate::support::request(|request, _ctx| async move {
        let r = request.get("/api/nothing-here").await;
        let body = assert_error(&r, 404, "not_found");
        assert!(body["message"]
            .as_str()
            .unwrap()
            .contains("/api/nothing-here"));
    })
    .await;
}

#[tokio::test]
async fn wrong_method_is_a_json_405() {
    crate::support::request(|request, _ctx| async move {
        let r = request.get("/api/auth/login").await;
        assert_error(&r, 405, "method_not_allowed");
        let r = request.delete("/api/auth/register/").await;
        assert_error(&r, 405, "method_not_allowed");
    })
    .await;
}

#[tokio::test]
async fn non_json_bodies_are_415_and_malformed_json_is_400() {
    crate::support::request(|request, _ctx| async move {
        let r = request
            .post("/api/auth/register")
            .text("<user><username>a</username></user>")
            .content_type("application/xml")
            .await;
        assert_error(&r, 415, "unsupported_media_type");

        let r = request
            .post("/api/auth/login")
            .text("username=a&password=b")
            .content_type("application/x-www-form-urlencoded")
            .await;
        assert_error(&r, 415, "unsupported_media_type");

        let r = request
            .post("/api/auth/register")
            .text("{\"username\": \"a\",")
            .content_type("application/json")
            .await;
        assert_error(&r, 400, "malformed_json");

        let r = request
            .post("/api/auth/register")
            .text("[1, 2, 3]")
            .content_type("application/json")
            .await;
        assert_error(&r, 400, "validation_failed");
    })
    .await;
}

#[tokio::test]
async fn bodies_over_one_mebibyte_are_413() {
    crate::support::request(|request, _ctx| async move {
        let big = "x".repeat(1024 * 1024 + 10);
        let r = request
            .post("/api/auth/register")
            .json(&json!({"username": "alice", "email": "a@example.com", "password": big}))
            .await;
        assert_error(&r, 413, "payload_too_large");
    })
    .await;
}

#[tokio::test]
async fn paths_answer_with_or_without_trailing_slash() {
    crate::support::request(|request, _ctx| async move {
        let body = json!({"username": "alice", "email": "alice@example.com", "password": PASSWORD});
        let r = request.post("/api/auth/register/").json(&body).await;
        assert_eq!(r.status_code(), 201, "{}", r.text());
        let r = request
            .post("/api/auth/login/")
            .json(&json!({"username": "alice", "password": PASSWORD}))
            .await;
        assert_eq!(r.status_code(), 200);
        assert_eq!(request.get("/_ping/").await.status_code(), 200);
    })
    .await;
}

#[tokio::test]
async fn probes_report_process_and_database() {
    crate::support::request(|request, ctx| async move {
        let r = request.get("/_ping").await;
        assert_eq!(r.status_code(), 200);
        assert_eq!(r.json::<Value>()["status"], "ok");
        let redis = !vigil::settings::Settings::get(&ctx).redis_url.is_empty();
        for path in ["/_health", "/ready"] {
            let r = request.get(path).await;
            assert_eq!(r.status_code(), 200, "{path}");
            let body: Value = r.json();
            assert_eq!(body["database"], "ok");
            if !redis {
                // Without Redis there is nothing to degrade.
                assert_eq!(body["redis"], "not_configured");
                assert_eq!(body["status"], "ok");
            }
        }
    })
    .await;
}

/// The server's long-lived tasks start from the initializers and report in
/// `/_health`; one that stops degrades it, by name.
#[tokio::test]
async fn health_names_the_subsystems_and_one_that_stopped() {
    crate::support::request(|request, ctx| async move {
        let sqlite = ctx.config.database.uri.starts_with("sqlite");
        let redis = !vigil::settings::Settings::get(&ctx).redis_url.is_empty();
        let body: Value = request.get("/_health").await.json();
        let subsystems = body["subsystems"].as_object().expect("subsystems").clone();
        let mut expected = vec!["dispatcher", "operations", "webhook_sweep"];
        if redis {
            expected.push("redis_subscriber");
        }
        if sqlite {
            expected.push("wal_checkpointer");
        }
        expected.sort_unstable();
        assert_eq!(subsystems.keys().collect::<Vec<_>>(), expected);
        assert!(
            subsystems.values().all(|s| s == "running"),
            "{subsystems:?}"
        );

        assert!(vigil::initializers::Subsystems::get(&ctx).stop("dispatcher"));
        let mut body = Value::Null;
        for _ in 0..100 {
            body = request.get("/_health").await.json();
            if body["subsystems"]["dispatcher"] == "stopped" {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert_eq!(body["subsystems"]["dispatcher"], "stopped", "{body}");
        assert_eq!(body["status"], "degraded");
        assert!(
            body["detail"].as_str().unwrap().contains("dispatcher"),
            "{body}"
        );
    })
    .await;
}

#[tokio::test]
async fn api_docs_are_served() {
    crate::support::request(|request, _ctx| async move {
        let doc = request.get("/api-docs/openapi.json").await;
        assert_eq!(doc.status_code(), 200);
        let doc: Value = doc.json();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
        assert!(doc["paths"]["/api/auth/login"]["post"].is_object());
        assert!(doc["components"]["securitySchemes"]["bearer"].is_object());

        let ui = request.get("/swagger/").await;
        assert_eq!(ui.status_code(), 200);
        assert!(ui.text().contains("swagger-ui"), "Swagger UI page");

        let redoc = request.get("/redoc").await;
        assert_eq!(redoc.status_code(), 200);
        assert!(redoc.text().to_lowercase().contains("redoc"));
    })
    .await;
}
