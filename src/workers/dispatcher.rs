//! The outbox dispatcher: one task per process that takes the lifecycle
//! envelopes not yet delivered (`delivered_at IS NULL`), in id order,
//! publishes them to the live feed and marks them delivered, in one
//! transaction. Envelopes are written in the transaction of the change they
//! describe, so a crash loses none: whatever was committed and not marked
//! is delivered after the restart (at least once).
//!
//! Writers poke the dispatcher after they commit; it also polls, for
//! envelopes committed by other instances or by paths that did not poke.
use std::{sync::Arc, time::Duration};

use loco_rs::prelude::*;
use tokio::sync::{broadcast, Notify};
use uuid::Uuid;

use super::fanout::Fanout;
use crate::models::outbox_envelopes;

/// Envelopes per dispatch transaction.
const BATCH: u64 = 500;
/// How often the dispatcher looks without being poked.
const POLL: Duration = Duration::from_millis(250);

/// One delivered envelope, serialized once for every subscriber.
#[derive(Debug)]
pub struct Delivered {
    /// The outbox row id: the delivery order.
    pub id: i64,
    pub envelope_id: Uuid,
    pub severity_rank: i16,
    /// The envelope as JSON text, shared by every subscriber's socket
    /// (cloning it is a reference count, not a copy).
    pub text: axum::extract::ws::Utf8Bytes,
}

impl From<&outbox_envelopes::Model> for Delivered {
    fn from(row: &outbox_envelopes::Model) -> Self {
        Self {
            id: row.id,
            envelope_id: row.envelope_id,
            severity_rank: row.severity_rank,
            text: row.envelope.to_string().into(),
        }
    }
}

/// The live feed of this process: delivered envelopes fan out to every
/// subscriber. Sending never waits, so a slow subscriber cannot slow
/// ingestion; it falls behind, and its receiver reports the lag.
pub struct Feed {
    tx: broadcast::Sender<Arc<Delivered>>,
    wake: Arc<Notify>,
}

impl Feed {
    /// A subscriber may fall `buffer` envelopes behind before it is dropped.
    #[must_use]
    pub fn new(buffer: usize) -> Self {
        Self {
            tx: broadcast::channel(buffer.max(1)).0,
            wake: Arc::new(Notify::new()),
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

    /// What writers notify after committing envelopes.
    #[must_use]
    pub fn waker(&self) -> Arc<Notify> {
        self.wake.clone()
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
/// `webhooks` when it created webhook deliveries.
pub fn start(
    db: DatabaseConnection,
    feed: Arc<Feed>,
    webhooks: Option<Arc<Notify>>,
    fanout: Option<Arc<Fanout>>,
) {
    tokio::spawn(async move {
        loop {
            match dispatch_once(&db, &feed, webhooks.as_deref(), fanout.as_deref()).await {
                // A full batch: more may be waiting.
                Ok(n) if n as u64 == BATCH => continue,
                Ok(_) => {}
                Err(err) => tracing::warn!(error = %err, "outbox dispatch failed; retrying"),
            }
            tokio::select! {
                () = feed.wake.notified() => {}
                () = tokio::time::sleep(POLL) => {}
            }
        }
    });
}

/// Delivers up to `BATCH` pending envelopes: publishes them to the live feed
/// (through Redis to every instance's, when `fanout` is up) and creates
/// their webhook deliveries; returns how many.
///
/// # Errors
/// Database errors (nothing is marked then; the next pass retries).
pub async fn dispatch_once(
    db: &DatabaseConnection,
    feed: &Feed,
    webhooks: Option<&Notify>,
    fanout: Option<&Fanout>,
) -> Result<usize> {
    let _writer = crate::models::sqlite_write_lock(db).await;
    let txn = db.begin().await?;
    let rows = outbox_envelopes::Model::claim_pending(&txn, BATCH).await?;
    if rows.is_empty() {
        txn.rollback().await?;
        return Ok(0);
    }
    let batch: Vec<Delivered> = rows.iter().map(Delivered::from).collect();
    let shared = match fanout {
        Some(fanout) => fanout.publish(&batch).await,
        None => false,
    };
    if !shared {
        for delivered in batch {
            feed.send(delivered);
        }
    }
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let hooked = crate::models::webhooks::enqueue(&txn, &rows).await?;
    outbox_envelopes::Model::mark_delivered(&txn, &ids).await?;
    txn.commit().await?;
    if hooked > 0 {
        if let Some(wake) = webhooks {
            wake.notify_one();
        }
    }
    Ok(rows.len())
}
