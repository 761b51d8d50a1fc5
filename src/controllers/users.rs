//! Account administration (admins only).
use loco_rs::{controller::middleware::remote_ip::RemoteIP, prelude::*};

use crate::{
    controllers::extract::{CurrentUser, JsonBody, PageParams},
    errors::ApiResult,
    errors::ErrorBody,
    models::users::{self, AccessChange, Role},
    views::{pagination::Page, users::UserResponse},
};

async fn load(ctx: &AppContext, id: &str) -> Result<users::Model> {
    users::Model::find_by_pid(&ctx.db, id).await
}

/// List users, newest first.
#[utoipa::path(get, path = "/api/users", operation_id = "list_users", tag = "users",
    security(("bearer" = [])),
    params(
        ("page" = Option<u64>, Query, description = "Page number, from 1"),
        ("page_size" = Option<u64>, Query, description = "Items per page (default 10, max 500)"),
    ),
    responses(
        (status = 200, description = "A page of users", body = Page<UserResponse>),
        (status = 400, description = "Bad page parameters", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
    ))]
#[debug_handler]
async fn list(user: CurrentUser, State(ctx): State<AppContext>, page: PageParams) -> ApiResult {
    user.require_person(Role::Admin)?;
    page.numbered_only("Users")?;
    let (items, count) = users::Model::list_page(&ctx.db, page.page, page.page_size).await?;
    let results = items.iter().map(UserResponse::from).collect();
    Ok(format::json(page.page(results, count))?)
}

/// Read one user.
#[utoipa::path(get, path = "/api/users/{id}", operation_id = "show_user", tag = "users",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "User id (UUID)")),
    responses(
        (status = 200, description = "The user", body = UserResponse),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
    ))]
#[debug_handler]
async fn show(
    user: CurrentUser,
    State(ctx): State<AppContext>,
    Path(id): Path<String>,
) -> ApiResult {
    user.require_person(Role::Admin)?;
    Ok(format::json(UserResponse::from(&load(&ctx, &id).await?))?)
}

/// Change a user's role or deactivate/reactivate them. Takes effect on the
/// user's next request. The last active admin cannot be demoted or deactivated.
#[utoipa::path(patch, path = "/api/users/{id}", operation_id = "update_user", tag = "users",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "User id (UUID)")),
    request_body = AccessChange,
    responses(
        (status = 200, description = "The updated user", body = UserResponse),
        (status = 400, description = "Invalid fields", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
        (status = 409, description = "Would leave no active admin", body = ErrorBody),
    ))]
#[debug_handler]
async fn update(
    user: CurrentUser,
    remote: RemoteIP,
    State(ctx): State<AppContext>,
    Path(id): Path<String>,
    JsonBody(change): JsonBody<AccessChange>,
) -> ApiResult {
    let admin = user.require_person(Role::Admin)?;
    let target = load(&ctx, &id).await?;
    let updated = target
        .change_access(&ctx.db, &ctx.cache, &user.by(&remote), &change)
        .await?;
    tracing::info!(admin = %admin.pid, user = %updated.pid, role = %updated.role, active = updated.is_active, "access changed");
    Ok(format::json(UserResponse::from(&updated))?)
}

pub fn routes() -> Routes {
    Routes::new()
        .prefix("/api/users")
        .add("/", get(list))
        .add("/{id}", get(show).patch(update))
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(list, show, update))]
pub struct UsersApi;
