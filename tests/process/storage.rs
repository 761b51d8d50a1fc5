//! Storage that refuses writes: a full SQLite file (its page cap reached),
//! PostgreSQL connections cut and refused, a lock held past the lock
//! timeout. Every write answers 503 `storage_unavailable` with
//! `Retry-After` (never 500, never a 2xx that is not durable), `/_health`
//! says so, service resumes by itself when storage does, and after a
//! restart every acknowledged event is stored exactly once with its alert.
use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, DatabaseConnection, Statement, TransactionTrait};
use serde_json::{json, Value};

use super::{configured_db, connect, create_admin, free_port, Client, Server};
use crate::support::TestDb;

const SOURCE: &str = "storage-fault";

/// One ingestion request: its path, body, idempotency key and how many
/// events it carries.
struct Sent {
    path: &'static str,
    body: Value,
    key: String,
    events: usize,
    /// The event ids of its 2xx answer, once it got one.
    acked: Option<Vec<String>>,
}

/// A request of `n` HIGH events, each its own fingerprint (a new alert),
/// with `pad` bytes of metadata each: a batch, or a single event for n = 1.
fn request(seq: usize, n: usize, pad: usize) -> Sent {
    let event = |i: usize| {
        json!({"source": SOURCE, "event_type": "exfiltration", "severity": "HIGH",
               "source_ip": format!("10.77.{}.{}", (seq * 64 + i) / 250, (seq * 64 + i) % 250),
               "dedup_key": format!("fault-{seq}-{i}"),
               "metadata": {"blob": "x".repeat(pad)}})
    };
    let (path, body) = if n == 1 {
        ("/api/events", event(0))
    } else {
        (
            "/api/events/batch",
            json!({"events": (0..n).map(event).collect::<Vec<_>>()}),
        )
    };
    Sent {
        path,
        body,
        key: format!("fault-key-{seq}"),
        events: n,
        acked: None,
    }
}

fn event_ids(path: &str, body: &Value) -> Vec<String> {
    if path == "/api/events" {
        vec![body["id"].as_str().expect("event id").to_string()]
    } else {
        body["results"]
            .as_array()
            .expect("results")
            .iter()
            .map(|r| r["event"]["id"].as_str().expect("event id").to_string())
            .collect()
    }
}

/// Sends `sent` once: `true` when acknowledged (its ids recorded). Any
/// answer but 201 or 503 `storage_unavailable` with `Retry-After` fails the
/// test.
async fn send(client: &Client, token: &str, sent: &mut Sent) -> bool {
    let (status, headers, body) = client
        .call_with(
            "POST",
            sent.path,
            Some(token),
            Some(&sent.body),
            &[("idempotency-key", &sent.key)],
        )
        .await
        .expect("the server answers");
    match status {
        201 => {
            let ids = event_ids(sent.path, &body);
            assert_eq!(ids.len(), sent.events, "{body}");
            if let Some(first) = &sent.acked {
                assert_eq!(first, &ids, "a retry answers the first answer");
            }
            sent.acked = Some(ids);
            true
        }
        503 => {
            assert_eq!(body["error"], "storage_unavailable", "{body}");
            assert!(
                headers.contains_key("retry-after"),
                "503 without Retry-After"
            );
            false
        }
        other => panic!("{} answered {other}: {body}", sent.path),
    }
}

async fn health(client: &Client) -> (u16, Value) {
    client
        .call("GET", "/_health", None, None)
        .await
        .expect("health answers")
}

async fn wait_for_health(client: &Client, want: u16) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, body) = health(client).await;
        if status == want {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "/_health stayed {status} ({body}), expected {want}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn scalar(db: &DatabaseConnection, sql: &str) -> i64 {
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .expect(sql)
        .expect("a row");
    row.try_get_by_index::<i64>(0).expect("a number")
}

/// Retries every unacknowledged request until it is, then restarts the
/// server and checks that each event is stored once, with its alert.
async fn settle_and_verify(
    url: &str,
    port: u16,
    mut server: Server,
    token: &str,
    sent: &mut [Sent],
) {
    for item in sent.iter_mut() {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !send(&server, token, item).await {
            assert!(Instant::now() < deadline, "{} never stored", item.key);
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    server.kill();
    let server = Server::start(url, port, None).await;
    let token = server.token("root").await;
    let total: usize = sent.iter().map(|s| s.events).sum();
    let db = connect(url).await;
    let stored = scalar(
        &db,
        &format!("SELECT COUNT(*) FROM events WHERE source = '{SOURCE}'"),
    )
    .await;
    assert_eq!(
        stored,
        i64::try_from(total).unwrap(),
        "every acknowledged event stored exactly once"
    );
    let orphans = scalar(
        &db,
        &format!(
            "SELECT COUNT(*) FROM events e WHERE e.source = '{SOURCE}' \
             AND NOT EXISTS (SELECT 1 FROM alerts a WHERE a.id = e.alert_id)"
        ),
    )
    .await;
    assert_eq!(orphans, 0, "every stored HIGH event has its alert");
    let alerts = scalar(
        &db,
        &format!("SELECT COUNT(*) FROM alerts WHERE source = '{SOURCE}'"),
    )
    .await;
    assert_eq!(
        alerts,
        i64::try_from(total).unwrap(),
        "one alert per fingerprint"
    );
    // And through the API of the restarted server, every acknowledged id.
    for item in sent.iter() {
        for id in item.acked.as_ref().expect("acknowledged") {
            let (status, body) = server
                .call("GET", &format!("/api/events/{id}"), Some(&token), None)
                .await
                .expect("read event");
            assert_eq!(status, 200, "{id}: {body}");
            assert_eq!(body["id"], id.as_str());
        }
    }
    db.close().await.ok();
}

/// SQLite: the file reaches its page cap (as a full disk refuses pages);
/// then space is freed (a table of filler dropped) and writes resume.
#[tokio::test]
async fn a_full_sqlite_file_answers_503_and_loses_nothing_acknowledged() {
    let configured = configured_db().await;
    if !configured.starts_with("sqlite") {
        return;
    }
    let (_db, url) = TestDb::create(&configured).await;
    const CAP: i64 = 6_000; // pages of 4 KiB: 24 MiB
    let port = free_port();
    let cap = CAP.to_string();
    let server = Server::start_with(&url, port, None, &[("SQLITE_MAX_PAGES", &cap)]).await;
    let db = connect(&url).await;
    create_admin(&db, "root").await;
    let token = server.token("root").await;

    // Another tenant fills the disk to within ~120 pages of the cap.
    db.execute_unprepared("CREATE TABLE filler (b BLOB)")
        .await
        .expect("filler table");
    loop {
        let pages = scalar(&db, "PRAGMA page_count").await;
        if pages >= CAP - 120 {
            break;
        }
        let rows = ((CAP - 120 - pages) / 17).clamp(1, 200);
        db.execute_unprepared(&format!(
            "INSERT INTO filler SELECT zeroblob(65536) FROM (WITH RECURSIVE n(i) AS \
             (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {rows}) SELECT i FROM n)"
        ))
        .await
        .expect("fill");
    }

    // Ingest until storage refuses three requests in a row.
    let mut sent = Vec::new();
    let mut refused_in_a_row = 0;
    let mut acked_before = 0;
    while refused_in_a_row < 3 {
        assert!(sent.len() < 200, "storage never refused a write");
        let n = if sent.len() % 3 == 2 { 1 } else { 15 };
        let mut item = request(sent.len(), n, 6_000);
        if send(&server, &token, &mut item).await {
            refused_in_a_row = 0;
            acked_before += 1;
        } else {
            refused_in_a_row += 1;
        }
        sent.push(item);
    }
    assert!(
        acked_before > 0,
        "some requests were stored before the disk filled"
    );
    let body = wait_for_health(&server, 503).await;
    assert_eq!(body["storage"], "unavailable", "{body}");
    assert_eq!(body["status"], "degraded", "{body}");
    // A retry of an acknowledged request replays its answer: it writes
    // nothing, so it does not tell health that storage is back.
    let first = sent
        .iter()
        .position(|s| s.acked.is_some())
        .expect("one acknowledged");
    assert!(send(&server, &token, &mut sent[first]).await, "replay");
    let (status, body) = health(&server).await;
    assert_eq!(status, 503, "a replay is not a write: {body}");
    // Sign-ups and logins are writes too: refused the same way, not 500.
    let (status, body) = server
        .call(
            "POST",
            "/api/auth/register",
            None,
            Some(&json!({"username": "late", "email": "late@example.com",
                         "password": "late-password-1"})),
        )
        .await
        .expect("register");
    assert!(status == 503 || status == 201, "register: {status} {body}");

    // Space returns: the server notices by itself, without a restart.
    db.execute_unprepared("DROP TABLE filler")
        .await
        .expect("free space");
    let body = wait_for_health(&server, 200).await;
    assert_eq!(body["storage"], "ok", "{body}");
    for _ in 0..5 {
        let mut item = request(sent.len(), 1, 200);
        assert!(
            send(&server, &token, &mut item).await,
            "single event after recovery"
        );
        sent.push(item);
    }
    let mut item = request(sent.len(), 50, 200);
    assert!(
        send(&server, &token, &mut item).await,
        "batch after recovery"
    );
    sent.push(item);
    db.close().await.ok();

    settle_and_verify(&url, port, server, &token, &mut sent).await;
}

/// PostgreSQL: the app's connections are terminated mid-ingestion and new
/// ones refused for a while, then a table lock outlives the lock timeout.
#[tokio::test]
async fn postgres_connections_cut_and_locks_held_answer_503_and_lose_nothing() {
    let configured = configured_db().await;
    if !configured.starts_with("postgres") {
        return;
    }
    let (test_db, url) = TestDb::create(&configured).await;
    let TestDb::Postgres { root, name } = &test_db else {
        unreachable!()
    };
    let port = free_port();
    // The server's log (its errors name the cause of any 500), kept in the
    // temporary directory and named in the output of a failing run.
    let log = std::env::temp_dir().join(format!("vigil-pg-storage-{port}.log"));
    eprintln!("server log: {}", log.display());
    let server = Server::start_logging(
        &url,
        port,
        None,
        &[("DB_LOCK_TIMEOUT_MS", "1000")],
        Some(&log),
    )
    .await;
    let db = connect(&url).await;
    create_admin(&db, "root").await;
    let token = server.token("root").await;
    db.close().await.ok();
    let admin = connect(root).await;

    let mut sent = Vec::new();
    for _ in 0..5 {
        let mut item = request(sent.len(), 20, 100);
        assert!(send(&server, &token, &mut item).await, "before the fault");
        sent.push(item);
    }

    // The database refuses new connections and every open one is cut.
    admin
        .execute_unprepared(&format!(
            "ALTER DATABASE \"{name}\" ALLOW_CONNECTIONS false"
        ))
        .await
        .expect("refuse connections");
    admin
        .execute_unprepared(&format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = '{name}' AND pid <> pg_backend_pid()"
        ))
        .await
        .expect("terminate");
    let mut refused = 0;
    while refused < 3 {
        assert!(sent.len() < 100, "writes never failed");
        let mut item = request(sent.len(), 10, 100);
        if !send(&server, &token, &mut item).await {
            refused += 1;
        }
        sent.push(item);
    }
    let body = wait_for_health(&server, 503).await;
    assert_ne!(body["status"], "ok", "{body}");
    admin
        .execute_unprepared(&format!("ALTER DATABASE \"{name}\" ALLOW_CONNECTIONS true"))
        .await
        .expect("allow connections");
    let body = wait_for_health(&server, 200).await;
    assert_eq!(body["storage"], "ok", "{body}");
    let mut item = request(sent.len(), 20, 100);
    // The pool may still hand out one more cut connection: retried below.
    send(&server, &token, &mut item).await;
    sent.push(item);

    // A lock held past the lock timeout: 503, then service resumes.
    let locker = connect(&url).await;
    let lock = locker.begin().await.expect("begin");
    lock.execute_unprepared("LOCK TABLE events IN ACCESS EXCLUSIVE MODE")
        .await
        .expect("lock events");
    let mut item = request(sent.len(), 10, 100);
    assert!(
        !send(&server, &token, &mut item).await,
        "a write waiting past the lock timeout is refused"
    );
    sent.push(item);
    lock.rollback().await.expect("unlock");
    locker.close().await.ok();
    let mut item = request(sent.len(), 10, 100);
    assert!(send(&server, &token, &mut item).await, "after the lock");
    sent.push(item);
    admin.close().await.ok();

    settle_and_verify(&url, port, server, &token, &mut sent).await;
}

/// SQLite rolls a transaction back by itself after some errors (a full
/// disk, an I/O error; here a trigger's `RAISE(ROLLBACK)` stands in for
/// them): the writer's connection must not carry on as if its transaction
/// were still open, or every later "commit" would be acknowledged and
/// never durable.
#[tokio::test]
async fn after_sqlite_rolls_back_by_itself_every_later_2xx_is_durable() {
    let configured = configured_db().await;
    if !configured.starts_with("sqlite") {
        return;
    }
    let (_db, url) = TestDb::create(&configured).await;
    let port = free_port();
    let mut server = Server::start(&url, port, None).await;
    let db = connect(&url).await;
    create_admin(&db, "root").await;
    let token = server.token("root").await;
    db.execute_unprepared(
        "CREATE TRIGGER poison BEFORE INSERT ON events WHEN NEW.source LIKE 'poison%' \
         BEGIN SELECT CASE NEW.source \
           WHEN 'poison-rollback' THEN RAISE(ROLLBACK, 'simulated automatic rollback') \
           ELSE RAISE(ABORT, 'simulated statement failure') END; END",
    )
    .await
    .expect("trigger");
    db.close().await.ok();

    // The whole transaction rolled back by SQLite, then a statement that
    // fails alone: without the connection check, the second leaves a real
    // transaction open under sqlx's savepoints, and every later commit is
    // a RELEASE inside it.
    for source in ["poison-rollback", "poison-abort"] {
        let poison = json!({"source": source, "event_type": "x", "severity": "HIGH"});
        let (status, body) = server
            .call("POST", "/api/events", Some(&token), Some(&poison))
            .await
            .expect("poison");
        assert!(!(200..300).contains(&status), "{status} {body}");
    }

    let mut sent = Vec::new();
    for n in [1, 1, 1, 20, 1] {
        let mut item = request(sent.len(), n, 100);
        assert!(send(&server, &token, &mut item).await, "after the rollback");
        sent.push(item);
    }
    let (status, body) = server
        .call(
            "POST",
            "/api/auth/register",
            None,
            Some(&json!({"username": "later", "email": "later@example.com",
                         "password": "later-password-1"})),
        )
        .await
        .expect("register");
    assert_eq!(status, 201, "{body}");
    // What was acknowledged is visible to another connection at once.
    let outside = connect(&url).await;
    let stored = scalar(
        &outside,
        &format!("SELECT COUNT(*) FROM events WHERE source = '{SOURCE}'"),
    )
    .await;
    assert_eq!(stored, 24, "acknowledged events are committed");
    outside.close().await.ok();
    server.kill();
    let server = Server::start(&url, port, None).await;
    settle_and_verify(&url, port, server, &token, &mut sent).await;
}
