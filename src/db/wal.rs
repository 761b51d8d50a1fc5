//! SQLite's write-ahead log, checkpointed off the write path.
//!
//! By default a SQLite connection checkpoints in its own `COMMIT` once the
//! log holds 1,000 pages: it copies them into the database file and syncs
//! both, so every few rounds one of the ingestion writer's commits waited
//! for two fsyncs and the copy. Vigil's
//! connections never checkpoint in `COMMIT` ([`connect`](super::connect) sets
//! `wal_autocheckpoint = 0`); a task does, every [`EVERY`], on a pooled
//! connection of its own (its own thread) while the writer goes on.
//!
//! A passive checkpoint never blocks the writer, but nor can the log start
//! over while the writer keeps appending: under steady load the file would
//! only grow. Once it holds [`RESTART_AT_FRAMES`], the task takes Vigil's
//! in-process write lock (waiting for the writer's round, holding the next
//! one back) and checkpoints in `RESTART` mode: it copies what the passive
//! checkpoint left and waits for readers to leave the log, so the next
//! round writes the log from its beginning.
use std::time::Duration;

use loco_rs::prelude::*;
use sea_orm::{DbBackend, Statement};
use tokio::task::JoinHandle;

/// How often the log is checkpointed.
pub const EVERY: Duration = Duration::from_millis(100);
/// How long a restarting checkpoint waits for readers to leave the log
/// (the checkpointer's busy timeout), the writers held back meanwhile.
/// Vigil's reads take milliseconds; a long one (another process's backup,
/// say) makes the checkpoint give up, and the next restart is not tried
/// before [`RESTART_BACKOFF`].
pub const RESTART_WAIT: Duration = Duration::from_millis(100);
/// The pause in restarts after one gave up.
pub const RESTART_BACKOFF: Duration = Duration::from_secs(10);
/// Log length (pages of 4 KiB: 256 MiB) from which a checkpoint makes the
/// writer start the log over. The log file keeps the size it reached (up
/// to about this), to be written over: truncating it is slow under load,
/// with the writer held back.
pub const RESTART_AT_FRAMES: i64 = 65_536;

/// What a checkpoint did, as `PRAGMA wal_checkpoint` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checkpoint {
    /// Another connection held a lock the checkpoint needed (it did what it
    /// could).
    pub busy: bool,
    /// Pages in the log.
    pub log: i64,
    /// Pages of the log now copied into the database file.
    pub checkpointed: i64,
}

/// How a checkpoint deals with the writers and readers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Copy what no reader still needs; wait for nobody.
    Passive,
    /// Take the database's write lock, copy the whole log, then wait for
    /// readers to leave it, so the next writer starts it over.
    Restart,
}

/// Checkpoints the log of `db` (a SQLite connection) in `mode`.
///
/// # Errors
/// Database errors.
pub async fn checkpoint(db: &DatabaseConnection, mode: Mode) -> Result<Checkpoint> {
    let sql = match mode {
        Mode::Passive => "PRAGMA wal_checkpoint(PASSIVE)",
        Mode::Restart => "PRAGMA wal_checkpoint(RESTART)",
    };
    let row = db
        .query_one_raw(Statement::from_string(DbBackend::Sqlite, sql))
        .await?
        .ok_or_else(|| Error::string("wal_checkpoint returned no row"))?;
    Ok(Checkpoint {
        busy: row.try_get_by_index::<i64>(0)? != 0,
        log: row.try_get_by_index(1)?,
        checkpointed: row.try_get_by_index(2)?,
    })
}

/// The task's state: when the log is long enough to restart, and whether
/// restarts are paused after one gave up.
#[derive(Debug)]
pub struct Checkpointer {
    restart_at: i64,
    no_restart_until: tokio::time::Instant,
}

impl Checkpointer {
    /// Restarts the log once it holds `restart_at` pages
    /// ([`RESTART_AT_FRAMES`] in the task).
    #[must_use]
    pub fn new(restart_at: i64) -> Self {
        Self {
            restart_at,
            no_restart_until: tokio::time::Instant::now(),
        }
    }

    /// One round: a passive checkpoint, then, when the log is long enough
    /// and restarts are not paused, a restarting one under Vigil's
    /// in-process write lock. A restart that gives up (`busy`) pauses
    /// restarts for [`RESTART_BACKOFF`].
    ///
    /// # Errors
    /// Database errors.
    pub async fn tick(&mut self, db: &DatabaseConnection) -> Result<Checkpoint> {
        let done = checkpoint(db, Mode::Passive).await?;
        if done.log < self.restart_at || tokio::time::Instant::now() < self.no_restart_until {
            return Ok(done);
        }
        // Vigil's writers queue for this lock in memory. Without it, they
        // would meet the checkpoint's hold on the database's write lock:
        // the busy handler's sleeps, or at once "database is locked" for a
        // transaction that has read before it writes.
        let _writers = super::write::sqlite_write_lock(db).await;
        let restarted = checkpoint(db, Mode::Restart).await?;
        if restarted.busy {
            tracing::warn!(
                pages = restarted.log,
                "WAL restart gave up: a long reader, or another process's writer, held the log"
            );
            self.no_restart_until = tokio::time::Instant::now() + RESTART_BACKOFF;
        }
        Ok(restarted)
    }
}

/// Starts the checkpointing task for `db`, a SQLite connection (with a busy
/// timeout of [`RESTART_WAIT`]) of its own. It runs as long as the runtime
/// it was started on (the process's, or a test's); one per process
/// (`initializers::sqlite_wal`).
#[must_use]
pub fn start(db: DatabaseConnection) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut checkpointer = Checkpointer::new(RESTART_AT_FRAMES);
        loop {
            tick.tick().await;
            if let Err(err) = checkpointer.tick(&db).await {
                tracing::warn!(error = %err, "WAL checkpoint failed");
            }
        }
    })
}
