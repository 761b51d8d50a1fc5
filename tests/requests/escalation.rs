//! Escalation policies, run with a controllable clock
//! (`initializers::operations::tick(ctx, now)`) rather than sleeps.
use chrono::{Duration, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{json, Value};
use vigil::{
    initializers::operations::tick,
    models::{
        _entities::{alert_histories, outbox_envelopes},
        users::Role,
    },
};

use super::prepare_data::{assert_error, key_with, token_for};

async fn escalated_envelopes(ctx: &loco_rs::app::AppContext, alert: &str) -> usize {
    outbox_envelopes::Entity::find()
        .filter(outbox_envelopes::Column::AlertPid.eq(uuid::Uuid::parse_str(alert).unwrap()))
        .filter(outbox_envelopes::Column::EventType.eq("alert.escalated"))
        .all(&ctx.db)
        .await
        .unwrap()
        .len()
}

#[tokio::test]
async fn only_admins_manage_policies_and_bad_fields_are_named() {
    crate::support::request(|server, ctx| async move {
        let admin = token_for(&server, &ctx, "root", Role::Admin).await;
        let analyst = token_for(&server, &ctx, "ann", Role::Analyst).await;
        let body = json!({"name": "crit", "min_severity": "CRITICAL", "after_minutes": 15});
        let r = server.post("/api/escalation-policies").authorization_bearer(&analyst).json(&body).await;
        assert_error(&r, 403, "forbidden");
        let r = server.get("/api/escalation-policies").authorization_bearer(&analyst).await;
        assert_error(&r, 403, "forbidden");
        for (body, field) in [
            (json!({"name": "x", "min_severity": "URGENT", "after_minutes": 15}), "min_severity"),
            (json!({"name": "x", "min_severity": "HIGH", "after_minutes": 0}), "after_minutes"),
            (json!({"name": "", "min_severity": "HIGH", "after_minutes": 5}), "name"),
            (json!({"name": "x", "min_severity": "HIGH", "after_minutes": 5, "renotify_minutes": 20000}), "renotify_minutes"),
        ] {
            let r = server.post("/api/escalation-policies").authorization_bearer(&admin).json(&body).await;
            let err = assert_error(&r, 400, "validation_failed");
            assert!(err["fields"][field].is_array(), "{field}: {err}");
        }
        let r = server.post("/api/escalation-policies").authorization_bearer(&admin).json(&body).await;
        assert_eq!(r.status_code(), 201, "{}", r.text());
        let id = r.json::<Value>()["id"].as_str().unwrap().to_string();
        let r = server
            .patch(&format!("/api/escalation-policies/{id}"))
            .authorization_bearer(&admin)
            .json(&json!({"renotify_minutes": 30, "enabled": false}))
            .await;
        assert_eq!(r.status_code(), 200, "{}", r.text());
        assert_eq!(r.json::<Value>()["renotify_minutes"], 30);
        let path = format!("/api/escalation-policies/{id}");
        let r = server.patch(&path).authorization_bearer(&analyst).json(&json!({"enabled": true})).await;
        assert_error(&r, 403, "forbidden");
        let r = server.patch(&path).authorization_bearer(&admin).json(&json!({"after_minutes": 0})).await;
        let err = assert_error(&r, 400, "validation_failed");
        assert!(err["fields"]["after_minutes"].is_array(), "{err}");
        let key = key_with(&server, &admin, &["alerts:write", "silences:write"]).await;
        let r = server.get("/api/escalation-policies").add_header("X-API-Key", &key).await;
        assert_error(&r, 403, "forbidden");
        // Keys manage no policy, whatever their scopes: create, change, delete.
        let r = server.post("/api/escalation-policies").add_header("X-API-Key", &key).json(&body).await;
        assert_error(&r, 403, "forbidden");
        let r = server.patch(&path).add_header("X-API-Key", &key).json(&json!({"enabled": true})).await;
        assert_error(&r, 403, "forbidden");
        assert_error(&server.delete(&path).add_header("X-API-Key", &key).await, 403, "forbidden");
        let unknown = "/api/escalation-policies/00000000-0000-0000-0000-000000000000";
        assert_error(&server.patch(unknown).authorization_bearer(&admin).json(&json!({})).await, 404, "not_found");
        assert_error(&server.delete(unknown).authorization_bearer(&admin).await, 404, "not_found");
        let list: Value = server.get("/api/escalation-policies").authorization_bearer(&admin).await.json();
        assert_eq!(list.as_array().unwrap().len(), 1);
        assert_eq!(list[0]["enabled"], false);
        let r = server.delete(&format!("/api/escalation-policies/{id}")).authorization_bearer(&analyst).await;
        assert_error(&r, 403, "forbidden");
        let r = server.delete(&format!("/api/escalation-policies/{id}")).authorization_bearer(&admin).await;
        assert_eq!(r.status_code(), 204);
    })
    .await;
}

#[tokio::test]
async fn unacknowledged_alerts_escalate_once_and_renotify_until_acknowledged() {
    crate::support::request(|server, ctx| async move {
        let admin = token_for(&server, &ctx, "root", Role::Admin).await;
        let r = server
            .post("/api/escalation-policies")
            .authorization_bearer(&admin)
            .json(&json!({"name": "critical unacknowledged", "min_severity": "CRITICAL",
                          "after_minutes": 15, "renotify_minutes": 30}))
            .await;
        assert_eq!(r.status_code(), 201, "{}", r.text());
        let post = |sev: &'static str, ip: &'static str| {
            let (server, admin) = (&server, admin.clone());
            async move {
                let r = server
                    .post("/api/events")
                    .authorization_bearer(&admin)
                    .json(&json!({"source": "ids", "event_type": "rce", "severity": sev, "source_ip": ip}))
                    .await;
                assert_eq!(r.status_code(), 201, "{}", r.text());
                r.json::<Value>()["alert"]["id"].as_str().unwrap().to_string()
            }
        };
        let critical = post("CRITICAL", "192.0.2.1").await;
        let high = post("HIGH", "192.0.2.2").await;
        let taken = post("CRITICAL", "192.0.2.3").await;
        let r = server
            .patch(&format!("/api/alerts/{taken}/status"))
            .authorization_bearer(&admin)
            .json(&json!({"status": "ACKNOWLEDGED"}))
            .await;
        assert_eq!(r.status_code(), 200);

        let now = Utc::now();
        // Too early: nothing.
        assert_eq!(tick(&ctx, now + Duration::minutes(10)).await.unwrap().escalated, 0);
        // Due, with two instances ticking at once: escalated once.
        let due = now + Duration::minutes(16);
        let (a, b) = tokio::join!(tick(&ctx, due), tick(&ctx, due));
        assert_eq!(a.unwrap().escalated + b.unwrap().escalated, 1);
        let shown: Value = server.get(&format!("/api/alerts/{critical}")).authorization_bearer(&admin).await.json();
        assert_eq!(shown["status"], "ESCALATED");
        assert!(shown["acknowledged_at"].is_null(), "the server's escalation acknowledges nothing");
        for other in [&high, &taken] {
            let s: Value = server.get(&format!("/api/alerts/{other}")).authorization_bearer(&admin).await.json();
            assert_ne!(s["status"], "ESCALATED", "{s}");
        }
        let history = alert_histories::Entity::find().all(&ctx.db).await.unwrap();
        assert!(history.iter().any(|h| h.actor == "system" && h.to_status.as_deref() == Some("ESCALATED")));
        assert_eq!(escalated_envelopes(&ctx, &critical).await, 1);

        // Re-notified every 30 minutes, once per period whatever the instances.
        let later = due + Duration::minutes(31);
        let (a, b) = tokio::join!(tick(&ctx, later), tick(&ctx, later));
        assert_eq!(a.unwrap().renotified + b.unwrap().renotified, 1);
        assert_eq!(tick(&ctx, later + Duration::minutes(5)).await.unwrap().renotified, 0);
        assert_eq!(escalated_envelopes(&ctx, &critical).await, 2);
        // Once someone takes it on, no more.
        let r = server
            .patch(&format!("/api/alerts/{critical}/status"))
            .authorization_bearer(&admin)
            .json(&json!({"status": "MITIGATED"}))
            .await;
        assert_eq!(r.status_code(), 200);
        assert_eq!(tick(&ctx, later + Duration::hours(3)).await.unwrap(), Default::default());
    })
    .await;
}

#[tokio::test]
async fn policies_from_the_config_are_listed_read_only_and_applied() {
    let app = crate::support::boot_with(|config| {
        let settings = config.settings.as_mut().unwrap().as_object_mut().unwrap();
        settings.insert(
            "operations".into(),
            json!({"escalation_policies": [
                {"name": "any high", "min_severity": "HIGH", "after_minutes": 5}
            ]}),
        );
    })
    .await
    .unwrap();
    let (server, ctx) = (app.server(), app.ctx());
    let admin = token_for(&server, &ctx, "root", Role::Admin).await;
    let list: Value = server
        .get("/api/escalation-policies")
        .authorization_bearer(&admin)
        .await
        .json();
    assert_eq!(list[0]["origin"], "config");
    assert_eq!(list[0]["id"], "config:any high");
    let r = server
        .patch("/api/escalation-policies/config:any%20high")
        .authorization_bearer(&admin)
        .json(&json!({"enabled": false}))
        .await;
    assert_error(&r, 404, "not_found");
    let r = server
        .post("/api/events")
        .authorization_bearer(&admin)
        .json(&json!({"source": "ids", "event_type": "x", "severity": "HIGH", "source_ip": "192.0.2.1"}))
        .await;
    let id = r.json::<Value>()["alert"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let pass = tick(&ctx, Utc::now() + Duration::minutes(6)).await.unwrap();
    assert_eq!(pass.escalated, 1);
    let shown: Value = server
        .get(&format!("/api/alerts/{id}"))
        .authorization_bearer(&admin)
        .await
        .json();
    assert_eq!(shown["status"], "ESCALATED");
}

#[tokio::test]
async fn no_account_may_be_named_like_the_server() {
    crate::support::request(|server, _ctx| async move {
        let r = server
            .post("/api/auth/register")
            .json(&json!({"username": "System", "email": "s@example.com", "password": "long-enough-pass-1"}))
            .await;
        let err = assert_error(&r, 400, "validation_failed");
        assert!(err["fields"]["username"].is_array(), "{err}");
    })
    .await;
}
