//! What runs for the life of the server, started from Loco's initializer
//! slot (after `App::before_run`, in the process that serves; CLI tasks skip
//! it and start what they need themselves): the outbox ([`outbox`]: the
//! dispatcher, the Redis fan-out and the webhook sweep) and SQLite's WAL
//! checkpointer ([`sqlite_wal`]). Each task is registered in [`Subsystems`],
//! which `/_health` reads: a task that stopped (it panicked, or was
//! stopped) shows there.
use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex, PoisonError},
};

use loco_rs::app::AppContext;
use tokio::task::{AbortHandle, JoinHandle};

pub mod operations;
pub mod outbox;
pub mod sqlite_wal;

/// The long-lived tasks of this process, by name.
#[derive(Default)]
pub struct Subsystems {
    running: Mutex<BTreeMap<&'static str, AbortHandle>>,
}

impl Subsystems {
    /// This process's registry (made in `App::after_context`; an empty one
    /// for a context built without it).
    #[must_use]
    pub fn get(ctx: &AppContext) -> Arc<Self> {
        ctx.shared_store.get::<Arc<Self>>().unwrap_or_default()
    }

    /// Records `task` as the subsystem `name`.
    pub fn register(&self, name: &'static str, task: &JoinHandle<()>) {
        self.lock().insert(name, task.abort_handle());
    }

    /// Each registered subsystem and whether it still runs (`running`,
    /// `stopped`).
    #[must_use]
    pub fn states(&self) -> BTreeMap<&'static str, &'static str> {
        self.lock()
            .iter()
            .map(|(name, task)| {
                let state = if task.is_finished() {
                    "stopped"
                } else {
                    "running"
                };
                (*name, state)
            })
            .collect()
    }

    /// The subsystems that no longer run.
    #[must_use]
    pub fn stopped(&self) -> Vec<&'static str> {
        self.states()
            .into_iter()
            .filter(|(_, state)| *state == "stopped")
            .map(|(name, _)| name)
            .collect()
    }

    /// Stops subsystem `name` (its task is aborted); `false` when there is
    /// none. The request tests use it to see what a stopped task looks like.
    pub fn stop(&self, name: &str) -> bool {
        self.lock().get(name).map(AbortHandle::abort).is_some()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<&'static str, AbortHandle>> {
        self.running.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
