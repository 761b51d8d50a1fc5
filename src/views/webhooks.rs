use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::models::{severity::Severity, webhook_deliveries, webhooks};

fn utc(t: &sea_orm::prelude::DateTimeWithTimeZone) -> DateTime<Utc> {
    t.with_timezone(&Utc)
}

/// A webhook as the API shows it: never its secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookResponse {
    pub id: String,
    #[schema(example = "https://hooks.example.com/vigil")]
    pub url: String,
    #[schema(example = json!(["alert.created", "alert.resolved"]))]
    pub event_types: Vec<String>,
    pub min_severity: Severity,
    /// False once disabled, by an admin or after too many failures in a row.
    pub enabled: bool,
    /// Why it is disabled.
    pub disabled_reason: Option<String>,
    pub disabled_at: Option<DateTime<Utc>>,
    /// Failed attempts since the last success.
    pub consecutive_failures: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<&webhooks::Model> for WebhookResponse {
    fn from(w: &webhooks::Model) -> Self {
        Self {
            id: w.pid.to_string(),
            url: w.url.clone(),
            event_types: w.types(),
            min_severity: Severity::from_rank(w.min_severity_rank),
            enabled: w.enabled,
            disabled_reason: w.disabled_reason.clone(),
            disabled_at: w.disabled_at.as_ref().map(utc),
            consecutive_failures: w.consecutive_failures,
            created_at: utc(&w.created_at),
            updated_at: utc(&w.updated_at),
        }
    }
}

/// The answer to creating a webhook: the only time `secret` is shown.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedWebhook {
    #[serde(flatten)]
    pub webhook: WebhookResponse,
    /// Verify `X-Vigil-Signature: sha256=<hex HMAC-SHA256(secret,
    /// X-Vigil-Timestamp + "." + body)>` with it. Shown once.
    #[schema(example = "whsec_3kq9T2LmB7vYc5nR1sWd8eFgJ4uPa6oZx81Qp0aH")]
    pub secret: String,
}

/// One delivery: an envelope to a webhook, with its attempts.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryResponse {
    /// Also sent as `X-Vigil-Delivery`.
    pub id: String,
    #[schema(example = "alert.created")]
    pub event_type: String,
    /// `PENDING` (waiting or retrying), `SUCCEEDED`, or `FAILED` (attempts
    /// exhausted).
    #[schema(example = "SUCCEEDED")]
    pub status: String,
    pub attempts: i32,
    /// HTTP status of the last answer, if there was one.
    pub last_status_code: Option<i32>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// When a pending delivery is tried next.
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl From<&webhook_deliveries::Model> for DeliveryResponse {
    fn from(d: &webhook_deliveries::Model) -> Self {
        Self {
            id: d.pid.to_string(),
            event_type: d.event_type.clone(),
            status: d.status.clone(),
            attempts: d.attempts,
            last_status_code: d.last_status_code,
            last_error: d.last_error.clone(),
            next_attempt_at: (d.status == webhook_deliveries::PENDING)
                .then(|| utc(&d.next_attempt_at)),
            delivered_at: d.delivered_at.as_ref().map(utc),
            created_at: utc(&d.created_at),
        }
    }
}
