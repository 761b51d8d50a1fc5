//! Alerts: listing, lifecycle, history, notes, edits.
use loco_rs::{controller::middleware::remote_ip::RemoteIP, prelude::*};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::{
    controllers::extract::{CorrelationId, CurrentUser, JsonBody, ListParams, PageParams},
    errors::ApiResult,
    errors::{self, ApiError, ErrorBody},
    models::api_keys::Scope,
    models::{
        alert_histories,
        alert_status::AlertStatus,
        alerts::{self, Actor, AlertEdit},
        listing,
        users::Role,
    },
    views::{
        alerts::{AlertFilters, AlertResponse, BulkResult, ExportParams, HistoryEntry},
        filters::ListFilters,
        pagination::Page,
    },
    workers::dispatcher::Feed,
};

const EXPORT_CHUNK: u64 = 500;

/// `PATCH /api/alerts/{id}/status`. Read-only alert fields sent along are ignored.
#[derive(Debug, Deserialize, ToSchema)]
pub struct StatusChange {
    pub status: AlertStatus,
    /// Kept in the alert's history: 1–10,000 characters.
    #[schema(min_length = 1, max_length = 10000)]
    pub note: Option<String>,
}

/// `POST /api/alerts/bulk-status`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct BulkStatusChange {
    /// Alert ids (at most 1,000).
    #[schema(min_items = 1, max_items = 1000)]
    pub ids: Vec<String>,
    pub status: AlertStatus,
    /// Kept in each alert's history: 1–10,000 characters.
    #[schema(min_length = 1, max_length = 10000)]
    pub note: Option<String>,
}

/// `POST /api/alerts/{id}/notes`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoteParams {
    /// 1–10,000 characters.
    #[schema(min_length = 1, max_length = 10000)]
    pub note: String,
}

/// List alerts, newest first, with the filters of SPEC §5.
#[utoipa::path(get, path = "/api/alerts", operation_id = "list_alerts", tag = "alerts",
    security(("bearer" = []), ("api_key" = ["alerts:read"])),
    params(crate::views::alerts::AlertFilters, crate::views::filters::Paging),
    responses(
        (status = 200, description = "A page of alerts", body = Page<AlertResponse>),
        (status = 400, description = "Unknown parameter, filter value or ordering", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
    ))]
#[debug_handler]
async fn list(
    user: CurrentUser,
    State(ctx): State<AppContext>,
    ListParams(params): ListParams<AlertFilters>,
    page: PageParams,
) -> ApiResult {
    user.authorize(Role::Analyst, Scope::AlertsRead)?;
    let q = params.query().map_err(ApiError::validation)?;
    let window = page.window()?;
    window
        .check_cursor(q.ordering)
        .map_err(ApiError::validation)?;
    let mut listed = listing::list::<alerts::Entity>(&ctx.db, &q, &window).await?;
    listed.next = listed.next.map(|c| c.for_ordering(q.ordering));
    Ok(format::json(page.render::<_, AlertResponse>(listed))?)
}

/// Read one alert.
#[utoipa::path(get, path = "/api/alerts/{id}", operation_id = "show_alert", tag = "alerts",
    security(("bearer" = []), ("api_key" = ["alerts:read"])),
    params(("id" = String, Path, description = "Alert id (UUID)")),
    responses(
        (status = 200, description = "The alert", body = AlertResponse),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 404, description = "No such alert", body = ErrorBody),
    ))]
#[debug_handler]
async fn show(
    user: CurrentUser,
    State(ctx): State<AppContext>,
    Path(id): Path<String>,
) -> ApiResult {
    user.authorize(Role::Analyst, Scope::AlertsRead)?;
    Ok(format::json(AlertResponse::from(
        &alerts::Model::find_by_pid(&ctx.db, &id).await?,
    ))?)
}

/// Move an alert through its lifecycle (ADMIN). The same status again is a no-op.
#[utoipa::path(patch, path = "/api/alerts/{id}/status", operation_id = "change_alert_status", tag = "alerts",
    security(("bearer" = []), ("api_key" = ["alerts:write"])),
    params(("id" = String, Path, description = "Alert id (UUID)")),
    request_body = StatusChange,
    responses(
        (status = 200, description = "The alert after the change", body = AlertResponse),
        (status = 400, description = "Unknown status", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "No such alert", body = ErrorBody),
        (status = 409, description = "`invalid_transition`", body = ErrorBody),
    ))]
#[debug_handler]
async fn change_status(
    user: CurrentUser,
    State(ctx): State<AppContext>,
    CorrelationId(cid): CorrelationId,
    Path(id): Path<String>,
    JsonBody(change): JsonBody<StatusChange>,
) -> ApiResult {
    user.authorize(Role::Admin, Scope::AlertsWrite)?;
    let actor_name = user.actor_name();
    let actor = Actor {
        name: &actor_name,
        correlation_id: &cid,
    };
    let alert =
        alerts::Model::change_status(&ctx.db, &id, change.status, change.note.as_deref(), actor)
            .await?;
    Feed::get(&ctx)?.poke();
    Ok(format::json(AlertResponse::from(&alert))?)
}

/// Change many alerts to one status (ADMIN); each id answers on its own.
#[utoipa::path(post, path = "/api/alerts/bulk-status", operation_id = "bulk_change_alert_status", tag = "alerts",
    security(("bearer" = []), ("api_key" = ["alerts:write"])),
    request_body = BulkStatusChange,
    responses(
        (status = 200, description = "Per-id results", body = [BulkResult]),
        (status = 400, description = "Unknown status or too many ids", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
    ))]
#[debug_handler]
async fn bulk_status(
    user: CurrentUser,
    remote: RemoteIP,
    State(ctx): State<AppContext>,
    CorrelationId(cid): CorrelationId,
    JsonBody(change): JsonBody<BulkStatusChange>,
) -> ApiResult {
    user.authorize(Role::Admin, Scope::AlertsWrite)?;
    if change.ids.is_empty() || change.ids.len() > 1_000 {
        return Err(ApiError::field("ids", "Send 1 to 1000 alert ids.").into());
    }
    alerts::check_note(change.note.as_deref())?;
    let actor_name = user.actor_name();
    let actor = Actor {
        name: &actor_name,
        correlation_id: &cid,
    };
    let mut results = Vec::with_capacity(change.ids.len());
    for id in &change.ids {
        let outcome =
            alerts::Model::change_status(&ctx.db, id, change.status, change.note.as_deref(), actor)
                .await;
        results.push(match outcome {
            Ok(alert) => BulkResult {
                id: id.clone(),
                status: 200,
                alert: Some(AlertResponse::from(&alert)),
                error: None,
            },
            // A refusal of this one id (404, 409) is reported in its row;
            // a server fault fails the whole request.
            Err(err) => match errors::answer_for(&err) {
                Some(refused) if refused.status.is_client_error() => BulkResult {
                    id: id.clone(),
                    status: refused.status.as_u16(),
                    alert: None,
                    error: Some(ErrorBody {
                        fields: None,
                        ..refused.body()
                    }),
                },
                _ => return Err(err.into()),
            },
        });
    }
    Feed::get(&ctx)?.poke();
    let changed: Vec<&str> = results
        .iter()
        .filter(|r| r.status == 200)
        .map(|r| r.id.as_str())
        .collect();
    crate::models::audit::record(
        &ctx.db,
        &user.by(&remote),
        crate::models::audit::Entry::new("alerts.bulk_status", None).after(serde_json::json!({
            "status": change.status.as_str(),
            "changed": changed,
            "refused": results.len() - changed.len(),
        })),
    )
    .await?;
    Ok(format::json(results)?)
}

/// Edit an alert (ADMIN): assignee, tags, severity. Recorded in history.
#[utoipa::path(patch, path = "/api/alerts/{id}", operation_id = "edit_alert", tag = "alerts",
    security(("bearer" = []), ("api_key" = ["alerts:write"])),
    params(("id" = String, Path, description = "Alert id (UUID)")),
    request_body = AlertEdit,
    responses(
        (status = 200, description = "The alert after the edit", body = AlertResponse),
        (status = 400, description = "Invalid fields or unknown assignee", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "No such alert", body = ErrorBody),
    ))]
#[debug_handler]
async fn update(
    user: CurrentUser,
    State(ctx): State<AppContext>,
    CorrelationId(cid): CorrelationId,
    Path(id): Path<String>,
    JsonBody(edit): JsonBody<AlertEdit>,
) -> ApiResult {
    user.authorize(Role::Admin, Scope::AlertsWrite)?;
    let actor_name = user.actor_name();
    let actor = Actor {
        name: &actor_name,
        correlation_id: &cid,
    };
    let alert = alerts::Model::edit(&ctx.db, &id, &edit, actor).await?;
    Feed::get(&ctx)?.poke();
    Ok(format::json(AlertResponse::from(&alert))?)
}

/// The alert's history: creation, status changes, notes and edits, oldest first.
#[utoipa::path(get, path = "/api/alerts/{id}/history", operation_id = "alert_history", tag = "alerts",
    security(("bearer" = []), ("api_key" = ["alerts:read"])),
    params(("id" = String, Path, description = "Alert id (UUID)")),
    responses(
        (status = 200, description = "History, oldest first", body = [HistoryEntry]),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 404, description = "No such alert", body = ErrorBody),
    ))]
#[debug_handler]
async fn history(
    user: CurrentUser,
    State(ctx): State<AppContext>,
    Path(id): Path<String>,
) -> ApiResult {
    user.authorize(Role::Analyst, Scope::AlertsRead)?;
    let alert = alerts::Model::find_by_pid(&ctx.db, &id).await?;
    let entries = alert_histories::Model::for_alert(&ctx.db, alert.id).await?;
    Ok(format::json(
        entries.iter().map(HistoryEntry::from).collect::<Vec<_>>(),
    )?)
}

/// Add a note to an alert (ANALYST or ADMIN); kept in its history.
#[utoipa::path(post, path = "/api/alerts/{id}/notes", operation_id = "add_alert_note", tag = "alerts",
    security(("bearer" = []), ("api_key" = ["alerts:write"])),
    params(("id" = String, Path, description = "Alert id (UUID)")),
    request_body = NoteParams,
    responses(
        (status = 201, description = "The note as a history entry", body = HistoryEntry),
        (status = 400, description = "Empty or too long", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 404, description = "No such alert", body = ErrorBody),
    ))]
#[debug_handler]
async fn add_note(
    user: CurrentUser,
    State(ctx): State<AppContext>,
    CorrelationId(cid): CorrelationId,
    Path(id): Path<String>,
    JsonBody(params): JsonBody<NoteParams>,
) -> ApiResult {
    user.authorize(Role::Analyst, Scope::AlertsWrite)?;
    let actor_name = user.actor_name();
    let actor = Actor {
        name: &actor_name,
        correlation_id: &cid,
    };
    let entry = alerts::Model::add_note(&ctx.db, &id, &params.note, actor).await?;
    Ok(format::render()
        .status(axum::http::StatusCode::CREATED)
        .json(HistoryEntry::from(&entry))?)
}

/// Export every alert matching the list filters (ADMIN), streamed in
/// creation order: `format=csv` (default) or `format=ndjson`.
#[utoipa::path(get, path = "/api/alerts/export", operation_id = "export_alerts", tag = "alerts",
    security(("bearer" = [])),
    params(
        ("format" = Option<String>, Query, description = "`csv` (default) or `ndjson`"),
        crate::views::alerts::AlertFilters,
    ),
    responses(
        (status = 200, description = "CSV (RFC 4180, formula cells defused) or NDJSON, streamed",
            content_type = "text/csv", body = String),
        (status = 400, description = "Unknown format, filter or parameter", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
    ))]
#[debug_handler]
async fn export(
    user: CurrentUser,
    State(ctx): State<AppContext>,
    ListParams(params): ListParams<ExportParams>,
) -> ApiResult {
    user.require_person(Role::Admin)?;
    let (format, q) = params.read().map_err(ApiError::validation)?;
    let db = ctx.db.clone();
    // (last id, header sent, finished): each step reads one bounded chunk.
    let chunks =
        futures_util::stream::unfold((0_i64, false, false), move |(last, started, done)| {
            let db = db.clone();
            let q = q.clone();
            async move {
                if done {
                    return None;
                }
                let mut out = if started {
                    String::new()
                } else {
                    format.header().unwrap_or_default()
                };
                match alerts::Model::export_chunk(&db, &q, last, EXPORT_CHUNK).await {
                    Ok(rows) => {
                        let finished = (rows.len() as u64) < EXPORT_CHUNK;
                        let next = rows.last().map_or(last, |a| a.id);
                        for alert in &rows {
                            out.push_str(&format.line(&AlertResponse::from(alert)));
                        }
                        Some((Ok::<_, std::io::Error>(out), (next, true, finished)))
                    }
                    Err(err) => {
                        tracing::error!(error = %err, "export failed mid-stream");
                        Some((
                            Err(std::io::Error::other(err.to_string())),
                            (last, true, true),
                        ))
                    }
                }
            }
        });
    Response::builder()
        .header(axum::http::header::CONTENT_TYPE, format.content_type())
        .header(
            axum::http::header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"alerts.{}\"", format.extension()),
        )
        .body(axum::body::Body::from_stream(chunks))
        .map_err(|e| Error::string(&e.to_string()).into())
}

pub fn routes() -> Routes {
    Routes::new()
        .prefix("/api/alerts")
        .add("/", get(list))
        .add("/bulk-status", post(bulk_status))
        .add("/export", get(export))
        .add("/{id}", get(show).patch(update))
        .add("/{id}/status", patch(change_status))
        .add("/{id}/history", get(history))
        .add("/{id}/notes", post(add_note))
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(
    list,
    show,
    change_status,
    bulk_status,
    update,
    history,
    add_note,
    export
))]
pub struct AlertsApi;
