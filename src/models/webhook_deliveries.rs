//! Webhook deliveries (SPEC §6): one row per (webhook, envelope), created
//! in the dispatcher's transaction, leased by the sweep, and retried with
//! exponential backoff. The rows are the delivery log and the retry state;
//! a webhook whose attempts fail `disable_after` times in a row is
//! disabled, and says why.
use chrono::{DateTime, Duration, Utc};
use loco_rs::prelude::*;
use sea_orm::{
    sea_query::{Expr, Query},
    QueryOrder, QuerySelect,
};
use uuid::Uuid;

pub use super::_entities::webhook_deliveries::{self, ActiveModel, Column, Entity, Model};
use super::{
    outbox_envelopes,
    webhooks::{self, signature},
};
use crate::settings::WebhookSettings;

impl ActiveModelBehavior for ActiveModel {}

pub const PENDING: &str = "PENDING";
pub const SUCCEEDED: &str = "SUCCEEDED";
pub const FAILED: &str = "FAILED";

/// An envelope being dispatched, as its webhook deliveries need it.
#[derive(Debug, Clone, Copy)]
pub struct Outgoing<'a> {
    /// The outbox row id.
    pub id: i64,
    pub event_type: &'a str,
    pub severity_rank: i16,
    /// About a suppressed alert: no delivery.
    pub suppressed: bool,
}

/// Creates the deliveries of `rows` (envelopes being dispatched) for every
/// enabled webhook that wants them, in the dispatcher's transaction. An
/// envelope dispatched twice (at least once) gets no second delivery.
///
/// # Errors
/// Database errors.
pub async fn enqueue<C: ConnectionTrait>(db: &C, rows: &[Outgoing<'_>]) -> ModelResult<usize> {
    let hooks = webhooks::Entity::find()
        .filter(webhooks::Column::Enabled.eq(true))
        .all(db)
        .await?;
    if hooks.is_empty() {
        return Ok(0);
    }
    let now: sea_orm::prelude::DateTimeWithTimeZone = Utc::now().into();
    let mut new = Vec::new();
    for row in rows.iter().filter(|r| !r.suppressed) {
        for hook in hooks
            .iter()
            .filter(|h| h.wants(row.event_type, row.severity_rank))
        {
            new.push(ActiveModel {
                created_at: ActiveValue::set(now),
                updated_at: ActiveValue::set(now),
                pid: ActiveValue::set(Uuid::now_v7()),
                envelope_row: ActiveValue::set(row.id),
                event_type: ActiveValue::set(row.event_type.to_string()),
                status: ActiveValue::set(PENDING.into()),
                attempts: ActiveValue::set(0),
                next_attempt_at: ActiveValue::set(now),
                webhook_id: ActiveValue::set(hook.id),
                ..Default::default()
            });
        }
    }
    let count = new.len();
    let mut new = new.into_iter();
    for size in crate::db::write::chunk_sizes(count) {
        Entity::insert_many(new.by_ref().take(size).collect::<Vec<_>>())
            .on_conflict_do_nothing_on([Column::WebhookId, Column::EnvelopeRow])
            .exec_without_returning(db)
            .await?;
    }
    Ok(count)
}

/// Takes up to `limit` deliveries that are due, of enabled webhooks, and
/// leases them for `lease` (their next attempt moves that far ahead, so no
/// other sweep or instance takes them meanwhile; a crash mid-attempt
/// retries after the lease). Returns their ids.
///
/// # Errors
/// Database errors.
pub async fn claim_due(
    db: &DatabaseConnection,
    limit: u64,
    lease: Duration,
) -> ModelResult<Vec<i64>> {
    let (_writer, txn) = crate::db::write::begin_write(db).await?;
    let now = Utc::now();
    let mut q = Entity::find()
        .select_only()
        .column(Column::Id)
        .filter(Column::Status.eq(PENDING))
        .filter(Column::NextAttemptAt.lte(now))
        .filter(
            Column::WebhookId.in_subquery(
                Query::select()
                    .column(webhooks::Column::Id)
                    .from(webhooks::Entity)
                    .and_where(webhooks::Column::Enabled.eq(true))
                    .to_owned(),
            ),
        )
        .order_by_asc(Column::NextAttemptAt)
        .limit(limit);
    if db.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
        q = q.lock_with_behavior(
            sea_orm::sea_query::LockType::Update,
            sea_orm::sea_query::LockBehavior::SkipLocked,
        );
    }
    let ids: Vec<i64> = q.into_tuple().all(&txn).await?;
    if !ids.is_empty() {
        Entity::update_many()
            .col_expr(
                Column::NextAttemptAt,
                Expr::value(sea_orm::prelude::DateTimeWithTimeZone::from(now + lease)),
            )
            .filter(Column::Id.is_in(ids.iter().copied()))
            .exec(&txn)
            .await?;
    }
    txn.commit().await?;
    Ok(ids)
}

/// What one attempt needs: the delivery, its webhook and the envelope text.
pub struct Attempt {
    pub delivery: Model,
    pub webhook: webhooks::Model,
    pub body: String,
}

impl Attempt {
    /// The attempt for delivery `id`, if it is still pending and its
    /// webhook enabled.
    ///
    /// # Errors
    /// Database errors.
    pub async fn load(db: &DatabaseConnection, id: i64) -> ModelResult<Option<Self>> {
        let Some((delivery, Some(webhook))) = Entity::find_by_id(id)
            .find_also_related(webhooks::Entity)
            .one(db)
            .await?
        else {
            return Ok(None);
        };
        if delivery.status != PENDING || !webhook.enabled {
            return Ok(None);
        }
        let Some(envelope) = outbox_envelopes::Entity::find_by_id(delivery.envelope_row)
            .one(db)
            .await?
        else {
            return Ok(None);
        };
        Ok(Some(Self {
            delivery,
            webhook,
            body: envelope.envelope.to_string(),
        }))
    }

    /// The headers of this attempt at `timestamp` (Unix seconds).
    #[must_use]
    pub fn headers(&self, timestamp: i64) -> Vec<(&'static str, String)> {
        let ts = timestamp.to_string();
        let sig = signature(&self.webhook.secret, &ts, &self.body);
        vec![
            ("content-type", "application/json".into()),
            ("user-agent", "Vigil-Webhook/1".into()),
            ("x-vigil-event", self.delivery.event_type.clone()),
            ("x-vigil-delivery", self.delivery.pid.to_string()),
            ("x-vigil-timestamp", ts),
            ("x-vigil-signature", format!("sha256={sig}")),
        ]
    }

    /// Records the outcome: a 2xx answer (`Ok(status)`) delivers; anything
    /// else is a failed attempt, retried after `base × 2^(attempts − 1)`
    /// (capped), given up after `max_attempts`, and counted against the
    /// webhook, which is disabled after `disable_after` failures in a row.
    ///
    /// # Errors
    /// Database errors.
    pub async fn record(
        self,
        db: &DatabaseConnection,
        outcome: Result<u16, String>,
        policy: &WebhookSettings,
        now: DateTime<Utc>,
    ) -> ModelResult<()> {
        let (_writer, txn) = crate::db::write::begin_write(db).await?;
        let attempts = self.delivery.attempts + 1;
        let mut row: ActiveModel = self.delivery.into();
        row.attempts = ActiveValue::set(attempts);
        let (code, error) = match outcome {
            Ok(code) if (200..300).contains(&code) => (Some(code), None),
            Ok(code) => (Some(code), Some(format!("HTTP {code}"))),
            Err(e) => (None, Some(e)),
        };
        row.last_status_code = ActiveValue::set(code.map(i32::from));
        row.last_error = ActiveValue::set(error.clone());
        let mut hook: webhooks::ActiveModel = self.webhook.clone().into();
        let gave_up = attempts >= policy.max_attempts;
        let outcome = match (error.is_some(), gave_up) {
            (false, _) => "succeeded",
            (true, false) => "failed",
            (true, true) => "gave_up",
        };

        if error.is_none() {
            row.status = ActiveValue::set(SUCCEEDED.into());
            row.delivered_at = ActiveValue::set(Some(now.into()));
            if self.webhook.consecutive_failures != 0 {
                hook.consecutive_failures = ActiveValue::set(0);
                hook.update(&txn).await?;
            }
        } else {
            if attempts >= policy.max_attempts {
                row.status = ActiveValue::set(FAILED.into());
            } else {
                let exp = u32::try_from(attempts - 1).unwrap_or(0).min(20);
                let delay = policy
                    .backoff_base_ms
                    .saturating_mul(1 << exp)
                    .min(policy.backoff_max_ms);
                row.next_attempt_at = ActiveValue::set(
                    (now + Duration::milliseconds(i64::try_from(delay).unwrap_or(i64::MAX))).into(),
                );
            }
            let failures = self.webhook.consecutive_failures + 1;
            hook.consecutive_failures = ActiveValue::set(failures);
            if failures >= policy.disable_after && self.webhook.enabled {
                let reason = format!(
                    "Disabled after {failures} failed delivery attempts in a row; last error: {}",
                    error.unwrap_or_default()
                );
                tracing::warn!(webhook = %self.webhook.pid, %reason, "webhook disabled");
                hook.enabled = ActiveValue::set(false);
                hook.disabled_reason = ActiveValue::set(Some(reason));
                hook.disabled_at = ActiveValue::set(Some(now.into()));
            }
            hook.update(&txn).await?;
        }
        row.update(&txn).await?;
        txn.commit().await?;
        metrics::counter!("vigil_webhook_deliveries_total", "outcome" => outcome).increment(1);
        Ok(())
    }
}
