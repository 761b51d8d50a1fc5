//! Multi-instance fan-out through Redis (SPEC §6). With `redis_url` set, the
//! dispatcher publishes each envelope to one Redis channel instead of its
//! own feed, and every instance's subscriber puts what the channel carries
//! on its local feed: an envelope is claimed by one dispatcher (the outbox),
//! published once, and reaches every client of every instance once.
//!
//! Redis is optional at run time too. While the subscription or a publish
//! fails, the dispatcher publishes to its own feed (clients of this instance
//! still see everything this instance dispatches), `/_health` reports
//! `redis: unavailable` with the reason, and both sides reconnect every
//! second until Redis is back.
use std::{
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex, PoisonError,
    },
    time::Duration,
};

use futures_util::StreamExt;
use loco_rs::prelude::*;
use redis::aio::MultiplexedConnection;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::dispatcher::{Delivered, Feed};

const RETRY: Duration = Duration::from_secs(1);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// An envelope on the wire between instances.
#[derive(Serialize, Deserialize)]
struct Wire<'a> {
    id: i64,
    envelope_id: Uuid,
    severity_rank: i16,
    /// Absent from instances older than silences: not suppressed.
    #[serde(default)]
    suppressed: bool,
    #[serde(borrow)]
    text: std::borrow::Cow<'a, str>,
}

pub struct Fanout {
    client: redis::Client,
    channel: String,
    publisher: tokio::sync::Mutex<Option<MultiplexedConnection>>,
    subscribed: AtomicBool,
    problem: Mutex<Option<String>>,
}

impl Fanout {
    /// # Errors
    /// When `url` is not a Redis URL.
    pub fn new(url: &str, channel: &str) -> Result<Self> {
        let client = redis::Client::open(url)
            .map_err(|e| Error::string(&format!("redis_url is not a Redis URL: {e}")))?;
        Ok(Self {
            client,
            channel: channel.to_string(),
            publisher: tokio::sync::Mutex::new(None),
            subscribed: AtomicBool::new(false),
            problem: Mutex::new(Some("connecting".into())),
        })
    }

    /// The fan-out of this process, if Redis is configured.
    #[must_use]
    pub fn get(ctx: &AppContext) -> Option<Arc<Self>> {
        ctx.shared_store.get::<Arc<Self>>()
    }

    fn set_problem(&self, problem: Option<String>) {
        let mut current = self.problem.lock().unwrap_or_else(PoisonError::into_inner);
        if *current != problem {
            match &problem {
                Some(p) => {
                    tracing::warn!(problem = %p, "redis fan-out degraded: this instance's feed is local only")
                }
                None => tracing::info!("redis fan-out connected"),
            }
        }
        *current = problem;
    }

    /// `None` when healthy, else why not.
    #[must_use]
    pub fn problem(&self) -> Option<String> {
        self.problem
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Subscribes to the channel and feeds `feed` with what arrives, for
    /// ever, reconnecting every second when Redis is down.
    pub fn start_subscriber(self: &Arc<Self>, feed: Arc<Feed>) -> tokio::task::JoinHandle<()> {
        let this = self.clone();
        tokio::spawn(async move {
            loop {
                let connected =
                    tokio::time::timeout(CONNECT_TIMEOUT, this.client.get_async_pubsub()).await;
                match connected {
                    Ok(Ok(mut pubsub)) => match pubsub.subscribe(&this.channel).await {
                        Ok(()) => {
                            this.subscribed.store(true, Ordering::SeqCst);
                            this.set_problem(None);
                            let mut messages = pubsub.on_message();
                            while let Some(msg) = messages.next().await {
                                match serde_json::from_slice::<Wire<'_>>(msg.get_payload_bytes()) {
                                    Ok(w) => feed.send(Delivered {
                                        id: w.id,
                                        envelope_id: w.envelope_id,
                                        severity_rank: w.severity_rank,
                                        suppressed: w.suppressed,
                                        text: w.text.into_owned().into(),
                                    }),
                                    Err(e) => {
                                        tracing::warn!(error = %e, "unreadable envelope on redis");
                                    }
                                }
                            }
                            this.subscribed.store(false, Ordering::SeqCst);
                            this.set_problem(Some("the Redis subscription was lost".into()));
                        }
                        Err(e) => this.set_problem(Some(format!("Redis SUBSCRIBE failed: {e}"))),
                    },
                    Ok(Err(e)) => this.set_problem(Some(format!("cannot reach Redis: {e}"))),
                    Err(_) => {
                        this.set_problem(Some("cannot reach Redis: connect timed out".into()))
                    }
                }
                tokio::time::sleep(RETRY).await;
            }
        })
    }

    /// Whether Redis answers a `PING` (`cargo loco doctor`).
    ///
    /// # Errors
    /// Why it does not.
    pub async fn ping(&self) -> std::result::Result<(), String> {
        let mut conn = tokio::time::timeout(
            CONNECT_TIMEOUT,
            self.client.get_multiplexed_async_connection(),
        )
        .await
        .map_err(|_| "connect timed out".to_string())?
        .map_err(|e| e.to_string())?;
        redis::cmd("PING")
            .query_async::<String>(&mut conn)
            .await
            .map(drop)
            .map_err(|e| e.to_string())
    }

    /// Publishes `batch` to the channel. `false` when this instance is not
    /// subscribed or the publish failed: the caller then publishes locally.
    pub async fn publish(&self, batch: &[Delivered]) -> bool {
        if !self.subscribed.load(Ordering::SeqCst) {
            return false;
        }
        let mut publisher = self.publisher.lock().await;
        if publisher.is_none() {
            match tokio::time::timeout(
                CONNECT_TIMEOUT,
                self.client.get_multiplexed_async_connection(),
            )
            .await
            {
                Ok(Ok(conn)) => *publisher = Some(conn),
                Ok(Err(e)) => {
                    self.set_problem(Some(format!("cannot reach Redis: {e}")));
                    return false;
                }
                Err(_) => {
                    self.set_problem(Some("cannot reach Redis: connect timed out".into()));
                    return false;
                }
            }
        }
        let Some(conn) = publisher.as_mut() else {
            return false;
        };
        let mut pipe = redis::pipe();
        for d in batch {
            let wire = Wire {
                id: d.id,
                envelope_id: d.envelope_id,
                severity_rank: d.severity_rank,
                suppressed: d.suppressed,
                text: std::borrow::Cow::Borrowed(d.text.as_str()),
            };
            let Ok(payload) = serde_json::to_vec(&wire) else {
                return false;
            };
            pipe.publish(&self.channel, payload).ignore();
        }
        match tokio::time::timeout(CONNECT_TIMEOUT * 5, pipe.query_async::<()>(conn)).await {
            Ok(Ok(())) => {
                if self.problem().is_some() && self.subscribed.load(Ordering::SeqCst) {
                    self.set_problem(None);
                }
                true
            }
            Ok(Err(e)) => {
                *publisher = None;
                self.set_problem(Some(format!("Redis PUBLISH failed: {e}")));
                false
            }
            Err(_) => {
                *publisher = None;
                self.set_problem(Some("Redis PUBLISH timed out".into()));
                false
            }
        }
    }
}
