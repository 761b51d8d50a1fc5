use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::filters::{ListFilters, Paging};
use crate::models::listing::{parse_all, search, time, values, Filters, ListQuery, Resource};

use super::alerts::AlertResponse;
use crate::{
    errors::FieldErrors,
    ingestion::writer::AnswerShape,
    models::{
        events::{self, Ingested},
        idempotency_keys::StoredAnswer,
        severity::Severity,
    },
};

/// A stored event. Text is returned exactly as it was sent.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EventResponse {
    pub id: String,
    pub source: String,
    pub event_type: String,
    pub severity: Severity,
    pub description: Option<String>,
    pub source_ip: Option<String>,
    pub destination_ip: Option<String>,
    pub occurred_at: DateTime<Utc>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
    pub dedup_key: Option<String>,
    pub fingerprint: String,
    /// Its source is on the allowlist: stored, but it opens and joins no alert.
    pub allowlisted: bool,
    pub created_at: DateTime<Utc>,
}

impl From<&events::Model> for EventResponse {
    fn from(e: &events::Model) -> Self {
        Self {
            id: e.pid.to_string(),
            source: e.source.clone(),
            event_type: e.event_type.clone(),
            severity: Severity::from_rank(e.severity_rank),
            description: e.description.clone(),
            source_ip: e.source_ip.clone(),
            destination_ip: e.destination_ip.clone(),
            occurred_at: e.occurred_at.with_timezone(&Utc),
            metadata: e.metadata.clone(),
            dedup_key: e.dedup_key.clone(),
            fingerprint: e.fingerprint.clone(),
            allowlisted: e.allowlisted,
            created_at: e.created_at.with_timezone(&Utc),
        }
    }
}

/// `POST /api/events`: the stored event and the alert it created or joined.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct IngestResponse {
    #[serde(flatten)]
    pub event: EventResponse,
    /// The alert this event created or joined; null below the threshold,
    /// and for an allowlisted source.
    pub alert: Option<AlertResponse>,
}

impl From<&Ingested> for IngestResponse {
    fn from(item: &Ingested) -> Self {
        Self {
            event: EventResponse::from(&item.event),
            alert: item.alert.as_ref().map(AlertResponse::from),
        }
    }
}

/// A batch item refused before storage: its index and field errors.
#[derive(Debug, Clone)]
pub struct RefusedItem {
    pub index: usize,
    pub errors: FieldErrors,
}

fn json(status: u16, body: &impl Serialize) -> StoredAnswer {
    StoredAnswer {
        status,
        body: serde_json::to_string(body).unwrap_or_default(),
    }
}

/// How an ingestion request's answer is made from its stored events: data
/// the ingestion writer carries, so an idempotent request's answer is made
/// and stored in the transaction that stores its events.
#[derive(Debug, Clone)]
pub enum IngestAnswer {
    /// `POST /api/events`: 201 with the event and its alert.
    Event,
    /// `POST /api/events/batch`: each stored event at its index in the
    /// request, beside the refused ones; 201, or 207 when any was refused.
    Batch {
        stored_at: Vec<usize>,
        refused: Vec<RefusedItem>,
    },
}

impl AnswerShape for IngestAnswer {
    fn path(&self) -> &'static str {
        match self {
            Self::Event => "single",
            Self::Batch { .. } => "batch",
        }
    }

    fn render(&self, done: &[Ingested]) -> StoredAnswer {
        match self {
            Self::Event => match done.first() {
                Some(item) => json(201, &IngestResponse::from(item)),
                None => json(500, &Value::Null),
            },
            Self::Batch { stored_at, refused } => {
                let mut results: Vec<BatchItem> = done
                    .iter()
                    .zip(stored_at)
                    .map(|(item, &index)| BatchItem {
                        index,
                        status: 201,
                        event: Some(IngestResponse::from(item)),
                        errors: None,
                    })
                    .chain(refused.iter().map(|r| BatchItem {
                        index: r.index,
                        status: 400,
                        event: None,
                        errors: Some(r.errors.clone()),
                    }))
                    .collect();
                results.sort_by_key(|r| r.index);
                let status = if refused.is_empty() { 201 } else { 207 };
                json(
                    status,
                    &BatchResponse {
                        stored: done.len(),
                        failed: refused.len(),
                        results,
                    },
                )
            }
        }
    }
}

/// One item of a batch: stored (201) or refused (400) with its field errors.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchItem {
    pub index: usize,
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event: Option<IngestResponse>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub errors: Option<crate::errors::FieldErrors>,
}

/// `POST /api/events/batch`.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchResponse {
    pub stored: usize,
    pub failed: usize,
    pub results: Vec<BatchItem>,
}

/// Query parameters of `GET /api/events` (repeated or comma-separated values mean OR).
// Declared once, as `AlertFilters` is.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(default)]
pub struct EventFilters {
    /// LOW, MEDIUM, HIGH, CRITICAL.
    #[param(value_type = Option<String>)]
    pub severity: Vec<String>,
    #[param(value_type = Option<String>)]
    pub source: Vec<String>,
    #[param(value_type = Option<String>)]
    pub event_type: Vec<String>,
    #[param(value_type = Option<String>)]
    pub source_ip: Vec<String>,
    /// `occurred_at` at or after (RFC 3339).
    #[param(value_type = Option<String>)]
    pub since: Vec<String>,
    /// `occurred_at` at or before (RFC 3339).
    #[param(value_type = Option<String>)]
    pub until: Vec<String>,
    /// Case-insensitive match over source, event type and description.
    #[param(value_type = Option<String>)]
    pub search: Vec<String>,
    /// `created_at`, `-created_at` (default), `severity`, `-severity` (by rank), `occurred_at`, `-occurred_at`.
    #[param(value_type = Option<String>)]
    pub ordering: Vec<String>,
    // Before `unknown`: a flattened struct takes its names first.
    #[serde(flatten)]
    #[param(ignore)]
    pub paging: Paging,
    #[serde(flatten)]
    #[param(ignore)]
    pub unknown: BTreeMap<String, Vec<String>>,
}

impl ListFilters for EventFilters {
    fn unknown(&self) -> &BTreeMap<String, Vec<String>> {
        &self.unknown
    }

    fn read(&self, errors: &mut FieldErrors) -> ListQuery {
        ListQuery {
            status: Vec::new(),
            filters: Filters {
                severity: parse_all("severity", &self.severity, str::parse, errors),
                source: values(&self.source),
                event_type: values(&self.event_type),
                source_ip: values(&self.source_ip),
                since: time("since", &self.since, errors),
                until: time("until", &self.until, errors),
                search: search(&self.search),
                ..Filters::default()
            },
            ordering: Resource::Events.ordering(&self.ordering, errors),
        }
    }
}
