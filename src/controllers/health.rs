//! Probes for load balancers and orchestrators (SPEC §8).
use axum::http::StatusCode;
use loco_rs::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

/// Probe answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok` or `unavailable`.
    pub status: &'static str,
    /// Database reachability (`/_health` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database: Option<&'static str>,
}

/// The process is up.
#[utoipa::path(get, path = "/_ping", tag = "operations",
    responses((status = 200, description = "Process is up", body = Health)))]
#[debug_handler]
async fn ping(State(_ctx): State<AppContext>) -> Result<Response> {
    format::json(Health {
        status: "ok",
        database: None,
    })
}

/// The database is reachable: ready for traffic. Also at `/ready`.
#[utoipa::path(get, path = "/_health", tag = "operations",
    responses(
        (status = 200, description = "Ready", body = Health),
        (status = 503, description = "Database unreachable", body = Health),
    ))]
#[debug_handler]
async fn health(State(ctx): State<AppContext>) -> Result<Response> {
    match ctx.db.ping().await {
        Ok(()) => format::json(Health {
            status: "ok",
            database: Some("ok"),
        }),
        Err(err) => {
            tracing::error!(error = %err, "health: database unreachable");
            format::render()
                .status(StatusCode::SERVICE_UNAVAILABLE)
                .json(Health {
                    status: "unavailable",
                    database: Some("unreachable"),
                })
        }
    }
}

pub fn routes() -> Routes {
    Routes::new()
        .add("/_ping", get(ping))
        .add("/_health", get(health))
        .add("/ready", get(health))
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(ping, health))]
pub struct HealthApi;
