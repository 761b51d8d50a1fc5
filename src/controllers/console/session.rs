//! Console sign-in. The session is an `HttpOnly`, `SameSite=Strict` cookie
//! holding a refresh token of its own login (never handed to scripts) and
//! the role it began with; every request reads its row and the account, so
//! a sign-out, a deactivation or a change of role ends the session at the
//! next request. Every form
//! carries a CSRF token bound to the session: an HMAC of the session id
//! under the server's secret, checked before anything changes.
use axum::{
    extract::{FromRequest, FromRequestParts, Request},
    http::{header, request::Parts, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use axum_extra::extract::cookie::CookieJar;
use hmac::{Hmac, Mac};
use loco_rs::{controller::middleware::remote_ip::RemoteIP, prelude::*};
use sha2::Sha256;
use uuid::Uuid;

use super::{error_page, page, see_other, Form, Page, PageError};
use crate::{
    controllers::auth::{check_credentials, SignIn},
    digest::same_secret,
    errors::ApiError,
    models::{refresh_tokens, users},
    settings::Settings,
    views::console::pages::{Layout, LoginPage, Who},
};

/// The session cookie.
pub const SESSION_COOKIE: &str = "vigil_session";
/// The sign-in form's CSRF cookie (before there is a session).
pub const LOGIN_COOKIE: &str = "vigil_login";

/// The signed-in console user.
pub struct Console {
    pub user: users::Model,
    /// The session (the refresh-token family behind the cookie).
    pub session: Uuid,
    /// The CSRF token this session's forms carry.
    pub csrf: String,
}

/// HMAC-SHA256 of `purpose:value` under the server's JWT secret, hex.
fn mac(ctx: &AppContext, purpose: &str, value: &str) -> Result<String> {
    let secret = &ctx.config.get_jwt_config()?.secret;
    let mut m = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
        .map_err(|e| Error::string(&e.to_string()))?;
    m.update(purpose.as_bytes());
    m.update(b":");
    m.update(value.as_bytes());
    Ok(hex::encode(m.finalize().into_bytes()))
}

/// Where a sign-in may send the browser back to: a console path, nothing
/// else (never another site, never `//host`).
fn safe_next(next: &str) -> String {
    let ok = (next == "/console" || next.starts_with("/console/") || next.starts_with("/console?"))
        && !next.contains("//")
        && !next.contains('\\')
        && next.len() <= 2048
        && next.bytes().all(|b| b.is_ascii_graphic());
    if ok {
        next.to_string()
    } else {
        "/console".to_string()
    }
}

/// The answer to a request without a live session: the sign-in page,
/// returning to this page afterwards (htmx follows `HX-Redirect`).
fn sign_in_first(parts: &Parts) -> Response {
    let back = if parts.method == axum::http::Method::GET {
        parts
            .uri
            .path_and_query()
            .map_or("/console", |pq| pq.as_str())
    } else {
        "/console"
    };
    let mut to = String::from("/console/login?");
    to.push_str(
        &form_urlencoded::Serializer::new(String::new())
            .append_pair("next", &safe_next(back))
            .finish(),
    );
    let mut response = if parts.headers.contains_key("hx-request") {
        let mut r = StatusCode::UNAUTHORIZED.into_response();
        if let Ok(v) = HeaderValue::from_str(&to) {
            r.headers_mut().insert("hx-redirect", v);
        }
        r.extensions_mut().insert(crate::errors::OwnBody);
        r
    } else {
        see_other(&to)
    };
    // A dead cookie is dropped.
    if CookieJar::from_headers(&parts.headers)
        .get(SESSION_COOKIE)
        .is_some()
    {
        set_cookie(&mut response, &cookie(SESSION_COOKIE, "", 0, false));
    }
    response
}

impl Console {
    /// The session behind a request's cookie, if it is live.
    ///
    /// # Errors
    /// Database errors.
    pub async fn from_headers(ctx: &AppContext, headers: &HeaderMap) -> Result<Option<Self>> {
        let jar = CookieJar::from_headers(headers);
        let Some(value) = jar.get(SESSION_COOKIE).map(|c| c.value().to_string()) else {
            return Ok(None);
        };
        let Some((token, role)) = value.rsplit_once('.') else {
            return Ok(None);
        };
        let Some((session, user)) =
            refresh_tokens::Model::console_session(&ctx.db, &ctx.cache, token).await?
        else {
            return Ok(None);
        };
        // A session is for the role it began with: a demoted (or promoted)
        // user signs in again. The role in the cookie grants nothing (the
        // role is read from the account); it only says when to end.
        if role != user.role().as_str() {
            refresh_tokens::Model::revoke_family(&ctx.db, &ctx.cache, session).await?;
            tracing::info!(user = %user.pid, "console session ended: the role changed");
            return Ok(None);
        }
        let csrf = mac(ctx, "console-csrf", &session.to_string())?;
        Ok(Some(Self {
            user,
            session,
            csrf,
        }))
    }

    /// The frame every page of this user shares.
    #[must_use]
    pub fn layout(&self, title: &str, nav: &'static str) -> Layout {
        Layout {
            title: title.to_string(),
            nav,
            who: Some(Who::from(&self.user)),
            csrf: self.csrf.clone(),
        }
    }

    /// Refuses a form without this session's CSRF token (in the `csrf`
    /// field or the `X-CSRF-Token` header): 403, before anything changes.
    ///
    /// # Errors
    /// 403.
    fn check_csrf(&self, form: &Form, headers: &HeaderMap) -> Result<(), PageError> {
        let presented = form
            .get("csrf")
            .or_else(|| headers.get("x-csrf-token").and_then(|v| v.to_str().ok()));
        match presented {
            Some(token) if same_secret(token, &self.csrf) => Ok(()),
            _ => {
                tracing::warn!(user = %self.user.pid, "console form refused: missing or wrong CSRF token");
                Err(ApiError::forbidden(
                    "This form has expired or did not come from this console: reload the page and try again.",
                )
                .into())
            }
        }
    }

    /// Refuses an analyst what only admins do: 403.
    ///
    /// # Errors
    /// 403.
    pub fn require_admin(&self) -> Result<(), PageError> {
        if self.user.is_admin() {
            Ok(())
        } else {
            tracing::info!(user = %self.user.pid, "console: admin action refused to an analyst");
            Err(ApiError::forbidden("This requires the ADMIN role.").into())
        }
    }
}

/// A form posted by a signed-in console user, its CSRF token checked (in
/// the `csrf` field or the `X-CSRF-Token` header) before the handler runs:
/// every console handler that changes something takes its form this way,
/// so none can forget the check.
pub struct Posted {
    pub console: Console,
    pub form: Form,
    /// Who posted, for the audit log: the user and the client address.
    pub by: crate::models::audit::By,
}

impl FromRequest<AppContext> for Posted {
    type Rejection = Response;

    async fn from_request(req: Request, ctx: &AppContext) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let console = Console::from_request_parts(&mut parts, ctx).await?;
        let remote = <loco_rs::controller::middleware::remote_ip::RemoteIP as FromRequestParts<
            AppContext,
        >>::from_request_parts(&mut parts, ctx)
        .await
        .unwrap_or(loco_rs::controller::middleware::remote_ip::RemoteIP::None);
        let by = crate::models::audit::By::new(
            console.user.username.clone(),
            crate::controllers::extract::address(&remote),
        );
        let headers = parts.headers.clone();
        let form = Form::from_request(Request::from_parts(parts, body), ctx).await?;
        console
            .check_csrf(&form, &headers)
            .map_err(IntoResponse::into_response)?;
        Ok(Self { console, form, by })
    }
}

impl FromRequestParts<AppContext> for Console {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, ctx: &AppContext) -> Result<Self, Response> {
        match Self::from_headers(ctx, &parts.headers).await {
            Ok(Some(console)) => Ok(console),
            Ok(None) => Err(sign_in_first(parts)),
            Err(err) => Err(PageError(err).into_response()),
        }
    }
}

/// A `Set-Cookie` value: host-only, for the whole site (the live feed at
/// `/ws/alerts` reads it too), never readable by scripts, never sent with a
/// request another site starts. Values are ours (letters and digits).
fn cookie(name: &str, value: &str, max_age: i64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{name}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}")
}

fn set_cookie(response: &mut Response, c: &str) {
    if let Ok(v) = HeaderValue::from_str(c) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
}

#[derive(serde::Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
}

fn login_form(
    ctx: &AppContext,
    next: &str,
    login: &str,
    error: Option<String>,
    status: StatusCode,
) -> Page {
    let nonce = loco_rs::hash::random_string(32);
    let csrf = mac(ctx, "console-login", &nonce)?;
    let mut response = page(
        "login.html",
        &LoginPage {
            layout: Layout {
                title: "Sign in".into(),
                nav: "",
                who: None,
                csrf,
            },
            next: safe_next(next),
            login: login.to_string(),
            error,
        },
    )?;
    *response.status_mut() = status;
    let secure = Settings::get(ctx).console.secure_cookie;
    set_cookie(&mut response, &cookie(LOGIN_COOKIE, &nonce, 3600, secure));
    response.extensions_mut().insert(crate::errors::OwnBody);
    Ok(response)
}

/// `GET /console/login`: the sign-in form (a signed-in user goes on).
pub async fn login_page(
    State(ctx): State<AppContext>,
    Query(q): Query<LoginQuery>,
    headers: HeaderMap,
) -> Page {
    let next = safe_next(q.next.as_deref().unwrap_or("/console"));
    if Console::from_headers(&ctx, &headers).await?.is_some() {
        return Ok(see_other(&next));
    }
    login_form(&ctx, &next, "", None, StatusCode::OK)
}

/// `POST /console/login`: checks the account as `POST /api/auth/login`
/// does (same throttle), then starts a session: a refresh token of a new
/// login, in the cookie.
pub async fn login(
    State(ctx): State<AppContext>,
    remote: RemoteIP,
    headers: HeaderMap,
    form: Form,
) -> Page {
    let next = safe_next(form.get("next").unwrap_or("/console"));
    let login = form.get("login").unwrap_or_default().trim().to_string();
    let password = form.get("password").unwrap_or_default();
    // The form's token must match the nonce cookie it was issued with.
    let nonce = CookieJar::from_headers(&headers)
        .get(LOGIN_COOKIE)
        .map(|c| c.value().to_string())
        .unwrap_or_default();
    let expected = mac(&ctx, "console-login", &nonce)?;
    if nonce.is_empty() || !form.get("csrf").is_some_and(|t| same_secret(t, &expected)) {
        return Ok(error_page(
            StatusCode::FORBIDDEN,
            "This sign-in form has expired or did not come from this console: reload the page and try again.",
            None,
        ));
    }
    if login.is_empty() || password.is_empty() {
        return login_form(
            &ctx,
            &next,
            &login,
            Some("Enter your username or email and your password.".into()),
            StatusCode::BAD_REQUEST,
        );
    }
    if login.chars().count() > 254 || password.chars().count() > 1024 {
        return login_form(
            &ctx,
            &next,
            "",
            Some("Username, email or password too long.".into()),
            StatusCode::BAD_REQUEST,
        );
    }
    let user = match check_credentials(&ctx, &remote, &login, password).await? {
        SignIn::Granted(user) => user,
        SignIn::Throttled { retry_after } => {
            let mut response = login_form(
                &ctx,
                &next,
                &login,
                Some(format!(
                    "Too many failed sign-ins: try again in {retry_after} s."
                )),
                StatusCode::TOO_MANY_REQUESTS,
            )?;
            if let Ok(v) = HeaderValue::from_str(&retry_after.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, v);
            }
            return Ok(response);
        }
        SignIn::Refused => {
            return login_form(
                &ctx,
                &next,
                &login,
                Some("Invalid username/email or password.".into()),
                StatusCode::UNAUTHORIZED,
            );
        }
    };
    let settings = Settings::get(&ctx);
    let ttl = settings.refresh_token_ttl_seconds;
    let (token, _) = refresh_tokens::Model::issue(&ctx.db, &user, None, ttl).await?;
    tracing::info!(user = %user.pid, "signed in to the console");
    let mut response = see_other(&next);
    let secure = settings.console.secure_cookie;
    let value = format!("{token}.{}", user.role().as_str());
    set_cookie(&mut response, &cookie(SESSION_COOKIE, &value, ttl, secure));
    set_cookie(&mut response, &cookie(LOGIN_COOKIE, "", 0, secure));
    Ok(response)
}

/// `POST /console/logout`: ends the session (its refresh-token family is
/// revoked) and drops the cookie.
pub async fn logout(State(ctx): State<AppContext>, Posted { console, .. }: Posted) -> Page {
    refresh_tokens::Model::revoke_family(&ctx.db, &ctx.cache, console.session).await?;
    tracing::info!(user = %console.user.pid, "signed out of the console");
    let mut response = see_other("/console/login");
    let secure = Settings::get(&ctx).console.secure_cookie;
    set_cookie(&mut response, &cookie(SESSION_COOKIE, "", 0, secure));
    response
        .headers_mut()
        .insert("clear-site-data", HeaderValue::from_static("\"cache\""));
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_console_paths_are_returned_to() {
        assert_eq!(
            safe_next("/console/alerts?status=OPEN"),
            "/console/alerts?status=OPEN"
        );
        assert_eq!(safe_next("/console"), "/console");
        for bad in [
            "https://evil.example/",
            "//evil.example",
            "/console//evil.example",
            "/consolex",
            "/api/users",
            "/console/\\evil",
            "javascript:alert(1)",
            "/console/a b",
        ] {
            assert_eq!(safe_next(bad), "/console", "{bad}");
        }
    }
}
