#![allow(elided_lifetimes_in_paths)]
#![allow(clippy::wildcard_imports)]
pub use sea_orm_migration::prelude::*;
mod m20220101_000001_users;
mod m20261123_000002_refresh_tokens;
mod m20261123_000003_login_throttles;
mod m20261123_000004_alerts_and_events;
mod m20261123_000005_tallies;
mod m20261123_000006_outbox_pending;
mod m20261123_000007_api_keys;
mod m20261123_000008_webhooks;
mod m20261124_000007_log_cursors;
mod m20261125_000010_outbox_claimed_by;
mod m20261125_000011_outbox_pending_split;
mod m20261130_000012_storage_probes;
mod m20261201_000013_operations;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20220101_000001_users::Migration),
            Box::new(m20261123_000002_refresh_tokens::Migration),
            Box::new(m20261123_000003_login_throttles::Migration),
            Box::new(m20261123_000004_alerts_and_events::Migration),
            Box::new(m20261123_000005_tallies::Migration),
            Box::new(m20261123_000006_outbox_pending::Migration),
            Box::new(m20261123_000007_api_keys::Migration),
            Box::new(m20261123_000008_webhooks::Migration),
            Box::new(m20261124_000007_log_cursors::Migration),
            Box::new(m20261125_000010_outbox_claimed_by::Migration),
            Box::new(m20261125_000011_outbox_pending_split::Migration),
            Box::new(m20261130_000012_storage_probes::Migration),
            Box::new(m20261201_000013_operations::Migration),
            // inject-above (do not remove this comment)
        ]
    }
}
