//! `vigil-cli task purge_events [days:N]`: deletes events older than the
//! retention (`settings.event_retention_days`, 90 by default). Alerts are
//! kept, and so is the event that opened each of them. Scheduled daily in
//! the `scheduler:` block of the config. The same run deletes idempotency
//! answers older than a day and login-throttle counts whose window ended.
use chrono::{Duration, Utc};
use loco_rs::prelude::*;

use crate::{
    models::{events, idempotency_keys, login_throttles},
    settings::Settings,
};

pub struct PurgeEvents;

#[async_trait]
impl Task for PurgeEvents {
    fn task(&self) -> TaskInfo {
        TaskInfo {
            name: "purge_events".to_string(),
            detail: "Delete events older than the retention: purge_events [days:N]".to_string(),
        }
    }

    async fn run(&self, ctx: &AppContext, vars: &task::Vars) -> Result<()> {
        let days = match vars.cli_arg("days") {
            Ok(raw) => raw.parse::<i64>().ok().filter(|d| *d >= 0).ok_or_else(|| {
                Error::string(&format!("days:{raw} is not a whole number of days"))
            })?,
            Err(_) => Settings::get(ctx).event_retention_days,
        };
        let cutoff = Utc::now() - Duration::days(days);
        let purged = events::Model::purge_before(&ctx.db, cutoff).await?;
        println!(
            "purged {purged} events created before {} ({days} days)",
            cutoff.to_rfc3339()
        );
        let now = Utc::now();
        let keys = idempotency_keys::Model::purge_before(
            &ctx.db,
            now - Duration::hours(idempotency_keys::RETENTION_HOURS),
        )
        .await?;
        let window = Settings::get(ctx).login_throttle.window_seconds;
        let throttles =
            login_throttles::Model::purge_before(&ctx.db, now - Duration::seconds(window)).await?;
        println!("purged {keys} idempotency keys and {throttles} login-throttle counts");
        Ok(())
    }
}
