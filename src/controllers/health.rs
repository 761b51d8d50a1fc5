//! Probes for load balancers and orchestrators (SPEC §8).
use axum::http::StatusCode;
use loco_rs::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use std::collections::BTreeMap;

use crate::{
    errors::ApiResult, ingestion::writer::IngestWriter, initializers::Subsystems,
    workers::fanout::Fanout,
};

/// Probe answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok`; `degraded` when Redis is configured but unreachable (the
    /// service works, its live feed shows this instance's envelopes only),
    /// or when storage refuses writes (503: writes answer 503
    /// `storage_unavailable` until it takes them again); `unavailable` when
    /// the database is unreachable (503).
    pub status: &'static str,
    /// Database reachability (`/_health` only): `ok` or `unreachable`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database: Option<&'static str>,
    /// Whether storage takes writes (`/_health` only): `ok` or
    /// `unavailable`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub storage: Option<&'static str>,
    /// Redis fan-out (`/_health` only): `ok`, `unavailable` or
    /// `not_configured`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis: Option<&'static str>,
    /// The server's long-lived tasks (`/_health` only): `dispatcher`,
    /// `webhook_sweep`, `redis_subscriber` (with Redis), `wal_checkpointer`
    /// (on SQLite), each `running` or `stopped`. A stopped one makes the
    /// status `degraded`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<std::collections::HashMap<String, String>>, example = json!({"dispatcher": "running", "webhook_sweep": "running"}))]
    pub subsystems: Option<BTreeMap<&'static str, &'static str>>,
    /// Why something is not `ok`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// The process is up.
#[utoipa::path(get, path = "/_ping", tag = "operations", operation_id = "ping",
    responses((status = 200, description = "Process is up", body = Health)))]
#[debug_handler]
async fn ping(State(_ctx): State<AppContext>) -> ApiResult {
    Ok(format::json(Health {
        status: "ok",
        database: None,
        storage: None,
        redis: None,
        subsystems: None,
        detail: None,
    })?)
}

/// A 503 that keeps the [`Health`] body (not the error envelope).
fn own_body(mut response: Response) -> Response {
    response.extensions_mut().insert(crate::errors::OwnBody);
    response
}

/// Whether storage takes writes: after a write failed for want of storage,
/// a real write probe on the ingestion writer's connection (which clears
/// the failure when it succeeds); otherwise nothing to check.
async fn storage_problem(ctx: &AppContext) -> Option<String> {
    let writer = IngestWriter::get(ctx).ok()?;
    writer.storage_problem()?;
    match writer.probe().await {
        Ok(()) => None,
        Err(err) => Some(format!("storage refuses writes: {err}")),
    }
}

/// Ready for traffic: the database is reachable and takes writes. Also at
/// `/ready`.
#[utoipa::path(get, path = "/_health", tag = "operations", operation_id = "health",
    responses(
        (status = 200, description = "Ready (`ok`, or `degraded` when only Redis is down or a subsystem stopped)", body = Health),
        (status = 503, description = "Database unreachable, or storage refusing writes", body = Health),
    ))]
#[debug_handler]
async fn health(State(ctx): State<AppContext>) -> ApiResult {
    let (redis, redis_problem) = match Fanout::get(&ctx) {
        None => ("not_configured", None),
        Some(fanout) => match fanout.problem() {
            None => ("ok", None),
            Some(problem) => ("unavailable", Some(problem)),
        },
    };
    let subsystems = Subsystems::get(&ctx);
    let states = Some(subsystems.states());
    if let Err(err) = ctx.db.ping().await {
        tracing::warn!(error = %err, "health: database unreachable");
        return Ok(format::render()
            .status(StatusCode::SERVICE_UNAVAILABLE)
            .json(Health {
                status: "unavailable",
                database: Some("unreachable"),
                storage: Some("unavailable"),
                redis: Some(redis),
                subsystems: states,
                detail: Some(format!("database unreachable: {err}")),
            })
            .map(own_body)?);
    }
    if let Some(problem) = storage_problem(&ctx).await {
        tracing::warn!(problem = %problem, "health: storage refuses writes");
        return Ok(format::render()
            .status(StatusCode::SERVICE_UNAVAILABLE)
            .json(Health {
                status: "degraded",
                database: Some("ok"),
                storage: Some("unavailable"),
                redis: Some(redis),
                subsystems: states,
                detail: Some(problem),
            })
            .map(own_body)?);
    }
    let stopped = subsystems.stopped();
    let stopped_problem = (!stopped.is_empty()).then(|| {
        tracing::warn!(stopped = ?stopped, "health: a subsystem stopped");
        format!("stopped: {}", stopped.join(", "))
    });
    let detail = match (redis_problem, stopped_problem) {
        (Some(a), Some(b)) => Some(format!("{a}; {b}")),
        (a, b) => a.or(b),
    };
    Ok(format::json(Health {
        status: if detail.is_some() { "degraded" } else { "ok" },
        database: Some("ok"),
        storage: Some("ok"),
        redis: Some(redis),
        subsystems: states,
        detail,
    })?)
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
