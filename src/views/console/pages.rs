//! What each console page shows: the data its template renders. The API's
//! own response types (`AlertResponse`, `EventResponse`, …) are reused, so a
//! page shows the same fields, named the same way, as the JSON API.
use serde::Serialize;

use crate::{
    models::users,
    views::{
        alerts::{AlertResponse, HistoryEntry},
        api_keys::{ApiKeyResponse, CreatedApiKey},
        events::EventResponse,
        ingest::LogIngestResponse,
        users::UserResponse,
        webhooks::{CreatedWebhook, DeliveryResponse, WebhookResponse},
    },
};

/// Who is signed in, as the header shows it.
#[derive(Debug, Serialize)]
pub struct Who {
    pub username: String,
    pub role: &'static str,
    pub is_admin: bool,
}

impl From<&users::Model> for Who {
    fn from(u: &users::Model) -> Self {
        Self {
            username: u.username.clone(),
            role: u.role().as_str(),
            is_admin: u.is_admin(),
        }
    }
}

/// What every page's frame needs: its title, the navigation entry it
/// highlights, the user, and the CSRF token its forms carry.
#[derive(Debug, Serialize)]
pub struct Layout {
    pub title: String,
    pub nav: &'static str,
    pub who: Option<Who>,
    pub csrf: String,
}

/// A labelled figure, with the alert list it stands for.
#[derive(Debug, Serialize)]
pub struct Figure {
    pub label: String,
    pub n: i64,
    /// A CSS class suffix (`critical`, `open`), lower case.
    pub class: String,
    pub link: String,
}

#[derive(Debug, Serialize)]
pub struct LoginPage {
    #[serde(flatten)]
    pub layout: Layout,
    pub next: String,
    pub login: String,
    pub error: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct ErrorPage {
    #[serde(flatten)]
    pub layout: Layout,
    pub status: u16,
    pub heading: String,
    pub message: String,
    pub request_id: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct OverviewBody {
    pub span: &'static str,
    pub computed_at: String,
    /// When the page should ask again (ms): the figures were not computed
    /// for this request, so a change may have come since; none when they
    /// were.
    pub recheck_ms: Option<i64>,
    /// How long computing them took, in milliseconds.
    pub took_ms: i64,
    pub open_total: i64,
    pub open_by_severity: Vec<Figure>,
    pub by_status: Vec<Figure>,
    pub mtta: String,
    pub mttr: String,
    /// `{"x": [unix seconds…], "y": [counts…]}` for the chart.
    pub chart: String,
    pub opened_total: i64,
    pub top_sources: Vec<Figure>,
    pub top_source_ips: Vec<Figure>,
    pub top_rules: Vec<Figure>,
}

#[derive(Debug, Serialize)]
pub struct OverviewPage {
    #[serde(flatten)]
    pub layout: Layout,
    pub body: OverviewBody,
}

/// The values of the alert and event filters, as the form shows them.
#[derive(Debug, Default, Serialize)]
pub struct FilterForm {
    pub status: String,
    pub severity: String,
    pub source: String,
    pub event_type: String,
    pub source_ip: String,
    pub assignee: String,
    pub tag: String,
    pub search: String,
    pub since: String,
    pub until: String,
    pub ordering: String,
}

/// One choice of a `<select>`.
#[derive(Debug, Serialize)]
pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

/// The rows of the alert table (also the fragment the live feed reloads).
#[derive(Debug, Serialize)]
pub struct AlertRows {
    pub alerts: Vec<AlertResponse>,
    /// The next slice's URL.
    pub next: Option<String>,
    /// Whether rows get a checkbox for bulk changes (admins).
    pub can_bulk: bool,
}

#[derive(Debug, Serialize)]
pub struct AlertsPage {
    #[serde(flatten)]
    pub layout: Layout,
    pub filters: FilterForm,
    pub statuses: Vec<Choice>,
    pub severities: Vec<Choice>,
    pub orderings: Vec<Choice>,
    /// The refused filters, named.
    pub error: Option<String>,
    /// The fragment URL the live feed reloads (this page's filters).
    pub rows_url: String,
    pub rows: AlertRows,
    pub bulk_statuses: Vec<&'static str>,
    pub flash: Option<String>,
}

/// What the log detector recorded about a request.
#[derive(Debug, Default, Serialize)]
pub struct Detection {
    pub threat_score: Option<String>,
    pub request: Vec<(String, String)>,
    pub evidence: Vec<(String, String)>,
    pub scores: Vec<(String, String)>,
}

#[derive(Debug, Serialize)]
pub struct AlertPage {
    #[serde(flatten)]
    pub layout: Layout,
    pub alert: AlertResponse,
    pub event: Option<EventResponse>,
    pub metadata: Option<String>,
    pub detection: Option<Detection>,
    /// `{"x": […], "y": […]}`: the alert's events per hour.
    pub occurrences: String,
    pub history: Vec<HistoryEntry>,
    /// The statuses an admin may move this alert to.
    pub transitions: Vec<&'static str>,
    pub severities: Vec<Choice>,
    pub tags: String,
    pub flash: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct EventsPage {
    #[serde(flatten)]
    pub layout: Layout,
    pub filters: FilterForm,
    pub severities: Vec<Choice>,
    pub error: Option<String>,
    pub events: Vec<EventResponse>,
    pub next: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct EventPage {
    #[serde(flatten)]
    pub layout: Layout,
    pub event: EventResponse,
    pub metadata: Option<String>,
    pub alert: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct UploadPage {
    #[serde(flatten)]
    pub layout: Layout,
    pub source: String,
    pub result: Option<LogIngestResponse>,
    /// The alert list of this log's source, and of the alerts the upload opened.
    pub source_link: Option<String>,
    pub opened_link: Option<String>,
    pub error: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct UsersPage {
    #[serde(flatten)]
    pub layout: Layout,
    pub users: Vec<UserResponse>,
    pub me: String,
    pub flash: Option<String>,
    pub error: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct KeysPage {
    #[serde(flatten)]
    pub layout: Layout,
    pub keys: Vec<ApiKeyResponse>,
    pub created: Option<CreatedApiKey>,
    pub scopes: Vec<&'static str>,
    pub error: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct WebhooksPage {
    #[serde(flatten)]
    pub layout: Layout,
    pub webhooks: Vec<WebhookResponse>,
    pub created: Option<CreatedWebhook>,
    pub event_types: Vec<&'static str>,
    pub error: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct WebhookPage {
    #[serde(flatten)]
    pub layout: Layout,
    pub webhook: WebhookResponse,
    pub deliveries: Vec<DeliveryResponse>,
}

/// `3h 12m`, `42s`, or `—`: a mean time as a person reads it.
#[must_use]
pub fn duration_in_words(seconds: Option<f64>) -> String {
    let Some(s) = seconds.filter(|s| s.is_finite() && *s >= 0.0) else {
        return "—".into();
    };
    // Whole seconds are all a person reads here.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let s = s.round() as u64;
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m {}s", s / 60, s % 60),
        3600..=86_399 => format!("{}h {}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d {}h", s / 86_400, (s % 86_400) / 3600),
    }
}

/// `{"x": [unix seconds…], "y": [counts…]}`: a chart's data, carried in a
/// `data-chart` attribute (escaped there, never inside a script).
#[must_use]
pub fn chart_series(points: &[(chrono::DateTime<chrono::Utc>, i64)]) -> String {
    serde_json::json!({
        "x": points.iter().map(|(t, _)| t.timestamp()).collect::<Vec<_>>(),
        "y": points.iter().map(|(_, n)| n).collect::<Vec<_>>(),
    })
    .to_string()
}

/// JSON indented for a `<pre>`; none for null.
#[must_use]
pub fn pretty_json(value: Option<&serde_json::Value>) -> Option<String> {
    value
        .filter(|v| !v.is_null())
        .and_then(|v| serde_json::to_string_pretty(v).ok())
}

impl Detection {
    /// What the log detector recorded about a request, read from its
    /// event's metadata (`component_scores`, `evidence`, `request`,
    /// `threat_score`); none for an event the detector did not make.
    #[must_use]
    pub fn from_metadata(metadata: Option<&serde_json::Value>) -> Option<Self> {
        use serde_json::Value;
        let m = metadata?.as_object()?;
        let scores = m.get("component_scores")?.as_object()?;
        let text = |v: &Value| match v {
            Value::String(s) => s.clone(),
            Value::Null => "—".to_string(),
            other => other.to_string(),
        };
        let pairs = |name: &str| -> Vec<(String, String)> {
            m.get(name)
                .and_then(Value::as_object)
                .map(|r| r.iter().map(|(k, v)| (k.clone(), text(v))).collect())
                .unwrap_or_default()
        };
        Some(Self {
            threat_score: m.get("threat_score").map(text),
            request: pairs("request"),
            evidence: pairs("evidence"),
            scores: scores.iter().map(|(k, v)| (k.clone(), text(v))).collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(duration_in_words(None), "—");
        assert_eq!(duration_in_words(Some(42.4)), "42s");
        assert_eq!(duration_in_words(Some(192.0)), "3m 12s");
        assert_eq!(duration_in_words(Some(11_520.0)), "3h 12m");
        assert_eq!(duration_in_words(Some(90_000.0)), "1d 1h");
    }

    #[test]
    fn detector_metadata_is_read() {
        let m = serde_json::json!({
            "threat_score": 0.9,
            "component_scores": {"SQL_INJECTION": 0.9},
            "evidence": {"SQL_INJECTION": "' OR 1=1"},
            "request": {"method": "GET", "path": "/x", "status": 200, "user_agent": null},
        });
        let d = Detection::from_metadata(Some(&m)).unwrap();
        assert_eq!(d.threat_score.as_deref(), Some("0.9"));
        assert_eq!(
            d.evidence,
            vec![("SQL_INJECTION".into(), "' OR 1=1".into())]
        );
        assert!(d.request.contains(&("user_agent".into(), "—".into())));
        assert!(Detection::from_metadata(Some(&serde_json::json!({"k": 1}))).is_none());
    }
}

/// A silence as its console row shows it.
#[derive(Debug, Serialize)]
pub struct SilenceRow {
    pub id: String,
    pub state: &'static str,
    /// The alert of a "silence until resolved".
    pub alert: Option<String>,
    /// `name=value`, one per matcher.
    pub matchers: Vec<String>,
    /// A weekly window in words.
    pub window: Option<String>,
    pub starts_at: String,
    pub ends_at: Option<String>,
    pub comment: String,
    pub created_by: String,
}

impl From<&crate::models::silences::SilenceSnapshot> for SilenceRow {
    fn from(s: &crate::models::silences::SilenceSnapshot) -> Self {
        let mut matchers = Vec::new();
        let m = &s.matchers;
        for (name, value) in [
            ("source", &m.source),
            ("event_type", &m.event_type),
            ("source_ip", &m.source_ip),
            ("severity", &m.severity),
            ("dedup_key", &m.dedup_key),
        ] {
            if let Some(v) = value {
                matchers.push(format!("{name}={v}"));
            }
        }
        for t in m.tags.iter().flatten() {
            matchers.push(format!("tag={t}"));
        }
        Self {
            id: s.id.clone(),
            state: s.state.into(),
            alert: s.alert.clone(),
            matchers,
            window: s.recurring.as_ref().map(|r| {
                format!(
                    "every {} at {} for {} min ({})",
                    r.days.join(", "),
                    r.start,
                    r.duration_minutes,
                    r.time_zone
                )
            }),
            starts_at: s
                .starts_at
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            ends_at: s
                .ends_at
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
            comment: s.comment.clone(),
            created_by: s.created_by.clone(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct SilencesPage {
    #[serde(flatten)]
    pub layout: Layout,
    pub silences: Vec<SilenceRow>,
    pub state: &'static str,
    pub states: Vec<&'static str>,
    pub severities: Vec<&'static str>,
    pub days: Vec<&'static str>,
    pub error: Option<String>,
    pub flash: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct AllowlistPage {
    #[serde(flatten)]
    pub layout: Layout,
    pub entries: Vec<crate::models::allowlist::EntrySnapshot>,
    pub next: Option<String>,
    pub error: Option<String>,
}

/// An audit entry as its console row shows it.
#[derive(Debug, Serialize)]
pub struct AuditRow {
    #[serde(flatten)]
    pub entry: crate::views::audit::AuditEntry,
    pub before_text: Option<String>,
    pub after_text: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct AuditPage {
    #[serde(flatten)]
    pub layout: Layout,
    pub entries: Vec<AuditRow>,
    pub actions: Vec<&'static str>,
    pub action: String,
    pub next: Option<String>,
    pub previous: Option<String>,
}
