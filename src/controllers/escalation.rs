//! Escalation policies (admins): those of the configuration file are
//! listed read-only beside those made here.
use axum::http::StatusCode;
use loco_rs::{controller::middleware::remote_ip::RemoteIP, prelude::*};

use crate::{
    controllers::extract::{CurrentUser, JsonBody},
    errors::{ApiResult, ErrorBody},
    models::{
        escalation::{self, NewPolicy, PolicyChange, PolicySnapshot},
        users::Role,
    },
    settings::Settings,
};

/// Create a policy: alerts of at least `min_severity` still OPEN
/// `after_minutes` after opening move to ESCALATED by `system`.
#[utoipa::path(post, path = "/api/escalation-policies", operation_id = "create_escalation_policy", tag = "escalation",
    security(("bearer" = [])),
    request_body = NewPolicy,
    responses(
        (status = 201, description = "The policy", body = PolicySnapshot),
        (status = 400, description = "Invalid fields, each named", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not an admin, or an API key", body = ErrorBody),
    ))]
#[debug_handler]
async fn create(
    user: CurrentUser,
    remote: RemoteIP,
    State(ctx): State<AppContext>,
    JsonBody(params): JsonBody<NewPolicy>,
) -> ApiResult {
    user.require_person(Role::Admin)?;
    let row = escalation::Model::create(&ctx.db, &user.by(&remote), &params).await?;
    Ok(format::render()
        .status(StatusCode::CREATED)
        .json(row.snapshot())?)
}

/// Every policy: the configuration's (`origin: config`), then the API's.
#[utoipa::path(get, path = "/api/escalation-policies", operation_id = "list_escalation_policies", tag = "escalation",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The policies", body = Vec<PolicySnapshot>),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not an admin, or an API key", body = ErrorBody),
    ))]
#[debug_handler]
async fn list(user: CurrentUser, State(ctx): State<AppContext>) -> ApiResult {
    user.require_person(Role::Admin)?;
    let configured = &Settings::get(&ctx).operations.escalation_policies;
    Ok(format::json(
        escalation::listed(&ctx.db, configured).await?,
    )?)
}

/// Change a policy made through the API.
#[utoipa::path(patch, path = "/api/escalation-policies/{id}", operation_id = "update_escalation_policy", tag = "escalation",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Policy id (UUID)")),
    request_body = PolicyChange,
    responses(
        (status = 200, description = "The changed policy", body = PolicySnapshot),
        (status = 400, description = "Invalid fields, each named", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not an admin, or an API key", body = ErrorBody),
        (status = 404, description = "No such policy (those of the configuration file are changed there)", body = ErrorBody),
    ))]
#[debug_handler]
async fn update(
    user: CurrentUser,
    remote: RemoteIP,
    State(ctx): State<AppContext>,
    Path(id): Path<String>,
    JsonBody(change): JsonBody<PolicyChange>,
) -> ApiResult {
    user.require_person(Role::Admin)?;
    let row = escalation::Model::change(&ctx.db, &user.by(&remote), &id, &change).await?;
    Ok(format::json(row.snapshot())?)
}

/// Delete a policy made through the API.
#[utoipa::path(delete, path = "/api/escalation-policies/{id}", operation_id = "delete_escalation_policy", tag = "escalation",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Policy id (UUID)")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not an admin, or an API key", body = ErrorBody),
        (status = 404, description = "No such policy", body = ErrorBody),
    ))]
#[debug_handler]
async fn remove(
    user: CurrentUser,
    remote: RemoteIP,
    State(ctx): State<AppContext>,
    Path(id): Path<String>,
) -> ApiResult {
    user.require_person(Role::Admin)?;
    escalation::Model::remove(&ctx.db, &user.by(&remote), &id).await?;
    Ok(format::render().status(StatusCode::NO_CONTENT).empty()?)
}

pub fn routes() -> Routes {
    Routes::new()
        .prefix("/api/escalation-policies")
        .add("/", get(list).post(create))
        .add("/{id}", patch(update).delete(remove))
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(create, list, update, remove))]
pub struct EscalationApi;
