//! Redis fan-out between real server processes. These need services the
//! plain `cargo test` does not assume, so they are `#[ignore]`d there and
//! run by `.ci/run` (PostgreSQL and Redis pass) with `--ignored`.
use std::{
    collections::HashSet,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use serde_json::Value;

use super::{batch, configured_db, connect, create_admin, free_port, Client, Server};
use crate::support::TestDb;

/// Collects envelopes until `want` distinct ids arrived (20 s at most),
/// then 500 ms more to catch duplicates; returns (received, distinct).
async fn collect(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<Value>,
    want: usize,
) -> (usize, HashSet<String>) {
    let mut received = 0;
    let mut ids = HashSet::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while ids.len() < want && Instant::now() < deadline {
        if let Ok(Some(env)) = tokio::time::timeout(Duration::from_millis(100), rx.recv()).await {
            received += 1;
            ids.insert(env["id"].as_str().unwrap().to_string());
        }
    }
    while let Ok(Some(env)) = tokio::time::timeout(Duration::from_millis(500), rx.recv()).await {
        received += 1;
        ids.insert(env["id"].as_str().unwrap().to_string());
    }
    (received, ids)
}

async fn health(client: &Client) -> Value {
    client
        .call("GET", "/_health", None, None)
        .await
        .expect("health")
        .1
}

async fn wait_health(client: &Client, redis: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let h = health(client).await;
        if h["redis"] == redis {
            return h;
        }
        assert!(
            Instant::now() < deadline,
            "/_health never said redis {redis}: {h}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn ingest(client: &Client, token: &str, offset: usize, n: usize) {
    let (status, body) = client
        .call(
            "POST",
            "/api/events/batch",
            Some(token),
            Some(&batch(offset, n)),
        )
        .await
        .expect("batch");
    assert_eq!(status, 201, "{body}");
}

#[tokio::test]
#[ignore = "needs PostgreSQL and Redis (DATABASE_URL, REDIS_URL): run by .ci/run"]
async fn two_instances_sharing_postgres_and_redis_show_every_alert_to_every_client_once() {
    let redis = std::env::var("REDIS_URL").expect("REDIS_URL");
    let configured = configured_db().await;
    assert!(
        configured.starts_with("postgres"),
        "DATABASE_URL must be PostgreSQL"
    );
    let (_db, url) = TestDb::create(&configured).await;
    let channel = format!("vigil:two:{}", uuid::Uuid::new_v4().simple());
    let a = Server::start(&url, free_port(), Some((&redis, &channel))).await;
    let b = Server::start(&url, free_port(), Some((&redis, &channel))).await;
    let db = connect(&url).await;
    create_admin(&db, "root").await;
    let token = a.token("root").await;
    wait_health(&a, "ok").await;
    assert_eq!(wait_health(&b, "ok").await["status"], "ok");

    let mut on_a = a.follow(&token, None).await;
    let mut on_b = b.follow(&token, None).await;
    // Each instance ingests its own alerts, in several requests.
    for round in 0..5 {
        ingest(&a, &token, round * 20, 20).await;
        ingest(&b, &token, 100_000 + round * 20, 20).await;
    }
    for (name, rx) in [("A", &mut on_a), ("B", &mut on_b)] {
        let (received, ids) = collect(rx, 200).await;
        assert_eq!(
            ids.len(),
            200,
            "client of {name} saw {} of 200 alerts",
            ids.len()
        );
        assert_eq!(received, 200, "client of {name} got duplicates");
    }
    db.close().await.ok();
}

/// A private redis-server, stopped when dropped (a failing test must not
/// leave it running: it would keep the port, and whatever file handles it
/// inherited, such as a build lock).
struct RedisServer(Child);

impl RedisServer {
    fn kill(&mut self) {
        self.0.kill().ok();
        self.0.wait().ok();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

fn redis_server(port: u16) -> RedisServer {
    RedisServer(
        Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server (Debian package redis-server)"),
    )
}

#[tokio::test]
#[ignore = "starts its own redis-server: run by .ci/run"]
async fn with_redis_stopped_mid_run_ingestion_and_the_local_feed_keep_working() {
    let (_db, url) = TestDb::create(&configured_db().await).await;
    let redis_port = free_port();
    let mut redis = redis_server(redis_port);
    let redis_url = format!("redis://127.0.0.1:{redis_port}");
    let server = Server::start(&url, free_port(), Some((&redis_url, "vigil:envelopes"))).await;
    let db = connect(&url).await;
    create_admin(&db, "root").await;
    let token = server.token("root").await;
    assert_eq!(wait_health(&server, "ok").await["status"], "ok");
    let mut feed = server.follow(&token, None).await;

    ingest(&server, &token, 0, 5).await;
    assert_eq!(collect(&mut feed, 5).await.1.len(), 5, "through Redis");

    // Redis goes away: ingestion goes on, the feed goes local, health says so.
    redis.kill();
    let h = wait_health(&server, "unavailable").await;
    assert_eq!(h["status"], "degraded");
    assert_eq!(h["database"], "ok");
    assert!(h["detail"].as_str().is_some_and(|d| !d.is_empty()), "{h}");
    ingest(&server, &token, 100, 5).await;
    let (received, ids) = collect(&mut feed, 5).await;
    assert_eq!(
        (received, ids.len()),
        (5, 5),
        "the local feed while Redis is down"
    );

    // Redis comes back: the instance reconnects and fans out through it again.
    let mut redis = redis_server(redis_port);
    assert_eq!(wait_health(&server, "ok").await["status"], "ok");
    ingest(&server, &token, 200, 5).await;
    let (received, ids) = collect(&mut feed, 5).await;
    assert_eq!(
        (received, ids.len()),
        (5, 5),
        "through Redis again, once each"
    );
    redis.kill();
    db.close().await.ok();
}
