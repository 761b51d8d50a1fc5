//! Webhooks against a real local receiver: signed deliveries, filters,
//! retries with backoff, recovery, auto-disable after 20 failures in a row,
//! re-enabling, and the admin API around them.
use std::{
    net::SocketAddr,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use axum::{
    extract::State,
    http::{HeaderMap, StatusCode},
    routing::post,
    Router,
};
use axum_test::TestServer;
use serde_json::{json, Value};
use vigil::models::{users::Role, webhooks::signature};

use super::prepare_data::{assert_error, token_for};

/// One request the receiver got.
#[derive(Clone, Debug)]
struct Received {
    at: Instant,
    headers: HeaderMap,
    body: String,
}

/// A local HTTP receiver that answers 500 to its first `fail` requests
/// (all of them with `usize::MAX`), then 200.
#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<Received>>>,
    fail: Arc<AtomicUsize>,
}

impl Receiver {
    async fn start(fail: usize) -> (Self, String) {
        let this = Self::default();
        this.fail.store(fail, Ordering::SeqCst);
        async fn hook(State(r): State<Receiver>, headers: HeaderMap, body: String) -> StatusCode {
            r.got.lock().unwrap().push(Received {
                at: Instant::now(),
                headers,
                body,
            });
            let left = r.fail.load(Ordering::SeqCst);
            if left == 0 {
                StatusCode::OK
            } else {
                if left != usize::MAX {
                    r.fail.store(left - 1, Ordering::SeqCst);
                }
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
        let app = Router::new()
            .route("/hook", post(hook))
            .with_state(this.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        (this, format!("http://{addr}/hook"))
    }

    fn got(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    async fn wait_for(&self, n: usize) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let got = self.got();
            if got.len() >= n || Instant::now() > deadline {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn create_hook(server: &TestServer, admin: &str, body: &Value) -> Value {
    let r = server
        .post("/api/webhooks")
        .authorization_bearer(admin)
        .json(body)
        .await;
    assert_eq!(r.status_code(), 201, "{}", r.text());
    r.json()
}

async fn post_event(server: &TestServer, token: &str, ip: &str, severity: &str) {
    let r = server
        .post("/api/events")
        .authorization_bearer(token)
        .json(
            &json!({"source": "waf", "event_type": "sqli", "severity": severity, "source_ip": ip}),
        )
        .await;
    assert_eq!(r.status_code(), 201, "{}", r.text());
}

async fn deliveries(server: &TestServer, admin: &str, hook: &str) -> Vec<Value> {
    let r = server
        .get(&format!("/api/webhooks/{hook}/deliveries?page_size=100"))
        .authorization_bearer(admin)
        .await;
    assert_eq!(r.status_code(), 200, "{}", r.text());
    r.json::<Value>()["results"].as_array().unwrap().clone()
}

async fn hook_state(server: &TestServer, admin: &str, hook: &str) -> Value {
    server
        .get(&format!("/api/webhooks/{hook}"))
        .authorization_bearer(admin)
        .await
        .json()
}

/// Polls `check` until it holds (20 s at most).
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(20);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test]
async fn signed_deliveries_reach_a_real_receiver_filtered_by_type_and_severity() {
    crate::support::request(|server, ctx| async move {
        let admin = token_for(&server, &ctx, "root", Role::Admin).await;
        let (receiver, url) = Receiver::start(0).await;
        let created = create_hook(
            &server,
            &admin,
            &json!({"url": url, "event_types": ["ALERT.CREATED"], "min_severity": "critical"}),
        )
        .await;
        let secret = created["secret"].as_str().unwrap().to_string();
        assert!(secret.starts_with("whsec_"));
        assert_eq!(created["event_types"], json!(["alert.created"]));
        assert_eq!(created["min_severity"], "CRITICAL");
        assert_eq!(created["enabled"], true);
        let id = created["id"].as_str().unwrap().to_string();
        let shown = server
            .get(&format!("/api/webhooks/{id}"))
            .authorization_bearer(&admin)
            .await;
        assert!(shown.json::<Value>().get("secret").is_none());
        assert!(!shown.text().contains(&secret));
        // A second webhook whose receiver is down.
        let dead = create_hook(&server, &admin, &json!({"url": "http://127.0.0.1:9/down"})).await
            ["id"]
            .as_str()
            .unwrap()
            .to_string();

        post_event(&server, &admin, "192.0.2.1", "CRITICAL").await; // created: sent
        post_event(&server, &admin, "192.0.2.1", "CRITICAL").await; // updated: not this type
        post_event(&server, &admin, "192.0.2.2", "HIGH").await; // created, below CRITICAL
        post_event(&server, &admin, "192.0.2.3", "CRITICAL").await; // created: sent

        let got = receiver.wait_for(2).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let got_later = receiver.got();
        assert_eq!(
            got_later.len(),
            2,
            "exactly the two CRITICAL creations: {got_later:?}"
        );
        let mut ips = Vec::new();
        for request in &got {
            let ts = request.headers["x-vigil-timestamp"].to_str().unwrap();
            let sig = request.headers["x-vigil-signature"].to_str().unwrap();
            assert_eq!(
                sig,
                format!("sha256={}", signature(&secret, ts, &request.body))
            );
            assert_ne!(
                sig,
                format!("sha256={}", signature("whsec_wrong", ts, &request.body))
            );
            let age = chrono::Utc::now().timestamp() - ts.parse::<i64>().unwrap();
            assert!((0..60).contains(&age), "timestamp is now: {age}");
            assert_eq!(request.headers["x-vigil-event"], "alert.created");
            assert_eq!(request.headers["content-type"], "application/json");
            let envelope: Value = serde_json::from_str(&request.body).unwrap();
            assert_eq!(envelope["type"], "alert.created");
            assert_eq!(envelope["source"], "vigil");
            assert_eq!(envelope["payload"]["severity"], "CRITICAL");
            ips.push(
                envelope["payload"]["source_ip"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            );
        }
        ips.sort();
        assert_eq!(ips, ["192.0.2.1", "192.0.2.3"]);

        eventually("two SUCCEEDED deliveries", || async {
            let log = deliveries(&server, &admin, &id).await;
            log.len() == 2 && log.iter().all(|d| d["status"] == "SUCCEEDED")
        })
        .await;
        let log = deliveries(&server, &admin, &id).await;
        for d in &log {
            assert_eq!(d["attempts"], 1);
            assert_eq!(d["last_status_code"], 200);
            assert!(d["last_error"].is_null());
            assert!(d["delivered_at"].is_string());
            let sent = got
                .iter()
                .any(|r| r.headers["x-vigil-delivery"] == d["id"].as_str().unwrap());
            assert!(sent, "X-Vigil-Delivery names the logged delivery");
        }

        // The dead receiver: every envelope is pending, with the reason.
        eventually("a failed attempt to the dead receiver", || async {
            let log = deliveries(&server, &admin, &dead).await;
            log.len() == 4 && log.iter().all(|d| d["attempts"].as_i64().unwrap() >= 1)
        })
        .await;
        let log = deliveries(&server, &admin, &dead).await;
        assert!(log.iter().all(|d| d["status"] == "PENDING"));
        let error = log[0]["last_error"].as_str().unwrap();
        // Only that the connection failed: not which ports answer inside.
        assert_eq!(error, "connection failed");
        assert!(log[0]["last_status_code"].is_null());
        assert!(log[0]["next_attempt_at"].is_string());
    })
    .await;
}

#[tokio::test]
async fn a_receiver_that_fails_then_recovers_gets_the_same_delivery_with_backoff() {
    crate::support::request(|server, ctx| async move {
        let admin = token_for(&server, &ctx, "root", Role::Admin).await;
        let (receiver, url) = Receiver::start(3).await;
        let id = create_hook(&server, &admin, &json!({"url": url})).await["id"]
            .as_str()
            .unwrap()
            .to_string();
        post_event(&server, &admin, "198.51.100.7", "HIGH").await;

        let got = receiver.wait_for(4).await;
        assert_eq!(got.len(), 4, "three 500s then a 200");
        let first = &got[0];
        for retry in &got[1..] {
            assert_eq!(retry.body, first.body, "the same envelope each time");
            assert_eq!(
                retry.headers["x-vigil-delivery"],
                first.headers["x-vigil-delivery"]
            );
        }
        // Backoff (test settings: 20 ms doubling, at most 100 ms): each wait
        // is at least the scheduled delay.
        for (i, min_ms) in [(1, 20), (2, 40), (3, 80)] {
            let gap = got[i].at.duration_since(got[i - 1].at);
            assert!(
                gap >= Duration::from_millis(min_ms),
                "attempt {} came {gap:?} after the one before, under {min_ms} ms",
                i + 1
            );
        }
        eventually("the delivery to succeed", || async {
            deliveries(&server, &admin, &id).await[0]["status"] == "SUCCEEDED"
        })
        .await;
        let d = &deliveries(&server, &admin, &id).await[0];
        assert_eq!(d["attempts"], 4);
        assert_eq!(d["last_status_code"], 200);
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(receiver.got().len(), 4, "nothing after the success");
        let hook = hook_state(&server, &admin, &id).await;
        assert_eq!(hook["consecutive_failures"], 0);
        assert_eq!(hook["enabled"], true);
    })
    .await;
}

#[tokio::test]
async fn twenty_failures_in_a_row_disable_the_webhook_until_an_admin_enables_it() {
    crate::support::request(|server, ctx| async move {
        let admin = token_for(&server, &ctx, "root", Role::Admin).await;
        let (receiver, url) = Receiver::start(usize::MAX).await;
        let id = create_hook(&server, &admin, &json!({"url": url})).await["id"]
            .as_str()
            .unwrap()
            .to_string();
        post_event(&server, &admin, "203.0.113.9", "CRITICAL").await;

        eventually("the webhook to be disabled", || async {
            hook_state(&server, &admin, &id).await["enabled"] == false
        })
        .await;
        let hook = hook_state(&server, &admin, &id).await;
        let reason = hook["disabled_reason"].as_str().unwrap();
        assert!(
            reason.contains("20 failed delivery attempts in a row"),
            "{reason}"
        );
        assert!(reason.contains("HTTP 500"), "{reason}");
        assert!(hook["disabled_at"].is_string());
        assert_eq!(hook["consecutive_failures"], 20);
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(receiver.got().len(), 20, "nothing is sent while disabled");
        let d = &deliveries(&server, &admin, &id).await[0];
        assert_eq!(
            (d["status"].as_str(), d["attempts"].as_i64()),
            (Some("PENDING"), Some(20))
        );
        assert_eq!(d["last_status_code"], 500);

        // The receiver is fixed; an admin enables the webhook again.
        receiver.fail.store(0, Ordering::SeqCst);
        let r = server
            .patch(&format!("/api/webhooks/{id}"))
            .authorization_bearer(&admin)
            .json(&json!({"enabled": true}))
            .await;
        assert_eq!(r.status_code(), 200, "{}", r.text());
        let body: Value = r.json();
        assert_eq!(body["enabled"], true);
        assert!(body["disabled_reason"].is_null());
        assert_eq!(body["consecutive_failures"], 0);
        eventually("the pending delivery to go out", || async {
            deliveries(&server, &admin, &id).await[0]["status"] == "SUCCEEDED"
        })
        .await;
        assert_eq!(receiver.got().len(), 21);
    })
    .await;
}

#[tokio::test]
async fn only_admins_manage_webhooks_and_bad_fields_are_400() {
    crate::support::request(|server, ctx| async move {
        let admin = token_for(&server, &ctx, "root", Role::Admin).await;
        let analyst = token_for(&server, &ctx, "ann", Role::Analyst).await;
        let r = server
            .post("/api/webhooks")
            .authorization_bearer(&analyst)
            .json(&json!({"url": "http://example.com/h"}))
            .await;
        assert_error(&r, 403, "forbidden");
        let r = server.get("/api/webhooks").authorization_bearer(&analyst).await;
        assert_error(&r, 403, "forbidden");
        let r = server.get("/api/webhooks").await;
        assert_error(&r, 401, "unauthorized");
        let key = server
            .post("/api/api-keys")
            .authorization_bearer(&admin)
            .json(&json!({"name": "k", "scopes": ["alerts:read", "alerts:write"]}))
            .await
            .json::<Value>()["key"]
            .as_str()
            .unwrap()
            .to_string();
        let r = server.get("/api/webhooks").add_header("X-API-Key", &key).await;
        assert_error(&r, 403, "forbidden");

        let r = server
            .post("/api/webhooks")
            .authorization_bearer(&admin)
            .json(&json!({"url": "ftp://example.com", "event_types": ["alert.exploded"],
                          "min_severity": "URGENT"}))
            .await;
        let body = assert_error(&r, 400, "validation_failed");
        for field in ["url", "event_types", "min_severity"] {
            assert!(body["fields"][field].is_array(), "{field}: {body}");
        }
        let r = server
            .post("/api/webhooks")
            .authorization_bearer(&admin)
            .json(&json!({"url": "/relative"}))
            .await;
        assert_error(&r, 400, "validation_failed");

        let created = create_hook(&server, &admin, &json!({"url": "http://127.0.0.1:9/h"})).await;
        let id = created["id"].as_str().unwrap().to_string();
        assert_eq!(created["event_types"].as_array().unwrap().len(), 10);
        assert_eq!(created["min_severity"], "LOW");
        let r = server
            .patch(&format!("/api/webhooks/{id}"))
            .authorization_bearer(&admin)
            .json(&json!({"min_severity": "HIGH", "event_types": ["alert.resolved"], "enabled": false}))
            .await;
        assert_eq!(r.status_code(), 200, "{}", r.text());
        let body: Value = r.json();
        assert_eq!(body["min_severity"], "HIGH");
        assert_eq!(body["event_types"], json!(["alert.resolved"]));
        assert_eq!(body["enabled"], false);
        assert_eq!(body["disabled_reason"], "Disabled by an admin");
        let r = server
            .patch(&format!("/api/webhooks/{id}"))
            .authorization_bearer(&admin)
            .json(&json!({"url": "nope"}))
            .await;
        assert_error(&r, 400, "validation_failed");
        assert_eq!(
            hook_state(&server, &admin, &id).await["url"],
            "http://127.0.0.1:9/h",
            "a refused change changes nothing"
        );
        for path in ["/api/webhooks?cursor=".to_string(), format!("/api/webhooks/{id}/deliveries?cursor=")] {
            let r = server.get(&path).authorization_bearer(&admin).await;
            let body = assert_error(&r, 400, "validation_failed");
            assert!(body["fields"]["cursor"].is_array(), "{path}: {body}");
        }
        let listed = server.get("/api/webhooks").authorization_bearer(&admin).await;
        assert_eq!(listed.json::<Value>()["count"], 1);
        assert!(!listed.text().contains(created["secret"].as_str().unwrap()));

        let r = server
            .delete(&format!("/api/webhooks/{id}"))
            .authorization_bearer(&admin)
            .await;
        assert_eq!(r.status_code(), 204);
        for path in [format!("/api/webhooks/{id}"), format!("/api/webhooks/{id}/deliveries")] {
            let r = server.get(&path).authorization_bearer(&admin).await;
            assert_error(&r, 404, "not_found");
        }
    })
    .await;
}

/// An app that allows no internal webhook target at all (the test config
/// allows loopback, for the receivers above).
async fn strict_app() -> crate::support::TestApp {
    crate::support::boot_with(|config| {
        if let Some(settings) = config.settings.as_mut().and_then(|s| s.as_object_mut()) {
            if let Some(hooks) = settings.get_mut("webhooks").and_then(|w| w.as_object_mut()) {
                hooks.insert("allowed_targets".into(), json!([]));
            }
        }
    })
    .await
    .expect("boot")
}

#[tokio::test]
async fn webhooks_cannot_aim_the_server_inside_its_network() {
    let app = strict_app().await;
    let (server, ctx) = (app.server(), app.ctx());
    let admin = token_for(&server, &ctx, "root", Role::Admin).await;
    // Loopback in every spelling, user info: refused at registration. (Only
    // loopback targets here: a test never aims the server off this machine;
    // the private, link-local and CGNAT ranges are checked as pure
    // functions in src/net.rs.)
    for url in [
        "http://127.0.0.1:1/",
        "http://[::1]:1/",
        "http://0x7f000001:1/",
        "http://2130706433:1/",
        "http://localhost:1/",
        "http://LOCALHOST.:1/",
        "http://[::ffff:127.0.0.1]:1/",
        "http://user:secret@127.0.0.1:1/",
    ] {
        let r = server
            .post("/api/webhooks")
            .authorization_bearer(&admin)
            .json(&json!({"url": url}))
            .await;
        let body = assert_error(&r, 400, "validation_failed");
        assert!(body["fields"]["url"].is_array(), "{url}: {body}");
    }

    // A webhook stored before the rule (or under a looser one) is checked
    // again at delivery: nothing reaches the receiver.
    let (receiver, url) = Receiver::start(0).await;
    let owner = vigil::models::users::Model::find_by_login(&ctx.db, "root")
        .await
        .unwrap();
    {
        use sea_orm::{ActiveModelTrait, ActiveValue};
        vigil::models::_entities::webhooks::ActiveModel {
            pid: ActiveValue::set(uuid::Uuid::new_v4()),
            url: ActiveValue::set(url.clone()),
            event_types: ActiveValue::set(String::new()),
            min_severity_rank: ActiveValue::set(0),
            secret: ActiveValue::set("whsec_test".into()),
            enabled: ActiveValue::set(true),
            consecutive_failures: ActiveValue::set(0),
            user_id: ActiveValue::set(owner.id),
            ..Default::default()
        }
        .insert(&ctx.db)
        .await
        .unwrap();
    }
    let listed: Value = server
        .get("/api/webhooks")
        .authorization_bearer(&admin)
        .await
        .json();
    let hook = listed["results"][0]["id"].as_str().unwrap().to_string();
    post_event(&server, &admin, "203.0.113.50", "HIGH").await;
    eventually("a refused attempt", || async {
        let log = deliveries(&server, &admin, &hook).await;
        log.first()
            .is_some_and(|d| d["attempts"].as_i64().unwrap_or(0) >= 1)
    })
    .await;
    let log = deliveries(&server, &admin, &hook).await;
    assert_eq!(log[0]["last_error"], "target not allowed", "{log:?}");
    assert!(receiver.got().is_empty(), "the receiver was reached");

    // Changing a URL to an internal one is refused too.
    let r = server
        .patch(&format!("/api/webhooks/{hook}"))
        .authorization_bearer(&admin)
        .json(&json!({"url": "http://127.0.0.1:6379/"}))
        .await;
    assert_error(&r, 400, "validation_failed");
}

/// A bare HTTP/1.1 receiver that counts its TCP connections and answers
/// every request 204 (keeping the connection), or, with `silent`, never.
async fn counting_receiver(silent: bool) -> (Arc<AtomicUsize>, Arc<AtomicUsize>, String) {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (connections, requests) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (c, r) = (connections.clone(), requests.clone());
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            c.fetch_add(1, Ordering::SeqCst);
            let r = r.clone();
            tokio::spawn(async move {
                let mut stream = BufReader::new(stream);
                loop {
                    let mut length = 0;
                    loop {
                        let mut line = String::new();
                        if stream.read_line(&mut line).await.unwrap_or(0) == 0 {
                            return;
                        }
                        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                            length = v.trim().parse().unwrap_or(0);
                        }
                        if line == "\r\n" {
                            break;
                        }
                    }
                    let mut body = vec![0; length];
                    if stream.read_exact(&mut body).await.is_err() {
                        return;
                    }
                    r.fetch_add(1, Ordering::SeqCst);
                    if silent {
                        std::future::pending::<()>().await;
                    }
                    let answer = b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n";
                    if stream.get_mut().write_all(answer).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (connections, requests, format!("http://{addr}/hook"))
}

fn loopback_client(timeout: Duration) -> vigil::workers::webhooks::WebhookClient {
    let policy = vigil::net::OutboundPolicy {
        allowed: vec!["127.0.0.0/8".parse().unwrap()],
    };
    vigil::workers::webhooks::WebhookClient::new(timeout, policy).expect("client")
}

/// Deliveries to one receiver share a kept connection.
#[tokio::test]
async fn deliveries_to_a_receiver_reuse_its_connection() {
    let (connections, requests, url) = counting_receiver(false).await;
    let client = loopback_client(Duration::from_secs(5));
    for i in 0..5 {
        let headers = [("content-type", "application/json".to_string())];
        let status = client.post(&url, &headers, format!("{{\"n\":{i}}}")).await;
        assert_eq!(status, Ok(204));
    }
    assert_eq!(requests.load(Ordering::SeqCst), 5);
    assert_eq!(
        connections.load(Ordering::SeqCst),
        1,
        "one connection for five deliveries"
    );
}

/// A receiver that never answers costs the configured timeout, then the
/// attempt fails with that reason.
#[tokio::test]
async fn a_silent_receiver_times_out_after_the_configured_time() {
    let (_, requests, url) = counting_receiver(true).await;
    let client = loopback_client(Duration::from_millis(300));
    let started = Instant::now();
    let outcome = client.post(&url, &[], "{}".to_string()).await;
    let took = started.elapsed();
    assert_eq!(outcome, Err("no answer within 300 ms".to_string()));
    // The request was written before the wait began; the receiver, on
    // this same thread, may read it only after the timeout fired.
    let deadline = Instant::now() + Duration::from_secs(5);
    while requests.load(Ordering::SeqCst) == 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(requests.load(Ordering::SeqCst), 1, "the request arrived");
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_secs(3),
        "{took:?}"
    );
    // A policy without loopback refuses before dialling.
    let strict = vigil::workers::webhooks::WebhookClient::new(
        Duration::from_millis(300),
        vigil::net::OutboundPolicy::default(),
    )
    .unwrap();
    assert_eq!(
        strict.post(&url, &[], "{}".to_string()).await,
        Err("target not allowed".to_string())
    );
    assert_eq!(requests.load(Ordering::SeqCst), 1);
}
