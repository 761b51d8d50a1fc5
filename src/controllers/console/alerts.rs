//! The alert list, an alert's page, and the forms that change alerts
//! (through the same model methods as the API: history, envelopes and
//! webhooks included).
use axum::http::StatusCode;
use loco_rs::prelude::*;

use super::{
    error_page,
    lists::{choices, joined, kept, open_statuses, slice, with_pairs},
    page, see_other,
    session::{Console, Posted},
    Form, Page, PageError,
};
use crate::{
    controllers::extract::{CorrelationId, QueryPairs},
    errors::ApiError,
    models::{
        alert_histories,
        alert_status::AlertStatus,
        alerts::{self, Actor, AlertEdit},
        events,
        severity::Severity,
        stats::{self},
    },
    views::{
        alerts::{AlertFilters, AlertResponse, HistoryEntry},
        console::pages::{
            chart_series, pretty_json, AlertPage, AlertRows, AlertsPage, Choice, Detection,
            FilterForm,
        },
        events::EventResponse,
    },
    workers::dispatcher::Feed,
};

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
    let list = slice::<AlertFilters, alerts::Entity>(&ctx.db, "/console/alerts", pairs).await?;
    let status = list.status();
    // Only the first page follows the feed (a later one would jump back).
    let rows_url = if list.cursor {
        String::new()
    } else {
        with_pairs("/console/alerts", &list.kept, &[("fragment", "rows")])
    };
    let filters = &list.filters;
    let rows = AlertRows {
        alerts: list.rows.iter().map(AlertResponse::from).collect(),
        next: list.next.clone(),
        can_bulk: console.user.is_admin(),
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
        error: list.error.clone(),
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
    State(ctx): State<AppContext>,
    CorrelationId(cid): CorrelationId,
    Posted { console, form, by }: Posted,
) -> Page {
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
    let (mut changed, mut refused) = (Vec::new(), 0);
    for id in &ids {
        match alerts::Model::change_status(&ctx.db, id, status, note_of(&form), actor(&name, &cid))
            .await
        {
            Ok(_) => changed.push((*id).to_string()),
            Err(err) => match crate::errors::answer_for(&err) {
                Some(r) if r.status.is_client_error() => refused += 1,
                _ => return Err(err.into()),
            },
        }
    }
    Feed::get(&ctx)?.poke();
    crate::models::audit::record(
        &ctx.db,
        &by,
        crate::models::audit::Entry::new("alerts.bulk_status", None).after(serde_json::json!({
            "status": status.as_str(),
            "changed": changed,
            "refused": refused,
        })),
    )
    .await?;
    tracing::info!(user = %console.user.pid, changed = changed.len(), refused, "console bulk status change");
    Ok(see_other("/console/alerts"))
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
        detection: Detection::from_metadata(event.as_ref().and_then(|e| e.metadata.as_ref())),
        metadata: pretty_json(event.as_ref().and_then(|e| e.metadata.as_ref())),
        event: event.as_ref().map(EventResponse::from),
        occurrences: chart_series(&occurrences),
        history: history.iter().map(HistoryEntry::from).collect(),
        transitions,
        flash: None,
    };
    page("alert.html", &data)
}

/// `POST /console/alerts/{id}/status` (admins).
pub async fn change_status(
    State(ctx): State<AppContext>,
    CorrelationId(cid): CorrelationId,
    Path(id): Path<String>,
    Posted { console, form, .. }: Posted,
) -> Page {
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
    State(ctx): State<AppContext>,
    CorrelationId(cid): CorrelationId,
    Path(id): Path<String>,
    Posted { console, form, .. }: Posted,
) -> Page {
    let name = console.user.username.clone();
    let note = form.get("note").unwrap_or_default();
    alerts::Model::add_note(&ctx.db, &id, note, actor(&name, &cid)).await?;
    Ok(see_other(&format!("/console/alerts/{id}")))
}

/// `POST /console/alerts/{id}/edit` (admins): assignee, tags, severity.
pub async fn edit(
    State(ctx): State<AppContext>,
    CorrelationId(cid): CorrelationId,
    Path(id): Path<String>,
    Posted { console, form, .. }: Posted,
) -> Page {
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
