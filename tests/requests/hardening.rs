//! Defects found by the outside probe (issue 16), each with the answer a
//! user now sees, on both databases.
use std::future::IntoFuture;

use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{json, Value};
use vigil::models::{
    _entities::{alert_histories, login_throttles},
    users::Role,
};

use super::prepare_data::{assert_error, open_alert, token_for};

#[tokio::test]
async fn status_notes_are_bounded_before_anything_is_written() {
    crate::support::request(|request, ctx| async move {
        let admin = token_for(&request, &ctx, "root", Role::Admin).await;
        let ids = [
            open_alert(&request, &admin, "203.0.113.1").await,
            open_alert(&request, &admin, "203.0.113.2").await,
        ];
        let history_before = alert_histories::Entity::find()
            .count(&ctx.db)
            .await
            .unwrap();
        let huge = "n".repeat(10_001);

        let r = request
            .patch(&format!("/api/alerts/{}/status", ids[0]))
            .authorization_bearer(&admin)
            .json(&json!({"status": "ACKNOWLEDGED", "note": huge}))
            .await;
        let body = assert_error(&r, 400, "validation_failed");
        assert!(body["fields"]["note"].is_array(), "{body}");

        let r = request
            .post("/api/alerts/bulk-status")
            .authorization_bearer(&admin)
            .json(&json!({"ids": ids, "status": "ACKNOWLEDGED", "note": huge}))
            .await;
        let body = assert_error(&r, 400, "validation_failed");
        assert!(body["fields"]["note"].is_array(), "{body}");

        let r = request
            .post("/api/alerts/bulk-status")
            .authorization_bearer(&admin)
            .json(&json!({"ids": ids, "status": "ACKNOWLEDGED", "note": "  "}))
            .await;
        assert_error(&r, 400, "validation_failed");

        // Nothing changed: both alerts still OPEN, no history written.
        for id in &ids {
            let r = request
                .get(&format!("/api/alerts/{id}"))
                .authorization_bearer(&admin)
                .await;
            assert_eq!(r.json::<Value>()["status"], "OPEN");
        }
        let history_after = alert_histories::Entity::find()
            .count(&ctx.db)
            .await
            .unwrap();
        assert_eq!(history_before, history_after);

        // At the limit, accepted.
        let r = request
            .post("/api/alerts/bulk-status")
            .authorization_bearer(&admin)
            .json(&json!({"ids": ids, "status": "ACKNOWLEDGED", "note": "n".repeat(10_000)}))
            .await;
        assert_eq!(r.status_code(), 200, "{}", r.text());
    })
    .await;
}

/// A test app whose client address comes from `X-Forwarded-For`, with the
/// login throttle's account delay at `delay_after` failures.
async fn behind_proxy(delay_after: i64, max_delay_ms: u64) -> crate::support::TestApp {
    use loco_rs::controller::middleware::remote_ip::{ClientIpSource, RemoteIpMiddleware};
    crate::support::boot_with(|config| {
        config.server.middlewares.remote_ip = Some(RemoteIpMiddleware {
            enable: true,
            source: ClientIpSource::RightmostXForwardedFor,
        });
        if let Some(settings) = config.settings.as_mut().and_then(|s| s.as_object_mut()) {
            settings.insert(
                "login_throttle".into(),
                json!({"max_failures_per_account": 5, "max_failures_per_client": 20,
                       "account_delay_after": delay_after, "max_delay_ms": max_delay_ms,
                       "window_seconds": 900}),
            );
        }
    })
    .await
    .expect("boot")
}

async fn attempt(
    request: &axum_test::TestServer,
    login: &str,
    password: &str,
    from: &str,
) -> axum_test::TestResponse {
    request
        .post("/api/auth/login")
        .add_header("x-forwarded-for", from)
        .json(&json!({"username": login, "password": password}))
        .await
}

/// Creates the admin `root` with `n` open alerts; its access token.
async fn admin_with_alerts(
    request: &axum_test::TestServer,
    ctx: &loco_rs::app::AppContext,
    n: usize,
) -> String {
    let admin = token_for(request, ctx, "root", Role::Admin).await;
    for i in 0..n {
        open_alert(request, &admin, &format!("203.0.113.{i}")).await;
    }
    admin
}

/// Creates alice and fails her login `n` times, each from an address of
/// its own.
async fn fail_from_many_addresses(
    request: &axum_test::TestServer,
    ctx: &loco_rs::app::AppContext,
    n: usize,
) {
    super::prepare_data::create_user(ctx, "alice", Role::Analyst).await;
    for i in 0..n {
        let r = attempt(
            request,
            "alice",
            "wrong-password",
            &format!("198.51.100.{i}"),
        )
        .await;
        assert_eq!(r.status_code(), 401, "attempt {i}");
    }
}

#[tokio::test]
async fn concurrent_guesses_cannot_race_past_the_limit() {
    crate::support::request(|request, ctx| async move {
        super::prepare_data::create_user(&ctx, "alice", Role::Analyst).await;
        let guesses = (0..150).map(|i| {
            request
                .post("/api/auth/login")
                .json(&json!({"username": "alice", "password": format!("guess-{i}")}))
                .into_future()
        });
        let answers = futures_util::future::join_all(guesses).await;
        let unauthorized = answers.iter().filter(|r| r.status_code() == 401).count();
        let limited = answers.iter().filter(|r| r.status_code() == 429).count();
        assert_eq!(
            unauthorized, 5,
            "only the allowed failures reach the password check"
        );
        assert_eq!(limited, 145);
    })
    .await;
}

#[tokio::test]
async fn username_and_email_share_one_account_budget() {
    crate::support::request(|request, ctx| async move {
        super::prepare_data::create_user(&ctx, "alice", Role::Analyst).await;
        for login in [
            "alice",
            "alice@example.com",
            "ALICE@example.com",
            "alice",
            "alice@example.com",
        ] {
            let r = request
                .post("/api/auth/login")
                .json(&json!({"username": login, "password": "wrong-password"}))
                .await;
            assert_eq!(r.status_code(), 401, "{login}");
        }
        let r = request
            .post("/api/auth/login")
            .json(&json!({"email": "alice@example.com", "password": "wrong-password"}))
            .await;
        assert_error(&r, 429, "too_many_requests");
    })
    .await;
}

#[tokio::test]
async fn an_attacker_at_one_address_cannot_keep_the_owner_out() {
    let app = behind_proxy(10, 400).await;
    let (request, ctx) = (app.server(), app.ctx());
    super::prepare_data::create_user(&ctx, "root", Role::Admin).await;
    let attacker = "198.51.100.66";
    let mut answers = Vec::new();
    for i in 0..30 {
        answers.push(
            attempt(&request, "root", &format!("guess-{i}"), attacker)
                .await
                .status_code(),
        );
    }
    assert_eq!(answers.iter().filter(|s| **s == 401).count(), 5);
    assert_eq!(answers.iter().filter(|s| **s == 429).count(), 25);
    // The attacker's address stays refused, even with the right password…
    let r = attempt(&request, "root", super::prepare_data::PASSWORD, attacker).await;
    assert_error(&r, 429, "too_many_requests");
    // …while the owner, elsewhere, logs in at once.
    let r = attempt(
        &request,
        "root",
        super::prepare_data::PASSWORD,
        "203.0.113.5",
    )
    .await;
    assert_eq!(r.status_code(), 200, "{}", r.text());
}

#[tokio::test]
async fn failures_from_many_addresses_slow_the_account_down_but_never_lock_it() {
    let app = behind_proxy(3, 2_000).await;
    let (request, ctx) = (app.server(), app.ctx());
    fail_from_many_addresses(&request, &ctx, 6).await;
    // Six failures past a threshold of three: the sixth took a slot of
    // 1 s (250 ms doubled twice), so the next attempt waits for that slot
    // to end, less the time the sixth's own answer took, before its
    // password is checked, and succeeds. (With slots of 400 ms, a loaded
    // machine's slow answers let the slot lapse before the next attempt.)
    let started = std::time::Instant::now();
    let r = attempt(
        &request,
        "alice",
        super::prepare_data::PASSWORD,
        "203.0.113.77",
    )
    .await;
    assert_eq!(r.status_code(), 200, "{}", r.text());
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(400),
        "delayed {:?}",
        started.elapsed()
    );
    // The success ends the account's delay: its count is gone.
    let alice = vigil::models::users::Model::find_by_login(&ctx.db, "alice")
        .await
        .unwrap();
    let account = login_throttles::Entity::find()
        .filter(login_throttles::Column::Key.eq(format!("account:{}", alice.id)))
        .count(&ctx.db)
        .await
        .unwrap();
    assert_eq!(account, 0);
}

#[tokio::test]
async fn nul_characters_are_refused_by_field_the_same_on_both_databases() {
    crate::support::request(|request, ctx| async move {
        let admin = token_for(&request, &ctx, "root", Role::Admin).await;
        let post = |body: Value| {
            request
                .post("/api/events")
                .authorization_bearer(&admin)
                .json(&body)
        };
        let r = post(json!({"source": "fw\u{0}1", "event_type": "x", "severity": "HIGH"})).await;
        let body = assert_error(&r, 400, "validation_failed");
        assert!(body["fields"]["source"].is_array(), "{body}");

        let r = post(json!({"source": "fw", "event_type": "x", "severity": "LOW",
                            "metadata": {"note": ["ok", "bad\u{0}"]}}))
        .await;
        let body = assert_error(&r, 400, "validation_failed");
        assert!(body["fields"]["metadata.note[1]"].is_array(), "{body}");

        // A batch: the item holding NUL is refused alone, the others stored.
        let r = request
            .post("/api/events/batch")
            .authorization_bearer(&admin)
            .json(&json!({"events": [
                {"source": "fw", "event_type": "x", "severity": "LOW"},
                {"source": "fw", "event_type": "x", "severity": "LOW", "description": "a\u{0}"},
                {"source": "fw", "event_type": "x", "severity": "LOW", "metadata": {"k\u{0}": 1}},
                {"source": "fw", "event_type": "y", "severity": "LOW"},
            ]}))
            .await;
        assert_eq!(r.status_code(), 207, "{}", r.text());
        let body: Value = r.json();
        assert_eq!(body["stored"], 2);
        assert_eq!(body["results"][1]["status"], 400);
        assert!(body["results"][1]["errors"]["description"].is_array(), "{body}");
        assert_eq!(body["results"][2]["status"], 400);

        for query in ["search=a%00b", "source=fw%00", "event_type=%00"] {
            for list in ["/api/alerts", "/api/events"] {
                let r = request
                    .get(&format!("{list}?{query}"))
                    .authorization_bearer(&admin)
                    .await;
                assert_error(&r, 400, "validation_failed");
            }
        }

        let r = request
            .post("/api/auth/login")
            .json(&json!({"username": "root\u{0}", "password": "whatever-it-is"}))
            .await;
        let body = assert_error(&r, 400, "validation_failed");
        assert!(body["fields"]["username"].is_array(), "{body}");

        let r = request
            .post("/api/auth/register")
            .json(&json!({"username": "eve\u{0}", "email": "eve@example.com",
                          "password": "long-enough-password"}))
            .await;
        assert_error(&r, 400, "validation_failed");

        // An access log with NUL bytes is read, not a 500.
        let line = "203.0.113.9 - - [20/Nov/2026:10:00:00 +0000] \"GET /a\u{0}b?id=1%27%20or%201=1-- HTTP/1.1\" 200 12 \"-\" \"sqlmap/1.7\"\n";
        let r = request
            .post("/api/ingest/nginx?source=web-nul")
            .authorization_bearer(&admin)
            .content_type("text/plain")
            .bytes(line.as_bytes().to_vec().into())
            .await;
        assert!(r.status_code().is_success(), "{} {}", r.status_code(), r.text());
    })
    .await;
}

#[tokio::test]
async fn a_cursor_from_another_ordering_is_a_400_naming_it() {
    crate::support::request(|request, ctx| async move {
        let admin = admin_with_alerts(&request, &ctx, 3).await;
        for (list, from, to, same) in [
            ("/api/alerts", "-severity", "-created_at", false),
            ("/api/alerts", "-created_at", "occurrences", false),
            ("/api/alerts", "-created_at", "-last_seen", false),
            ("/api/alerts", "-created_at", "created_at", false),
            ("/api/alerts", "-last_seen", "-last_seen", true),
            ("/api/events", "severity", "-created_at", false),
            ("/api/events", "-created_at", "-occurred_at", false),
            ("/api/events", "-occurred_at", "-occurred_at", true),
        ] {
            let r = request
                .get(&format!("{list}?ordering={from}&cursor=&page_size=1"))
                .authorization_bearer(&admin)
                .await;
            assert_eq!(r.status_code(), 200, "{}", r.text());
            let next = r.json::<Value>()["next"]
                .as_str()
                .expect("next")
                .to_string();
            let cursor = next.split("cursor=").nth(1).expect("cursor").to_string();
            let r = request
                .get(&format!("{list}?ordering={to}&cursor={cursor}"))
                .authorization_bearer(&admin)
                .await;
            if same {
                assert_eq!(r.status_code(), 200, "{list} {from}: {}", r.text());
            } else {
                let body = assert_error(&r, 400, "validation_failed");
                assert!(
                    body["fields"]["cursor"].is_array(),
                    "{list} {from} -> {to}: {body}"
                );
            }
        }
    })
    .await;
}

#[tokio::test]
async fn events_before_1970_are_refused() {
    crate::support::request(|request, ctx| async move {
        let admin = token_for(&request, &ctx, "root", Role::Admin).await;
        let r = request
            .post("/api/events")
            .authorization_bearer(&admin)
            .json(
                &json!({"source": "fw", "event_type": "x", "severity": "LOW",
                          "occurred_at": "1969-12-31T23:59:59Z"}),
            )
            .await;
        let body = assert_error(&r, 400, "validation_failed");
        assert!(body["fields"]["occurred_at"].is_array(), "{body}");
    })
    .await;
}

#[tokio::test]
async fn csv_export_quotes_every_text_and_defuses_formulas_after_separators() {
    crate::support::request(|request, ctx| async move {
        let admin = token_for(&request, &ctx, "root", Role::Admin).await;
        let r = request
            .post("/api/events")
            .authorization_bearer(&admin)
            .json(&json!({"source": "x;=cmd|' /C calc'!A0", "event_type": "t", "severity": "HIGH"}))
            .await;
        assert_eq!(r.status_code(), 201, "{}", r.text());
        let id = r.json::<Value>()["alert"]["id"]
            .as_str()
            .unwrap()
            .to_string();
        let r = request
            .patch(&format!("/api/alerts/{id}"))
            .authorization_bearer(&admin)
            .json(&json!({"tags": ["web", "=1+1", "@x"]}))
            .await;
        assert_eq!(r.status_code(), 200, "{}", r.text());
        let text = request
            .get("/api/alerts/export")
            .authorization_bearer(&admin)
            .await
            .text();
        let line = text.lines().nth(1).expect("one alert");
        assert!(line.contains(r#","x;'=cmd|' /C calc'!A0","#), "{line}");
        assert!(line.contains(r#","'=1+1|'@x|web","#), "{line}");
        // Split where a spreadsheet might (`;`, `,`, `|`): no piece is a formula.
        for piece in line.split([';', ',', '|']) {
            let piece = piece.trim_start_matches([' ', '"']);
            assert!(!piece.starts_with(['=', '+', '@']), "{piece} in {line}");
        }
    })
    .await;
}

#[tokio::test]
async fn a_forged_host_never_reaches_a_pagination_link() {
    crate::support::request(|request, ctx| async move {
        let admin = admin_with_alerts(&request, &ctx, 3).await;
        let r = request
            .get("/api/alerts?page_size=1")
            .add_header("host", "evil.example")
            .add_header("x-forwarded-proto", "https")
            .authorization_bearer(&admin)
            .await;
        let next = r.json::<Value>()["next"].as_str().unwrap().to_string();
        assert_eq!(next, "/api/alerts?page_size=1&page=2");
        // A host the operator listed (config/test.yaml) gets absolute links.
        let r = request
            .get("/api/alerts?page_size=1")
            .add_header("host", "localhost")
            .add_header("x-forwarded-proto", "https")
            .authorization_bearer(&admin)
            .await;
        let next = r.json::<Value>()["next"].as_str().unwrap().to_string();
        assert_eq!(next, "https://localhost/api/alerts?page_size=1&page=2");
    })
    .await;
    // And `public_url` wins over any Host.
    let app = crate::support::boot_with(|config| {
        if let Some(settings) = config.settings.as_mut().and_then(|s| s.as_object_mut()) {
            settings.insert("public_url".into(), json!("https://vigil.example.org/"));
        }
    })
    .await
    .unwrap();
    let (request, ctx) = (app.server(), app.ctx());
    let admin = admin_with_alerts(&request, &ctx, 2).await;
    let r = request
        .get("/api/alerts?page_size=1")
        .add_header("host", "evil.example")
        .authorization_bearer(&admin)
        .await;
    let next = r.json::<Value>()["next"].as_str().unwrap().to_string();
    assert_eq!(
        next,
        "https://vigil.example.org/api/alerts?page_size=1&page=2"
    );
}

#[tokio::test]
async fn logout_and_refresh_reuse_end_access_tokens_at_once() {
    crate::support::request(|request, ctx| async move {
        super::prepare_data::create_user(&ctx, "alice", Role::Analyst).await;
        let me = |token: String| {
            let request = &request;
            async move {
                request
                    .get("/api/auth/me")
                    .authorization_bearer(&token)
                    .await
                    .status_code()
            }
        };
        // Logout ends the access token of that login, not another login's.
        let first = super::prepare_data::login(&request, "alice").await;
        let second = super::prepare_data::login(&request, "alice").await;
        let access = first["access"].as_str().unwrap().to_string();
        let other = second["access"].as_str().unwrap().to_string();
        assert_eq!(me(access.clone()).await, 200);
        let r = request
            .post("/api/auth/logout")
            .json(&json!({"refresh": first["refresh"]}))
            .await;
        assert_eq!(r.status_code(), 204);
        assert_eq!(me(access).await, 401, "logged-out access token");
        assert_eq!(me(other.clone()).await, 200, "another login goes on");

        // A refresh token used twice (theft): every access token of that
        // login, old and new, stops at once.
        let r1 = second["refresh"].as_str().unwrap().to_string();
        let rotated: Value = request
            .post("/api/auth/refresh")
            .json(&json!({"refresh": r1}))
            .await
            .json();
        let new_access = rotated["access"].as_str().unwrap().to_string();
        assert_eq!(me(new_access.clone()).await, 200);
        let r = request
            .post("/api/auth/refresh")
            .json(&json!({"refresh": r1}))
            .await;
        assert_eq!(r.status_code(), 401);
        assert_eq!(me(other).await, 401);
        assert_eq!(me(new_access).await, 401);
    })
    .await;
}

#[tokio::test]
async fn an_assignee_named_by_email_is_stored_by_username() {
    crate::support::request(|request, ctx| async move {
        let admin = token_for(&request, &ctx, "root", Role::Admin).await;
        super::prepare_data::create_user(&ctx, "alice", Role::Analyst).await;
        let id = open_alert(&request, &admin, "203.0.113.9").await;
        let r = request
            .patch(&format!("/api/alerts/{id}"))
            .authorization_bearer(&admin)
            .json(&json!({"assignee": "Alice@Example.com"}))
            .await;
        assert_eq!(r.status_code(), 200, "{}", r.text());
        assert_eq!(r.json::<Value>()["assignee"], "alice");
        let r = request
            .get("/api/alerts?assignee=alice")
            .authorization_bearer(&admin)
            .await;
        assert_eq!(r.json::<Value>()["count"], 1);
    })
    .await;
}

#[tokio::test]
async fn attempts_sent_together_from_many_addresses_queue_for_the_account() {
    let app = behind_proxy(3, 400).await;
    let (request, ctx) = (app.server(), app.ctx());
    fail_from_many_addresses(&request, &ctx, 3).await;
    // Past the threshold: slots of 250 ms, then 400 ms (the cap). Six
    // guesses sent together: the first two get slots, the rest would wait
    // past the cap and are refused rather than queued without end.
    let guesses = (10..16).map(|i| {
        request
            .post("/api/auth/login")
            .add_header("x-forwarded-for", format!("198.51.100.{i}"))
            .json(&json!({"username": "alice", "password": "wrong-password"}))
            .into_future()
    });
    let answers = futures_util::future::join_all(guesses).await;
    let statuses: Vec<u16> = answers.iter().map(|r| r.status_code().as_u16()).collect();
    assert!(
        statuses.iter().all(|s| *s == 401 || *s == 429),
        "{statuses:?}"
    );
    assert!(
        statuses.contains(&429),
        "parallel guesses were not queued: {statuses:?}"
    );
    assert!(statuses.contains(&401), "{statuses:?}");
}

#[tokio::test]
async fn a_body_holding_nul_that_only_the_typed_parse_would_read_is_refused() {
    crate::support::request(|request, ctx| async move {
        let admin = token_for(&request, &ctx, "root", Role::Admin).await;
        // `1e400` is no JSON value serde can hold, but a field the typed
        // parse ignores: the NUL beside it must not slip through.
        let r = request
            .post("/api/auth/login")
            .content_type("application/json")
            .bytes(r#"{"username":"a\u0000","password":"x","pad":1e400}"#.into())
            .await;
        assert_error(&r, 400, "validation_failed");
        let id = open_alert(&request, &admin, "203.0.113.40").await;
        let r = request
            .patch(&format!("/api/alerts/{id}/status"))
            .authorization_bearer(&admin)
            .content_type("application/json")
            .bytes(r#"{"status":"ACKNOWLEDGED","note":"n\u0000","pad":1e400}"#.into())
            .await;
        assert_error(&r, 400, "validation_failed");
        let r = request
            .get(&format!("/api/alerts/{id}"))
            .authorization_bearer(&admin)
            .await;
        assert_eq!(r.json::<Value>()["status"], "OPEN", "nothing changed");
    })
    .await;
}

#[tokio::test]
async fn login_fields_are_bounded_before_any_hashing() {
    crate::support::request(|request, _ctx| async move {
        let r = request
            .post("/api/auth/login")
            .json(&json!({"username": "u".repeat(255), "password": "p".repeat(1025)}))
            .await;
        let body = assert_error(&r, 400, "validation_failed");
        assert!(body["fields"]["username"].is_array(), "{body}");
        assert!(body["fields"]["password"].is_array(), "{body}");
        let r = request
            .post("/api/auth/login")
            .json(&json!({"email": format!("{}@example.com", "e".repeat(250)), "password": "x"}))
            .await;
        let body = assert_error(&r, 400, "validation_failed");
        assert!(body["fields"]["email"].is_array(), "{body}");
    })
    .await;
}

#[tokio::test]
async fn an_invalid_webhook_target_network_stops_the_start() {
    let result = crate::support::boot_with(|config| {
        if let Some(settings) = config.settings.as_mut().and_then(|s| s.as_object_mut()) {
            if let Some(hooks) = settings.get_mut("webhooks").and_then(|w| w.as_object_mut()) {
                hooks.insert("allowed_targets".into(), json!(["10.0.0.0/33"]));
            }
        }
    })
    .await;
    let Err(err) = result else {
        panic!("booted with an invalid CIDR")
    };
    assert!(err.to_string().contains("settings"), "{err}");
}

/// A token whose user cannot be read because storage refuses (here a lock
/// held past PostgreSQL's `lock_timeout`) is a 503 to retry, not a 401
/// that would sign the client out. SQLite readers are never blocked by a
/// writer (WAL), so this runs on PostgreSQL.
#[tokio::test]
async fn a_token_checked_while_storage_refuses_is_503_not_401() {
    crate::support::request(|request, ctx| async move {
        if ctx.db.get_database_backend() != sea_orm::DatabaseBackend::Postgres {
            return;
        }
        use sea_orm::{ConnectionTrait, TransactionTrait};
        let admin = token_for(&request, &ctx, "root", Role::Admin).await;
        let ok = request.get("/api/stats").authorization_bearer(&admin).await;
        assert_eq!(ok.status_code(), 200, "{}", ok.text());
        // Past the one-second cache of the user behind a token.
        tokio::time::sleep(std::time::Duration::from_millis(1_200)).await;
        let lock = ctx.db.begin().await.unwrap();
        lock.execute_unprepared("LOCK TABLE users IN ACCESS EXCLUSIVE MODE")
            .await
            .unwrap();
        let r = request.get("/api/stats").authorization_bearer(&admin).await;
        lock.rollback().await.unwrap();
        assert_error(&r, 503, "storage_unavailable");
        let r = request.get("/api/stats").authorization_bearer(&admin).await;
        assert_eq!(r.status_code(), 200, "{}", r.text());
        // A token whose user is gone is still a 401.
        vigil::models::_entities::users::Entity::delete_many()
            .filter(vigil::models::_entities::users::Column::Username.eq("root"))
            .exec(&ctx.db)
            .await
            .unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(1_200)).await;
        let r = request.get("/api/stats").authorization_bearer(&admin).await;
        assert_error(&r, 401, "unauthorized");
    })
    .await;
}

/// Reading one event or one user while storage refuses is a 503, not a 404:
/// only a missing row is "not found".
#[tokio::test]
async fn a_lookup_by_id_while_storage_refuses_is_503_not_404() {
    crate::support::request(|request, ctx| async move {
        if ctx.db.get_database_backend() != sea_orm::DatabaseBackend::Postgres {
            eprintln!("skipped on SQLite: it needs a table lock that blocks reads (PostgreSQL)");
            return;
        }
        use sea_orm::{ConnectionTrait, TransactionTrait};
        let admin = token_for(&request, &ctx, "root", Role::Admin).await;
        let r = request
            .post("/api/events")
            .authorization_bearer(&admin)
            .json(&serde_json::json!({"source": "ids", "event_type": "scan", "severity": "LOW"}))
            .await;
        assert_eq!(r.status_code(), 201, "{}", r.text());
        let event = r.json::<serde_json::Value>()["id"]
            .as_str()
            .unwrap()
            .to_string();
        let me: serde_json::Value = request
            .get("/api/auth/me")
            .authorization_bearer(&admin)
            .await
            .json();
        let user = me["id"].as_str().unwrap().to_string();
        for (table, path) in [
            ("events", format!("/api/events/{event}")),
            ("users", format!("/api/users/{user}")),
        ] {
            assert_eq!(
                request
                    .get(&path)
                    .authorization_bearer(&admin)
                    .await
                    .status_code(),
                200
            );
            let lock = ctx.db.begin().await.unwrap();
            lock.execute_unprepared(&format!("LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE"))
                .await
                .unwrap();
            // The user behind the token is cached; the row itself is read.
            let r = request.get(&path).authorization_bearer(&admin).await;
            lock.rollback().await.unwrap();
            assert_error(&r, 503, "storage_unavailable");
            let missing = path.rsplit_once('/').unwrap().0.to_string() + "/not-a-uuid";
            let r = request.get(&missing).authorization_bearer(&admin).await;
            assert_error(&r, 404, "not_found");
        }
    })
    .await;
}
