//! The audit log: what is recorded, who may read it, and that altering or
//! removing an entry is found.
use sea_orm::{ConnectionTrait, EntityTrait, QueryOrder};
use serde_json::{json, Value};
use vigil::models::{
    _entities::audit_log,
    audit::{self, verify},
    users::Role,
};

use super::prepare_data::{assert_error, token_for, PASSWORD};

async fn actions(ctx: &loco_rs::app::AppContext) -> Vec<(String, String)> {
    audit_log::Entity::find()
        .order_by_asc(audit_log::Column::Id)
        .all(&ctx.db)
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.action, r.actor))
        .collect()
}

#[tokio::test]
async fn admin_actions_and_security_events_are_recorded_and_only_admins_read_them() {
    crate::support::request(|server, ctx| async move {
        let admin = token_for(&server, &ctx, "root", Role::Admin).await;
        let analyst = token_for(&server, &ctx, "ann", Role::Analyst).await;
        // A failed login, a key, a webhook, an access change, a refused scope.
        let r = server
            .post("/api/auth/login")
            .json(&json!({"username": "root", "password": "Tr0ub4dor&3-guess"}))
            .await;
        assert_eq!(r.status_code(), 401);
        let r = server
            .post("/api/api-keys")
            .authorization_bearer(&admin)
            .json(&json!({"name": "sensor", "scopes": ["events:write"]}))
            .await;
        let key = r.json::<Value>()["key"].as_str().unwrap().to_string();
        let r = server
            .get("/api/alerts")
            .add_header("X-API-Key", &key)
            .await;
        assert_error(&r, 403, "forbidden");
        let r = server
            .post("/api/webhooks")
            .authorization_bearer(&admin)
            .json(&json!({"url": "http://127.0.0.1:9/hook"}))
            .await;
        assert_eq!(r.status_code(), 201);
        let secret = r.json::<Value>()["secret"].as_str().unwrap().to_string();
        let ann = server
            .get("/api/users?page_size=100")
            .authorization_bearer(&admin)
            .await
            .json::<Value>()["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["username"] == "ann")
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string();
        let r = server
            .patch(&format!("/api/users/{ann}"))
            .authorization_bearer(&admin)
            .json(&json!({"role": "ADMIN"}))
            .await;
        assert_eq!(r.status_code(), 200, "{}", r.text());

        // The background record of the refused scope lands shortly.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !actions(&ctx)
            .await
            .iter()
            .any(|a| a.0 == "api_key.refused_scope")
        {
            assert!(
                std::time::Instant::now() < deadline,
                "{:?}",
                actions(&ctx).await
            );
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        let got = actions(&ctx).await;
        for (action, actor) in [
            ("login.succeeded", "root"),
            ("login.failed", "root"),
            ("api_key.created", "root"),
            ("api_key.refused_scope", "root (API key sensor)"),
            ("webhook.created", "root"),
            ("user.access_changed", "root"),
        ] {
            assert!(
                got.iter().any(|(a, b)| a == action && b == actor),
                "{action} by {actor}: {got:?}"
            );
        }

        // Analysts (and keys) may not read it.
        let r = server
            .get("/api/audit")
            .authorization_bearer(&analyst)
            .await;
        // ann is an admin now, but her token's role is read per request: allowed.
        assert_eq!(r.status_code(), 200);
        let other = token_for(&server, &ctx, "bob", Role::Analyst).await;
        let r = server.get("/api/audit").authorization_bearer(&other).await;
        assert_error(&r, 403, "forbidden");
        let r = server.get("/api/audit").add_header("X-API-Key", &key).await;
        assert_error(&r, 403, "forbidden");

        // Filters and pages; no secret anywhere in the log.
        let r = server
            .get("/api/audit?action=user.access_changed")
            .authorization_bearer(&admin)
            .await;
        assert_eq!(r.status_code(), 200, "{}", r.text());
        let page = r.json::<Value>();
        assert_eq!(page["count"], 1);
        let entry = &page["results"][0];
        assert_eq!(entry["before"]["role"], "ANALYST");
        assert_eq!(entry["after"]["role"], "ADMIN");
        assert_eq!(entry["target"], ann.as_str());
        assert!(entry["address"].is_string(), "{entry}");
        let all = server
            .get("/api/audit?page_size=500")
            .authorization_bearer(&admin)
            .await
            .text();
        for secret in [key.as_str(), secret.as_str(), PASSWORD, "Tr0ub4dor&3-guess"] {
            assert!(!all.contains(secret), "{secret} leaked into the audit log");
        }
        let r = server
            .get("/api/audit?colour=red")
            .authorization_bearer(&admin)
            .await;
        let err = assert_error(&r, 400, "validation_failed");
        assert!(err["fields"]["colour"].is_array());
        let r = server
            .get("/api/audit?action=user.deleted")
            .authorization_bearer(&admin)
            .await;
        let err = assert_error(&r, 400, "validation_failed");
        assert!(
            err["fields"]["action"].is_array(),
            "an unknown action is named, not an empty page"
        );
        let r = server
            .get("/api/audit?until=tomorrow")
            .authorization_bearer(&admin)
            .await;
        let err = assert_error(&r, 400, "validation_failed");
        assert!(err["fields"]["until"].is_array());
        let r = server
            .get("/api/audit?since=yesterday")
            .authorization_bearer(&admin)
            .await;
        let err = assert_error(&r, 400, "validation_failed");
        assert!(err["fields"]["since"].is_array());
    })
    .await;
}

#[tokio::test]
async fn the_chain_verifies_and_names_the_first_altered_or_removed_entry() {
    crate::support::request(|server, ctx| async move {
        let admin = token_for(&server, &ctx, "root", Role::Admin).await;
        for n in 0..5 {
            let r = server
                .post("/api/allowlist")
                .authorization_bearer(&admin)
                .json(&json!({"cidr": format!("10.{n}.0.0/16"), "reason": "r"}))
                .await;
            assert_eq!(r.status_code(), 201);
        }
        let rows = audit_log::Entity::find()
            .order_by_asc(audit_log::Column::Id)
            .all(&ctx.db)
            .await
            .unwrap();
        assert!(rows.len() >= 6, "a login and five entries");
        assert_eq!(rows[0].prev_hash, audit::GENESIS);
        for pair in rows.windows(2) {
            assert_eq!(pair[1].prev_hash, pair[0].hash);
        }
        assert_eq!(verify(&ctx.db).await.unwrap(), Ok(rows.len() as u64));

        // Altered: the third entry's actor.
        let third = rows[2].id;
        ctx.db
            .execute_unprepared(&format!(
                "UPDATE audit_log SET actor = 'mallory' WHERE id = {third}"
            ))
            .await
            .unwrap();
        let broken = verify(&ctx.db).await.unwrap().unwrap_err();
        assert_eq!(broken.id, third, "{broken:?}");
        assert!(broken.reason.contains("altered"));
        // Put back: intact again.
        ctx.db
            .execute_unprepared(&format!(
                "UPDATE audit_log SET actor = 'root' WHERE id = {third}"
            ))
            .await
            .unwrap();
        assert!(verify(&ctx.db).await.unwrap().is_ok());
        // Altered with its hash recomputed: the next entry no longer follows.
        ctx.db
            .execute_unprepared(&format!(
                "UPDATE audit_log SET hash = '{}' WHERE id = {third}",
                "f".repeat(64)
            ))
            .await
            .unwrap();
        let broken = verify(&ctx.db).await.unwrap().unwrap_err();
        assert_eq!(
            broken.id, third,
            "its own hash no longer matches: {broken:?}"
        );
        ctx.db
            .execute_unprepared(&format!(
                "UPDATE audit_log SET hash = '{}' WHERE id = {third}",
                rows[2].hash
            ))
            .await
            .unwrap();
        // Removed: the entry after it is named.
        ctx.db
            .execute_unprepared(&format!("DELETE FROM audit_log WHERE id = {third}"))
            .await
            .unwrap();
        let broken = verify(&ctx.db).await.unwrap().unwrap_err();
        assert_eq!(broken.id, rows[3].id, "{broken:?}");
        assert!(broken.reason.contains("removed"));
        // The tail removed: found against the head.
        let (_, fresh) = (0, crate::support::boot().await);
        let fresh_ctx = fresh.ctx();
        let s = fresh.server();
        let t = token_for(&s, &fresh_ctx, "root", Role::Admin).await;
        s.post("/api/allowlist")
            .authorization_bearer(&t)
            .json(&json!({"cidr": "10.0.0.0/8", "reason": "r"}))
            .await;
        let last = audit_log::Entity::find()
            .order_by_desc(audit_log::Column::Id)
            .one(&fresh_ctx.db)
            .await
            .unwrap()
            .unwrap();
        fresh_ctx
            .db
            .execute_unprepared(&format!("DELETE FROM audit_log WHERE id = {}", last.id))
            .await
            .unwrap();
        let broken = verify(&fresh_ctx.db).await.unwrap().unwrap_err();
        assert!(broken.reason.contains("removed"), "{broken:?}");
    })
    .await;
}

/// A refusal that could not be recorded (storage refusing writes) does not
/// count as this minute's record: the next one is recorded.
#[tokio::test]
async fn a_security_event_lost_to_a_storage_fault_is_recorded_at_its_next_repeat() {
    crate::support::request(|server, ctx| async move {
        // SQLite has one write lock: holding it refuses the request itself
        // (503), not only its record. PostgreSQL locks the one table.
        if ctx.db.get_database_backend() != sea_orm::DatabaseBackend::Postgres {
            return;
        }
        let admin = token_for(&server, &ctx, "root", Role::Admin).await;
        let key = super::prepare_data::key_with(&server, &admin, &["events:write"]).await;
        let refused = || async {
            let r = server
                .get("/api/alerts")
                .add_header("X-API-Key", &key)
                .await;
            assert_error(&r, 403, "forbidden");
        };
        let recorded = || async {
            actions(&ctx)
                .await
                .iter()
                .filter(|a| a.0 == "api_key.refused_scope")
                .count()
        };
        // Held past the storage's 5 s wait: the background record fails.
        let hold = crate::support::hold_writes(&ctx, "audit_log").await;
        refused().await;
        tokio::time::sleep(std::time::Duration::from_secs(7)).await;
        hold.rollback().await.unwrap();
        assert_eq!(recorded().await, 0);
        // The same refusal within the minute: recorded now.
        refused().await;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while recorded().await == 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "the repeat was not recorded"
            );
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        // And a third within the minute is not (one a minute).
        refused().await;
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        assert_eq!(recorded().await, 1);
    })
    .await;
}
