//! The source allowlist: admins only, networks checked, allowlisted events
//! stored and marked but never opening or joining an alert.
use chrono::Utc;
use sea_orm::EntityTrait;
use serde_json::{json, Value};
use vigil::models::{_entities::allowlist_entries, users::Role};

use super::prepare_data::{assert_error, key_with, token_for};

#[tokio::test]
async fn only_admins_manage_the_allowlist_and_bad_networks_are_named() {
    crate::support::request(|server, ctx| async move {
        let admin = token_for(&server, &ctx, "root", Role::Admin).await;
        let analyst = token_for(&server, &ctx, "ann", Role::Analyst).await;
        let body = json!({"cidr": "10.0.0.0/8", "reason": "internal scanner"});
        let r = server
            .post("/api/allowlist")
            .authorization_bearer(&analyst)
            .json(&body)
            .await;
        assert_error(&r, 403, "forbidden");
        let r = server
            .get("/api/allowlist")
            .authorization_bearer(&analyst)
            .await;
        assert_error(&r, 403, "forbidden");
        let key = key_with(&server, &admin, &["alerts:write", "silences:write"]).await;
        let r = server
            .post("/api/allowlist")
            .add_header("X-API-Key", &key)
            .json(&body)
            .await;
        assert_error(&r, 403, "forbidden");

        for (body, field) in [
            (json!({"cidr": "10.0.0.0/33", "reason": "r"}), "cidr"),
            (json!({"cidr": "2001:db8::/129", "reason": "r"}), "cidr"),
            (json!({"cidr": "intranet", "reason": "r"}), "cidr"),
            (json!({"cidr": "10.0.0.0/8", "reason": ""}), "reason"),
            (
                json!({"cidr": "10.0.0.0/8", "reason": "r".repeat(501)}),
                "reason",
            ),
            (
                json!({"cidr": "10.0.0.0/8", "reason": "r", "expires_at": "2020-01-01T00:00:00Z"}),
                "expires_at",
            ),
        ] {
            let r = server
                .post("/api/allowlist")
                .authorization_bearer(&admin)
                .json(&body)
                .await;
            let err = assert_error(&r, 400, "validation_failed");
            assert!(err["fields"][field].is_array(), "{field}: {err}");
        }
        assert!(allowlist_entries::Entity::find()
            .all(&ctx.db)
            .await
            .unwrap()
            .is_empty());

        let r = server
            .post("/api/allowlist")
            .authorization_bearer(&admin)
            .json(&json!({"cidr": "10.1.2.3/8", "reason": "internal scanner"}))
            .await;
        assert_eq!(r.status_code(), 201, "{}", r.text());
        let made = r.json::<Value>();
        assert_eq!(made["cidr"], "10.0.0.0/8", "host bits cleared");
        assert_eq!(made["active"], true);
        assert_eq!(made["created_by"], "root");
        let id = made["id"].as_str().unwrap().to_string();
        let r = server
            .post("/api/allowlist")
            .authorization_bearer(&admin)
            .json(&json!({"cidr": "2001:db8::1", "reason": "v6 host"}))
            .await;
        assert_eq!(r.json::<Value>()["cidr"], "2001:db8::1/128");
        let list: Value = server
            .get("/api/allowlist")
            .authorization_bearer(&admin)
            .await
            .json();
        assert_eq!(list["count"], 2);
        let r = server
            .get(&format!("/api/allowlist/{id}"))
            .authorization_bearer(&admin)
            .await;
        assert_eq!(r.status_code(), 200, "{}", r.text());
        assert_eq!(r.json::<Value>()["reason"], "internal scanner");
        let r = server
            .get(&format!("/api/allowlist/{id}"))
            .authorization_bearer(&analyst)
            .await;
        assert_error(&r, 403, "forbidden");
        let r = server
            .get("/api/allowlist")
            .add_header("X-API-Key", &key)
            .await;
        assert_error(&r, 403, "forbidden");
        let r = server
            .delete(&format!("/api/allowlist/{id}"))
            .add_header("X-API-Key", &key)
            .await;
        assert_error(&r, 403, "forbidden");
        let r = server
            .get("/api/allowlist/00000000-0000-0000-0000-000000000000")
            .authorization_bearer(&admin)
            .await;
        assert_error(&r, 404, "not_found");
        let r = server
            .get("/api/allowlist?colour=red")
            .authorization_bearer(&admin)
            .await;
        let err = assert_error(&r, 400, "validation_failed");
        assert!(err["fields"]["colour"].is_array());
        let r = server
            .delete(&format!("/api/allowlist/{id}"))
            .authorization_bearer(&analyst)
            .await;
        assert_error(&r, 403, "forbidden");
        let r = server
            .delete(&format!("/api/allowlist/{id}"))
            .authorization_bearer(&admin)
            .await;
        assert_eq!(r.status_code(), 204);
        let r = server
            .delete(&format!("/api/allowlist/{id}"))
            .authorization_bearer(&admin)
            .await;
        assert_error(&r, 404, "not_found");
    })
    .await;
}

#[tokio::test]
async fn allowlisted_sources_are_stored_marked_and_open_no_alert() {
    crate::support::request(|server, ctx| async move {
        let admin = token_for(&server, &ctx, "root", Role::Admin).await;
        let post = |ip: &'static str| {
            let (server, admin) = (&server, admin.clone());
            async move {
                let r = server
                    .post("/api/events")
                    .authorization_bearer(&admin)
                    .json(&json!({"source": "ids", "event_type": "sqli", "severity": "CRITICAL", "source_ip": ip}))
                    .await;
                assert_eq!(r.status_code(), 201, "{}", r.text());
                r.json::<Value>()
            }
        };
        // Before: an alert opens.
        let before = post("10.9.9.9").await;
        assert_eq!(before["allowlisted"], false);
        let open = before["alert"]["id"].as_str().unwrap().to_string();

        let r = server
            .post("/api/allowlist")
            .authorization_bearer(&admin)
            .json(&json!({"cidr": "10.0.0.0/8", "reason": "scanner",
                          "expires_at": (Utc::now() + chrono::Duration::hours(1)).to_rfc3339()}))
            .await;
        assert_eq!(r.status_code(), 201, "{}", r.text());
        let entry = r.json::<Value>()["id"].as_str().unwrap().to_string();
        // After: stored, marked, no alert: neither joined nor opened.
        let quiet = post("10.9.9.9").await;
        assert_eq!(quiet["allowlisted"], true, "{quiet}");
        assert!(quiet["alert"].is_null());
        let alert: Value = server.get(&format!("/api/alerts/{open}")).authorization_bearer(&admin).await.json();
        assert_eq!(alert["occurrences"], 1, "the open alert was not joined");
        let ipv4_mapped = post("::ffff:10.1.1.1").await;
        assert_eq!(ipv4_mapped["allowlisted"], true);
        // In a batch: item by item.
        let r = server
            .post("/api/events/batch")
            .authorization_bearer(&admin)
            .json(&json!({"events": [
                {"source": "ids", "event_type": "x", "severity": "HIGH", "source_ip": "10.0.0.1"},
                {"source": "ids", "event_type": "x", "severity": "HIGH", "source_ip": "192.0.2.1"},
            ]}))
            .await;
        assert_eq!(r.status_code(), 201, "{}", r.text());
        let items = r.json::<Value>()["results"].clone();
        assert_eq!(items[0]["event"]["allowlisted"], true);
        assert!(items[0]["event"]["alert"].is_null());
        assert_eq!(items[1]["event"]["allowlisted"], false);
        assert!(items[1]["event"]["alert"]["id"].is_string());
        let shown: Value = server
            .get(&format!("/api/events/{}", quiet["id"].as_str().unwrap()))
            .authorization_bearer(&admin)
            .await
            .json();
        assert_eq!(shown["allowlisted"], true);

        // Removed: the next event joins the open alert again.
        server.delete(&format!("/api/allowlist/{entry}")).authorization_bearer(&admin).await;
        let after = post("10.9.9.9").await;
        assert_eq!(after["allowlisted"], false);
        assert_eq!(after["alert"]["id"], open.as_str());
        assert_eq!(after["alert"]["occurrences"], 2);
    })
    .await;
}

/// Storage refusing writes: adding an entry answers 503 and stores
/// neither the entry nor its audit entry (one transaction); the same
/// request works once storage is back.
#[tokio::test]
async fn a_refused_write_stores_no_entry_and_no_audit_entry() {
    use vigil::models::_entities::audit_log;
    crate::support::request(|server, ctx| async move {
        let admin = token_for(&server, &ctx, "root", Role::Admin).await;
        let audited = audit_log::Entity::find().all(&ctx.db).await.unwrap().len();
        let hold = crate::support::hold_writes(&ctx, "allowlist_entries").await;
        let body = json!({"cidr": "192.0.2.0/24", "reason": "during an outage"});
        let r = server
            .post("/api/allowlist")
            .authorization_bearer(&admin)
            .json(&body)
            .await;
        hold.rollback().await.unwrap();
        assert_error(&r, 503, "storage_unavailable");
        assert!(allowlist_entries::Entity::find()
            .all(&ctx.db)
            .await
            .unwrap()
            .is_empty());
        assert_eq!(
            audit_log::Entity::find().all(&ctx.db).await.unwrap().len(),
            audited
        );
        let r = server
            .post("/api/allowlist")
            .authorization_bearer(&admin)
            .json(&body)
            .await;
        assert_eq!(r.status_code(), 201, "{}", r.text());
        assert_eq!(
            audit_log::Entity::find().all(&ctx.db).await.unwrap().len(),
            audited + 1
        );
    })
    .await;
}
