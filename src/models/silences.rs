//! Silences (Alertmanager's, with weekly maintenance windows): while one
//! matches an alert, the alert is still created or joined, but carries
//! `suppressed` and `silenced_by`, and its envelopes go to no webhook and
//! only to feed clients that ask for suppressed alerts. Resolutions are
//! always notified. "Silence until resolved" is a silence of one alert
//! that ends when the alert is resolved or ignored.
use std::net::IpAddr;

use chrono::{DateTime, Datelike, Duration, NaiveTime, SubsecRound, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use ipnet::IpNet;
use loco_rs::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

pub use super::_entities::silences::{self, ActiveModel, Column, Entity, Model};
use super::{
    alerts,
    audit::{self, By, Entry},
    outbox_envelopes::{self, EnvelopeType},
    severity::Severity,
    FieldErrors, Invalid,
};

impl ActiveModelBehavior for ActiveModel {}

/// What a silence matches: every matcher given must match.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Matchers {
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "fw-edge-01", max_length = 255)]
    pub source: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "port_scan", max_length = 100)]
    pub event_type: Option<String>,
    /// An address, or a CIDR network that contains the alert's source.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "203.0.113.0/24", max_length = 50)]
    pub source_ip: Option<String>,
    /// The alert's severity, exactly.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "HIGH")]
    pub severity: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 255)]
    pub dedup_key: Option<String>,
    /// Tags the alert must all carry.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(max_items = 20)]
    pub tags: Option<Vec<String>>,
}

/// A weekly maintenance window: on each of `days`, from `start` (local
/// time in `time_zone`) for `duration_minutes`.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Recurring {
    #[schema(example = json!(["MON", "WED"]))]
    pub days: Vec<String>,
    /// `HH:MM`, 24-hour.
    #[schema(example = "22:00")]
    pub start: String,
    /// 1 to 10,080 (a week).
    #[schema(example = 120)]
    pub duration_minutes: i64,
    /// An IANA time zone name.
    #[schema(example = "Europe/Berlin")]
    pub time_zone: String,
}

/// `POST /api/silences` body.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSilence {
    pub matchers: Matchers,
    /// Default: now.
    pub starts_at: Option<DateTime<Utc>>,
    /// Required unless `recurring` is given.
    pub ends_at: Option<DateTime<Utc>>,
    pub recurring: Option<Recurring>,
    /// Why (1 to 1,000 characters).
    #[schema(example = "firewall upgrade, ticket OPS-42", max_length = 1000)]
    pub comment: String,
}

/// `PATCH /api/silences/{id}` body: any of the fields.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SilenceChange {
    pub matchers: Option<Matchers>,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
    pub recurring: Option<Recurring>,
    #[schema(max_length = 1000)]
    pub comment: Option<String>,
}

/// Whether a silence mutes now, will, or no longer does.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    ToSchema,
    strum::IntoStaticStr,
    strum::VariantArray,
)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum State {
    Active,
    Pending,
    Expired,
}

/// A silence as the API, the feed and webhooks show it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SilenceSnapshot {
    pub id: String,
    pub matchers: Matchers,
    pub starts_at: DateTime<Utc>,
    pub ends_at: Option<DateTime<Utc>>,
    pub recurring: Option<Recurring>,
    pub comment: String,
    pub created_by: String,
    pub state: State,
    /// The alert a "silence until resolved" quiets.
    pub alert: Option<String>,
    pub ended_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

fn weekday(name: &str) -> Option<Weekday> {
    name.trim().parse::<Weekday>().ok()
}

/// A checked weekly window.
#[derive(Debug, Clone)]
pub struct Window {
    days: [bool; 7],
    start: NaiveTime,
    duration: Duration,
    tz: Tz,
}

impl Window {
    fn parse(r: &Recurring, fields: &mut FieldErrors) -> Option<Self> {
        let mut ok = true;
        let mut bad = |field: &str, msg: String| {
            fields
                .entry(format!("recurring.{field}"))
                .or_default()
                .push(msg);
            ok = false;
        };
        let mut days = [false; 7];
        if r.days.is_empty() {
            bad(
                "days",
                "Give at least one day: MON, TUE, WED, THU, FRI, SAT, SUN.".into(),
            );
        }
        for d in &r.days {
            match weekday(d) {
                Some(w) => days[w.num_days_from_monday() as usize] = true,
                None => bad(
                    "days",
                    format!("`{d}` is not a day: use MON, TUE, WED, THU, FRI, SAT or SUN."),
                ),
            }
        }
        let start = NaiveTime::parse_from_str(r.start.trim(), "%H:%M").ok();
        if start.is_none() {
            bad(
                "start",
                format!("`{}` is not a time: use HH:MM, 24-hour.", r.start),
            );
        }
        if !(1..=10_080).contains(&r.duration_minutes) {
            bad("duration_minutes", "Must be 1 to 10080 (a week).".into());
        }
        let tz = r.time_zone.trim().parse::<Tz>().ok();
        if tz.is_none() {
            bad(
                "time_zone",
                format!(
                    "`{}` is not a known time zone: use an IANA name such as Europe/Berlin or UTC.",
                    r.time_zone
                ),
            );
        }
        match (ok, start, tz) {
            (true, Some(start), Some(tz)) => Some(Self {
                days,
                start,
                duration: Duration::minutes(r.duration_minutes),
                tz,
            }),
            _ => None,
        }
    }

    /// Whether `now` falls in one of the window's occurrences (the one
    /// that began today, or on one of the days before, in local time).
    #[must_use]
    pub fn contains(&self, now: DateTime<Utc>) -> bool {
        let today = now.with_timezone(&self.tz).date_naive();
        (0..=7).any(|back| {
            let Some(day) = today.checked_sub_days(chrono::Days::new(back)) else {
                return false;
            };
            if !self.days[day.weekday().num_days_from_monday() as usize] {
                return false;
            }
            // A start that falls in a DST gap begins at the gap's end.
            let local = day.and_time(self.start);
            let begins = self.tz.from_local_datetime(&local).earliest().or_else(|| {
                self.tz
                    .from_local_datetime(&(local + Duration::hours(1)))
                    .earliest()
            });
            begins.is_some_and(|b| {
                let b = b.with_timezone(&Utc);
                b <= now && now < b + self.duration
            })
        })
    }
}

/// A silence ready to match alerts (`suppression::Rules`).
#[derive(Debug, Clone)]
pub struct Compiled {
    pub id: i64,
    pub pid: Uuid,
    pub alert_id: Option<i64>,
    source: Option<String>,
    event_type: Option<String>,
    network: Option<IpNet>,
    severity: Option<Severity>,
    dedup_key: Option<String>,
    tags: Vec<String>,
    starts_at: DateTime<Utc>,
    ends_at: Option<DateTime<Utc>>,
    window: Option<Window>,
}

impl Compiled {
    /// Whether it mutes anything at `now`.
    #[must_use]
    pub fn in_force(&self, now: DateTime<Utc>) -> bool {
        self.starts_at <= now
            && self.ends_at.is_none_or(|e| now < e)
            && self.window.as_ref().is_none_or(|w| w.contains(now))
    }

    /// Whether it matches on an event's `dedup_key`.
    #[must_use]
    pub fn on_dedup_key(&self) -> bool {
        self.dedup_key.is_some()
    }

    /// Whether it matches `alert` (joined by an event with `dedup_key`).
    #[must_use]
    pub fn matches(&self, alert: &alerts::Model, dedup_key: Option<&str>) -> bool {
        if let Some(id) = self.alert_id {
            return alert.id == id;
        }
        self.source.as_ref().is_none_or(|s| *s == alert.source)
            && self
                .event_type
                .as_ref()
                .is_none_or(|t| *t == alert.event_type)
            && self.severity.is_none_or(|s| s == alert.severity())
            && self
                .dedup_key
                .as_deref()
                .is_none_or(|k| Some(k) == dedup_key)
            && self.network.is_none_or(|net| {
                alert
                    .source_ip
                    .as_deref()
                    .and_then(|ip| ip.parse::<IpAddr>().ok())
                    .is_some_and(|ip| net.contains(&ip))
            })
            && (self.tags.is_empty() || {
                let have = alert.tags();
                self.tags.iter().all(|t| have.contains(t))
            })
    }
}

const MAX_TEXT: usize = 255;

impl Matchers {
    /// Checks the matchers (at least one), naming each bad field as
    /// `matchers.<name>`.
    fn check(&self, fields: &mut FieldErrors) -> (Option<IpNet>, Option<Severity>) {
        let empty = self.source.is_none()
            && self.event_type.is_none()
            && self.source_ip.is_none()
            && self.severity.is_none()
            && self.dedup_key.is_none()
            && self.tags.as_ref().is_none_or(Vec::is_empty);
        if empty {
            fields.entry("matchers".into()).or_default().push(
                "Give at least one matcher: source, event_type, source_ip, severity, dedup_key or tags.".into(),
            );
        }
        let mut bad = |field: &str, msg: String| {
            fields
                .entry(format!("matchers.{field}"))
                .or_default()
                .push(msg);
        };
        for (name, value) in [
            ("source", &self.source),
            ("event_type", &self.event_type),
            ("dedup_key", &self.dedup_key),
        ] {
            if let Some(v) = value {
                if v.trim().is_empty() || v.chars().count() > MAX_TEXT {
                    bad(name, format!("Must be 1 to {MAX_TEXT} characters."));
                }
            }
        }
        let network = self.source_ip.as_deref().and_then(|raw| {
            super::allowlist::parse_network(raw)
                .map_err(|m| bad("source_ip", m))
                .ok()
        });
        let severity = self.severity.as_deref().and_then(|raw| {
            raw.parse::<Severity>()
                .map_err(|m| bad("severity", m.to_string()))
                .ok()
        });
        if let Some(tags) = &self.tags {
            if tags.len() > 20
                || tags
                    .iter()
                    .any(|t| t.trim().is_empty() || t.chars().count() > 64)
            {
                bad("tags", "At most 20 tags of 1 to 64 characters.".into());
            }
        }
        (network, severity)
    }
}

/// A silence's definition, checked: what [`Model::create`] and
/// [`Model::change`] store.
struct Checked {
    matchers: Matchers,
    starts_at: DateTime<Utc>,
    ends_at: Option<DateTime<Utc>>,
    recurring: Option<Recurring>,
    comment: String,
}

fn check(
    matchers: Matchers,
    starts_at: DateTime<Utc>,
    ends_at: Option<DateTime<Utc>>,
    recurring: Option<Recurring>,
    comment: &str,
    now: DateTime<Utc>,
) -> Result<Checked, FieldErrors> {
    let mut fields = FieldErrors::new();
    matchers.check(&mut fields);
    if let Some(r) = &recurring {
        Window::parse(r, &mut fields);
    }
    match ends_at {
        None if recurring.is_none() => {
            fields
                .entry("ends_at".into())
                .or_default()
                .push("Required, unless the silence is a weekly window (`recurring`).".into());
        }
        Some(end) if end <= starts_at => {
            fields
                .entry("ends_at".into())
                .or_default()
                .push("Must be after starts_at.".into());
        }
        Some(end) if end <= now => {
            fields
                .entry("ends_at".into())
                .or_default()
                .push("Must be in the future.".into());
        }
        _ => {}
    }
    let comment = check_comment(comment).map_err(|Invalid(bad)| fields.extend(bad));
    let Ok(comment) = comment else {
        return Err(fields);
    };
    if !fields.is_empty() {
        return Err(fields);
    }
    Ok(Checked {
        matchers,
        starts_at: starts_at.trunc_subsecs(6),
        ends_at: ends_at.map(|t| t.trunc_subsecs(6)),
        recurring,
        comment,
    })
}

/// What [`Model::preview`] found.
#[derive(Debug)]
pub struct Previewed {
    pub days: i64,
    pub matched: u64,
    pub checked: u64,
    /// Up to 10 matched alerts, newest first.
    pub sample: Vec<alerts::Model>,
}

/// Why a silence change was refused.
#[derive(Debug, Clone, Copy, thiserror::Error)]
pub enum SilenceError {
    #[error("This silence has expired: create a new one")]
    Expired,
    #[error("This alert is resolved or ignored: there is nothing to silence")]
    AlertClosed,
}

super::domain_errors!(SilenceError);

/// The severity silence envelopes carry: the highest, so every webhook
/// and feed client, whatever its minimum severity, receives them.
const ENVELOPE_SEVERITY: Severity = Severity::Critical;

impl Model {
    #[must_use]
    pub fn matchers(&self) -> Matchers {
        serde_json::from_str(&self.matchers).unwrap_or_default()
    }

    #[must_use]
    pub fn recurring(&self) -> Option<Recurring> {
        self.recurring
            .as_deref()
            .and_then(|r| serde_json::from_str(r).ok())
    }

    /// The silence ready to match, or `None` when its stored definition no
    /// longer reads (it then matches nothing).
    #[must_use]
    pub fn compile(&self) -> Option<Compiled> {
        let m = self.matchers();
        let mut fields = FieldErrors::new();
        let (network, severity) = m.check(&mut fields);
        let window = match self.recurring() {
            Some(r) => Some(Window::parse(&r, &mut fields)?),
            None => None,
        };
        if !fields.is_empty() && self.alert_id.is_none() {
            return None;
        }
        Some(Compiled {
            id: self.id,
            pid: self.pid,
            alert_id: self.alert_id,
            source: m.source,
            event_type: m.event_type,
            network,
            severity,
            dedup_key: m.dedup_key,
            tags: m.tags.unwrap_or_default(),
            starts_at: self.starts_at.with_timezone(&Utc),
            ends_at: self.ends_at.map(|t| t.with_timezone(&Utc)),
            window,
        })
    }

    #[must_use]
    pub fn state(&self, now: DateTime<Utc>) -> State {
        if self.ended_at.is_some() || self.ends_at.is_some_and(|e| e.with_timezone(&Utc) <= now) {
            return State::Expired;
        }
        match self.compile() {
            Some(c) if c.in_force(now) => State::Active,
            Some(_) => State::Pending,
            None => State::Expired,
        }
    }

    #[must_use]
    pub fn snapshot(&self, now: DateTime<Utc>, alert_pid: Option<Uuid>) -> SilenceSnapshot {
        SilenceSnapshot {
            id: self.pid.to_string(),
            matchers: self.matchers(),
            starts_at: self.starts_at.with_timezone(&Utc),
            ends_at: self.ends_at.map(|t| t.with_timezone(&Utc)),
            recurring: self.recurring(),
            comment: self.comment.clone(),
            created_by: self.created_by.clone(),
            state: self.state(now),
            alert: alert_pid.map(|p| p.to_string()),
            ended_at: self.ended_at.map(|t| t.with_timezone(&Utc)),
            created_at: self.created_at.with_timezone(&Utc),
            updated_at: self.updated_at.with_timezone(&Utc),
        }
    }

    /// What `matchers` would have silenced among the alerts created in the
    /// last `days` (1 to 90): how many, how many were checked, and the
    /// newest ten. Changes nothing.
    ///
    /// # Errors
    /// 400 naming the invalid matchers or `days`; database errors.
    pub async fn preview(
        db: &DatabaseConnection,
        matchers: Matchers,
        days: i64,
    ) -> Result<Previewed> {
        if !(1..=90).contains(&days) {
            return Err(Invalid::field("days", "Must be 1 to 90.").into());
        }
        let now = Utc::now();
        let compiled = Self::compile_matchers(matchers, now)?;
        let (matched, checked, sample) =
            alerts::Model::matching_since(db, now - Duration::days(days), |a| {
                compiled.matches(a, None)
            })
            .await?;
        Ok(Previewed {
            days,
            matched,
            checked,
            sample,
        })
    }

    /// `matchers` checked and ready to match, for a preview.
    ///
    /// # Errors
    /// 400 naming the invalid matchers.
    fn compile_matchers(matchers: Matchers, now: DateTime<Utc>) -> Result<Compiled> {
        let mut fields = FieldErrors::new();
        let (network, severity) = matchers.check(&mut fields);
        if !fields.is_empty() {
            return Err(Invalid(fields).into());
        }
        Ok(Compiled {
            id: 0,
            pid: Uuid::nil(),
            alert_id: None,
            source: matchers.source,
            event_type: matchers.event_type,
            network,
            severity,
            dedup_key: matchers.dedup_key,
            tags: matchers.tags.unwrap_or_default(),
            starts_at: now,
            ends_at: None,
            window: None,
        })
    }

    /// The public id of the alert a "silence until resolved" quiets.
    ///
    /// # Errors
    /// Database errors.
    pub async fn alert_pid<C: ConnectionTrait>(&self, db: &C) -> ModelResult<Option<Uuid>> {
        let Some(id) = self.alert_id else {
            return Ok(None);
        };
        Ok(alerts::Entity::find_by_id(id).one(db).await?.map(|a| a.pid))
    }

    /// Writes the `silence.*` envelope and the audit entry of a change.
    async fn record<C: ConnectionTrait>(
        &self,
        db: &C,
        by: &By,
        kind: EnvelopeType,
        before: Option<SilenceSnapshot>,
        correlation_id: &str,
    ) -> Result<SilenceSnapshot> {
        let now = Utc::now();
        let snapshot = self.snapshot(now, self.alert_pid(db).await?);
        outbox_envelopes::Model::append(
            db,
            kind,
            self.pid,
            ENVELOPE_SEVERITY,
            json!(snapshot),
            correlation_id,
        )
        .await?;
        // The audit action is the envelope's name: `silence.created`, …
        let mut entry = Entry::new(kind.as_str(), self.pid.to_string());
        if let Some(before) = before {
            entry = entry.before(before);
        }
        if kind != EnvelopeType::SilenceDeleted {
            entry = entry.after(&snapshot);
        }
        audit::append(db, by, entry).await?;
        Ok(snapshot)
    }

    /// Creates a silence; its envelope and audit entry in the same
    /// transaction. Open alerts it matches are marked suppressed at once.
    ///
    /// # Errors
    /// 400 naming the invalid fields; database errors.
    pub async fn create(
        db: &DatabaseConnection,
        by: &By,
        params: NewSilence,
        correlation_id: &str,
    ) -> Result<(Self, SilenceSnapshot)> {
        let now = Utc::now();
        let c = check(
            params.matchers,
            params.starts_at.unwrap_or(now),
            params.ends_at,
            params.recurring,
            &params.comment,
            now,
        )
        .map_err(Invalid)?;
        let (_writer, txn) = crate::db::write::begin_write(db).await?;
        let made = store(&txn, by, c, None, now, correlation_id).await?;
        txn.commit().await?;
        Ok(made)
    }

    /// "Silence until resolved": quiets one alert until it is resolved or
    /// ignored.
    ///
    /// # Errors
    /// 404; 409 when the alert is closed; database errors.
    pub async fn for_alert(
        db: &DatabaseConnection,
        by: &By,
        alert_pid: &str,
        comment: Option<&str>,
        correlation_id: &str,
    ) -> Result<(Self, SilenceSnapshot)> {
        let now = Utc::now();
        let (_writer, txn) = crate::db::write::begin_write(db).await?;
        // Locked (PostgreSQL; SQLite has one writer): a resolution cannot
        // commit between this check and the silence, which would outlive it.
        let alert = alerts::Model::find_by_pid_for_update(&txn, alert_pid).await?;
        if !alert.status().is_open() {
            return Err(SilenceError::AlertClosed.into());
        }
        // Asked again (a retry): the silence it already has.
        if let Some(live) = Entity::find()
            .filter(Column::AlertId.eq(alert.id))
            .filter(Column::EndedAt.is_null())
            .one(&txn)
            .await?
        {
            let snapshot = live.snapshot(now, Some(alert.pid));
            txn.rollback().await?;
            return Ok((live, snapshot));
        }
        let comment = match comment.map(str::trim).filter(|c| !c.is_empty()) {
            Some(c) => Some(check_comment(c)?),
            None => None,
        };
        let c = Checked {
            matchers: Matchers {
                source: Some(alert.source.clone()),
                event_type: Some(alert.event_type.clone()),
                source_ip: alert.source_ip.clone(),
                ..Matchers::default()
            },
            starts_at: now.trunc_subsecs(6),
            ends_at: None,
            recurring: None,
            comment: comment.unwrap_or_else(|| format!("until {} is resolved", alert.pid)),
        };
        let made = store(&txn, by, c, Some(alert.id), now, correlation_id).await?;
        txn.commit().await?;
        Ok(made)
    }

    /// Changes a silence that has not expired.
    ///
    /// # Errors
    /// 404; 409 when it expired; 400 naming invalid fields; database errors.
    pub async fn change(
        db: &DatabaseConnection,
        by: &By,
        pid: &str,
        change: SilenceChange,
        correlation_id: &str,
    ) -> Result<(Self, SilenceSnapshot)> {
        let now = Utc::now();
        let (_writer, txn) = crate::db::write::begin_write(db).await?;
        let row = Self::find_by_pid(&txn, pid).await?;
        if row.state(now) == State::Expired {
            return Err(SilenceError::Expired.into());
        }
        let before = row.snapshot(now, row.alert_pid(&txn).await?);
        let c = if row.alert_id.is_some() {
            // Its matchers are the alert's own and it ends with the alert:
            // only the comment changes, and anything else is refused by name.
            let mut fields = FieldErrors::new();
            for (name, given) in [
                ("matchers", change.matchers.is_some()),
                ("starts_at", change.starts_at.is_some()),
                ("ends_at", change.ends_at.is_some()),
                ("recurring", change.recurring.is_some()),
            ] {
                if given {
                    fields.insert(
                        name.into(),
                        vec!["A silence until resolved changes only its comment.".into()],
                    );
                }
            }
            if !fields.is_empty() {
                return Err(Invalid(fields).into());
            }
            Checked {
                matchers: row.matchers(),
                starts_at: row.starts_at.with_timezone(&Utc),
                ends_at: row.ends_at.map(|t| t.with_timezone(&Utc)),
                recurring: None,
                comment: check_comment(change.comment.as_deref().unwrap_or(&row.comment))?,
            }
        } else {
            check(
                change.matchers.unwrap_or_else(|| row.matchers()),
                change
                    .starts_at
                    .unwrap_or_else(|| row.starts_at.with_timezone(&Utc)),
                change
                    .ends_at
                    .or_else(|| row.ends_at.map(|t| t.with_timezone(&Utc))),
                change.recurring.or_else(|| row.recurring()),
                change.comment.as_deref().unwrap_or(&row.comment),
                now,
            )
            .map_err(Invalid)?
        };
        let updated = ActiveModel {
            id: ActiveValue::unchanged(row.id),
            matchers: ActiveValue::set(json!(c.matchers).to_string()),
            starts_at: ActiveValue::set(c.starts_at.into()),
            ends_at: ActiveValue::set(c.ends_at.map(Into::into)),
            recurring: ActiveValue::set(c.recurring.map(|r| json!(r).to_string())),
            comment: ActiveValue::set(c.comment),
            updated_at: ActiveValue::set(now.trunc_subsecs(6).into()),
            ..Default::default()
        }
        .update(&txn)
        .await?;
        // Alerts first, the audit head last: every audited transaction
        // takes its locks in that order (no deadlock on PostgreSQL).
        super::suppression::reconcile_open(&txn, now).await?;
        let snapshot = updated
            .record(
                &txn,
                by,
                EnvelopeType::SilenceUpdated,
                Some(before),
                correlation_id,
            )
            .await?;
        txn.commit().await?;
        Ok((updated, snapshot))
    }

    /// Ends a silence now (it stays readable, expired). Ending one that has
    /// already ended changes nothing.
    ///
    /// # Errors
    /// 404; database errors.
    pub async fn expire(
        db: &DatabaseConnection,
        by: &By,
        pid: &str,
        correlation_id: &str,
    ) -> Result<()> {
        let now = Utc::now();
        let (_writer, txn) = crate::db::write::begin_write(db).await?;
        let row = Self::find_by_pid(&txn, pid).await?;
        if row.state(now) == State::Expired {
            return Ok(());
        }
        let before = row.snapshot(now, row.alert_pid(&txn).await?);
        let ended = end(&txn, &row, now).await?;
        if let Some(ended) = ended {
            super::suppression::reconcile_open(&txn, now).await?;
            ended
                .record(
                    &txn,
                    by,
                    EnvelopeType::SilenceDeleted,
                    Some(before),
                    correlation_id,
                )
                .await?;
        }
        txn.commit().await?;
        Ok(())
    }

    /// Ends the "until resolved" silences of the alert with id `alert_id`
    /// (it was resolved or ignored), in the caller's transaction.
    ///
    /// # Errors
    /// Database errors.
    pub async fn end_for_alert<C: ConnectionTrait>(
        db: &C,
        alert_id: i64,
        correlation_id: &str,
    ) -> Result<()> {
        let now = Utc::now();
        let rows = Entity::find()
            .filter(Column::AlertId.eq(alert_id))
            .filter(Column::EndedAt.is_null())
            .all(db)
            .await?;
        for row in rows {
            if let Some(ended) = end(db, &row, now).await? {
                ended
                    .record(
                        db,
                        &By::system(),
                        EnvelopeType::SilenceExpired,
                        None,
                        correlation_id,
                    )
                    .await?;
            }
        }
        Ok(())
    }

    /// Notes the silences whose `ends_at` has passed: each gets its
    /// `silence.expired` envelope and audit entry once, whichever instance
    /// gets there first, and the alerts it quieted are released. Returns
    /// how many it noted.
    ///
    /// # Errors
    /// Database errors.
    pub async fn note_expired(db: &DatabaseConnection, now: DateTime<Utc>) -> Result<usize> {
        let stamp: sea_orm::prelude::DateTimeWithTimeZone = now.into();
        let due = Entity::find()
            .filter(Column::ExpiryNoted.eq(false))
            .filter(Column::EndedAt.is_null())
            .filter(Column::EndsAt.lte(stamp))
            .limit(100)
            .all(db)
            .await?;
        let mut noted = 0;
        for row in due {
            let (_writer, txn) = crate::db::write::begin_write(db).await?;
            let taken = Entity::update_many()
                .col_expr(Column::ExpiryNoted, sea_orm::sea_query::Expr::value(true))
                .filter(Column::Id.eq(row.id))
                .filter(Column::ExpiryNoted.eq(false))
                .exec(&txn)
                .await?;
            if taken.rows_affected == 1 {
                super::suppression::reconcile_open(&txn, now).await?;
                row.record(
                    &txn,
                    &By::system(),
                    EnvelopeType::SilenceExpired,
                    None,
                    "expiry",
                )
                .await?;
                noted += 1;
            }
            txn.commit().await?;
        }
        Ok(noted)
    }

    /// # Errors
    /// 404; database errors.
    pub async fn find_by_pid<C: ConnectionTrait>(db: &C, pid: &str) -> Result<Self> {
        super::find_by_pid::<Entity, _>(db, "silence", Column::Pid, pid).await
    }

    /// A page (from 1) of silences in `state` (any when `None`), newest
    /// first, and their count.
    ///
    /// # Errors
    /// Database errors.
    pub async fn list_page(
        db: &DatabaseConnection,
        state: Option<State>,
        page: u64,
        size: u64,
    ) -> ModelResult<(Vec<Self>, u64)> {
        let now: sea_orm::prelude::DateTimeWithTimeZone = Utc::now().into();
        let mut select = Entity::find();
        let ended = sea_orm::Condition::any()
            .add(Column::EndedAt.is_not_null())
            .add(Column::EndsAt.lte(now));
        let live = sea_orm::Condition::all()
            .add(Column::EndedAt.is_null())
            .add(
                sea_orm::Condition::any()
                    .add(Column::EndsAt.is_null())
                    .add(Column::EndsAt.gt(now)),
            );
        match state {
            Some(State::Expired) => select = select.filter(ended),
            // Active and pending differ by the weekly windows, which SQL
            // does not evaluate: read the live ones and split them here.
            Some(wanted) => {
                let rows: Vec<Self> = select
                    .filter(live)
                    .order_by_desc(Column::Id)
                    .limit(10_000)
                    .all(db)
                    .await?
                    .into_iter()
                    .filter(|r| r.state(now.with_timezone(&Utc)) == wanted)
                    .collect();
                let count = rows.len() as u64;
                let start = usize::try_from(page.saturating_sub(1).saturating_mul(size))
                    .unwrap_or(usize::MAX);
                let rows = rows
                    .into_iter()
                    .skip(start)
                    .take(usize::try_from(size).unwrap_or(usize::MAX))
                    .collect();
                return Ok((rows, count));
            }
            None => {}
        }
        Ok(super::listing::page_of(db, select.order_by_desc(Column::Id), page, size).await?)
    }

    /// Each live silence and whether it is in force at `now`.
    ///
    /// # Errors
    /// Database errors.
    pub async fn in_force_at(
        db: &DatabaseConnection,
        now: DateTime<Utc>,
    ) -> ModelResult<Vec<(Uuid, bool)>> {
        Ok(Self::live(db, now)
            .await?
            .iter()
            .map(|s| (s.pid, s.compile().is_some_and(|c| c.in_force(now))))
            .collect())
    }

    /// The silences that may mute something now or later (not ended).
    ///
    /// # Errors
    /// Database errors.
    pub async fn live<C: ConnectionTrait>(db: &C, now: DateTime<Utc>) -> ModelResult<Vec<Self>> {
        let stamp: sea_orm::prelude::DateTimeWithTimeZone = now.into();
        Ok(Entity::find()
            .filter(Column::EndedAt.is_null())
            .filter(
                sea_orm::Condition::any()
                    .add(Column::EndsAt.is_null())
                    .add(Column::EndsAt.gt(stamp)),
            )
            .order_by_asc(Column::Id)
            .all(db)
            .await?)
    }
}

/// Stores a new silence with its `silence.created` envelope and audit
/// entry, and marks the open alerts it matches, in the caller's
/// transaction.
async fn store<C: ConnectionTrait>(
    db: &C,
    by: &By,
    c: Checked,
    alert_id: Option<i64>,
    now: DateTime<Utc>,
    correlation_id: &str,
) -> Result<(Model, SilenceSnapshot)> {
    let row = insert(db, by, c, alert_id, now).await?;
    // Alerts first, the audit head last (see `change`).
    super::suppression::reconcile_open(db, now).await?;
    let snapshot = row
        .record(db, by, EnvelopeType::SilenceCreated, None, correlation_id)
        .await?;
    Ok((row, snapshot))
}

/// A comment: 1 to 1,000 characters once trimmed.
fn check_comment(comment: &str) -> Result<String, Invalid> {
    let comment = comment.trim();
    if comment.is_empty() || comment.chars().count() > 1_000 {
        return Err(Invalid::field("comment", "Must be 1 to 1000 characters."));
    }
    Ok(comment.to_string())
}

async fn insert<C: ConnectionTrait>(
    db: &C,
    by: &By,
    c: Checked,
    alert_id: Option<i64>,
    now: DateTime<Utc>,
) -> Result<Model, sea_orm::DbErr> {
    let stamp: sea_orm::prelude::DateTimeWithTimeZone = now.trunc_subsecs(6).into();
    ActiveModel {
        pid: ActiveValue::set(Uuid::now_v7()),
        matchers: ActiveValue::set(json!(c.matchers).to_string()),
        starts_at: ActiveValue::set(c.starts_at.into()),
        ends_at: ActiveValue::set(c.ends_at.map(Into::into)),
        recurring: ActiveValue::set(c.recurring.map(|r| json!(r).to_string())),
        comment: ActiveValue::set(c.comment),
        created_by: ActiveValue::set(by.actor.chars().take(200).collect()),
        alert_id: ActiveValue::set(alert_id),
        ended_at: ActiveValue::set(None),
        expiry_noted: ActiveValue::set(false),
        created_at: ActiveValue::set(stamp),
        updated_at: ActiveValue::set(stamp),
        ..Default::default()
    }
    .insert(db)
    .await
}

/// Ends `row` at `now` unless it ended meanwhile; the ended row.
async fn end<C: ConnectionTrait>(
    db: &C,
    row: &Model,
    now: DateTime<Utc>,
) -> ModelResult<Option<Model>> {
    let stamp: sea_orm::prelude::DateTimeWithTimeZone = now.trunc_subsecs(6).into();
    let res = Entity::update_many()
        .col_expr(Column::EndedAt, sea_orm::sea_query::Expr::value(stamp))
        .col_expr(Column::ExpiryNoted, sea_orm::sea_query::Expr::value(true))
        .col_expr(Column::UpdatedAt, sea_orm::sea_query::Expr::value(stamp))
        .filter(Column::Id.eq(row.id))
        .filter(Column::EndedAt.is_null())
        .exec(db)
        .await?;
    if res.rows_affected == 0 {
        return Ok(None);
    }
    Ok(Entity::find_by_id(row.id).one(db).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(days: &[&str], start: &str, minutes: i64, tz: &str) -> Result<Window, FieldErrors> {
        let mut fields = FieldErrors::new();
        Window::parse(
            &Recurring {
                days: days.iter().map(|d| (*d).to_string()).collect(),
                start: start.into(),
                duration_minutes: minutes,
                time_zone: tz.into(),
            },
            &mut fields,
        )
        .ok_or(fields)
    }

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn weekly_windows_follow_the_local_clock_across_midnight_and_dst() {
        // Mondays 22:00 Berlin for 3 hours: 21:00–00:00 UTC in winter.
        let w = window(&["MON"], "22:00", 180, "Europe/Berlin").unwrap();
        assert!(w.contains(at("2026-11-30T21:30:00Z")));
        assert!(w.contains(at("2026-11-30T23:59:00Z")));
        assert!(!w.contains(at("2026-12-01T00:00:00Z")));
        assert!(!w.contains(at("2026-11-30T20:59:00Z")));
        assert!(!w.contains(at("2026-12-01T21:30:00Z")), "Tuesday");
        // In summer (UTC+2) the same window is 20:00–23:00 UTC.
        assert!(w.contains(at("2026-06-01T20:30:00Z")));
        assert!(!w.contains(at("2026-06-01T23:30:00Z")));
    }

    #[test]
    fn bad_windows_name_their_field() {
        let e = window(&["MON"], "22:00", 60, "Mars/Olympus").unwrap_err();
        assert!(e.contains_key("recurring.time_zone"), "{e:?}");
        let e = window(&["FUNDAY"], "25:00", 0, "UTC").unwrap_err();
        for f in [
            "recurring.days",
            "recurring.start",
            "recurring.duration_minutes",
        ] {
            assert!(e.contains_key(f), "{f}: {e:?}");
        }
    }

    #[test]
    fn ends_at_before_starts_at_and_empty_matchers_are_refused() {
        let now = Utc::now();
        let e = check(
            Matchers::default(),
            now,
            Some(now - Duration::hours(1)),
            None,
            "x",
            now,
        )
        .err()
        .unwrap();
        assert!(
            e.contains_key("matchers") && e.contains_key("ends_at"),
            "{e:?}"
        );
        let m = Matchers {
            source_ip: Some("10.0.0.0/33".into()),
            ..Matchers::default()
        };
        let e = check(m, now, Some(now + Duration::hours(1)), None, "x", now)
            .err()
            .unwrap();
        assert!(e.contains_key("matchers.source_ip"), "{e:?}");
    }
}
