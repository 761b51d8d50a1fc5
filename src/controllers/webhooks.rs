//! Webhook administration and delivery logs (admins only, signed in).
use axum::http::StatusCode;
use loco_rs::{controller::middleware::remote_ip::RemoteIP, prelude::*};

use crate::{
    controllers::extract::{CurrentUser, JsonBody, PageParams},
    errors::ApiResult,
    errors::ErrorBody,
    models::{
        users::Role,
        webhooks::{self, NewWebhook, WebhookChange},
    },
    settings::Settings,
    views::{
        pagination::Page,
        webhooks::{CreatedWebhook, DeliveryResponse, WebhookResponse},
    },
};

/// Register a webhook. Its signing secret is in this answer only.
#[utoipa::path(post, path = "/api/webhooks", operation_id = "create_webhook", tag = "webhooks",
    security(("bearer" = [])),
    request_body = NewWebhook,
    responses(
        (status = 201, description = "The webhook and its secret, shown this once", body = CreatedWebhook),
        (status = 400, description = "Invalid fields (all reported at once)", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not an admin, or an API key", body = ErrorBody),
    ))]
#[debug_handler]
async fn create(
    user: CurrentUser,
    remote: RemoteIP,
    State(ctx): State<AppContext>,
    JsonBody(params): JsonBody<NewWebhook>,
) -> ApiResult {
    let admin = user.require_person(Role::Admin)?;
    let policy = Settings::get(&ctx).webhooks.outbound();
    let (row, secret) =
        webhooks::Model::create(&ctx.db, admin, &user.by(&remote), &params, &policy).await?;
    tracing::info!(admin = %admin.pid, webhook = %row.pid, url = %row.url, "webhook created");
    Ok(format::render()
        .status(StatusCode::CREATED)
        .json(CreatedWebhook {
            webhook: WebhookResponse::from(&row),
            secret,
        })?)
}

/// List webhooks, newest first.
#[utoipa::path(get, path = "/api/webhooks", operation_id = "list_webhooks", tag = "webhooks",
    security(("bearer" = [])),
    params(
        ("page" = Option<u64>, Query, description = "Page number, from 1"),
        ("page_size" = Option<u64>, Query, description = "Items per page (default 10, max 500)"),
    ),
    responses(
        (status = 200, description = "A page of webhooks", body = Page<WebhookResponse>),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not an admin, or an API key", body = ErrorBody),
    ))]
#[debug_handler]
async fn list(user: CurrentUser, State(ctx): State<AppContext>, page: PageParams) -> ApiResult {
    user.require_person(Role::Admin)?;
    page.numbered_only("Webhooks")?;
    let (items, count) = webhooks::Model::list_page(&ctx.db, page.page, page.page_size).await?;
    let results = items.iter().map(WebhookResponse::from).collect();
    Ok(format::json(page.page(results, count))?)
}

/// Read one webhook, with whether it is disabled and why.
#[utoipa::path(get, path = "/api/webhooks/{id}", operation_id = "show_webhook", tag = "webhooks",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Webhook id (UUID)")),
    responses(
        (status = 200, description = "The webhook", body = WebhookResponse),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not an admin, or an API key", body = ErrorBody),
        (status = 404, description = "No such webhook", body = ErrorBody),
    ))]
#[debug_handler]
async fn show(
    user: CurrentUser,
    State(ctx): State<AppContext>,
    Path(id): Path<String>,
) -> ApiResult {
    user.require_person(Role::Admin)?;
    let hook = webhooks::Model::find_by_pid(&ctx.db, &id).await?;
    Ok(format::json(WebhookResponse::from(&hook))?)
}

/// Change a webhook. `"enabled": true` re-enables a disabled one: its
/// failure count is cleared and its pending deliveries go out.
#[utoipa::path(patch, path = "/api/webhooks/{id}", operation_id = "update_webhook", tag = "webhooks",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Webhook id (UUID)")),
    request_body = WebhookChange,
    responses(
        (status = 200, description = "The changed webhook", body = WebhookResponse),
        (status = 400, description = "Invalid fields", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not an admin, or an API key", body = ErrorBody),
        (status = 404, description = "No such webhook", body = ErrorBody),
    ))]
#[debug_handler]
async fn update(
    user: CurrentUser,
    remote: RemoteIP,
    State(ctx): State<AppContext>,
    Path(id): Path<String>,
    JsonBody(change): JsonBody<WebhookChange>,
) -> ApiResult {
    let admin = user.require_person(Role::Admin)?;
    let hook = webhooks::Model::find_by_pid(&ctx.db, &id)
        .await?
        .change(
            &ctx.db,
            &user.by(&remote),
            &change,
            &Settings::get(&ctx).webhooks.outbound(),
        )
        .await?;
    tracing::info!(admin = %admin.pid, webhook = %hook.pid, enabled = hook.enabled, "webhook changed");
    if hook.enabled {
        if let Ok(sweeper) = crate::workers::webhooks::Sweeper::get(&ctx) {
            sweeper.poke();
        }
    }
    Ok(format::json(WebhookResponse::from(&hook))?)
}

/// Delete a webhook and its delivery log.
#[utoipa::path(delete, path = "/api/webhooks/{id}", operation_id = "delete_webhook", tag = "webhooks",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Webhook id (UUID)")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not an admin, or an API key", body = ErrorBody),
        (status = 404, description = "No such webhook", body = ErrorBody),
    ))]
#[debug_handler]
async fn remove(
    user: CurrentUser,
    remote: RemoteIP,
    State(ctx): State<AppContext>,
    Path(id): Path<String>,
) -> ApiResult {
    let admin = user.require_person(Role::Admin)?;
    let hook = webhooks::Model::find_by_pid(&ctx.db, &id).await?;
    let pid = hook.pid;
    hook.remove(&ctx.db, &user.by(&remote)).await?;
    tracing::info!(admin = %admin.pid, webhook = %pid, "webhook deleted");
    Ok(format::render().status(StatusCode::NO_CONTENT).empty()?)
}

/// A webhook's deliveries, newest first: status, attempts, last error.
#[utoipa::path(get, path = "/api/webhooks/{id}/deliveries", operation_id = "list_webhook_deliveries", tag = "webhooks",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, description = "Webhook id (UUID)"),
        ("page" = Option<u64>, Query, description = "Page number, from 1"),
        ("page_size" = Option<u64>, Query, description = "Items per page (default 10, max 500)"),
    ),
    responses(
        (status = 200, description = "A page of deliveries", body = Page<DeliveryResponse>),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not an admin, or an API key", body = ErrorBody),
        (status = 404, description = "No such webhook", body = ErrorBody),
    ))]
#[debug_handler]
async fn deliveries(
    user: CurrentUser,
    State(ctx): State<AppContext>,
    Path(id): Path<String>,
    page: PageParams,
) -> ApiResult {
    user.require_person(Role::Admin)?;
    page.numbered_only("Deliveries")?;
    let hook = webhooks::Model::find_by_pid(&ctx.db, &id).await?;
    let (items, count) = hook.deliveries(&ctx.db, page.page, page.page_size).await?;
    let results = items.iter().map(DeliveryResponse::from).collect();
    Ok(format::json(page.page(results, count))?)
}

pub fn routes() -> Routes {
    Routes::new()
        .prefix("/api/webhooks")
        .add("/", get(list).post(create))
        .add("/{id}", get(show).patch(update).delete(remove))
        .add("/{id}/deliveries", get(deliveries))
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(create, list, show, update, remove, deliveries))]
pub struct WebhooksApi;
