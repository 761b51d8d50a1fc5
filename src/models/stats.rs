//! Operational figures for `GET /api/stats` (SPEC §8).
use std::collections::BTreeMap;

use chrono::{DateTime, Duration, DurationRound, Utc};
use loco_rs::prelude::*;
use sea_orm::{sea_query::Expr, DatabaseBackend, QuerySelect};

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
