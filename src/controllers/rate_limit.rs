//! API-key rate limiting, as a layer around every route: a request made
//! with `X-API-Key` is authenticated here, counted against its key's
//! `rate_limit_per_minute` (429 with `Retry-After` once spent) and answered
//! with `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset`. The
//! authenticated key goes down to [`CurrentUser`](super::extract::CurrentUser)
//! as a request extension, so a key is looked up once per request.
//!
//! The counts live in Redis when `REDIS_URL` is set (`INCR` and `PEXPIRE …
//! NX` in one transaction: the limit holds across every instance), else in
//! this process. A window is a minute from a key's first request in it.
//! While Redis cannot be reached, each instance counts for itself (the
//! limit then holds per instance) rather than refusing every key.
use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant},
};

use axum::{
    extract::{Request, State},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
};
use loco_rs::app::AppContext;
use redis::aio::MultiplexedConnection;

use super::extract::API_KEY_HEADER;
use crate::{
    errors::ApiError,
    models::api_keys::{self, Grant},
    settings::Settings,
};

/// The length of a rate-limit window.
pub const WINDOW: Duration = Duration::from_secs(60);
const REDIS_TIMEOUT: Duration = Duration::from_secs(1);

/// Where a key stands in its window (the `RateLimit-*` headers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateState {
    pub limit: u32,
    pub remaining: u32,
    /// Seconds until the window resets.
    pub reset: u64,
    pub allowed: bool,
}

impl RateState {
    fn new(limit: u32, count: u64, left: Duration) -> Self {
        let count = u32::try_from(count).unwrap_or(u32::MAX);
        Self {
            limit,
            remaining: limit.saturating_sub(count),
            reset: left.as_secs() + u64::from(left.subsec_nanos() > 0),
            allowed: count <= limit,
        }
    }
}

/// Per-key counts in this process's memory.
#[derive(Default)]
pub struct LocalCounts {
    windows: Mutex<HashMap<String, (Instant, u64)>>,
}

impl LocalCounts {
    /// Counts one request for `key` at `now`; the count in its window and
    /// the time left in it.
    pub fn hit(&self, key: &str, now: Instant) -> (u64, Duration) {
        let mut windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        if windows.len() > 100_000 {
            windows.retain(|_, (start, _)| now.duration_since(*start) < WINDOW);
        }
        let entry = windows.entry(key.to_string()).or_insert((now, 0));
        if now.duration_since(entry.0) >= WINDOW {
            *entry = (now, 0);
        }
        entry.1 += 1;
        (entry.1, WINDOW.saturating_sub(now.duration_since(entry.0)))
    }
}

/// Per-key counts shared by every instance through Redis.
pub struct RedisCounts {
    client: redis::Client,
    prefix: String,
    connection: tokio::sync::Mutex<Option<MultiplexedConnection>>,
}

impl RedisCounts {
    /// Counts kept under `{prefix}:{key}`.
    ///
    /// # Errors
    /// When `url` is not a Redis URL.
    pub fn new(url: &str, prefix: &str) -> Result<Self, String> {
        Ok(Self {
            client: redis::Client::open(url).map_err(|e| e.to_string())?,
            prefix: prefix.to_string(),
            connection: tokio::sync::Mutex::new(None),
        })
    }

    async fn connection(&self) -> Result<MultiplexedConnection, String> {
        let mut held = self.connection.lock().await;
        if let Some(conn) = held.as_ref() {
            return Ok(conn.clone());
        }
        let conn = tokio::time::timeout(
            REDIS_TIMEOUT,
            self.client.get_multiplexed_async_connection(),
        )
        .await
        .map_err(|_| "connect timed out".to_string())?
        .map_err(|e| e.to_string())?;
        *held = Some(conn.clone());
        Ok(conn)
    }

    /// Counts one request for `key`; the count in its window and the time
    /// left in it.
    ///
    /// # Errors
    /// When Redis does not answer.
    pub async fn hit(&self, key: &str) -> Result<(u64, Duration), String> {
        let mut conn = self.connection().await?;
        let name = format!("{}:{key}", self.prefix);
        let window_ms = u64::try_from(WINDOW.as_millis()).unwrap_or(u64::MAX);
        let mut pipe = redis::pipe();
        pipe.atomic()
            .incr(&name, 1_u64)
            .cmd("PEXPIRE")
            .arg(&name)
            .arg(window_ms)
            .arg("NX")
            .ignore()
            .pttl(&name);
        let query = pipe.query_async::<(u64, i64)>(&mut conn);
        match tokio::time::timeout(REDIS_TIMEOUT, query).await {
            Ok(Ok((count, ttl_ms))) => {
                let left = Duration::from_millis(u64::try_from(ttl_ms).unwrap_or(window_ms));
                Ok((count, left))
            }
            Ok(Err(e)) => {
                *self.connection.lock().await = None;
                Err(e.to_string())
            }
            Err(_) => {
                *self.connection.lock().await = None;
                Err("timed out".to_string())
            }
        }
    }
}

/// The counts this process uses: Redis when configured (this process's
/// own while Redis is unreachable), else this process's.
pub struct KeyLimits {
    ctx: AppContext,
    local: LocalCounts,
    redis: Option<RedisCounts>,
}

impl KeyLimits {
    /// # Errors
    /// When `REDIS_URL` is set but is not a Redis URL.
    pub fn new(ctx: &AppContext) -> loco_rs::Result<Self> {
        let settings = Settings::get(ctx);
        let redis = if settings.redis_url.is_empty() {
            None
        } else {
            let prefix = format!("{}:rate", settings.redis_channel);
            Some(RedisCounts::new(&settings.redis_url, &prefix).map_err(|e| {
                loco_rs::Error::string(&format!("redis_url is not a Redis URL: {e}"))
            })?)
        };
        Ok(Self {
            ctx: ctx.clone(),
            local: LocalCounts::default(),
            redis,
        })
    }

    /// Counts one request of the key whose digest is `key` against `limit`.
    pub async fn hit(&self, key: &str, limit: u32) -> RateState {
        let (count, left) = match &self.redis {
            Some(redis) => match redis.hit(key).await {
                Ok(counted) => counted,
                Err(error) => {
                    tracing::warn!(%error, "rate limit: Redis unreachable, counting in this process");
                    self.local.hit(key, Instant::now())
                }
            },
            None => self.local.hit(key, Instant::now()),
        };
        RateState::new(limit, count, left)
    }
}

fn rate_headers(headers: &mut HeaderMap, state: RateState) {
    for (name, value) in [
        ("ratelimit-limit", u64::from(state.limit)),
        ("ratelimit-remaining", u64::from(state.remaining)),
        ("ratelimit-reset", state.reset),
    ] {
        headers.insert(name, HeaderValue::from(value));
    }
    if !state.allowed {
        headers.insert(header::RETRY_AFTER, HeaderValue::from(state.reset));
    }
}

/// The layer: see the module documentation. A request with a bearer token,
/// or without a key, passes untouched; so does one whose key does not
/// authenticate (the route's extractor answers its 401, or 503).
pub async fn limit_api_keys(
    State(limits): State<Arc<KeyLimits>>,
    mut req: Request,
    next: Next,
) -> Response {
    if req.headers().contains_key(header::AUTHORIZATION) {
        return next.run(req).await;
    }
    let Some(presented) = req
        .headers()
        .get(API_KEY_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
    else {
        return next.run(req).await;
    };
    let Ok(grant) = api_keys::Model::authenticate(&limits.ctx.db, &presented).await else {
        return next.run(req).await;
    };
    let limit = u32::try_from(grant.key.rate_limit_per_minute.max(1)).unwrap_or(u32::MAX);
    let state = limits.hit(&grant.key.key_hash, limit).await;
    if !state.allowed {
        let address = {
            let (mut parts, body) = req.into_parts();
            let remote = <loco_rs::controller::middleware::remote_ip::RemoteIP as axum::extract::FromRequestParts<_>>::from_request_parts(
                &mut parts,
                &limits.ctx,
            )
            .await
            .unwrap_or(loco_rs::controller::middleware::remote_ip::RemoteIP::None);
            drop(body);
            super::extract::address(&remote)
        };
        crate::models::audit::note(
            &limits.ctx.db,
            crate::models::audit::By::new(
                format!("{} (API key {})", grant.owner.username, grant.key.name),
                address,
            ),
            crate::models::audit::Entry::new("api_key.rate_limited", grant.key.pid.to_string())
                .after(serde_json::json!({"limit_per_minute": limit})),
            Some(&format!("rate:{}", grant.key.pid)),
        );
        let mut response = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!(
                "This API key is limited to {limit} requests per minute: try again in {} s",
                state.reset
            ),
        )
        .into_response();
        rate_headers(response.headers_mut(), state);
        return response;
    }
    req.extensions_mut().insert(Arc::new(grant));
    let mut response = next.run(req).await;
    rate_headers(response.headers_mut(), state);
    response
}

/// The key the layer authenticated for this request, if any.
#[must_use]
pub fn granted(extensions: &axum::http::Extensions) -> Option<Arc<Grant>> {
    extensions.get::<Arc<Grant>>().cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_counts_then_refuses_then_resets() {
        let counts = LocalCounts::default();
        let t0 = Instant::now();
        let state = |(count, left)| RateState::new(2, count, left);
        let first = state(counts.hit("k", t0));
        assert_eq!((first.allowed, first.remaining, first.reset), (true, 1, 60));
        assert!(state(counts.hit("k", t0)).allowed);
        let third = state(counts.hit("k", t0 + Duration::from_secs(10)));
        assert_eq!(
            (third.allowed, third.remaining, third.reset),
            (false, 0, 50)
        );
        assert!(
            state(counts.hit("other", t0)).allowed,
            "keys do not share windows"
        );
        assert!(state(counts.hit("k", t0 + Duration::from_secs(60))).allowed);
    }
}
