//! The outbox dispatcher: one task per serving process that publishes the
//! lifecycle envelopes to the live feed (through Redis when configured),
//! creates their webhook deliveries and marks them delivered. Envelopes are
//! written in the transaction of the change they describe, so a crash loses
//! none: whatever was committed and not marked delivered is published after
//! the restart (at least once).
//!
//! Two ways in:
//! - **Hand-off.** The ingestion writer claims the envelopes it writes for
//!   this process's dispatcher (`claimed_by`) and, once its transaction
//!   commits, hands them over in memory: they are published at once (under
//!   load, with the next rounds', at most every [`PUBLISH_EVERY`]), with
//!   no read back from the database, and marked delivered (with their
//!   webhook deliveries) in one transaction every [`MARK_EVERY`] for all of
//!   them.
//! - **Polling.** Everything else (alert changes made by handlers, envelopes
//!   written by CLI tasks, and claimed envelopes whose publisher died before
//!   marking them, once [`CLAIM_GRACE`] old) is read from the outbox in id
//!   order when a writer pokes the dispatcher, and every 250 ms. On
//!   PostgreSQL the rows are claimed `FOR UPDATE SKIP LOCKED`, so two
//!   instances never both take one.
use std::{
    sync::{Arc, Mutex, OnceLock, PoisonError},
    time::Duration,
};

use chrono::Utc;
use loco_rs::prelude::*;
use tokio::sync::{broadcast, mpsc, Notify};
use uuid::Uuid;

use super::fanout::Fanout;
pub use crate::models::outbox_envelopes::{Claimed, Delivered};
use crate::models::{
    outbox_envelopes,
    webhook_deliveries::{self, Outgoing},
};

/// Envelopes per dispatch transaction.
const BATCH: u64 = 500;
/// How often the dispatcher looks without being poked.
const POLL: Duration = Duration::from_millis(250);
/// Publications at most this often (the first after a quiet spell leaves
/// at once). Under load the envelopes of several ingestion rounds then
/// leave together, and each feed session wakes and writes once for all of
/// them rather than once per round.
const PUBLISH_EVERY: Duration = Duration::from_millis(10);
/// How often handed-off envelopes are marked delivered.
pub const MARK_EVERY: Duration = Duration::from_millis(100);
/// How old an envelope claimed by a dispatcher must be, still unmarked,
/// before any dispatcher takes it (its publisher died).
pub const CLAIM_GRACE: Duration = Duration::from_secs(10);
/// Hand-offs (ingestion rounds, up to 4,000 envelopes each) waiting for the
/// dispatcher before writers stop handing off (what they could not hand off
/// is published after [`CLAIM_GRACE`]).
const HANDOFF_QUEUE: usize = 64;
/// Published envelopes awaiting their mark at most: past this (marking
/// failing or slow), hand-offs wait in the queue, then go the grace way.
const MAX_UNMARKED: usize = 20_000;

/// The live feed of this process: delivered envelopes fan out to every
/// subscriber. Sending never waits, so a slow subscriber cannot slow
/// ingestion; it falls behind, and its receiver reports the lag.
pub struct Feed {
    tx: broadcast::Sender<Arc<Delivered>>,
    wake: Arc<Notify>,
    /// The id this process's dispatcher claims envelopes with, once it runs.
    dispatcher: OnceLock<Uuid>,
    handoff: mpsc::Sender<Vec<Claimed>>,
    handoff_rx: Mutex<Option<mpsc::Receiver<Vec<Claimed>>>>,
}

impl Feed {
    /// A subscriber may fall `buffer` envelopes behind before it is dropped.
    #[must_use]
    pub fn new(buffer: usize) -> Self {
        let (handoff, handoff_rx) = mpsc::channel(HANDOFF_QUEUE);
        Self {
            tx: broadcast::channel(buffer.max(1)).0,
            wake: Arc::new(Notify::new()),
            dispatcher: OnceLock::new(),
            handoff,
            handoff_rx: Mutex::new(Some(handoff_rx)),
        }
    }

    /// The feed set up by `App::after_context`.
    ///
    /// # Errors
    /// When the app was built without one.
    pub fn get(ctx: &AppContext) -> Result<Arc<Self>> {
        ctx.shared_store
            .get::<Arc<Self>>()
            .ok_or_else(|| Error::string("live feed not started"))
    }

    #[must_use]
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Delivered>> {
        self.tx.subscribe()
    }

    /// The id to claim envelopes with, when this process runs a dispatcher
    /// (`None` in CLI tasks: their envelopes are left to the server's).
    #[must_use]
    pub fn claimant(&self) -> Option<Uuid> {
        self.dispatcher.get().copied()
    }

    /// After the commit that wrote `claimed` (claimed with
    /// [`Self::claimant`]): publish them now. When the dispatcher is that
    /// far behind, they wait for [`CLAIM_GRACE`] instead.
    pub fn hand_off(&self, claimed: Vec<Claimed>) {
        if !claimed.is_empty() && self.handoff.try_send(claimed).is_err() {
            tracing::warn!("outbox dispatcher behind: envelopes left for its grace pass");
        }
    }

    /// Tells the dispatcher that envelopes were committed.
    pub fn poke(&self) {
        self.wake.notify_one();
    }

    /// Hands an envelope to this process's subscribers.
    pub fn send(&self, delivered: Delivered) {
        // No subscriber is not an error: the envelope is still delivered
        // (and can be replayed with `?after=`).
        let _ = self.tx.send(Arc::new(delivered));
    }
}

/// Starts the dispatcher for `db`, publishing to `feed` and waking
/// `webhooks` when it created webhook deliveries. Once per process: a
/// second call does nothing.
pub fn start(
    db: DatabaseConnection,
    feed: Arc<Feed>,
    webhooks: Option<Arc<Notify>>,
    fanout: Option<Arc<Fanout>>,
) -> Option<tokio::task::JoinHandle<()>> {
    let mut handed = feed
        .handoff_rx
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take()?;
    let _ = feed.dispatcher.set(Uuid::new_v4());
    Some(tokio::spawn(async move {
        let webhooks = webhooks.as_deref();
        let fanout = fanout.as_deref();
        let mut unmarked: Vec<(i64, EnvelopeKind, i16, bool)> = Vec::new();
        let mut mark = tokio::time::interval(MARK_EVERY);
        mark.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut poll = tokio::time::interval(POLL);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut poked = true;
        let mut published_at: Option<tokio::time::Instant> = None;
        loop {
            if poked {
                poked = false;
                loop {
                    match dispatch_once(&db, &feed, webhooks, fanout).await {
                        // A full batch: more may be waiting.
                        Ok(n) if n as u64 == BATCH => {}
                        Ok(n) => {
                            if n > 0 {
                                published_at = Some(tokio::time::Instant::now());
                            }
                            break;
                        }
                        Err(err) => {
                            tracing::warn!(error = %err, "outbox dispatch failed; retrying");
                            break;
                        }
                    }
                }
            }
            // Before the select, so that a poke that comes meanwhile is
            // still served before a later hand-off.
            if let Some(next) = published_at.map(|at| at + PUBLISH_EVERY) {
                if next > tokio::time::Instant::now() {
                    tokio::time::sleep_until(next).await;
                }
            }
            tokio::select! {
                // Pokes first: an envelope a handler committed before this
                // hand-off's round is published before it (outbox order,
                // which `?after=` relies on).
                biased;
                () = feed.wake.notified() => poked = true,
                Some(first) = handed.recv(), if unmarked.len() < MAX_UNMARKED => {
                    // Everything handed over meanwhile (marking waits for
                    // SQLite's write lock, a whole ingestion round).
                    let mut batch = first;
                    while let Ok(more) = handed.try_recv() {
                        batch.extend(more);
                    }
                    unmarked.extend(batch.iter().map(|c| {
                        (c.delivered.id, c.kind.as_str(), c.delivered.severity_rank, c.delivered.suppressed)
                    }));
                    publish(&feed, fanout, batch.into_iter().map(|c| c.delivered).collect()).await;
                    published_at = Some(tokio::time::Instant::now());
                }
                _ = mark.tick(), if !unmarked.is_empty() => {
                    match mark_handed(&db, &unmarked, webhooks).await {
                        Ok(()) => unmarked.clear(),
                        Err(err) => tracing::warn!(error = %err, "marking envelopes delivered failed; retrying"),
                    }
                }
                _ = poll.tick() => poked = true,
            }
        }
    }))
}

type EnvelopeKind = &'static str;

/// Publishes `batch` to every instance's feed through Redis when `fanout`
/// is up, else to this process's.
async fn publish(feed: &Feed, fanout: Option<&Fanout>, batch: Vec<Delivered>) {
    let shared = match fanout {
        Some(fanout) => fanout.publish(&batch).await,
        None => false,
    };
    if !shared {
        for delivered in batch {
            feed.send(delivered);
        }
    }
}

/// Marks handed-off envelopes delivered and creates their webhook
/// deliveries, in one transaction.
async fn mark_handed(
    db: &DatabaseConnection,
    unmarked: &[(i64, EnvelopeKind, i16, bool)],
    webhooks: Option<&Notify>,
) -> Result<()> {
    let outgoing: Vec<Outgoing<'_>> = unmarked
        .iter()
        .map(|&(id, event_type, severity_rank, suppressed)| Outgoing {
            id,
            event_type,
            severity_rank,
            suppressed,
        })
        .collect();
    let ids: Vec<i64> = unmarked.iter().map(|u| u.0).collect();
    let (_writer, txn) = crate::db::write::begin_write(db).await?;
    let mut hooked = 0;
    for (chunk, ids) in outgoing
        .chunks(BATCH as usize)
        .zip(ids.chunks(BATCH as usize))
    {
        hooked += webhook_deliveries::enqueue(&txn, chunk).await?;
        outbox_envelopes::Model::mark_delivered(&txn, ids).await?;
    }
    txn.commit().await?;
    if hooked > 0 {
        if let Some(wake) = webhooks {
            wake.notify_one();
        }
    }
    Ok(())
}

/// Delivers up to `BATCH` pending envelopes that no live dispatcher holds:
/// publishes them to the live feed (through Redis to every instance's, when
/// `fanout` is up) and creates their webhook deliveries; returns how many.
///
/// # Errors
/// Database errors (nothing is marked then; the next pass retries).
pub async fn dispatch_once(
    db: &DatabaseConnection,
    feed: &Feed,
    webhooks: Option<&Notify>,
    fanout: Option<&Fanout>,
) -> Result<usize> {
    let stale_before = Utc::now()
        - chrono::Duration::from_std(CLAIM_GRACE).unwrap_or_else(|_| chrono::Duration::zero());
    if db.get_database_backend() == sea_orm::DatabaseBackend::Sqlite
        && outbox_envelopes::Model::claim_pending(db, 1, stale_before)
            .await?
            .is_empty()
    {
        // Nothing to take: no need to queue for the write lock.
        return Ok(0);
    }
    let (_writer, txn) = crate::db::write::begin_write(db).await?;
    let rows = outbox_envelopes::Model::claim_pending(&txn, BATCH, stale_before).await?;
    if rows.is_empty() {
        txn.rollback().await?;
        return Ok(0);
    }
    publish(feed, fanout, rows.iter().map(Delivered::from).collect()).await;
    let outgoing: Vec<Outgoing<'_>> = rows
        .iter()
        .map(|r| Outgoing {
            id: r.id,
            event_type: &r.event_type,
            severity_rank: r.severity_rank,
            suppressed: r.suppressed,
        })
        .collect();
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let hooked = webhook_deliveries::enqueue(&txn, &outgoing).await?;
    outbox_envelopes::Model::mark_delivered(&txn, &ids).await?;
    txn.commit().await?;
    if hooked > 0 {
        if let Some(wake) = webhooks {
            wake.notify_one();
        }
    }
    Ok(rows.len())
}
