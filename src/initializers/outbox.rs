//! The outbox's delivery side: the dispatcher (claimed and committed
//! envelopes to the live feed), the Redis fan-out between instances (when
//! `REDIS_URL` is set), the webhook sweep (due deliveries to jobs) and the
//! HTTP client the deliveries share.
use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use loco_rs::{
    app::{AppContext, Initializer},
    doctor::{Check, CheckStatus},
    Result,
};

use super::Subsystems;
use crate::{
    settings::Settings,
    workers::{
        dispatcher::{self, Feed},
        fanout::Fanout,
        webhooks::{Sweeper, WebhookClient},
    },
};

pub struct Outbox;

#[async_trait]
impl Initializer for Outbox {
    fn name(&self) -> String {
        "outbox".to_string()
    }

    /// Once, in the process that serves: not in the extra context Loco's
    /// CLI builds, where a second dispatcher would take envelopes to a feed
    /// nobody follows, and not in tasks (`ingest_log` following a file for
    /// days leaves its envelopes to the server).
    async fn before_run(&self, ctx: &AppContext) -> Result<()> {
        let settings = Settings::get(ctx);
        let feed = Feed::get(ctx)?;
        let subsystems = Subsystems::get(ctx);
        ctx.shared_store.insert(Arc::new(WebhookClient::new(
            Duration::from_millis(settings.webhooks.timeout_ms),
            settings.webhooks.outbound(),
        )?));
        let (sweeper, sweep) = Sweeper::start(ctx.clone(), &settings);
        subsystems.register("webhook_sweep", &sweep);
        let fanout = if settings.redis_url.is_empty() {
            None
        } else {
            let fanout = Arc::new(Fanout::new(&settings.redis_url, &settings.redis_channel)?);
            subsystems.register("redis_subscriber", &fanout.start_subscriber(feed.clone()));
            ctx.shared_store.insert(fanout.clone());
            Some(fanout)
        };
        if let Some(task) = dispatcher::start(ctx.db.clone(), feed, Some(sweeper.waker()), fanout) {
            subsystems.register("dispatcher", &task);
        }
        ctx.shared_store.insert(sweeper);
        Ok(())
    }

    /// `cargo loco doctor`: whether the Redis of the fan-out answers.
    async fn check(&self, ctx: &AppContext) -> Result<Option<Check>> {
        let settings = Settings::get(ctx);
        if settings.redis_url.is_empty() {
            return Ok(None);
        }
        let fanout = Fanout::new(&settings.redis_url, &settings.redis_channel)?;
        Ok(Some(match fanout.ping().await {
            Ok(()) => Check {
                status: CheckStatus::Ok,
                message: "Redis fan-out: reachable".to_string(),
                description: None,
            },
            Err(err) => Check {
                status: CheckStatus::NotOk,
                message: "Redis fan-out: unreachable".to_string(),
                description: Some(err),
            },
        }))
    }
}
