//! Silences and maintenance windows (admins, or API keys with
//! `silences:write`; any signed-in user may read them).
use axum::http::StatusCode;
use chrono::Utc;
use loco_rs::{controller::middleware::remote_ip::RemoteIP, prelude::*};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{
    controllers::extract::{CorrelationId, CurrentUser, JsonBody, PageParams},
    errors::{ApiError, ApiResult, ErrorBody},
    ingestion::gate::Gate,
    models::{
        alerts::AlertSnapshot,
        api_keys::Scope,
        silences::{
            self, Matchers, NewSilence, SilenceChange, SilenceSnapshot, State as SilenceState,
        },
        users::Role,
    },
    views::pagination::Page,
};

/// The guard for writing silences: an admin, or a key with `silences:write`.
fn writer(user: &CurrentUser) -> Result<()> {
    user.authorize(Role::Admin, Scope::SilencesWrite)?;
    Ok(())
}

/// The guard for reading them: any signed-in user, or a key with
/// `silences:write` or `alerts:read`.
fn reader(user: &CurrentUser) -> Result<()> {
    user.authorize_any(Role::Analyst, &[Scope::AlertsRead, Scope::SilencesWrite])?;
    Ok(())
}

/// Create a silence: from `starts_at` (default now) to `ends_at`, or a
/// weekly window (`recurring`). Alerts it matches stay quiet: stored and
/// joined as usual, marked `suppressed`, sent to no webhook.
#[utoipa::path(post, path = "/api/silences", operation_id = "create_silence", tag = "silences",
    security(("bearer" = []), ("api_key" = ["silences:write"])),
    request_body = NewSilence,
    responses(
        (status = 201, description = "The silence", body = SilenceSnapshot),
        (status = 400, description = "Invalid fields, each named (`matchers.source_ip`, `ends_at`, `recurring.time_zone`)", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not an admin, or a key without `silences:write`", body = ErrorBody),
    ))]
#[debug_handler]
async fn create(
    user: CurrentUser,
    remote: RemoteIP,
    State(ctx): State<AppContext>,
    CorrelationId(cid): CorrelationId,
    JsonBody(params): JsonBody<NewSilence>,
) -> ApiResult {
    writer(&user)?;
    let (_, snapshot) = silences::Model::create(&ctx.db, &user.by(&remote), params, &cid).await?;
    Gate::changed(&ctx);
    Ok(format::render()
        .status(StatusCode::CREATED)
        .json(snapshot)?)
}

/// List silences, newest first; `state=active|pending|expired`.
#[utoipa::path(get, path = "/api/silences", operation_id = "list_silences", tag = "silences",
    security(("bearer" = []), ("api_key" = ["alerts:read"])),
    params(
        ("state" = Option<String>, Query, description = "active (muting now), pending (starts later, or outside its weekly window) or expired"),
        ("page" = Option<u64>, Query, description = "Page number, from 1"),
        ("page_size" = Option<u64>, Query, description = "Items per page (default 10, max 500)"),
    ),
    responses(
        (status = 200, description = "A page of silences", body = Page<SilenceSnapshot>),
        (status = 400, description = "Unknown state or parameter", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "A key without the scope", body = ErrorBody),
    ))]
#[debug_handler]
async fn list(user: CurrentUser, State(ctx): State<AppContext>, page: PageParams) -> ApiResult {
    reader(&user)?;
    page.numbered_only("Silences")?;
    page.only(&["state"])?;
    let state = match page
        .values("state")
        .last()
        .map(|s| s.trim().to_ascii_lowercase())
    {
        None => None,
        Some(raw) => Some(
            crate::models::variant_named::<SilenceState>(&raw).ok_or_else(|| {
                ApiError::field(
                    "state",
                    format!("Unknown state `{raw}`: use active, pending or expired."),
                )
            })?,
        ),
    };
    let (rows, count) =
        silences::Model::list_page(&ctx.db, state, page.page, page.page_size).await?;
    let now = Utc::now();
    let mut results = Vec::with_capacity(rows.len());
    for row in &rows {
        results.push(row.snapshot(now, row.alert_pid(&ctx.db).await?));
    }
    Ok(format::json(page.page(results, count))?)
}

/// Read one silence.
#[utoipa::path(get, path = "/api/silences/{id}", operation_id = "show_silence", tag = "silences",
    security(("bearer" = []), ("api_key" = ["alerts:read"])),
    params(("id" = String, Path, description = "Silence id (UUID)")),
    responses(
        (status = 200, description = "The silence", body = SilenceSnapshot),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "A key without the scope", body = ErrorBody),
        (status = 404, description = "No such silence", body = ErrorBody),
    ))]
#[debug_handler]
async fn show(
    user: CurrentUser,
    State(ctx): State<AppContext>,
    Path(id): Path<String>,
) -> ApiResult {
    reader(&user)?;
    let row = silences::Model::find_by_pid(&ctx.db, &id).await?;
    Ok(format::json(
        row.snapshot(Utc::now(), row.alert_pid(&ctx.db).await?),
    )?)
}

/// Change a silence that has not expired (matchers, times, window,
/// comment); alerts are marked again at once.
#[utoipa::path(patch, path = "/api/silences/{id}", operation_id = "update_silence", tag = "silences",
    security(("bearer" = []), ("api_key" = ["silences:write"])),
    params(("id" = String, Path, description = "Silence id (UUID)")),
    request_body = SilenceChange,
    responses(
        (status = 200, description = "The changed silence", body = SilenceSnapshot),
        (status = 400, description = "Invalid fields, each named", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not an admin, or a key without `silences:write`", body = ErrorBody),
        (status = 404, description = "No such silence", body = ErrorBody),
        (status = 409, description = "It has expired", body = ErrorBody),
    ))]
#[debug_handler]
async fn update(
    user: CurrentUser,
    remote: RemoteIP,
    State(ctx): State<AppContext>,
    Path(id): Path<String>,
    CorrelationId(cid): CorrelationId,
    JsonBody(change): JsonBody<SilenceChange>,
) -> ApiResult {
    writer(&user)?;
    let (_, snapshot) =
        silences::Model::change(&ctx.db, &user.by(&remote), &id, change, &cid).await?;
    Gate::changed(&ctx);
    Ok(format::json(snapshot)?)
}

/// End a silence now. It stays readable (`state=expired`); the alerts it
/// quieted notify again from their next occurrence.
#[utoipa::path(delete, path = "/api/silences/{id}", operation_id = "delete_silence", tag = "silences",
    security(("bearer" = []), ("api_key" = ["silences:write"])),
    params(("id" = String, Path, description = "Silence id (UUID)")),
    responses(
        (status = 204, description = "Ended (or had already ended)"),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not an admin, or a key without `silences:write`", body = ErrorBody),
        (status = 404, description = "No such silence", body = ErrorBody),
    ))]
#[debug_handler]
async fn remove(
    user: CurrentUser,
    remote: RemoteIP,
    State(ctx): State<AppContext>,
    Path(id): Path<String>,
    CorrelationId(cid): CorrelationId,
) -> ApiResult {
    writer(&user)?;
    silences::Model::expire(&ctx.db, &user.by(&remote), &id, &cid).await?;
    Gate::changed(&ctx);
    Ok(format::render().status(StatusCode::NO_CONTENT).empty()?)
}

/// `POST /api/silences/preview` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewParams {
    pub matchers: Matchers,
    /// Look back this many days (1 to 90, default 7).
    pub days: Option<i64>,
}

/// What a silence would have quieted.
#[derive(Debug, Serialize, ToSchema)]
pub struct Preview {
    pub days: i64,
    /// Alerts created in those days that the matchers match.
    pub matched: u64,
    /// Alerts created in those days (all of them were checked).
    pub checked: u64,
    /// Up to 10 of the matched alerts, newest first (empty for an API key
    /// without `alerts:read`).
    pub sample: Vec<AlertSnapshot>,
}

/// Preview matchers: how many alerts of the last `days` (default 7) they
/// would have silenced, with a sample. Changes nothing.
#[utoipa::path(post, path = "/api/silences/preview", operation_id = "preview_silence", tag = "silences",
    security(("bearer" = []), ("api_key" = ["silences:write"])),
    request_body = PreviewParams,
    responses(
        (status = 200, description = "The alerts it would have silenced", body = Preview),
        (status = 400, description = "Invalid matchers or days", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not an admin, or a key without `silences:write`", body = ErrorBody),
    ))]
#[debug_handler]
async fn preview(
    user: CurrentUser,
    State(ctx): State<AppContext>,
    JsonBody(params): JsonBody<PreviewParams>,
) -> ApiResult {
    writer(&user)?;
    let found =
        silences::Model::preview(&ctx.db, params.matchers, params.days.unwrap_or(7)).await?;
    // The sample shows alerts: only to whom may read them.
    let sample = if user.reads_alerts() {
        found.sample.iter().map(AlertSnapshot::from).collect()
    } else {
        Vec::new()
    };
    Ok(format::json(Preview {
        days: found.days,
        matched: found.matched,
        checked: found.checked,
        sample,
    })?)
}

/// `POST /api/alerts/{id}/silence` body.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SilenceAlert {
    /// Why (default: "until <alert id> is resolved").
    #[schema(max_length = 1000)]
    pub comment: Option<String>,
}

/// Silence one alert until it is resolved or ignored: its envelopes go to
/// no webhook meanwhile (the resolution does), then the silence ends by
/// itself.
#[utoipa::path(post, path = "/api/alerts/{id}/silence", operation_id = "silence_alert", tag = "silences",
    security(("bearer" = []), ("api_key" = ["silences:write"])),
    params(("id" = String, Path, description = "Alert id (UUID)")),
    request_body(content = SilenceAlert, description = "Optional"),
    responses(
        (status = 201, description = "The silence", body = SilenceSnapshot),
        (status = 400, description = "Invalid comment", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not an admin, or a key without `silences:write`", body = ErrorBody),
        (status = 404, description = "No such alert", body = ErrorBody),
        (status = 409, description = "The alert is resolved or ignored", body = ErrorBody),
    ))]
#[debug_handler]
async fn silence_alert(
    user: CurrentUser,
    remote: RemoteIP,
    State(ctx): State<AppContext>,
    Path(id): Path<String>,
    CorrelationId(cid): CorrelationId,
    body: axum::body::Bytes,
) -> ApiResult {
    writer(&user)?;
    let params: SilenceAlert = if body.iter().all(u8::is_ascii_whitespace) {
        SilenceAlert::default()
    } else {
        crate::controllers::extract::parse_json(&body)?
    };
    let (_, snapshot) = silences::Model::for_alert(
        &ctx.db,
        &user.by(&remote),
        &id,
        params.comment.as_deref(),
        &cid,
    )
    .await?;
    Gate::changed(&ctx);
    Ok(format::render()
        .status(StatusCode::CREATED)
        .json(snapshot)?)
}

pub fn routes() -> Routes {
    Routes::new()
        .add("/api/silences", get(list).post(create))
        .add("/api/silences/preview", post(preview))
        .add("/api/silences/{id}", get(show).patch(update).delete(remove))
        .add("/api/alerts/{id}/silence", post(silence_alert))
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(create, list, show, update, remove, preview, silence_alert))]
pub struct SilencesApi;
