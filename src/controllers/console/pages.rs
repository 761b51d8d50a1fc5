//! The analysts' pages: overview, alerts, an alert, events, an event, the
//! log upload. Reads go through the same models and filter declarations
//! as the JSON API; changes through the same model methods (history,
//! envelopes, webhooks included).
use axum::http::{HeaderMap, StatusCode};
use loco_rs::prelude::*;
use serde_json::Value;

use super::{error_page, page, see_other, session::Console, Form, Page, PageError};
use crate::{
    controllers::extract::{list_params, CorrelationId, QueryPairs},
    errors::ApiError,
    ingestion::{
        log_stream::{self, LogIngest},
        writer::IngestWriter,
    },
    models::{
        alert_histories,
        alert_status::AlertStatus,
        alerts::{self, Actor, AlertEdit},
        events,
        listing::{self, Cursor, Window},
        severity::Severity,
        stats::{self, Overview, Span},
    },
    settings::Settings,
    views::{
        alerts::{AlertFilters, AlertResponse, HistoryEntry},
        console::pages::{
            AlertPage, AlertRows, AlertsPage, Choice, Detection, EventPage, EventsPage, Figure,
            FilterForm, OverviewBody, OverviewPage, UploadPage,
        },
        events::{EventFilters, EventResponse},
        filters::ListFilters,
        ingest::LogIngestResponse,
    },
    workers::dispatcher::Feed,
};

/// Rows per console list page (Alerta's and TheHive's consoles show 20
/// and 15; the next rows are a link away).
const ROWS: u64 = 25;

/// The statuses of an open alert, as a filter value.
fn open_statuses() -> String {
    AlertStatus::ALL
        .iter()
        .filter(|s| s.is_open())
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

/// `path?name=value&…`, each pair URL-encoded.
fn link(path: &str, pairs: &[(&str, &str)]) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        q.append_pair(k, v);
    }
    let q = q.finish();
    if q.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{q}")
    }
}

/// `3h 12m`, `42s`, or `—`.
fn duration(seconds: Option<f64>) -> String {
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

/// `{"x": [unix seconds…], "y": [counts…]}` for a chart.
fn series(points: &[(chrono::DateTime<chrono::Utc>, i64)]) -> String {
    serde_json::json!({
        "x": points.iter().map(|(t, _)| t.timestamp()).collect::<Vec<_>>(),
        "y": points.iter().map(|(_, n)| n).collect::<Vec<_>>(),
    })
    .to_string()
}

/// When a page showing overview figures `age` old should ask again: soon
/// after they expire (a fresh computation starts then), soon if they have
/// (one is under way), never when they are brand new.
fn recheck(age: chrono::Duration, fresh_for: chrono::Duration) -> Option<i64> {
    let age = age.num_milliseconds();
    let fresh_for = fresh_for.num_milliseconds();
    if age < 200 {
        None
    } else if age < fresh_for {
        Some(fresh_for - age + 100)
    } else {
        Some(1_000)
    }
}

#[derive(serde::Deserialize)]
pub struct OverviewQuery {
    span: Option<String>,
    fragment: Option<String>,
}

/// `GET /console`: open alerts by severity and status, MTTA and MTTR,
/// alerts opened per hour, the top sources, addresses and rules. Figures
/// are at most a second old, or a few with a large history
/// (`Overview::recent`); the page reloads its body when
/// the live feed reports a change.
pub async fn overview(
    console: Console,
    State(ctx): State<AppContext>,
    Query(q): Query<OverviewQuery>,
) -> Page {
    let span = if q.span.as_deref() == Some("7d") {
        Span::Week
    } else {
        Span::Day
    };
    let rule_names: Vec<String> = log_stream::rules(&ctx)?
        .rules
        .iter()
        .map(|r| r.name.clone())
        .collect();
    let o = Overview::recent(&ctx.db, &ctx.cache, span, &rule_names).await?;
    let open = open_statuses();
    let top = |rows: &[(String, i64)], name: &str| -> Vec<Figure> {
        rows.iter()
            .map(|(label, n)| Figure {
                label: label.clone(),
                n: *n,
                class: String::new(),
                link: link("/console/alerts", &[("status", &open), (name, label)]),
            })
            .collect()
    };
    let body = OverviewBody {
        span: span.as_str(),
        computed_at: o.computed_at.to_rfc3339(),
        recheck_ms: recheck(chrono::Utc::now() - o.computed_at, o.fresh_for()),
        took_ms: o.took_ms,
        open_total: o.open_by_severity.iter().map(|(_, n)| n).sum(),
        open_by_severity: o
            .open_by_severity
            .iter()
            .map(|(s, n)| Figure {
                label: format!("{s} open"),
                n: *n,
                class: s.as_str().to_lowercase(),
                link: link(
                    "/console/alerts",
                    &[("status", &open), ("severity", s.as_str())],
                ),
            })
            .collect(),
        by_status: o
            .by_status
            .iter()
            .map(|(s, n)| Figure {
                label: s.as_str().to_string(),
                n: *n,
                class: s.as_str().to_lowercase(),
                link: link("/console/alerts", &[("status", s.as_str())]),
            })
            .collect(),
        mtta: duration(o.mean_seconds_to_acknowledge),
        mttr: duration(o.mean_seconds_to_resolve),
        chart: series(&o.opened_per_hour),
        opened_total: o.opened_per_hour.iter().map(|(_, n)| n).sum(),
        top_sources: top(&o.top_sources, "source"),
        top_source_ips: top(&o.top_source_ips, "source_ip"),
        top_rules: top(&o.top_rules, "event_type"),
    };
    let data = OverviewPage {
        layout: console.layout("Overview", "overview"),
        body,
    };
    if q.fragment.is_some() {
        page("overview_body.html", &data)
    } else {
        page("overview.html", &data)
    }
}

/// The query pairs a list page keeps in its links: blank values (an empty
/// form field) and the page's own parameters dropped.
fn kept(pairs: Vec<(String, String)>, own: &[&str]) -> Vec<(String, String)> {
    pairs
        .into_iter()
        .filter(|(k, v)| !v.trim().is_empty() && !own.contains(&k.as_str()))
        .collect()
}

fn joined(values: &[String]) -> String {
    values.join(",")
}

fn choices<'a>(all: impl Iterator<Item = &'a str>, chosen: &str) -> Vec<Choice> {
    all.map(|v| Choice {
        value: v.to_string(),
        label: v.to_string(),
        selected: v == chosen,
    })
    .collect()
}

fn message_of(fields: &crate::errors::FieldErrors) -> String {
    fields
        .iter()
        .map(|(k, v)| format!("{k}: {}", v.join(" ")))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The first page, or the page after `cursor`.
fn window(cursor: Option<&String>) -> Result<Window, String> {
    match cursor.map(String::as_str) {
        None | Some("") => Ok(Window::After {
            cursor: None,
            size: ROWS,
        }),
        Some(token) => Cursor::decode(token).map(|c| Window::After {
            cursor: Some(c),
            size: ROWS,
        }),
    }
}

fn with_pairs(path: &str, pairs: &[(String, String)], extra: &[(&str, &str)]) -> String {
    let mut all: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    all.extend_from_slice(extra);
    link(path, &all)
}

/// `GET /console/alerts`: every filter of `GET /api/alerts`, in the URL;
/// 25 rows a page, by cursor; new and changed alerts appear live. With
/// `fragment=rows`, only the table's rows (what the live feed reloads).
pub async fn alerts(
    console: Console,
    State(ctx): State<AppContext>,
    QueryPairs(pairs): QueryPairs,
) -> Page {
    let fragment = pairs.iter().any(|(k, v)| k == "fragment" && v == "rows");
    let pairs = kept(pairs, &["fragment", "page", "page_size"]);
    let filters: AlertFilters = list_params(pairs.clone())?;
    let cursor = filters.paging.cursor.last();
    let without_cursor: Vec<(String, String)> = pairs
        .iter()
        .filter(|(k, _)| k != "cursor")
        .cloned()
        .collect();
    let can_bulk = console.user.is_admin();
    let mut error = None;
    let mut rows = AlertRows {
        alerts: Vec::new(),
        next: None,
        can_bulk,
    };
    match (filters.query(), window(cursor)) {
        (Ok(q), Ok(w)) => match w.check_cursor(q.ordering) {
            Ok(()) => {
                let listed = listing::list::<alerts::Entity>(&ctx.db, &q, &w).await?;
                rows.alerts = listed.rows.iter().map(AlertResponse::from).collect();
                rows.next = listed.next.map(|c| {
                    with_pairs(
                        "/console/alerts",
                        &without_cursor,
                        &[("cursor", &c.for_ordering(q.ordering).encode())],
                    )
                });
            }
            Err(fields) => error = Some(message_of(&fields)),
        },
        (Err(fields), _) => error = Some(message_of(&fields)),
        (_, Err(message)) => error = Some(format!("cursor: {message}")),
    }
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let rows_url = if cursor.is_some() {
        String::new()
    } else {
        with_pairs("/console/alerts", &without_cursor, &[("fragment", "rows")])
    };
    let data = AlertsPage {
        layout: console.layout("Alerts", "alerts"),
        filters: FilterForm {
            status: joined(&filters.status),
            severity: joined(&filters.severity),
            source: joined(&filters.source),
            event_type: joined(&filters.event_type),
            source_ip: joined(&filters.source_ip),
            assignee: joined(&filters.assignee),
            tag: joined(&filters.tag),
            search: joined(&filters.search),
            since: joined(&filters.since),
            until: joined(&filters.until),
            ordering: joined(&filters.ordering),
        },
        statuses: {
            let chosen = joined(&filters.status);
            let mut c = vec![Choice {
                value: open_statuses(),
                label: "open (any)".into(),
                selected: chosen == open_statuses(),
            }];
            c.extend(choices(
                AlertStatus::ALL.iter().map(|s| s.as_str()),
                &chosen,
            ));
            c
        },
        severities: choices(
            Severity::ALL.iter().rev().map(|s| s.as_str()),
            &joined(&filters.severity),
        ),
        orderings: choices(
            [
                "-created_at",
                "created_at",
                "-severity",
                "severity",
                "-last_seen",
                "last_seen",
                "-occurrences",
                "occurrences",
            ]
            .into_iter(),
            filters
                .ordering
                .last()
                .map_or("-created_at", String::as_str),
        ),
        error,
        rows_url,
        rows,
        bulk_statuses: AlertStatus::ALL.iter().map(|s| s.as_str()).collect(),
        flash: None,
    };
    let mut response = if fragment {
        page("alert_rows.html", &data)?
    } else {
        page("alerts.html", &data)?
    };
    *response.status_mut() = status;
    Ok(response)
}

fn actor<'a>(name: &'a str, cid: &'a str) -> Actor<'a> {
    Actor {
        name,
        correlation_id: cid,
    }
}

fn note_of(form: &Form) -> Option<&str> {
    form.get("note").filter(|n| !n.trim().is_empty())
}

fn status_of(form: &Form) -> Result<AlertStatus, PageError> {
    let raw = form.get("status").unwrap_or_default();
    raw.parse::<AlertStatus>()
        .map_err(|m| ApiError::field("status", m).into())
}

/// `POST /console/alerts/bulk` (admins): one status for the selected
/// alerts; each is changed on its own, as `POST /api/alerts/bulk-status`.
pub async fn bulk(
    console: Console,
    State(ctx): State<AppContext>,
    CorrelationId(cid): CorrelationId,
    headers: HeaderMap,
    form: Form,
) -> Page {
    console.check_csrf(&form, &headers)?;
    console.require_admin()?;
    let status = status_of(&form)?;
    let ids = form.all("ids");
    if ids.is_empty() || ids.len() > 1_000 {
        return Ok(error_page(
            StatusCode::BAD_REQUEST,
            "ids: select 1 to 1000 alerts.",
            None,
        ));
    }
    alerts::check_note(note_of(&form))?;
    let name = console.user.username.clone();
    let (mut changed, mut refused) = (0, 0);
    for id in &ids {
        match alerts::Model::change_status(&ctx.db, id, status, note_of(&form), actor(&name, &cid))
            .await
        {
            Ok(_) => changed += 1,
            Err(err) => match crate::errors::answer_for(&err) {
                Some(r) if r.status.is_client_error() => refused += 1,
                _ => return Err(err.into()),
            },
        }
    }
    Feed::get(&ctx)?.poke();
    tracing::info!(user = %console.user.pid, changed, refused, "console bulk status change");
    Ok(see_other("/console/alerts"))
}

/// What the log detector recorded, read from an event's metadata.
fn detection_of(metadata: Option<&Value>) -> Option<Detection> {
    let m = metadata?.as_object()?;
    let scores = m.get("component_scores")?.as_object()?;
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Null => "—".to_string(),
        other => other.to_string(),
    };
    Some(Detection {
        threat_score: m.get("threat_score").map(text),
        request: m
            .get("request")
            .and_then(Value::as_object)
            .map(|r| r.iter().map(|(k, v)| (k.clone(), text(v))).collect())
            .unwrap_or_default(),
        evidence: m
            .get("evidence")
            .and_then(Value::as_object)
            .map(|r| r.iter().map(|(k, v)| (k.clone(), text(v))).collect())
            .unwrap_or_default(),
        scores: scores.iter().map(|(k, v)| (k.clone(), text(v))).collect(),
    })
}

fn pretty(value: Option<&Value>) -> Option<String> {
    value
        .filter(|v| !v.is_null())
        .and_then(|v| serde_json::to_string_pretty(v).ok())
}

/// `GET /console/alerts/{id}`: every field, the opening event (with the
/// detector's request, evidence and scores), occurrences per hour, the
/// history; the forms this user may use.
pub async fn alert(
    console: Console,
    State(ctx): State<AppContext>,
    Path(id): Path<String>,
) -> Page {
    let alert = alerts::Model::find_by_pid(&ctx.db, &id).await?;
    let event = events::Entity::find()
        .filter(events::Column::Pid.eq(alert.event_pid))
        .one(&ctx.db)
        .await?;
    let history = alert_histories::Model::for_alert(&ctx.db, alert.id).await?;
    let occurrences = stats::occurrences_per_hour(&ctx.db, &alert).await?;
    let current = alert.status();
    let transitions = if console.user.is_admin() {
        AlertStatus::ALL
            .iter()
            .filter(|s| {
                current.can_move_to(**s) == crate::models::alert_status::Transition::Allowed
            })
            .map(|s| s.as_str())
            .collect()
    } else {
        Vec::new()
    };
    let view = AlertResponse::from(&alert);
    let data = AlertPage {
        layout: console.layout(&alert.title, "alerts"),
        tags: view.tags.join(", "),
        severities: choices(
            Severity::ALL.iter().rev().map(|s| s.as_str()),
            view.severity.as_str(),
        ),
        alert: view,
        detection: detection_of(event.as_ref().and_then(|e| e.metadata.as_ref())),
        metadata: pretty(event.as_ref().and_then(|e| e.metadata.as_ref())),
        event: event.as_ref().map(EventResponse::from),
        occurrences: series(&occurrences),
        history: history.iter().map(HistoryEntry::from).collect(),
        transitions,
        flash: None,
    };
    page("alert.html", &data)
}

/// `POST /console/alerts/{id}/status` (admins).
pub async fn change_status(
    console: Console,
    State(ctx): State<AppContext>,
    CorrelationId(cid): CorrelationId,
    Path(id): Path<String>,
    headers: HeaderMap,
    form: Form,
) -> Page {
    console.check_csrf(&form, &headers)?;
    console.require_admin()?;
    let status = status_of(&form)?;
    let name = console.user.username.clone();
    let alert =
        alerts::Model::change_status(&ctx.db, &id, status, note_of(&form), actor(&name, &cid))
            .await?;
    Feed::get(&ctx)?.poke();
    Ok(see_other(&format!("/console/alerts/{}", alert.pid)))
}

/// `POST /console/alerts/{id}/notes` (analysts and admins).
pub async fn add_note(
    console: Console,
    State(ctx): State<AppContext>,
    CorrelationId(cid): CorrelationId,
    Path(id): Path<String>,
    headers: HeaderMap,
    form: Form,
) -> Page {
    console.check_csrf(&form, &headers)?;
    let name = console.user.username.clone();
    let note = form.get("note").unwrap_or_default();
    alerts::Model::add_note(&ctx.db, &id, note, actor(&name, &cid)).await?;
    Ok(see_other(&format!("/console/alerts/{id}")))
}

/// `POST /console/alerts/{id}/edit` (admins): assignee, tags, severity.
pub async fn edit(
    console: Console,
    State(ctx): State<AppContext>,
    CorrelationId(cid): CorrelationId,
    Path(id): Path<String>,
    headers: HeaderMap,
    form: Form,
) -> Page {
    console.check_csrf(&form, &headers)?;
    console.require_admin()?;
    let severity = match form.get("severity").filter(|s| !s.is_empty()) {
        None => None,
        Some(raw) => match raw.parse::<Severity>() {
            Ok(s) => Some(s),
            Err(_) => {
                return Ok(error_page(
                    StatusCode::BAD_REQUEST,
                    &format!("severity: unknown severity `{raw}`."),
                    None,
                ))
            }
        },
    };
    let edit = AlertEdit {
        assignee: form
            .get("assignee")
            .map(|a| Some(a.trim().to_string()).filter(|a| !a.is_empty())),
        tags: form.get("tags").map(|t| {
            t.split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_string)
                .collect()
        }),
        severity,
    };
    let name = console.user.username.clone();
    alerts::Model::edit(&ctx.db, &id, &edit, actor(&name, &cid)).await?;
    Feed::get(&ctx)?.poke();
    Ok(see_other(&format!("/console/alerts/{id}")))
}

/// `GET /console/events`: the filters of `GET /api/events`, 25 a page.
pub async fn events(
    console: Console,
    State(ctx): State<AppContext>,
    QueryPairs(pairs): QueryPairs,
) -> Page {
    let pairs = kept(pairs, &["page", "page_size"]);
    let filters: EventFilters = list_params(pairs.clone())?;
    let cursor = filters.paging.cursor.last();
    let without_cursor: Vec<(String, String)> = pairs
        .iter()
        .filter(|(k, _)| k != "cursor")
        .cloned()
        .collect();
    let (mut events, mut next, mut error) = (Vec::new(), None, None);
    match (filters.query(), window(cursor)) {
        (Ok(q), Ok(w)) => match w.check_cursor(q.ordering) {
            Ok(()) => {
                let listed = listing::list::<events::Entity>(&ctx.db, &q, &w).await?;
                events = listed.rows.iter().map(EventResponse::from).collect();
                next = listed.next.map(|c| {
                    with_pairs(
                        "/console/events",
                        &without_cursor,
                        &[("cursor", &c.for_ordering(q.ordering).encode())],
                    )
                });
            }
            Err(fields) => error = Some(message_of(&fields)),
        },
        (Err(fields), _) => error = Some(message_of(&fields)),
        (_, Err(message)) => error = Some(format!("cursor: {message}")),
    }
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let data = EventsPage {
        layout: console.layout("Events", "events"),
        filters: FilterForm {
            severity: joined(&filters.severity),
            source: joined(&filters.source),
            event_type: joined(&filters.event_type),
            source_ip: joined(&filters.source_ip),
            search: joined(&filters.search),
            since: joined(&filters.since),
            until: joined(&filters.until),
            ..FilterForm::default()
        },
        severities: choices(
            Severity::ALL.iter().rev().map(|s| s.as_str()),
            &joined(&filters.severity),
        ),
        error,
        events,
        next,
    };
    let mut response = page("events.html", &data)?;
    *response.status_mut() = status;
    Ok(response)
}

/// `GET /console/events/{id}`: every field, the metadata pretty-printed.
pub async fn event(
    console: Console,
    State(ctx): State<AppContext>,
    Path(id): Path<String>,
) -> Page {
    let event = events::Model::find_by_pid(&ctx.db, &id).await?;
    let alert = match event.alert_id {
        Some(alert_id) => alerts::Entity::find_by_id(alert_id)
            .one(&ctx.db)
            .await?
            .map(|a| a.pid.to_string()),
        None => None,
    };
    let data = EventPage {
        layout: console.layout("Event", "events"),
        metadata: pretty(event.metadata.as_ref()),
        event: EventResponse::from(&event),
        alert,
    };
    page("event.html", &data)
}

fn upload_form(console: &Console, source: &str) -> UploadPage {
    UploadPage {
        layout: console.layout("Log upload", "upload"),
        source: source.to_string(),
        result: None,
        source_link: None,
        opened_link: None,
        error: None,
    }
}

/// `GET /console/upload`: the log upload form.
pub async fn upload_page(console: Console) -> Page {
    page("upload.html", &upload_form(&console, ""))
}

/// `POST /console/upload`: the text is scored and stored as
/// `POST /api/ingest/nginx` does; the page shows the counts and links to
/// the alerts the upload opened.
pub async fn upload(
    console: Console,
    State(ctx): State<AppContext>,
    CorrelationId(cid): CorrelationId,
    headers: HeaderMap,
    form: Form,
) -> Page {
    console.check_csrf(&form, &headers)?;
    let raw_source = form.get("source").unwrap_or_default().trim().to_string();
    let mut data = upload_form(&console, &raw_source);
    let text = form.get("log").unwrap_or_default();
    let source = match log_stream::check_source(&raw_source) {
        Ok(s) => s,
        Err(m) => {
            data.error = Some(format!("source: {m}"));
            let mut response = page("upload.html", &data)?;
            *response.status_mut() = StatusCode::BAD_REQUEST;
            return Ok(response);
        }
    };
    if text.contains('\0') {
        data.error = Some(format!("log: {}", crate::input::NUL_MESSAGE));
        let mut response = page("upload.html", &data)?;
        *response.status_mut() = StatusCode::BAD_REQUEST;
        return Ok(response);
    }
    let started = chrono::Utc::now() - chrono::Duration::seconds(1);
    let stream = LogIngest::new(
        log_stream::rules(&ctx)?,
        &Settings::get(&ctx).detection,
        source.clone(),
    );
    let writer = IngestWriter::get(&ctx)?;
    let (counts, errors) = stream.ingest_text(&writer, text, &cid).await?;
    data.result = Some(LogIngestResponse::new(counts, &errors));
    data.source_link = Some(link("/console/alerts", &[("source", &source)]));
    data.opened_link = Some(link(
        "/console/alerts",
        &[
            ("source", &source),
            (
                "since",
                &started.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            ),
        ],
    ));
    page("upload.html", &data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overview_pages_ask_again_until_their_figures_are_new() {
        let ms = chrono::Duration::milliseconds;
        assert_eq!(recheck(ms(50), ms(1_000)), None);
        assert_eq!(recheck(ms(400), ms(1_000)), Some(700));
        assert_eq!(recheck(ms(3_000), ms(1_000)), Some(1_000));
        assert_eq!(recheck(ms(3_000), ms(8_000)), Some(5_100));
    }

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(duration(None), "—");
        assert_eq!(duration(Some(42.4)), "42s");
        assert_eq!(duration(Some(192.0)), "3m 12s");
        assert_eq!(duration(Some(11_520.0)), "3h 12m");
        assert_eq!(duration(Some(90_000.0)), "1d 1h");
    }

    #[test]
    fn links_encode_their_values() {
        assert_eq!(
            link("/console/alerts", &[("source", "a b&c"), ("tag", "<x>")]),
            "/console/alerts?source=a+b%26c&tag=%3Cx%3E"
        );
        assert_eq!(link("/console/alerts", &[]), "/console/alerts");
    }

    #[test]
    fn detector_metadata_is_read() {
        let m = serde_json::json!({
            "threat_score": 0.9,
            "component_scores": {"SQL_INJECTION": 0.9},
            "evidence": {"SQL_INJECTION": "' OR 1=1"},
            "request": {"method": "GET", "path": "/x", "status": 200, "user_agent": null},
        });
        let d = detection_of(Some(&m)).unwrap();
        assert_eq!(d.threat_score.as_deref(), Some("0.9"));
        assert_eq!(
            d.evidence,
            vec![("SQL_INJECTION".into(), "' OR 1=1".into())]
        );
        assert!(d.request.contains(&("user_agent".into(), "—".into())));
        assert!(detection_of(Some(&serde_json::json!({"k": 1}))).is_none());
    }
}
