//! SQLite's WAL checkpointer ([`crate::db::wal`]): Vigil's connections never
//! checkpoint in `COMMIT`, so a process that writes runs this task. The
//! server starts it here; `ingest_log`, which may write for days, starts
//! it itself ([`start`]).
use async_trait::async_trait;
use loco_rs::{
    app::{AppContext, Initializer},
    Result,
};

use super::Subsystems;
use crate::{
    db::{
        connect::{connect, Role},
        wal,
    },
    settings::Settings,
};

pub struct SqliteWal;

#[async_trait]
impl Initializer for SqliteWal {
    fn name(&self) -> String {
        "sqlite_wal".to_string()
    }

    async fn before_run(&self, ctx: &AppContext) -> Result<()> {
        start(ctx).await
    }
}

/// Starts the checkpointer on a connection of its own, on SQLite (nothing
/// to do on PostgreSQL), and registers it as `wal_checkpointer`.
///
/// # Errors
/// When its connection cannot be made.
pub async fn start(ctx: &AppContext) -> Result<()> {
    if !ctx.config.database.uri.starts_with("sqlite") {
        return Ok(());
    }
    let settings = Settings::get(ctx);
    let db = connect(&ctx.config.database, &settings.storage, Role::Checkpointer).await?;
    Subsystems::get(ctx).register("wal_checkpointer", &wal::start(db));
    Ok(())
}
