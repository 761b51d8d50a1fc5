//! Operational figures for `GET /api/stats` (SPEC §8).
use std::{collections::BTreeMap, sync::Arc};

use chrono::{DateTime, Duration, DurationRound, Utc};
use loco_rs::{cache::Cache, prelude::*};
use sea_orm::{sea_query::Expr, DatabaseBackend, QuerySelect};
use serde::{Deserialize, Serialize};

use super::{
    _entities::{alerts, events},
    alert_status::AlertStatus,
    severity::Severity,
};

/// Counts and timings over all events and alerts.
#[derive(Debug, Clone)]
pub struct Stats {
    pub events_total: i64,
    pub events_by_severity: BTreeMap<Severity, i64>,
    pub alerts_total: i64,
    pub alerts_open: i64,
    pub alerts_by_severity: BTreeMap<Severity, i64>,
    pub alerts_by_status: BTreeMap<&'static str, i64>,
    /// The last 24 whole hours and the current one, oldest first.
    pub events_per_hour: Vec<(DateTime<Utc>, i64)>,
    pub mean_seconds_to_acknowledge: Option<f64>,
    pub mean_seconds_to_resolve: Option<f64>,
}

/// `AVG(end - start)` in seconds, in each backend's dialect.
fn mean_seconds(backend: DatabaseBackend, end: &str) -> String {
    match backend {
        DatabaseBackend::Postgres => {
            format!("AVG(EXTRACT(EPOCH FROM ({end} - created_at)))::float8")
        }
        _ => format!("AVG((julianday({end}) - julianday(created_at)) * 86400.0)"),
    }
}

/// The hour an event's `created_at` falls in, as `YYYY-MM-DDTHH`.
fn hour_bucket(backend: DatabaseBackend) -> &'static str {
    match backend {
        DatabaseBackend::Postgres => {
            "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24')"
        }
        _ => "strftime('%Y-%m-%dT%H', created_at)",
    }
}

impl Stats {
    /// Computes every figure with grouped queries (no row is loaded).
    ///
    /// # Errors
    /// Database errors.
    pub async fn compute(db: &DatabaseConnection) -> ModelResult<Self> {
        use sea_orm::ExprTrait;
        let backend = db.get_database_backend();
        let ev_sev: Vec<(i16, i64)> = events::Entity::find()
            .select_only()
            .column(events::Column::SeverityRank)
            .column_as(Expr::col(events::Column::Id).count(), "n")
            .group_by(events::Column::SeverityRank)
            .into_tuple()
            .all(db)
            .await?;
        let al_sev: Vec<(i16, i64)> = alerts::Entity::find()
            .select_only()
            .column(alerts::Column::SeverityRank)
            .column_as(Expr::col(alerts::Column::Id).count(), "n")
            .group_by(alerts::Column::SeverityRank)
            .into_tuple()
            .all(db)
            .await?;
        let al_status: Vec<(String, i64)> = alerts::Entity::find()
            .select_only()
            .column(alerts::Column::Status)
            .column_as(Expr::col(alerts::Column::Id).count(), "n")
            .group_by(alerts::Column::Status)
            .into_tuple()
            .all(db)
            .await?;

        let now = Utc::now();
        let start = now.duration_trunc(Duration::hours(1)).unwrap_or(now) - Duration::hours(24);
        let per_hour: Vec<(String, i64)> = events::Entity::find()
            .select_only()
            .column_as(Expr::cust(hour_bucket(backend)), "hour")
            .column_as(Expr::col(events::Column::Id).count(), "n")
            .filter(events::Column::CreatedAt.gte(start.fixed_offset()))
            .group_by(Expr::cust(hour_bucket(backend)))
            .into_tuple()
            .all(db)
            .await?;
        let per_hour: BTreeMap<String, i64> = per_hour.into_iter().collect();
        let events_per_hour = (0..=24)
            .map(|h| {
                let t = start + Duration::hours(h);
                let key = t.format("%Y-%m-%dT%H").to_string();
                (t, per_hour.get(&key).copied().unwrap_or(0))
            })
            .collect();

        let mtta: Option<Option<f64>> = alerts::Entity::find()
            .select_only()
            .column_as(Expr::cust(mean_seconds(backend, "acknowledged_at")), "s")
            .filter(alerts::Column::AcknowledgedAt.is_not_null())
            .into_tuple()
            .one(db)
            .await?;
        let mttr: Option<Option<f64>> = alerts::Entity::find()
            .select_only()
            .column_as(Expr::cust(mean_seconds(backend, "resolved_at")), "s")
            .filter(alerts::Column::ResolvedAt.is_not_null())
            .into_tuple()
            .one(db)
            .await?;

        let mut alerts_by_status: BTreeMap<&'static str, i64> =
            AlertStatus::ALL.iter().map(|s| (s.as_str(), 0)).collect();
        for (status, n) in &al_status {
            if let Ok(s) = status.parse::<AlertStatus>() {
                *alerts_by_status.entry(s.as_str()).or_default() += n;
            }
        }
        let by_sev = |rows: &[(i16, i64)]| {
            let mut m: BTreeMap<Severity, i64> = Severity::ALL.iter().map(|s| (*s, 0)).collect();
            for (rank, n) in rows {
                *m.entry(Severity::from_rank(*rank)).or_default() += n;
            }
            m
        };
        let alerts_open = al_status
            .iter()
            .filter(|(s, _)| s.parse::<AlertStatus>().is_ok_and(AlertStatus::is_open))
            .map(|(_, n)| n)
            .sum();
        Ok(Self {
            events_total: ev_sev.iter().map(|(_, n)| n).sum(),
            events_by_severity: by_sev(&ev_sev),
            alerts_total: al_status.iter().map(|(_, n)| n).sum(),
            alerts_open,
            alerts_by_severity: by_sev(&al_sev),
            alerts_by_status,
            events_per_hour,
            mean_seconds_to_acknowledge: mtta.flatten(),
            mean_seconds_to_resolve: mttr.flatten(),
        })
    }
}

/// The span of the console overview's chart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Span {
    /// The last 24 hours, by hour.
    Day,
    /// The last 7 days, by hour.
    Week,
}

impl Span {
    #[must_use]
    pub fn hours(self) -> i64 {
        match self {
            Self::Day => 24,
            Self::Week => 24 * 7,
        }
    }

    /// `24h` or `7d`, as the console's URL names it.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Day => "24h",
            Self::Week => "7d",
        }
    }
}

/// The triage figures of the console's overview, all about alerts.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Overview {
    pub computed_at: DateTime<Utc>,
    pub span: Span,
    /// Open alerts (every status before RESOLVED/IGNORED) by severity, highest first.
    pub open_by_severity: Vec<(Severity, i64)>,
    /// Alerts by status, in lifecycle order (from the running tallies).
    pub by_status: Vec<(AlertStatus, i64)>,
    pub mean_seconds_to_acknowledge: Option<f64>,
    pub mean_seconds_to_resolve: Option<f64>,
    /// Alerts opened per hour over the span, oldest first.
    pub opened_per_hour: Vec<(DateTime<Utc>, i64)>,
    /// The open alerts' most frequent sources, source addresses and
    /// detection rules (the log detector's event types), at most 5 each.
    pub top_sources: Vec<(String, i64)>,
    pub top_source_ips: Vec<(String, i64)>,
    pub top_rules: Vec<(String, i64)>,
    /// How long computing it took, in milliseconds.
    pub took_ms: i64,
}

/// How old an overview may be before a request asks for a fresh one (at
/// least; see [`Overview::fresh_for`]).
const OVERVIEW_FRESH: Duration = Duration::seconds(1);
/// Top lists' length.
const TOP: u64 = 5;

impl Overview {
    /// Computes the overview over every alert (grouped queries; a full scan
    /// of the alerts table, so [`Self::recent`] is what pages call).
    ///
    /// # Errors
    /// Database errors.
    pub async fn compute(
        db: &DatabaseConnection,
        span: Span,
        rule_names: &[String],
    ) -> ModelResult<Self> {
        use sea_orm::{ExprTrait, Order};
        let began = std::time::Instant::now();
        let backend = db.get_database_backend();
        let open: Vec<String> = AlertStatus::ALL
            .iter()
            .filter(|s| s.is_open())
            .map(|s| s.as_str().to_string())
            .collect();
        let by_rank: Vec<(i16, i64)> = alerts::Entity::find()
            .select_only()
            .column(alerts::Column::SeverityRank)
            .column_as(Expr::col(alerts::Column::Id).count(), "n")
            .filter(alerts::Column::Status.is_in(open.clone()))
            .group_by(alerts::Column::SeverityRank)
            .into_tuple()
            .all(db)
            .await?;
        let open_by_severity: Vec<(Severity, i64)> = Severity::ALL
            .iter()
            .rev()
            .map(|s| {
                let n = by_rank
                    .iter()
                    .filter(|(r, _)| Severity::from_rank(*r) == *s)
                    .map(|(_, n)| n)
                    .sum();
                (*s, n)
            })
            .collect();
        let names: Vec<String> = AlertStatus::ALL
            .iter()
            .map(|s| super::tallies::alerts(*s))
            .collect();
        let tallied: Vec<(String, i64)> = super::tallies::Entity::find()
            .select_only()
            .column(super::tallies::Column::Name)
            .column(super::tallies::Column::N)
            .filter(super::tallies::Column::Name.is_in(names))
            .into_tuple()
            .all(db)
            .await?;
        let by_status = AlertStatus::ALL
            .iter()
            .map(|s| {
                let name = super::tallies::alerts(*s);
                let n = tallied
                    .iter()
                    .find(|(t, _)| *t == name)
                    .map_or(0, |(_, n)| *n);
                (*s, n)
            })
            .collect();

        let now = Utc::now();
        let end = now.duration_trunc(Duration::hours(1)).unwrap_or(now);
        let start = end - Duration::hours(span.hours() - 1);
        let per_hour: Vec<(String, i64)> = alerts::Entity::find()
            .select_only()
            .column_as(Expr::cust(hour_bucket(backend)), "hour")
            .column_as(Expr::col(alerts::Column::Id).count(), "n")
            .filter(alerts::Column::CreatedAt.gte(start.fixed_offset()))
            .group_by(Expr::cust(hour_bucket(backend)))
            .into_tuple()
            .all(db)
            .await?;
        let per_hour: BTreeMap<String, i64> = per_hour.into_iter().collect();
        let opened_per_hour = (0..span.hours())
            .map(|h| {
                let t = start + Duration::hours(h);
                let key = t.format("%Y-%m-%dT%H").to_string();
                (t, per_hour.get(&key).copied().unwrap_or(0))
            })
            .collect();

        let mean = |end: &'static str, col: alerts::Column| {
            alerts::Entity::find()
                .select_only()
                .column_as(Expr::cust(mean_seconds(backend, end)), "s")
                .filter(col.is_not_null())
                .into_tuple::<Option<f64>>()
                .one(db)
        };
        let mtta = mean("acknowledged_at", alerts::Column::AcknowledgedAt).await?;
        let mttr = mean("resolved_at", alerts::Column::ResolvedAt).await?;

        let top = |col: alerts::Column, only: Option<&[String]>| {
            let mut q = alerts::Entity::find()
                .select_only()
                .column(col)
                .column_as(Expr::col(alerts::Column::Id).count(), "n")
                .filter(alerts::Column::Status.is_in(open.clone()))
                .filter(col.is_not_null());
            if let Some(names) = only {
                q = q.filter(col.is_in(names.iter().cloned()));
            }
            q.group_by(col)
                .order_by(Expr::col(alerts::Column::Id).count(), Order::Desc)
                .order_by(col, Order::Asc)
                .limit(TOP)
                .into_tuple::<(String, i64)>()
                .all(db)
        };
        let top_sources = top(alerts::Column::Source, None).await?;
        let top_source_ips = top(alerts::Column::SourceIp, None).await?;
        let top_rules = if rule_names.is_empty() {
            Vec::new()
        } else {
            top(alerts::Column::EventType, Some(rule_names)).await?
        };
        Ok(Self {
            computed_at: now,
            span,
            open_by_severity,
            by_status,
            mean_seconds_to_acknowledge: mtta.flatten(),
            mean_seconds_to_resolve: mttr.flatten(),
            opened_per_hour,
            top_sources,
            top_source_ips,
            top_rules,
            took_ms: i64::try_from(began.elapsed().as_millis()).unwrap_or(i64::MAX),
        })
    }

    /// How long this overview is shown before a fresh one is computed: a
    /// second, or four times what computing it took, so the scans never
    /// keep more than a quarter of one connection busy (a million alerts:
    /// seconds; a few thousand: a second).
    #[must_use]
    pub fn fresh_for(&self) -> Duration {
        std::cmp::max(OVERVIEW_FRESH, Duration::milliseconds(self.took_ms * 4))
    }

    /// When a page showing this overview at `now` should ask again (ms):
    /// soon after it expires (a fresh computation starts then), soon if it
    /// has (one is under way), never when it is brand new.
    #[must_use]
    pub fn recheck_ms(&self, now: DateTime<Utc>) -> Option<i64> {
        let age = (now - self.computed_at).num_milliseconds();
        let fresh_for = self.fresh_for().num_milliseconds();
        if age < 200 {
            None
        } else if age < fresh_for {
            Some(fresh_for - age + 100)
        } else {
            Some(1_000)
        }
    }

    /// The overview at most [`Self::fresh_for`] old: kept in `cache`; a
    /// stale one is answered while one task computes its successor, so a
    /// page never waits for the scan except the very first time.
    ///
    /// # Errors
    /// Database errors of a first computation.
    pub async fn recent(
        db: &DatabaseConnection,
        cache: &Arc<Cache>,
        span: Span,
        rule_names: &[String],
    ) -> ModelResult<Self> {
        let key = format!("overview:{}", span.as_str());
        let busy = format!("{key}:refreshing");
        if let Ok(Some(kept)) = cache.get::<Self>(&key).await {
            if Utc::now() - kept.computed_at > kept.fresh_for()
                && !cache.contains_key(&busy).await.unwrap_or(true)
            {
                let _ = cache
                    .insert_with_expiry(&busy, &true, std::time::Duration::from_secs(60))
                    .await;
                let (db, cache, names) = (db.clone(), cache.clone(), rule_names.to_vec());
                tokio::spawn(async move {
                    match Self::compute(&db, span, &names).await {
                        Ok(fresh) => {
                            let _ = cache.insert(&key, &fresh).await;
                        }
                        Err(err) => tracing::warn!(error = %err, "overview refresh failed"),
                    }
                    let _ = cache.remove(&busy).await;
                });
            }
            return Ok(kept);
        }
        // The first computation: one at a time, the others wait for it and
        // read what it kept (a crowd of first requests would otherwise
        // each scan the tables).
        static FIRST: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
        let _turn = FIRST.lock().await;
        if let Ok(Some(kept)) = cache.get::<Self>(&key).await {
            return Ok(kept);
        }
        let fresh = Self::compute(db, span, rule_names).await?;
        if let Err(err) = cache.insert(&key, &fresh).await {
            tracing::warn!(error = %err, "overview cache refused an entry");
        }
        Ok(fresh)
    }
}

/// An alert's events per hour, from the hour it was first seen to the hour
/// it was last seen (the last 168 hours of that at most), oldest first.
///
/// # Errors
/// Database errors.
pub async fn occurrences_per_hour(
    db: &DatabaseConnection,
    alert: &alerts::Model,
) -> ModelResult<Vec<(DateTime<Utc>, i64)>> {
    use sea_orm::ExprTrait;
    let backend = db.get_database_backend();
    let hour = |t: DateTime<Utc>| t.duration_trunc(Duration::hours(1)).unwrap_or(t);
    let last = hour(alert.last_seen.with_timezone(&Utc));
    let first = std::cmp::max(
        hour(alert.first_seen.with_timezone(&Utc)),
        last - Duration::hours(167),
    );
    let rows: Vec<(String, i64)> = events::Entity::find()
        .select_only()
        .column_as(Expr::cust(hour_bucket(backend)), "hour")
        .column_as(Expr::col(events::Column::Id).count(), "n")
        .filter(events::Column::AlertId.eq(alert.id))
        .filter(events::Column::CreatedAt.gte(first.fixed_offset()))
        .group_by(Expr::cust(hour_bucket(backend)))
        .into_tuple()
        .all(db)
        .await?;
    let rows: BTreeMap<String, i64> = rows.into_iter().collect();
    let hours = last.signed_duration_since(first).num_hours();
    Ok((0..=hours)
        .map(|h| {
            let t = first + Duration::hours(h);
            (
                t,
                rows.get(&t.format("%Y-%m-%dT%H").to_string())
                    .copied()
                    .unwrap_or(0),
            )
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn computed(ago_ms: i64, took_ms: i64) -> (Overview, DateTime<Utc>) {
        let now = Utc::now();
        let o = Overview {
            computed_at: now - Duration::milliseconds(ago_ms),
            span: Span::Day,
            open_by_severity: Vec::new(),
            by_status: Vec::new(),
            mean_seconds_to_acknowledge: None,
            mean_seconds_to_resolve: None,
            opened_per_hour: Vec::new(),
            top_sources: Vec::new(),
            top_source_ips: Vec::new(),
            top_rules: Vec::new(),
            took_ms,
        };
        (o, now)
    }

    #[test]
    fn overview_pages_ask_again_until_their_figures_are_new() {
        let (o, now) = computed(50, 3);
        assert_eq!(o.recheck_ms(now), None);
        let (o, now) = computed(400, 3);
        assert_eq!(o.recheck_ms(now), Some(700));
        let (o, now) = computed(3_000, 3);
        assert_eq!(o.recheck_ms(now), Some(1_000));
        // An expensive overview (2 s to compute) is kept four times that.
        let (o, now) = computed(3_000, 2_000);
        assert_eq!(o.fresh_for(), Duration::seconds(8));
        assert_eq!(o.recheck_ms(now), Some(5_100));
    }
}
