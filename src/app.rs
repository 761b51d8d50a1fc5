use async_trait::async_trait;
use axum::Router as AxumRouter;
use loco_rs::{
    app::{AppContext, Hooks, Initializer},
    bgworker::{BackgroundWorker, Queue},
    boot::{create_app, BootResult, StartMode},
    config::Config,
    controller::AppRoutes,
    db::truncate_table,
    environment::Environment,
    task::Tasks,
    Error, Result,
};
use migration::Migrator;
use std::{path::Path, sync::Arc};

use crate::{
    controllers,
    db::connect::{connect, Role},
    ingestion::writer::IngestWriter,
    initializers::{self, Subsystems},
    models::_entities::{
        alert_histories, alerts, allowlist_entries, api_keys, audit_head, audit_log,
        escalation_policies, events, idempotency_keys, log_cursors, login_throttles,
        outbox_envelopes, refresh_tokens, silences, tallies, users, webhook_deliveries, webhooks,
    },
    settings::Settings,
    tasks,
    workers::{dispatcher::Feed, webhooks::WebhookDelivery},
};

/// The JWT secrets committed in `config/development.yaml` and
/// `config/test.yaml`: public, so never acceptable in production.
pub const COMMITTED_JWT_SECRETS: [&str; 2] = [
    "ZGV2ZWxvcG1lbnQtb25seS12aWdpbC1qd3Qtc2VjcmV0LWRvLW5vdC11c2U=",
    "dGVzdC1vbmx5LXZpZ2lsLWp3dC1zZWNyZXQtbm90LWZvci1wcm9kdWN0aW9u",
];

/// Refuses a production start with a committed, empty or short JWT secret.
///
/// # Errors
/// When the environment is production and the secret is not a real one.
pub fn check_production_secrets(environment: &Environment, config: &Config) -> Result<()> {
    if *environment != Environment::Production {
        return Ok(());
    }
    let secret = config
        .auth
        .as_ref()
        .and_then(|a| a.jwt.as_ref())
        .map(|j| j.secret.trim().to_string())
        .unwrap_or_default();
    if secret.is_empty() || COMMITTED_JWT_SECRETS.contains(&secret.as_str()) {
        return Err(Error::string(
            "refusing to start in production with the development JWT secret: set JWT_SECRET \
             to a long random base64 string (e.g. `openssl rand -base64 48`)",
        ));
    }
    // The secret is used as base64-encoded key material: demand 32+ bytes.
    if secret.trim_end_matches('=').len() * 3 / 4 < 32 {
        return Err(Error::string(
            "refusing to start in production: JWT_SECRET must encode at least 32 random bytes \
             (e.g. `openssl rand -base64 48`)",
        ));
    }
    Ok(())
}

pub struct App;
#[async_trait]
impl Hooks for App {
    fn app_name() -> &'static str {
        env!("CARGO_CRATE_NAME")
    }

    fn app_version() -> String {
        format!(
            "{} ({})",
            env!("CARGO_PKG_VERSION"),
            option_env!("BUILD_SHA")
                .or(option_env!("GITHUB_SHA"))
                .unwrap_or("dev")
        )
    }

    async fn boot(
        mode: StartMode,
        environment: &Environment,
        config: Config,
    ) -> Result<BootResult> {
        check_production_secrets(environment, &config)?;
        create_app::<Self, Migrator>(mode, environment, config).await
    }

    /// What runs for the life of the server (`src/initializers/`).
    async fn initializers(_ctx: &AppContext) -> Result<Vec<Box<dyn Initializer>>> {
        Ok(vec![
            Box::new(initializers::sqlite_wal::SqliteWal),
            Box::new(initializers::outbox::Outbox),
            Box::new(initializers::operations::Operations),
        ])
    }

    /// The pools, the settings, the detection rules, the live feed and the
    /// ingestion writer: made here, not in an initializer, because CLI
    /// tasks (`ingest_log`) need them and skip initializers.
    async fn after_context(mut ctx: AppContext) -> Result<AppContext> {
        let settings = Arc::new(Settings::from_config(&ctx.config)?);
        let storage = &settings.storage;
        ctx.db = connect(&ctx.config.database, storage, Role::App).await?;
        let writer_db = if ctx.config.database.uri.starts_with("sqlite") {
            connect(&ctx.config.database, storage, Role::Writer).await?
        } else {
            ctx.db.clone()
        };
        ctx.shared_store.insert(settings.clone());
        ctx.shared_store.insert(Arc::new(Subsystems::default()));
        // Compiled once; a bad operator rules file stops the start, named.
        ctx.shared_store
            .insert(Arc::new(settings.detection.rules()?));
        let feed = Arc::new(Feed::new(settings.feed_buffer));
        let writer = IngestWriter::start(writer_db, settings.alert_threshold, Some(feed.clone()));
        ctx.shared_store.insert(writer.gate());
        ctx.shared_store.insert(Arc::new(writer));
        ctx.shared_store.insert(feed);
        Ok(ctx)
    }

    fn routes(_ctx: &AppContext) -> AppRoutes {
        AppRoutes::empty()
            .add_route(controllers::health::routes())
            .add_route(controllers::auth::routes())
            .add_route(controllers::users::routes())
            .add_route(controllers::events::routes())
            .add_route(controllers::ingest::routes())
            .add_route(controllers::alerts::routes())
            .add_route(controllers::stats::routes())
            .add_route(controllers::live::routes())
            .add_route(controllers::api_keys::routes())
            .add_route(controllers::webhooks::routes())
            .add_route(controllers::silences::routes())
            .add_route(controllers::allowlist::routes())
            .add_route(controllers::audit::routes())
            .add_route(controllers::escalation::routes())
            .add_route(controllers::metrics::routes())
            .add_route(controllers::console::routes())
    }

    async fn before_routes(_ctx: &AppContext) -> Result<AxumRouter<AppContext>> {
        Ok(controllers::docs::router())
    }

    async fn after_routes(router: AxumRouter, ctx: &AppContext) -> Result<AxumRouter> {
        controllers::middleware::wrap(router, ctx)
    }

    async fn connect_workers(ctx: &AppContext, queue: &Queue) -> Result<()> {
        queue.register(WebhookDelivery::build(ctx)).await?;
        Ok(())
    }

    #[allow(unused_variables)]
    fn register_tasks(tasks: &mut Tasks) {
        tasks.register(tasks::purge_events::PurgeEvents);
        tasks.register(tasks::ingest_log::IngestLog);
        tasks.register(tasks::verify_audit::VerifyAudit);
        // tasks-inject (do not remove)
        tasks.register(tasks::create_admin::CreateAdmin);
    }

    async fn truncate(ctx: &AppContext) -> Result<()> {
        truncate_table(&ctx.db, audit_log::Entity).await?;
        truncate_table(&ctx.db, audit_head::Entity).await?;
        truncate_table(&ctx.db, silences::Entity).await?;
        truncate_table(&ctx.db, allowlist_entries::Entity).await?;
        truncate_table(&ctx.db, escalation_policies::Entity).await?;
        truncate_table(&ctx.db, webhook_deliveries::Entity).await?;
        truncate_table(&ctx.db, webhooks::Entity).await?;
        truncate_table(&ctx.db, api_keys::Entity).await?;
        truncate_table(&ctx.db, tallies::Entity).await?;
        truncate_table(&ctx.db, log_cursors::Entity).await?;
        truncate_table(&ctx.db, idempotency_keys::Entity).await?;
        truncate_table(&ctx.db, outbox_envelopes::Entity).await?;
        truncate_table(&ctx.db, alert_histories::Entity).await?;
        truncate_table(&ctx.db, events::Entity).await?;
        truncate_table(&ctx.db, alerts::Entity).await?;
        truncate_table(&ctx.db, refresh_tokens::Entity).await?;
        truncate_table(&ctx.db, login_throttles::Entity).await?;
        truncate_table(&ctx.db, users::Entity).await?;
        Ok(())
    }

    async fn seed(_ctx: &AppContext, _base: &Path) -> Result<()> {
        Ok(())
    }
}
