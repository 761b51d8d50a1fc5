//! Drives a running Vigil over HTTP and prints throughput and latency.
//!
//! ```sh
//! cargo run --release -p vigil-bench -- --url http://127.0.0.1:5150 \
//!     --username admin --password change-me-now-please --pid $(pgrep -f 'vigil-cli start')
//! ```
//!
//! Phases: single-event ingestion (HIGH events, so the alert path runs),
//! batch ingestion (which also loads `--load` events, each HIGH with an
//! alert of its own: the worst case), then listing alerts: the first page
//! and a deep cursor page (`--list-requests` each, after 4 unmeasured
//! requests per client that let the server's pool reopen its
//! connections); last, `--mixed` events in batches of a sensor mix (most
//! below the alert threshold, the rest joining a few thousand alerts).
//! With `--pid`, the server's peak RSS.
//!
//! Access-log detection (no server needed):
//!
//! ```sh
//! vigil-bench gen-log --lines 1000000 --out /tmp/access.log [--attack-per-mille 10] [--clients 50000] [--seed 7]
//! vigil-bench feed --url http://127.0.0.1:5150 --username admin --password … \
//!     [--feed-clients 1000] [--feed-posts 200] [--feed-idle-clients 100] [--events 20000] [--clients 32]
//! vigil-bench detect --file /tmp/access.log [--rules FILE] [--max-clients 10000] [--rounds 3]
//! ```
//!
//! `detect` parses and scores every line on one thread and prints lines/s;
//! `gen-log` writes the synthetic log (ordinary traffic plus a share of
//! attacks) that `detect` and `vigil-cli task ingest_log` read.
mod console;
mod feed;
mod logs;

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use http_body_util::{BodyExt, Full};
use hyper::{body::Bytes, client::conn::http1, Request};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::TcpStream;

struct Args {
    host: String,
    token: Option<String>,
    username: String,
    password: String,
    clients: usize,
    events: usize,
    load: usize,
    mixed: usize,
    batch_size: usize,
    list_requests: usize,
    deep_pages: usize,
    logins: usize,
    pid: Option<u32>,
    feed_clients: usize,
    feed_posts: usize,
    feed_idle_clients: usize,
    console_requests: usize,
    allowlist: usize,
}

fn parse_args() -> Args {
    let mut a = Args {
        host: "127.0.0.1:5150".into(),
        token: None,
        username: "admin".into(),
        password: String::new(),
        clients: 32,
        events: 20_000,
        load: 200_000,
        mixed: 100_000,
        batch_size: 1_000,
        list_requests: 5_000,
        deep_pages: 100,
        logins: 0,
        pid: None,
        feed_clients: 1_000,
        feed_posts: 200,
        feed_idle_clients: 100,
        console_requests: 2_000,
        allowlist: 0,
    };
    let args: Vec<String> = std::env::args()
        .skip(1)
        .skip_while(|a| a == "feed")
        .collect();
    let mut i = 0;
    while i + 1 < args.len() {
        let v = args[i + 1].clone();
        match args[i].as_str() {
            "--url" => {
                a.host = v
                    .trim_start_matches("http://")
                    .trim_end_matches('/')
                    .to_string();
            }
            "--token" => a.token = Some(v),
            "--username" => a.username = v,
            "--password" => a.password = v,
            "--clients" => a.clients = v.parse().unwrap_or(a.clients),
            "--events" => a.events = v.parse().unwrap_or(a.events),
            "--load" => a.load = v.parse().unwrap_or(a.load),
            "--mixed" => a.mixed = v.parse().unwrap_or(a.mixed),
            "--batch-size" => a.batch_size = v.parse().unwrap_or(a.batch_size),
            "--list-requests" => a.list_requests = v.parse().unwrap_or(a.list_requests),
            "--deep-pages" => a.deep_pages = v.parse().unwrap_or(a.deep_pages),
            "--logins" => a.logins = v.parse().unwrap_or(0),
            "--pid" => a.pid = v.parse().ok(),
            "--feed-clients" => a.feed_clients = v.parse().unwrap_or(a.feed_clients),
            "--feed-posts" => a.feed_posts = v.parse().unwrap_or(a.feed_posts),
            "--allowlist" => a.allowlist = v.parse().unwrap_or(0),
            "--console-requests" => {
                a.console_requests = v.parse().unwrap_or(a.console_requests);
            }
            "--feed-idle-clients" => {
                a.feed_idle_clients = v.parse().unwrap_or(a.feed_idle_clients);
            }
            other => eprintln!("ignoring unknown option {other}"),
        }
        i += 2;
    }
    a
}

/// One keep-alive HTTP/1.1 connection.
struct Client {
    host: String,
    token: String,
    sender: http1::SendRequest<Full<Bytes>>,
}

impl Client {
    async fn connect(host: &str, token: &str) -> Self {
        let stream = TcpStream::connect(host)
            .await
            .expect("connect to the server");
        stream.set_nodelay(true).ok();
        let (sender, conn) = http1::handshake(TokioIo::new(stream))
            .await
            .expect("handshake");
        tokio::spawn(conn);
        Self {
            host: host.to_string(),
            token: token.to_string(),
            sender,
        }
    }

    async fn call(&mut self, method: &str, path: &str, body: Option<&Value>) -> (u16, Bytes) {
        let data = body
            .map(|b| serde_json::to_vec(b).unwrap_or_default())
            .unwrap_or_default();
        // `cookie:<value>` stands for a console session instead of a token.
        let auth = self.token.strip_prefix("cookie:").map_or_else(
            || ("authorization", format!("Bearer {}", self.token)),
            |c| ("cookie", c.to_string()),
        );
        let headers = [("content-type", "application/json".to_string()), auth];
        let (status, _, bytes) = self.send(method, path, &headers, data).await;
        (status, bytes)
    }

    /// One request with these headers: status, response headers, body.
    async fn send(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> (u16, hyper::HeaderMap, Bytes) {
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header("host", &self.host);
        for (name, value) in headers {
            req = req.header(*name, value);
        }
        let req = req.body(Full::new(Bytes::from(body))).expect("request");
        self.sender.ready().await.expect("connection ready");
        let res = self.sender.send_request(req).await.expect("response");
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let bytes = res
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        (status, headers, bytes)
    }
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx].as_secs_f64() * 1000.0
}

fn report(name: &str, mut lat: Vec<Duration>, items: usize, elapsed: Duration) {
    lat.sort_unstable();
    println!(
        "{name:<34} {:>10.0} items/s   p50 {:>7.2} ms   p99 {:>7.2} ms   ({items} items, {} requests, {:.1} s)",
        items as f64 / elapsed.as_secs_f64(),
        percentile(&lat, 0.50),
        percentile(&lat, 0.99),
        lat.len(),
        elapsed.as_secs_f64()
    );
}

fn event(i: usize) -> Value {
    let sev = ["HIGH", "CRITICAL"][i % 2];
    json!({
        "source": format!("sensor-{}", i % 16),
        "event_type": "port_scan",
        "severity": sev,
        "description": "SYN scan of 1,024 ports",
        "source_ip": format!("10.{}.{}.{}", (i / 65536) % 256, (i / 256) % 256, i % 256),
        "destination_ip": "10.0.0.5",
        "metadata": {"rule": "ET SCAN", "n": i}
    })
}

/// The `i`th event of the sensor mix: 50 % LOW, 30 % MEDIUM, 15 % HIGH,
/// 5 % CRITICAL; 16 sensors, 4 event types, 100 source addresses, so the
/// promoted fifth opens at most 6,400 alerts and otherwise joins them.
fn mixed_event(i: usize) -> Value {
    // A multiplicative hash, so neighbours differ in every field.
    let h = i.wrapping_mul(0x9E37_79B9_7F4A_7C15_usize) >> 7;
    let sev = match h % 20 {
        0..=9 => "LOW",
        10..=15 => "MEDIUM",
        16..=18 => "HIGH",
        _ => "CRITICAL",
    };
    let ip = (h / 20) % 100;
    let kind = [
        "port_scan",
        "ssh_brute_force",
        "malware_beacon",
        "policy_violation",
    ][(h / 32_000) % 4];
    json!({
        "source": format!("sensor-{}", (h / 2_000) % 16),
        "event_type": kind,
        "severity": sev,
        "description": "observed by the sensor",
        "source_ip": format!("198.51.100.{ip}"),
        "destination_ip": "10.0.0.5",
        "metadata": {"rule": "ET SCAN", "n": i}
    })
}

/// Posts `count` events made by `make` (numbered from `offset`) in batches
/// of `--batch-size` over at most 8 clients, and reports them as `name`.
async fn batch_phase(
    args: &Args,
    token: &str,
    name: &str,
    count: usize,
    offset: usize,
    make: fn(usize) -> Value,
) {
    let size = args.batch_size;
    let batches = count.div_ceil(size);
    let (lat, took) = run(args, token, args.clients.min(8), batches, move |b| {
        let events: Vec<Value> = (0..size).map(|j| make(offset + b * size + j)).collect();
        (
            "POST",
            "/api/events/batch".to_string(),
            Some(json!({ "events": events })),
        )
    })
    .await;
    report(&format!("{name} ({size}/batch)"), lat, batches * size, took);
}

/// Runs `total` requests over `clients` connections; returns latencies.
async fn run<F>(
    args: &Args,
    token: &str,
    clients: usize,
    total: usize,
    make: F,
) -> (Vec<Duration>, Duration)
where
    F: Fn(usize) -> (&'static str, String, Option<Value>) + Send + Sync + 'static,
{
    let make = Arc::new(make);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let start = Instant::now();
    let mut handles = Vec::new();
    for _ in 0..clients {
        let (make, next) = (make.clone(), next.clone());
        let (host, token) = (args.host.clone(), token.to_string());
        handles.push(tokio::spawn(async move {
            let mut client = Client::connect(&host, &token).await;
            let mut lat = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= total {
                    break;
                }
                let (method, path, body) = make(i);
                let t = Instant::now();
                let (status, bytes) = client.call(method, &path, body.as_ref()).await;
                lat.push(t.elapsed());
                assert!(
                    status < 300,
                    "{method} {path}: {status} {}",
                    String::from_utf8_lossy(&bytes)
                );
            }
            lat
        }));
    }
    let mut all = Vec::new();
    for h in handles {
        all.extend(h.await.expect("client task"));
    }
    (all, start.elapsed())
}

/// Requests sent before a measured read phase and not counted: the
/// server's pool, shrunk while batches held one connection, opens its
/// connections again (a PostgreSQL connection takes milliseconds), which
/// is start-up cost, not the cost of a read.
async fn warm_up<F>(args: &Args, token: &str, make: F)
where
    F: Fn(usize) -> (&'static str, String, Option<Value>) + Send + Sync + 'static,
{
    let _ = run(args, token, args.clients, args.clients * 4, make).await;
}

fn rss(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
    };
    Some((field("VmRSS:")? / 1024, field("VmHWM:")? / 1024))
}

/// `--name value` pairs after a subcommand.
fn options(args: &[String]) -> std::collections::HashMap<String, String> {
    args.chunks(2)
        .filter_map(|p| match p {
            [k, v] if k.starts_with("--") => {
                Some((k.trim_start_matches("--").to_string(), v.clone()))
            }
            _ => {
                eprintln!("ignoring {p:?}");
                None
            }
        })
        .collect()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("gen-log") => {
            let o = options(&args[1..]);
            let num = |k: &str, d: usize| o.get(k).and_then(|v| v.parse().ok()).unwrap_or(d);
            let out = o
                .get("out")
                .map_or_else(|| "access.log".into(), std::path::PathBuf::from);
            logs::gen_log(
                &out,
                num("lines", 1_000_000),
                num("attack-per-mille", 10),
                num("clients", 50_000),
                num("seed", 7) as u64,
            );
        }
        Some("detect") => {
            let o = options(&args[1..]);
            let num = |k: &str, d: usize| o.get(k).and_then(|v| v.parse().ok()).unwrap_or(d);
            let file = o
                .get("file")
                .map_or_else(|| "access.log".into(), std::path::PathBuf::from);
            let rules = o.get("rules").map(std::path::PathBuf::from);
            logs::detect(
                &file,
                rules.as_ref(),
                num("max-clients", 10_000),
                num("rounds", 3),
            );
        }
        Some("feed") => tokio::runtime::Runtime::new()
            .expect("runtime")
            .block_on(async {
                let args = parse_args();
                let token = login(&args).await;
                feed::bench(&args, &token).await;
                if let Some((now, peak)) = args.pid.and_then(rss) {
                    println!("server RSS now {now} MB, peak {peak} MB");
                }
            }),
        _ => tokio::runtime::Runtime::new()
            .expect("runtime")
            .block_on(http_bench()),
    }
}

/// The `--token`, or an access token from logging in.
async fn login(args: &Args) -> String {
    match &args.token {
        Some(t) => t.clone(),
        None => {
            let mut c = Client::connect(&args.host, "").await;
            let (status, body) = c
                .call(
                    "POST",
                    "/api/auth/login",
                    Some(&json!({"username": args.username, "password": args.password})),
                )
                .await;
            assert_eq!(
                status,
                200,
                "login failed: {}",
                String::from_utf8_lossy(&body)
            );
            let v: Value = serde_json::from_slice(&body).expect("login body");
            v["access"].as_str().expect("access token").to_string()
        }
    }
}

async fn http_bench() {
    let args = parse_args();
    let token = login(&args).await;
    println!(
        "vigil-bench against http://{} with {} clients",
        args.host, args.clients
    );

    if args.allowlist > 0 {
        // Entries no benchmark event comes from (100.64.0.0/10, every
        // other address, so none merge): the ingestion phases then pay
        // for the lookup in a list of this size, not for skipping alerts.
        let (lat, took) = run(&args, &token, args.clients, args.allowlist, |i| {
            let a = 0x6440_0000_u32 + 2 * u32::try_from(i).unwrap_or(0);
            let ip = std::net::Ipv4Addr::from(a);
            let body = json!({"cidr": format!("{ip}/32"), "reason": "vigil-bench"});
            ("POST", "/api/allowlist".to_string(), Some(body))
        })
        .await;
        report("allowlist entries created", lat, args.allowlist, took);
    }

    if args.logins > 0 {
        // One client, one login after another: the latency of Argon2id
        // verification plus the login's writes, not a throughput figure.
        let (user, pass) = (args.username.clone(), args.password.clone());
        let (lat, took) = run(&args, "", 1, args.logins, move |_| {
            let body = json!({"username": user, "password": pass});
            ("POST", "/api/auth/login".to_string(), Some(body))
        })
        .await;
        report("login (sequential)", lat, args.logins, took);
    }

    let (lat, took) = run(&args, &token, args.clients, args.events, |i| {
        ("POST", "/api/events".to_string(), Some(event(i)))
    })
    .await;
    report("single-event ingestion (HIGH)", lat, args.events, took);

    batch_phase(
        &args,
        &token,
        "batch ingestion",
        args.load,
        args.events,
        event,
    )
    .await;

    let first = |_| ("GET", "/api/alerts?page_size=10".to_string(), None);
    warm_up(&args, &token, first).await;
    let (lat, took) = run(&args, &token, args.clients, args.list_requests, first).await;
    report("list alerts, first page", lat, args.list_requests, took);

    // Walk the cursor deep, then measure that page.
    let mut c = Client::connect(&args.host, &token).await;
    let mut path = "/api/alerts?cursor=&page_size=500".to_string();
    let mut depth = 0;
    for _ in 0..args.deep_pages {
        let (_, body) = c.call("GET", &path, None).await;
        let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        match v["next"].as_str() {
            Some(next) => {
                depth += 500;
                path = next
                    .split_once(&args.host)
                    .map_or(next, |(_, p)| p)
                    .to_string();
            }
            None => break,
        }
    }
    let deep = path.replace("page_size=500", "page_size=10");
    let deep_page = move |_| ("GET", deep.clone(), None);
    warm_up(&args, &token, deep_page.clone()).await;
    let (lat, took) = run(&args, &token, args.clients, args.list_requests, deep_page).await;
    report(
        &format!("list alerts, cursor page at {depth}"),
        lat,
        args.list_requests,
        took,
    );

    // Batches as a sensor fleet sends them: most events below the alert
    // threshold, the promoted ones joining the open alerts of a few
    // attackers (after the list figures, so those see only --load).
    let offset = args.events + args.load;
    let name = "batch ingestion, sensor mix";
    batch_phase(&args, &token, name, args.mixed, offset, mixed_event).await;

    if args.console_requests > 0 {
        console::bench(&args, &token).await;
    }

    if let Some(pid) = args.pid {
        if let Some((now, peak)) = rss(pid) {
            println!("server RSS now {now} MB, peak {peak} MB");
        }
    }
}
