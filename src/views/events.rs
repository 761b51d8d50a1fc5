use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

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
            created_at: e.created_at.with_timezone(&Utc),
        }
    }
}

/// `POST /api/events`: the stored event and the alert it created or joined.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct IngestResponse {
    #[serde(flatten)]
    pub event: EventResponse,
    /// The alert this event created or joined; null below the threshold.
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

/// The body of `POST /api/events` (documentation of the accepted shape;
/// unknown fields are refused).
#[allow(dead_code)]
#[derive(Debug, ToSchema)]
pub struct EventInput {
    /// 1–255 characters.
    #[schema(example = "fw-edge-01", min_length = 1, max_length = 255)]
    pub source: String,
    /// 1–100 characters.
    #[schema(example = "port_scan", min_length = 1, max_length = 100)]
    pub event_type: String,
    /// LOW, MEDIUM, HIGH or CRITICAL (any case).
    #[schema(example = "HIGH", max_length = 32)]
    pub severity: String,
    /// At most 10,000 characters; stored and returned exactly as sent.
    #[schema(max_length = 10000)]
    pub description: Option<String>,
    /// IPv4 or IPv6.
    #[schema(example = "203.0.113.7", max_length = 45)]
    pub source_ip: Option<String>,
    #[schema(example = "10.0.0.5", max_length = 45)]
    pub destination_ip: Option<String>,
    /// RFC 3339; default now; at most 5 minutes in the future.
    pub occurred_at: Option<DateTime<Utc>>,
    /// A JSON object of at most 64 KiB.
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
    /// Client fingerprint (≤ 255): events with the same key join one alert.
    #[schema(max_length = 255)]
    pub dedup_key: Option<String>,
}

/// The body of `POST /api/events/batch`.
#[allow(dead_code)]
#[derive(Debug, ToSchema)]
pub struct BatchInput {
    /// At most 1,000 events.
    pub events: Vec<EventInput>,
}

/// Query parameters of `GET /api/events` (repeated or comma-separated values mean OR).
#[allow(dead_code)]
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventFilters {
    /// LOW, MEDIUM, HIGH, CRITICAL.
    pub severity: Option<String>,
    pub source: Option<String>,
    pub event_type: Option<String>,
    pub source_ip: Option<String>,
    /// `occurred_at` at or after (RFC 3339).
    pub since: Option<String>,
    /// `occurred_at` at or before (RFC 3339).
    pub until: Option<String>,
    /// Case-insensitive match over source, event type and description.
    pub search: Option<String>,
    /// `created_at`, `-created_at` (default), `severity`, `-severity` (by rank), `occurred_at`, `-occurred_at`.
    pub ordering: Option<String>,
    /// Page number, from 1.
    pub page: Option<u64>,
    /// Items per page (default 10, max 500).
    pub page_size: Option<u64>,
    /// Keyset pagination: empty for the first page, then the token from `next`.
    /// Deep pages cost what the first costs; `count` is null in this mode.
    pub cursor: Option<String>,
}

#[cfg(test)]
mod tests {
    use utoipa::{
        openapi::{RefOr, Schema},
        PartialSchema,
    };

    /// `/swagger`'s event body lists exactly the fields an event accepts.
    #[test]
    fn the_documented_event_fields_are_the_accepted_ones() {
        let RefOr::T(Schema::Object(schema)) = super::EventInput::schema() else {
            panic!("EventInput is not an object schema");
        };
        let mut documented: Vec<&str> = schema.properties.keys().map(String::as_str).collect();
        documented.sort_unstable();
        let mut accepted = crate::models::events::FIELDS.to_vec();
        accepted.sort_unstable();
        assert_eq!(documented, accepted);
    }
}
