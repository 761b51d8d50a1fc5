use std::{collections::HashMap, net::IpAddr};

use chrono::{DateTime, Duration, SubsecRound, Utc};
use loco_rs::prelude::*;
use sea_orm::{Order, Select};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use uuid::Uuid;

pub use super::_entities::events::{self, ActiveModel, Column, Entity, Model};
use super::{
    alert_histories,
    alert_status::AlertStatus,
    alerts,
    listing::{list_window, search_any, Cursor, CursorKey, ListQuery, Listed, SortKey, Window},
    outbox_envelopes::{self, EnvelopeType},
    severity::Severity,
    tallies,
};
use crate::{db::bulk, errors::FieldErrors};

impl ActiveModelBehavior for ActiveModel {}

pub const MAX_DESCRIPTION: usize = 10_000;
/// Largest `metadata` object, serialised.
pub const MAX_METADATA_BYTES: usize = 64 * 1024;
pub const MAX_FUTURE_SKEW_MINUTES: i64 = 5;
/// The fields an event body may hold.
pub const FIELDS: [&str; 9] = [
    "source",
    "event_type",
    "severity",
    "description",
    "source_ip",
    "destination_ip",
    "occurred_at",
    "metadata",
    "dedup_key",
];

/// A valid event, parsed from a request body: it can only hold legal values.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub source: String,
    pub event_type: String,
    pub severity: Severity,
    pub description: Option<String>,
    pub source_ip: Option<IpAddr>,
    pub destination_ip: Option<IpAddr>,
    pub occurred_at: DateTime<Utc>,
    pub metadata: Option<Map<String, Value>>,
    pub dedup_key: Option<String>,
}

fn push(errors: &mut FieldErrors, field: &str, msg: impl Into<String>) {
    errors
        .entry(field.to_string())
        .or_default()
        .push(msg.into());
}

fn text(
    obj: &Map<String, Value>,
    field: &str,
    required: bool,
    max: usize,
    errors: &mut FieldErrors,
) -> Option<String> {
    match obj.get(field) {
        None | Some(Value::Null) => {
            if required {
                push(errors, field, "This field is required.");
            }
            None
        }
        Some(Value::String(s)) => check_text(field, s, required, max, errors).then(|| s.clone()),
        Some(other) => {
            push(
                errors,
                field,
                format!("Must be a string, not {}.", kind(other)),
            );
            None
        }
    }
}

/// Whether text `s` for `field` obeys the rules (no NUL, not blank when
/// `required`, at most `max` characters); else notes why in `errors`.
fn check_text(field: &str, s: &str, required: bool, max: usize, errors: &mut FieldErrors) -> bool {
    let len = s.chars().count();
    if s.contains('\0') {
        push(errors, field, crate::input::NUL_MESSAGE);
        false
    } else if required && s.trim().is_empty() {
        push(errors, field, "Must not be blank.");
        false
    } else if len > max {
        push(
            errors,
            field,
            format!("Must be at most {max} characters (got {len})."),
        );
        false
    } else {
        true
    }
}

/// Where a metadata object breaks the rules (NUL, size), if it does.
fn check_metadata(m: &Map<String, Value>, errors: &mut FieldErrors) -> bool {
    let json = serde_json::to_vec(m).unwrap_or_default();
    let size = json.len();
    let nul = crate::input::may_hold_nul(&json)
        .then(|| {
            m.iter().find_map(|(k, v)| {
                let path = format!("metadata.{k}");
                if k.contains('\0') {
                    Some(path)
                } else {
                    crate::input::nul_in(v, &path)
                }
            })
        })
        .flatten();
    if let Some(path) = nul {
        push(errors, &path, crate::input::NUL_MESSAGE);
        false
    } else if size > MAX_METADATA_BYTES {
        push(
            errors,
            "metadata",
            format!("Must be at most 64 KiB (got {size} bytes)."),
        );
        false
    } else {
        true
    }
}

/// The latest time an event may carry at `now`: SPEC §3 allows 5 minutes
/// of clock skew.
fn future_limit(now: DateTime<Utc>) -> DateTime<Utc> {
    now + Duration::minutes(MAX_FUTURE_SKEW_MINUTES)
}

/// The future rule for what clients send: a time more than 5 minutes
/// ahead of `now` is refused.
///
/// # Errors
/// The message for the `occurred_at` field.
pub fn refuse_future(at: DateTime<Utc>, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    if at > future_limit(now) {
        Err("Must not be more than 5 minutes in the future.".to_string())
    } else {
        Ok(at)
    }
}

/// The future rule for log lines: a time more than 5 minutes ahead of
/// `now` (a server whose clock runs ahead) becomes `now`; the line's own
/// time is kept by the caller.
#[must_use]
pub fn clamp_future(at: DateTime<Utc>, now: DateTime<Utc>) -> DateTime<Utc> {
    if at > future_limit(now) {
        now
    } else {
        at
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn ip(obj: &Map<String, Value>, field: &str, errors: &mut FieldErrors) -> Option<IpAddr> {
    let raw = text(obj, field, false, 64, errors)?;
    raw.parse::<IpAddr>().map_or_else(
        |_| {
            push(
                errors,
                field,
                format!("`{raw}` is not a valid IPv4 or IPv6 address."),
            );
            None
        },
        Some,
    )
}

impl NewEvent {
    /// An event Vigil builds itself (the log detector, tests): typed
    /// fields, the optional ones added with the `with_*` setters, then
    /// [`Self::checked`]. The caller applies the future rule it needs
    /// ([`refuse_future`] or [`clamp_future`]) to `occurred_at`.
    #[must_use]
    pub fn new(
        source: impl Into<String>,
        event_type: impl Into<String>,
        severity: Severity,
        occurred_at: DateTime<Utc>,
    ) -> Self {
        Self {
            source: source.into(),
            event_type: event_type.into(),
            severity,
            description: None,
            source_ip: None,
            destination_ip: None,
            occurred_at,
            metadata: None,
            dedup_key: None,
        }
    }

    #[must_use]
    pub fn with_description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    #[must_use]
    pub fn with_source_ip(mut self, ip: IpAddr) -> Self {
        self.source_ip = Some(ip);
        self
    }

    #[must_use]
    pub fn with_destination_ip(mut self, ip: IpAddr) -> Self {
        self.destination_ip = Some(ip);
        self
    }

    #[must_use]
    pub fn with_metadata(mut self, metadata: Map<String, Value>) -> Self {
        self.metadata = Some(metadata);
        self
    }

    #[must_use]
    pub fn with_dedup_key(mut self, key: impl Into<String>) -> Self {
        self.dedup_key = Some(key.into()).filter(|k: &String| !k.is_empty());
        self
    }

    /// This event, if it obeys the bounds [`Self::parse`] applies to a
    /// body (text lengths, no NUL, metadata size, a time from 1970 on).
    ///
    /// # Errors
    /// Field → messages for every field out of bounds.
    pub fn checked(self) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        check_text("source", &self.source, true, 255, &mut errors);
        check_text("event_type", &self.event_type, true, 100, &mut errors);
        if let Some(d) = &self.description {
            check_text("description", d, false, MAX_DESCRIPTION, &mut errors);
        }
        if let Some(k) = &self.dedup_key {
            check_text("dedup_key", k, false, 255, &mut errors);
        }
        if let Some(m) = &self.metadata {
            check_metadata(m, &mut errors);
        }
        if self.occurred_at.timestamp() < 0 {
            push(
                &mut errors,
                "occurred_at",
                "Must be 1970-01-01T00:00:00Z or later.",
            );
        }
        if errors.is_empty() {
            Ok(self)
        } else {
            Err(errors)
        }
    }

    /// Parses one event body, reporting every invalid field at once.
    ///
    /// # Errors
    /// Field → messages for each invalid or unknown field.
    pub fn parse(value: &Value, now: DateTime<Utc>) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        let Some(obj) = value.as_object() else {
            push(
                &mut errors,
                "body",
                format!("An event must be a JSON object, not {}.", kind(value)),
            );
            return Err(errors);
        };
        for key in obj.keys() {
            if !FIELDS.contains(&key.as_str()) {
                push(&mut errors, key, "Unknown field.");
            }
        }
        let source = text(obj, "source", true, 255, &mut errors);
        let event_type = text(obj, "event_type", true, 100, &mut errors);
        let severity = text(obj, "severity", true, 32, &mut errors).and_then(|s| {
            s.parse::<Severity>()
                .map_err(|e| push(&mut errors, "severity", e))
                .ok()
        });
        let description = text(obj, "description", false, MAX_DESCRIPTION, &mut errors);
        let source_ip = ip(obj, "source_ip", &mut errors);
        let destination_ip = ip(obj, "destination_ip", &mut errors);
        let occurred_at = match text(obj, "occurred_at", false, 64, &mut errors) {
            None => Some(now),
            Some(raw) => match DateTime::parse_from_rfc3339(&raw) {
                Ok(t) if t.timestamp() < 0 => {
                    push(
                        &mut errors,
                        "occurred_at",
                        "Must be 1970-01-01T00:00:00Z or later.",
                    );
                    None
                }
                Ok(t) => refuse_future(t.with_timezone(&Utc), now)
                    .map_err(|e| push(&mut errors, "occurred_at", e))
                    .ok(),
                Err(_) => {
                    push(
                        &mut errors,
                        "occurred_at",
                        format!(
                            "`{raw}` is not an RFC 3339 timestamp (e.g. 2026-11-20T10:00:00Z)."
                        ),
                    );
                    None
                }
            },
        };
        let metadata = match obj.get("metadata") {
            None | Some(Value::Null) => None,
            Some(Value::Object(m)) => check_metadata(m, &mut errors).then(|| m.clone()),
            Some(other) => {
                push(
                    &mut errors,
                    "metadata",
                    format!("Must be a JSON object, not {}.", kind(other)),
                );
                None
            }
        };
        let dedup_key = text(obj, "dedup_key", false, 255, &mut errors).filter(|k| !k.is_empty());

        match (source, event_type, severity, occurred_at) {
            (Some(source), Some(event_type), Some(severity), Some(occurred_at))
                if errors.is_empty() =>
            {
                Ok(Self {
                    source,
                    event_type,
                    severity,
                    description,
                    source_ip,
                    destination_ip,
                    occurred_at,
                    metadata,
                    dedup_key,
                })
            }
            _ => Err(errors),
        }
    }

    /// The alert fingerprint: the client's `dedup_key`, else
    /// `source + event_type + source_ip` (hashed to a fixed width).
    #[must_use]
    pub fn fingerprint(&self) -> String {
        let mut h = Sha256::new();
        if let Some(key) = &self.dedup_key {
            h.update(b"key\x1f");
            h.update(key.as_bytes());
        } else {
            h.update(b"auto\x1f");
            h.update(self.source.as_bytes());
            h.update(b"\x1f");
            h.update(self.event_type.as_bytes());
            h.update(b"\x1f");
            if let Some(ip) = self.source_ip {
                h.update(ip.to_string().as_bytes());
            }
        }
        hex::encode(h.finalize())
    }
}

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
            created_at: bulk::time(&e.created_at),
            updated_at: bulk::time(&e.updated_at),
        }
    }
}

/// The events insert (the columns of [`EventRow`]), returning the row ids.
fn events_insert_sql(backend: sea_orm::DbBackend) -> String {
    use bulk::Col::{BigInt, Json, SmallInt, Text, Time, Uuid as Id};
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
            ("created_at", Time),
            ("updated_at", Time),
        ],
        "RETURNING \"id\", \"pid\"",
    )
}

/// An event as stored, and the alert it created or joined.
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
        requests: &[(&[NewEvent], &str)],
        threshold: Severity,
        claimed_by: Option<Uuid>,
    ) -> ModelResult<(Vec<Vec<Ingested>>, Vec<outbox_envelopes::Claimed>)> {
        let now = Utc::now();
        let total: usize = requests.iter().map(|(items, _)| items.len()).sum();
        let flat = || {
            requests
                .iter()
                .flat_map(|&(items, cid)| items.iter().map(move |i| (i, cid)))
        };
        let pids: Vec<Uuid> = (0..total).map(|_| Uuid::now_v7()).collect();
        let fingerprints: Vec<String> = flat().map(|(item, _)| item.fingerprint()).collect();
        // One promotion per fingerprint, in order of first appearance, with
        // the correlation id of its latest event.
        let mut promotions: Vec<alerts::Promotion<'_>> = Vec::new();
        let mut cids: Vec<&str> = Vec::new();
        let mut group_of: HashMap<&str, usize> = HashMap::new();
        for (((item, cid), fp), &pid) in flat().zip(&fingerprints).zip(&pids) {
            if item.severity < threshold {
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
        let alerts = alerts::Model::promote(db, &promotions).await?;

        // History and envelopes in the order the alerts were first touched.
        let mut opened = Vec::new();
        let mut envelopes = Vec::with_capacity(promotions.len());
        for (p, cid) in promotions.iter().zip(&cids) {
            let Some((alert, created)) = alerts.get(p.fingerprint) else {
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
            });
        }
        alert_histories::Model::record_created(db, &opened).await?;
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
        for (((item, _), pid), fingerprint) in flat().zip(&pids).zip(fingerprints) {
            let alert = (item.severity >= threshold)
                .then(|| alerts.get(&fingerprint).map(|(a, _)| a))
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
            .map(|(items, _)| ingested.by_ref().take(items.len()).collect())
            .collect();
        Ok((per_request, claimed))
    }

    /// The events matching `q` (`since`/`until` apply to `occurred_at`).
    #[must_use]
    pub fn query(q: &ListQuery) -> Select<Entity> {
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
        let order = if q.ordering.descending {
            Order::Desc
        } else {
            Order::Asc
        };
        let col = Self::sort_column(q.ordering.key);
        sel.order_by(col, order.clone()).order_by(Column::Id, order)
    }

    fn sort_column(key: SortKey) -> Column {
        match key {
            SortKey::Severity => Column::SeverityRank,
            SortKey::OccurredAt => Column::OccurredAt,
            SortKey::CreatedAt | SortKey::LastSeen | SortKey::Occurrences => Column::CreatedAt,
        }
    }

    /// This event's position in `key` order, for the next page's cursor.
    #[must_use]
    pub fn cursor(&self, key: SortKey) -> Cursor {
        let key = match key {
            SortKey::Severity => CursorKey::Int(i64::from(self.severity_rank)),
            SortKey::OccurredAt => CursorKey::Time(self.occurred_at),
            SortKey::CreatedAt | SortKey::LastSeen | SortKey::Occurrences => {
                CursorKey::Time(self.created_at)
            }
        };
        Cursor {
            key,
            id: self.id,
            ordering: None,
        }
    }

    /// The `window` (a page, or a keyset slice after a cursor) of the
    /// events matching `q`, in `q`'s order.
    ///
    /// # Errors
    /// Database errors.
    pub async fn list(
        db: &DatabaseConnection,
        q: &ListQuery,
        window: &Window,
    ) -> ModelResult<Listed<Self>> {
        let cols = (Self::sort_column(q.ordering.key), Column::Id);
        let key = q.ordering.key;
        let sel = Self::query(q);
        let tally = q.is_unfiltered().then(|| vec![tallies::EVENTS.to_string()]);
        Ok(list_window(
            db,
            sel,
            cols,
            q.ordering.descending,
            window,
            tally.as_deref(),
            |r| r.cursor(key),
        )
        .await?)
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
    /// `EntityNotFound`; database errors.
    pub async fn find_by_pid(db: &DatabaseConnection, pid: &str) -> ModelResult<Self> {
        let pid = Uuid::parse_str(pid).map_err(|_| ModelError::EntityNotFound)?;
        Entity::find()
            .filter(Column::Pid.eq(pid))
            .one(db)
            .await?
            .ok_or(ModelError::EntityNotFound)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_future_rule_refuses_for_bodies_and_clamps_for_log_lines() {
        let now = Utc::now();
        let soon = now + Duration::minutes(MAX_FUTURE_SKEW_MINUTES);
        let late = soon + Duration::seconds(1);
        assert_eq!(refuse_future(soon, now), Ok(soon));
        assert!(refuse_future(late, now).is_err());
        assert_eq!(clamp_future(soon, now), soon);
        assert_eq!(clamp_future(late, now), now);
        // A body dated too far ahead is refused, naming the field.
        let body = json!({"source": "s", "event_type": "t", "severity": "LOW",
                          "occurred_at": late.to_rfc3339()});
        let errors = NewEvent::parse(&body, now).unwrap_err();
        assert!(errors.contains_key("occurred_at"), "{errors:?}");
    }

    #[test]
    fn the_typed_constructor_keeps_the_bounds_of_a_body() {
        let now = Utc::now();
        let event = NewEvent::new("ids", "port_scan", Severity::High, now)
            .with_source_ip("192.0.2.1".parse().unwrap())
            .with_description("d")
            .checked()
            .expect("within bounds");
        let parsed = NewEvent::parse(
            &json!({"source": "ids", "event_type": "port_scan", "severity": "HIGH",
                    "source_ip": "192.0.2.1", "description": "d"}),
            now,
        )
        .unwrap();
        assert_eq!(event.fingerprint(), parsed.fingerprint());
        let errors = NewEvent::new(" ", "t".repeat(101), Severity::Low, now)
            .with_description("x".repeat(MAX_DESCRIPTION + 1))
            .with_dedup_key("k\0")
            .checked()
            .unwrap_err();
        let named: Vec<&str> = errors.keys().map(String::as_str).collect();
        assert_eq!(named, ["dedup_key", "description", "event_type", "source"]);
        let mut big = Map::new();
        big.insert("blob".into(), json!("x".repeat(MAX_METADATA_BYTES)));
        let errors = NewEvent::new("s", "t", Severity::Low, now)
            .with_metadata(big)
            .checked()
            .unwrap_err();
        assert!(errors.contains_key("metadata"), "{errors:?}");
    }

    #[test]
    fn reports_every_invalid_field() {
        let now = Utc::now();
        let errors = NewEvent::parse(
            &json!({
                "severity": "urgent",
                "source_ip": "999.1.1.1",
                "occurred_at": "yesterday",
                "metadata": [1],
                "colour": "red"
            }),
            now,
        )
        .unwrap_err();
        for f in [
            "source",
            "event_type",
            "severity",
            "source_ip",
            "occurred_at",
            "metadata",
            "colour",
        ] {
            assert!(errors.contains_key(f), "{f} in {errors:?}");
        }
    }

    #[test]
    fn parses_a_full_event() {
        let now = Utc::now();
        let e = NewEvent::parse(
            &json!({
                "source": "fw-edge-01", "event_type": "port_scan", "severity": "high",
                "description": "<script>x</script>", "source_ip": "2001:db8::1",
                "occurred_at": "2026-11-20T10:00:00+01:00", "metadata": {"rule": "ET SCAN"}
            }),
            now,
        )
        .unwrap();
        assert_eq!(e.severity, Severity::High);
        assert_eq!(e.occurred_at.to_rfc3339(), "2026-11-20T09:00:00+00:00");
        assert_eq!(e.description.as_deref(), Some("<script>x</script>"));
    }

    #[test]
    fn future_timestamps_are_refused_beyond_five_minutes() {
        let now = Utc::now();
        let later = (now + Duration::minutes(6)).to_rfc3339();
        let soon = (now + Duration::minutes(4)).to_rfc3339();
        let base = |t: &str| json!({"source": "s", "event_type": "t", "severity": "LOW", "occurred_at": t});
        assert!(NewEvent::parse(&base(&later), now)
            .unwrap_err()
            .contains_key("occurred_at"));
        assert!(NewEvent::parse(&base(&soon), now).is_ok());
    }

    #[test]
    fn fingerprint_prefers_dedup_key() {
        let now = Utc::now();
        let a = NewEvent::parse(
            &json!({"source": "a", "event_type": "t", "severity": "HIGH", "dedup_key": "k"}),
            now,
        )
        .unwrap();
        let b = NewEvent::parse(
            &json!({"source": "b", "event_type": "u", "severity": "HIGH", "dedup_key": "k"}),
            now,
        )
        .unwrap();
        let c = NewEvent::parse(
            &json!({"source": "a", "event_type": "t", "severity": "HIGH"}),
            now,
        )
        .unwrap();
        assert_eq!(a.fingerprint(), b.fingerprint());
        assert_ne!(a.fingerprint(), c.fingerprint());
        assert_eq!(a.fingerprint().len(), 64);
    }
}
