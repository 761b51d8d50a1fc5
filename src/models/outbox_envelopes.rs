//! Lifecycle envelopes, written in the same transaction as the change they
//! describe, so none is lost on a crash; delivered from here in `id` order.
use chrono::{SecondsFormat, Utc};
use loco_rs::prelude::*;
use serde_json::{json, Value};
use uuid::Uuid;

pub use super::_entities::outbox_envelopes::{self, ActiveModel, Column, Entity, Model};
use super::severity::Severity;

impl ActiveModelBehavior for ActiveModel {}

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
    /// Appends one envelope `{id, type, source, timestamp, payload, meta}`.
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
        )
        .await
    }

    /// Appends envelopes in the given order, in one statement.
    ///
    /// # Errors
    /// Database errors.
    pub async fn append_many<C: ConnectionTrait>(
        db: &C,
        envelopes: Vec<(EnvelopeType, Uuid, Severity, Value, &str)>,
    ) -> ModelResult<()> {
        if envelopes.is_empty() {
            return Ok(());
        }
        let now = Utc::now();
        let rows =
            envelopes
                .into_iter()
                .map(|(kind, alert_pid, severity, payload, correlation_id)| {
                    let id = Uuid::new_v4();
                    let envelope = json!({
                        "id": id.to_string(),
                        "type": kind.as_str(),
                        "source": "vigil",
                        "timestamp": now.to_rfc3339_opts(SecondsFormat::Micros, true),
                        "payload": payload,
                        "meta": {"correlation_id": correlation_id, "version": ENVELOPE_VERSION},
                    });
                    ActiveModel {
                        envelope_id: ActiveValue::set(id),
                        event_type: ActiveValue::set(kind.as_str().to_string()),
                        alert_pid: ActiveValue::set(alert_pid),
                        severity_rank: ActiveValue::set(severity.rank()),
                        envelope: ActiveValue::set(envelope),
                        created_at: ActiveValue::set(now.into()),
                        updated_at: ActiveValue::set(now.into()),
                        ..Default::default()
                    }
                });
        super::insert_chunked(db, rows.collect()).await?;
        Ok(())
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

    /// Up to `limit` envelopes not yet delivered, in id order. On
    /// PostgreSQL the rows stay locked until the caller's transaction ends
    /// and other instances skip them, so each is dispatched once.
    ///
    /// # Errors
    /// Database errors.
    pub async fn claim_pending<C: ConnectionTrait>(db: &C, limit: u64) -> ModelResult<Vec<Self>> {
        let mut q = Entity::find()
            .filter(Column::DeliveredAt.is_null())
            .order_by_asc(Column::Id)
            .limit(limit);
        if db.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
            q = q.lock_with_behavior(
                sea_orm::sea_query::LockType::Update,
                sea_orm::sea_query::LockBehavior::SkipLocked,
            );
        }
        Ok(q.all(db).await?)
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
