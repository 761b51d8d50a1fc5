use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::filters::{ListFilters, Paging};
use crate::models::{
    alert_histories,
    listing::{flag, parse_all, search, time, values, Filters, ListQuery, Resource},
    severity::Severity,
    FieldErrors,
};

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
// The one declaration of the list's parameters: `/swagger` documents this
// struct, requests are read into it (`ListParams`), and a name it does not
// declare is refused. Each field holds every value given for its name.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(default)]
pub struct AlertFilters {
    /// OPEN, ACKNOWLEDGED, INVESTIGATING, ESCALATED, MITIGATED, RESOLVED, IGNORED.
    #[param(value_type = Option<String>)]
    pub status: Vec<String>,
    /// LOW, MEDIUM, HIGH, CRITICAL.
    #[param(value_type = Option<String>)]
    pub severity: Vec<String>,
    /// Same as `severity` (Django-style name).
    #[serde(rename = "event__severity")]
    #[param(value_type = Option<String>)]
    pub event_severity: Vec<String>,
    #[param(value_type = Option<String>)]
    pub source: Vec<String>,
    #[param(value_type = Option<String>)]
    pub event_type: Vec<String>,
    #[param(value_type = Option<String>)]
    pub source_ip: Vec<String>,
    /// Username of the assignee.
    #[param(value_type = Option<String>)]
    pub assignee: Vec<String>,
    /// Alerts carrying any of these tags (exact match; repeat or comma-separate for OR).
    #[param(value_type = Option<String>)]
    pub tag: Vec<String>,
    /// `true`: only alerts a silence quiets; `false`: only the others.
    #[param(value_type = Option<bool>)]
    pub suppressed: Vec<String>,
    /// Created at or after (RFC 3339).
    #[param(value_type = Option<String>)]
    pub since: Vec<String>,
    /// Created at or before (RFC 3339).
    #[param(value_type = Option<String>)]
    pub until: Vec<String>,
    /// Case-insensitive match over title, source, event type and the opening event's description.
    #[param(value_type = Option<String>)]
    pub search: Vec<String>,
    /// `created_at`, `-created_at` (default), `severity`, `-severity` (by rank), `last_seen`, `-last_seen`, `occurrences`, `-occurrences`.
    #[param(value_type = Option<String>)]
    pub ordering: Vec<String>,
    // Before `unknown`: a flattened struct takes its names first.
    #[serde(flatten)]
    #[param(ignore)]
    pub paging: Paging,
    #[serde(flatten)]
    #[param(ignore)]
    pub unknown: BTreeMap<String, Vec<String>>,
}

impl ListFilters for AlertFilters {
    fn unknown(&self) -> &BTreeMap<String, Vec<String>> {
        &self.unknown
    }

    fn read(&self, errors: &mut FieldErrors) -> ListQuery {
        let mut severity = parse_all("severity", &self.severity, str::parse, errors);
        severity.extend(parse_all(
            "event__severity",
            &self.event_severity,
            str::parse::<Severity>,
            errors,
        ));
        ListQuery {
            status: parse_all("status", &self.status, str::parse, errors),
            filters: Filters {
                severity,
                source: values(&self.source),
                event_type: values(&self.event_type),
                source_ip: values(&self.source_ip),
                assignee: values(&self.assignee),
                tag: values(&self.tag),
                suppressed: flag("suppressed", &self.suppressed, errors),
                since: time("since", &self.since, errors),
                until: time("until", &self.until, errors),
                search: search(&self.search),
            },
            ordering: Resource::Alerts.ordering(&self.ordering, errors),
        }
    }
}

/// Query parameters of `GET /api/alerts/export`: the list's filters, and
/// the format.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ExportParams {
    pub format: Vec<String>,
    #[serde(flatten)]
    pub filters: AlertFilters,
}

impl ExportParams {
    /// The format and the filters, or every bad parameter at once (an
    /// export is in creation order, without pages: `ordering`, `page`,
    /// `page_size` and `cursor` are refused, each by name).
    ///
    /// # Errors
    /// Parameter name → messages.
    pub fn read(&self) -> Result<(ExportFormat, ListQuery), FieldErrors> {
        let mut errors = self.filters.query().err().unwrap_or_default();
        let format = match self.format.last().map(String::as_str) {
            None | Some("csv") => ExportFormat::Csv,
            Some("ndjson") => ExportFormat::Ndjson,
            Some(other) => {
                errors.insert(
                    "format".into(),
                    vec![format!("Unknown format `{other}`: use csv or ndjson.")],
                );
                ExportFormat::Csv
            }
        };
        let (f, paging) = (&self.filters, &self.filters.paging);
        for (name, given) in [
            ("ordering", &f.ordering),
            ("page", &paging.page),
            ("page_size", &paging.page_size),
            ("cursor", &paging.cursor),
        ] {
            if !given.is_empty() {
                errors.insert(
                    name.into(),
                    vec!["An export is always in creation order, without pages.".into()],
                );
            }
        }
        if errors.is_empty() {
            Ok((format, self.filters.query()?))
        } else {
            Err(errors)
        }
    }
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
