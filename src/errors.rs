//! The one error shape of the API: `{"error", "message", "fields"?}`.
//!
//! Handlers return [`ApiResult`] and build failures with [`ApiError`];
//! [`AppError`] renders every failure a handler or extractor returns, with
//! its status, its log level (a client's mistake at INFO, a server fault at
//! ERROR) and, for storage that refuses writes, 503 `storage_unavailable`
//! with `Retry-After`. [`envelope`] gives the framework's own rejections
//! (unknown routes, wrong methods, oversized bodies) the same shape.
use std::collections::BTreeMap;

use axum::{
    body::{to_bytes, Body},
    http::{header, HeaderValue, Method, StatusCode},
    response::{IntoResponse, Response},
};
use loco_rs::{controller::ErrorDetail, model::ModelError};
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

/// Field name → human messages, as sent in `fields`.
pub type FieldErrors = BTreeMap<String, Vec<String>>;

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
#[derive(Debug)]
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

impl From<ApiError> for loco_rs::Error {
    fn from(err: ApiError) -> Self {
        let errors = err
            .fields
            .map(|f| serde_json::to_value(f).unwrap_or(Value::Null));
        Self::CustomError(
            err.status,
            ErrorDetail {
                error: Some(err.code.to_string()),
                description: Some(err.message),
                errors,
            },
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(self.body())).into_response()
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

/// The status and wire body of `err`.
fn classify(err: &loco_rs::Error) -> (StatusCode, ErrorBody) {
    use loco_rs::Error as E;
    let simple = |status: StatusCode, code: &str, message: &str| {
        (
            status,
            ErrorBody {
                error: code.to_string(),
                message: message.to_string(),
                fields: None,
            },
        )
    };
    match err {
        E::WithBacktrace { inner, .. } => classify(inner),
        E::CustomError(status, detail) => {
            let fields = detail.errors.as_ref().and_then(fields_from);
            let code = detail
                .error
                .as_deref()
                .filter(|c| is_machine_code(c))
                .unwrap_or_else(|| default_code(*status));
            let message = detail.description.clone().unwrap_or_else(|| {
                status
                    .canonical_reason()
                    .unwrap_or("Request failed")
                    .to_string()
            });
            (
                *status,
                ErrorBody {
                    error: code.to_string(),
                    message,
                    fields,
                },
            )
        }
        E::NotFound | E::Model(ModelError::EntityNotFound) => {
            simple(StatusCode::NOT_FOUND, "not_found", "Resource was not found")
        }
        E::Unauthorized(_) => simple(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Authentication required",
        ),
        E::Model(ModelError::EntityAlreadyExists) => {
            simple(StatusCode::CONFLICT, "conflict", "Resource already exists")
        }
        E::BadRequest(message) => simple(StatusCode::BAD_REQUEST, "bad_request", message),
        _ if db_error(err).is_some_and(crate::db::storage::is_unavailable) => {
            let e = storage_unavailable();
            (e.status, e.body())
        }
        _ => simple(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_server_error",
            "Internal server error",
        ),
    }
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

fn is_machine_code(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
}

/// Turns Loco's `errors` (validator output or our own field map) into `fields`.
fn fields_from(errors: &Value) -> Option<FieldErrors> {
    let obj = errors.as_object()?;
    let mut fields = FieldErrors::new();
    for (name, v) in obj {
        let messages = v
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .map(|item| match item {
                        Value::String(s) => s.clone(),
                        Value::Object(o) => o
                            .get("message")
                            .and_then(Value::as_str)
                            .or_else(|| o.get("code").and_then(Value::as_str))
                            .unwrap_or("invalid")
                            .to_string(),
                        other => other.to_string(),
                    })
                    .collect()
            })
            .unwrap_or_else(|| vec![v.to_string()]);
        fields.insert(name.clone(), messages);
    }
    Some(fields)
}

/// Rewrites one error response body into [`ErrorBody`].
fn rewrite(status: StatusCode, method: &Method, path: &str, bytes: &[u8]) -> ErrorBody {
    let parsed: Option<Map<String, Value>> = serde_json::from_slice(bytes).ok();
    let text = std::str::from_utf8(bytes).unwrap_or("").trim();
    let Some(obj) = parsed else {
        // axum's plain-text rejections (query strings, paths) name the problem:
        // keep their text as the message.
        let message = if text.is_empty() || text.starts_with('<') {
            default_message(status, method, path)
        } else {
            text.to_string()
        };
        return ErrorBody {
            error: default_code(status).to_string(),
            message,
            fields: None,
        };
    };
    let code = obj
        .get("error")
        .and_then(Value::as_str)
        .filter(|c| is_machine_code(c))
        .unwrap_or_else(|| default_code(status))
        .to_string();
    let fields = obj.get("errors").and_then(fields_from);
    let code = if fields.is_some() && code == "bad_request" {
        "validation_failed".to_string()
    } else {
        code
    };
    let message = obj.get("description").and_then(Value::as_str).map_or_else(
        || match &fields {
            Some(f) => format!(
                "Invalid fields: {}",
                f.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
            None => default_message(status, method, path),
        },
        ToString::to_string,
    );
    ErrorBody {
        error: code,
        message,
        fields,
    }
}

fn is_envelope(bytes: &[u8]) -> bool {
    serde_json::from_slice::<Map<String, Value>>(bytes).is_ok_and(|o| {
        o.get("error").is_some_and(Value::is_string)
            && o.get("message").is_some_and(Value::is_string)
    })
}

/// A response extension: this error response's body is a documented shape
/// of its own (the health probe's), to be left as it is.
#[derive(Clone, Copy)]
pub struct OwnBody;

/// Middleware: every 4xx/5xx response leaves in the [`ErrorBody`] shape.
pub async fn envelope(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let response = next.run(req).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error())
        || response.extensions().get::<OwnBody>().is_some()
    {
        return response;
    }
    // A WebSocket upgrade or a streamed body never carries an error this large.
    let (mut parts, body) = response.into_parts();
    let bytes = to_bytes(body, 256 * 1024).await.unwrap_or_default();
    if is_envelope(&bytes) {
        return Response::from_parts(parts, Body::from(bytes));
    }
    let body = rewrite(status, &method, &path, &bytes);
    let json = serde_json::to_vec(&body).unwrap_or_default();
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
    fn rewrites_loco_detail() {
        let body = rewrite(
            StatusCode::CONFLICT,
            &Method::POST,
            "/x",
            br#"{"error":"conflict","description":"Resource already exists"}"#,
        );
        assert_eq!(body.error, "conflict");
        assert_eq!(body.message, "Resource already exists");
    }

    #[test]
    fn rewrites_empty_405() {
        let body = rewrite(
            StatusCode::METHOD_NOT_ALLOWED,
            &Method::DELETE,
            "/api/x",
            b"",
        );
        assert_eq!(body.error, "method_not_allowed");
        assert_eq!(body.message, "Method DELETE is not allowed on /api/x");
    }

    #[test]
    fn keeps_plain_text_reason() {
        let body = rewrite(
            StatusCode::BAD_REQUEST,
            &Method::GET,
            "/api/users",
            b"Failed to deserialize query string: page: invalid digit",
        );
        assert_eq!(body.error, "bad_request");
        assert!(body.message.contains("page"));
    }

    #[test]
    fn maps_validator_errors_to_fields() {
        let body = rewrite(
            StatusCode::BAD_REQUEST,
            &Method::POST,
            "/x",
            br#"{"errors":{"email":[{"code":"email","message":"invalid email","params":{}}]}}"#,
        );
        assert_eq!(body.error, "validation_failed");
        assert_eq!(
            body.fields.unwrap().get("email").unwrap(),
            &vec!["invalid email".to_string()]
        );
    }
}
