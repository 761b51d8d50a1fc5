//! HTTP conventions that hold for every route, applied around Loco's router.
use axum::{
    extract::Request,
    http::{uri::PathAndQuery, Uri},
    middleware::{from_fn, map_request},
    Router as AxumRouter,
};

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

/// Wraps the finished router: trailing-slash normalisation before routing,
/// and the JSON error envelope on every error response, the framework's
/// own 404/405/413 included.
pub fn wrap(router: AxumRouter) -> AxumRouter {
    AxumRouter::new()
        .fallback_service(router)
        .layer(map_request(trim_trailing_slash))
        .layer(from_fn(super::extract::rate_limit_headers))
        .layer(from_fn(crate::errors::envelope))
}
