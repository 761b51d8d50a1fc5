use std::collections::HashMap;

use chrono::{DateTime, SubsecRound, Utc};
use loco_rs::prelude::*;
use sea_orm::Select;
use serde_json::Value;
use uuid::Uuid;

pub use super::_entities::events::{self, ActiveModel, Column, Entity, Model};
use super::new_event::NewEvent;
use super::{
    alert_histories,
    alert_status::AlertStatus,
    alerts,
    listing::{search_any, CursorKey, ListQuery, Listable, SortKey},
    outbox_envelopes::{self, EnvelopeType},
    severity::Severity,
    suppression, tallies,
};
use crate::db::bulk;

fn total_of(requests: &[IngestRequest<'_>]) -> usize {
    requests.iter().map(|r| r.events.len()).sum()
}

impl ActiveModelBehavior for ActiveModel {}

/// An event row as [`bulk::insert`] writes it.
#[derive(serde::Serialize)]
struct EventRow<'a> {
    pid: Uuid,
    source: &'a str,
    event_type: &'a str,
    severity: &'a str,
    severity_rank: i16,
    description: Option<&'a str>,
    source_ip: Option<&'a str>,
    destination_ip: Option<&'a str>,
    occurred_at: String,
    metadata: Option<&'a Value>,
    dedup_key: Option<&'a str>,
    fingerprint: &'a str,
    alert_id: Option<i64>,
    allowlisted: bool,
    created_at: String,
    updated_at: String,
}

impl<'a> From<&'a Model> for EventRow<'a> {
    fn from(e: &'a Model) -> Self {
        Self {
            pid: e.pid,
            source: &e.source,
            event_type: &e.event_type,
            severity: &e.severity,
            severity_rank: e.severity_rank,
            description: e.description.as_deref(),
            source_ip: e.source_ip.as_deref(),
            destination_ip: e.destination_ip.as_deref(),
            occurred_at: bulk::time(&e.occurred_at),
            metadata: e.metadata.as_ref(),
            dedup_key: e.dedup_key.as_deref(),
            fingerprint: &e.fingerprint,
            alert_id: e.alert_id,
            allowlisted: e.allowlisted,
            created_at: bulk::time(&e.created_at),
            updated_at: bulk::time(&e.updated_at),
        }
    }
}

/// The events insert (the columns of [`EventRow`]), returning the row ids.
fn events_insert_sql(backend: sea_orm::DbBackend) -> String {
    use bulk::Col::{BigInt, Bool, Json, SmallInt, Text, Time, Uuid as Id};
    bulk::insert_sql(
        backend,
        "events",
        &[
            ("pid", Id),
            ("source", Text),
            ("event_type", Text),
            ("severity", Text),
            ("severity_rank", SmallInt),
            ("description", Text),
            ("source_ip", Text),
            ("destination_ip", Text),
            ("occurred_at", Time),
            ("metadata", Json),
            ("dedup_key", Text),
            ("fingerprint", Text),
            ("alert_id", BigInt),
            ("allowlisted", Bool),
            ("created_at", Time),
            ("updated_at", Time),
        ],
        "RETURNING \"id\", \"pid\"",
    )
}

/// An event as stored, and the alert it created or joined.
/// One request's events, stored together with other requests' in one
/// transaction ([`Model::ingest`]).
#[derive(Debug, Clone, Copy)]
pub struct IngestRequest<'a> {
    pub events: &'a [NewEvent],
    /// The request's correlation id, carried by its envelopes.
    pub correlation_id: &'a str,
}

#[derive(Debug, Clone)]
pub struct Ingested {
    pub event: Model,
    pub alert: Option<alerts::Model>,
}

impl Model {
    /// Stores the events of several requests (each with its correlation id)
    /// and promotes those at or above `threshold`, all in the caller's
    /// transaction: each event with its alert, history entry and envelope,
    /// or none of them. The events of one fingerprint share one alert
    /// upsert, and each alert they touch gets one envelope: `alert.created`
    /// if this call opened it, else `alert.updated`, carrying the alert as
    /// it now stands. Returns each request's events in order, and the
    /// envelopes when `claimed_by` claimed them for a dispatcher (to hand
    /// over once the transaction commits).
    ///
    /// # Errors
    /// Database errors.
    pub async fn ingest<C: ConnectionTrait>(
        db: &C,
        requests: &[IngestRequest<'_>],
        threshold: Severity,
        rules: &suppression::Rules,
        claimed_by: Option<Uuid>,
    ) -> ModelResult<(Vec<Vec<Ingested>>, Vec<outbox_envelopes::Claimed>)> {
        let now = Utc::now();
        // Allowlisted sources are stored, marked, and promote nothing.
        let allowlisted: Vec<bool> = if rules.allowlist.is_empty() {
            vec![false; total_of(requests)]
        } else {
            requests
                .iter()
                .flat_map(|r| r.events.iter())
                .map(|e| e.source_ip.is_some_and(|ip| rules.allowlist.contains(ip)))
                .collect()
        };
        let total: usize = requests.iter().map(|r| r.events.len()).sum();
        let flat = || {
            requests
                .iter()
                .flat_map(|r| r.events.iter().map(move |i| (i, r.correlation_id)))
        };
        let pids: Vec<Uuid> = (0..total).map(|_| Uuid::now_v7()).collect();
        let fingerprints: Vec<String> = flat().map(|(item, _)| item.fingerprint()).collect();
        // One promotion per fingerprint, in order of first appearance, with
        // the correlation id of its latest event.
        let mut promotions: Vec<alerts::Promotion<'_>> = Vec::new();
        let mut cids: Vec<&str> = Vec::new();
        let mut group_of: HashMap<&str, usize> = HashMap::new();
        for ((((item, cid), fp), &pid), &allowed) in
            flat().zip(&fingerprints).zip(&pids).zip(&allowlisted)
        {
            if item.severity < threshold || allowed {
                continue;
            }
            if let Some(&g) = group_of.get(fp.as_str()) {
                let p = &mut promotions[g];
                p.occurrences += 1;
                p.severity = p.severity.max(item.severity);
                p.first_seen = p.first_seen.min(item.occurred_at);
                p.last_seen = p.last_seen.max(item.occurred_at);
                cids[g] = cid;
            } else {
                group_of.insert(fp, promotions.len());
                promotions.push(alerts::Promotion {
                    fingerprint: fp,
                    first: item,
                    first_pid: pid,
                    occurrences: 1,
                    severity: item.severity,
                    first_seen: item.occurred_at,
                    last_seen: item.occurred_at,
                });
                cids.push(cid);
            }
        }
        let mut alerts = alerts::Model::promote(db, &promotions).await?;

        // Silences: each alert marked as the silences in force say.
        let mut marks = Vec::new();
        let mut suppressed_events = 0_u64;
        for p in &promotions {
            let Some(promoted) = alerts.get_mut(p.fingerprint) else {
                return Err(ModelError::EntityNotFound);
            };
            let alert = &mut promoted.alert;
            if rules.silences.is_empty() && !alert.suppressed {
                continue;
            }
            let silencer =
                suppression::silencer(&rules.silences, alert, p.first.dedup_key.as_deref(), now);
            let by = silencer.map(|s| s.to_string());
            if alert.suppressed != silencer.is_some() || alert.silenced_by != by {
                marks.push((alert.id, silencer));
                alert.suppressed = silencer.is_some();
                alert.silenced_by = by;
            }
            if alert.suppressed {
                suppressed_events += u64::try_from(p.occurrences).unwrap_or_default();
            }
        }
        suppression::mark(db, &marks).await?;

        // History and envelopes in the order the alerts were first touched.
        let mut opened = Vec::new();
        let mut envelopes = Vec::with_capacity(promotions.len());
        for (p, cid) in promotions.iter().zip(&cids) {
            let Some(alerts::Promoted { alert, created }) = alerts.get(p.fingerprint) else {
                return Err(ModelError::EntityNotFound);
            };
            let kind = if *created {
                opened.push(alert.id);
                EnvelopeType::Created
            } else {
                EnvelopeType::Updated
            };
            envelopes.push(outbox_envelopes::NewEnvelope {
                kind,
                alert_pid: alert.pid,
                severity: alert.severity(),
                payload: alert.envelope_payload(),
                correlation_id: cid,
                suppressed: alert.suppressed,
            });
        }
        alert_histories::Model::record_created(db, &opened).await?;
        let allowlisted_events = allowlisted.iter().filter(|a| **a).count() as u64;
        metrics::counter!("vigil_alerts_opened_total").increment(opened.len() as u64);
        metrics::counter!("vigil_alerts_joined_total")
            .increment((promotions.len() - opened.len()) as u64);
        metrics::counter!("vigil_events_suppressed_total").increment(suppressed_events);
        metrics::counter!("vigil_events_allowlisted_total").increment(allowlisted_events);
        tallies::Model::add(
            db,
            &[
                (tallies::EVENTS, i64::try_from(total).unwrap_or(i64::MAX)),
                (
                    &tallies::alerts(AlertStatus::Open),
                    i64::try_from(opened.len()).unwrap_or(i64::MAX),
                ),
            ],
        )
        .await?;
        let claimed = outbox_envelopes::Model::append_many(db, envelopes, claimed_by).await?;

        // The events as they are stored: built here, so only the row ids
        // come back from the insert (timestamps at the databases' common
        // precision, microseconds, so a later read returns the same).
        let stamp = |t: DateTime<Utc>| t.trunc_subsecs(6).fixed_offset();
        let created = stamp(now);
        let mut events = Vec::with_capacity(total);
        let mut alert_of = Vec::with_capacity(total);
        for ((((item, _), pid), fingerprint), &allowed) in
            flat().zip(&pids).zip(fingerprints).zip(&allowlisted)
        {
            let alert = (item.severity >= threshold && !allowed)
                .then(|| alerts.get(&fingerprint).map(|p| &p.alert))
                .flatten();
            events.push(Self {
                id: 0,
                pid: *pid,
                source: item.source.clone(),
                event_type: item.event_type.clone(),
                severity: item.severity.as_str().to_string(),
                severity_rank: item.severity.rank(),
                description: item.description.clone(),
                source_ip: item.source_ip.map(|ip| ip.to_string()),
                destination_ip: item.destination_ip.map(|ip| ip.to_string()),
                occurred_at: stamp(item.occurred_at),
                metadata: item.metadata.clone().map(Value::Object),
                dedup_key: item.dedup_key.clone(),
                fingerprint,
                alert_id: alert.map(|a| a.id),
                allowlisted: allowed,
                created_at: created,
                updated_at: created,
            });
            alert_of.push(alert.cloned());
        }
        let rows: Vec<EventRow<'_>> = events.iter().map(EventRow::from).collect();
        let returned =
            bulk::insert(db, &events_insert_sql(db.get_database_backend()), &rows).await?;
        drop(rows);
        let mut ids: HashMap<Uuid, i64> = HashMap::with_capacity(total);
        for row in returned {
            ids.insert(row.try_get("", "pid")?, row.try_get("", "id")?);
        }
        for event in &mut events {
            event.id = *ids.get(&event.pid).ok_or(ModelError::EntityNotFound)?;
        }
        let mut ingested = events
            .into_iter()
            .zip(alert_of)
            .map(|(event, alert)| Ingested { event, alert });
        let per_request = requests
            .iter()
            .map(|r| ingested.by_ref().take(r.events.len()).collect())
            .collect();
        Ok((per_request, claimed))
    }

    /// Deletes events created before `cutoff`, keeping every event that
    /// opened an alert (alerts are kept, and so is their first event).
    ///
    /// # Errors
    /// Database errors.
    pub async fn purge_before(db: &DatabaseConnection, cutoff: DateTime<Utc>) -> ModelResult<u64> {
        use sea_orm::sea_query::Query;
        let opening = Query::select()
            .column(alerts::Column::EventPid)
            .from(alerts::Entity)
            .to_owned();
        let (_writer, txn) = crate::db::write::begin_write(db).await?;
        let res = Entity::delete_many()
            .filter(Column::CreatedAt.lt(cutoff.fixed_offset()))
            .filter(Column::Pid.not_in_subquery(opening))
            .exec(&txn)
            .await?;
        let gone = i64::try_from(res.rows_affected).unwrap_or(i64::MAX);
        tallies::Model::add(&txn, &[(tallies::EVENTS, -gone)]).await?;
        txn.commit().await?;
        Ok(res.rows_affected)
    }

    /// Finds an event by public id.
    ///
    /// # Errors
    /// `NotFound` when there is none (or the id is not a UUID); database errors.
    pub async fn find_by_pid(db: &DatabaseConnection, pid: &str) -> Result<Self> {
        super::find_by_pid::<Entity, _>(db, "event", Column::Pid, pid).await
    }
}

impl Listable for Entity {
    const ID: Column = Column::Id;

    /// The events matching `q` (`since`/`until` apply to `occurred_at`).
    fn filtered(q: &ListQuery, _: sea_orm::DbBackend) -> Select<Entity> {
        let f = &q.filters;
        let mut sel = Entity::find();
        if !f.severity.is_empty() {
            sel = sel.filter(Column::SeverityRank.is_in(f.severity.iter().map(|s| s.rank())));
        }
        for (col, vals) in [
            (Column::Source, &f.source),
            (Column::EventType, &f.event_type),
            (Column::SourceIp, &f.source_ip),
        ] {
            if !vals.is_empty() {
                sel = sel.filter(col.is_in(vals.iter().cloned()));
            }
        }
        if let Some(since) = f.since {
            sel = sel.filter(Column::OccurredAt.gte(since.fixed_offset()));
        }
        if let Some(until) = f.until {
            sel = sel.filter(Column::OccurredAt.lte(until.fixed_offset()));
        }
        if let Some(text) = &f.search {
            sel = sel.filter(search_any::<Entity, _>(
                &[Column::Source, Column::EventType, Column::Description],
                text,
            ));
        }
        sel
    }

    fn sort_column(key: SortKey) -> Column {
        match key {
            SortKey::Severity => Column::SeverityRank,
            SortKey::OccurredAt => Column::OccurredAt,
            SortKey::CreatedAt | SortKey::LastSeen | SortKey::Occurrences => Column::CreatedAt,
        }
    }

    fn position(event: &Model, key: SortKey) -> (CursorKey, i64) {
        let at = match key {
            SortKey::Severity => CursorKey::Int(i64::from(event.severity_rank)),
            SortKey::OccurredAt => CursorKey::Time(event.occurred_at),
            SortKey::CreatedAt | SortKey::LastSeen | SortKey::Occurrences => {
                CursorKey::Time(event.created_at)
            }
        };
        (at, event.id)
    }

    fn tallies(q: &ListQuery) -> Option<Vec<String>> {
        q.is_unfiltered().then(|| vec![tallies::EVENTS.to_string()])
    }
}
