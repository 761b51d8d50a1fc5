//! `vigil-bench feed`: the live feed under load (issue 4).
//!
//! 1. Delivery latency: `--feed-clients` (1,000) WebSocket clients follow
//!    `/ws/alerts`; one client POSTs `--feed-posts` (200) HIGH events, one at
//!    a time, each opening an alert. For each, the time from the 201 to the
//!    moment the last client has its `alert.created` envelope.
//! 2. Ingestion throughput with `--feed-idle-clients` (100) clients connected
//!    against none: `--events` single-event POSTs from `--clients` clients.
use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::Value;
use tokio_tungstenite::tungstenite::{protocol::WebSocketConfig, Message};

use super::{event, percentile, report, run, Args, Client};

#[derive(Deserialize)]
struct Envelope {
    payload: Payload,
}

#[derive(Deserialize)]
struct Payload {
    id: String,
}

/// Each client's read buffer: a round's envelopes in a read or two.
const CLIENT_READ_BUFFER: usize = 16 * 1024;

/// Receipts per alert id: how many clients have it, and when the last did.
type Receipts = Arc<Mutex<HashMap<String, (usize, Instant)>>>;

/// Connects `n` feed clients; each records its receipts (when `receipts`
/// is given) or just reads. Returns once all are connected.
async fn connect_clients(
    args: &Args,
    token: &str,
    n: usize,
    receipts: Option<Receipts>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let mut handles = Vec::with_capacity(n);
    for i in 0..n {
        let url = format!("ws://{}/ws/alerts?token={token}", args.host);
        // tungstenite zeroes the whole read buffer before every read: at
        // the default 128 KiB, that memset was the bench's largest cost
        // with 100 clients (perf), CPU taken from the server it measures.
        let config = WebSocketConfig::default().read_buffer_size(CLIENT_READ_BUFFER);
        let (mut ws, _) = tokio_tungstenite::connect_async_with_config(url, Some(config), true)
            .await
            .unwrap_or_else(|e| panic!("feed client {i} could not connect: {e}"));
        let receipts = receipts.clone();
        handles.push(tokio::spawn(async move {
            while let Some(Ok(msg)) = ws.next().await {
                let Message::Text(text) = msg else { continue };
                let now = Instant::now();
                if let Some(receipts) = &receipts {
                    if let Ok(env) = serde_json::from_str::<Envelope>(&text) {
                        let mut map = receipts.lock().expect("receipts");
                        let entry = map.entry(env.payload.id).or_insert((0, now));
                        entry.0 += 1;
                        entry.1 = entry.1.max(now);
                    }
                }
            }
        }));
    }
    handles
}

pub async fn bench(args: &Args, token: &str) {
    let n = args.feed_clients;
    let posts = args.feed_posts;
    println!("live feed: {n} WebSocket clients, {posts} alerts posted one at a time");
    let receipts: Receipts = Arc::new(Mutex::new(HashMap::new()));
    let t = Instant::now();
    let handles = connect_clients(args, token, n, Some(receipts.clone())).await;
    println!(
        "  {n} clients connected in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let mut poster = Client::connect(&args.host, token).await;
    let mut acked: Vec<(String, Instant)> = Vec::with_capacity(posts);
    // Distinct addresses far from the other figures' ranges: new alerts.
    let base = 50_000_000 + (std::process::id() as usize % 1000) * 10_000;
    for i in 0..posts {
        let (status, body) = poster
            .call("POST", "/api/events", Some(&event(base + i)))
            .await;
        let at = Instant::now();
        assert_eq!(status, 201, "{}", String::from_utf8_lossy(&body));
        let v: Value = serde_json::from_slice(&body).expect("JSON");
        let alert = v["alert"]["id"].as_str().expect("alert id").to_string();
        acked.push((alert, at));
        // One at a time, a little apart: delivery latency, not queueing.
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Wait (10 s at most) for every client to have every alert.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let done = {
            let map = receipts.lock().expect("receipts");
            acked
                .iter()
                .all(|(id, _)| map.get(id).is_some_and(|(c, _)| *c >= n))
        };
        if done || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let map = receipts.lock().expect("receipts").clone();
    let mut lat = Vec::with_capacity(posts);
    let mut short = 0;
    for (id, at) in &acked {
        match map.get(id) {
            Some((count, last)) if *count >= n => {
                lat.push(last.saturating_duration_since(*at));
            }
            Some((count, _)) => short += n - count,
            None => short += n,
        }
    }
    lat.sort_unstable();
    println!(
        "  201 to the last of {n} clients: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({} alerts; {short} deliveries missing)",
        percentile(&lat, 0.50),
        percentile(&lat, 0.99),
        lat.last().map_or(0.0, |d| d.as_secs_f64() * 1000.0),
        lat.len()
    );
    for h in handles {
        h.abort();
    }

    // Throughput: none connected, then `feed_idle_clients` connected.
    let idle = args.feed_idle_clients;
    let events = args.events;
    let offset = 60_000_000;
    let (lat, took) = run(args, token, args.clients, events, move |i| {
        ("POST", "/api/events".to_string(), Some(event(offset + i)))
    })
    .await;
    let alone = events as f64 / took.as_secs_f64();
    report("ingestion, no feed clients", lat, events, took);
    let handles = connect_clients(args, token, idle, None).await;
    let offset = 70_000_000;
    let (lat, took) = run(args, token, args.clients, events, move |i| {
        ("POST", "/api/events".to_string(), Some(event(offset + i)))
    })
    .await;
    let with = events as f64 / took.as_secs_f64();
    report(
        &format!("ingestion, {idle} feed clients"),
        lat,
        events,
        took,
    );
    println!(
        "  with {idle} clients: {:.1} % of the rate with none",
        with / alone * 100.0
    );
    for h in handles {
        h.abort();
    }
}
