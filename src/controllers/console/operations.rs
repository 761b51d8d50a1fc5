//! The operations pages (admins): silences (create, end, "until
//! resolved" from an alert's page), the allowlist, the audit log. Every
//! handler refuses an analyst with 403; every form is checked for its CSRF
//! token first (`Posted`).
use axum::http::StatusCode;
use chrono::{Duration, Utc};
use loco_rs::prelude::*;

use super::{
    page, see_other,
    session::{Console, Posted},
    Page,
};
use crate::{
    controllers::extract::CorrelationId,
    ingestion::gate::Gate,
    models::{
        allowlist::{self, NewEntry},
        audit::{self, AuditQuery},
        silences::{self, Matchers, NewSilence, Recurring, State as SilenceState},
        FieldErrors,
    },
    views::{
        audit::AuditEntry,
        console::pages::{AllowlistPage, AuditPage, AuditRow, SilenceRow, SilencesPage},
    },
};

const ROWS: u64 = 50;

use super::admin::refused_message;

fn state_named(raw: Option<&str>) -> SilenceState {
    match raw {
        Some("pending") => SilenceState::Pending,
        Some("expired") => SilenceState::Expired,
        _ => SilenceState::Active,
    }
}

async fn silences_page(
    console: &Console,
    ctx: &AppContext,
    state: SilenceState,
    error: Option<String>,
    status: StatusCode,
) -> Page {
    let (rows, _) = silences::Model::list_page(&ctx.db, Some(state), 1, 200).await?;
    let now = Utc::now();
    let mut silences = Vec::with_capacity(rows.len());
    for row in &rows {
        silences.push(SilenceRow::from(
            &row.snapshot(now, row.alert_pid(&ctx.db).await?),
        ));
    }
    let mut response = page(
        "silences.html",
        &SilencesPage {
            layout: console.layout("Silences", "silences"),
            silences,
            state: state.into(),
            states: vec!["active", "pending", "expired"],
            severities: vec!["LOW", "MEDIUM", "HIGH", "CRITICAL"],
            days: vec!["MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"],
            error,
            flash: None,
        },
    )?;
    *response.status_mut() = status;
    Ok(response)
}

/// `GET /console/admin/silences?state=active|pending|expired`.
pub async fn silences(
    console: Console,
    State(ctx): State<AppContext>,
    axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> Page {
    console.require_admin()?;
    let state = state_named(q.get("state").map(String::as_str));
    silences_page(&console, &ctx, state, None, StatusCode::OK).await
}

/// `POST /console/admin/silences`: the matchers, then either a number of
/// hours or a weekly window.
pub async fn create_silence(
    State(ctx): State<AppContext>,
    CorrelationId(cid): CorrelationId,
    Posted { console, form, by }: Posted,
) -> Page {
    console.require_admin()?;
    let text = |name: &str| {
        form.get(name)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    let tags: Vec<String> = text("tags")
        .map(|t| {
            t.split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let days: Vec<String> = form.all("days").into_iter().map(str::to_string).collect();
    let mut fields = FieldErrors::new();
    let recurring = if days.is_empty() {
        None
    } else {
        let minutes = text("duration_minutes").unwrap_or_default();
        Some(Recurring {
            days,
            start: text("start").unwrap_or_default(),
            duration_minutes: minutes.parse().unwrap_or_else(|_| {
                fields.insert(
                    "recurring.duration_minutes".into(),
                    vec!["A whole number of minutes.".into()],
                );
                0
            }),
            time_zone: text("time_zone").unwrap_or_else(|| "UTC".into()),
        })
    };
    let ends_at = if recurring.is_some() {
        None
    } else {
        match text("hours").unwrap_or_else(|| "2".into()).parse::<i64>() {
            Ok(h) if (1..=8_760).contains(&h) => Some(Utc::now() + Duration::hours(h)),
            _ => {
                fields.insert(
                    "hours".into(),
                    vec!["A whole number of hours, 1 to 8760.".into()],
                );
                None
            }
        }
    };
    if !fields.is_empty() {
        let message = crate::errors::in_words(&fields);
        let state = SilenceState::Active;
        return silences_page(
            &console,
            &ctx,
            state,
            Some(message),
            StatusCode::BAD_REQUEST,
        )
        .await;
    }
    let params = NewSilence {
        matchers: Matchers {
            source: text("source"),
            event_type: text("event_type"),
            source_ip: text("source_ip"),
            severity: text("severity"),
            dedup_key: None,
            tags: (!tags.is_empty()).then_some(tags),
        },
        starts_at: None,
        ends_at,
        recurring,
        comment: form.get("comment").unwrap_or_default().to_string(),
    };
    match silences::Model::create(&ctx.db, &by, params, &cid).await {
        Ok(_) => {
            Gate::changed(&ctx);
            Ok(see_other("/console/admin/silences"))
        }
        Err(err) => match refused_message(&err) {
            Some(m) => {
                silences_page(
                    &console,
                    &ctx,
                    SilenceState::Active,
                    Some(m),
                    StatusCode::BAD_REQUEST,
                )
                .await
            }
            None => Err(err.into()),
        },
    }
}

/// `POST /console/admin/silences/{id}/expire`: ends it now.
pub async fn expire_silence(
    State(ctx): State<AppContext>,
    CorrelationId(cid): CorrelationId,
    Path(id): Path<String>,
    Posted { console, by, .. }: Posted,
) -> Page {
    console.require_admin()?;
    silences::Model::expire(&ctx.db, &by, &id, &cid).await?;
    Gate::changed(&ctx);
    Ok(see_other("/console/admin/silences"))
}

/// `POST /console/alerts/{id}/silence`: quiet until resolved.
pub async fn silence_alert(
    State(ctx): State<AppContext>,
    CorrelationId(cid): CorrelationId,
    Path(id): Path<String>,
    Posted { console, form, by }: Posted,
) -> Page {
    console.require_admin()?;
    silences::Model::for_alert(&ctx.db, &by, &id, form.get("comment"), &cid).await?;
    Gate::changed(&ctx);
    Ok(see_other(&format!("/console/alerts/{id}")))
}

async fn allowlist_page(
    console: &Console,
    ctx: &AppContext,
    page_no: u64,
    error: Option<String>,
    status: StatusCode,
) -> Page {
    let (rows, count) = allowlist::Model::list_page(&ctx.db, page_no, ROWS).await?;
    let now = Utc::now();
    let next =
        (page_no * ROWS < count).then(|| format!("/console/admin/allowlist?page={}", page_no + 1));
    let mut response = page(
        "allowlist.html",
        &AllowlistPage {
            layout: console.layout("Allowlist", "allowlist"),
            entries: rows.iter().map(|r| r.snapshot(now)).collect(),
            next,
            error,
        },
    )?;
    *response.status_mut() = status;
    Ok(response)
}

fn page_number(q: &std::collections::HashMap<String, String>) -> u64 {
    q.get("page")
        .and_then(|p| p.parse::<u64>().ok())
        .filter(|p| (1..=1_000_000).contains(p))
        .unwrap_or(1)
}

/// `GET /console/admin/allowlist`.
pub async fn allowlist(
    console: Console,
    State(ctx): State<AppContext>,
    axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> Page {
    console.require_admin()?;
    allowlist_page(&console, &ctx, page_number(&q), None, StatusCode::OK).await
}

/// `POST /console/admin/allowlist`.
pub async fn add_allowlist(
    State(ctx): State<AppContext>,
    Posted { console, form, by }: Posted,
) -> Page {
    console.require_admin()?;
    let expires_at = match form.get("expires_at").map(str::trim) {
        None | Some("") => None,
        Some(raw) => match chrono::DateTime::parse_from_rfc3339(raw) {
            Ok(t) => Some(t.with_timezone(&Utc)),
            Err(_) => {
                let m = "expires_at: an RFC 3339 time, e.g. 2027-01-01T00:00:00Z.".to_string();
                return allowlist_page(&console, &ctx, 1, Some(m), StatusCode::BAD_REQUEST).await;
            }
        },
    };
    let new = NewEntry {
        cidr: form.get("cidr").unwrap_or_default().to_string(),
        reason: form.get("reason").unwrap_or_default().to_string(),
        expires_at,
    };
    match allowlist::Model::create(&ctx.db, &by, &new).await {
        Ok(_) => {
            Gate::changed(&ctx);
            Ok(see_other("/console/admin/allowlist"))
        }
        Err(err) => match refused_message(&err) {
            Some(m) => allowlist_page(&console, &ctx, 1, Some(m), StatusCode::BAD_REQUEST).await,
            None => Err(err.into()),
        },
    }
}

/// `POST /console/admin/allowlist/{id}/delete`.
pub async fn delete_allowlist(
    State(ctx): State<AppContext>,
    Path(id): Path<String>,
    Posted { console, by, .. }: Posted,
) -> Page {
    console.require_admin()?;
    allowlist::Model::remove(&ctx.db, &by, &id).await?;
    Gate::changed(&ctx);
    Ok(see_other("/console/admin/allowlist"))
}

/// `GET /console/admin/audit?action=&page=`.
pub async fn audit_log(
    console: Console,
    State(ctx): State<AppContext>,
    axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> Page {
    console.require_admin()?;
    let action = q
        .get("action")
        .and_then(|a| audit::ACTIONS.iter().find(|k| **k == a.as_str()))
        .copied();
    let page_no = page_number(&q);
    let query = AuditQuery {
        action: action.map(|a| vec![a.to_string()]).unwrap_or_default(),
        ..AuditQuery::default()
    };
    let (rows, count) = audit::page(&ctx.db, &query, page_no, ROWS).await?;
    let link = |n: u64| {
        let mut s = format!("/console/admin/audit?page={n}");
        if let Some(a) = action {
            s.push_str(&format!("&action={a}"));
        }
        s
    };
    let text = |v: &Option<serde_json::Value>| {
        v.as_ref()
            .map(|v| v.to_string().chars().take(400).collect())
    };
    let entries = rows
        .iter()
        .map(|r| {
            let entry = AuditEntry::from(r);
            AuditRow {
                before_text: text(&entry.before),
                after_text: text(&entry.after),
                entry,
            }
        })
        .collect();
    page(
        "audit.html",
        &AuditPage {
            layout: console.layout("Audit log", "audit"),
            entries,
            actions: audit::ACTIONS.to_vec(),
            action: action.unwrap_or_default().to_string(),
            next: (page_no * ROWS < count).then(|| link(page_no + 1)),
            previous: (page_no > 1).then(|| link(page_no - 1)),
        },
    )
}
