//! The console: server-rendered pages for analysts and admins under
//! `/console`, signed in with a session cookie (`session.rs`), on the same
//! models as the JSON API. Templates and static files: `views::console`.
pub mod admin;
pub mod alerts;
pub mod events;
pub mod lists;
pub mod operations;
pub mod overview;
pub mod session;
pub mod upload;

use axum::{
    body::{Body, Bytes},
    extract::{FromRequest, Request},
    http::{header, HeaderValue, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
};
use loco_rs::prelude::*;

use crate::{
    errors::{answer_for, OwnBody},
    views::console::{
        self as html, assets,
        pages::{ErrorPage, Layout},
    },
};

/// The console's security headers: scripts, styles and connections only
/// from this origin (no inline script), never framed, no referrer, no
/// MIME sniffing, and pages never kept in a cache (so the back button after
/// a sign-out shows nothing).
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

fn is_console(path: &str) -> bool {
    path == "/" || path == "/console" || path.starts_with("/console/")
}

/// Middleware for `/` and `/console/…`: the security headers on every
/// answer, and the framework's own refusals (unknown page, wrong method,
/// body too large, wrong content type) as HTML error pages.
pub async fn frame(req: Request, next: Next) -> Response {
    if !is_console(req.uri().path()) {
        return next.run(req).await;
    }
    let request_id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let mut response = next.run(req).await;
    let status = response.status();
    if (status.is_client_error() || status.is_server_error())
        && response.extensions().get::<OwnBody>().is_none()
    {
        let message = match status {
            StatusCode::NOT_FOUND => "There is no such page.",
            StatusCode::METHOD_NOT_ALLOWED => "This page does not accept that request.",
            StatusCode::PAYLOAD_TOO_LARGE => "What you sent is over the 1 MiB limit.",
            StatusCode::UNSUPPORTED_MEDIA_TYPE => "Send this form from the console's page.",
            _ => "The request could not be handled.",
        };
        response = error_page(status, message, request_id);
    }
    let headers = response.headers_mut();
    for (name, value) in [
        ("content-security-policy", CSP),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "no-referrer"),
        ("x-content-type-options", "nosniff"),
        ("cross-origin-opener-policy", "same-origin"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

fn heading(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "Bad request",
        401 => "Sign in first",
        403 => "Forbidden",
        404 => "Not found",
        409 => "Conflict",
        413 => "Too large",
        429 => "Too many requests",
        503 => "Unavailable",
        s if s >= 500 => "Something went wrong",
        _ => "Refused",
    }
}

/// An HTML error page: the message is shown escaped, a 5xx never shows
/// what failed (the log has it, under the request id).
#[must_use]
pub fn error_page(status: StatusCode, message: &str, request_id: Option<String>) -> Response {
    let page = ErrorPage {
        layout: Layout {
            title: heading(status).to_string(),
            nav: "",
            who: None,
            csrf: String::new(),
        },
        status: status.as_u16(),
        heading: heading(status).to_string(),
        message: message.to_string(),
        request_id,
    };
    let body = html::render("error.html", &page).unwrap_or_else(|err| {
        tracing::error!(error = %err, "the error page failed to render");
        format!("{} {}", status.as_u16(), heading(status)).into_bytes()
    });
    let mut response = (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        body,
    )
        .into_response();
    response.extensions_mut().insert(OwnBody);
    if status == StatusCode::SERVICE_UNAVAILABLE {
        response.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from(crate::db::storage::RETRY_AFTER_SECONDS),
        );
    }
    response
}

/// A console handler's failure, shown as an HTML error page.
#[derive(Debug)]
pub struct PageError(pub loco_rs::Error);

impl<E: Into<loco_rs::Error>> From<E> for PageError {
    fn from(err: E) -> Self {
        Self(err.into())
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        match answer_for(&self.0) {
            Some(refused) if refused.status != StatusCode::INTERNAL_SERVER_ERROR => {
                if refused.status.is_server_error() {
                    tracing::warn!(error = %self.0, "storage refused a console request");
                } else {
                    tracing::info!(
                        status = refused.status.as_u16(),
                        code = refused.code,
                        "console request refused"
                    );
                }
                error_page(refused.status, &refused.in_words(), None)
            }
            _ => {
                tracing::error!(error = %self.0, details = ?self.0, "console request failed");
                error_page(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Vigil could not show this page. The failure is logged; try again, or tell an admin.",
                    None,
                )
            }
        }
    }
}

/// A console handler's result.
pub type Page = std::result::Result<Response, PageError>;

/// An HTML page with status 200.
///
/// # Errors
/// A template failure (500).
pub fn page<T: serde::Serialize>(template: &str, data: &T) -> Page {
    let body = html::render(template, data)?;
    let mut response = ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response();
    // A page set to a 4xx status (a form shown again with its error) is
    // the answer, not a framework rejection to replace.
    response.extensions_mut().insert(OwnBody);
    Ok(response)
}

/// `303 See Other` to `to` (after a form, so reloading does not post again).
#[must_use]
pub fn see_other(to: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(to) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

/// A submitted form (`application/x-www-form-urlencoded`): every pair in
/// order, so a repeated name (checkboxes) keeps all its values.
pub struct Form(pub Vec<(String, String)>);

impl Form {
    /// The last value of `name`, if any.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `name`, in order.
    #[must_use]
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

impl<S: Send + Sync> FromRequest<S> for Form {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let form = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|m| {
                m.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            });
        if !form {
            return Err(error_page(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Send this form from the console's page.",
                None,
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|_| {
            error_page(
                StatusCode::PAYLOAD_TOO_LARGE,
                "What you sent is over the 1 MiB limit.",
                None,
            )
        })?;
        Ok(Self(form_urlencoded::parse(&bytes).into_owned().collect()))
    }
}

/// `GET /console/assets/{file}`: a static file by its content-hashed name,
/// gzip-compressed when the client takes it, cacheable for a year.
async fn asset(Path(file): Path<String>, headers: axum::http::HeaderMap) -> Response {
    let Some(asset) = assets::find(&file) else {
        return error_page(StatusCode::NOT_FOUND, "There is no such file.", None);
    };
    let gzip = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|e| e.trim().starts_with("gzip")));
    let body = if gzip {
        Body::from(asset.gzip.clone())
    } else {
        Body::from(asset.body)
    };
    let mut response = Response::new(body);
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    if gzip {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    response
}

/// `GET /`: a browser goes to the console.
async fn root() -> Response {
    see_other("/console")
}

/// Any other `/console/…` path: the HTML 404.
async fn unknown() -> Response {
    error_page(StatusCode::NOT_FOUND, "There is no such page.", None)
}

pub fn routes() -> Routes {
    Routes::new()
        .add("/", get(root))
        .add("/console/assets/{file}", get(asset))
        .add(
            "/console/login",
            get(session::login_page).post(session::login),
        )
        .add("/console/logout", post(session::logout))
        .add("/console", get(overview::overview))
        .add("/console/alerts", get(alerts::alerts))
        .add("/console/alerts/bulk", post(alerts::bulk))
        .add("/console/alerts/{id}", get(alerts::alert))
        .add("/console/alerts/{id}/status", post(alerts::change_status))
        .add("/console/alerts/{id}/notes", post(alerts::add_note))
        .add("/console/alerts/{id}/edit", post(alerts::edit))
        .add("/console/events", get(events::events))
        .add("/console/events/{id}", get(events::event))
        .add(
            "/console/upload",
            get(upload::upload_page).post(upload::upload),
        )
        .add("/console/admin/users", get(admin::users))
        .add("/console/admin/users/{id}", post(admin::change_user))
        .add(
            "/console/admin/keys",
            get(admin::keys).post(admin::create_key),
        )
        .add("/console/admin/keys/{id}/revoke", post(admin::revoke_key))
        .add(
            "/console/admin/webhooks",
            get(admin::webhooks).post(admin::create_webhook),
        )
        .add("/console/admin/webhooks/{id}", get(admin::webhook))
        .add(
            "/console/admin/webhooks/{id}/enabled",
            post(admin::toggle_webhook),
        )
        .add(
            "/console/admin/silences",
            get(operations::silences).post(operations::create_silence),
        )
        .add(
            "/console/admin/silences/{id}/expire",
            post(operations::expire_silence),
        )
        .add(
            "/console/alerts/{id}/silence",
            post(operations::silence_alert),
        )
        .add(
            "/console/admin/allowlist",
            get(operations::allowlist).post(operations::add_allowlist),
        )
        .add(
            "/console/admin/allowlist/{id}/delete",
            post(operations::delete_allowlist),
        )
        .add("/console/admin/audit", get(operations::audit_log))
        .add("/console/{*rest}", get(unknown))
}
