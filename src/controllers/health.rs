//! Probes for load balancers and orchestrators (SPEC §8).
use axum::http::StatusCode;
use loco_rs::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use crate::workers::fanout::Fanout;

/// Probe answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok`; `degraded` when Redis is configured but unreachable (the
    /// service works, its live feed shows this instance's envelopes only);
    /// `unavailable` when the database is unreachable.
    pub status: &'static str,
    /// Database reachability (`/_health` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database: Option<&'static str>,
    /// Redis fan-out (`/_health` only): `ok`, `unavailable` or
    /// `not_configured`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis: Option<&'static str>,
    /// Why something is not `ok`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// The process is up.
#[utoipa::path(get, path = "/_ping", tag = "operations",
    responses((status = 200, description = "Process is up", body = Health)))]
#[debug_handler]
async fn ping(State(_ctx): State<AppContext>) -> Result<Response> {
    format::json(Health {
        status: "ok",
        database: None,
        redis: None,
        detail: None,
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
    let (redis, detail) = match Fanout::get(&ctx) {
        None => ("not_configured", None),
        Some(fanout) => match fanout.problem() {
            None => ("ok", None),
            Some(problem) => ("unavailable", Some(problem)),
        },
    };
    match ctx.db.ping().await {
        Ok(()) => format::json(Health {
            status: if detail.is_some() { "degraded" } else { "ok" },
            database: Some("ok"),
            redis: Some(redis),
            detail,
        }),
        Err(err) => {
            tracing::error!(error = %err, "health: database unreachable");
            format::render()
                .status(StatusCode::SERVICE_UNAVAILABLE)
                .json(Health {
                    status: "unavailable",
                    database: Some("unreachable"),
                    redis: Some(redis),
                    detail: Some(format!("database unreachable: {err}")),
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
