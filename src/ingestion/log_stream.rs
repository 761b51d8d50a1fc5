//! Access-log lines in, events out (SPEC §7). A [`LogIngest`] scores the
//! lines of one log stream (an upload, or a file `ingest_log` reads) and
//! turns detections of MEDIUM and above into ordinary events, stored in
//! batches through the ingestion writer: the path `POST /api/events` takes,
//! so dedup, alerts, history and the outbox behave the same. LOW
//! detections are counted, not stored; malformed lines are counted and
//! reported, never fatal.
use std::{collections::HashSet, sync::Arc};

use chrono::{DateTime, SecondsFormat, Utc};
use loco_rs::prelude::*;
use serde_json::{json, Map};

use super::writer::IngestWriter;
use crate::models::{
    log_cursors::Position,
    new_event::{clamp_future, NewEvent},
    severity::Severity,
};
use crate::{
    detection::{
        parse::{parse_with, LogLine, TimeCache},
        rules::Rules,
        Detector, Verdict,
    },
    settings::Detection,
};

/// Malformed lines reported by number and reason, at most.
pub const REPORTED_ERRORS: usize = 10;
/// Request path and user agent kept in an event's metadata, characters.
const KEPT_TEXT: usize = 2_048;
/// The writer takes at most this many events per transaction.
const MAX_BATCH: usize = 4_000;

/// What a stream of lines came to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Non-blank lines read.
    pub lines: u64,
    pub parsed: u64,
    pub malformed: u64,
    /// Detections stored as events (MEDIUM and above).
    pub events: u64,
    /// Distinct alerts those events created or joined.
    pub alerts: u64,
    /// Detections below MEDIUM: counted, not stored.
    pub low: u64,
}

/// One malformed line: its number in the stream (blank lines included,
/// from 1) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    pub line: u64,
    pub reason: String,
}

/// Checks a log's `source` name as events need it (1 to 255 characters).
///
/// # Errors
/// The message to show for the `source` field.
pub fn check_source(name: &str) -> std::result::Result<String, String> {
    let len = name.chars().count();
    if name.trim().is_empty() {
        Err("Name the log: source=NAME (1 to 255 characters).".to_string())
    } else if len > 255 {
        Err(format!("Must be at most 255 characters (got {len})."))
    } else {
        Ok(name.to_string())
    }
}

/// The compiled rules of this process (built in `App::after_context`).
///
/// # Errors
/// When the app was built without them.
pub fn rules(ctx: &AppContext) -> Result<Arc<Rules>> {
    ctx.shared_store
        .get::<Arc<Rules>>()
        .ok_or_else(|| Error::string("detection rules not loaded"))
}

/// The scoring and storing of one log stream.
pub struct LogIngest {
    source: String,
    detector: Detector,
    times: TimeCache,
    batch: usize,
    pending: Vec<NewEvent>,
    alerts: HashSet<i64>,
    counts: Counts,
    errors: Vec<LineError>,
    /// Lines seen, blank ones included: the number a reader finds it at.
    line_no: u64,
}

impl LogIngest {
    /// A stream named `source` (already checked), scored by `rules`.
    #[must_use]
    pub fn new(rules: Arc<Rules>, settings: &Detection, source: String) -> Self {
        Self {
            source,
            detector: Detector::new(rules, settings.max_tracked_clients),
            times: TimeCache::default(),
            batch: settings.event_batch.clamp(1, MAX_BATCH),
            pending: Vec::new(),
            alerts: HashSet::new(),
            counts: Counts::default(),
            errors: Vec::new(),
            line_no: 0,
        }
    }

    /// Scores and stores a whole text (an upload) through `writer`: one
    /// line per request.
    ///
    /// # Errors
    /// Database errors.
    pub async fn ingest_text(
        mut self,
        writer: &IngestWriter,
        text: &str,
        correlation_id: &str,
    ) -> Result<(Counts, Vec<LineError>)> {
        let now = Utc::now();
        for line in text.lines() {
            if self.push_line(line, now) {
                self.flush(writer, correlation_id, None).await?;
            }
        }
        self.flush(writer, correlation_id, None).await?;
        Ok((self.counts, self.errors))
    }

    #[must_use]
    pub const fn counts(&self) -> Counts {
        self.counts
    }

    /// The first malformed lines (up to [`REPORTED_ERRORS`]).
    #[must_use]
    pub fn errors(&self) -> &[LineError] {
        &self.errors
    }

    /// Scores one line (blank lines are skipped and not counted). Returns
    /// whether a batch of events is ready to [`Self::flush`].
    pub fn push_line(&mut self, text: &str, now: DateTime<Utc>) -> bool {
        self.line_no += 1;
        if text.trim().is_empty() {
            return false;
        }
        self.counts.lines += 1;
        match parse_with(text, &mut self.times) {
            Ok(line) => {
                self.counts.parsed += 1;
                metrics::counter!("vigil_detection_lines_total", "result" => "parsed").increment(1);
                let verdict = self.detector.inspect(&line);
                if verdict.severity() >= Severity::Medium {
                    match self.event_for(&line, &verdict, now) {
                        Ok(event) => self.pending.push(event),
                        Err(fields) => {
                            // Cannot happen with the limits above; never fatal.
                            tracing::warn!(?fields, "a detection did not make a valid event");
                        }
                    }
                } else if verdict.is_match() {
                    self.counts.low += 1;
                }
            }
            Err(e) => {
                self.counts.malformed += 1;
                metrics::counter!("vigil_detection_lines_total", "result" => "malformed")
                    .increment(1);
                if self.errors.len() < REPORTED_ERRORS {
                    self.errors.push(LineError {
                        line: self.line_no,
                        reason: e.to_string(),
                    });
                }
            }
        }
        self.pending.len() >= self.batch
    }

    /// Counts a line too long to keep (the file reader drops it).
    pub fn push_oversized(&mut self) {
        self.line_no += 1;
        self.counts.lines += 1;
        self.counts.malformed += 1;
        metrics::counter!("vigil_detection_lines_total", "result" => "malformed").increment(1);
        if self.errors.len() < REPORTED_ERRORS {
            self.errors.push(LineError {
                line: self.line_no,
                reason: crate::detection::parse::ParseError::TooLong.to_string(),
            });
        }
    }

    /// Whether detections are waiting to be stored.
    #[must_use]
    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Stores the waiting detections (and `position`, in the same
    /// transaction) through the ingestion writer.
    ///
    /// # Errors
    /// Database errors.
    pub async fn flush(
        &mut self,
        writer: &IngestWriter,
        correlation_id: &str,
        position: Option<Position>,
    ) -> Result<()> {
        if self.pending.is_empty() && position.is_none() {
            return Ok(());
        }
        // On an error the stream stops; a followed file resumes from the
        // position saved with the last stored batch, so nothing is lost.
        let items = std::mem::take(&mut self.pending);
        let stored = writer
            .submit_log_batch(items, correlation_id, position)
            .await?;
        self.counts.events += stored.len() as u64;

        for item in &stored {
            if let Some(alert) = &item.alert {
                self.alerts.insert(alert.id);
            }
        }
        self.counts.alerts = self.alerts.len() as u64;
        Ok(())
    }

    fn event_for(
        &self,
        line: &LogLine<'_>,
        verdict: &Verdict,
        now: DateTime<Utc>,
    ) -> std::result::Result<NewEvent, crate::models::FieldErrors> {
        let top = verdict.top_rule().unwrap_or("DETECTION");
        let score = f64::from(verdict.threat_score()) / 1000.0;
        let mut components = Map::new();
        let mut evidence = Map::new();
        for c in &verdict.components {
            components.insert(c.rule.clone(), json!(f64::from(c.score) / 1000.0));
            if let Some(text) = &c.evidence {
                evidence.insert(c.rule.clone(), json!(text));
            }
        }
        let path: String = line.request.target().chars().take(KEPT_TEXT).collect();
        let method = line.request.method();
        // A log from a server whose clock runs ahead keeps its own time
        // in `logged_at`.
        let occurred_at = clamp_future(line.time, now);
        let description: String = format!(
            "{top} (threat score {score}) from {}: {} {path} -> {}",
            line.client,
            method.unwrap_or("(not HTTP)"),
            line.status
        )
        .chars()
        .take(1_000)
        .collect();
        let user_agent = line
            .user_agent
            .as_deref()
            .map(|ua| ua.chars().take(KEPT_TEXT).collect::<String>());
        let mut metadata = Map::new();
        metadata.insert("threat_score".into(), json!(score));
        metadata.insert("component_scores".into(), components.into());
        metadata.insert("evidence".into(), evidence.into());
        metadata.insert(
            "request".into(),
            json!({"method": method, "path": path, "status": line.status, "user_agent": user_agent}),
        );
        metadata.insert(
            "logged_at".into(),
            json!(line.time.to_rfc3339_opts(SecondsFormat::Secs, true)),
        );
        NewEvent::new(&*self.source, top, verdict.severity(), occurred_at)
            .with_description(description)
            .with_source_ip(line.client)
            .with_metadata(metadata)
            .checked()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn ingest() -> LogIngest {
        LogIngest::new(
            Arc::new(Rules::builtin().unwrap()),
            &Detection::default(),
            "web-01".to_string(),
        )
    }

    #[test]
    fn a_detection_becomes_an_event_shaped_like_a_posted_one() {
        let mut i = ingest();
        let now = "2026-11-20T12:00:00Z".parse().unwrap();
        i.push_line(r#"203.0.113.7 - - [20/Nov/2026:10:00:00 +0000] "GET /item?id=1%2527%2520or%25201%253D1-- HTTP/1.1" 200 12 "-" "curl/8.4.0""#, now);
        assert_eq!(i.pending.len(), 1);
        let e = &i.pending[0];
        assert_eq!(e.source, "web-01");
        assert_eq!(e.event_type, "SQL_INJECTION");
        assert_eq!(e.severity, Severity::Critical);
        assert_eq!(e.source_ip.unwrap().to_string(), "203.0.113.7");
        assert_eq!(e.occurred_at.to_rfc3339(), "2026-11-20T10:00:00+00:00");
        let m = Value::Object(e.metadata.clone().unwrap());
        assert_eq!(m["threat_score"], json!(0.9));
        assert_eq!(
            m["component_scores"],
            json!({"SQL_INJECTION": 0.85, "DOUBLE_ENCODING": 0.4})
        );
        assert_eq!(
            m["request"],
            json!({"method": "GET", "path": "/item?id=1%2527%2520or%25201%253D1--", "status": 200, "user_agent": "curl/8.4.0"})
        );
        assert_eq!(m["logged_at"], "2026-11-20T10:00:00Z");
    }

    #[test]
    fn low_is_counted_malformed_is_reported_and_the_future_is_clamped() {
        let mut i = ingest();
        let now: DateTime<Utc> = "2026-11-20T09:00:00Z".parse().unwrap();
        i.push_line(r#"203.0.113.7 - - [20/Nov/2026:08:00:00 +0000] "GET / HTTP/1.1" 200 12 "-" "sqlmap/1.7""#, now);
        i.push_line("", now);
        i.push_line("not a log line", now);
        i.push_line(
            r#"203.0.113.7 - - [20/Nov/2026:10:00:00 +0000] "GET /.env HTTP/1.1" 404 12 "-" "-""#,
            now,
        );
        let c = i.counts();
        assert_eq!((c.lines, c.parsed, c.malformed, c.low), (3, 2, 1, 1));
        assert_eq!(
            i.errors(),
            [LineError {
                line: 3,
                reason: "client is not an IPv4 or IPv6 address".to_string()
            }]
        );
        let e = &i.pending[0];
        assert_eq!(e.occurred_at, now, "an hour ahead of now: stored at now");
        assert_eq!(
            e.metadata.as_ref().unwrap()["logged_at"],
            json!("2026-11-20T10:00:00Z")
        );
    }

    #[test]
    fn sources_are_checked() {
        assert!(check_source("").is_err());
        assert!(check_source("  ").is_err());
        assert!(check_source(&"x".repeat(256)).is_err());
        assert_eq!(check_source("nginx-edge").unwrap(), "nginx-edge");
    }
}
