//! API key administration (admins only, signed in: a key cannot manage keys).
use axum::http::StatusCode;
use loco_rs::{controller::middleware::remote_ip::RemoteIP, prelude::*};

use crate::{
    controllers::extract::{CurrentUser, JsonBody, PageParams},
    errors::ApiResult,
    errors::ErrorBody,
    models::{
        api_keys::{self, NewKey},
        users::Role,
    },
    views::{
        api_keys::{ApiKeyResponse, CreatedApiKey},
        pagination::Page,
    },
};

/// Create a key. The key is in this answer only: it is stored hashed.
#[utoipa::path(post, path = "/api/api-keys", operation_id = "create_api_key", tag = "api-keys",
    security(("bearer" = [])),
    request_body = NewKey,
    responses(
        (status = 201, description = "The key, shown this once", body = CreatedApiKey),
        (status = 400, description = "Invalid fields (all reported at once)", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not an admin, or an API key", body = ErrorBody),
    ))]
#[debug_handler]
async fn create(
    user: CurrentUser,
    remote: RemoteIP,
    State(ctx): State<AppContext>,
    JsonBody(params): JsonBody<NewKey>,
) -> ApiResult {
    let admin = user.require_person(Role::Admin)?;
    let (row, key) = api_keys::Model::create(&ctx.db, admin, &user.by(&remote), &params).await?;
    tracing::info!(admin = %admin.pid, key = %row.pid, scopes = %row.scopes, "API key created");
    Ok(format::render()
        .status(StatusCode::CREATED)
        .json(CreatedApiKey {
            api_key: ApiKeyResponse::from(&row),
            key,
        })?)
}

/// List keys, newest first, revoked and expired ones included.
#[utoipa::path(get, path = "/api/api-keys", operation_id = "list_api_keys", tag = "api-keys",
    security(("bearer" = [])),
    params(
        ("page" = Option<u64>, Query, description = "Page number, from 1"),
        ("page_size" = Option<u64>, Query, description = "Items per page (default 10, max 500)"),
    ),
    responses(
        (status = 200, description = "A page of keys", body = Page<ApiKeyResponse>),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not an admin, or an API key", body = ErrorBody),
    ))]
#[debug_handler]
async fn list(user: CurrentUser, State(ctx): State<AppContext>, page: PageParams) -> ApiResult {
    user.require_person(Role::Admin)?;
    page.numbered_only("API keys")?;
    let (items, count) = api_keys::Model::list_page(&ctx.db, page.page, page.page_size).await?;
    let results = items.iter().map(ApiKeyResponse::from).collect();
    Ok(format::json(page.page(results, count))?)
}

/// Read one key (never the key itself).
#[utoipa::path(get, path = "/api/api-keys/{id}", operation_id = "show_api_key", tag = "api-keys",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Key id (UUID)")),
    responses(
        (status = 200, description = "The key", body = ApiKeyResponse),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not an admin, or an API key", body = ErrorBody),
        (status = 404, description = "No such key", body = ErrorBody),
    ))]
#[debug_handler]
async fn show(
    user: CurrentUser,
    State(ctx): State<AppContext>,
    Path(id): Path<String>,
) -> ApiResult {
    user.require_person(Role::Admin)?;
    let key = api_keys::Model::find_by_pid(&ctx.db, &id).await?;
    Ok(format::json(ApiKeyResponse::from(&key))?)
}

/// Revoke a key: it stops working at once. The record stays, marked REVOKED.
#[utoipa::path(delete, path = "/api/api-keys/{id}", operation_id = "revoke_api_key", tag = "api-keys",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Key id (UUID)")),
    responses(
        (status = 200, description = "The revoked key", body = ApiKeyResponse),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not an admin, or an API key", body = ErrorBody),
        (status = 404, description = "No such key", body = ErrorBody),
    ))]
#[debug_handler]
async fn revoke(
    user: CurrentUser,
    remote: RemoteIP,
    State(ctx): State<AppContext>,
    Path(id): Path<String>,
) -> ApiResult {
    let admin = user.require_person(Role::Admin)?;
    let key = api_keys::Model::find_by_pid(&ctx.db, &id)
        .await?
        .revoke(&ctx.db, &user.by(&remote))
        .await?;
    tracing::info!(admin = %admin.pid, key = %key.pid, "API key revoked");
    Ok(format::json(ApiKeyResponse::from(&key))?)
}

pub fn routes() -> Routes {
    Routes::new()
        .prefix("/api/api-keys")
        .add("/", get(list).post(create))
        .add("/{id}", get(show).delete(revoke))
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(create, list, show, revoke))]
pub struct ApiKeysApi;
