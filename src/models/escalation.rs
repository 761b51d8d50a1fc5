//! Escalation policies (Alerta's escalation, Alertmanager's repeat): an
//! alert of at least `min_severity` that is still OPEN — nobody
//! acknowledged it — `after_minutes` after it opened moves to ESCALATED by
//! `system`, with a history entry and an `alert.escalated` envelope (so
//! webhooks fire). With `renotify_minutes`, an escalated alert nobody has
//! acknowledged gets another `alert.escalated` envelope that often.
//!
//! [`run_once`] does one pass at a given time: the server calls it every
//! `operations.tick_seconds`, tests call it with the time they want. Every
//! move is a conditional update, so when several instances share the
//! database exactly one acts on each alert; the state is in the database,
//! so a restart loses nothing.
use chrono::{DateTime, Duration, SubsecRound, Utc};
use loco_rs::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

pub use super::_entities::escalation_policies::{self, ActiveModel, Column, Entity, Model};
use super::{
    alert_status::AlertStatus,
    alerts::{self, Actor},
    audit::{self, By, Entry, SYSTEM},
    outbox_envelopes::{self, EnvelopeType},
    severity::Severity,
    FieldErrors, Invalid,
};
use crate::settings::ConfiguredPolicy;

impl ActiveModelBehavior for ActiveModel {}

/// `POST /api/escalation-policies` body.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPolicy {
    #[schema(example = "critical unacknowledged", max_length = 100)]
    pub name: String,
    /// Alerts at or above this severity.
    #[schema(example = "CRITICAL")]
    pub min_severity: String,
    /// Escalate when still OPEN this many minutes after opening (1 to 10,080).
    #[schema(example = 15)]
    pub after_minutes: i32,
    /// Then notify again this often until acknowledged (1 to 10,080).
    #[schema(example = 30)]
    pub renotify_minutes: Option<i32>,
    /// Default true.
    pub enabled: Option<bool>,
}

/// `PATCH /api/escalation-policies/{id}` body: any of the fields.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyChange {
    #[schema(max_length = 100)]
    pub name: Option<String>,
    pub min_severity: Option<String>,
    pub after_minutes: Option<i32>,
    /// `null` stops re-notification.
    #[serde(default, deserialize_with = "super::alerts::double_option")]
    #[schema(value_type = Option<i32>)]
    pub renotify_minutes: Option<Option<i32>>,
    pub enabled: Option<bool>,
}

/// A policy as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PolicySnapshot {
    /// Its id; `config:<name>` for a policy of the configuration file.
    pub id: String,
    pub name: String,
    pub min_severity: Severity,
    pub after_minutes: i32,
    pub renotify_minutes: Option<i32>,
    pub enabled: bool,
    /// `api` or `config` (read-only here).
    pub origin: &'static str,
    pub created_by: String,
}

/// A policy in force: from the database or the configuration.
#[derive(Debug, Clone)]
pub struct Policy {
    pub name: String,
    pub min_rank: i16,
    pub after: Duration,
    pub renotify: Option<Duration>,
}

const WEEK_MINUTES: i32 = 10_080;

fn check_fields(
    name: &str,
    min_severity: &str,
    after: i32,
    renotify: Option<i32>,
) -> Result<Severity, FieldErrors> {
    let mut fields = FieldErrors::new();
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        fields.insert("name".into(), vec!["Must be 1 to 100 characters.".into()]);
    }
    let severity = min_severity
        .parse::<Severity>()
        .map_err(|m| fields.insert("min_severity".into(), vec![m]))
        .ok();
    if !(1..=WEEK_MINUTES).contains(&after) {
        fields.insert("after_minutes".into(), vec!["Must be 1 to 10080.".into()]);
    }
    if renotify.is_some_and(|r| !(1..=WEEK_MINUTES).contains(&r)) {
        fields.insert(
            "renotify_minutes".into(),
            vec!["Must be 1 to 10080.".into()],
        );
    }
    match severity {
        Some(s) if fields.is_empty() => Ok(s),
        _ => Err(fields),
    }
}

impl Model {
    #[must_use]
    pub fn snapshot(&self) -> PolicySnapshot {
        PolicySnapshot {
            id: self.pid.to_string(),
            name: self.name.clone(),
            min_severity: Severity::from_rank(self.min_severity_rank),
            after_minutes: self.after_minutes,
            renotify_minutes: self.renotify_minutes,
            enabled: self.enabled,
            origin: "api",
            created_by: self.created_by.clone(),
        }
    }

    /// # Errors
    /// 400 naming the invalid fields; database errors.
    pub async fn create(db: &DatabaseConnection, by: &By, params: &NewPolicy) -> Result<Self> {
        let severity = check_fields(
            &params.name,
            &params.min_severity,
            params.after_minutes,
            params.renotify_minutes,
        )
        .map_err(Invalid)?;
        let now: sea_orm::prelude::DateTimeWithTimeZone = Utc::now().trunc_subsecs(6).into();
        let (_writer, txn) = crate::db::write::begin_write(db).await?;
        let row = ActiveModel {
            pid: ActiveValue::set(Uuid::now_v7()),
            name: ActiveValue::set(params.name.trim().to_string()),
            min_severity_rank: ActiveValue::set(severity.rank()),
            after_minutes: ActiveValue::set(params.after_minutes),
            renotify_minutes: ActiveValue::set(params.renotify_minutes),
            enabled: ActiveValue::set(params.enabled.unwrap_or(true)),
            created_by: ActiveValue::set(by.actor.chars().take(200).collect()),
            created_at: ActiveValue::set(now),
            updated_at: ActiveValue::set(now),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
        audit::commit_with(
            txn,
            by,
            Entry::new("escalation_policy.created", row.pid.to_string()).after(row.snapshot()),
        )
        .await?;
        Ok(row)
    }

    /// # Errors
    /// 404; 400 naming the invalid fields; database errors.
    pub async fn change(
        db: &DatabaseConnection,
        by: &By,
        pid: &str,
        change: &PolicyChange,
    ) -> Result<Self> {
        let (_writer, txn) = crate::db::write::begin_write(db).await?;
        let row = Self::find_by_pid(&txn, pid).await?;
        let name = change.name.clone().unwrap_or_else(|| row.name.clone());
        let min = change.min_severity.clone().unwrap_or_else(|| {
            Severity::from_rank(row.min_severity_rank)
                .as_str()
                .to_string()
        });
        let after = change.after_minutes.unwrap_or(row.after_minutes);
        let renotify = change.renotify_minutes.unwrap_or(row.renotify_minutes);
        let severity = check_fields(&name, &min, after, renotify).map_err(Invalid)?;
        let updated = ActiveModel {
            id: ActiveValue::unchanged(row.id),
            name: ActiveValue::set(name.trim().to_string()),
            min_severity_rank: ActiveValue::set(severity.rank()),
            after_minutes: ActiveValue::set(after),
            renotify_minutes: ActiveValue::set(renotify),
            enabled: ActiveValue::set(change.enabled.unwrap_or(row.enabled)),
            updated_at: ActiveValue::set(Utc::now().trunc_subsecs(6).into()),
            ..Default::default()
        }
        .update(&txn)
        .await?;
        audit::commit_with(
            txn,
            by,
            Entry::new("escalation_policy.updated", row.pid.to_string())
                .before(row.snapshot())
                .after(updated.snapshot()),
        )
        .await?;
        Ok(updated)
    }

    /// # Errors
    /// 404; database errors.
    pub async fn remove(db: &DatabaseConnection, by: &By, pid: &str) -> Result<()> {
        let (_writer, txn) = crate::db::write::begin_write(db).await?;
        let row = Self::find_by_pid(&txn, pid).await?;
        Entity::delete_by_id(row.id).exec(&txn).await?;
        audit::commit_with(
            txn,
            by,
            Entry::new("escalation_policy.deleted", row.pid.to_string()).before(row.snapshot()),
        )
        .await?;
        Ok(())
    }

    /// # Errors
    /// 404; database errors.
    pub async fn find_by_pid<C: ConnectionTrait>(db: &C, pid: &str) -> Result<Self> {
        super::find_by_pid::<Entity, _>(db, "escalation policy", Column::Pid, pid).await
    }

    /// Every policy made through the API, oldest first.
    ///
    /// # Errors
    /// Database errors.
    pub async fn all(db: &DatabaseConnection) -> ModelResult<Vec<Self>> {
        Ok(Entity::find().order_by_asc(Column::Id).all(db).await?)
    }
}

impl ConfiguredPolicy {
    #[must_use]
    pub fn snapshot(&self) -> PolicySnapshot {
        PolicySnapshot {
            id: format!("config:{}", self.name),
            name: self.name.clone(),
            min_severity: self.min_severity,
            after_minutes: self.after_minutes,
            renotify_minutes: self.renotify_minutes,
            enabled: true,
            origin: "config",
            created_by: "config".to_string(),
        }
    }
}

/// Every policy as `GET /api/escalation-policies` lists them: the
/// configuration's (`origin: config`), then the database's.
///
/// # Errors
/// Database errors.
pub async fn listed(
    db: &DatabaseConnection,
    configured: &[ConfiguredPolicy],
) -> ModelResult<Vec<PolicySnapshot>> {
    let mut all: Vec<PolicySnapshot> = configured.iter().map(ConfiguredPolicy::snapshot).collect();
    all.extend(Model::all(db).await?.iter().map(Model::snapshot));
    Ok(all)
}

/// The policies in force: the enabled ones of the database and those of
/// the configuration.
///
/// # Errors
/// Database errors.
pub async fn in_force(
    db: &DatabaseConnection,
    configured: &[ConfiguredPolicy],
) -> ModelResult<Vec<Policy>> {
    let mut out: Vec<Policy> = configured
        .iter()
        .map(|c| Policy {
            name: c.name.clone(),
            min_rank: c.min_severity.rank(),
            after: Duration::minutes(i64::from(c.after_minutes.max(1))),
            renotify: c
                .renotify_minutes
                .map(|m| Duration::minutes(i64::from(m.max(1)))),
        })
        .collect();
    out.extend(
        Model::all(db)
            .await?
            .into_iter()
            .filter(|p| p.enabled)
            .map(|p| Policy {
                name: p.name,
                min_rank: p.min_severity_rank,
                after: Duration::minutes(i64::from(p.after_minutes)),
                renotify: p.renotify_minutes.map(|m| Duration::minutes(i64::from(m))),
            }),
    );
    Ok(out)
}

/// What one pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pass {
    pub escalated: usize,
    pub renotified: usize,
}

/// Alerts handled per policy and pass, at most.
const PASS_LIMIT: u64 = 200;

/// One escalation pass at `now`: escalates the alerts each policy catches
/// and re-notifies the escalated ones that are due. Suppressed alerts are
/// left alone (a silence is a decision not to be paged).
///
/// # Errors
/// Database errors.
pub async fn run_once(
    db: &DatabaseConnection,
    policies: &[Policy],
    now: DateTime<Utc>,
) -> Result<Pass> {
    let mut pass = Pass::default();
    for policy in policies {
        let opened_before: sea_orm::prelude::DateTimeWithTimeZone = (now - policy.after).into();
        let due = alerts::Entity::find()
            .filter(alerts::Column::Status.eq(AlertStatus::Open.as_str()))
            .filter(alerts::Column::SeverityRank.gte(policy.min_rank))
            .filter(alerts::Column::Suppressed.eq(false))
            .filter(alerts::Column::CreatedAt.lte(opened_before))
            .order_by_asc(alerts::Column::Id)
            .limit(PASS_LIMIT)
            .all(db)
            .await?;
        for alert in due {
            let note = format!(
                "escalated by policy `{}`: not acknowledged within {} minutes",
                policy.name,
                policy.after.num_minutes()
            );
            let actor = Actor {
                name: SYSTEM,
                correlation_id: "escalation",
            };
            let pid = alert.pid.to_string();
            match alerts::Model::move_status(db, &pid, AlertStatus::Escalated, Some(&note), actor)
                .await
            {
                // Moved by this call (else another instance moved it first,
                // and the optimistic update refused ours). Re-notification
                // counts from this change (`updated_at`): nothing else to
                // write, so nothing outside its transaction.
                Ok((_, true)) => pass.escalated += 1,
                Ok(_) => {}
                Err(err) if is_lost_race(&err) => {}
                Err(err) => return Err(err),
            }
        }
        let Some(every) = policy.renotify else {
            continue;
        };
        let notified_before: sea_orm::prelude::DateTimeWithTimeZone = (now - every).into();
        let due = alerts::Entity::find()
            .filter(alerts::Column::Status.eq(AlertStatus::Escalated.as_str()))
            .filter(alerts::Column::AcknowledgedAt.is_null())
            .filter(alerts::Column::SeverityRank.gte(policy.min_rank))
            .filter(alerts::Column::Suppressed.eq(false))
            .filter(
                // Not yet noted (the escalation's own envelope was the
                // first notice: counted from its change), or noted before.
                sea_orm::Condition::any()
                    .add(alerts::Column::EscalationNotifiedAt.lte(notified_before))
                    .add(
                        sea_orm::Condition::all()
                            .add(alerts::Column::EscalationNotifiedAt.is_null())
                            .add(alerts::Column::UpdatedAt.lte(notified_before)),
                    ),
            )
            .order_by_asc(alerts::Column::Id)
            .limit(PASS_LIMIT)
            .all(db)
            .await?;
        for alert in due {
            if renotify(db, &alert, now, &policy.name).await? {
                pass.renotified += 1;
            }
        }
    }
    if pass.escalated > 0 || pass.renotified > 0 {
        metrics::counter!("vigil_escalations_total").increment(pass.escalated as u64);
        metrics::counter!("vigil_escalation_renotifications_total")
            .increment(pass.renotified as u64);
    }
    Ok(pass)
}

fn is_lost_race(err: &Error) -> bool {
    matches!(err, Error::Any(e) if e.downcast_ref::<alerts::ChangeError>().is_some())
}

/// Another `alert.escalated` envelope for `alert`, if this instance is the
/// one that moves its `escalation_notified_at` on.
async fn renotify(
    db: &DatabaseConnection,
    alert: &alerts::Model,
    now: DateTime<Utc>,
    policy: &str,
) -> Result<bool> {
    let (_writer, txn) = crate::db::write::begin_write(db).await?;
    let stamp: sea_orm::prelude::DateTimeWithTimeZone = now.into();
    let taken = alerts::Entity::update_many()
        .col_expr(
            alerts::Column::EscalationNotifiedAt,
            sea_orm::sea_query::Expr::value(Some(stamp)),
        )
        .filter(alerts::Column::Id.eq(alert.id))
        .filter(alerts::Column::Status.eq(AlertStatus::Escalated.as_str()))
        .filter(alerts::Column::AcknowledgedAt.is_null())
        // Silenced since it was read: a silence is a decision not to page.
        .filter(alerts::Column::Suppressed.eq(false))
        .filter(match alert.escalation_notified_at {
            Some(at) => alerts::Column::EscalationNotifiedAt.eq(at),
            None => alerts::Column::EscalationNotifiedAt.is_null(),
        })
        .exec(&txn)
        .await?;
    if taken.rows_affected != 1 {
        txn.rollback().await?;
        return Ok(false);
    }
    let mut payload = alert.envelope_payload();
    payload["renotification"] = json!(true);
    payload["policy"] = json!(policy);
    outbox_envelopes::Model::append(
        &txn,
        EnvelopeType::Escalated,
        alert.pid,
        alert.severity(),
        payload,
        "escalation",
    )
    .await?;
    super::alert_histories::Model::record(
        &txn,
        alert.id,
        super::alert_histories::Entry {
            action: "renotified",
            actor: SYSTEM,
            note: Some(&format!("still not acknowledged (policy `{policy}`)")),
            ..Default::default()
        },
    )
    .await?;
    txn.commit().await?;
    Ok(true)
}
