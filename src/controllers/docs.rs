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
    alerts::AlertsApi, api_keys::ApiKeysApi, auth::AuthApi, events::EventsApi, health::HealthApi,
    ingest::IngestApi, live::LiveApi, stats::StatsApi, users::UsersApi, webhooks::WebhooksApi,
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
alerts:write. Limited per key per minute: 429 with RateLimit-* headers beyond it",
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
        (name = "operations", description = "Statistics and health probes"),
    )
)]
pub struct ApiDoc;

/// The whole document.
#[must_use]
pub fn openapi() -> utoipa::openapi::OpenApi {
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
