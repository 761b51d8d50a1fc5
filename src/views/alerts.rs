use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::models::alert_histories;

/// An alert as the API, the live feed and webhooks show it: defined with
/// the alert (the outbox stores it inside the change's transaction).
pub use crate::models::alerts::AlertSnapshot as AlertResponse;

/// One line of an alert's history.
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryEntry {
    /// `created`, `status_changed`, `note` or `updated`.
    pub action: String,
    /// Who: a username, or `system` for automatic changes.
    pub actor: String,
    pub at: DateTime<Utc>,
    pub from_status: Option<String>,
    pub to_status: Option<String>,
    pub note: Option<String>,
    /// For `updated`: the fields changed, old and new values.
    #[schema(value_type = Option<Object>)]
    pub changes: Option<Value>,
}

impl From<&alert_histories::Model> for HistoryEntry {
    fn from(h: &alert_histories::Model) -> Self {
        Self {
            action: h.action.clone(),
            actor: h.actor.clone(),
            at: h.created_at.with_timezone(&Utc),
            from_status: h.from_status.clone(),
            to_status: h.to_status.clone(),
            note: h.note.clone(),
            changes: h.changes.clone(),
        }
    }
}

/// One id's outcome in a bulk status change.
#[derive(Debug, Serialize, ToSchema)]
pub struct BulkResult {
    pub id: String,
    /// HTTP-like status of this item: 200, 400, 404 or 409.
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alert: Option<AlertResponse>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<crate::errors::ErrorBody>,
}

/// Query parameters of `GET /api/alerts` (repeated or comma-separated values mean OR).
#[allow(dead_code)]
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AlertFilters {
    /// OPEN, ACKNOWLEDGED, INVESTIGATING, ESCALATED, MITIGATED, RESOLVED, IGNORED.
    pub status: Option<String>,
    /// LOW, MEDIUM, HIGH, CRITICAL.
    pub severity: Option<String>,
    /// Same as `severity` (Django-style name).
    #[param(rename = "event__severity")]
    pub event_severity: Option<String>,
    pub source: Option<String>,
    pub event_type: Option<String>,
    pub source_ip: Option<String>,
    /// Username of the assignee.
    pub assignee: Option<String>,
    /// Alerts carrying any of these tags (exact match; repeat or comma-separate for OR).
    pub tag: Option<String>,
    /// Created at or after (RFC 3339).
    pub since: Option<String>,
    /// Created at or before (RFC 3339).
    pub until: Option<String>,
    /// Case-insensitive match over title, source, event type and the opening event's description.
    pub search: Option<String>,
    /// `created_at`, `-created_at` (default), `severity`, `-severity` (by rank), `last_seen`, `-last_seen`, `occurrences`, `-occurrences`.
    pub ordering: Option<String>,
    /// Page number, from 1.
    pub page: Option<u64>,
    /// Items per page (default 10, max 500).
    pub page_size: Option<u64>,
    /// Keyset pagination: empty for the first page, then the token from `next`.
    /// Deep pages cost what the first costs; `count` is null in this mode.
    pub cursor: Option<String>,
}

/// Export formats of `GET /api/alerts/export`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Csv,
    Ndjson,
}

impl ExportFormat {
    #[must_use]
    pub const fn content_type(self) -> &'static str {
        match self {
            Self::Csv => "text/csv; charset=utf-8",
            Self::Ndjson => "application/x-ndjson",
        }
    }

    #[must_use]
    pub const fn extension(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::Ndjson => "ndjson",
        }
    }

    /// The first line of the export (CSV header), if any.
    #[must_use]
    pub fn header(self) -> Option<String> {
        (self == Self::Csv).then(|| format!("{}\r\n", CSV_COLUMNS.join(",")))
    }

    /// One alert as one line.
    #[must_use]
    pub fn line(self, alert: &AlertResponse) -> String {
        match self {
            Self::Ndjson => format!("{}\n", serde_json::to_string(alert).unwrap_or_default()),
            Self::Csv => {
                let t = |d: &DateTime<Utc>| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
                let cells = [
                    alert.id.clone(),
                    alert.title.clone(),
                    alert.severity.as_str().to_string(),
                    alert.status.as_str().to_string(),
                    alert.source.clone(),
                    alert.event_type.clone(),
                    alert.source_ip.clone().unwrap_or_default(),
                    alert.occurrences.to_string(),
                    t(&alert.first_seen),
                    t(&alert.last_seen),
                    alert.event.clone(),
                    alert.assignee.clone().unwrap_or_default(),
                    alert.tags.join("|"),
                    t(&alert.created_at),
                    t(&alert.updated_at),
                    alert.acknowledged_at.as_ref().map(t).unwrap_or_default(),
                    alert.resolved_at.as_ref().map(t).unwrap_or_default(),
                ];
                let row: Vec<String> = cells
                    .iter()
                    .enumerate()
                    .map(|(i, c)| {
                        // The one number stays a number; every text is quoted.
                        if CSV_COLUMNS[i] == "occurrences" {
                            c.clone()
                        } else {
                            csv_cell(c)
                        }
                    })
                    .collect();
                format!("{}\r\n", row.join(","))
            }
        }
    }
}

const CSV_COLUMNS: [&str; 17] = [
    "id",
    "title",
    "severity",
    "status",
    "source",
    "event_type",
    "source_ip",
    "occurrences",
    "first_seen",
    "last_seen",
    "event",
    "assignee",
    "tags",
    "created_at",
    "updated_at",
    "acknowledged_at",
    "resolved_at",
];

/// Characters a spreadsheet reads as the start of a formula.
const FORMULA_START: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];
/// List separators of some locale or program (`;` in much of Europe): a
/// formula may start after any of them if a cell is ever split there.
const SEPARATORS: [char; 4] = [',', ';', '|', '\t'];

/// A text cell: always quoted (RFC 4180), and a `'` before anything a
/// spreadsheet would run as a formula, at the start of the cell and after
/// any list separator inside it: sensor text is data, never code.
fn csv_cell(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 4);
    out.push('"');
    let mut at_start = true;
    for ch in value.chars() {
        if at_start && FORMULA_START.contains(&ch) {
            out.push('\'');
        }
        at_start = SEPARATORS.contains(&ch) || (at_start && ch == ' ');
        if ch == '"' {
            out.push('"');
        }
        out.push(ch);
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::csv_cell;

    #[test]
    fn csv_cells_are_quoted_and_defused() {
        assert_eq!(csv_cell("plain"), "\"plain\"");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_cell("-1"), "\"'-1\"");
        // The probe's payload: a formula after the `;` list separator.
        assert_eq!(
            csv_cell("x;=cmd|' /C calc'!A0"),
            "\"x;'=cmd|' /C calc'!A0\""
        );
        assert_eq!(csv_cell("a| @SUM(1)"), "\"a| '@SUM(1)\"");
        assert_eq!(csv_cell("a-b"), "\"a-b\"", "a dash inside a word is text");
    }
}

#[cfg(test)]
mod documented {
    use utoipa::IntoParams;

    use crate::models::listing::{Resource, PAGING};

    fn documented<P: IntoParams>() -> Vec<String> {
        let mut names: Vec<String> = P::into_params(|| None)
            .into_iter()
            .map(|p| p.name)
            .collect();
        names.sort();
        names
    }

    fn accepted(resource: Resource) -> Vec<String> {
        let mut names: Vec<String> = resource
            .filters()
            .iter()
            .chain(&PAGING)
            .filter(|n| **n != "format")
            .map(ToString::to_string)
            .collect();
        names.sort();
        names
    }

    /// The parameters `/swagger` documents are the ones the lists accept:
    /// a filter added to one and not the other fails here.
    #[test]
    fn documented_list_parameters_are_the_accepted_ones() {
        assert_eq!(
            documented::<super::AlertFilters>(),
            accepted(Resource::Alerts)
        );
        assert_eq!(
            documented::<super::super::events::EventFilters>(),
            accepted(Resource::Events)
        );
    }
}
