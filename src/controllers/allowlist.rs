//! The source allowlist (admins): events from these networks are stored,
//! marked `allowlisted`, and never open or join an alert.
use axum::http::StatusCode;
use chrono::Utc;
use loco_rs::{controller::middleware::remote_ip::RemoteIP, prelude::*};

use crate::{
    controllers::extract::{CurrentUser, JsonBody, PageParams},
    errors::{ApiResult, ErrorBody},
    ingestion::gate::Gate,
    models::{
        allowlist::{self, EntrySnapshot, NewEntry},
        users::Role,
    },
    views::pagination::Page,
};

/// Add a network (or one address) to the allowlist.
#[utoipa::path(post, path = "/api/allowlist", operation_id = "create_allowlist_entry", tag = "allowlist",
    security(("bearer" = [])),
    request_body = NewEntry,
    responses(
        (status = 201, description = "The entry", body = EntrySnapshot),
        (status = 400, description = "Invalid fields, each named (`cidr`, `reason`, `expires_at`)", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not an admin, or an API key", body = ErrorBody),
    ))]
#[debug_handler]
async fn create(
    user: CurrentUser,
    remote: RemoteIP,
    State(ctx): State<AppContext>,
    JsonBody(params): JsonBody<NewEntry>,
) -> ApiResult {
    user.require_person(Role::Admin)?;
    let row = allowlist::Model::create(&ctx.db, &user.by(&remote), &params).await?;
    Gate::changed(&ctx);
    Ok(format::render()
        .status(StatusCode::CREATED)
        .json(row.snapshot(Utc::now()))?)
}

/// List the allowlist, newest first (expired entries included, `active`
/// false).
#[utoipa::path(get, path = "/api/allowlist", operation_id = "list_allowlist", tag = "allowlist",
    security(("bearer" = [])),
    params(
        ("page" = Option<u64>, Query, description = "Page number, from 1"),
        ("page_size" = Option<u64>, Query, description = "Items per page (default 10, max 500)"),
    ),
    responses(
        (status = 200, description = "A page of entries", body = Page<EntrySnapshot>),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not an admin, or an API key", body = ErrorBody),
    ))]
#[debug_handler]
async fn list(user: CurrentUser, State(ctx): State<AppContext>, page: PageParams) -> ApiResult {
    user.require_person(Role::Admin)?;
    page.numbered_only("Allowlist entries")?;
    page.only(&[])?;
    let (rows, count) = allowlist::Model::list_page(&ctx.db, page.page, page.page_size).await?;
    let now = Utc::now();
    let results = rows.iter().map(|r| r.snapshot(now)).collect();
    Ok(format::json(page.page(results, count))?)
}

/// Read one entry.
#[utoipa::path(get, path = "/api/allowlist/{id}", operation_id = "show_allowlist_entry", tag = "allowlist",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Entry id (UUID)")),
    responses(
        (status = 200, description = "The entry", body = EntrySnapshot),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not an admin, or an API key", body = ErrorBody),
        (status = 404, description = "No such entry", body = ErrorBody),
    ))]
#[debug_handler]
async fn show(
    user: CurrentUser,
    State(ctx): State<AppContext>,
    Path(id): Path<String>,
) -> ApiResult {
    user.require_person(Role::Admin)?;
    let row = allowlist::Model::find_by_pid(&ctx.db, &id).await?;
    Ok(format::json(row.snapshot(Utc::now()))?)
}

/// Remove an entry: events from it open and join alerts again.
#[utoipa::path(delete, path = "/api/allowlist/{id}", operation_id = "delete_allowlist_entry", tag = "allowlist",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Entry id (UUID)")),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not an admin, or an API key", body = ErrorBody),
        (status = 404, description = "No such entry", body = ErrorBody),
    ))]
#[debug_handler]
async fn remove(
    user: CurrentUser,
    remote: RemoteIP,
    State(ctx): State<AppContext>,
    Path(id): Path<String>,
) -> ApiResult {
    user.require_person(Role::Admin)?;
    allowlist::Model::remove(&ctx.db, &user.by(&remote), &id).await?;
    Gate::changed(&ctx);
    Ok(format::render().status(StatusCode::NO_CONTENT).empty()?)
}

pub fn routes() -> Routes {
    Routes::new()
        .prefix("/api/allowlist")
        .add("/", get(list).post(create))
        .add("/{id}", get(show).delete(remove))
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(create, list, show, remove))]
pub struct AllowlistApi;
