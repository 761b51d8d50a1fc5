//! HTTP conventions that hold for every route, applied around Loco's router.
use std::sync::Arc;

use axum::{
    extract::Request,
    http::{uri::PathAndQuery, Uri},
    middleware::{from_fn, from_fn_with_state, map_request},
    Router as AxumRouter,
};
use loco_rs::{app::AppContext, Result};

/// `/api/events/` and `/api/events` are the same resource (SPEC §2): drop
/// trailing slashes before routing. Swagger UI's own pages keep theirs: it
/// redirects `/swagger` to `/swagger/`.
async fn trim_trailing_slash(mut req: Request) -> Request {
    let path = req.uri().path();
    if path.len() > 1 && path.ends_with('/') && !path.starts_with("/swagger") {
        let trimmed = path.trim_end_matches('/');
        let trimmed = if trimmed.is_empty() { "/" } else { trimmed };
        let pq = match req.uri().query() {
            Some(q) => format!("{trimmed}?{q}"),
            None => trimmed.to_string(),
        };
        if let Ok(pq) = PathAndQuery::try_from(pq) {
            let mut parts = req.uri().clone().into_parts();
            parts.path_and_query = Some(pq);
            if let Ok(uri) = Uri::from_parts(parts) {
                *req.uri_mut() = uri;
            }
        }
    }
    req
}

/// Query parameters whose values are credentials (the live feed's
/// `?token=`, and any a client might send by mistake): never logged.
const SECRET_PARAMS: [&str; 8] = [
    "token",
    "access_token",
    "access",
    "refresh",
    "api_key",
    "key",
    "password",
    "secret",
];

/// The URI as the request log shows it: the value of every credential
/// parameter replaced by `REDACTED`, the rest as sent.
#[must_use]
pub fn redacted_uri(uri: &Uri) -> String {
    let path = uri.path();
    let Some(query) = uri.query() else {
        return path.to_string();
    };
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| {
            let name = form_urlencoded::parse(pair.as_bytes())
                .next()
                .map(|(k, _)| k.to_ascii_lowercase())
                .unwrap_or_default();
            if SECRET_PARAMS.contains(&name.as_str()) {
                let raw_name = pair.split('=').next().unwrap_or_default();
                format!("{raw_name}=REDACTED")
            } else {
                pair.to_string()
            }
        })
        .collect();
    format!("{path}?{}", pairs.join("&"))
}

/// Gives every request an `x-request-id` (Loco's request-id layer keeps a
/// well-formed one), so the request log's span can name it.
async fn request_id(mut req: Request) -> Request {
    let valid = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            !v.is_empty()
                && v.len() <= 255
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    if !valid {
        if let Ok(id) = axum::http::HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()) {
            req.headers_mut().insert("x-request-id", id);
        }
    }
    req
}

fn request_span(req: &Request) -> tracing::Span {
    let request_id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    tracing::info_span!(
        "http-request",
        "http.method" = %req.method(),
        "http.uri" = %redacted_uri(req.uri()),
        request_id = %request_id,
    )
}

/// Wraps the finished router: the request log (credentials cut from the
/// URI; 5xx answers logged at ERROR, the rest at DEBUG), trailing-slash
/// normalisation before routing, and the JSON error envelope on every
/// error response, the framework's own 404/405/413 included.
///
/// # Errors
/// When the API-key rate limiter cannot be made (a bad `REDIS_URL`).
pub fn wrap(router: AxumRouter, ctx: &AppContext) -> Result<AxumRouter> {
    let limits = Arc::new(super::rate_limit::KeyLimits::new(ctx)?);
    crate::telemetry::handle();
    let router = router.layer(from_fn(super::metrics::note_route));
    Ok(AxumRouter::new()
        .fallback_service(router)
        .layer(from_fn(super::console::frame))
        .layer(map_request(trim_trailing_slash))
        .layer(from_fn_with_state(
            limits,
            super::rate_limit::limit_api_keys,
        ))
        .layer(from_fn(crate::errors::envelope))
        .layer(tower_http::trace::TraceLayer::new_for_http().make_span_with(request_span))
        .layer(map_request(request_id))
        .layer(from_fn(super::metrics::track)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_never_reach_the_log() {
        let uri: Uri =
            "/ws/alerts?token=eyJhbGciOi.x.y&min_severity=BOGUS&Access_Token=a%20b&%74oken=z"
                .parse()
                .unwrap();
        let shown = redacted_uri(&uri);
        assert_eq!(
            shown,
            "/ws/alerts?token=REDACTED&min_severity=BOGUS&Access_Token=REDACTED&%74oken=REDACTED"
        );
        assert!(!shown.contains("eyJ"));
        let plain: Uri = "/api/alerts?status=OPEN".parse().unwrap();
        assert_eq!(redacted_uri(&plain), "/api/alerts?status=OPEN");
    }
}
