//! The process's metrics: the Prometheus recorder every module counts
//! into with the `metrics` macros (installed once), the list of what Vigil
//! exports, and counting helpers shared by several layers. The endpoint
//! that renders them is `controllers::metrics`.
use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Every metric Vigil exports, with its help text: the dashboard and alert
/// rules in `deploy/` name only these (a test checks each one appears).
pub const METRICS: &[(&str, &str)] = &[
    (
        "vigil_http_requests_total",
        "HTTP requests by route template, method and status",
    ),
    (
        "vigil_http_request_duration_seconds",
        "HTTP request latency by route template and method",
    ),
    (
        "vigil_events_ingested_total",
        "Events stored, by path (single, batch, log) and severity",
    ),
    (
        "vigil_events_allowlisted_total",
        "Events stored from allowlisted sources (no alert)",
    ),
    (
        "vigil_events_suppressed_total",
        "Events that joined or opened an alert a silence quiets",
    ),
    ("vigil_alerts_opened_total", "Alerts opened"),
    (
        "vigil_alerts_joined_total",
        "Events groups that joined an open alert",
    ),
    ("vigil_outbox_backlog", "Envelopes not yet delivered"),
    (
        "vigil_outbox_oldest_age_seconds",
        "Age of the oldest undelivered envelope",
    ),
    (
        "vigil_feed_clients",
        "Live-feed (WebSocket) clients connected to this instance",
    ),
    (
        "vigil_webhook_deliveries_total",
        "Webhook delivery attempts by outcome",
    ),
    (
        "vigil_writer_round_events",
        "Events per ingestion-writer round",
    ),
    (
        "vigil_writer_commit_seconds",
        "Ingestion-writer round commit latency",
    ),
    (
        "vigil_db_pool_connections",
        "Database pool connections by state (in_use, idle)",
    ),
    (
        "vigil_detection_lines_total",
        "Access-log lines read by the detector, by result (parsed, malformed)",
    ),
    ("vigil_escalations_total", "Alerts escalated by a policy"),
    (
        "vigil_escalation_renotifications_total",
        "Escalated alerts notified again",
    ),
];

/// How often histogram samples are folded into their buckets.
const UPKEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

const LATENCY_BUCKETS: &[f64] = &[
    0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
const ROUND_BUCKETS: &[f64] = &[1.0, 2.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0];

/// The process's recorder, installed once (every app a test process boots
/// shares it, as they share the process).
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets(LATENCY_BUCKETS)
            .and_then(|b| {
                b.set_buckets_for_metric(
                    Matcher::Full("vigil_writer_round_events".into()),
                    ROUND_BUCKETS,
                )
            })
            .expect("metric buckets are not empty");
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("a metrics recorder was already installed; /metrics shows only its own");
        }
        // Histogram samples wait in lock-free blocks until upkeep folds
        // them into their buckets: without it, between scrapes (or with no
        // Prometheus at all) every request's sample would stay in memory.
        // The exporter's own HTTP listener runs this; we render ourselves.
        let upkeep = handle.clone();
        let started = std::thread::Builder::new()
            .name("metrics-upkeep".into())
            .spawn(move || loop {
                std::thread::sleep(UPKEEP_EVERY);
                upkeep.run_upkeep();
            });
        if let Err(err) = started {
            tracing::warn!(error = %err, "metrics upkeep thread not started");
        }
        for (name, help) in METRICS {
            metrics::describe_counter!(*name, *help);
        }
        // Present from the first scrape, not only once something happened.
        for name in [
            "vigil_feed_clients",
            "vigil_outbox_backlog",
            "vigil_outbox_oldest_age_seconds",
        ] {
            metrics::gauge!(name).increment(0.0);
        }
        for name in [
            "vigil_events_allowlisted_total",
            "vigil_events_suppressed_total",
            "vigil_alerts_opened_total",
            "vigil_alerts_joined_total",
            "vigil_escalations_total",
            "vigil_escalation_renotifications_total",
        ] {
            metrics::counter!(name).increment(0);
        }
        for outcome in ["succeeded", "failed", "gave_up"] {
            metrics::counter!("vigil_webhook_deliveries_total", "outcome" => outcome).increment(0);
        }
        for result in ["parsed", "malformed"] {
            metrics::counter!("vigil_detection_lines_total", "result" => result).increment(0);
        }
        let _ = metrics::histogram!("vigil_writer_round_events");
        let _ = metrics::histogram!("vigil_writer_commit_seconds");
        handle
    })
}

/// Counts stored events by path and severity.
pub fn ingested<'a>(path: &'static str, severities: impl Iterator<Item = &'a str>) {
    let mut counts: Vec<(&str, u64)> = Vec::new();
    for s in severities {
        match counts.iter_mut().find(|(name, _)| *name == s) {
            Some((_, n)) => *n += 1,
            None => counts.push((s, 1)),
        }
    }
    for (severity, n) in counts {
        metrics::counter!("vigil_events_ingested_total", "path" => path, "severity" => severity.to_string())
            .increment(n);
    }
}
