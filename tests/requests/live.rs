//! `GET /ws/alerts`: the live feed over a real socket.
use std::time::Duration;

use axum_test::{TestServer, TestWebSocket, WsMessage as Message};
use sea_orm::{EntityTrait, QueryOrder};
use serde_json::{json, Value};
use vigil::models::{_entities::outbox_envelopes, users::Role};

use super::prepare_data::{assert_error, token_for};

fn event(ip: &str, severity: &str) -> Value {
    json!({"source": "ids-1", "event_type": "sqli", "severity": severity, "source_ip": ip})
}

async fn post(server: &TestServer, token: &str, body: &Value) {
    let r = server
        .post("/api/events")
        .authorization_bearer(token)
        .json(body)
        .await;
    assert_eq!(r.status_code(), 201, "{}", r.text());
}

/// The next envelope, skipping pings; fails after 10 s.
async fn next_envelope(ws: &mut TestWebSocket) -> Value {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(10), ws.receive_message())
            .await
            .expect("an envelope within 10 s");
        match msg {
            Message::Text(text) => return serde_json::from_str(&text).expect("JSON envelope"),
            Message::Ping(_) | Message::Pong(_) => {}
            other => panic!("unexpected message {other:?}"),
        }
    }
}

async fn connect(server: &TestServer, query: &str) -> TestWebSocket {
    server
        .get_websocket(&format!("/ws/alerts?{query}"))
        .await
        .into_websocket()
        .await
}

#[tokio::test]
async fn the_feed_needs_a_valid_token_and_valid_parameters() {
    let app = crate::support::boot().await;
    let (server, ctx) = (app.http_server(), app.ctx());
    let token = token_for(&server, &ctx, "alice", Role::Analyst).await;
    let r = server.get_websocket("/ws/alerts").await;
    assert_error(&r, 401, "unauthorized");
    let r = server.get_websocket("/ws/alerts?token=not-a-jwt").await;
    assert_error(&r, 401, "unauthorized");
    let r = server
        .get_websocket(&format!("/ws/alerts?token={token}&min_severity=URGENT"))
        .await;
    let body = assert_error(&r, 400, "validation_failed");
    assert!(body["fields"]["min_severity"].is_array());
    let r = server
        .get_websocket(&format!(
            "/ws/alerts?token={token}&after=00000000-0000-0000-0000-000000000000"
        ))
        .await;
    assert_error(&r, 404, "not_found");
    // A plain GET is not an upgrade.
    let r = server.get(&format!("/ws/alerts?token={token}")).await;
    assert_error(&r, 426, "websocket_required");
}

#[tokio::test]
async fn the_feed_streams_envelopes_at_or_above_min_severity() {
    let app = crate::support::boot().await;
    let (server, ctx) = (app.http_server(), app.ctx());
    let token = token_for(&server, &ctx, "alice", Role::Analyst).await;
    let mut all = connect(&server, &format!("token={token}")).await;
    let mut critical = connect(&server, &format!("token={token}&min_severity=critical")).await;

    post(&server, &token, &event("203.0.113.1", "HIGH")).await;
    post(&server, &token, &event("203.0.113.2", "CRITICAL")).await;

    let first = next_envelope(&mut all).await;
    assert_eq!(first["type"], "alert.created");
    assert_eq!(first["source"], "vigil");
    assert_eq!(first["payload"]["severity"], "HIGH");
    assert_eq!(first["meta"]["version"], 1);
    assert_eq!(
        next_envelope(&mut all).await["payload"]["severity"],
        "CRITICAL"
    );
    // The HIGH envelope came first; the CRITICAL-only client skipped it.
    let only = next_envelope(&mut critical).await;
    assert_eq!(only["payload"]["severity"], "CRITICAL");
    assert_eq!(only["payload"]["source_ip"], "203.0.113.2");

    // Delivery is recorded on every envelope (the dispatcher publishes,
    // then commits the mark: allow it a moment).
    let mut rows = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::time::Instant::now() < deadline {
        rows = outbox_envelopes::Entity::find().all(&ctx.db).await.unwrap();
        if rows.iter().all(|r| r.delivered_at.is_some()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|r| r.delivered_at.is_some()), "{rows:?}");
}

#[tokio::test]
async fn a_reconnecting_client_replays_what_it_missed_then_continues_live() {
    let app = crate::support::boot().await;
    let (server, ctx) = (app.http_server(), app.ctx());
    let token = token_for(&server, &ctx, "alice", Role::Analyst).await;
    for ip in ["192.0.2.1", "192.0.2.2", "192.0.2.3"] {
        post(&server, &token, &event(ip, "HIGH")).await;
    }
    let rows = outbox_envelopes::Entity::find()
        .order_by_asc(outbox_envelopes::Column::Id)
        .all(&ctx.db)
        .await
        .unwrap();
    let anchor = rows[0].envelope_id;

    // The token in Sec-WebSocket-Protocol this time.
    let mut ws = server
        .get_websocket(&format!("/ws/alerts?after={anchor}"))
        .add_header("sec-websocket-protocol", format!("bearer, {token}"))
        .await
        .into_websocket()
        .await;
    let missed: Vec<String> = vec![
        next_envelope(&mut ws).await["id"]
            .as_str()
            .unwrap()
            .to_string(),
        next_envelope(&mut ws).await["id"]
            .as_str()
            .unwrap()
            .to_string(),
    ];
    assert_eq!(
        missed,
        [
            rows[1].envelope_id.to_string(),
            rows[2].envelope_id.to_string()
        ]
    );
    post(&server, &token, &event("192.0.2.4", "HIGH")).await;
    post(&server, &token, &event("192.0.2.5", "HIGH")).await;
    // Live, in order, and nothing replayed twice.
    assert_eq!(
        next_envelope(&mut ws).await["payload"]["source_ip"],
        "192.0.2.4"
    );
    assert_eq!(
        next_envelope(&mut ws).await["payload"]["source_ip"],
        "192.0.2.5"
    );
}

#[tokio::test]
async fn the_feed_pings_idle_clients() {
    // config/test.yaml: feed_ping_seconds: 1
    let app = crate::support::boot().await;
    let (server, ctx) = (app.http_server(), app.ctx());
    let token = token_for(&server, &ctx, "alice", Role::Analyst).await;
    let mut ws = connect(&server, &format!("token={token}")).await;
    let msg = tokio::time::timeout(Duration::from_secs(5), ws.receive_message())
        .await
        .expect("a message within 5 s");
    assert!(matches!(msg, Message::Ping(_)), "{msg:?}");
}

#[tokio::test]
async fn a_client_that_stops_reading_is_closed_with_4008_and_ingestion_goes_on() {
    // config/test.yaml: feed_buffer: 64. The client reads nothing while
    // 6,000 envelopes go out: the socket buffers fill, the client falls
    // more than 64 behind and is closed; every batch is still stored.
    let app = crate::support::boot().await;
    let (server, ctx) = (app.http_server(), app.ctx());
    let token = token_for(&server, &ctx, "alice", Role::Analyst).await;
    let mut slow = connect(&server, &format!("token={token}")).await;
    for b in 0..12 {
        let events: Vec<Value> = (0..500)
            .map(|i| event(&format!("10.{b}.{}.{}", i / 256, i % 256), "HIGH"))
            .collect();
        let r = server
            .post("/api/events/batch")
            .authorization_bearer(&token)
            .json(&json!({ "events": events }))
            .await;
        assert_eq!(r.status_code(), 201);
    }
    let code = loop {
        let msg = tokio::time::timeout(Duration::from_secs(20), slow.receive_message())
            .await
            .expect("the feed closes the slow client");
        if let Message::Close(frame) = msg {
            break frame.map(|f| u16::from(f.code));
        }
    };
    assert_eq!(code, Some(4008));
    let stored = outbox_envelopes::Entity::find().all(&ctx.db).await.unwrap();
    assert_eq!(stored.len(), 6000);
}

#[tokio::test]
async fn status_changes_reach_the_feed() {
    let app = crate::support::boot().await;
    let (server, ctx) = (app.http_server(), app.ctx());
    let admin = token_for(&server, &ctx, "root", Role::Admin).await;
    let mut ws = connect(&server, &format!("token={admin}")).await;
    post(&server, &admin, &event("198.51.100.9", "HIGH")).await;
    let created = next_envelope(&mut ws).await;
    let id = created["payload"]["id"].as_str().unwrap().to_string();
    let r = server
        .patch(&format!("/api/alerts/{id}/status"))
        .authorization_bearer(&admin)
        .json(&json!({"status": "MITIGATED"}))
        .await;
    assert_eq!(r.status_code(), 200, "{}", r.text());
    let changed = next_envelope(&mut ws).await;
    assert_eq!(changed["type"], "alert.status_changed");
    assert_eq!(changed["payload"]["status"], "MITIGATED");
    let mitigated = next_envelope(&mut ws).await;
    assert_eq!(mitigated["type"], "alert.mitigated");
    assert!(mitigated["payload"]["duration_seconds"].is_i64());
}

#[tokio::test]
async fn a_deactivated_user_cannot_open_the_feed() {
    use sea_orm::{ActiveModelTrait, ActiveValue, ColumnTrait, QueryFilter};
    use vigil::models::_entities::users;
    let app = crate::support::boot().await;
    let (server, ctx) = (app.http_server(), app.ctx());
    let token = token_for(&server, &ctx, "alice", Role::Analyst).await;
    let alice = users::Entity::find()
        .filter(users::Column::Username.eq("alice"))
        .one(&ctx.db)
        .await
        .unwrap()
        .unwrap();
    users::ActiveModel {
        id: ActiveValue::Unchanged(alice.id),
        is_active: ActiveValue::Set(false),
        ..Default::default()
    }
    .update(&ctx.db)
    .await
    .unwrap();
    let r = server
        .get_websocket(&format!("/ws/alerts?token={token}"))
        .await;
    assert_error(&r, 401, "unauthorized");
    // Nor with the token in Sec-WebSocket-Protocol.
    let r = server
        .get_websocket("/ws/alerts")
        .add_header("sec-websocket-protocol", format!("bearer, {token}"))
        .await;
    assert_error(&r, 401, "unauthorized");
}

#[tokio::test]
async fn a_client_frame_larger_than_the_read_buffer_keeps_the_session() {
    let app = crate::support::boot().await;
    let (server, ctx) = (app.http_server(), app.ctx());
    let token = token_for(&server, &ctx, "alice", Role::Analyst).await;
    let mut ws = connect(&server, &format!("token={token}")).await;
    // 64 KiB, sixteen times the session's 4 KiB read buffer: read whole
    // and ignored, and the feed goes on.
    ws.send_text("x".repeat(64 * 1024)).await;
    post(&server, &token, &event("203.0.113.40", "HIGH")).await;
    let envelope = next_envelope(&mut ws).await;
    assert_eq!(envelope["type"], "alert.created");
    assert_eq!(envelope["payload"]["source_ip"], "203.0.113.40");
}
