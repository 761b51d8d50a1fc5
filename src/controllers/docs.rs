//! The OpenAPI document, generated from the handlers' `#[utoipa::path]`
//! annotations, and the pages that show it: `/swagger`, `/redoc`,
//! `/api-docs/openapi.json`.
use axum::Router as AxumRouter;
use loco_rs::prelude::*;
use utoipa::{
    openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme},
    Modify, OpenApi,
};
use utoipa_redoc::{Redoc, Servable};
use utoipa_swagger_ui::SwaggerUi;

use crate::controllers::{
    alerts::AlertsApi, allowlist::AllowlistApi, api_keys::ApiKeysApi, audit::AuditApi,
    auth::AuthApi, escalation::EscalationApi, events::EventsApi, health::HealthApi,
    ingest::IngestApi, live::LiveApi, metrics::MetricsApi, silences::SilencesApi, stats::StatsApi,
    users::UsersApi, webhooks::WebhooksApi,
};

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "Access token from POST /api/auth/login (15 minutes by default)",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-API-Key",
                "API key from POST /api/api-keys (admin). Scopes: events:write, alerts:read, \
alerts:write, silences:write. Limited per key per minute: 429 with RateLimit-* headers beyond it",
            ))),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Vigil",
        description = "Security event ingestion and alert management. Sensors and analysts \
POST events; HIGH and CRITICAL events become alerts, joined by fingerprint; admins drive \
alerts through their lifecycle. Every error is JSON: {\"error\", \"message\", \"fields\"?}. \
Every path answers with or without a trailing slash.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    modifiers(&SecuritySchemes),
    tags(
        (name = "auth", description = "Accounts and tokens"),
        (name = "users", description = "Account administration (ADMIN)"),
        (name = "events", description = "Event ingestion and listing"),
        (name = "alerts", description = "Alerts and their lifecycle"),
        (name = "webhooks", description = "Signed HTTP callbacks for lifecycle envelopes (ADMIN)"),
        (name = "api-keys", description = "Machine credentials with scopes (ADMIN)"),
        (name = "detection", description = "Access logs scored by the detection rules; detections become events"),
        (name = "silences", description = "Silences and weekly maintenance windows: matching alerts stay quiet (ADMIN, or keys with silences:write)"),
        (name = "allowlist", description = "Trusted source networks: their events open no alert (ADMIN)"),
        (name = "escalation", description = "Escalation of alerts nobody acknowledged (ADMIN)"),
        (name = "audit", description = "The tamper-evident audit log (ADMIN)"),
        (name = "operations", description = "Statistics, metrics and health probes"),
    )
)]
pub struct ApiDoc;

/// Adds the answers every operation of a kind can give, where a handler's
/// annotation does not list them already: a JSON body can be malformed
/// (400), too large (413) or not JSON (415); a protected operation can be
/// refused (401) and, with an API key, rate-limited (429); list parameters
/// can be out of range (400); any operation but the liveness probe can
/// meet storage that refuses it (503 `storage_unavailable`).
fn common_answers(doc: &mut serde_json::Value) {
    use serde_json::{json, Value};
    let error = |description: &str| {
        json!({"description": description, "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/ErrorBody"}}}})
    };
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for (_method, op) in item.iter_mut() {
            let has_body = op.get("requestBody").is_some();
            let text_body = op
                .pointer("/requestBody/content")
                .and_then(Value::as_object)
                .is_some_and(|c| c.contains_key("text/plain"));
            let protected = op.get("security").is_some();
            let keyed = op["security"]
                .as_array()
                .is_some_and(|s| s.iter().any(|r| r.get("api_key").is_some()));
            let has_query = op["parameters"]
                .as_array()
                .is_some_and(|ps| ps.iter().any(|p| p["in"] == "query"));
            let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) else {
                continue;
            };
            let mut add = |code: &str, description: &str| {
                responses
                    .entry(code.to_string())
                    .or_insert_with(|| error(description));
            };
            if has_body {
                add("400", "Malformed JSON or invalid fields, each named");
                add("413", "Body over 1 MiB");
                add(
                    "415",
                    if text_body {
                        "Body is not text/plain"
                    } else {
                        "Body is not JSON (Content-Type: application/json)"
                    },
                );
            }
            if has_query {
                add("400", "An unknown parameter or an invalid value, named");
            }
            if protected {
                add("401", "Not authenticated");
            }
            if keyed {
                add(
                    "429",
                    "The API key's requests per minute are spent (Retry-After)",
                );
            }
            if path != "/_ping" && path != "/_health" {
                add(
                    "503",
                    "storage_unavailable: storage refuses writes for now (Retry-After); nothing was done",
                );
            }
        }
    }
}

/// The whole document.
#[must_use]
pub fn openapi() -> utoipa::openapi::OpenApi {
    let doc = merged();
    let mut value = serde_json::to_value(&doc).unwrap_or_default();
    common_answers(&mut value);
    serde_json::from_value(value).unwrap_or(doc)
}

fn merged() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.merge(AuthApi::openapi());
    doc.merge(UsersApi::openapi());
    doc.merge(EventsApi::openapi());
    doc.merge(IngestApi::openapi());
    doc.merge(AlertsApi::openapi());
    doc.merge(StatsApi::openapi());
    doc.merge(HealthApi::openapi());
    doc.merge(LiveApi::openapi());
    doc.merge(ApiKeysApi::openapi());
    doc.merge(WebhooksApi::openapi());
    doc.merge(SilencesApi::openapi());
    doc.merge(AllowlistApi::openapi());
    doc.merge(AuditApi::openapi());
    doc.merge(EscalationApi::openapi());
    doc.merge(MetricsApi::openapi());
    doc
}

/// Swagger UI, ReDoc and the JSON document, mounted before Loco's middleware
/// so they get request ids, CORS and panic catching like every other route.
pub fn router() -> AxumRouter<AppContext> {
    let doc = openapi();
    AxumRouter::new()
        .merge(SwaggerUi::new("/swagger").url("/api-docs/openapi.json", doc.clone()))
        .merge(Redoc::with_url("/redoc", doc))
}
