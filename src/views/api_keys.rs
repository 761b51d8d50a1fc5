use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::models::api_keys::{self, Scope};

/// An API key as listed: never the key itself nor its hash.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyResponse {
    /// Opaque public id (UUID).
    pub id: String,
    #[schema(example = "suricata-sensor-3")]
    pub name: String,
    /// The key's first characters, to tell keys apart.
    #[schema(example = "vgk_Zx81Qp0a")]
    pub prefix: String,
    pub scopes: Vec<Scope>,
    /// `ACTIVE`, `REVOKED` or `EXPIRED`.
    #[schema(example = "ACTIVE")]
    pub state: &'static str,
    #[schema(example = 600)]
    pub rate_limit_per_minute: i32,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// Last request made with the key (to the minute).
    pub last_used_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl From<&api_keys::Model> for ApiKeyResponse {
    fn from(key: &api_keys::Model) -> Self {
        let utc = |t: &sea_orm::prelude::DateTimeWithTimeZone| t.with_timezone(&Utc);
        Self {
            id: key.pid.to_string(),
            name: key.name.clone(),
            prefix: key.prefix.clone(),
            scopes: key.scopes(),
            state: key.state(Utc::now()).as_str(),
            rate_limit_per_minute: key.rate_limit_per_minute,
            expires_at: key.expires_at.as_ref().map(utc),
            revoked_at: key.revoked_at.as_ref().map(utc),
            last_used_at: key.last_used_at.as_ref().map(utc),
            created_at: utc(&key.created_at),
        }
    }
}

/// The answer to creating a key: the only time `key` is shown.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedApiKey {
    #[serde(flatten)]
    pub api_key: ApiKeyResponse,
    /// Send as `X-API-Key`. Shown once: store it now.
    #[schema(example = "vgk_Zx81Qp0aH3kq9T2LmB7vYc5nR1sWd8eFgJ4uPa6o")]
    pub key: String,
}
