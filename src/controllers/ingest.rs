//! `POST /api/ingest/nginx`: an access-log upload, scored by the detection
//! rules; detections of MEDIUM and above become events (SPEC §7).
use axum::extract::{FromRequest, Request};
use loco_rs::prelude::*;

use crate::{
    controllers::extract::{CorrelationId, CurrentUser, QueryPairs, TextBody},
    errors::ApiResult,
    errors::{ApiError, ErrorBody, FieldErrors},
    ingestion::{
        log_stream::{self, LogIngest},
        writer::IngestWriter,
    },
    models::{api_keys::Scope, users::Role},
    settings::Settings,
    views::ingest::LogIngestResponse,
};

/// Score an access log (nginx or Apache `combined`, one line per request)
/// and store its detections of MEDIUM and above as events, through the
/// same path as `POST /api/events` (alerts, dedup, history, outbox). LOW
/// detections are counted; malformed lines are counted and the first ten
/// reported. Rate windows (RATE_ANOMALY, HIGH_ERROR_RATE, BRUTE_FORCE) span
/// one upload.
#[utoipa::path(post, path = "/api/ingest/nginx", operation_id = "ingest_access_log", tag = "detection",
    security(("bearer" = []), ("api_key" = ["events:write"])),
    params(("source" = String, Query,
        description = "The log's name: the `source` of the events it causes (1 to 255 characters)")),
    request_body(content = String, content_type = "text/plain",
        description = "Access-log lines, nginx or Apache `combined` format, at most 1 MiB"),
    responses(
        (status = 200, description = "The upload's counts", body = LogIngestResponse),
        (status = 400, description = "`source` missing or invalid, or an unknown parameter", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Role below ANALYST", body = ErrorBody),
        (status = 413, description = "Body over 1 MiB", body = ErrorBody),
        (status = 415, description = "Body is not text/plain", body = ErrorBody),
    ))]
#[debug_handler]
async fn ingest_nginx(
    user: CurrentUser,
    State(ctx): State<AppContext>,
    CorrelationId(cid): CorrelationId,
    QueryPairs(pairs): QueryPairs,
    req: Request,
) -> ApiResult {
    user.authorize(Role::Analyst, Scope::EventsWrite)?;
    let mut fields = FieldErrors::new();
    for (name, _) in &pairs {
        if name != "source" {
            fields.insert(name.clone(), vec!["Unknown parameter.".to_string()]);
        }
    }
    let source = match pairs.iter().rev().find(|(k, _)| k == "source") {
        Some((_, value)) => log_stream::check_source(value)
            .map_err(|m| {
                fields.insert("source".to_string(), vec![m]);
            })
            .ok(),
        None => {
            fields.insert(
                "source".to_string(),
                vec!["This parameter is required: source=NAME names the log.".to_string()],
            );
            None
        }
    };
    let Some(source) = source.filter(|_| fields.is_empty()) else {
        return Err(ApiError::validation(fields).into());
    };
    let TextBody(text) = TextBody::from_request(req, &ctx).await?;
    let stream = LogIngest::new(
        log_stream::rules(&ctx)?,
        &Settings::get(&ctx).detection,
        source,
    );
    let writer = IngestWriter::get(&ctx)?;
    let (counts, errors) = stream.ingest_text(&writer, &text, &cid).await?;
    Ok(format::json(LogIngestResponse::new(counts, &errors))?)
}

pub fn routes() -> Routes {
    Routes::new()
        .prefix("/api/ingest")
        .add("/nginx", post(ingest_nginx))
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(ingest_nginx))]
pub struct IngestApi;
