//! The audit log's wire form.
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::models::audit;

/// One audit entry.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntry {
    pub id: String,
    /// Position in the chain.
    pub seq: i64,
    pub at: DateTime<Utc>,
    /// The user (`alice`, `alice (API key ci)`), `system`, or for a
    /// refused login the name that was tried.
    pub actor: String,
    pub address: Option<String>,
    #[schema(example = "silence.created")]
    pub action: String,
    /// The id (or name) of what was acted on.
    pub target: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub before: Option<Value>,
    #[schema(value_type = Option<Object>)]
    pub after: Option<Value>,
    /// SHA-256 of the previous entry's hash and this entry's content.
    pub hash: String,
    pub prev_hash: String,
}

impl From<&audit::Model> for AuditEntry {
    fn from(row: &audit::Model) -> Self {
        let json = |t: &Option<String>| t.as_deref().and_then(|t| serde_json::from_str(t).ok());
        Self {
            id: row.pid.to_string(),
            seq: row.id,
            at: row.created_at.with_timezone(&Utc),
            actor: row.actor.clone(),
            address: row.address.clone(),
            action: row.action.clone(),
            target: row.target.clone(),
            before: json(&row.before),
            after: json(&row.after),
            hash: row.hash.clone(),
            prev_hash: row.prev_hash.clone(),
        }
    }
}
