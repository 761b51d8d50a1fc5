//! Which silence, if any, quiets an alert, and keeping the alerts'
//! `suppressed` and `silenced_by` in step with the silences.
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use loco_rs::prelude::*;
use uuid::Uuid;

use super::{alert_status::AlertStatus, alerts, allowlist, silences};

/// The allowlist and the live silences, compiled: what one ingestion round
/// applies (kept by `ingestion::gate`, which reloads it).
#[derive(Debug, Default)]
pub struct Rules {
    pub allowlist: allowlist::Compiled,
    pub silences: Vec<silences::Compiled>,
}

/// The first silence in force at `now` that matches `alert` (joined by an
/// event with `dedup_key`), if any.
#[must_use]
pub fn silencer(
    silences: &[silences::Compiled],
    alert: &alerts::Model,
    dedup_key: Option<&str>,
    now: DateTime<Utc>,
) -> Option<Uuid> {
    silences
        .iter()
        .find(|s| s.in_force(now) && s.matches(alert, dedup_key))
        .map(|s| s.pid)
}

/// Sets `suppressed`/`silenced_by` on the alerts whose marks differ from
/// `wanted` (alert id → silence), one statement per silence.
///
/// # Errors
/// Database errors.
pub async fn mark<C: ConnectionTrait>(db: &C, wanted: &[(i64, Option<Uuid>)]) -> ModelResult<()> {
    let mut by_silence: BTreeMap<Option<Uuid>, Vec<i64>> = BTreeMap::new();
    for (id, silence) in wanted {
        by_silence.entry(*silence).or_default().push(*id);
    }
    for (silence, ids) in by_silence {
        set(db, &ids, silence, None).await?;
    }
    Ok(())
}

/// Marks the alerts `ids` as quieted by `silence` (or by none), 500 per
/// statement; with `was`, only those whose marks are still these.
async fn set<C: ConnectionTrait>(
    db: &C,
    ids: &[i64],
    silence: Option<Uuid>,
    was: Option<(bool, Option<&str>)>,
) -> ModelResult<()> {
    for chunk in ids.chunks(500) {
        let mut update = alerts::Entity::update_many()
            .col_expr(
                alerts::Column::Suppressed,
                sea_orm::sea_query::Expr::value(silence.is_some()),
            )
            .col_expr(
                alerts::Column::SilencedBy,
                sea_orm::sea_query::Expr::value(silence.map(|s| s.to_string())),
            )
            .filter(alerts::Column::Id.is_in(chunk.to_vec()));
        if let Some((suppressed, by)) = was {
            update = update
                .filter(alerts::Column::Suppressed.eq(suppressed))
                .filter(match by {
                    Some(by) => alerts::Column::SilencedBy.eq(by),
                    None => alerts::Column::SilencedBy.is_null(),
                });
        }
        update.exec(db).await?;
    }
    Ok(())
}

/// [`mark`] with [`reconcile_open`]'s [`Remark`]s, but only where an
/// alert's marks are still as the page read them: a mark written since
/// (by ingestion, or by the pass of a newer change) is newer than this
/// pass's view and stays.
async fn mark_unchanged<C: ConnectionTrait>(db: &C, remarks: &[Remark]) -> ModelResult<()> {
    type Key<'a> = (bool, Option<&'a str>, Option<Uuid>);
    let mut groups: BTreeMap<Key<'_>, Vec<i64>> = BTreeMap::new();
    for r in remarks {
        groups
            .entry((r.was.0, r.was.1.as_deref(), r.wanted))
            .or_default()
            .push(r.id);
    }
    for ((suppressed, by, silence), ids) in groups {
        set(db, &ids, silence, Some((suppressed, by))).await?;
    }
    Ok(())
}

/// [`reconcile_open`] in a write transaction of its own (the operations
/// tick, when a window opened or closed).
///
/// # Errors
/// Database errors.
pub async fn remark_open(db: &DatabaseConnection, now: DateTime<Utc>) -> ModelResult<()> {
    let (_writer, txn) = crate::db::write::begin_write(db).await?;
    reconcile_open(&txn, now).await?;
    txn.commit().await?;
    Ok(())
}

/// Marks every open alert as the silences now say (after a silence is
/// created, changed or ended). Matchers on `dedup_key` are an event's and
/// are applied as events arrive.
///
/// Nothing serializes this pass with ingestion or with another instance's
/// pass on PostgreSQL (nor, on SQLite, with the time spent waiting for the
/// write lock), so it never acts on a view older than the marks it
/// changes: each page of alerts is read first and the silences after it,
/// they are judged at `now` or the present, whichever is later, and a mark
/// is only changed where it still is what the page read.
///
/// # Errors
/// Database errors.
pub async fn reconcile_open<C: ConnectionTrait>(db: &C, now: DateTime<Utc>) -> ModelResult<()> {
    let open: Vec<&str> = AlertStatus::ALL
        .iter()
        .filter(|s| s.is_open())
        .map(|s| s.as_str())
        .collect();
    let mut after = 0_i64;
    loop {
        let rows = alerts::Entity::find()
            .filter(alerts::Column::Status.is_in(open.clone()))
            .filter(alerts::Column::Id.gt(after))
            .order_by_asc(alerts::Column::Id)
            .limit(1_000)
            .all(db)
            .await?;
        let Some(last) = rows.last() else { break };
        after = last.id;
        let at = now.max(Utc::now());
        let compiled: Vec<silences::Compiled> = silences::Model::live(db, at)
            .await?
            .iter()
            .filter_map(silences::Model::compile)
            .collect();
        let changed: Vec<Remark> = rows
            .iter()
            .filter_map(|a| {
                let current: Option<Uuid> = a.silenced_by.as_deref().and_then(|s| s.parse().ok());
                // A silence on `dedup_key` matched an event of this alert:
                // it holds while it is in force.
                let kept = current.filter(|c| {
                    compiled
                        .iter()
                        .any(|s| s.pid == *c && s.in_force(at) && s.on_dedup_key())
                });
                let wanted = kept.or_else(|| silencer(&compiled, a, None, at));
                (a.suppressed != wanted.is_some() || current != wanted).then(|| Remark {
                    id: a.id,
                    was: (a.suppressed, a.silenced_by.clone()),
                    wanted,
                })
            })
            .collect();
        mark_unchanged(db, &changed).await?;
    }
    Ok(())
}

/// One alert to mark again: its marks as read, and the silence wanted.
struct Remark {
    id: i64,
    was: (bool, Option<String>),
    wanted: Option<Uuid>,
}
