//! Defects found by the outside probe (issue 16), each with the answer a
//! user now sees, on both databases.
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::{json, Value};
use vigil::models::{_entities::alert_histories, users::Role};

use super::prepare_data::{assert_error, token_for};

async fn open_alert(request: &axum_test::TestServer, token: &str, ip: &str) -> String {
    let r = request
        .post("/api/events")
        .authorization_bearer(token)
        .json(
            &json!({"source": "ids-1", "event_type": "sqli", "severity": "HIGH", "source_ip": ip}),
        )
        .await;
    assert_eq!(r.status_code(), 201, "{}", r.text());
    r.json::<Value>()["alert"]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn status_notes_are_bounded_before_anything_is_written() {
    crate::support::request(|request, ctx| async move {
        let admin = token_for(&request, &ctx, "root", Role::Admin).await;
        let ids = [
            open_alert(&request, &admin, "203.0.113.1").await,
            open_alert(&request, &admin, "203.0.113.2").await,
        ];
        let history_before = alert_histories::Entity::find()
            .count(&ctx.db)
            .await
            .unwrap();
        let huge = "n".repeat(10_001);

        let r = request
            .patch(&format!("/api/alerts/{}/status", ids[0]))
            .authorization_bearer(&admin)
            .json(&json!({"status": "ACKNOWLEDGED", "note": huge}))
            .await;
        let body = assert_error(&r, 400, "validation_failed");
        assert!(body["fields"]["note"].is_array(), "{body}");

        let r = request
            .post("/api/alerts/bulk-status")
            .authorization_bearer(&admin)
            .json(&json!({"ids": ids, "status": "ACKNOWLEDGED", "note": huge}))
            .await;
        let body = assert_error(&r, 400, "validation_failed");
        assert!(body["fields"]["note"].is_array(), "{body}");

        let r = request
            .post("/api/alerts/bulk-status")
            .authorization_bearer(&admin)
            .json(&json!({"ids": ids, "status": "ACKNOWLEDGED", "note": "  "}))
            .await;
        assert_error(&r, 400, "validation_failed");

        // Nothing changed: both alerts still OPEN, no history written.
        for id in &ids {
            let r = request
                .get(&format!("/api/alerts/{id}"))
                .authorization_bearer(&admin)
                .await;
            assert_eq!(r.json::<Value>()["status"], "OPEN");
        }
        let history_after = alert_histories::Entity::find()
            .count(&ctx.db)
            .await
            .unwrap();
        assert_eq!(history_before, history_after);

        // At the limit, accepted.
        let r = request
            .post("/api/alerts/bulk-status")
            .authorization_bearer(&admin)
            .json(&json!({"ids": ids, "status": "ACKNOWLEDGED", "note": "n".repeat(10_000)}))
            .await;
        assert_eq!(r.status_code(), 200, "{}", r.text());
    })
    .await;
}
