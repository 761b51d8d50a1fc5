//! API keys (SPEC §1–§2): machine credentials an admin creates with scopes.
//! The key is shown once; the database keeps its SHA-256 (a key is 192 bits
//! of randomness, so a fast digest is the right tool: Argon2 would make every
//! request pay for a password hash). A key acts in the name of the admin who
//! created it, and stops working when that admin is deactivated or demoted.
use std::str::FromStr;

use chrono::{DateTime, Utc};
use loco_rs::{hash, prelude::*};
use sea_orm::{sea_query::Expr, QueryOrder};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

pub use super::_entities::api_keys::{self, ActiveModel, Column, Entity, Model};
use super::users::{self, Role};
use super::{domain_errors, FieldErrors, Invalid};

impl ActiveModelBehavior for ActiveModel {}

/// What a key may do.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    ToSchema,
    strum::Display,
    strum::IntoStaticStr,
    strum::VariantArray,
)]
pub enum Scope {
    /// Ingest events (`POST /api/events`, `/api/events/batch`).
    #[serde(rename = "events:write")]
    #[strum(serialize = "events:write")]
    EventsWrite,
    /// Read alerts, events, history and stats; follow the live feed.
    #[serde(rename = "alerts:read")]
    #[strum(serialize = "alerts:read")]
    AlertsRead,
    /// Change alerts: status, bulk status, edits and notes.
    #[serde(rename = "alerts:write")]
    #[strum(serialize = "alerts:write")]
    AlertsWrite,
    /// Create, change and end silences (maintenance windows, mutes).
    #[serde(rename = "silences:write")]
    #[strum(serialize = "silences:write")]
    SilencesWrite,
}

impl Scope {
    pub const ALL: &'static [Self] = <Self as strum::VariantArray>::VARIANTS;

    /// `events:write`, `alerts:read`, `alerts:write` or `silences:write`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

impl FromStr for Scope {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .iter()
            .copied()
            .find(|scope| scope.as_str() == s)
            .ok_or_else(|| {
                format!("unknown scope `{s}`: expected events:write, alerts:read, alerts:write or silences:write")
            })
    }
}

/// Default requests per minute for a key created without a limit.
pub const DEFAULT_RATE_LIMIT: i32 = 600;
const MAX_RATE_LIMIT: i32 = 1_000_000;
/// `last_used_at` is written at most this often per key.
const LAST_USED_RESOLUTION_SECONDS: i64 = 60;

/// `POST /api/api-keys` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewKey {
    /// What the key is for, e.g. `suricata-sensor-3`.
    #[schema(example = "suricata-sensor-3", min_length = 1, max_length = 100)]
    pub name: String,
    /// At least one of `events:write`, `alerts:read`, `alerts:write`.
    #[schema(example = json!(["events:write"]))]
    pub scopes: Vec<String>,
    /// When the key stops working (RFC 3339, in the future); never if absent.
    pub expires_at: Option<DateTime<Utc>>,
    /// Requests per minute before 429 (default 600).
    #[schema(example = 600)]
    pub rate_limit_per_minute: Option<i32>,
}

impl NewKey {
    /// Every invalid field at once.
    fn check(&self, now: DateTime<Utc>) -> Result<Vec<Scope>, FieldErrors> {
        let mut fields = FieldErrors::new();
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            fields.insert(
                "name".into(),
                vec!["Must be 1 to 100 characters.".to_string()],
            );
        }
        let mut scopes = Vec::new();
        let mut bad = Vec::new();
        for raw in &self.scopes {
            match raw.trim().to_ascii_lowercase().parse::<Scope>() {
                Ok(scope) if !scopes.contains(&scope) => scopes.push(scope),
                Ok(_) => {}
                Err(e) => bad.push(e),
            }
        }
        if scopes.is_empty() && bad.is_empty() {
            bad.push("at least one scope is required".to_string());
        }
        if !bad.is_empty() {
            fields.insert("scopes".into(), bad);
        }
        if self.expires_at.is_some_and(|t| t <= now) {
            fields.insert(
                "expires_at".into(),
                vec!["Must be in the future.".to_string()],
            );
        }
        if self
            .rate_limit_per_minute
            .is_some_and(|n| !(1..=MAX_RATE_LIMIT).contains(&n))
        {
            fields.insert(
                "rate_limit_per_minute".into(),
                vec![format!("Must be between 1 and {MAX_RATE_LIMIT}.")],
            );
        }
        if fields.is_empty() {
            scopes.sort_by_key(|s| s.as_str());
            Ok(scopes)
        } else {
            Err(fields)
        }
    }
}

/// SHA-256 (hex) of a key: what the database keeps.
fn digest(key: &str) -> String {
    crate::digest::sha256_hex(key)
}

/// Why a presented key is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("The API key is invalid")]
    Unknown,
    #[error("The API key has been revoked")]
    Revoked,
    #[error("The API key has expired")]
    Expired,
    #[error("The API key's owner is no longer an active admin: the key is suspended")]
    OwnerSuspended,
}

domain_errors!(Refused);

/// A key that authenticated: its row and the admin it acts for.
#[derive(Debug, Clone)]
pub struct Grant {
    pub key: Model,
    pub owner: users::Model,
}

/// Whether a key works.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr)]
#[strum(serialize_all = "UPPERCASE")]
pub enum KeyState {
    Active,
    Revoked,
    Expired,
}

impl KeyState {
    /// As the API shows it: `ACTIVE`, `REVOKED` or `EXPIRED`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

impl Model {
    /// Creates a key for `owner` and returns it with the plaintext key,
    /// shown only this once.
    ///
    /// # Errors
    /// 400 naming every invalid field; database errors.
    pub async fn create(
        db: &DatabaseConnection,
        owner: &users::Model,
        by: &super::audit::By,
        params: &NewKey,
    ) -> Result<(Self, String)> {
        let scopes = params.check(Utc::now()).map_err(Invalid)?;
        let key = format!("vgk_{}", hash::random_string(40));
        let row = ActiveModel {
            pid: ActiveValue::set(Uuid::new_v4()),
            name: ActiveValue::set(params.name.trim().to_string()),
            prefix: ActiveValue::set(key.chars().take(12).collect()),
            key_hash: ActiveValue::set(digest(&key)),
            scopes: ActiveValue::set(
                scopes
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
            rate_limit_per_minute: ActiveValue::set(
                params.rate_limit_per_minute.unwrap_or(DEFAULT_RATE_LIMIT),
            ),
            expires_at: ActiveValue::set(params.expires_at.map(Into::into)),
            user_id: ActiveValue::set(owner.id),
            ..Default::default()
        };
        let (_writer, txn) = crate::db::write::begin_write(db).await?;
        let row = row.insert(&txn).await?;
        super::audit::commit_with(
            txn,
            by,
            super::audit::Entry::new("api_key.created", row.pid.to_string())
                .after(row.audit_view()),
        )
        .await?;
        Ok((row, key))
    }

    /// The key's scopes.
    #[must_use]
    pub fn scopes(&self) -> Vec<Scope> {
        self.scopes
            .split_whitespace()
            .filter_map(|s| s.parse().ok())
            .collect()
    }

    #[must_use]
    pub fn has(&self, scope: Scope) -> bool {
        self.scopes.split_whitespace().any(|s| s == scope.as_str())
    }

    /// Whether the key works at `now`, and if not, why.
    #[must_use]
    pub fn state(&self, now: DateTime<Utc>) -> KeyState {
        if self.revoked_at.is_some() {
            KeyState::Revoked
        } else if self.expires_at.is_some_and(|t| t <= now) {
            KeyState::Expired
        } else {
            KeyState::Active
        }
    }

    /// The key presented in `X-API-Key`, if it is valid now, with its owner.
    /// Records `last_used_at` (at most once a minute per key).
    ///
    /// # Errors
    /// 401 for an unknown, revoked or expired key, or one whose owner is no
    /// longer an active admin; database errors.
    pub async fn authenticate(db: &DatabaseConnection, presented: &str) -> Result<Grant> {
        let Some((key, owner)) = Entity::find()
            .filter(Column::KeyHash.eq(digest(presented.trim())))
            .find_also_related(users::Entity)
            .one(db)
            .await?
        else {
            return Err(Refused::Unknown.into());
        };
        let now = Utc::now();
        match key.state(now) {
            KeyState::Revoked => return Err(Refused::Revoked.into()),
            KeyState::Expired => return Err(Refused::Expired.into()),
            KeyState::Active => {}
        }
        let owner = owner.ok_or(Refused::Unknown)?;
        if !owner.is_active || owner.role() != Role::Admin {
            return Err(Refused::OwnerSuspended.into());
        }
        let stale = key.last_used_at.is_none_or(|t| {
            (now - t.with_timezone(&Utc)).num_seconds() >= LAST_USED_RESOLUTION_SECONDS
        });
        if stale {
            Entity::update_many()
                .col_expr(Column::LastUsedAt, Expr::value(now))
                .filter(Column::Id.eq(key.id))
                .exec(db)
                .await?;
        }
        let key = Self {
            last_used_at: if stale {
                Some(now.into())
            } else {
                key.last_used_at
            },
            ..key
        };
        Ok(Grant { key, owner })
    }

    /// Every key, newest first (revoked and expired ones included).
    ///
    /// # Errors
    /// Database errors.
    pub async fn list_page(
        db: &DatabaseConnection,
        page: u64,
        page_size: u64,
    ) -> ModelResult<(Vec<Self>, u64)> {
        let sel = Entity::find()
            .order_by_desc(Column::CreatedAt)
            .order_by_desc(Column::Id);
        Ok(super::listing::page_of(db, sel, page, page_size).await?)
    }

    /// # Errors
    /// 404 for an unknown id.
    pub async fn find_by_pid(db: &DatabaseConnection, pid: &str) -> Result<Self> {
        super::find_by_pid::<Entity, _>(db, "API key", Column::Pid, pid).await
    }

    /// Revokes the key: it stops working at once. Revoking twice is a no-op.
    ///
    /// # Errors
    /// Database errors.
    pub async fn revoke(self, db: &DatabaseConnection, by: &super::audit::By) -> ModelResult<Self> {
        if self.revoked_at.is_some() {
            return Ok(self);
        }
        let before = self.audit_view();
        let mut row: ActiveModel = self.into();
        row.revoked_at = ActiveValue::set(Some(Utc::now().into()));
        let (_writer, txn) = crate::db::write::begin_write(db).await?;
        let row = row.update(&txn).await?;
        super::audit::commit_with(
            txn,
            by,
            super::audit::Entry::new("api_key.revoked", row.pid.to_string())
                .before(before)
                .after(row.audit_view()),
        )
        .await?;
        Ok(row)
    }

    /// What the audit log shows of a key (never the key or its hash).
    #[must_use]
    pub fn audit_view(&self) -> serde_json::Value {
        serde_json::json!({
            "name": self.name,
            "prefix": self.prefix,
            "scopes": self.scopes,
            "rate_limit_per_minute": self.rate_limit_per_minute,
            "expires_at": self.expires_at,
            "revoked_at": self.revoked_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_key_reports_every_bad_field() {
        let params = NewKey {
            name: " ".into(),
            scopes: vec!["alerts:read".into(), "root".into()],
            expires_at: Some(Utc::now() - chrono::Duration::hours(1)),
            rate_limit_per_minute: Some(0),
        };
        let fields = params.check(Utc::now()).unwrap_err();
        let names: Vec<&str> = fields.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            ["expires_at", "name", "rate_limit_per_minute", "scopes"]
        );
    }

    #[test]
    fn scopes_are_case_insensitive_and_deduplicated() {
        let params = NewKey {
            name: "sensor".into(),
            scopes: vec!["EVENTS:WRITE".into(), "events:write".into()],
            expires_at: None,
            rate_limit_per_minute: None,
        };
        assert_eq!(params.check(Utc::now()).unwrap(), vec![Scope::EventsWrite]);
    }
}
