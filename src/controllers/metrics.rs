//! `GET /metrics`: Prometheus text exposition, rendered by
//! `metrics-exporter-prometheus` from what every module counts with the
//! `metrics` macros, plus gauges read at scrape time (outbox backlog and
//! age, database pool). With `METRICS_TOKEN` set it demands
//! `Authorization: Bearer <token>`; without, it is open, as Prometheus
//! expects on a private network.
use std::time::{Duration, Instant};

use axum::{
    extract::{MatchedPath, Request},
    http::{header, HeaderMap, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
};
use chrono::Utc;
use loco_rs::prelude::*;

use crate::{
    errors::{ApiError, ErrorBody},
    settings::Settings,
    telemetry::handle,
};

/// The route template a request matched, carried on its response to
/// [`track`].
#[derive(Clone)]
struct Route(String);

/// Inside the router: notes the matched route template on the response.
pub async fn note_route(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string());
    let mut res = next.run(req).await;
    if let Some(route) = route {
        res.extensions_mut().insert(Route(route));
    }
    res
}

/// Outermost: counts every request by route template, method and final
/// status, and times it. Requests no route matched count as `unmatched`,
/// so a scan of random paths cannot grow the label set.
pub async fn track(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method: &'static str = match *req.method() {
        axum::http::Method::GET => "GET",
        axum::http::Method::POST => "POST",
        axum::http::Method::PUT => "PUT",
        axum::http::Method::PATCH => "PATCH",
        axum::http::Method::DELETE => "DELETE",
        axum::http::Method::HEAD => "HEAD",
        axum::http::Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    };
    let res = next.run(req).await;
    let route = res
        .extensions()
        .get::<Route>()
        .map_or_else(|| "unmatched".to_string(), |r| r.0.clone());
    let status = res.status().as_u16().to_string();
    metrics::counter!("vigil_http_requests_total", "route" => route.clone(), "method" => method, "status" => status)
        .increment(1);
    metrics::histogram!("vigil_http_request_duration_seconds", "route" => route, "method" => method)
        .record(started.elapsed().as_secs_f64());
    res
}

/// The gauges read at scrape time: the outbox backlog and its oldest
/// envelope's age, and the database pool.
async fn sample(ctx: &AppContext) -> Result<()> {
    let (n, oldest) = crate::models::outbox_envelopes::Model::backlog(&ctx.db).await?;
    metrics::gauge!("vigil_outbox_backlog").set(n as f64);
    let age = oldest.map_or(0.0, |t| {
        (Utc::now() - t).num_milliseconds().max(0) as f64 / 1000.0
    });
    metrics::gauge!("vigil_outbox_oldest_age_seconds").set(age);
    let (size, idle) = crate::db::connect::pool_state(&ctx.db);
    metrics::gauge!("vigil_db_pool_connections", "state" => "in_use")
        .set(f64::from(size.saturating_sub(idle)));
    metrics::gauge!("vigil_db_pool_connections", "state" => "idle").set(f64::from(idle));
    Ok(())
}

fn authorized(settings: &Settings, headers: &HeaderMap) -> bool {
    let token = &settings.operations.metrics_token;
    if token.is_empty() {
        return true;
    }
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    crate::digest::same_secret(presented, token)
}

/// Prometheus metrics (text exposition format 0.0.4).
#[utoipa::path(get, path = "/metrics", operation_id = "metrics", tag = "operations",
    security((), ("metrics_token" = [])),
    responses(
        (status = 200, description = "The metrics", content_type = "text/plain; version=0.0.4", body = String),
        (status = 401, description = "METRICS_TOKEN is set and the request did not bring it", body = ErrorBody),
    ))]
#[debug_handler]
async fn scrape(State(ctx): State<AppContext>, headers: HeaderMap) -> Result<Response> {
    if !authorized(&Settings::get(&ctx), &headers) {
        return Ok(
            ApiError::unauthorized("Send Authorization: Bearer <METRICS_TOKEN>").into_response(),
        );
    }
    let handle = handle();
    // Storage trouble leaves the last figures; the rest still renders.
    if let Err(err) = tokio::time::timeout(Duration::from_secs(2), sample(&ctx))
        .await
        .unwrap_or_else(|_| Err(Error::string("timed out")))
    {
        tracing::warn!(error = %err, "metrics: outbox and pool gauges not refreshed");
    }
    handle.run_upkeep();
    Ok((
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        handle.render(),
    )
        .into_response())
}

pub fn routes() -> Routes {
    Routes::new().add("/metrics", get(scrape))
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(scrape))]
pub struct MetricsApi;
