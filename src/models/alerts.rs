use std::collections::HashMap;

use chrono::{DateTime, SubsecRound, Utc};
use loco_rs::prelude::*;
use sea_orm::{DbBackend, FromQueryResult, Select, SqlErr};
use serde::Serialize;
use serde_json::{json, Value};
use utoipa::ToSchema;
use uuid::Uuid;

pub use super::_entities::alerts::{self, ActiveModel, Column, Entity, Model};
use super::{
    alert_histories::{self, Entry},
    alert_status::{AlertStatus, Transition},
    listing::{search_any, CursorKey, ListQuery, Listable, SortKey},
    new_event::NewEvent,
    outbox_envelopes::{self, EnvelopeType},
    severity::Severity,
    tallies,
};
use super::{domain_errors, FieldErrors, Invalid, NotFound};
use crate::db::bulk;

impl ActiveModelBehavior for ActiveModel {}

// The alert's wire form, defined once, below the outbox that stores it in
// the change's transaction: the REST API (`views::alerts::AlertResponse`),
// the live feed and webhook envelopes all show this.
/// An alert: one attack, however many events it took.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = AlertResponse)]
pub struct AlertSnapshot {
    pub id: String,
    #[schema(example = "port_scan on fw-edge-01 from 203.0.113.7")]
    pub title: String,
    pub severity: Severity,
    pub status: AlertStatus,
    pub source: String,
    pub event_type: String,
    pub source_ip: Option<String>,
    /// How many events joined this alert.
    pub occurrences: i64,
    pub first_seen: chrono::DateTime<Utc>,
    pub last_seen: chrono::DateTime<Utc>,
    /// Id of the event that opened the alert.
    pub event: String,
    /// Fingerprint (SHA-256 of `dedup_key`, else of source, event type and source IP).
    pub fingerprint: String,
    pub assignee: Option<String>,
    pub tags: Vec<String>,
    pub created_at: chrono::DateTime<Utc>,
    pub updated_at: chrono::DateTime<Utc>,
    pub acknowledged_at: Option<chrono::DateTime<Utc>>,
    pub resolved_at: Option<chrono::DateTime<Utc>>,
    /// A silence quiets it: no webhook, and the live feed shows it only to
    /// clients that ask (`?include_suppressed=true`). Resolutions are
    /// notified regardless.
    pub suppressed: bool,
    /// The id of that silence.
    pub silenced_by: Option<String>,
}

impl From<&Model> for AlertSnapshot {
    fn from(a: &Model) -> Self {
        Self {
            id: a.pid.to_string(),
            title: a.title.clone(),
            severity: a.severity(),
            status: a.status(),
            source: a.source.clone(),
            event_type: a.event_type.clone(),
            source_ip: a.source_ip.clone(),
            occurrences: a.occurrences,
            first_seen: a.first_seen.with_timezone(&Utc),
            last_seen: a.last_seen.with_timezone(&Utc),
            event: a.event_pid.to_string(),
            fingerprint: a.fingerprint.clone(),
            assignee: a.assignee.clone(),
            tags: a.tags(),
            created_at: a.created_at.with_timezone(&Utc),
            updated_at: a.updated_at.with_timezone(&Utc),
            acknowledged_at: a.acknowledged_at.map(|t| t.with_timezone(&Utc)),
            resolved_at: a.resolved_at.map(|t| t.with_timezone(&Utc)),
            suppressed: a.suppressed,
            silenced_by: a.silenced_by.clone(),
        }
    }
}

/// Alerts whose `tags` (a JSON array of strings) hold any of `tags`.
fn tagged_any(tags: &[String], backend: DbBackend) -> sea_orm::sea_query::SimpleExpr {
    let (elements, marks) = match backend {
        DbBackend::Postgres => (
            r#"json_array_elements_text("alerts"."tags") AS t(value)"#,
            (1..=tags.len())
                .map(|i| format!("${i}"))
                .collect::<Vec<_>>(),
        ),
        _ => (
            r#"json_each("alerts"."tags") AS t"#,
            vec!["?".to_string(); tags.len()],
        ),
    };
    let marks = marks.join(", ");
    Expr::cust_with_values(
        format!("EXISTS (SELECT 1 FROM {elements} WHERE t.value IN ({marks}))"),
        tags.iter().cloned(),
    )
}

/// A fingerprint's alert after [`Model::promote`].
#[derive(Debug, Clone)]
pub struct Promoted {
    pub alert: Model,
    /// This promotion opened it (else it joined an open alert).
    pub created: bool,
}

/// The promoted events of one fingerprint in one transaction.
#[derive(Debug)]
pub struct Promotion<'a> {
    pub fingerprint: &'a str,
    /// The first of the events: it names a new alert and is its `event`.
    pub first: &'a NewEvent,
    pub first_pid: Uuid,
    pub occurrences: i64,
    pub severity: Severity,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
}

/// Who asked for a change and under which request, for history and envelopes.
#[derive(Debug, Clone, Copy)]
pub struct Actor<'a> {
    pub name: &'a str,
    pub correlation_id: &'a str,
}

/// `PATCH /api/alerts/{id}`: the editable fields.
#[derive(Debug, Default, serde::Deserialize, utoipa::ToSchema)]
pub struct AlertEdit {
    /// Username of the assignee; `null` unassigns.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, max_length = 254)]
    pub assignee: Option<Option<String>>,
    /// At most 50 tags of 1 to 64 characters.
    #[schema(max_items = 50)]
    pub tags: Option<Vec<String>>,
    pub severity: Option<Severity>,
}

pub const MAX_NOTE: usize = 10_000;

/// Why a status change was refused.
#[derive(Debug, Clone, Copy, thiserror::Error)]
pub enum ChangeError {
    #[error("An alert cannot move from {from} to {to}")]
    InvalidTransition { from: AlertStatus, to: AlertStatus },
    #[error("The alert changed status meanwhile: read it again and retry")]
    ChangedMeanwhile,
    #[error("A newer open alert has the same fingerprint: work on that one")]
    FingerprintReopened,
}

domain_errors!(ChangeError);

/// A note (on its own or with a status change) has 1 to [`MAX_NOTE`]
/// characters, checked before anything is written.
///
/// # Errors
/// 400 naming `note`.
pub fn check_note(note: Option<&str>) -> std::result::Result<(), Invalid> {
    match note {
        Some(note) if note.trim().is_empty() || note.chars().count() > MAX_NOTE => Err(
            Invalid::field("note", format!("A note has 1 to {MAX_NOTE} characters.")),
        ),
        _ => Ok(()),
    }
}
const MAX_TAGS: usize = 50;
const MAX_TAG_CHARS: usize = 64;

impl AlertEdit {
    /// Every invalid field at once: the assignee must be an existing user,
    /// tags at most 50 of 1 to 64 characters.
    ///
    /// # Errors
    /// 400 `validation_failed`; database errors.
    /// Returns the assignee as stored: the user's username, whichever of
    /// username or email named them (`Some(None)` unassigns, `None` leaves
    /// the assignee as it is).
    pub async fn validate(&self, db: &DatabaseConnection) -> Result<Option<Option<String>>> {
        let mut fields = FieldErrors::new();
        let mut assignee = self.assignee.clone();
        if let Some(Some(name)) = &self.assignee {
            match super::users::Model::find_by_login(db, name).await {
                Ok(user) => assignee = Some(Some(user.username)),
                Err(_) => {
                    fields.insert("assignee".into(), vec![format!("No user named `{name}`.")]);
                }
            }
        }
        if let Some(tags) = &self.tags {
            let bad = |t: &String| t.trim().is_empty() || t.chars().count() > MAX_TAG_CHARS;
            if tags.len() > MAX_TAGS || tags.iter().any(bad) {
                fields.insert(
                    "tags".into(),
                    vec![format!(
                        "At most {MAX_TAGS} tags of 1 to {MAX_TAG_CHARS} characters."
                    )],
                );
            }
        }
        if fields.is_empty() {
            Ok(assignee)
        } else {
            Err(Invalid(fields).into())
        }
    }
}

/// Distinguishes an absent field (`None`) from an explicit `null` (`Some(None)`).
pub(crate) fn double_option<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    serde::Deserialize::deserialize(d).map(Some)
}

/// A new alert row as [`bulk::insert`] writes it.
#[derive(serde::Serialize)]
struct AlertRow<'a> {
    pid: Uuid,
    title: String,
    severity: &'a str,
    severity_rank: i16,
    status: &'a str,
    source: &'a str,
    event_type: &'a str,
    source_ip: Option<String>,
    fingerprint: &'a str,
    open_fingerprint: &'a str,
    occurrences: i64,
    first_seen: String,
    last_seen: String,
    event_pid: Uuid,
    tags: &'a Value,
    created_at: &'a str,
    updated_at: &'a str,
}

/// The promotion upsert (the columns of [`AlertRow`]) on the unique index
/// of open fingerprints: a joined alert adds the occurrences, keeps the
/// latest `last_seen` and the highest severity. Returns every column.
fn promote_sql(backend: sea_orm::DbBackend) -> String {
    use bulk::Col::{BigInt, Json, SmallInt, Text, Time, Uuid as Id};
    bulk::insert_sql(
        backend,
        "alerts",
        &[
            ("pid", Id),
            ("title", Text),
            ("severity", Text),
            ("severity_rank", SmallInt),
            ("status", Text),
            ("source", Text),
            ("event_type", Text),
            ("source_ip", Text),
            ("fingerprint", Text),
            ("open_fingerprint", Text),
            ("occurrences", BigInt),
            ("first_seen", Time),
            ("last_seen", Time),
            ("event_pid", Id),
            ("tags", Json),
            ("created_at", Time),
            ("updated_at", Time),
        ],
        "ON CONFLICT (\"open_fingerprint\") DO UPDATE SET \
         \"occurrences\" = \"alerts\".\"occurrences\" + excluded.\"occurrences\", \
         \"last_seen\" = CASE WHEN excluded.\"last_seen\" > \"alerts\".\"last_seen\" \
           THEN excluded.\"last_seen\" ELSE \"alerts\".\"last_seen\" END, \
         \"severity\" = CASE WHEN excluded.\"severity_rank\" > \"alerts\".\"severity_rank\" \
           THEN excluded.\"severity\" ELSE \"alerts\".\"severity\" END, \
         \"severity_rank\" = CASE WHEN excluded.\"severity_rank\" > \"alerts\".\"severity_rank\" \
           THEN excluded.\"severity_rank\" ELSE \"alerts\".\"severity_rank\" END, \
         \"updated_at\" = excluded.\"updated_at\" \
         RETURNING *",
    )
}

impl Model {
    #[must_use]
    pub fn severity(&self) -> Severity {
        Severity::from_rank(self.severity_rank)
    }

    #[must_use]
    pub fn status(&self) -> AlertStatus {
        self.status.parse().unwrap_or(AlertStatus::Open)
    }

    #[must_use]
    pub fn tags(&self) -> Vec<String> {
        serde_json::from_value(self.tags.clone()).unwrap_or_default()
    }

    fn payload(&self) -> Value {
        serde_json::to_value(AlertSnapshot::from(self)).unwrap_or(Value::Null)
    }

    /// Creates or joins the open alert of each fingerprint in `groups`, in
    /// one upsert ([`promote_sql`]) on the unique index of open fingerprints, so concurrent writers can never open two alerts:
    /// a new alert starts with the group's occurrences, first and last seen
    /// and highest severity; an open one adds the occurrences, moves
    /// `last_seen` forward and raises its severity. Returns each
    /// fingerprint's alert and whether this call created it (its
    /// `occurrences` then equal the group's: a joined alert already had at
    /// least one). The caller writes history and envelopes in the same
    /// transaction (`events::Model::ingest`).
    ///
    /// # Errors
    /// Database errors.
    pub async fn promote<C: ConnectionTrait>(
        db: &C,
        groups: &[Promotion<'_>],
    ) -> ModelResult<HashMap<String, Promoted>> {
        let now = Utc::now();
        // Fingerprint order, so that concurrent transactions on PostgreSQL
        // take the row locks in the same order and cannot deadlock.
        let mut sorted: Vec<&Promotion<'_>> = groups.iter().collect();
        sorted.sort_by(|a, b| a.fingerprint.cmp(b.fingerprint));
        let (created, tags) = (bulk::time(&now.trunc_subsecs(6).into()), json!([]));
        let rows: Vec<AlertRow<'_>> = sorted
            .iter()
            .map(|g| {
                let event = g.first;
                let title = match event.source_ip {
                    Some(ip) => format!("{} on {} from {ip}", event.event_type, event.source),
                    None => format!("{} on {}", event.event_type, event.source),
                };
                AlertRow {
                    pid: Uuid::now_v7(),
                    title: title.chars().take(400).collect(),
                    severity: g.severity.as_str(),
                    severity_rank: g.severity.rank(),
                    status: AlertStatus::Open.as_str(),
                    source: &event.source,
                    event_type: &event.event_type,
                    source_ip: event.source_ip.map(|ip| ip.to_string()),
                    fingerprint: g.fingerprint,
                    open_fingerprint: g.fingerprint,
                    occurrences: g.occurrences,
                    first_seen: bulk::time(&g.first_seen.trunc_subsecs(6).into()),
                    last_seen: bulk::time(&g.last_seen.trunc_subsecs(6).into()),
                    event_pid: g.first_pid,
                    tags: &tags,
                    created_at: &created,
                    updated_at: &created,
                }
            })
            .collect();
        let sql = promote_sql(db.get_database_backend());
        let mut out = HashMap::with_capacity(groups.len());
        for row in bulk::insert(db, &sql, &rows).await? {
            let alert = Self::from_query_result(&row, "")?;
            // A new alert has exactly the group's occurrences; a joined
            // one had at least one already.
            let wanted = sorted
                .binary_search_by(|g| g.fingerprint.cmp(&alert.fingerprint))
                .map(|i| sorted[i].occurrences);
            let created = wanted == Ok(alert.occurrences);
            out.insert(alert.fingerprint.clone(), Promoted { alert, created });
        }
        Ok(out)
    }

    /// The alerts created since `since` that `wanted` picks: how many, how
    /// many were checked, and the newest ten, read a thousand at a time.
    ///
    /// # Errors
    /// Database errors.
    pub async fn matching_since(
        db: &DatabaseConnection,
        since: DateTime<Utc>,
        wanted: impl Fn(&Self) -> bool,
    ) -> ModelResult<(u64, u64, Vec<Self>)> {
        let (mut matched, mut checked, mut sample) = (0, 0, Vec::new());
        let mut before = i64::MAX;
        loop {
            let rows = Entity::find()
                .filter(Column::CreatedAt.gte(since.fixed_offset()))
                .filter(Column::Id.lt(before))
                .order_by_desc(Column::Id)
                .limit(1_000)
                .all(db)
                .await?;
            let Some(last) = rows.last() else { break };
            before = last.id;
            for alert in rows {
                checked += 1;
                if wanted(&alert) {
                    matched += 1;
                    if sample.len() < 10 {
                        sample.push(alert);
                    }
                }
            }
        }
        Ok((matched, checked, sample))
    }

    /// The envelope payload of this alert (its API representation).
    #[must_use]
    pub fn envelope_payload(&self) -> Value {
        self.payload()
    }

    /// The next `limit` alerts matching `q` after `after_id`, in creation
    /// order: the export walks the whole table this way in bounded memory.
    ///
    /// # Errors
    /// Database errors.
    pub async fn export_chunk(
        db: &DatabaseConnection,
        q: &ListQuery,
        after_id: i64,
        limit: u64,
    ) -> ModelResult<Vec<Self>> {
        Ok(<Entity as Listable>::filtered(q, db.get_database_backend())
            .filter(Column::Id.gt(after_id))
            .order_by_asc(Column::Id)
            .limit(limit)
            .all(db)
            .await?)
    }

    /// Finds an alert by public id.
    ///
    /// # Errors
    /// 404 when there is none.
    pub async fn find_by_pid<C: ConnectionTrait>(db: &C, pid: &str) -> Result<Self> {
        super::find_by_pid::<Entity, _>(db, "alert", Column::Pid, pid).await
    }

    /// [`Self::find_by_pid`], the row locked until the transaction ends
    /// (PostgreSQL; on SQLite the writer holds the database).
    ///
    /// # Errors
    /// 404; database errors.
    pub async fn find_by_pid_for_update<C: ConnectionTrait>(db: &C, pid: &str) -> Result<Self> {
        let missing = || Error::from(NotFound::new("alert", pid));
        let id = Uuid::parse_str(pid).map_err(|_| missing())?;
        let mut q = Entity::find().filter(Column::Pid.eq(id));
        if db.get_database_backend() == DbBackend::Postgres {
            q = q.lock_exclusive();
        }
        q.one(db).await?.ok_or_else(missing)
    }

    /// Moves the alert to `to` through the transition table, recording who,
    /// when, from, to and the note, and the lifecycle envelopes, in one
    /// transaction. Setting the current status again changes nothing.
    ///
    /// # Errors
    /// 404; 409 `invalid_transition`; 409 `fingerprint_reopened` when a newer
    /// open alert already has this fingerprint; database errors.
    pub async fn change_status(
        db: &DatabaseConnection,
        pid: &str,
        to: AlertStatus,
        note: Option<&str>,
        actor: Actor<'_>,
    ) -> Result<Self> {
        Ok(Self::move_status(db, pid, to, note, actor).await?.0)
    }

    /// [`Self::change_status`], also telling whether this call moved it
    /// (false: it already had that status).
    ///
    /// # Errors
    /// As [`Self::change_status`].
    pub async fn move_status(
        db: &DatabaseConnection,
        pid: &str,
        to: AlertStatus,
        note: Option<&str>,
        actor: Actor<'_>,
    ) -> Result<(Self, bool)> {
        check_note(note)?;
        let (_writer, txn) = crate::db::write::begin_write(db).await?;
        let alert = Self::find_by_pid(&txn, pid).await?;
        let from = alert.status();
        match from.can_move_to(to) {
            Transition::NoOp => return Ok((alert, false)),
            Transition::Invalid => return Err(ChangeError::InvalidTransition { from, to }.into()),
            Transition::Allowed => {}
        }
        let now = Utc::now();
        let mut am = ActiveModel {
            status: ActiveValue::set(to.as_str().to_string()),
            updated_at: ActiveValue::set(now.into()),
            ..Default::default()
        };
        if to == AlertStatus::Open {
            am.open_fingerprint = ActiveValue::set(Some(alert.fingerprint.clone()));
            am.resolved_at = ActiveValue::set(None);
        } else if !to.is_open() {
            am.open_fingerprint = ActiveValue::set(None);
        }
        // The server escalating an alert nobody took is no acknowledgement.
        let by_system = actor.name == super::audit::SYSTEM;
        if to != AlertStatus::Open
            && to != AlertStatus::Ignored
            && alert.acknowledged_at.is_none()
            && !by_system
        {
            am.acknowledged_at = ActiveValue::set(Some(now.into()));
        }
        if to == AlertStatus::Resolved {
            am.resolved_at = ActiveValue::set(Some(now.into()));
        }
        // Optimistic: only if nobody moved it since we read it.
        let res = Entity::update_many()
            .set(am)
            .filter(Column::Id.eq(alert.id))
            .filter(Column::Status.eq(from.as_str()))
            .exec(&txn)
            .await;
        match res {
            Ok(r) if r.rows_affected == 1 => {}
            Ok(_) => return Err(ChangeError::ChangedMeanwhile.into()),
            Err(err) if matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
                return Err(ChangeError::FingerprintReopened.into())
            }
            Err(err) => return Err(err.into()),
        }
        tallies::Model::add(
            &txn,
            &[(&tallies::alerts(from), -1), (&tallies::alerts(to), 1)],
        )
        .await?;
        let updated = Entity::find_by_id(alert.id)
            .one(&txn)
            .await?
            .ok_or_else(|| Error::from(NotFound::new("alert", pid)))?;
        alert_histories::Model::record(
            &txn,
            alert.id,
            Entry {
                action: "status_changed",
                actor: actor.name,
                from: Some(from),
                to: Some(to),
                note,
                changes: None,
            },
        )
        .await?;
        let mut payload = updated.payload();
        payload["previous_status"] = json!(from.as_str());
        let sev = updated.severity();
        let cid = actor.correlation_id;
        // Resolutions are always notified; other changes of a suppressed
        // alert are not.
        let quiet = updated.suppressed && to != AlertStatus::Resolved;
        outbox_envelopes::Model::append_marked(
            &txn,
            EnvelopeType::StatusChanged,
            updated.pid,
            sev,
            payload.clone(),
            cid,
            quiet,
        )
        .await?;
        let specific = match to {
            AlertStatus::Escalated => Some(EnvelopeType::Escalated),
            AlertStatus::Mitigated => {
                let secs = (now - updated.created_at.with_timezone(&Utc)).num_seconds();
                payload["duration_seconds"] = json!(secs.max(0));
                Some(EnvelopeType::Mitigated)
            }
            AlertStatus::Resolved => Some(EnvelopeType::Resolved),
            _ => None,
        };
        if let Some(kind) = specific {
            outbox_envelopes::Model::append_marked(
                &txn,
                kind,
                updated.pid,
                sev,
                payload,
                cid,
                quiet,
            )
            .await?;
        }
        if !to.is_open() {
            // "Silence until resolved" ends with the alert.
            super::silences::Model::end_for_alert(&txn, updated.id, cid).await?;
        }
        txn.commit().await?;
        Ok((updated, true))
    }

    /// Adds a free-text note to the alert's history.
    ///
    /// # Errors
    /// 404; database errors.
    pub async fn add_note(
        db: &DatabaseConnection,
        pid: &str,
        note: &str,
        actor: Actor<'_>,
    ) -> Result<alert_histories::Model> {
        check_note(Some(note))?;
        let alert = Self::find_by_pid(db, pid).await?;
        Ok(alert_histories::Model::record(
            db,
            alert.id,
            Entry {
                action: "note",
                actor: actor.name,
                note: Some(note),
                ..Default::default()
            },
        )
        .await?)
    }

    /// Applies an admin's edit (assignee, tags, severity), recorded in history
    /// with old and new values, and announced as `alert.updated`.
    ///
    /// # Errors
    /// 404; database errors.
    pub async fn edit(
        db: &DatabaseConnection,
        pid: &str,
        edit: &AlertEdit,
        actor: Actor<'_>,
    ) -> Result<Self> {
        let assignee = edit.validate(db).await?;
        let (_writer, txn) = crate::db::write::begin_write(db).await?;
        let alert = Self::find_by_pid(&txn, pid).await?;
        let mut changes = serde_json::Map::new();
        let mut am = alert.clone().into_active_model();
        if let Some(assignee) = &assignee {
            if *assignee != alert.assignee {
                changes.insert(
                    "assignee".into(),
                    json!({"from": alert.assignee, "to": assignee}),
                );
                am.assignee = ActiveValue::set(assignee.clone());
            }
        }
        if let Some(tags) = &edit.tags {
            let mut tags = tags.clone();
            tags.sort();
            tags.dedup();
            if tags != alert.tags() {
                changes.insert("tags".into(), json!({"from": alert.tags(), "to": tags}));
                am.tags = ActiveValue::set(json!(tags));
            }
        }
        if let Some(sev) = edit.severity {
            if sev != alert.severity() {
                changes.insert(
                    "severity".into(),
                    json!({"from": alert.severity(), "to": sev}),
                );
                am.severity = ActiveValue::set(sev.as_str().to_string());
                am.severity_rank = ActiveValue::set(sev.rank());
            }
        }
        if changes.is_empty() {
            return Ok(alert);
        }
        am.updated_at = ActiveValue::set(Utc::now().into());
        let updated = am.update(&txn).await?;
        alert_histories::Model::record(
            &txn,
            updated.id,
            Entry {
                action: "updated",
                actor: actor.name,
                changes: Some(Value::Object(changes)),
                ..Default::default()
            },
        )
        .await?;
        outbox_envelopes::Model::append_marked(
            &txn,
            EnvelopeType::Updated,
            updated.pid,
            updated.severity(),
            updated.payload(),
            actor.correlation_id,
            updated.suppressed,
        )
        .await?;
        txn.commit().await?;
        Ok(updated)
    }
}

impl Listable for Entity {
    const ID: Column = Column::Id;

    /// The alerts matching `q`'s filters, unordered.
    fn filtered(q: &ListQuery, backend: DbBackend) -> Select<Entity> {
        let f = &q.filters;
        let mut sel = Entity::find();
        if !q.status.is_empty() {
            sel = sel.filter(Column::Status.is_in(q.status.iter().map(|s| s.as_str())));
        }
        if !f.severity.is_empty() {
            sel = sel.filter(Column::SeverityRank.is_in(f.severity.iter().map(|s| s.rank())));
        }
        for (col, vals) in [
            (Column::Source, &f.source),
            (Column::EventType, &f.event_type),
            (Column::SourceIp, &f.source_ip),
            (Column::Assignee, &f.assignee),
        ] {
            if !vals.is_empty() {
                sel = sel.filter(col.is_in(vals.iter().cloned()));
            }
        }
        if let Some(since) = f.since {
            sel = sel.filter(Column::CreatedAt.gte(since.fixed_offset()));
        }
        if let Some(until) = f.until {
            sel = sel.filter(Column::CreatedAt.lte(until.fixed_offset()));
        }
        if !f.tag.is_empty() {
            sel = sel.filter(tagged_any(&f.tag, backend));
        }
        if let Some(suppressed) = f.suppressed {
            sel = sel.filter(Column::Suppressed.eq(suppressed));
        }
        if let Some(text) = &f.search {
            // SPEC §5: source, event type, title, and the description of
            // the event that opened the alert.
            use sea_orm::sea_query::{Func, LikeExpr, Query};
            use sea_orm::ExprTrait;
            let described = Query::select()
                .expr(Expr::val(1))
                .from(super::_entities::events::Entity)
                .and_where(
                    Expr::col((
                        super::_entities::events::Entity,
                        super::_entities::events::Column::Pid,
                    ))
                    .equals((Entity, Column::EventPid)),
                )
                .and_where(
                    Expr::expr(Func::lower(Expr::col((
                        super::_entities::events::Entity,
                        super::_entities::events::Column::Description,
                    ))))
                    .like(LikeExpr::new(super::listing::like_pattern(text)).escape('\\')),
                )
                .to_owned();
            sel = sel.filter(
                search_any::<Entity, _>(&[Column::Title, Column::Source, Column::EventType], text)
                    .add(Expr::exists(described)),
            );
        }
        sel
    }

    fn sort_column(key: SortKey) -> Column {
        match key {
            SortKey::Severity => Column::SeverityRank,
            SortKey::LastSeen => Column::LastSeen,
            SortKey::Occurrences => Column::Occurrences,
            SortKey::CreatedAt | SortKey::OccurredAt => Column::CreatedAt,
        }
    }

    fn position(alert: &Model, key: SortKey) -> (CursorKey, i64) {
        let at = match key {
            SortKey::Severity => CursorKey::Int(i64::from(alert.severity_rank)),
            SortKey::Occurrences => CursorKey::Int(alert.occurrences),
            SortKey::LastSeen => CursorKey::Time(alert.last_seen),
            SortKey::CreatedAt | SortKey::OccurredAt => CursorKey::Time(alert.created_at),
        };
        (at, alert.id)
    }

    /// Unfiltered, or filtered by status alone: the per-status tallies.
    fn tallies(q: &ListQuery) -> Option<Vec<String>> {
        q.is_unfiltered_but_status().then(|| {
            let statuses = if q.status.is_empty() {
                AlertStatus::ALL
            } else {
                &q.status[..]
            };
            statuses.iter().map(|s| tallies::alerts(*s)).collect()
        })
    }
}
