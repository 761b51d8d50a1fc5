//! `Idempotency-Key`: a retry with the same key and body gets the first
//! answer and stores nothing new; the same key with another body is a 422.
use chrono::Utc;
use loco_rs::prelude::*;
use sea_orm::SqlErr;

pub use super::_entities::idempotency_keys::{self, ActiveModel, Column, Entity, Model};
use super::domain_errors;

impl ActiveModelBehavior for ActiveModel {}

/// One idempotent request: who sent it, the key, and a digest of its body.
#[derive(Debug, Clone)]
pub struct IdempotentRequest {
    pub principal: String,
    pub key: String,
    pub request_hash: String,
}

impl IdempotentRequest {
    /// `body` should be canonical (re-serialized JSON), so formatting does not count.
    #[must_use]
    pub fn new(principal: &str, key: &str, body: &[u8]) -> Self {
        Self {
            principal: principal.to_string(),
            key: key.to_string(),
            request_hash: crate::digest::sha256_hex(body),
        }
    }
}

/// An answer kept for retries: the status code and JSON body the first
/// request got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAnswer {
    pub status: u16,
    pub body: String,
}

impl Model {
    /// The stored answer for this key, if the same request was seen before.
    ///
    /// # Errors
    /// 422 `idempotency_key_reused` when the key came with another body.
    pub async fn replay<C: ConnectionTrait>(
        db: &C,
        req: &IdempotentRequest,
    ) -> Result<Option<StoredAnswer>> {
        let row = Entity::find()
            .filter(Column::Principal.eq(&req.principal))
            .filter(Column::Key.eq(&req.key))
            .one(db)
            .await?;
        match row {
            None => Ok(None),
            Some(row) if row.request_hash == req.request_hash => Ok(Some(StoredAnswer {
                status: u16::try_from(row.status_code).unwrap_or(200),
                body: row.response,
            })),
            Some(_) => Err(Reused.into()),
        }
    }

    /// Stores the answer in the transaction that made it. `Ok(false)` when
    /// a concurrent request with the same key got there first.
    ///
    /// # Errors
    /// Database errors.
    pub async fn store<C: ConnectionTrait>(
        db: &C,
        req: &IdempotentRequest,
        answer: &StoredAnswer,
    ) -> Result<bool> {
        let now = Utc::now();
        let res = ActiveModel {
            principal: ActiveValue::set(req.principal.clone()),
            key: ActiveValue::set(req.key.clone()),
            request_hash: ActiveValue::set(req.request_hash.clone()),
            status_code: ActiveValue::set(i16::try_from(answer.status).unwrap_or(200)),
            response: ActiveValue::set(answer.body.clone()),
            created_at: ActiveValue::set(now.into()),
            updated_at: ActiveValue::set(now.into()),
            ..Default::default()
        }
        .insert(db)
        .await;
        match res {
            Ok(_) => Ok(true),
            Err(err) if matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
                Ok(false)
            }
            Err(err) => Err(err.into()),
        }
    }

    /// Deletes the answers stored before `cutoff` (the daily purge, after
    /// [`RETENTION_HOURS`]): a retry later than that is a new request.
    ///
    /// # Errors
    /// Database errors.
    pub async fn purge_before(
        db: &DatabaseConnection,
        cutoff: chrono::DateTime<Utc>,
    ) -> ModelResult<u64> {
        let res = Entity::delete_many()
            .filter(Column::CreatedAt.lt(cutoff))
            .exec(db)
            .await?;
        Ok(res.rows_affected)
    }
}

/// How long an `Idempotency-Key`'s answer is kept for retries.
pub const RETENTION_HOURS: i64 = 24;

/// The key was used before with a different request body.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("This Idempotency-Key was already used with a different request body")]
pub struct Reused;

domain_errors!(Reused);
