//! Lifecycle envelopes, written in the same transaction as the change they
//! describe, so none is lost on a crash; delivered from here in `id` order.
use chrono::{DateTime, SecondsFormat, Utc};
use loco_rs::prelude::*;
use serde_json::{json, Value};
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

/// The lifecycle event types of SPEC §6.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnvelopeType {
    Created,
    Updated,
    StatusChanged,
    Escalated,
    Mitigated,
    Resolved,
}

impl EnvelopeType {
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Created => "alert.created",
            Self::Updated => "alert.updated",
            Self::StatusChanged => "alert.status_changed",
            Self::Escalated => "alert.escalated",
            Self::Mitigated => "alert.mitigated",
            Self::Resolved => "alert.resolved",
        }
    }
}

impl Model {
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
        Self::append_many(
            db,
            vec![(kind, alert_pid, severity, payload, correlation_id)],
            None,
        )
        .await?;
        Ok(())
    }

    /// Appends envelopes in the given order. With `claimed_by` (the id of
    /// this process's dispatcher) they are claimed for it and returned, ready
    /// to publish once the caller's transaction commits (see
    /// [`crate::workers::dispatcher::Feed::hand_off`]); without, nothing is
    /// returned and the polling dispatcher finds them.
    ///
    /// # Errors
    /// Database errors.
    pub async fn append_many<C: ConnectionTrait>(
        db: &C,
        envelopes: Vec<(EnvelopeType, Uuid, Severity, Value, &str)>,
        claimed_by: Option<Uuid>,
    ) -> ModelResult<Vec<Claimed>> {
        if envelopes.is_empty() {
            return Ok(Vec::new());
        }
        let now = Utc::now();
        let timestamp = now.to_rfc3339_opts(SecondsFormat::Micros, true);
        let mut texts = std::collections::HashMap::new();
        let rows: Vec<ActiveModel> = envelopes
            .into_iter()
            .map(|(kind, alert_pid, severity, payload, correlation_id)| {
                let id = Uuid::now_v7();
                let envelope = json!({
                    "id": id.to_string(),
                    "type": kind.as_str(),
                    "source": "vigil",
                    "timestamp": timestamp,
                    "payload": payload,
                    "meta": {"correlation_id": correlation_id, "version": ENVELOPE_VERSION},
                });
                if claimed_by.is_some() {
                    texts.insert(id, (kind, severity.rank(), envelope.to_string()));
                }
                ActiveModel {
                    envelope_id: ActiveValue::set(id),
                    event_type: ActiveValue::set(kind.as_str().to_string()),
                    alert_pid: ActiveValue::set(alert_pid),
                    severity_rank: ActiveValue::set(severity.rank()),
                    envelope: ActiveValue::set(envelope),
                    claimed_by: ActiveValue::set(claimed_by),
                    created_at: ActiveValue::set(now.into()),
                    updated_at: ActiveValue::set(now.into()),
                    ..Default::default()
                }
            })
            .collect();
        if claimed_by.is_none() {
            super::insert_chunked(db, rows).await?;
            return Ok(Vec::new());
        }
        // The row ids (the delivery order) come back from the insert.
        let mut claimed = Vec::with_capacity(rows.len());
        let mut rows = rows.into_iter();
        for size in super::chunk_sizes(rows.len()) {
            let mut insert = sea_orm::QueryTrait::into_query(Entity::insert_many(
                rows.by_ref().take(size).collect::<Vec<_>>(),
            ));
            insert.returning(
                sea_orm::sea_query::Query::returning().columns([Column::Id, Column::EnvelopeId]),
            );
            for row in db.query_all(&insert).await? {
                let id: i64 = row.try_get("", "id")?;
                let envelope_id: Uuid = row.try_get("", "envelope_id")?;
                let (kind, severity_rank, text) = texts
                    .remove(&envelope_id)
                    .ok_or(ModelError::EntityNotFound)?;
                claimed.push(Claimed {
                    kind,
                    delivered: Delivered {
                        id,
                        envelope_id,
                        severity_rank,
                        text: text.into(),
                    },
                });
            }
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
        let now: sea_orm::prelude::DateTimeWithTimeZone = Utc::now().into();
        Entity::update_many()
            .col_expr(Column::DeliveredAt, sea_orm::sea_query::Expr::value(now))
            .filter(Column::Id.is_in(ids.iter().copied()))
            .exec(db)
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
