//! Lifecycle envelopes, written in the same transaction as the change they
//! describe, so none is lost on a crash; delivered from here in `id` order.
use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};
use loco_rs::prelude::*;
use serde_json::Value;
use uuid::Uuid;

pub use super::_entities::outbox_envelopes::{self, ActiveModel, Column, Entity, Model};
use super::severity::Severity;

impl ActiveModelBehavior for ActiveModel {}

/// One envelope as every subscriber receives it, serialized once.
#[derive(Debug)]
pub struct Delivered {
    /// The outbox row id: the delivery order.
    pub id: i64,
    pub envelope_id: Uuid,
    pub severity_rank: i16,
    /// About a suppressed alert: only feed clients that ask see it, and no
    /// webhook gets it.
    pub suppressed: bool,
    /// The envelope as JSON text, shared by every subscriber's socket
    /// (cloning it is a reference count, not a copy).
    pub text: axum::extract::ws::Utf8Bytes,
}

impl From<&Model> for Delivered {
    fn from(row: &Model) -> Self {
        Self {
            id: row.id,
            envelope_id: row.envelope_id,
            severity_rank: row.severity_rank,
            suppressed: row.suppressed,
            text: row.envelope.to_string().into(),
        }
    }
}

/// An envelope written claimed by this process's dispatcher.
#[derive(Debug)]
pub struct Claimed {
    pub kind: EnvelopeType,
    pub delivered: Delivered,
}

/// Envelope format version, in `meta.version`.
pub const ENVELOPE_VERSION: u32 = 1;

/// The lifecycle event types of SPEC §6: `alert.created`, … Webhooks
/// subscribe by these names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr, strum::VariantArray)]
pub enum EnvelopeType {
    #[strum(serialize = "alert.created")]
    Created,
    #[strum(serialize = "alert.updated")]
    Updated,
    #[strum(serialize = "alert.status_changed")]
    StatusChanged,
    #[strum(serialize = "alert.escalated")]
    Escalated,
    #[strum(serialize = "alert.mitigated")]
    Mitigated,
    #[strum(serialize = "alert.resolved")]
    Resolved,
    #[strum(serialize = "silence.created")]
    SilenceCreated,
    #[strum(serialize = "silence.updated")]
    SilenceUpdated,
    #[strum(serialize = "silence.expired")]
    SilenceExpired,
    #[strum(serialize = "silence.deleted")]
    SilenceDeleted,
}

impl EnvelopeType {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Every type's name, in declaration order.
    pub fn names() -> impl Iterator<Item = &'static str> {
        <Self as strum::VariantArray>::VARIANTS
            .iter()
            .map(|t| t.as_str())
    }
}

/// An envelope as subscribers receive it (see [`Model::append_many`]).
#[derive(serde::Serialize)]
struct EnvelopeText<'a> {
    id: Uuid,
    meta: Meta<'a>,
    payload: &'a Value,
    source: &'a str,
    timestamp: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
}

#[derive(serde::Serialize)]
struct Meta<'a> {
    correlation_id: &'a str,
    version: u32,
}

/// An outbox row as [`crate::db::bulk::insert`] writes it.
#[derive(serde::Serialize)]
struct EnvelopeRow<'a> {
    #[serde(skip)]
    kind: EnvelopeType,
    envelope_id: Uuid,
    event_type: &'a str,
    alert_pid: Uuid,
    severity_rank: i16,
    envelope: String,
    claimed_by: Option<Uuid>,
    suppressed: bool,
    created_at: String,
    updated_at: String,
}

/// The outbox insert (the columns of [`EnvelopeRow`]), returning the row
/// ids, which are the delivery order.
fn append_sql(backend: sea_orm::DbBackend) -> String {
    use crate::db::bulk::Col;
    crate::db::bulk::insert_sql(
        backend,
        "outbox_envelopes",
        &[
            ("envelope_id", Col::Uuid),
            ("event_type", Col::Text),
            ("alert_pid", Col::Uuid),
            ("severity_rank", Col::SmallInt),
            ("envelope", Col::JsonText),
            ("claimed_by", Col::Uuid),
            ("suppressed", Col::Bool),
            ("created_at", Col::Time),
            ("updated_at", Col::Time),
        ],
        "RETURNING \"id\", \"envelope_id\"",
    )
}

/// An envelope to append: what happened to which alert, and its payload
/// (the alert's wire form).
#[derive(Debug)]
pub struct NewEnvelope<'a> {
    pub kind: EnvelopeType,
    pub alert_pid: Uuid,
    pub severity: Severity,
    pub payload: Value,
    /// The request that caused it.
    pub correlation_id: &'a str,
    /// About a suppressed alert (see [`Delivered::suppressed`]).
    pub suppressed: bool,
}

impl Model {
    /// How many envelopes await delivery, and when the oldest was written
    /// (the `/metrics` backlog gauges).
    ///
    /// # Errors
    /// Database errors.
    pub async fn backlog(db: &DatabaseConnection) -> ModelResult<(i64, Option<DateTime<Utc>>)> {
        let row = db
            .query_one_raw(sea_orm::Statement::from_string(
                db.get_database_backend(),
                "SELECT count(*) AS n, min(created_at) AS oldest FROM outbox_envelopes \
                 WHERE delivered_at IS NULL",
            ))
            .await?;
        Ok(match row {
            Some(row) => (
                row.try_get("", "n")?,
                row.try_get::<Option<sea_orm::prelude::DateTimeWithTimeZone>>("", "oldest")
                    .ok()
                    .flatten()
                    .map(|t| t.with_timezone(&Utc)),
            ),
            None => (0, None),
        })
    }

    /// Appends one envelope `{id, type, source, timestamp, payload, meta}`,
    /// left to the polling dispatcher.
    ///
    /// # Errors
    /// Database errors.
    pub async fn append<C: ConnectionTrait>(
        db: &C,
        kind: EnvelopeType,
        alert_pid: Uuid,
        severity: Severity,
        payload: Value,
        correlation_id: &str,
    ) -> ModelResult<()> {
        Self::append_marked(
            db,
            kind,
            alert_pid,
            severity,
            payload,
            correlation_id,
            false,
        )
        .await
    }

    /// [`Self::append`], for an alert that may be suppressed.
    ///
    /// # Errors
    /// Database errors.
    pub async fn append_marked<C: ConnectionTrait>(
        db: &C,
        kind: EnvelopeType,
        alert_pid: Uuid,
        severity: Severity,
        payload: Value,
        correlation_id: &str,
        suppressed: bool,
    ) -> ModelResult<()> {
        let envelope = NewEnvelope {
            kind,
            alert_pid,
            severity,
            payload,
            correlation_id,
            suppressed,
        };
        Self::append_many(db, vec![envelope], None).await?;
        Ok(())
    }

    /// Appends envelopes in the given order. With `claimed_by` (the id of
    /// this process's dispatcher) they are claimed for it and returned, ready
    /// to publish once the caller's transaction commits (see
    /// the dispatcher's hand-off); without, nothing is
    /// returned and the polling dispatcher finds them.
    ///
    /// # Errors
    /// Database errors.
    pub async fn append_many<C: ConnectionTrait>(
        db: &C,
        envelopes: Vec<NewEnvelope<'_>>,
        claimed_by: Option<Uuid>,
    ) -> ModelResult<Vec<Claimed>> {
        if envelopes.is_empty() {
            return Ok(Vec::new());
        }
        let now = Utc::now();
        let timestamp = now.to_rfc3339_opts(SecondsFormat::Micros, true);
        let stamp = crate::db::bulk::time(&now.trunc_subsecs(6).into());
        let mut rows = Vec::with_capacity(envelopes.len());
        for NewEnvelope {
            kind,
            alert_pid,
            severity,
            payload,
            correlation_id,
            suppressed,
        } in envelopes
        {
            let id = Uuid::now_v7();
            // Fields in alphabetical order: the text a `Value` of the same
            // envelope prints, as replays (read back from the row) do.
            let text = serde_json::to_string(&EnvelopeText {
                id,
                meta: Meta {
                    correlation_id,
                    version: ENVELOPE_VERSION,
                },
                payload: &payload,
                source: "vigil",
                timestamp: &timestamp,
                kind: kind.as_str(),
            })
            .map_err(|e| ModelError::Any(e.into()))?;
            rows.push(EnvelopeRow {
                kind,
                envelope_id: id,
                event_type: kind.as_str(),
                alert_pid,
                severity_rank: severity.rank(),
                envelope: text,
                claimed_by,
                suppressed,
                created_at: stamp.clone(),
                updated_at: stamp.clone(),
            });
        }
        // The row ids (the delivery order) come back from the insert.
        let returned =
            crate::db::bulk::insert(db, &append_sql(db.get_database_backend()), &rows).await?;
        if claimed_by.is_none() {
            return Ok(Vec::new());
        }
        let mut texts: std::collections::HashMap<Uuid, EnvelopeRow<'_>> =
            rows.into_iter().map(|r| (r.envelope_id, r)).collect();
        let mut claimed = Vec::with_capacity(returned.len());
        for row in returned {
            let id: i64 = row.try_get("", "id")?;
            let envelope_id: Uuid = row.try_get("", "envelope_id")?;
            let row = texts
                .remove(&envelope_id)
                .ok_or(ModelError::EntityNotFound)?;
            claimed.push(Claimed {
                kind: row.kind,
                delivered: Delivered {
                    id,
                    envelope_id,
                    severity_rank: row.severity_rank,
                    suppressed: row.suppressed,
                    text: row.envelope.into(),
                },
            });
        }
        claimed.sort_by_key(|c| c.delivered.id);
        Ok(claimed)
    }

    /// Envelopes in commit order, after `after_id` (exclusive).
    ///
    /// # Errors
    /// Database errors.
    pub async fn after(
        db: &DatabaseConnection,
        after_id: i64,
        limit: u64,
    ) -> ModelResult<Vec<Self>> {
        Ok(Entity::find()
            .filter(Column::Id.gt(after_id))
            .order_by_asc(Column::Id)
            .limit(limit)
            .all(db)
            .await?)
    }

    /// Up to `limit` envelopes not yet delivered, in id order: those no
    /// dispatcher claimed, and claimed ones written before `stale_before`
    /// (their publisher died before marking them). On PostgreSQL the rows
    /// stay locked until the caller's transaction ends and other instances
    /// skip them, so each is dispatched once.
    ///
    /// # Errors
    /// Database errors.
    pub async fn claim_pending<C: ConnectionTrait>(
        db: &C,
        limit: u64,
        stale_before: DateTime<Utc>,
    ) -> ModelResult<Vec<Self>> {
        let lock = |q: sea_orm::Select<Entity>| {
            if db.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
                q.lock_with_behavior(
                    sea_orm::sea_query::LockType::Update,
                    sea_orm::sea_query::LockBehavior::SkipLocked,
                )
            } else {
                q
            }
        };
        // Each query matches one partial index exactly (migration 000011).
        let mut rows = lock(
            Entity::find()
                .filter(Column::DeliveredAt.is_null())
                .filter(Column::ClaimedBy.is_null())
                .order_by_asc(Column::Id)
                .limit(limit),
        )
        .all(db)
        .await?;
        // Claimed envelopes are marked within moments, so the claimed index
        // holds few rows: scanning it for stale ones is cheap. They get a
        // share of the batch even behind a backlog of unclaimed ones.
        let stale: sea_orm::prelude::DateTimeWithTimeZone = stale_before.into();
        let room = (limit - rows.len() as u64).max(limit / 4).max(1);
        let taken_over = lock(
            Entity::find()
                .filter(Column::DeliveredAt.is_null())
                .filter(Column::ClaimedBy.is_not_null())
                .filter(Column::CreatedAt.lt(stale))
                .order_by_asc(Column::Id)
                .limit(room),
        )
        .all(db)
        .await?;
        if !taken_over.is_empty() {
            rows.extend(taken_over);
            rows.sort_by_key(|r| r.id);
        }
        Ok(rows)
    }

    /// Records the delivery of the envelopes with these ids.
    ///
    /// # Errors
    /// Database errors.
    pub async fn mark_delivered<C: ConnectionTrait>(db: &C, ids: &[i64]) -> ModelResult<()> {
        if ids.is_empty() {
            return Ok(());
        }
        // One statement text for any number of ids (bound as JSON), so each
        // connection prepares it once instead of one per count of ids.
        let backend = db.get_database_backend();
        let sql = if backend == sea_orm::DbBackend::Postgres {
            "UPDATE outbox_envelopes SET delivered_at = $1 \
             WHERE id IN (SELECT (json_array_elements_text($2::json))::bigint)"
        } else {
            "UPDATE outbox_envelopes SET delivered_at = ? \
             WHERE id IN (SELECT value FROM json_each(?))"
        };
        let now: sea_orm::prelude::DateTimeWithTimeZone = Utc::now().into();
        let ids = serde_json::to_string(ids).map_err(|e| ModelError::Any(e.into()))?;
        db.execute_raw(sea_orm::Statement::from_sql_and_values(
            backend,
            sql,
            [now.into(), ids.into()],
        ))
        .await?;
        Ok(())
    }

    /// The outbox row id of the envelope with `envelope_id`, and up to
    /// `limit` envelopes after it, in id order (what a reconnecting feed
    /// client missed). `None` when no envelope has that id.
    ///
    /// # Errors
    /// Database errors.
    pub async fn after_envelope(
        db: &DatabaseConnection,
        envelope_id: Uuid,
        limit: u64,
    ) -> ModelResult<Option<(i64, Vec<Self>)>> {
        let Some(anchor) = Entity::find()
            .filter(Column::EnvelopeId.eq(envelope_id))
            .one(db)
            .await?
        else {
            return Ok(None);
        };
        Ok(Some((anchor.id, Self::after(db, anchor.id, limit).await?)))
    }
}
