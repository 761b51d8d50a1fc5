//! Silences and maintenance windows: who may manage them, what they refuse,
//! and what a matching alert looks like (stored, joined, marked, quiet on
//! webhooks and the default feed, resolution still notified).
use std::time::Duration;

use axum_test::{TestServer, TestWebSocket, WsMessage as Message};
use chrono::Utc;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{json, Value};
use vigil::models::{
    _entities::{outbox_envelopes, silences},
    users::Role,
};

use super::prepare_data::{assert_error, key_with, token_for};

fn event(source: &str, ip: &str, severity: &str) -> Value {
    json!({"source": source, "event_type": "port_scan", "severity": severity, "source_ip": ip})
}

/// Posts an event and returns the answer (its `alert` included).
async fn post(server: &TestServer, token: &str, body: &Value) -> Value {
    let r = server
        .post("/api/events")
        .authorization_bearer(token)
        .json(body)
        .await;
    assert_eq!(r.status_code(), 201, "{}", r.text());
    r.json()
}

async fn create(server: &TestServer, token: &str, body: &Value) -> Value {
    let r = server
        .post("/api/silences")
        .authorization_bearer(token)
        .json(body)
        .await;
    assert_eq!(r.status_code(), 201, "{}", r.text());
    r.json()
}

fn in_hours(h: i64) -> String {
    (Utc::now() + chrono::Duration::hours(h)).to_rfc3339()
}

/// The envelope types written for the alert `pid`, and whether each is
/// suppressed, in order.
async fn envelopes(ctx: &loco_rs::app::AppContext, pid: &str) -> Vec<(String, bool)> {
    outbox_envelopes::Entity::find()
        .filter(outbox_envelopes::Column::AlertPid.eq(uuid::Uuid::parse_str(pid).unwrap()))
        .order_by_asc(outbox_envelopes::Column::Id)
        .all(&ctx.db)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.event_type, e.suppressed))
        .collect()
}

#[tokio::test]
async fn only_admins_and_keys_with_the_scope_manage_silences_and_bad_fields_are_named() {
    crate::support::request(|server, ctx| async move {
        let admin = token_for(&server, &ctx, "root", Role::Admin).await;
        let analyst = token_for(&server, &ctx, "ann", Role::Analyst).await;
        let body = json!({"matchers": {"source": "fw-1"}, "ends_at": in_hours(2), "comment": "upgrade"});

        // Forbidden: analysts, keys without the scope; no token at all.
        let r = server
            .post("/api/silences")
            .authorization_bearer(&analyst)
            .json(&body)
            .await;
        assert_error(&r, 403, "forbidden");
        let reader = key_with(&server, &admin, &["alerts:read"]).await;
        let writer = key_with(&server, &admin, &["silences:write"]).await;
        let r = server
            .post("/api/silences")
            .add_header("X-API-Key", &reader)
            .json(&body)
            .await;
        assert_error(&r, 403, "forbidden");
        let r = server.post("/api/silences").json(&body).await;
        assert_error(&r, 401, "unauthorized");
        let count = || async { silences::Entity::find().all(&ctx.db).await.unwrap().len() };
        assert_eq!(count().await, 0, "nothing stored by refused requests");

        // Allowed: a key with silences:write, and an admin.
        let r = server
            .post("/api/silences")
            .add_header("X-API-Key", &writer)
            .json(&body)
            .await;
        assert_eq!(r.status_code(), 201, "{}", r.text());
        let made = r.json::<Value>();
        assert_eq!(made["state"], "active");
        assert!(made["created_by"].as_str().unwrap().contains("API key"));
        let id = made["id"].as_str().unwrap().to_string();
        // Analysts read silences; a reader key too.
        let r = server.get("/api/silences").authorization_bearer(&analyst).await;
        assert_eq!(r.status_code(), 200);
        assert_eq!(r.json::<Value>()["count"], 1);
        let r = server.get(&format!("/api/silences/{id}")).add_header("X-API-Key", &reader).await;
        assert_eq!(r.status_code(), 200);
        // But may not change or end them.
        let r = server
            .delete(&format!("/api/silences/{id}"))
            .authorization_bearer(&analyst)
            .await;
        assert_error(&r, 403, "forbidden");
        let r = server
            .patch(&format!("/api/silences/{id}"))
            .add_header("X-API-Key", &reader)
            .json(&json!({"comment": "x"}))
            .await;
        assert_error(&r, 403, "forbidden");

        // Bad input: each field named.
        let bad = [
            (json!({"matchers": {"source_ip": "10.0.0.0/33"}, "ends_at": in_hours(1), "comment": "c"}), "matchers.source_ip"),
            (json!({"matchers": {"source": "a"}, "starts_at": in_hours(3), "ends_at": in_hours(2), "comment": "c"}), "ends_at"),
            (json!({"matchers": {"source": "a"}, "comment": "c"}), "ends_at"),
            (json!({"matchers": {}, "ends_at": in_hours(1), "comment": "c"}), "matchers"),
            (json!({"matchers": {"severity": "URGENT"}, "ends_at": in_hours(1), "comment": "c"}), "matchers.severity"),
            (json!({"matchers": {"source": "a"}, "ends_at": in_hours(1), "comment": " "}), "comment"),
            (json!({"matchers": {"source": "a"}, "comment": "c",
                    "recurring": {"days": ["MON"], "start": "22:00", "duration_minutes": 60, "time_zone": "Mars/Olympus_Mons"}}),
             "recurring.time_zone"),
            (json!({"matchers": {"source": "a"}, "comment": "c",
                    "recurring": {"days": ["FUNDAY"], "start": "22:00", "duration_minutes": 60, "time_zone": "UTC"}}),
             "recurring.days"),
        ];
        for (body, field) in bad {
            let r = server
                .post("/api/silences")
                .authorization_bearer(&admin)
                .json(&body)
                .await;
            let err = assert_error(&r, 400, "validation_failed");
            assert!(err["fields"][field].is_array(), "{field}: {err}");
        }
        let r = server
            .post("/api/silences")
            .authorization_bearer(&admin)
            .json(&json!({"matchers": {"source": "a"}, "ends_at": in_hours(1), "comment": "c", "extra": 1}))
            .await;
        assert_error(&r, 400, "validation_failed");
        assert_eq!(count().await, 1, "refused bodies stored nothing");
        let r = server.get("/api/silences?state=sleeping").authorization_bearer(&admin).await;
        let err = assert_error(&r, 400, "validation_failed");
        assert!(err["fields"]["state"].is_array());
        let r = server.get("/api/silences/not-a-uuid").authorization_bearer(&admin).await;
        assert_error(&r, 404, "not_found");
    })
    .await;
}

#[tokio::test]
async fn a_silence_quiets_matching_alerts_until_it_ends_and_states_filter() {
    crate::support::request(|server, ctx| async move {
        let admin = token_for(&server, &ctx, "root", Role::Admin).await;
        // A network matcher and a source.
        let silence = create(
            &server,
            &admin,
            &json!({"matchers": {"source": "fw-1", "source_ip": "203.0.113.0/24"},
                    "ends_at": in_hours(2), "comment": "firewall upgrade OPS-42"}),
        )
        .await;
        let sid = silence["id"].as_str().unwrap().to_string();
        // A later one (pending), and a weekly window.
        create(
            &server,
            &admin,
            &json!({"matchers": {"event_type": "nothing"}, "starts_at": in_hours(5),
                    "ends_at": in_hours(6), "comment": "later"}),
        )
        .await;

        let quiet = post(&server, &admin, &event("fw-1", "203.0.113.9", "HIGH")).await;
        assert_eq!(quiet["alert"]["suppressed"], true, "{quiet}");
        assert_eq!(quiet["alert"]["silenced_by"], sid.as_str());
        let quiet_id = quiet["alert"]["id"].as_str().unwrap().to_string();
        // Joined while silenced: still one alert, still suppressed.
        let again = post(&server, &admin, &event("fw-1", "203.0.113.9", "CRITICAL")).await;
        assert_eq!(again["alert"]["id"], quiet_id.as_str());
        assert_eq!(again["alert"]["occurrences"], 2);
        assert_eq!(again["alert"]["suppressed"], true);
        // Outside the network, or another source: not silenced.
        let loud = post(&server, &admin, &event("fw-1", "198.51.100.1", "HIGH")).await;
        assert_eq!(loud["alert"]["suppressed"], false);
        assert!(loud["alert"]["silenced_by"].is_null());
        let other = post(&server, &admin, &event("fw-2", "203.0.113.9", "HIGH")).await;
        assert_eq!(other["alert"]["suppressed"], false);

        // Lists filter on it, and refuse a non-boolean.
        let list = |q: &'static str| {
            let (server, admin) = (&server, admin.clone());
            async move {
                let r = server
                    .get(&format!("/api/alerts?{q}"))
                    .authorization_bearer(&admin)
                    .await;
                assert_eq!(r.status_code(), 200, "{}", r.text());
                r.json::<Value>()
            }
        };
        let suppressed = list("suppressed=true").await;
        assert_eq!(suppressed["count"], 1);
        assert_eq!(suppressed["results"][0]["id"], quiet_id.as_str());
        assert_eq!(list("suppressed=false").await["count"], 2);
        let r = server
            .get("/api/alerts?suppressed=maybe")
            .authorization_bearer(&admin)
            .await;
        let err = assert_error(&r, 400, "validation_failed");
        assert!(err["fields"]["suppressed"].is_array());

        // Every envelope of the quiet alert so far is suppressed.
        let env = envelopes(&ctx, &quiet_id).await;
        assert_eq!(env.len(), 2);
        assert!(env.iter().all(|(_, s)| *s), "{env:?}");

        // States.
        let states = |s: &'static str| {
            let (server, admin) = (&server, admin.clone());
            async move {
                let r = server
                    .get(&format!("/api/silences?state={s}"))
                    .authorization_bearer(&admin)
                    .await;
                assert_eq!(r.status_code(), 200, "{}", r.text());
                r.json::<Value>()["count"].as_u64().unwrap()
            }
        };
        assert_eq!(
            (
                states("active").await,
                states("pending").await,
                states("expired").await
            ),
            (1, 1, 0)
        );

        // Ending it: expired (still readable), the alert released at once,
        // and its next occurrence notifies.
        let r = server
            .delete(&format!("/api/silences/{sid}"))
            .authorization_bearer(&admin)
            .await;
        assert_eq!(r.status_code(), 204);
        let r = server
            .delete(&format!("/api/silences/{sid}"))
            .authorization_bearer(&admin)
            .await;
        assert_eq!(r.status_code(), 204, "ending twice changes nothing");
        assert_eq!((states("active").await, states("expired").await), (0, 1));
        let shown: Value = server
            .get(&format!("/api/silences/{sid}"))
            .authorization_bearer(&admin)
            .await
            .json();
        assert_eq!(shown["state"], "expired");
        assert!(shown["ended_at"].is_string());
        let r = server
            .patch(&format!("/api/silences/{sid}"))
            .authorization_bearer(&admin)
            .json(&json!({"comment": "too late"}))
            .await;
        assert_error(&r, 409, "silence_expired");
        let alert: Value = server
            .get(&format!("/api/alerts/{quiet_id}"))
            .authorization_bearer(&admin)
            .await
            .json();
        assert_eq!(alert["suppressed"], false);
        post(&server, &admin, &event("fw-1", "203.0.113.9", "HIGH")).await;
        let env = envelopes(&ctx, &quiet_id).await;
        assert_eq!(env.last().unwrap(), &("alert.updated".to_string(), false));

        // The silence's own envelopes: created, deleted.
        let own: Vec<String> = envelopes(&ctx, &sid)
            .await
            .into_iter()
            .map(|e| e.0)
            .collect();
        assert_eq!(own, ["silence.created", "silence.deleted"]);
    })
    .await;
}

#[tokio::test]
async fn silence_until_resolved_quiets_one_alert_and_its_resolution_is_still_notified() {
    crate::support::request(|server, ctx| async move {
        let admin = token_for(&server, &ctx, "root", Role::Admin).await;
        let analyst = token_for(&server, &ctx, "ann", Role::Analyst).await;
        let first = post(&server, &admin, &event("ids-1", "192.0.2.10", "HIGH")).await;
        let id = first["alert"]["id"].as_str().unwrap().to_string();
        let neighbour = post(&server, &admin, &event("ids-1", "192.0.2.11", "HIGH")).await;

        let r = server
            .post(&format!("/api/alerts/{id}/silence"))
            .authorization_bearer(&analyst)
            .await;
        assert_error(&r, 403, "forbidden");
        let r = server
            .post("/api/alerts/00000000-0000-0000-0000-000000000000/silence")
            .authorization_bearer(&admin)
            .await;
        assert_error(&r, 404, "not_found");
        let r = server
            .post(&format!("/api/alerts/{id}/silence"))
            .authorization_bearer(&admin)
            .json(&json!({"comment": "known scanner, ticket SEC-7"}))
            .await;
        assert_eq!(r.status_code(), 201, "{}", r.text());
        let silence = r.json::<Value>();
        assert_eq!(silence["alert"], id.as_str());
        assert_eq!(silence["state"], "active");
        let sid = silence["id"].as_str().unwrap().to_string();

        let alert: Value = server
            .get(&format!("/api/alerts/{id}"))
            .authorization_bearer(&admin)
            .await
            .json();
        assert_eq!(alert["suppressed"], true);
        // Its neighbour (same source and type, another address) is not it.
        let n = post(&server, &admin, &event("ids-1", "192.0.2.11", "HIGH")).await;
        assert_eq!(n["alert"]["id"], neighbour["alert"]["id"]);
        assert_eq!(n["alert"]["suppressed"], false);

        // An acknowledgement is quiet; the resolution is not, and ends it.
        for status in ["ACKNOWLEDGED", "RESOLVED"] {
            let r = server
                .patch(&format!("/api/alerts/{id}/status"))
                .authorization_bearer(&admin)
                .json(&json!({"status": status}))
                .await;
            assert_eq!(r.status_code(), 200, "{}", r.text());
        }
        let env = envelopes(&ctx, &id).await;
        assert_eq!(
            env,
            [
                ("alert.created".to_string(), false),
                ("alert.status_changed".to_string(), true),
                ("alert.status_changed".to_string(), false),
                ("alert.resolved".to_string(), false),
            ]
        );
        let shown: Value = server
            .get(&format!("/api/silences/{sid}"))
            .authorization_bearer(&admin)
            .await
            .json();
        assert_eq!(shown["state"], "expired", "{shown}");
        let own: Vec<String> = envelopes(&ctx, &sid)
            .await
            .into_iter()
            .map(|e| e.0)
            .collect();
        assert_eq!(own, ["silence.created", "silence.expired"]);
        // A closed alert has nothing left to silence.
        let r = server
            .post(&format!("/api/alerts/{id}/silence"))
            .authorization_bearer(&admin)
            .await;
        assert_error(&r, 409, "alert_closed");
    })
    .await;
}

/// The next alert envelope, skipping pings and the silence's own
/// envelope (published whenever the dispatcher gets to it); fails after
/// 10 s.
async fn next_envelope(ws: &mut TestWebSocket) -> Value {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(10), ws.receive_message())
            .await
            .expect("an envelope within 10 s");
        if let Message::Text(text) = msg {
            let envelope: Value = serde_json::from_str(&text).expect("JSON envelope");
            if envelope["type"]
                .as_str()
                .is_some_and(|t| t.starts_with("alert."))
            {
                return envelope;
            }
        }
    }
}

#[tokio::test]
async fn suppressed_alerts_reach_no_webhook_and_only_feed_clients_that_ask() {
    let app = crate::support::boot().await;
    let (server, ctx) = (app.http_server(), app.ctx());
    let admin = token_for(&server, &ctx, "root", Role::Admin).await;
    // A receiver on loopback that counts what it gets.
    let got = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    {
        let got = got.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |body: String| {
                let got = got.clone();
                async move {
                    got.lock().unwrap().push(body);
                    axum::http::StatusCode::OK
                }
            }),
        );
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    }
    let r = server
        .post("/api/webhooks")
        .authorization_bearer(&admin)
        .json(&json!({"url": url, "event_types": ["alert.created", "alert.updated"]}))
        .await;
    assert_eq!(r.status_code(), 201, "{}", r.text());
    create(
        &server,
        &admin,
        &json!({"matchers": {"source": "quiet-sensor"}, "ends_at": in_hours(1), "comment": "noisy"}),
    )
    .await;
    let mut default: TestWebSocket = server
        .get_websocket(&format!("/ws/alerts?token={admin}"))
        .await
        .into_websocket()
        .await;
    let mut everything: TestWebSocket = server
        .get_websocket(&format!("/ws/alerts?token={admin}&include_suppressed=true"))
        .await
        .into_websocket()
        .await;
    let quiet = post(
        &server,
        &admin,
        &event("quiet-sensor", "192.0.2.50", "HIGH"),
    )
    .await;
    let loud = post(&server, &admin, &event("loud-sensor", "192.0.2.51", "HIGH")).await;
    // The default feed skips the quiet alert: its first envelope is the loud one's.
    let first = next_envelope(&mut default).await;
    assert_eq!(first["payload"]["id"], loud["alert"]["id"], "{first}");
    let a = next_envelope(&mut everything).await;
    let b = next_envelope(&mut everything).await;
    assert_eq!(a["payload"]["id"], quiet["alert"]["id"]);
    assert_eq!(a["payload"]["suppressed"], true);
    assert_eq!(b["payload"]["id"], loud["alert"]["id"]);
    // The webhook gets the loud alert only.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while got.lock().unwrap().is_empty() {
        assert!(std::time::Instant::now() < deadline, "no delivery");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let bodies = got.lock().unwrap().clone();
    assert_eq!(bodies.len(), 1, "{bodies:?}");
    assert!(bodies[0].contains(loud["alert"]["id"].as_str().unwrap()));
    assert!(!bodies[0].contains(quiet["alert"]["id"].as_str().unwrap()));
}

#[tokio::test]
async fn preview_counts_what_matchers_would_have_silenced_and_changes_nothing() {
    crate::support::request(|server, ctx| async move {
        let admin = token_for(&server, &ctx, "root", Role::Admin).await;
        let analyst = token_for(&server, &ctx, "ann", Role::Analyst).await;
        for ip in ["10.1.0.1", "10.1.0.2", "10.2.0.1"] {
            post(&server, &admin, &event("edge", ip, "HIGH")).await;
        }
        post(&server, &admin, &event("core", "10.1.0.3", "HIGH")).await;
        let body = json!({"matchers": {"source": "edge", "source_ip": "10.1.0.0/16"}});
        let r = server
            .post("/api/silences/preview")
            .authorization_bearer(&analyst)
            .json(&body)
            .await;
        assert_error(&r, 403, "forbidden");
        let r = server
            .post("/api/silences/preview")
            .authorization_bearer(&admin)
            .json(&body)
            .await;
        assert_eq!(r.status_code(), 200, "{}", r.text());
        let p = r.json::<Value>();
        assert_eq!(
            (
                p["matched"].as_u64(),
                p["checked"].as_u64(),
                p["days"].as_i64()
            ),
            (Some(2), Some(4), Some(7))
        );
        assert_eq!(p["sample"].as_array().unwrap().len(), 2);
        assert!(p["sample"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["source"] == "edge"));
        let r = server
            .post("/api/silences/preview")
            .authorization_bearer(&admin)
            .json(&json!({"matchers": {"source": "edge"}, "days": 91}))
            .await;
        let err = assert_error(&r, 400, "validation_failed");
        assert!(err["fields"]["days"].is_array(), "{err}");
        // A key that manages silences but may not read alerts gets the
        // figures, not the alerts.
        let key = key_with(&server, &admin, &["silences:write"]).await;
        let r = server
            .post("/api/silences/preview")
            .add_header("X-API-Key", &key)
            .json(&body)
            .await;
        assert_eq!(r.status_code(), 200, "{}", r.text());
        let p = r.json::<Value>();
        assert_eq!(p["matched"], 2);
        assert_eq!(
            p["sample"],
            json!([]),
            "no alert shown to a key without alerts:read"
        );
        let r = server
            .post("/api/silences/preview")
            .authorization_bearer(&admin)
            .json(&json!({"matchers": {"source_ip": "10.0.0.0/40"}}))
            .await;
        let err = assert_error(&r, 400, "validation_failed");
        assert!(err["fields"]["matchers.source_ip"].is_array(), "{err}");
        assert!(silences::Entity::find()
            .all(&ctx.db)
            .await
            .unwrap()
            .is_empty());
    })
    .await;
}

#[tokio::test]
async fn expiry_is_noted_once_and_a_refused_write_stores_nothing() {
    crate::support::request(|server, ctx| async move {
        let admin = token_for(&server, &ctx, "root", Role::Admin).await;
        let made = create(
            &server,
            &admin,
            &json!({"matchers": {"source": "s"}, "ends_at": in_hours(1), "comment": "short"}),
        )
        .await;
        let sid = made["id"].as_str().unwrap().to_string();
        let quiet = post(&server, &admin, &event("s", "192.0.2.1", "HIGH")).await;
        assert_eq!(quiet["alert"]["suppressed"], true);
        // Two instances tick after its end: one envelope, one audit entry.
        let later = Utc::now() + chrono::Duration::hours(2);
        let (a, b) = tokio::join!(
            vigil::initializers::operations::tick(&ctx, later),
            vigil::initializers::operations::tick(&ctx, later)
        );
        a.unwrap();
        b.unwrap();
        let own: Vec<String> = envelopes(&ctx, &sid).await.into_iter().map(|e| e.0).collect();
        assert_eq!(own, ["silence.created", "silence.expired"]);
        let id = quiet["alert"]["id"].as_str().unwrap();
        let alert: Value = server.get(&format!("/api/alerts/{id}")).authorization_bearer(&admin).await.json();
        assert_eq!(alert["suppressed"], false, "released when it expired");

        // Storage refusing writes: 503, and no silence is stored.
        let before = silences::Entity::find().all(&ctx.db).await.unwrap().len();
        let hold = crate::support::hold_writes(&ctx, "silences").await;
        let r = server
            .post("/api/silences")
            .authorization_bearer(&admin)
            .json(&json!({"matchers": {"source": "t"}, "ends_at": in_hours(1), "comment": "during an outage"}))
            .await;
        hold.rollback().await.unwrap();
        assert_error(&r, 503, "storage_unavailable");
        assert_eq!(silences::Entity::find().all(&ctx.db).await.unwrap().len(), before);
        create(
            &server,
            &admin,
            &json!({"matchers": {"source": "t"}, "ends_at": in_hours(1), "comment": "after it"}),
        )
        .await;
    })
    .await;
}

#[tokio::test]
async fn patch_changes_a_live_silence_and_refuses_by_role_field_and_id() {
    crate::support::request(|server, ctx| async move {
        let admin = token_for(&server, &ctx, "root", Role::Admin).await;
        let analyst = token_for(&server, &ctx, "ann", Role::Analyst).await;
        let made = create(
            &server,
            &admin,
            &json!({"matchers": {"source": "fw-1"}, "ends_at": in_hours(1), "comment": "first"}),
        )
        .await;
        let id = made["id"].as_str().unwrap().to_string();
        let path = format!("/api/silences/{id}");
        let r = server.patch(&path).authorization_bearer(&analyst).json(&json!({"comment": "x"})).await;
        assert_error(&r, 403, "forbidden");
        let r = server
            .patch(&path)
            .authorization_bearer(&admin)
            .json(&json!({"ends_at": "2020-01-01T00:00:00Z"}))
            .await;
        let err = assert_error(&r, 400, "validation_failed");
        assert!(err["fields"]["ends_at"].is_array(), "{err}");
        let r = server
            .patch(&path)
            .authorization_bearer(&admin)
            .json(&json!({"matchers": {"source": "fw-2"}, "ends_at": in_hours(4), "comment": "longer"}))
            .await;
        assert_eq!(r.status_code(), 200, "{}", r.text());
        let changed = r.json::<Value>();
        assert_eq!(changed["matchers"], json!({"source": "fw-2"}));
        assert_eq!(changed["comment"], "longer");
        // The change applies to ingestion at once.
        let quiet = post(&server, &admin, &event("fw-2", "192.0.2.7", "HIGH")).await;
        assert_eq!(quiet["alert"]["silenced_by"], id.as_str());
        let loud = post(&server, &admin, &event("fw-1", "192.0.2.7", "HIGH")).await;
        assert_eq!(loud["alert"]["suppressed"], false);
        let own: Vec<String> = envelopes(&ctx, &id).await.into_iter().map(|e| e.0).collect();
        assert_eq!(own, ["silence.created", "silence.updated"]);
        let r = server
            .get("/api/audit?action=silence.updated")
            .authorization_bearer(&admin)
            .await
            .json::<Value>();
        assert_eq!(r["results"][0]["before"]["comment"], "first");
        assert_eq!(r["results"][0]["after"]["comment"], "longer");
        for unknown in ["/api/silences/00000000-0000-0000-0000-000000000000", "/api/silences/nope"] {
            let r = server.patch(unknown).authorization_bearer(&admin).json(&json!({"comment": "x"})).await;
            assert_error(&r, 404, "not_found");
            let r = server.delete(unknown).authorization_bearer(&admin).await;
            assert_error(&r, 404, "not_found");
        }

        // A silence until resolved: its comment only; asking twice gives
        // the same silence, not a second one.
        let alert = loud["alert"]["id"].as_str().unwrap().to_string();
        let first = server.post(&format!("/api/alerts/{alert}/silence")).authorization_bearer(&admin).await;
        assert_eq!(first.status_code(), 201, "{}", first.text());
        let again = server.post(&format!("/api/alerts/{alert}/silence")).authorization_bearer(&admin).await;
        assert_eq!(again.json::<Value>()["id"], first.json::<Value>()["id"]);
        let sid = first.json::<Value>()["id"].as_str().unwrap().to_string();
        let r = server
            .patch(&format!("/api/silences/{sid}"))
            .authorization_bearer(&admin)
            .json(&json!({"ends_at": in_hours(1), "matchers": {"source": "x"}}))
            .await;
        let err = assert_error(&r, 400, "validation_failed");
        assert!(err["fields"]["ends_at"].is_array() && err["fields"]["matchers"].is_array(), "{err}");
        let r = server
            .patch(&format!("/api/silences/{sid}"))
            .authorization_bearer(&admin)
            .json(&json!({"comment": "vendor scanner, SEC-9"}))
            .await;
        assert_eq!(r.status_code(), 200, "{}", r.text());
        assert_eq!(r.json::<Value>()["alert"], alert.as_str());
    })
    .await;
}

async fn suppressed_now(server: &TestServer, token: &str, id: &str) -> Value {
    server
        .get(&format!("/api/alerts/{id}"))
        .authorization_bearer(token)
        .await
        .json::<Value>()["suppressed"]
        .clone()
}

#[tokio::test]
async fn a_window_that_opens_or_closes_marks_open_alerts_at_the_next_tick() {
    crate::support::request(|server, ctx| async move {
        let admin = token_for(&server, &ctx, "root", Role::Admin).await;
        let open = post(&server, &admin, &event("nightly", "192.0.2.8", "HIGH")).await;
        let id = open["alert"]["id"].as_str().unwrap().to_string();
        let made = create(
            &server,
            &admin,
            &json!({"matchers": {"source": "nightly"}, "starts_at": in_hours(1),
                    "ends_at": in_hours(3), "comment": "maintenance later"}),
        )
        .await;
        assert_eq!(made["state"], "pending");
        assert_eq!(suppressed_now(&server, &admin, &id).await, false);
        let now = Utc::now();
        vigil::initializers::operations::tick(&ctx, now + chrono::Duration::hours(2))
            .await
            .unwrap();
        assert_eq!(
            suppressed_now(&server, &admin, &id).await,
            true,
            "the window opened"
        );
        vigil::initializers::operations::tick(&ctx, now + chrono::Duration::hours(4))
            .await
            .unwrap();
        assert_eq!(
            suppressed_now(&server, &admin, &id).await,
            false,
            "it ended"
        );
    })
    .await;
}

/// A pass over the open alerts (the operations tick's, another
/// instance's) that began before a silence was created, and so judges it
/// not yet started, leaves the alerts that silence quiets alone; CI on
/// PostgreSQL once saw such a pass unmark them.
#[tokio::test]
async fn a_pass_that_began_before_a_silence_never_releases_its_alerts() {
    crate::support::request(|server, ctx| async move {
        let admin = token_for(&server, &ctx, "root", Role::Admin).await;
        let began = Utc::now();
        tokio::time::sleep(Duration::from_millis(5)).await;
        let silence = create(
            &server,
            &admin,
            &json!({"matchers": {"source": "fw-9"}, "ends_at": in_hours(2), "comment": "race"}),
        )
        .await;
        let quiet = post(&server, &admin, &event("fw-9", "203.0.113.9", "HIGH")).await;
        assert_eq!(quiet["alert"]["suppressed"], true, "{quiet}");
        let id = quiet["alert"]["id"].as_str().unwrap().to_string();

        vigil::models::suppression::remark_open(&ctx.db, began)
            .await
            .unwrap();
        let alert: Value = server
            .get(&format!("/api/alerts/{id}"))
            .authorization_bearer(&admin)
            .await
            .json();
        assert_eq!(alert["suppressed"], true, "{alert}");
        assert_eq!(alert["silenced_by"], silence["id"]);
    })
    .await;
}

/// A tick that saw a window open but could not mark the alerts (storage
/// refusing writes) leaves the marking to the next tick, not undone.
#[tokio::test]
async fn a_tick_that_could_not_mark_alerts_leaves_it_to_the_next() {
    crate::support::request(|server, ctx| async move {
        let admin = token_for(&server, &ctx, "root", Role::Admin).await;
        let open = post(&server, &admin, &event("nightly", "192.0.2.8", "HIGH")).await;
        let id = open["alert"]["id"].as_str().unwrap().to_string();
        create(
            &server,
            &admin,
            &json!({"matchers": {"source": "nightly"}, "starts_at": in_hours(1),
                    "ends_at": in_hours(3), "comment": "maintenance later"}),
        )
        .await;
        let now = Utc::now();
        // The first pass sees the window open, and the alerts table refuses.
        let hold = crate::support::hold_writes(&ctx, "alerts").await;
        let tick = vigil::initializers::operations::tick(&ctx, now + chrono::Duration::hours(2));
        let failed = tokio::time::timeout(Duration::from_secs(30), tick).await;
        hold.rollback().await.unwrap();
        assert!(matches!(failed, Ok(Err(_))), "{failed:?}");
        assert_eq!(suppressed_now(&server, &admin, &id).await, false);
        // The next pass, with the same silences in force, marks them.
        vigil::initializers::operations::tick(&ctx, now + chrono::Duration::minutes(121))
            .await
            .unwrap();
        assert_eq!(suppressed_now(&server, &admin, &id).await, true);
    })
    .await;
}

/// Each silence route refuses a key without the scope it needs, and lists
/// refuse cursors and unknown parameters by name.
#[tokio::test]
async fn keys_need_the_scope_of_each_silence_route() {
    crate::support::request(|server, ctx| async move {
        let admin = token_for(&server, &ctx, "root", Role::Admin).await;
        let made = create(
            &server,
            &admin,
            &json!({"matchers": {"source": "fw-1"}, "ends_at": in_hours(1), "comment": "first"}),
        )
        .await;
        let sid = made["id"].as_str().unwrap().to_string();
        let alert = post(&server, &admin, &event("ids-1", "192.0.2.1", "HIGH")).await["alert"]
            ["id"]
            .as_str()
            .unwrap()
            .to_string();
        let sensor = key_with(&server, &admin, &["events:write"]).await;
        let reader = key_with(&server, &admin, &["alerts:read"]).await;
        // Reading needs alerts:read or silences:write.
        for path in ["/api/silences".to_string(), format!("/api/silences/{sid}")] {
            let r = server.get(&path).add_header("X-API-Key", &sensor).await;
            assert_error(&r, 403, "forbidden");
            let r = server.get(&path).add_header("X-API-Key", &reader).await;
            assert_eq!(r.status_code(), 200, "{path}: {}", r.text());
        }
        // Writing needs silences:write.
        let body = json!({"matchers": {"source": "fw-2"}, "days": 7});
        let r = server
            .post("/api/silences/preview")
            .add_header("X-API-Key", &reader)
            .json(&body)
            .await;
        assert_error(&r, 403, "forbidden");
        let r = server
            .delete(&format!("/api/silences/{sid}"))
            .add_header("X-API-Key", &reader)
            .await;
        assert_error(&r, 403, "forbidden");
        let r = server
            .post(&format!("/api/alerts/{alert}/silence"))
            .add_header("X-API-Key", &reader)
            .await;
        assert_error(&r, 403, "forbidden");
        let shown: Value = server
            .get(&format!("/api/silences/{sid}"))
            .authorization_bearer(&admin)
            .await
            .json();
        assert_eq!(shown["state"], "active", "a refused delete ends nothing");
        assert_eq!(
            silences::Entity::find().all(&ctx.db).await.unwrap().len(),
            1
        );

        // Silence until resolved: a bad body is named, a long comment refused.
        let path = format!("/api/alerts/{alert}/silence");
        let r = server
            .post(&path)
            .authorization_bearer(&admin)
            .json(&json!({"until": "x"}))
            .await;
        let err = assert_error(&r, 400, "validation_failed");
        assert!(err["fields"]["until"].is_array(), "{err}");
        let r = server
            .post(&path)
            .authorization_bearer(&admin)
            .json(&json!({"comment": "x".repeat(1001)}))
            .await;
        let err = assert_error(&r, 400, "validation_failed");
        assert!(err["fields"]["comment"].is_array(), "{err}");
        assert_eq!(
            silences::Entity::find().all(&ctx.db).await.unwrap().len(),
            1
        );

        // Numbered pages only, and only the parameters they take.
        for (path, field) in [
            ("/api/silences?cursor=abc", "cursor"),
            ("/api/silences?colour=red", "colour"),
            ("/api/allowlist?cursor=abc", "cursor"),
            ("/api/audit?cursor=abc", "cursor"),
        ] {
            let r = server.get(path).authorization_bearer(&admin).await;
            let err = assert_error(&r, 400, "validation_failed");
            assert!(err["fields"][field].is_array(), "{path}: {err}");
        }
    })
    .await;
}
