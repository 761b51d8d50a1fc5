//! `GET /metrics`: Prometheus text, the optional token, and every metric
//! the shipped alert rules and dashboard name.
use std::collections::BTreeSet;

use serde_json::json;
use vigil::models::users::Role;

use super::prepare_data::{assert_error, token_for};

/// The `vigil_*` metric names in `text`, histogram series folded into
/// their histogram.
fn named(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(at) = text[i..].find("vigil_") {
        let start = i + at;
        let mut end = start;
        while end < bytes.len() && (bytes[end].is_ascii_alphanumeric() || bytes[end] == b'_') {
            end += 1;
        }
        let name = &text[start..end];
        let base = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| name.strip_suffix(s))
            .unwrap_or(name);
        out.insert(base.to_string());
        i = end;
    }
    out
}

#[tokio::test]
async fn metrics_are_prometheus_text_and_name_what_the_deploy_files_use() {
    crate::support::request(|server, ctx| async move {
        let admin = token_for(&server, &ctx, "root", Role::Admin).await;
        let r = server
            .post("/api/events")
            .authorization_bearer(&admin)
            .json(&json!({"source": "ids", "event_type": "x", "severity": "HIGH", "source_ip": "192.0.2.1"}))
            .await;
        assert_eq!(r.status_code(), 201);
        server.get("/api/alerts").authorization_bearer(&admin).await;
        let r = server.get("/metrics").await;
        assert_eq!(r.status_code(), 200, "{}", r.text());
        assert!(r
            .headers()
            .get("content-type")
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4"));
        let text = r.text();
        assert!(text.contains("# TYPE vigil_http_requests_total counter"), "{text}");
        assert!(text.contains("vigil_http_request_duration_seconds_bucket"));
        assert!(
            text.lines().any(|l| l.starts_with("vigil_http_requests_total")
                && l.contains("route=\"/api/events\"")
                && l.contains("status=\"201\"")),
            "requests by route template and status"
        );
        assert!(text
            .lines()
            .any(|l| l.starts_with("vigil_events_ingested_total") && l.contains("path=\"single\"") && l.contains("severity=\"HIGH\"")));
        // Unmatched paths share one label, whatever was asked.
        // (Letters: a sample's value can hold any run of digits.)
        server.get("/no/such/page/qzxwv").await;
        let text = server.get("/metrics").await.text();
        assert!(!text.contains("qzxwv"));
        assert!(text.contains("route=\"unmatched\""));

        let exported = named(&text);
        for file in ["deploy/prometheus/alerts.yml", "deploy/grafana/vigil.json"] {
            let content = std::fs::read_to_string(file).expect(file);
            let wanted = named(&content);
            assert!(wanted.len() >= 5, "{file} names metrics");
            let missing: Vec<_> = wanted.difference(&exported).collect();
            assert!(missing.is_empty(), "{file} names metrics /metrics lacks: {missing:?}");
        }
        for (name, _) in vigil::telemetry::METRICS {
            assert!(exported.contains(*name), "{name} is not exported");
        }
    })
    .await;
}

#[tokio::test]
async fn with_a_token_metrics_demand_it() {
    let app = crate::support::boot_with(|config| {
        let settings = config.settings.as_mut().unwrap().as_object_mut().unwrap();
        settings.insert(
            "operations".into(),
            json!({"metrics_token": "s3cret-metrics-token"}),
        );
    })
    .await
    .unwrap();
    let server = app.server();
    assert_error(&server.get("/metrics").await, 401, "unauthorized");
    let r = server
        .get("/metrics")
        .authorization_bearer("wrong-token-of-same-len")
        .await;
    assert_error(&r, 401, "unauthorized");
    // As long as the token, one character off.
    let r = server
        .get("/metrics")
        .authorization_bearer("s3cret-metrics-tokeN")
        .await;
    assert_error(&r, 401, "unauthorized");
    let r = server
        .get("/metrics")
        .authorization_bearer("s3cret-metrics-token")
        .await;
    assert_eq!(r.status_code(), 200);
    assert!(!r.text().contains("s3cret"));
}
