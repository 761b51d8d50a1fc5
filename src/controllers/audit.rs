//! The audit log (admins): who did what, from where, before → after.
use loco_rs::prelude::*;

use crate::{
    controllers::extract::{CurrentUser, PageParams},
    errors::{ApiError, ApiResult, ErrorBody},
    models::{
        audit::{self, AuditQuery},
        users::Role,
    },
    views::{audit::AuditEntry, pagination::Page},
};

/// The audit log, newest first. Filters: `action`, `actor` (repeat or
/// comma-separate for OR), `target`, `since`, `until` (RFC 3339).
#[utoipa::path(get, path = "/api/audit", operation_id = "list_audit", tag = "audit",
    security(("bearer" = [])),
    params(
        ("action" = Option<String>, Query, description = "e.g. login.failed, silence.created, user.access_changed"),
        ("actor" = Option<String>, Query, description = "Who acted"),
        ("target" = Option<String>, Query, description = "The id acted on"),
        ("since" = Option<String>, Query, description = "At or after (RFC 3339)"),
        ("until" = Option<String>, Query, description = "Before (RFC 3339)"),
        ("page" = Option<u64>, Query, description = "Page number, from 1"),
        ("page_size" = Option<u64>, Query, description = "Items per page (default 10, max 500)"),
    ),
    responses(
        (status = 200, description = "A page of entries", body = Page<AuditEntry>),
        (status = 400, description = "An unknown parameter or a bad time", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not an admin, or an API key", body = ErrorBody),
    ))]
#[debug_handler]
async fn list(user: CurrentUser, State(ctx): State<AppContext>, page: PageParams) -> ApiResult {
    user.require_person(Role::Admin)?;
    page.numbered_only("Audit entries")?;
    page.only(&["action", "actor", "target", "since", "until"])?;
    let mut errors = crate::models::FieldErrors::new();
    let split = |name: &str| crate::models::listing::values(&page.values(name));
    let q = AuditQuery {
        action: split("action"),
        actor: split("actor"),
        target: page.values("target").last().cloned(),
        since: crate::models::listing::time("since", &page.values("since"), &mut errors),
        until: crate::models::listing::time("until", &page.values("until"), &mut errors),
    };
    let unknown: Vec<&String> = q
        .action
        .iter()
        .filter(|a| !audit::ACTIONS.contains(&a.as_str()))
        .collect();
    if let Some(first) = unknown.first() {
        errors.entry("action".into()).or_default().push(format!(
            "Unknown action `{first}`: one of {}.",
            audit::ACTIONS.join(", ")
        ));
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors).into());
    }
    let (rows, count) = audit::page(&ctx.db, &q, page.page, page.page_size).await?;
    let results = rows.iter().map(AuditEntry::from).collect();
    Ok(format::json(page.page(results, count))?)
}

pub fn routes() -> Routes {
    Routes::new().prefix("/api/audit").add("/", get(list))
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(list))]
pub struct AuditApi;
