//! `GET /ws/alerts`: the live feed of lifecycle envelopes over WebSocket.
use std::{collections::HashSet, sync::Arc, time::Duration};

use axum::{
    extract::{
        ws::{
            rejection::WebSocketUpgradeRejection, CloseFrame, Message, WebSocket, WebSocketUpgrade,
        },
        Query,
    },
    http::HeaderMap,
};
use futures_util::SinkExt;
use loco_rs::prelude::*;
use serde::Deserialize;
use tokio::sync::broadcast::{self, error::RecvError};

use crate::{
    controllers::{
        console::session::Console,
        extract::{CurrentUser, API_KEY_HEADER},
    },
    errors::ApiResult,
    errors::{ApiError, ErrorBody},
    models::api_keys::{self, Scope},
    models::{outbox_envelopes, severity::Severity, users::Role},
    workers::dispatcher::{Delivered, Feed},
};

/// The most envelopes `?after=` replays; further behind, the client is told
/// to catch up through the API first.
pub const MAX_REPLAY: u64 = 10_000;
/// Close code for a client that fell too far behind the live feed.
pub const CLOSE_TOO_SLOW: u16 = 4008;
/// Close code when `?after=` is further behind than `MAX_REPLAY`.
pub const CLOSE_REPLAY_TOO_LONG: u16 = 4009;
/// Each session's read buffer (it grows for a larger incoming frame).
const FEED_READ_BUFFER: usize = 4 * 1024;
/// A send that takes longer than this means the client is not reading.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FeedParams {
    /// An access token (this route only; or send it as the
    /// `Sec-WebSocket-Protocol` value `bearer, <token>`).
    token: Option<String>,
    /// Only envelopes of alerts at or above this severity.
    min_severity: Option<String>,
    /// Replay the envelopes after this envelope id, then continue live.
    after: Option<String>,
    /// Also the envelopes of alerts a silence quiets (default false).
    include_suppressed: Option<bool>,
}

/// Whether the request's `Origin` names the host it was sent to.
fn same_origin(headers: &HeaderMap) -> bool {
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|v| v.to_str().ok());
    let origin = headers
        .get(axum::http::header::ORIGIN)
        .and_then(|v| v.to_str().ok());
    match (host, origin) {
        (Some(host), Some(origin)) => origin
            .strip_prefix("https://")
            .or_else(|| origin.strip_prefix("http://"))
            .is_some_and(|o| o.eq_ignore_ascii_case(host)),
        _ => false,
    }
}

/// The token from `?token=`, or from `Sec-WebSocket-Protocol: bearer, <token>`.
fn token(params: &FeedParams, headers: &HeaderMap) -> Option<String> {
    if let Some(t) = params.token.as_deref().filter(|t| !t.is_empty()) {
        return Some(t.to_string());
    }
    let protocols = headers
        .get(axum::http::header::SEC_WEBSOCKET_PROTOCOL)?
        .to_str()
        .ok()?;
    let mut parts = protocols.split(',').map(str::trim);
    match (parts.next(), parts.next()) {
        (Some(p), Some(t)) if p.eq_ignore_ascii_case("bearer") && !t.is_empty() => {
            Some(t.to_string())
        }
        _ => None,
    }
}

/// Live lifecycle envelopes, one JSON envelope per text message, a ping every
/// 30 s. A client that falls more than `feed_buffer` (4,096) envelopes behind is closed with
/// code 4008; it can reconnect with `?after=<last envelope id>`.
#[utoipa::path(get, path = "/ws/alerts", operation_id = "live_feed", tag = "live",
    params(FeedParams),
    responses(
        (status = 101, description = "Switching to the WebSocket protocol"),
        (status = 400, description = "Bad `min_severity` or `after`", body = ErrorBody),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 404, description = "`after` names no envelope", body = ErrorBody),
        (status = 426, description = "Not a WebSocket upgrade request", body = ErrorBody),
    ))]
#[debug_handler]
async fn alerts_feed(
    State(ctx): State<AppContext>,
    Query(params): Query<FeedParams>,
    headers: HeaderMap,
    granted: Option<axum::Extension<Arc<api_keys::Grant>>>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> ApiResult {
    let key = headers
        .get(API_KEY_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|_| params.token.is_none());
    let user = if let Some(key) = key {
        match CurrentUser::from_key(&ctx, key, granted.map(|axum::Extension(grant)| grant)).await {
            Ok(user) => user,
            Err(refused) => return Ok(refused),
        }
    } else if let Some(token) = token(&params, &headers) {
        CurrentUser::from_token(&ctx, &token).await?
    } else {
        // The console's session cookie, from a page of this origin only
        // (a WebSocket is not bound by the same-origin policy: another
        // site's page could open one with the user's cookie).
        let console = if same_origin(&headers) {
            Console::from_headers(&ctx, &headers).await?
        } else {
            None
        };
        let console = console.ok_or_else(|| {
            ApiError::unauthorized(
                "Authentication required: ?token=<access token>, Sec-WebSocket-Protocol: bearer, <token>, or X-API-Key",
            )
        })?;
        CurrentUser {
            user: console.user,
            key: None,
            audit: None,
        }
    };
    user.authorize(Role::Analyst, Scope::AlertsRead)?;
    let min = match params.min_severity.as_deref() {
        None => Severity::Low,
        Some(raw) => raw
            .parse::<Severity>()
            .map_err(|_| ApiError::field("min_severity", format!("Unknown severity `{raw}`.")))?,
    };
    let ws = ws.map_err(|_| {
        ApiError::new(
            axum::http::StatusCode::UPGRADE_REQUIRED,
            "websocket_required",
            "This route speaks WebSocket: send an upgrade request",
        )
    })?;
    let feed = Feed::get(&ctx)?;
    // Subscribe before reading the replay, so nothing falls between them.
    let live = feed.subscribe();
    let replay = match params.after.as_deref() {
        None => Replay::default(),
        Some(raw) => {
            let id = uuid::Uuid::parse_str(raw)
                .map_err(|_| ApiError::field("after", format!("`{raw}` is not an envelope id.")))?;
            let (anchor, rows) =
                outbox_envelopes::Model::after_envelope(&ctx.db, id, MAX_REPLAY + 1)
                    .await?
                    .ok_or_else(|| ApiError::not_found(format!("No envelope with id `{raw}`")))?;
            Replay {
                anchor: Some(anchor),
                rows: rows.iter().map(Delivered::from).collect(),
            }
        }
    };
    let ping = Duration::from_secs(crate::settings::Settings::get(&ctx).feed_ping_seconds);
    // Feed clients send only pings, pongs and the close frame. tungstenite
    // zeroes its whole read buffer before every read attempt, and each
    // session attempts one whenever it wakes to send: with the default
    // 128 KiB that memset cost CPU, resident memory and latency with many
    // clients (figures: README, live feed).
    let ws = ws.read_buffer_size(FEED_READ_BUFFER);
    let upgrade = if headers.contains_key(axum::http::header::SEC_WEBSOCKET_PROTOCOL) {
        ws.protocols(["bearer"])
    } else {
        ws
    };
    let filter = Filter {
        min,
        suppressed: params.include_suppressed.unwrap_or(false),
    };
    Ok(upgrade.on_upgrade(move |socket| session(socket, live, replay, filter, ping)))
}

async fn send(socket: &mut WebSocket, msg: Message) -> bool {
    matches!(
        tokio::time::timeout(SEND_TIMEOUT, socket.send(msg)).await,
        Ok(Ok(()))
    )
}

/// Envelopes written to the socket before one flush, at most: when several
/// are waiting, they leave in one write instead of one each.
const SEND_BATCH: usize = 64;

/// Sends `first` and whatever else is already waiting (up to `SEND_BATCH`),
/// then flushes once. `Err` carries the lag when the client fell behind.
async fn send_waiting(
    socket: &mut WebSocket,
    live: &mut broadcast::Receiver<Arc<Delivered>>,
    first: Arc<Delivered>,
    wanted: impl Fn(&Delivered) -> bool,
) -> Result<bool, u64> {
    let write = async {
        let mut next = Some(first);
        let mut queued = 0;
        while let Some(d) = next.take() {
            if wanted(&d) {
                if socket.feed(Message::Text(d.text.clone())).await.is_err() {
                    return Ok(false);
                }
                queued += 1;
            }
            if queued < SEND_BATCH {
                match live.try_recv() {
                    Ok(d) => next = Some(d),
                    Err(broadcast::error::TryRecvError::Lagged(missed)) => return Err(missed),
                    Err(_) => {}
                }
            }
        }
        Ok(socket.flush().await.is_ok())
    };
    tokio::time::timeout(SEND_TIMEOUT, write)
        .await
        .unwrap_or(Ok(false))
}

async fn close(socket: &mut WebSocket, code: u16, reason: &str) {
    let frame = CloseFrame {
        code,
        reason: reason.into(),
    };
    let _ = send(socket, Message::Close(Some(frame))).await;
}

/// What `?after=` sends first: the envelopes after the anchor. Live copies
/// of these, of the anchor and of anything before it are not sent again
/// (through Redis, an envelope the client saw can still be on its way when
/// the client reconnects).
#[derive(Default)]
struct Replay {
    anchor: Option<i64>,
    rows: Vec<Delivered>,
}

/// What a feed client asked to see.
#[derive(Debug, Clone, Copy)]
struct Filter {
    min: Severity,
    /// Envelopes of suppressed alerts too.
    suppressed: bool,
}

impl Filter {
    fn wants(self, d: &Delivered) -> bool {
        d.severity_rank >= self.min.rank() && (self.suppressed || !d.suppressed)
    }
}

/// Counts a feed client for `/metrics` while it is connected.
struct Connected;

impl Connected {
    fn new() -> Self {
        metrics::gauge!("vigil_feed_clients").increment(1);
        Self
    }
}

impl Drop for Connected {
    fn drop(&mut self) {
        metrics::gauge!("vigil_feed_clients").decrement(1);
    }
}

async fn session(
    mut socket: WebSocket,
    mut live: broadcast::Receiver<Arc<Delivered>>,
    replay: Replay,
    filter: Filter,
    ping_every: Duration,
) {
    let _connected = Connected::new();
    let Replay {
        anchor,
        rows: replay,
    } = replay;
    let anchor = anchor.unwrap_or(i64::MIN);
    if replay.len() as u64 > MAX_REPLAY {
        close(
            &mut socket,
            CLOSE_REPLAY_TOO_LONG,
            "more than 10000 envelopes missed: read /api/alerts, then reconnect",
        )
        .await;
        return;
    }
    let replayed: HashSet<i64> = replay.iter().map(|d| d.id).collect();
    for d in replay.into_iter().filter(|d| filter.wants(d)) {
        if !send(&mut socket, Message::Text(d.text)).await {
            return;
        }
    }
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + ping_every, ping_every);
    loop {
        tokio::select! {
            next = live.recv() => match next {
                Ok(d) => {
                    let wanted = |d: &Delivered| {
                        filter.wants(d) && d.id > anchor && !replayed.contains(&d.id)
                    };
                    match send_waiting(&mut socket, &mut live, d, wanted).await {
                        Ok(true) => {}
                        Ok(false) => return,
                        Err(missed) => {
                            let reason = format!("too slow: {missed} envelopes missed; reconnect with ?after=<last envelope id>");
                            close(&mut socket, CLOSE_TOO_SLOW, &reason).await;
                            return;
                        }
                    }
                }
                Err(RecvError::Lagged(missed)) => {
                    let reason = format!("too slow: {missed} envelopes missed; reconnect with ?after=<last envelope id>");
                    close(&mut socket, CLOSE_TOO_SLOW, &reason).await;
                    return;
                }
                Err(RecvError::Closed) => return,
            },
            _ = ping.tick() => {
                if !send(&mut socket, Message::Ping(Vec::new().into())).await {
                    return;
                }
            }
            incoming = socket.recv() => match incoming {
                None | Some(Err(_) | Ok(Message::Close(_))) => return,
                Some(Ok(_)) => {}
            },
        }
    }
}

pub fn routes() -> Routes {
    Routes::new().prefix("/ws").add("/alerts", get(alerts_feed))
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(alerts_feed))]
pub struct LiveApi;
