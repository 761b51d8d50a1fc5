//! The one error shape of the API: `{"error", "message", "fields"?}`, and
//! the one place that chooses a status code.
//!
//! Models refuse with domain errors (`models::Invalid`, `models::NotFound`,
//! `alerts::ChangeError`, `api_keys::Refused`, …) that know nothing of HTTP;
//! [`answer_for`] maps each to its status and code. Handlers return
//! [`ApiResult`] and build their own refusals with [`ApiError`]; [`AppError`]
//! renders every failure, with its log level (a client's mistake at INFO, a
//! server fault at ERROR) and, for storage that refuses writes, 503
//! `storage_unavailable` with `Retry-After`. [`envelope`] gives only the
//! framework's own rejections (unknown routes, wrong methods, oversized or
//! mistyped bodies), which never pass through here, the same shape.
use axum::{
    body::{to_bytes, Body},
    http::{header, HeaderValue, Method, StatusCode},
    response::{IntoResponse, Response},
};
use loco_rs::model::ModelError;
use serde::Serialize;
use utoipa::ToSchema;

pub use crate::models::FieldErrors;
use crate::models::{
    alerts::ChangeError, api_keys::Refused, idempotency_keys::Reused, refresh_tokens::Rejected,
    users::AccountError, Invalid, NotFound,
};

/// The body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Machine-readable code, e.g. `validation_failed`, `forbidden`.
    #[schema(example = "validation_failed")]
    pub error: String,
    /// Human-readable explanation.
    #[schema(example = "The request has invalid fields")]
    pub message: String,
    /// Per-field messages, present for validation failures.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<std::collections::HashMap<String, Vec<String>>>, example = json!({"password": ["Must be at least 10 characters (and at most 1024)."]}))]
    pub fields: Option<FieldErrors>,
}

/// An error the API answers with: a status, a machine code and a message.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub fields: Option<FieldErrors>,
}

impl ApiError {
    #[must_use]
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            fields: None,
        }
    }

    #[must_use]
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    #[must_use]
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    #[must_use]
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    #[must_use]
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    #[must_use]
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    /// A 400 `validation_failed` listing every invalid field.
    #[must_use]
    pub fn validation(fields: FieldErrors) -> Self {
        let names: Vec<&str> = fields.keys().map(String::as_str).collect();
        let message = format!("Invalid fields: {}", names.join(", "));
        Self::new(StatusCode::BAD_REQUEST, "validation_failed", message).with_fields(fields)
    }

    /// A 400 `validation_failed` for one field.
    #[must_use]
    pub fn field(name: &str, message: impl Into<String>) -> Self {
        let mut fields = FieldErrors::new();
        fields.insert(name.to_string(), vec![message.into()]);
        Self::validation(fields)
    }

    #[must_use]
    pub fn with_fields(mut self, fields: FieldErrors) -> Self {
        self.fields = Some(fields);
        self
    }

    /// The refusal as a sentence a page shows: the message, or each
    /// field with its messages (`severity: Unknown severity…; colour: …`).
    #[must_use]
    pub fn in_words(&self) -> String {
        self.fields
            .as_ref()
            .map_or_else(|| self.message.clone(), in_words)
    }

    /// The wire body of this error.
    #[must_use]
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: self.code.to_string(),
            message: self.message.clone(),
            fields: self.fields.clone(),
        }
    }
}

/// Field errors as one sentence: `name: message; other: message`.
#[must_use]
pub fn in_words(fields: &FieldErrors) -> String {
    fields
        .iter()
        .map(|(k, v)| format!("{k}: {}", v.join(" ")))
        .collect::<Vec<_>>()
        .join("; ")
}

impl From<ApiError> for loco_rs::Error {
    fn from(err: ApiError) -> Self {
        Self::Any(Box::new(err))
    }
}

/// A response extension: this error body was rendered here, in the
/// [`ErrorBody`] shape, and [`envelope`] leaves it alone.
#[derive(Clone, Copy)]
struct Rendered;

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, axum::Json(self.body())).into_response();
        response.extensions_mut().insert(Rendered);
        response
    }
}

/// What handlers and extractors fail with: any Loco error (database
/// errors included) or an [`ApiError`], rendered by [`IntoResponse`] here.
#[derive(Debug)]
pub struct AppError(pub loco_rs::Error);

/// A handler's result.
pub type ApiResult<T = Response> = std::result::Result<T, AppError>;

impl<E: Into<loco_rs::Error>> From<E> for AppError {
    fn from(err: E) -> Self {
        Self(err.into())
    }
}

impl AppError {
    /// The status this error answers with.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        classify(&self.0).0
    }
}

/// The database error inside `err`, if it is one.
#[must_use]
pub fn db_error(err: &loco_rs::Error) -> Option<&sea_orm::DbErr> {
    match err {
        loco_rs::Error::DB(db) | loco_rs::Error::Model(ModelError::DbErr(db)) => Some(db),
        loco_rs::Error::WithBacktrace { inner, .. } => db_error(inner),
        _ => None,
    }
}

/// 503 `storage_unavailable`: the storage refuses writes for now.
#[must_use]
pub fn storage_unavailable() -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "storage_unavailable",
        "Storage is not accepting writes right now; nothing was stored: retry later",
    )
}

/// What the API answers for a domain error: the only place a model's
/// refusal gets a status code.
fn refusal(err: &(dyn std::error::Error + 'static)) -> Option<ApiError> {
    use StatusCode as S;
    let message = err.to_string();
    let api = if let Some(api) = err.downcast_ref::<ApiError>() {
        api.clone()
    } else if let Some(Invalid(fields)) = err.downcast_ref() {
        ApiError::validation(fields.clone())
    } else if err.is::<NotFound>() {
        ApiError::not_found(message)
    } else if let Some(change) = err.downcast_ref::<ChangeError>() {
        let code = match change {
            ChangeError::InvalidTransition { .. } | ChangeError::ChangedMeanwhile => {
                "invalid_transition"
            }
            ChangeError::FingerprintReopened => "fingerprint_reopened",
        };
        ApiError::conflict(code, message)
    } else if let Some(account) = err.downcast_ref::<AccountError>() {
        match account {
            AccountError::Duplicate { field } => ApiError::conflict("duplicate", &message)
                .with_fields(FieldErrors::from([(field.to_string(), vec![message])])),
            AccountError::LastAdmin => ApiError::conflict("last_admin", message),
        }
    } else if let Some(silence) = err.downcast_ref::<crate::models::silences::SilenceError>() {
        let code = match silence {
            crate::models::silences::SilenceError::Expired => "silence_expired",
            crate::models::silences::SilenceError::AlertClosed => "alert_closed",
        };
        ApiError::conflict(code, message)
    } else if err.is::<Refused>() || err.is::<Rejected>() {
        ApiError::unauthorized(message)
    } else if err.is::<Reused>() {
        ApiError::new(S::UNPROCESSABLE_ENTITY, "idempotency_key_reused", message)
    } else {
        return None;
    };
    Some(api)
}

/// The refusal `err` answers with; `None` for a server fault (500).
#[must_use]
pub fn answer_for(err: &loco_rs::Error) -> Option<ApiError> {
    use loco_rs::Error as E;
    match err {
        E::WithBacktrace { inner, .. } => answer_for(inner),
        E::Any(inner) => refusal(inner.as_ref()),
        // Loco's own refusals.
        E::CustomError(status, detail) => Some(ApiError::new(
            *status,
            default_code(*status),
            detail.description.clone().unwrap_or_else(|| {
                status
                    .canonical_reason()
                    .unwrap_or("Request failed")
                    .to_string()
            }),
        )),
        E::NotFound | E::Model(ModelError::EntityNotFound) => {
            Some(ApiError::not_found("Resource was not found"))
        }
        E::Unauthorized(_) => Some(ApiError::unauthorized("Authentication required")),
        E::Model(ModelError::EntityAlreadyExists) => {
            Some(ApiError::conflict("conflict", "Resource already exists"))
        }
        E::BadRequest(message) => Some(ApiError::bad_request("bad_request", message)),
        _ if db_error(err).is_some_and(crate::db::storage::is_unavailable) => {
            Some(storage_unavailable())
        }
        _ => None,
    }
}

/// The status and wire body of `err`.
fn classify(err: &loco_rs::Error) -> (StatusCode, ErrorBody) {
    answer_for(err).map_or_else(
        || {
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                ErrorBody {
                    error: "internal_server_error".to_string(),
                    message: "Internal server error".to_string(),
                    fields: None,
                },
            )
        },
        |api| (api.status, api.body()),
    )
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, body) = classify(&self.0);
        if status.is_server_error() {
            if status == StatusCode::SERVICE_UNAVAILABLE {
                tracing::warn!(error = %self.0, code = %body.error, "storage refused the request");
            } else {
                tracing::error!(error = %self.0, details = ?self.0, "request failed");
            }
        } else {
            // A client's mistake: worth a line, not an alarm.
            tracing::info!(status = status.as_u16(), code = %body.error, "request refused");
        }
        let mut response = (status, axum::Json(body)).into_response();
        response.extensions_mut().insert(Rendered);
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from(crate::db::storage::RETRY_AFTER_SECONDS),
            );
        }
        response
    }
}

/// Runs `validator` rules, reporting every invalid field at once.
///
/// # Errors
/// 400 `validation_failed`.
pub fn validate<T: validator::Validate>(value: &T) -> Result<(), ApiError> {
    value
        .validate()
        .map_err(|errors| ApiError::validation(validation_fields(&errors)))
}

/// Collects `validator` errors into `fields`, every field at once.
#[must_use]
pub fn validation_fields(errors: &validator::ValidationErrors) -> FieldErrors {
    let mut fields = FieldErrors::new();
    for (name, errs) in errors.field_errors() {
        let messages = errs
            .iter()
            .map(|e| {
                e.message
                    .as_ref()
                    .map_or_else(|| e.code.to_string(), ToString::to_string)
            })
            .collect();
        fields.insert(name.to_string(), messages);
    }
    fields
}

fn default_code(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "bad_request",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "not_found",
        405 => "method_not_allowed",
        408 => "request_timeout",
        409 => "conflict",
        413 => "payload_too_large",
        415 => "unsupported_media_type",
        422 => "unprocessable_entity",
        429 => "too_many_requests",
        503 => "service_unavailable",
        s if s >= 500 => "internal_server_error",
        _ => "error",
    }
}

fn default_message(status: StatusCode, method: &Method, path: &str) -> String {
    match status.as_u16() {
        404 => format!("No resource at {method} {path}"),
        405 => format!("Method {method} is not allowed on {path}"),
        413 => "The request body is larger than the 1 MiB limit".to_string(),
        415 => "The request body must be JSON (Content-Type: application/json)".to_string(),
        408 => "The request took too long".to_string(),
        _ => status
            .canonical_reason()
            .unwrap_or("Request failed")
            .to_string(),
    }
}

/// The body of a framework rejection: its status's code, and its text when
/// it is plain text naming the problem (axum's query and path rejections).
fn rejection(status: StatusCode, method: &Method, path: &str, bytes: &[u8]) -> ErrorBody {
    let text = std::str::from_utf8(bytes).unwrap_or("").trim();
    let message = if text.is_empty() || text.starts_with(['<', '{', '[']) {
        default_message(status, method, path)
    } else {
        text.to_string()
    };
    ErrorBody {
        error: default_code(status).to_string(),
        message,
        fields: None,
    }
}

/// A response extension: this error response's body is a documented shape
/// of its own (the health probe's), to be left as it is.
#[derive(Clone, Copy)]
pub struct OwnBody;

/// Middleware: the framework's own 4xx/5xx rejections (no route, wrong
/// method, a body over the limit, a timeout, a query or path axum could not
/// read) leave in the [`ErrorBody`] shape. Vigil's own errors are rendered
/// in that shape already and pass untouched.
pub async fn envelope(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let response = next.run(req).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error())
        || response.extensions().get::<Rendered>().is_some()
        || response.extensions().get::<OwnBody>().is_some()
    {
        return response;
    }
    // The framework's rejections are a line of text at most.
    let (mut parts, body) = response.into_parts();
    let bytes = to_bytes(body, 64 * 1024).await.unwrap_or_default();
    let json = serde_json::to_vec(&rejection(status, &method, &path, &bytes)).unwrap_or_default();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Response::from_parts(parts, Body::from(json))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_405_names_method_and_path() {
        let body = rejection(
            StatusCode::METHOD_NOT_ALLOWED,
            &Method::DELETE,
            "/api/x",
            b"",
        );
        assert_eq!(body.error, "method_not_allowed");
        assert_eq!(body.message, "Method DELETE is not allowed on /api/x");
    }

    #[test]
    fn a_plain_text_reason_is_kept() {
        let body = rejection(
            StatusCode::BAD_REQUEST,
            &Method::GET,
            "/api/users",
            b"Failed to deserialize query string: page: invalid digit",
        );
        assert_eq!(body.error, "bad_request");
        assert!(body.message.contains("page"));
    }

    #[test]
    fn a_json_or_html_body_is_not_read() {
        let body = rejection(
            StatusCode::NOT_FOUND,
            &Method::GET,
            "/nope",
            br#"{"error":"x","description":"y"}"#,
        );
        assert_eq!(
            (body.error.as_str(), body.message.as_str()),
            ("not_found", "No resource at GET /nope")
        );
    }

    #[test]
    fn domain_errors_get_their_status_here() {
        let cases: Vec<(loco_rs::Error, u16, &str)> = vec![
            (
                Invalid::field("note", "bad").into(),
                400,
                "validation_failed",
            ),
            (NotFound::new("alert", "x").into(), 404, "not_found"),
            (
                ChangeError::ChangedMeanwhile.into(),
                409,
                "invalid_transition",
            ),
            (
                ChangeError::FingerprintReopened.into(),
                409,
                "fingerprint_reopened",
            ),
            (AccountError::LastAdmin.into(), 409, "last_admin"),
            (
                AccountError::Duplicate { field: "email" }.into(),
                409,
                "duplicate",
            ),
            (Refused::Expired.into(), 401, "unauthorized"),
            (Rejected.into(), 401, "unauthorized"),
            (Reused.into(), 422, "idempotency_key_reused"),
            (ApiError::forbidden("no").into(), 403, "forbidden"),
        ];
        for (err, status, code) in cases {
            let api = answer_for(&err).expect("a refusal");
            assert_eq!((api.status.as_u16(), api.code), (status, code), "{err}");
        }
        let dup = answer_for(&AccountError::Duplicate { field: "email" }.into()).unwrap();
        assert_eq!(dup.message, "A user with this email already exists.");
        assert!(dup.fields.unwrap().contains_key("email"));
        assert!(answer_for(&loco_rs::Error::string("boom")).is_none());
    }
}
