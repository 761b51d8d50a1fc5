//! `GET /api/stats`.
use loco_rs::prelude::*;

use crate::{
    controllers::extract::CurrentUser,
    errors::ApiResult,
    errors::ErrorBody,
    models::{api_keys::Scope, stats::Stats, users::Role},
    views::stats::StatsResponse,
};

/// Counts by severity and status, open alerts, events per hour over the last
/// 24 hours, mean time to acknowledge and to resolve.
#[utoipa::path(get, path = "/api/stats", operation_id = "stats", tag = "operations",
    security(("bearer" = []), ("api_key" = ["alerts:read"])),
    responses(
        (status = 200, description = "Current figures", body = StatsResponse),
        (status = 401, description = "Not authenticated", body = ErrorBody),
    ))]
#[debug_handler]
async fn show(user: CurrentUser, State(ctx): State<AppContext>) -> ApiResult {
    user.authorize(Role::Analyst, Scope::AlertsRead)?;
    Ok(format::json(StatsResponse::from(
        Stats::compute(&ctx.db).await?,
    ))?)
}

pub fn routes() -> Routes {
    Routes::new().prefix("/api/stats").add("/", get(show))
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(show))]
pub struct StatsApi;
