//! The operations ticker: every `operations.tick_seconds`, notes the
//! silences whose end has passed (`silence.expired`) and runs the
//! escalation policies. Both are passes at a given time over state in the
//! database (`models::silences::Model::note_expired`,
//! `models::escalation::run_once`), so several instances can tick at once
//! and a restart loses nothing.
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use loco_rs::{
    app::{AppContext, Initializer},
    Result,
};

use super::Subsystems;
use crate::{
    ingestion::gate::Gate,
    models::{escalation, silences, suppression},
    settings::Settings,
};

pub struct Operations;

/// One tick at `now`.
///
/// # Errors
/// Database errors.
pub async fn tick(ctx: &AppContext, now: chrono::DateTime<Utc>) -> Result<escalation::Pass> {
    let settings = Settings::get(ctx);
    if silences::Model::note_expired(&ctx.db, now).await? > 0 {
        Gate::changed(ctx);
    }
    // A weekly window that opened or closed, or a silence that began,
    // changes which open alerts are quiet without any request: mark them
    // again (escalation, just below, skips the quiet ones).
    let states = silences::Model::in_force_at(&ctx.db, now).await?;
    let gate = Gate::get(ctx);
    if gate.as_ref().is_none_or(|gate| gate.windows_moved(states)) {
        if let Err(err) = suppression::remark_open(&ctx.db, now).await {
            // Not marked: the next tick must not take these states as seen.
            if let Some(gate) = gate {
                gate.forget_windows();
            }
            return Err(err.into());
        }
    }
    let policies = escalation::in_force(&ctx.db, &settings.operations.escalation_policies).await?;
    escalation::run_once(&ctx.db, &policies, now).await
}

#[async_trait]
impl Initializer for Operations {
    fn name(&self) -> String {
        "operations".to_string()
    }

    async fn before_run(&self, ctx: &AppContext) -> Result<()> {
        let every = Duration::from_secs(Settings::get(ctx).operations.tick_seconds.max(1));
        let subsystems = Subsystems::get(ctx);
        let ctx = ctx.clone();
        let task = tokio::spawn(async move {
            // The first pass one period after start, not at once: tests
            // set the clock of the passes they run (`tick(ctx, now)`) and
            // must not meet one at the real time; a server loses nothing,
            // each pass being over what the database holds.
            let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                if let Err(err) = tick(&ctx, Utc::now()).await {
                    tracing::warn!(error = %err, "operations tick failed; retrying next tick");
                }
            }
        });
        subsystems.register("operations", &task);
        Ok(())
    }
}
