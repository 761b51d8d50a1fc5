//! Extractors shared by every controller: the JSON body, the authenticated
//! principal with its role guard, and page parameters.
use std::sync::Arc;

use axum::{
    body::Bytes,
    extract::{FromRequest, FromRequestParts, Request},
    http::{header, request::Parts, HeaderMap, StatusCode},
    response::IntoResponse,
};
use loco_rs::{controller::middleware::remote_ip::RemoteIP, prelude::*};
use serde::de::DeserializeOwned;

use crate::{
    errors::{ApiError, AppError, FieldErrors},
    models::api_keys::{self, Scope},
    models::listing::{Cursor, Listed, Window},
    models::users::{self, Role},
    settings::Settings,
    views::pagination::Page,
};

/// A JSON request body. Wrong content type → 415, malformed JSON → 400
/// `malformed_json`, a missing or mistyped field → 400 `validation_failed`
/// naming it, over 1 MiB → 413.
pub struct JsonBody<T>(pub T);

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| {
            let mime = mime.trim().to_ascii_lowercase();
            mime == "application/json"
                || (mime.starts_with("application/") && mime.ends_with("+json"))
        })
}

/// Parses JSON bytes into `T`, naming the field that failed.
///
/// # Errors
/// 400 `malformed_json` or `validation_failed`.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let parsed: Result<T, _> = serde_path_to_error::deserialize(&mut de);
    match parsed {
        Ok(value) => {
            de.end().map_err(|e| {
                ApiError::bad_request("malformed_json", format!("Malformed JSON: {e}"))
            })?;
            Ok(value)
        }
        Err(err) => {
            let path = err.path().to_string();
            let inner = err.into_inner();
            if inner.is_syntax() || inner.is_eof() {
                return Err(ApiError::bad_request(
                    "malformed_json",
                    format!("Malformed JSON: {inner}"),
                ));
            }
            let text = inner.to_string();
            // serde reports a missing field at the parent: name the field itself.
            let (field, message) = match text.split('`').nth(1) {
                Some(name) if text.starts_with("missing field") => {
                    let field = if path == "." {
                        name.to_string()
                    } else {
                        format!("{path}.{name}")
                    };
                    (field, "This field is required.".to_string())
                }
                _ if path == "." => ("body".to_string(), strip_position(&text)),
                _ => (path, strip_position(&text)),
            };
            Err(ApiError::field(&field, message))
        }
    }
}

fn strip_position(text: &str) -> String {
    text.split(" at line ").next().unwrap_or(text).to_string()
}

/// The body of a request whose content type passes `accepted`: 415 with
/// `wrong_type` otherwise, 413 with `too_large` over the body limit.
async fn read_body<S: Send + Sync>(
    req: Request,
    state: &S,
    accepted: fn(&HeaderMap) -> bool,
    wrong_type: &'static str,
    too_large: &'static str,
) -> Result<Bytes, ApiError> {
    if !accepted(req.headers()) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            wrong_type,
        ));
    }
    Bytes::from_request(req, state).await.map_err(|rej| {
        if rej.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(rej.status(), "payload_too_large", too_large)
        } else {
            ApiError::bad_request("bad_request", rej.body_text())
        }
    })
}

/// A JSON body's bytes: 415 unless the type is JSON, 413 over the limit.
async fn read_json<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    read_body(
        req,
        state,
        is_json,
        "The request body must be JSON (Content-Type: application/json)",
        "The request body is larger than the 1 MiB limit",
    )
    .await
}

impl<S, T> FromRequest<S> for JsonBody<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = read_json(req, state).await?;
        if crate::input::may_hold_nul(&bytes) {
            // A body that holds `\u0000` and cannot be read as a plain JSON
            // value (a number out of range in a field the typed parse would
            // ignore) is refused rather than left unchecked.
            let path = match serde_json::from_slice::<serde_json::Value>(&bytes) {
                Ok(value) => crate::input::nul_path(&value),
                Err(_) => Some("body".to_string()),
            };
            if let Some(path) = path {
                return Err(ApiError::field(&path, crate::input::NUL_MESSAGE).into());
            }
        }
        Ok(Self(parse_json(&bytes)?))
    }
}

/// A JSON body of items each checked on its own (`POST /api/events/batch`:
/// an item holding NUL is refused alone, its neighbours stored), otherwise
/// as [`JsonBody`].
pub struct JsonItems(pub serde_json::Value);

impl<S: Send + Sync> FromRequest<S> for JsonItems {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = read_json(req, state).await?;
        Ok(Self(parse_json(&bytes)?))
    }
}

/// A `text/plain` request body (any charset; bytes that are not UTF-8
/// become U+FFFD). Wrong content type → 415, over the body limit → 413.
pub struct TextBody(pub String);

fn is_text(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("text/plain"))
}

impl<S: Send + Sync> FromRequest<S> for TextBody {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = read_body(
            req,
            state,
            is_text,
            "The request body must be text/plain: one access-log line per request",
            "The request body is larger than the 1 MiB limit: send the log in parts, or read the file with `ingest_log`",
        )
        .await?;
        // NUL cannot be stored as text on PostgreSQL: it reads as U+FFFD,
        // as bytes that are not UTF-8 do, the same on both databases.
        Ok(Self(
            String::from_utf8_lossy(&bytes).replace('\0', "\u{FFFD}"),
        ))
    }
}

/// The authenticated principal, loaded from the database on every request so
/// a deactivated or demoted account, or a revoked key, loses its rights at
/// once: a user with an access token (`Authorization: Bearer`), or an API key
/// (`X-API-Key`, SPEC §1) acting for the admin who created it, limited to its
/// scopes (and, by `rate_limit::limit_api_keys`, to its requests per
/// minute).
pub struct CurrentUser {
    /// The signed-in user, or the owner of the API key.
    pub user: users::Model,
    /// The API key the request came with, if any.
    pub key: Option<api_keys::Model>,
    /// Where a refusal is audited: the database and the client address.
    pub audit: Option<(DatabaseConnection, Option<String>)>,
}

/// The `X-API-Key` header.
pub const API_KEY_HEADER: &str = "x-api-key";

fn rejection(err: impl Into<Error>) -> axum::response::Response {
    AppError(err.into()).into_response()
}

/// The session (`sid`) an access token names must still be live: logging
/// out, or a refresh token used twice, ends its access tokens at once.
async fn check_session(
    ctx: &AppContext,
    claims: &serde_json::Map<String, serde_json::Value>,
) -> Result<()> {
    let ended = || ApiError::unauthorized("This session has ended: log in again");
    let session = claims
        .get("sid")
        .and_then(serde_json::Value::as_str)
        .and_then(|s| uuid::Uuid::parse_str(s).ok())
        .ok_or_else(|| ApiError::unauthorized("The access token is invalid or expired"))?;
    if crate::models::refresh_tokens::Model::session_alive(&ctx.db, &ctx.cache, session).await? {
        Ok(())
    } else {
        Err(ended().into())
    }
}

/// The user a valid token names: 401 when there is none any more, but a
/// storage failure stays one (503), not a sign-out.
async fn token_user(ctx: &AppContext, pid: &str) -> Result<users::Model> {
    match users::Model::find_for_token(&ctx.db, &ctx.cache, pid).await {
        Ok(user) => Ok(user),
        Err(ModelError::EntityNotFound) => {
            Err(ApiError::unauthorized("The access token is invalid or expired").into())
        }
        Err(err) => Err(err.into()),
    }
}

impl FromRequestParts<AppContext> for CurrentUser {
    type Rejection = axum::response::Response;

    async fn from_request_parts(
        parts: &mut Parts,
        ctx: &AppContext,
    ) -> Result<Self, Self::Rejection> {
        if !parts.headers.contains_key(header::AUTHORIZATION) {
            if let Some(presented) = parts.headers.get(API_KEY_HEADER) {
                let presented = presented.to_str().unwrap_or_default().to_string();
                let granted = super::rate_limit::granted(&parts.extensions);
                let remote = RemoteIP::from_request_parts(parts, ctx)
                    .await
                    .unwrap_or(RemoteIP::None);
                let mut user = Self::from_key(ctx, &presented, granted).await?;
                user.audit = Some((ctx.db.clone(), address(&remote)));
                return Ok(user);
            }
        }
        let has_token = parts.headers.contains_key(header::AUTHORIZATION);
        let jwt = auth::JWT::from_request_parts(parts, ctx)
            .await
            .map_err(|_| {
                rejection(ApiError::unauthorized(if has_token {
                    "The access token is invalid or expired"
                } else {
                    "Authentication required: send Authorization: Bearer <access token> or X-API-Key: <key>"
                }))
            })?;
        check_session(ctx, &jwt.claims.claims)
            .await
            .map_err(rejection)?;
        let user = token_user(ctx, &jwt.claims.pid).await.map_err(rejection)?;
        if !user.is_active {
            return Err(rejection(ApiError::unauthorized(
                "This account is deactivated",
            )));
        }
        Ok(Self {
            user,
            key: None,
            audit: None,
        })
    }
}

impl CurrentUser {
    /// The key path: the key the rate-limit layer authenticated (and
    /// counted), or, without one, the key authenticated here.
    ///
    /// # Errors
    /// The 401 (or 503) response to send.
    pub async fn from_key(
        ctx: &AppContext,
        presented: &str,
        granted: Option<Arc<api_keys::Grant>>,
    ) -> Result<Self, axum::response::Response> {
        let grant = match granted {
            Some(grant) => Arc::unwrap_or_clone(grant),
            None => api_keys::Model::authenticate(&ctx.db, presented)
                .await
                .map_err(rejection)?,
        };
        Ok(Self {
            user: grant.owner,
            key: Some(grant.key),
            audit: None,
        })
    }

    /// The active user an access token names (for routes that take the
    /// token elsewhere than in `Authorization`, like the WebSocket feed).
    ///
    /// # Errors
    /// 401 for an invalid or expired token or a deactivated account.
    pub async fn from_token(ctx: &AppContext, token: &str) -> Result<Self> {
        let invalid = || ApiError::unauthorized("The access token is invalid or expired");
        let secret = &ctx.config.get_jwt_config()?.secret;
        let claims = loco_rs::auth::jwt::JWT::new(secret)
            .validate(token)
            .map_err(|_| invalid())?
            .claims;
        check_session(ctx, &claims.claims).await?;
        let user = token_user(ctx, &claims.pid).await?;
        if !user.is_active {
            return Err(ApiError::unauthorized("This account is deactivated").into());
        }
        Ok(Self {
            user,
            key: None,
            audit: None,
        })
    }

    /// The role guard for what only people do (accounts, keys, webhooks):
    /// 403 unless the user holds `role` (admins hold all); 403 for any API key.
    ///
    /// # Errors
    /// 403 `forbidden`.
    pub fn require_person(&self, role: Role) -> Result<&users::Model> {
        if self.key.is_some() {
            return Err(ApiError::forbidden(format!(
                "API keys cannot do this: it requires a signed-in user with the {role} role"
            ))
            .into());
        }
        if self.user.role() == role || self.user.role() == Role::Admin {
            Ok(&self.user)
        } else {
            Err(ApiError::forbidden(format!("This action requires the {role} role")).into())
        }
    }

    /// The guard for what people and keys both do: a user needs `role`, a key
    /// needs `scope`. Returns the acting user (a key's owner).
    ///
    /// # Errors
    /// 403 `forbidden`.
    pub fn authorize(&self, role: Role, scope: Scope) -> Result<&users::Model> {
        self.authorize_any(role, &[scope])
    }

    /// [`Self::authorize`] where any one of `scopes` will do for a key. A
    /// key refused is audited (once a minute per key and scopes).
    ///
    /// # Errors
    /// 403 `forbidden`.
    pub fn authorize_any(&self, role: Role, scopes: &[Scope]) -> Result<&users::Model> {
        match &self.key {
            Some(key) if scopes.iter().any(|s| key.has(*s)) => Ok(&self.user),
            Some(key) => {
                let wanted: Vec<&str> = scopes.iter().map(|s| s.as_str()).collect();
                if let Some((db, address)) = &self.audit {
                    crate::models::audit::note(
                        db,
                        self.by_address(address.clone()),
                        crate::models::audit::Entry::new(
                            "api_key.refused_scope",
                            key.pid.to_string(),
                        )
                        .after(serde_json::json!({"scope": wanted.join(" or "), "key": key.name})),
                        Some(&format!("scope:{}:{}", key.pid, wanted.join(","))),
                    );
                }
                let named: Vec<String> = wanted.iter().map(|s| format!("`{s}`")).collect();
                Err(ApiError::forbidden(format!(
                    "This API key lacks the {} scope",
                    named.join(" or ")
                ))
                .into())
            }
            None => self.require_person(role),
        }
    }

    /// Whether the caller may read alerts (a person, or a key with
    /// `alerts:read`).
    #[must_use]
    pub fn reads_alerts(&self) -> bool {
        self.key.as_ref().is_none_or(|k| k.has(Scope::AlertsRead))
    }

    /// The name history records: the user, or `owner (API key name)`.
    #[must_use]
    pub fn actor_name(&self) -> String {
        match &self.key {
            Some(key) => format!("{} (API key {})", self.user.username, key.name),
            None => self.user.username.clone(),
        }
    }

    /// Who acts, for the audit log, from the client address `remote`.
    #[must_use]
    pub fn by(&self, remote: &RemoteIP) -> crate::models::audit::By {
        self.by_address(address(remote))
    }

    fn by_address(&self, address: Option<String>) -> crate::models::audit::By {
        crate::models::audit::By::new(self.actor_name(), address)
    }

    /// Who a request acts as, for idempotency keys: the API key or the user.
    #[must_use]
    pub fn principal_id(&self) -> String {
        self.key.as_ref().map_or_else(
            || self.user.pid.to_string(),
            |key| format!("key:{}", key.pid),
        )
    }
}

/// The client address as the audit log records it.
#[must_use]
pub fn address(remote: &RemoteIP) -> Option<String> {
    match remote {
        RemoteIP::Forwarded(ip) | RemoteIP::Socket(ip) => Some(ip.to_string()),
        RemoteIP::None => None,
    }
}

pub const DEFAULT_PAGE_SIZE: u64 = 10;
pub const MAX_PAGE_SIZE: u64 = 500;

/// `page` and `page_size` (SPEC §5), plus what absolute links need.
pub struct PageParams {
    pub page: u64,
    pub page_size: u64,
    /// `Some` in keyset mode (`cursor=` present; empty for the first page).
    pub cursor: Option<String>,
    base: String,
    query: Vec<(String, String)>,
}

fn parse_positive(
    query: &[(String, String)],
    name: &str,
    default: u64,
    max: u64,
    errors: &mut FieldErrors,
) -> u64 {
    let Some((_, raw)) = query.iter().rev().find(|(k, _)| k == name) else {
        return default;
    };
    match raw.parse::<u64>() {
        Ok(n) if (1..=max).contains(&n) => n,
        _ => {
            errors.insert(
                name.to_string(),
                vec![format!(
                    "Must be a whole number from 1 to {max}, got `{raw}`."
                )],
            );
            default
        }
    }
}

impl PageParams {
    /// Every value of the query parameter `name`, in order.
    #[must_use]
    pub fn values(&self, name: &str) -> Vec<String> {
        self.query
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// 400 naming the first query parameter that is not `page`,
    /// `page_size` or one of `known`.
    ///
    /// # Errors
    /// 400 `validation_error`.
    pub fn only(&self, known: &[&str]) -> Result<(), ApiError> {
        let unknown = self.query.iter().find(|(k, _)| {
            !["page", "page_size"].contains(&k.as_str()) && !known.contains(&k.as_str())
        });
        match unknown {
            Some((k, _)) => Err(ApiError::field(
                k,
                format!(
                    "Unknown parameter. This list takes: page, page_size, {}.",
                    known.join(", ")
                ),
            )),
            None => Ok(()),
        }
    }
}

impl FromRequestParts<AppContext> for PageParams {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        ctx: &AppContext,
    ) -> Result<Self, Self::Rejection> {
        let query: Vec<(String, String)> = parts.uri.query().map(url_pairs).unwrap_or_default();
        let mut errors = FieldErrors::new();
        let page = parse_positive(&query, "page", 1, u64::from(u32::MAX), &mut errors);
        let page_size = parse_positive(
            &query,
            "page_size",
            DEFAULT_PAGE_SIZE,
            MAX_PAGE_SIZE,
            &mut errors,
        );
        let cursor = query
            .iter()
            .rev()
            .find(|(k, _)| k == "cursor")
            .map(|(_, v)| v.clone());
        if cursor.is_some() && query.iter().any(|(k, _)| k == "page") {
            errors.insert(
                "cursor".to_string(),
                vec!["Use `page` or `cursor`, not both.".to_string()],
            );
        }
        if !errors.is_empty() {
            return Err(ApiError::validation(errors).into());
        }
        let origin = link_origin(&Settings::get(ctx), &parts.headers);
        Ok(Self {
            page,
            page_size,
            cursor,
            base: format!("{origin}{}", parts.uri.path()),
            query,
        })
    }
}

/// Where absolute links point: `public_url`, else the request's `Host` if
/// the operator listed it in `allowed_hosts` (with `X-Forwarded-Proto`'s
/// scheme), else nowhere: links are then relative. A forged `Host` never
/// ends up in a link another client follows.
fn link_origin(settings: &Settings, headers: &HeaderMap) -> String {
    if !settings.public_url.is_empty() {
        return settings.public_url.trim_end_matches('/').to_string();
    }
    let Some(host) = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_ascii_lowercase)
    else {
        return String::new();
    };
    let name = host.rsplit_once(':').map_or(host.as_str(), |(name, port)| {
        if port.bytes().all(|b| b.is_ascii_digit()) {
            name
        } else {
            host.as_str()
        }
    });
    let allowed = settings.allowed_hosts.iter().any(|entry| {
        let entry = entry.to_ascii_lowercase();
        entry == host || entry == name
    });
    if !allowed {
        return String::new();
    }
    let scheme = headers
        .get("x-forwarded-proto")
        .and_then(|h| h.to_str().ok())
        .filter(|s| *s == "https" || *s == "http")
        .unwrap_or("http");
    format!("{scheme}://{host}")
}

/// The decoded query pairs of a request (a `\0` in a name or value is a
/// 400 naming it).
pub struct QueryPairs(pub Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for QueryPairs {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let pairs = parts.uri.query().map(url_pairs).unwrap_or_default();
        let mut fields = FieldErrors::new();
        for (name, value) in &pairs {
            if name.contains('\0') || value.contains('\0') {
                fields.insert(
                    name.replace('\0', "\\u0000"),
                    vec![crate::input::NUL_MESSAGE.to_string()],
                );
            }
        }
        if !fields.is_empty() {
            return Err(ApiError::validation(fields).into());
        }
        Ok(Self(pairs))
    }
}

/// A list's query parameters read into its declared parameter struct
/// (`views::alerts::AlertFilters`): each name with every value given for it,
/// so a repeated parameter is an OR of its values. (axum's `Query` reads
/// with `serde_urlencoded`, which refuses a repeated name.)
pub struct ListParams<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ListParams<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let QueryPairs(pairs) = QueryPairs::from_request_parts(parts, state).await?;
        Ok(Self(list_params(pairs)?))
    }
}

/// A list's declared parameters read from query pairs, each name with every
/// value given for it (see [`ListParams`]).
///
/// # Errors
/// 400 `bad_request` when the pairs do not fit `T`.
pub fn list_params<T: DeserializeOwned>(pairs: Vec<(String, String)>) -> Result<T, ApiError> {
    let mut named = serde_json::Map::new();
    for (name, value) in pairs {
        if let serde_json::Value::Array(values) = named
            .entry(name)
            .or_insert_with(|| serde_json::Value::Array(Vec::new()))
        {
            values.push(value.into());
        }
    }
    serde_json::from_value(serde_json::Value::Object(named))
        .map_err(|err| ApiError::bad_request("bad_request", err.to_string()))
}

/// The request id (Loco's `x-request-id`), used as the correlation id of the
/// lifecycle envelopes a request causes.
pub struct CorrelationId(pub String);

impl<S: Send + Sync> FromRequestParts<S> for CorrelationId {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let id = parts
            .extensions
            .get::<loco_rs::controller::middleware::request_id::LocoRequestId>()
            .map_or_else(|| uuid::Uuid::new_v4().to_string(), |r| r.get().to_string());
        Ok(Self(id))
    }
}

/// The decoded pairs of a query string, in order (`+` is a space; a
/// broken escape is kept as it is; bytes that are not UTF-8 become U+FFFD).
fn url_pairs(q: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(q.as_bytes()).into_owned().collect()
}

impl PageParams {
    fn link_with(&self, name: &str, value: &str) -> String {
        let mut query = form_urlencoded::Serializer::new(String::new());
        for (k, v) in self.query.iter().filter(|(k, _)| k != name) {
            query.append_pair(k, v);
        }
        query.append_pair(name, value);
        format!("{}?{}", self.base, query.finish())
    }

    fn link(&self, page: u64) -> String {
        self.link_with("page", &page.to_string())
    }

    /// The slice of the list this request asks for.
    ///
    /// # Errors
    /// 400 naming `cursor` when the token was not made here.
    pub fn window(&self) -> Result<Window> {
        match self.cursor.as_deref() {
            None => Ok(Window::Page {
                page: self.page,
                size: self.page_size,
            }),
            Some("") => Ok(Window::After {
                cursor: None,
                size: self.page_size,
            }),
            Some(token) => Cursor::decode(token)
                .map(|c| Window::After {
                    cursor: Some(c),
                    size: self.page_size,
                })
                .map_err(|e| ApiError::field("cursor", e).into()),
        }
    }

    /// Renders a slice as the API's page: DRF-style links in page mode, a
    /// `cursor` link to the next slice in keyset mode.
    pub fn render<M, T>(&self, listed: Listed<M>) -> Page<T>
    where
        T: utoipa::ToSchema + for<'a> From<&'a M>,
    {
        let results = listed.rows.iter().map(T::from).collect();
        match listed.count {
            Some(count) => self.page(results, count),
            None => Page {
                count: None,
                next: listed.next.map(|c| self.link_with("cursor", &c.encode())),
                previous: None,
                results,
            },
        }
    }

    /// For lists kept short enough to page by number only (users, API keys,
    /// webhooks): 400 naming `cursor` when one is sent.
    ///
    /// # Errors
    /// 400 `validation_failed`.
    pub fn numbered_only(&self, what: &str) -> Result<(), ApiError> {
        if self.cursor.is_some() {
            return Err(ApiError::field(
                "cursor",
                format!("{what} are listed by page number only (page, page_size)."),
            ));
        }
        Ok(())
    }

    /// Wraps one page of results with the total and the neighbour links.
    #[must_use]
    pub fn page<T: utoipa::ToSchema>(&self, results: Vec<T>, count: u64) -> Page<T> {
        let last = count.div_ceil(self.page_size).max(1);
        Page {
            count: Some(count),
            next: (self.page < last).then(|| self.link(self.page + 1)),
            previous: (self.page > 1).then(|| self.link((self.page - 1).min(last))),
            results,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_query_pairs() {
        assert_eq!(
            url_pairs("search=a%20b+c&x=%ZZ&page=2"),
            vec![
                ("search".to_string(), "a b c".to_string()),
                ("x".to_string(), "%ZZ".to_string()),
                ("page".to_string(), "2".to_string()),
            ]
        );
    }

    #[test]
    fn names_missing_field() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct P {
            a: String,
        }
        let err = parse_json::<P>(b"{}").unwrap_err();
        assert_eq!(err.code, "validation_failed");
        assert!(err.fields.unwrap().contains_key("a"));
        let err = parse_json::<P>(b"{\"a\":").unwrap_err();
        assert_eq!(err.code, "malformed_json");
        let err = parse_json::<P>(b"{\"a\":5}").unwrap_err();
        assert!(err.fields.unwrap().contains_key("a"));
    }
}
