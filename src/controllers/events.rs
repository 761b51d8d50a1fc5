//! Event ingestion (single and batch) and event listing.
use axum::http::HeaderMap;
use chrono::Utc;
use loco_rs::prelude::*;
use serde_json::Value;

use crate::{
    controllers::extract::{
        CorrelationId, CurrentUser, JsonBody, JsonItems, ListParams, PageParams,
    },
    errors::ApiResult,
    errors::{ApiError, ErrorBody},
    ingestion::writer::IngestWriter,
    models::api_keys::Scope,
    models::{
        events,
        idempotency_keys::{IdempotentRequest, StoredAnswer},
        listing,
        new_event::NewEvent,
        users::Role,
    },
    views::{
        events::{
            BatchResponse, EventFilters, EventResponse, IngestAnswer, IngestResponse, RefusedItem,
        },
        filters::ListFilters,
        pagination::Page,
    },
};

pub const MAX_BATCH: usize = 1_000;

fn respond(answer: StoredAnswer) -> ApiResult {
    Response::builder()
        .status(answer.status)
        .header(axum::http::header::CONTENT_TYPE, "application/json")
        .body(axum::body::Body::from(answer.body))
        .map_err(|e| Error::string(&e.to_string()).into())
}

/// The `Idempotency-Key` of a request, tied to its principal and canonical body.
fn idempotency(
    headers: &HeaderMap,
    principal: &str,
    body: &Value,
) -> Result<Option<IdempotentRequest>> {
    let Some(raw) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let key = raw
        .to_str()
        .ok()
        .map(str::trim)
        .filter(|k| !k.is_empty() && k.len() <= 255)
        .ok_or_else(|| {
            ApiError::bad_request(
                "invalid_idempotency_key",
                "Idempotency-Key must be 1 to 255 visible ASCII characters",
            )
        })?;
    let canonical = serde_json::to_vec(body).unwrap_or_default();
    Ok(Some(IdempotentRequest::new(principal, key, &canonical)))
}

/// Ingest one event. HIGH and CRITICAL events (the configurable threshold)
/// create an alert or join the open alert with the same fingerprint.
#[utoipa::path(post, path = "/api/events", operation_id = "create_event", tag = "events",
    security(("bearer" = []), ("api_key" = ["events:write"])),
    request_body(content = crate::models::new_event::EventInput, description = "The event"),
    params(("Idempotency-Key" = Option<String>, Header,
        description = "A retry with the same key and body returns the first answer and stores nothing")),
    responses(
        (status = 201, description = "Stored, with the alert it created or joined", body = IngestResponse),
        (status = 400, description = "Invalid fields (all reported at once) or malformed JSON", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 413, description = "Body over 1 MiB", body = ErrorBody),
        (status = 415, description = "Body is not JSON", body = ErrorBody),
        (status = 422, description = "Idempotency-Key reused with another body", body = ErrorBody),
    ))]
#[debug_handler]
async fn create(
    user: CurrentUser,
    State(ctx): State<AppContext>,
    CorrelationId(cid): CorrelationId,
    headers: HeaderMap,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult {
    user.authorize(Role::Analyst, Scope::EventsWrite)?;
    let event = NewEvent::parse(&body, Utc::now()).map_err(ApiError::validation)?;
    let idem = idempotency(&headers, &user.principal_id(), &body)?;
    let stored = IngestWriter::get(&ctx)?
        .submit_request(&ctx.db, vec![event], &cid, idem, IngestAnswer::Event)
        .await?;
    respond(stored)
}

/// Ingest up to 1,000 events in one transaction. Valid items are stored even
/// when others fail; each item answers with its index and status.
#[utoipa::path(post, path = "/api/events/batch", operation_id = "create_events_batch", tag = "events",
    security(("bearer" = []), ("api_key" = ["events:write"])),
    request_body(content = crate::models::new_event::BatchInput, description = "`{\"events\": [...]}`"),
    responses(
        (status = 201, description = "Every item stored", body = BatchResponse),
        (status = 207, description = "Some items refused: see each item's status and errors", body = BatchResponse),
        (status = 400, description = "Not a batch, or more than 1,000 items", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
    ))]
#[debug_handler]
async fn batch(
    user: CurrentUser,
    State(ctx): State<AppContext>,
    CorrelationId(cid): CorrelationId,
    headers: HeaderMap,
    JsonItems(body): JsonItems,
) -> ApiResult {
    user.authorize(Role::Analyst, Scope::EventsWrite)?;
    let Some(count) = body.get("events").and_then(Value::as_array).map(Vec::len) else {
        return Err(ApiError::field("events", "Send {\"events\": [ ... ]}.").into());
    };
    if count > MAX_BATCH {
        return Err(ApiError::field(
            "events",
            format!("At most {MAX_BATCH} events per batch (got {count})."),
        )
        .into());
    }
    let idem = idempotency(&headers, &user.principal_id(), &body)?;
    // The parsed body is freed item by item as the events are parsed, not
    // held while the writer stores them (memory under concurrent batches).
    let items = match body {
        Value::Object(mut fields) => match fields.remove("events") {
            Some(Value::Array(items)) => items,
            _ => Vec::new(),
        },
        _ => Vec::new(),
    };
    let now = Utc::now();
    let mut valid = Vec::with_capacity(items.len());
    let mut refused = Vec::new();
    let mut stored_at = Vec::with_capacity(items.len());
    for (index, item) in items.into_iter().enumerate() {
        match NewEvent::parse(&item, now) {
            Ok(e) => {
                valid.push(e);
                stored_at.push(index);
            }
            Err(errors) => refused.push(RefusedItem { index, errors }),
        }
    }
    let answer = IngestAnswer::Batch { stored_at, refused };
    let stored = IngestWriter::get(&ctx)?
        .submit_request(&ctx.db, valid, &cid, idem, answer)
        .await?;
    respond(stored)
}

/// List events, newest first, with the filters of SPEC §5.
#[utoipa::path(get, path = "/api/events", operation_id = "list_events", tag = "events",
    security(("bearer" = []), ("api_key" = ["alerts:read"])),
    params(crate::views::events::EventFilters, crate::views::filters::Paging),
    responses(
        (status = 200, description = "A page of events", body = Page<EventResponse>),
        (status = 400, description = "Unknown parameter, filter value or ordering", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
    ))]
#[debug_handler]
async fn list(
    user: CurrentUser,
    State(ctx): State<AppContext>,
    ListParams(params): ListParams<EventFilters>,
    page: PageParams,
) -> ApiResult {
    user.authorize(Role::Analyst, Scope::AlertsRead)?;
    let q = params.query().map_err(ApiError::validation)?;
    let window = page.window()?;
    window
        .check_cursor(q.ordering)
        .map_err(ApiError::validation)?;
    let mut listed = listing::list::<events::Entity>(&ctx.db, &q, &window).await?;
    listed.next = listed.next.map(|c| c.for_ordering(q.ordering));
    Ok(format::json(page.render::<_, EventResponse>(listed))?)
}

/// Read one event.
#[utoipa::path(get, path = "/api/events/{id}", operation_id = "show_event", tag = "events",
    security(("bearer" = []), ("api_key" = ["alerts:read"])),
    params(("id" = String, Path, description = "Event id (UUID)")),
    responses(
        (status = 200, description = "The event", body = EventResponse),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 404, description = "No such event", body = ErrorBody),
    ))]
#[debug_handler]
async fn show(
    user: CurrentUser,
    State(ctx): State<AppContext>,
    Path(id): Path<String>,
) -> ApiResult {
    user.authorize(Role::Analyst, Scope::AlertsRead)?;
    let event = events::Model::find_by_pid(&ctx.db, &id).await?;
    Ok(format::json(EventResponse::from(&event))?)
}

pub fn routes() -> Routes {
    Routes::new()
        .prefix("/api/events")
        .add("/", get(list).post(create))
        .add("/batch", post(batch))
        .add("/{id}", get(show))
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(create, batch, list, show))]
pub struct EventsApi;
