//! What the ingestion path asks of the operations layer, once per round
//! and from memory: is this source allowlisted, and which silence quiets
//! this alert. The [`Gate`] holds the allowlist and the live silences,
//! compiled; it is reloaded when this process changes them (at once) and
//! when another instance does (a cheap version query at most every
//! [`RECHECK`]: counts and latest change of the two tables), and when an
//! allowlist entry expires.
use std::{
    sync::{Arc, Mutex, PoisonError, RwLock},
    time::{Duration, Instant},
};

use chrono::Utc;
use sea_orm::{ConnectionTrait, DatabaseConnection, EntityTrait, Statement};

pub use crate::models::suppression::Rules as Snapshot;
use crate::models::{allowlist, silences};

/// How stale another instance's change may be here, at most.
pub const RECHECK: Duration = Duration::from_secs(1);

#[derive(Default)]
struct Checked {
    at: Option<Instant>,
    version: String,
    /// Changes made here (counted), and how many the rules include: they
    /// differ when the rules must be reloaded whatever the version says.
    changes: u64,
    loaded: u64,
}

/// The compiled operations rules of this process.
#[derive(Default)]
pub struct Gate {
    current: RwLock<Arc<Snapshot>>,
    checked: Mutex<Checked>,
    /// Which live silences were in force at the last operations tick.
    in_force: Mutex<Option<Vec<(uuid::Uuid, bool)>>>,
}

const VERSION_SQL: &str = "SELECT \
    CAST((SELECT count(*) FROM allowlist_entries) AS TEXT) || '/' || \
    COALESCE(CAST((SELECT max(updated_at) FROM allowlist_entries) AS TEXT), '') || '/' || \
    CAST((SELECT count(*) FROM silences) AS TEXT) || '/' || \
    COALESCE(CAST((SELECT max(updated_at) FROM silences) AS TEXT), '') AS v";

impl Gate {
    /// After this process changed the allowlist or a silence.
    pub fn invalidate(&self) {
        self.checked
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .changes += 1;
    }

    /// The rules as they stand, reloaded first when they may have changed.
    /// When the database cannot be read, the last rules stay in force (the
    /// round that follows meets the same database anyway).
    pub async fn current(&self, db: &DatabaseConnection) -> Arc<Snapshot> {
        if let Err(err) = self.refresh(db).await {
            tracing::warn!(error = %err, "allowlist and silences not reloaded; keeping the last ones");
        }
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    async fn refresh(&self, db: &DatabaseConnection) -> Result<(), sea_orm::DbErr> {
        let now = Utc::now();
        let (dirty, known): (Option<u64>, String) = {
            let checked = self.checked.lock().unwrap_or_else(PoisonError::into_inner);
            let expired = self
                .current
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .allowlist
                .next_expiry
                .is_some_and(|at| at <= now);
            let due = checked.at.is_none_or(|at| at.elapsed() >= RECHECK);
            let dirty = checked.changes != checked.loaded;
            if !(dirty || due || expired) {
                return Ok(());
            }
            (
                (dirty || expired || checked.at.is_none()).then_some(checked.changes),
                checked.version.clone(),
            )
        };
        let version: String = db
            .query_one_raw(Statement::from_string(
                db.get_database_backend(),
                VERSION_SQL,
            ))
            .await?
            .map(|row| row.try_get("", "v"))
            .transpose()?
            .unwrap_or_default();
        let reload = dirty.is_some() || version != known;
        if reload {
            let entries = allowlist::Entity::find().all(db).await?;
            let live = silences::Model::live(db, now)
                .await
                .map_err(|e| sea_orm::DbErr::Custom(e.to_string()))?;
            let snapshot = Snapshot {
                allowlist: allowlist::Compiled::new(&entries, now),
                silences: live.iter().filter_map(silences::Model::compile).collect(),
            };
            *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(snapshot);
        }
        let mut checked = self.checked.lock().unwrap_or_else(PoisonError::into_inner);
        checked.at = Some(Instant::now());
        checked.version = version;
        if let Some(changes) = dirty {
            checked.loaded = changes;
        }
        Ok(())
    }

    /// Whether the live silences in force now (`states`) differ from those
    /// at the last call: a weekly window opened or closed, or a silence
    /// reached its `starts_at`. The first call answers yes.
    pub fn windows_moved(&self, states: Vec<(uuid::Uuid, bool)>) -> bool {
        let mut last = self.in_force.lock().unwrap_or_else(PoisonError::into_inner);
        let moved = last.as_ref() != Some(&states);
        *last = Some(states);
        moved
    }

    /// The open alerts could not be marked for the states last passed to
    /// [`Self::windows_moved`]: its next call answers yes again.
    pub fn forget_windows(&self) {
        *self.in_force.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }

    /// After a handler changed the allowlist or a silence: this process's
    /// ingestion applies it from its next round.
    pub fn changed(ctx: &loco_rs::app::AppContext) {
        if let Some(gate) = Self::get(ctx) {
            gate.invalidate();
        }
    }

    /// The gate of this process's ingestion writer.
    #[must_use]
    pub fn get(ctx: &loco_rs::app::AppContext) -> Option<Arc<Self>> {
        ctx.shared_store.get::<Arc<Self>>()
    }
}
