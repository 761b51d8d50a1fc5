//! The failing and forbidden paths that the feature tests do not already cover.
use serde_json::{json, Value};
use vigil::models::users::Role;

use super::prepare_data::{assert_error, token_for};

async fn open_alert(request: &axum_test::TestServer, token: &str) -> String {
    let r = request
        .post("/api/events")
        .authorization_bearer(token)
        .json(&json!({"source": "ids", "event_type": "sqli", "severity": "HIGH"}))
        .await;
    r.json::<Value>()["alert"]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

const MISSING: &str = "00000000-0000-0000-0000-000000000000";

#[tokio::test]
async fn unknown_ids_are_404_everywhere() {
    crate::support::request(|request, ctx| async move {
        let admin = token_for(&request, &ctx, "root", Role::Admin).await;
        for path in [
            format!("/api/events/{MISSING}"),
            "/api/events/not-a-uuid".to_string(),
            format!("/api/alerts/{MISSING}"),
            format!("/api/alerts/{MISSING}/history"),
        ] {
            let r = request.get(&path).authorization_bearer(&admin).await;
            assert_error(&r, 404, "not_found");
        }
        let r = request
            .post(&format!("/api/alerts/{MISSING}/notes"))
            .authorization_bearer(&admin)
            .json(&json!({"note": "hello"}))
            .await;
        assert_error(&r, 404, "not_found");
        let r = request
            .patch(&format!("/api/alerts/{MISSING}"))
            .authorization_bearer(&admin)
            .json(&json!({"tags": ["x"]}))
            .await;
        assert_error(&r, 404, "not_found");
    })
    .await;
}

#[tokio::test]
async fn anonymous_callers_are_401_on_every_alert_route() {
    crate::support::request(|request, ctx| async move {
        let admin = token_for(&request, &ctx, "root", Role::Admin).await;
        let id = open_alert(&request, &admin).await;
        for r in [
            request.get("/api/alerts").await,
            request.get(&format!("/api/alerts/{id}")).await,
            request.get(&format!("/api/alerts/{id}/history")).await,
            request
                .post(&format!("/api/alerts/{id}/notes"))
                .json(&json!({"note": "x"}))
                .await,
            request
                .patch(&format!("/api/alerts/{id}"))
                .json(&json!({"tags": []}))
                .await,
            request
                .post("/api/alerts/bulk-status")
                .json(&json!({"ids": [id], "status": "OPEN"}))
                .await,
            request.get("/api/alerts/export").await,
            request.get("/api/stats").await,
            request.get(&format!("/api/events/{MISSING}")).await,
            request
                .post("/api/events/batch")
                .json(&json!({"events": []}))
                .await,
        ] {
            assert_error(&r, 401, "unauthorized");
        }
    })
    .await;
}

#[tokio::test]
async fn analysts_read_stats() {
    crate::support::request(|request, ctx| async move {
        let analyst = token_for(&request, &ctx, "alice", Role::Analyst).await;
        let r = request
            .get("/api/stats")
            .authorization_bearer(&analyst)
            .await;
        assert_eq!(r.status_code(), 200);
        assert_eq!(r.json::<Value>()["events"]["total"], 0);
    })
    .await;
}

#[tokio::test]
async fn alert_edits_report_every_invalid_field() {
    crate::support::request(|request, ctx| async move {
        let admin = token_for(&request, &ctx, "root", Role::Admin).await;
        let id = open_alert(&request, &admin).await;
        let r = request
            .patch(&format!("/api/alerts/{id}"))
            .authorization_bearer(&admin)
            .json(
                &json!({"assignee": "ghost", "tags": ["ok", "x".repeat(65)], "severity": "URGENT"}),
            )
            .await;
        let body = assert_error(&r, 400, "validation_failed");
        assert!(body["fields"]["severity"].is_array(), "{body}");
        let r = request
            .patch(&format!("/api/alerts/{id}"))
            .authorization_bearer(&admin)
            .json(&json!({"assignee": "ghost", "tags": ["ok", ""]}))
            .await;
        let body = assert_error(&r, 400, "validation_failed");
        assert!(body["fields"]["assignee"].is_array(), "{body}");
        assert!(body["fields"]["tags"].is_array(), "{body}");
        let too_many: Vec<String> = (0..51).map(|i| format!("t{i}")).collect();
        let r = request
            .patch(&format!("/api/alerts/{id}"))
            .authorization_bearer(&admin)
            .json(&json!({ "tags": too_many }))
            .await;
        assert_error(&r, 400, "validation_failed");
        let alert: Value = request
            .get(&format!("/api/alerts/{id}"))
            .authorization_bearer(&admin)
            .await
            .json();
        assert_eq!(alert["tags"], json!([]), "nothing was changed");
        assert!(alert["assignee"].is_null());

        let r = request
            .post(&format!("/api/alerts/{id}/notes"))
            .authorization_bearer(&admin)
            .json(&json!({"note": "x".repeat(10_001)}))
            .await;
        assert_error(&r, 400, "validation_failed");
    })
    .await;
}

#[tokio::test]
async fn bulk_status_refuses_empty_or_unknown_requests() {
    crate::support::request(|request, ctx| async move {
        let admin = token_for(&request, &ctx, "root", Role::Admin).await;
        let r = request
            .post("/api/alerts/bulk-status")
            .authorization_bearer(&admin)
            .json(&json!({"ids": [], "status": "RESOLVED"}))
            .await;
        let body = assert_error(&r, 400, "validation_failed");
        assert!(body["fields"]["ids"].is_array());
        let r = request
            .post("/api/alerts/bulk-status")
            .authorization_bearer(&admin)
            .json(&json!({"ids": ["x"], "status": "DONE"}))
            .await;
        let body = assert_error(&r, 400, "validation_failed");
        assert!(body["fields"]["status"].is_array());
    })
    .await;
}

#[tokio::test]
async fn a_bad_idempotency_key_is_400_and_stores_nothing() {
    crate::support::request(|request, ctx| async move {
        let analyst = token_for(&request, &ctx, "alice", Role::Analyst).await;
        let r = request
            .post("/api/events")
            .authorization_bearer(&analyst)
            .add_header("idempotency-key", "k".repeat(256))
            .json(&json!({"source": "s", "event_type": "t", "severity": "LOW"}))
            .await;
        assert_error(&r, 400, "invalid_idempotency_key");
        let list: Value = request
            .get("/api/events")
            .authorization_bearer(&analyst)
            .await
            .json();
        assert_eq!(list["count"], 0);
    })
    .await;
}

#[tokio::test]
async fn users_are_listed_by_page_only() {
    crate::support::request(|request, ctx| async move {
        let admin = token_for(&request, &ctx, "root", Role::Admin).await;
        let r = request
            .get("/api/users?cursor=")
            .authorization_bearer(&admin)
            .await;
        let body = assert_error(&r, 400, "validation_failed");
        assert!(body["fields"]["cursor"].is_array());
    })
    .await;
}
