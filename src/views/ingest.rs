use serde::Serialize;
use utoipa::ToSchema;

use crate::ingestion::log_stream::{Counts, LineError};

/// One malformed line of an upload.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MalformedLine {
    /// Line number in the upload (blank lines included), from 1.
    pub line: u64,
    pub reason: String,
}

/// What an access-log upload came to.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LogIngestResponse {
    /// Non-blank lines received.
    pub lines: u64,
    /// Lines in `combined` format.
    pub parsed: u64,
    /// Lines that are not (`lines = parsed + malformed`).
    pub malformed: u64,
    /// Detections of MEDIUM and above, stored as events.
    pub events: u64,
    /// Distinct alerts those events created or joined.
    pub alerts: u64,
    /// Detections below MEDIUM: counted, not stored.
    pub low: u64,
    /// The first malformed lines (at most 10), with the reason.
    pub errors: Vec<MalformedLine>,
}

impl LogIngestResponse {
    #[must_use]
    pub fn new(counts: Counts, errors: &[LineError]) -> Self {
        Self {
            lines: counts.lines,
            parsed: counts.parsed,
            malformed: counts.malformed,
            events: counts.events,
            alerts: counts.alerts,
            low: counts.low,
            errors: errors
                .iter()
                .map(|e| MalformedLine {
                    line: e.line,
                    reason: e.reason.clone(),
                })
                .collect(),
        }
    }
}
