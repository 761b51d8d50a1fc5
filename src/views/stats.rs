use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::models::stats::Stats;

/// Events in one hour.
#[derive(Debug, Serialize, ToSchema)]
pub struct HourCount {
    /// Start of the hour (UTC).
    pub hour: DateTime<Utc>,
    pub count: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventStats {
    pub total: i64,
    /// LOW, MEDIUM, HIGH, CRITICAL → count.
    pub by_severity: BTreeMap<String, i64>,
    /// The last 24 hours and the current one, oldest first.
    pub per_hour: Vec<HourCount>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AlertStats {
    pub total: i64,
    /// Alerts not RESOLVED or IGNORED.
    pub open: i64,
    pub by_severity: BTreeMap<String, i64>,
    pub by_status: BTreeMap<String, i64>,
    /// Mean seconds from creation to acknowledgement, over acknowledged alerts.
    pub mean_time_to_acknowledge_seconds: Option<f64>,
    /// Mean seconds from creation to resolution, over resolved alerts.
    pub mean_time_to_resolve_seconds: Option<f64>,
}

/// `GET /api/stats`.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatsResponse {
    pub events: EventStats,
    pub alerts: AlertStats,
}

impl From<Stats> for StatsResponse {
    fn from(s: Stats) -> Self {
        let sev = |m: &BTreeMap<crate::models::severity::Severity, i64>| {
            m.iter()
                .map(|(k, v)| (k.as_str().to_string(), *v))
                .collect()
        };
        Self {
            events: EventStats {
                total: s.events_total,
                by_severity: sev(&s.events_by_severity),
                per_hour: s
                    .events_per_hour
                    .iter()
                    .map(|(hour, count)| HourCount {
                        hour: *hour,
                        count: *count,
                    })
                    .collect(),
            },
            alerts: AlertStats {
                total: s.alerts_total,
                open: s.alerts_open,
                by_severity: sev(&s.alerts_by_severity),
                by_status: s
                    .alerts_by_status
                    .iter()
                    .map(|(k, v)| ((*k).to_string(), *v))
                    .collect(),
                mean_time_to_acknowledge_seconds: s.mean_seconds_to_acknowledge,
                mean_time_to_resolve_seconds: s.mean_seconds_to_resolve,
            },
        }
    }
}
