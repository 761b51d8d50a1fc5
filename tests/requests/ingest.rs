//! `POST /api/ingest/nginx`: access-log uploads become events through the
//! same path as `POST /api/events`.
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};
use serde_json::{json, Value};
use vigil::models::{
    _entities::{alerts, events, outbox_envelopes},
    users::Role,
};

use super::prepare_data::{assert_error, token_for};

const CHROME: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36";

fn line(ip: &str, second: u32, request: &str, status: u16, ua: &str) -> String {
    format!(
        r#"{ip} - - [20/Nov/2026:10:{:02}:{:02} +0000] "{request}" {status} 512 "-" "{ua}""#,
        second / 60,
        second % 60
    )
}

fn upload() -> String {
    [
        line("203.0.113.1", 0, "GET / HTTP/1.1", 200, CHROME),
        line(
            "203.0.113.7",
            1,
            "GET /item?id=1%27%20or%201=1-- HTTP/1.1",
            200,
            "curl/8.5.0",
        ),
        line(
            "203.0.113.7",
            2,
            "GET /item?id=2%27%20or%201=1-- HTTP/1.1",
            200,
            "curl/8.5.0",
        ),
        line(
            "203.0.113.8",
            3,
            "GET /item?id=1%2527%2520or%25201%253D1-- HTTP/1.1",
            500,
            CHROME,
        ),
        line("198.51.100.4", 4, "GET /.env HTTP/1.1", 404, "curl/8.5.0"),
        line("198.51.100.5", 5, "GET / HTTP/1.1", 200, "sqlmap/1.8.11"),
        String::new(),
        "this is not an access log line".to_string(),
    ]
    .join("\n")
}

#[tokio::test]
async fn an_upload_stores_its_detections_as_events_and_alerts() {
    crate::support::request(|request, ctx| async move {
        let token = token_for(&request, &ctx, "alice", Role::Analyst).await;
        let r = request
            .post("/api/ingest/nginx?source=web-01")
            .authorization_bearer(&token)
            .text(upload())
            .await;
        assert_eq!(r.status_code(), 200, "{}", r.text());
        assert_eq!(
            r.json::<Value>(),
            json!({
                "lines": 7, "parsed": 6, "malformed": 1, "events": 4, "alerts": 2, "low": 1,
                "errors": [{"line": 8, "reason": "client is not an IPv4 or IPv6 address"}]
            })
        );

        let stored = events::Entity::find()
            .order_by_asc(events::Column::Id)
            .all(&ctx.db)
            .await
            .unwrap();
        let summary: Vec<(&str, &str, &str, Option<&str>)> = stored
            .iter()
            .map(|e| {
                (
                    e.source.as_str(),
                    e.event_type.as_str(),
                    e.severity.as_str(),
                    e.source_ip.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("web-01", "SQL_INJECTION", "HIGH", Some("203.0.113.7")),
                ("web-01", "SQL_INJECTION", "HIGH", Some("203.0.113.7")),
                ("web-01", "SQL_INJECTION", "CRITICAL", Some("203.0.113.8")),
                ("web-01", "PATH_TRAVERSAL", "MEDIUM", Some("198.51.100.4")),
            ]
        );

        // What a user reads back through the API.
        let r = request
            .get(&format!("/api/events/{}", stored[2].pid))
            .authorization_bearer(&token)
            .await;
        let e: Value = r.json();
        assert_eq!(e["occurred_at"], "2026-11-20T10:00:03Z");
        assert_eq!(e["metadata"]["threat_score"], json!(0.9));
        assert_eq!(
            e["metadata"]["component_scores"],
            json!({"SQL_INJECTION": 0.85, "DOUBLE_ENCODING": 0.4})
        );
        assert_eq!(
            e["metadata"]["request"],
            json!({"method": "GET", "path": "/item?id=1%2527%2520or%25201%253D1--", "status": 500, "user_agent": CHROME})
        );

        // HIGH and CRITICAL opened alerts, by fingerprint (source + rule + address);
        // the MEDIUM one did not.
        let open = alerts::Entity::find()
            .order_by_asc(alerts::Column::SourceIp)
            .all(&ctx.db)
            .await
            .unwrap();
        assert_eq!(open.len(), 2);
        let view: Vec<(Option<&str>, i64, &str, &str)> = open
            .iter()
            .map(|a| (a.source_ip.as_deref(), a.occurrences, a.severity.as_str(), a.event_type.as_str()))
            .collect();
        assert_eq!(
            view,
            [
                (Some("203.0.113.7"), 2, "HIGH", "SQL_INJECTION"),
                (Some("203.0.113.8"), 1, "CRITICAL", "SQL_INJECTION"),
            ]
        );
        assert_eq!(stored[3].alert_id, None);
        let created = outbox_envelopes::Entity::find()
            .filter(outbox_envelopes::Column::EventType.eq("alert.created"))
            .count(&ctx.db)
            .await
            .unwrap();
        assert_eq!(created, 2);

        // The same attack again joins its open alert.
        let r = request
            .post("/api/ingest/nginx/?source=web-01")
            .authorization_bearer(&token)
            .text(line("203.0.113.7", 9, "GET /item?id=3%27%20or%201=1-- HTTP/1.1", 200, "curl/8.5.0"))
            .await;
        assert_eq!(r.json::<Value>()["alerts"], 1);
        let alert = alerts::Entity::find_by_id(open[0].id).one(&ctx.db).await.unwrap().unwrap();
        assert_eq!(alert.occurrences, 3);
        assert_eq!(alerts::Entity::find().count(&ctx.db).await.unwrap(), 2);
    })
    .await;
}

#[tokio::test]
async fn a_refused_login_sequence_in_one_upload_is_brute_force() {
    crate::support::request(|request, ctx| async move {
        let token = token_for(&request, &ctx, "root", Role::Admin).await;
        let body: Vec<String> = (0..12)
            .map(|i| {
                line(
                    "192.0.2.44",
                    i * 3,
                    "POST /wp-login.php HTTP/1.1",
                    403,
                    CHROME,
                )
            })
            .collect();
        let r = request
            .post("/api/ingest/nginx?source=blog")
            .authorization_bearer(&token)
            .text(body.join("\n"))
            .await;
        assert_eq!(r.status_code(), 200, "{}", r.text());
        let counts: Value = r.json();
        // The 11th and 12th refusals within the minute; MEDIUM stays below
        // the alert threshold. The windows also see over half refused
        // (HIGH_ERROR_RATE), which adds 0.05.
        assert_eq!(
            (counts["events"].as_u64(), counts["alerts"].as_u64()),
            (Some(2), Some(0))
        );
        let stored = events::Entity::find().all(&ctx.db).await.unwrap();
        for e in &stored {
            assert_eq!(
                (e.event_type.as_str(), e.severity.as_str()),
                ("BRUTE_FORCE", "MEDIUM")
            );
            assert_eq!(e.metadata.as_ref().unwrap()["threat_score"], json!(0.55));
        }
    })
    .await;
}

#[tokio::test]
async fn an_api_key_uploads_with_events_write_and_not_without_it() {
    crate::support::request(|request, ctx| async move {
        let admin = token_for(&request, &ctx, "root", Role::Admin).await;
        let mut keys = Vec::new();
        for scope in ["events:write", "alerts:read"] {
            let r = request
                .post("/api/api-keys")
                .authorization_bearer(&admin)
                .json(&json!({"name": scope, "scopes": [scope]}))
                .await;
            keys.push(r.json::<Value>()["key"].as_str().unwrap().to_string());
        }
        let r = request
            .post("/api/ingest/nginx?source=edge")
            .add_header("X-API-Key", &keys[0])
            .text(upload())
            .await;
        assert_eq!(r.status_code(), 200, "{}", r.text());
        assert!(r.json::<Value>()["events"].as_u64().unwrap() > 0);
        let stored = events::Entity::find().count(&ctx.db).await.unwrap();
        let r = request
            .post("/api/ingest/nginx?source=edge")
            .add_header("X-API-Key", &keys[1])
            .text(upload())
            .await;
        let body = assert_error(&r, 403, "forbidden");
        assert!(body["message"].as_str().unwrap().contains("events:write"));
        assert_eq!(events::Entity::find().count(&ctx.db).await.unwrap(), stored);
    })
    .await;
}

#[tokio::test]
async fn uploads_are_refused_clearly() {
    crate::support::request(|request, ctx| async move {
        let token = token_for(&request, &ctx, "alice", Role::Analyst).await;
        let one = line("203.0.113.1", 0, "GET / HTTP/1.1", 200, CHROME);

        let r = request
            .post("/api/ingest/nginx?source=web")
            .text(one.clone())
            .await;
        assert_error(&r, 401, "unauthorized");

        let r = request
            .post("/api/ingest/nginx")
            .authorization_bearer(&token)
            .text(one.clone())
            .await;
        let body = assert_error(&r, 400, "validation_failed");
        assert!(body["fields"]["source"].is_array(), "{body}");

        let r = request
            .post("/api/ingest/nginx?source=%20%20")
            .authorization_bearer(&token)
            .text(one.clone())
            .await;
        let body = assert_error(&r, 400, "validation_failed");
        assert!(body["fields"]["source"].is_array(), "{body}");

        let long = "x".repeat(256);
        let r = request
            .post(&format!("/api/ingest/nginx?source={long}"))
            .authorization_bearer(&token)
            .text(one.clone())
            .await;
        assert_error(&r, 400, "validation_failed");

        let r = request
            .post("/api/ingest/nginx?source=web&format=json")
            .authorization_bearer(&token)
            .text(one.clone())
            .await;
        let body = assert_error(&r, 400, "validation_failed");
        assert!(body["fields"]["format"].is_array(), "{body}");

        let r = request
            .post("/api/ingest/nginx?source=web")
            .authorization_bearer(&token)
            .json(&json!({"lines": [one]}))
            .await;
        assert_error(&r, 415, "unsupported_media_type");

        let big = format!("{one}\n").repeat(1024 * 1024 / one.len() + 10);
        let r = request
            .post("/api/ingest/nginx?source=web")
            .authorization_bearer(&token)
            .text(big)
            .await;
        assert_error(&r, 413, "payload_too_large");

        let r = request
            .get("/api/ingest/nginx?source=web")
            .authorization_bearer(&token)
            .await;
        assert_error(&r, 405, "method_not_allowed");

        assert_eq!(events::Entity::find().count(&ctx.db).await.unwrap(), 0);

        // Charset parameters are fine; so is a body that is not UTF-8.
        let mut bytes = one.into_bytes();
        bytes.extend_from_slice(b"\n\xff\xfe junk\n");
        let r = request
            .post("/api/ingest/nginx?source=web")
            .authorization_bearer(&token)
            .bytes(bytes.into())
            .content_type("text/plain; charset=utf-8")
            .await;
        assert_eq!(r.status_code(), 200, "{}", r.text());
        let counts: Value = r.json();
        assert_eq!(
            (counts["parsed"].as_u64(), counts["malformed"].as_u64()),
            (Some(1), Some(1))
        );
    })
    .await;
}

/// Boots with `settings.detection.rules_file` pointing at `rules`.
async fn boot_with_rules(
    rules: &str,
) -> (loco_rs::Result<crate::support::TestApp>, std::path::PathBuf) {
    let path = std::env::temp_dir().join(format!(
        "vigil-rules-{}.yaml",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::write(&path, rules).unwrap();
    let file = path.display().to_string();
    let app = crate::support::boot_with(|config| {
        let settings = config.settings.get_or_insert_with(|| json!({}));
        settings["detection"]["rules_file"] = json!(file);
    })
    .await;
    (app, path)
}

#[tokio::test]
async fn the_operator_rules_file_adds_overrides_and_disables_rules() {
    let (app, path) = boot_with_rules(
        r"
rules:
  - name: WP_PROBE
    score: 0.75
    patterns: ['^/wp-(?:admin|login\.php)']
  - name: SQL_INJECTION
    score: 0.95
    patterns: ['\bor\s+1=1\b']
disable: [PATH_TRAVERSAL]
",
    )
    .await;
    let app = app.expect("boots with a valid operator file");
    let (request, ctx) = (app.server(), app.ctx());
    let token = token_for(&request, &ctx, "alice", Role::Analyst).await;
    let body = [
        line(
            "192.0.2.1",
            0,
            "GET /wp-admin/setup-config.php HTTP/1.1",
            404,
            CHROME,
        ),
        line(
            "192.0.2.2",
            1,
            "GET /item?id=1%20or%201=1 HTTP/1.1",
            200,
            CHROME,
        ),
        line("192.0.2.3", 2, "GET /.env HTTP/1.1", 404, CHROME),
    ]
    .join("\n");
    let r = request
        .post("/api/ingest/nginx?source=web")
        .authorization_bearer(&token)
        .text(body)
        .await;
    assert_eq!(r.json::<Value>()["events"], 2, "{}", r.text());
    let stored: Vec<(String, String)> = events::Entity::find()
        .order_by_asc(events::Column::Id)
        .all(&ctx.db)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.event_type, e.severity))
        .collect();
    assert_eq!(
        stored,
        [
            ("WP_PROBE".to_string(), "HIGH".to_string()),
            ("SQL_INJECTION".to_string(), "CRITICAL".to_string()),
        ]
    );
    let _ = std::fs::remove_file(path);
}

#[tokio::test]
async fn a_bad_operator_rules_file_stops_the_start_naming_the_rule() {
    let (app, path) = boot_with_rules("rules: [{name: BROKEN, score: 0.5, patterns: ['(']}]").await;
    let err = app.err().expect("refused").to_string();
    assert!(
        err.contains("rules_file") && err.contains("BROKEN"),
        "{err}"
    );
    let _ = std::fs::remove_file(path);
}

#[tokio::test]
async fn a_large_upload_is_stored_in_batches_of_a_thousand() {
    crate::support::request(|request, ctx| async move {
        let token = token_for(&request, &ctx, "alice", Role::Analyst).await;
        let body: Vec<String> = (0..2_500)
            .map(|i| {
                line(
                    "198.51.100.9",
                    i / 60,
                    &format!("GET /x?n={i}&f=../../etc/passwd HTTP/1.1"),
                    404,
                    "curl/8.5.0",
                )
            })
            .collect();
        let r = request
            .post("/api/ingest/nginx?source=web")
            .authorization_bearer(&token)
            .text(body.join("\n"))
            .await;
        let counts: Value = r.json();
        assert_eq!(
            (counts["lines"].as_u64(), counts["events"].as_u64()),
            (Some(2_500), Some(2_500)),
            "{counts}"
        );
        assert_eq!(events::Entity::find().count(&ctx.db).await.unwrap(), 2_500);
        // PATH_TRAVERSAL 0.60 is MEDIUM; from the 10th request over half are
        // 404s (HIGH_ERROR_RATE, 0.65), and past 100 in the minute
        // RATE_ANOMALY makes it 0.70, HIGH: those 2,400 open one alert.
        assert_eq!(counts["alerts"], 1);
        let alert = alerts::Entity::find().one(&ctx.db).await.unwrap().unwrap();
        assert_eq!(
            (alert.occurrences, alert.severity.as_str()),
            (2_400, "HIGH")
        );
    })
    .await;
}
