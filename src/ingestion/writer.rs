//! Group commit for ingestion. Every request that stores events hands them
//! to one writer task per process, which takes whatever requests are
//! waiting (up to `MAX_ROUND_EVENTS` events) and stores them in one
//! transaction: one alert upsert per fingerprint, one multi-row insert per
//! table, one commit (one WAL flush) for all of them. Under load a commit
//! serves dozens of requests; alone, a request is a round of its own, so
//! nothing waits for company.
//!
//! A request is answered only after its round commits. If a round fails
//! (a database error, or an idempotency key that another instance stored
//! meanwhile), its requests are retried one by one, so one bad request
//! never costs the others their events.
//!
//! The writer is a task rather than the request's own future so that a
//! client hanging up mid-round cannot cancel the transaction other
//! requests are waiting on.
use std::{collections::HashSet, sync::Arc};

use loco_rs::prelude::*;
use tokio::sync::{mpsc, oneshot};

use super::gate::{Gate, Snapshot};
use crate::models::{
    events::{IngestRequest, Ingested, Model as Event},
    idempotency_keys::{self, IdempotentRequest, StoredAnswer},
    log_cursors::{self, Position},
    new_event::NewEvent,
    outbox_envelopes::Claimed,
    severity::Severity,
};
use crate::{
    db::storage::{self, StorageState},
    errors::db_error,
    workers::dispatcher::Feed,
};

/// Rounds stop growing at this many events (a job is never split): one
/// full batch, or up to a thousand single events. The round's rows, their
/// JSON and the rows returned are held at once, so this bounds memory;
/// larger rounds bought some throughput for much more RSS (figures:
/// README, "Why these settings").
const MAX_ROUND_EVENTS: usize = 1_000;
/// Requests waiting for the writer before senders wait in turn.
const QUEUE: usize = 1_024;

/// How a request's answer is made from its stored events: a value the
/// writer carries (`views::events::IngestAnswer`), so an idempotent
/// request's answer is made and stored in the transaction that stores its
/// events.
pub trait AnswerShape: Send + Sync + 'static {
    /// The status and body for `done`, the request's stored events.
    fn render(&self, done: &[Ingested]) -> StoredAnswer;

    /// How the events came (`/metrics`'s `path` label).
    fn path(&self) -> &'static str {
        "single"
    }
}

/// An idempotent request: its key, and the shape of its answer.
pub struct Idempotency {
    pub request: IdempotentRequest,
    pub answer: Box<dyn AnswerShape>,
}

struct Job {
    items: Vec<NewEvent>,
    /// `single`, `batch` or `log`, for `/metrics`.
    path: &'static str,
    correlation_id: String,
    idempotency: Option<Idempotency>,
    /// A log file's read position, saved with these events.
    position: Option<Position>,
    done: oneshot::Sender<Result<Done>>,
}

/// What became of a job.
enum Done {
    /// An idempotent request's answer: made now, or stored by its first try.
    Answered(StoredAnswer),
    /// The stored events (the caller makes its own answer, if any).
    Stored(Vec<Ingested>),
}

/// What the writer task is asked to do.
enum Work {
    Store(Box<Job>),
    /// A write probe for `/_health` ([`storage::probe_write`]), on the
    /// writer's own connection.
    Probe(oneshot::Sender<Result<(), sea_orm::DbErr>>),
}

/// The handle requests use to reach the writer (kept in the shared store).
#[derive(Clone)]
pub struct IngestWriter {
    tx: mpsc::Sender<Work>,
    state: StorageState,
    last_probe: Arc<tokio::sync::Mutex<Option<ProbeResult>>>,
    gate: Arc<Gate>,
}

/// When the last write probe ran and how it went.
type ProbeResult = (std::time::Instant, std::result::Result<(), String>);

impl IngestWriter {
    /// Starts the writer task for `db`. With `feed`, the envelopes of each
    /// round are claimed for this process's dispatcher (when it runs) and
    /// handed to it after the commit; else it is poked.
    #[must_use]
    pub fn start(db: DatabaseConnection, threshold: Severity, feed: Option<Arc<Feed>>) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE);
        let state = StorageState::default();
        let gate = Arc::new(Gate::default());
        tokio::spawn(run(db, threshold, rx, feed, state.clone(), gate.clone()));
        Self {
            tx,
            state,
            last_probe: Arc::default(),
            gate,
        }
    }

    /// The allowlist and silences this writer applies.
    #[must_use]
    pub fn gate(&self) -> Arc<Gate> {
        self.gate.clone()
    }

    /// Why storage has been refusing this writer's writes, if it has and
    /// no write succeeded since.
    #[must_use]
    pub fn storage_problem(&self) -> Option<String> {
        self.state.problem()
    }

    /// A real write on the writer's connection ([`storage::probe_write`]);
    /// success clears [`Self::storage_problem`]. One probe at a time, at
    /// most one every [`storage::RETRY_AFTER_SECONDS`]: callers in between
    /// (a load balancer's checks, anyone's) share the last result, so
    /// health checks cannot crowd out ingestion.
    ///
    /// # Errors
    /// The problem the last probe met, as text.
    pub async fn probe(&self) -> std::result::Result<(), String> {
        let mut last = self.last_probe.lock().await;
        // A probe that ran while this caller waited may have settled it.
        if self.state.problem().is_none() {
            return Ok(());
        }
        if let Some((at, Err(problem))) = last.as_ref() {
            if at.elapsed() < std::time::Duration::from_secs(storage::RETRY_AFTER_SECONDS) {
                return Err(problem.clone());
            }
        }
        let result = self.probe_now().await.map_err(|e| e.to_string());
        *last = Some((std::time::Instant::now(), result.clone()));
        result
    }

    async fn probe_now(&self) -> Result<()> {
        let (done, reply) = oneshot::channel();
        let stopped = || Error::string("the ingestion writer has stopped");
        self.tx
            .send(Work::Probe(done))
            .await
            .map_err(|_| stopped())?;
        reply.await.map_err(|_| stopped())?.map_err(Error::from)
    }

    /// The writer started by `App::after_context`.
    ///
    /// # Errors
    /// When the app was built without one.
    pub fn get(ctx: &AppContext) -> Result<Arc<Self>> {
        ctx.shared_store
            .get::<Arc<Self>>()
            .ok_or_else(|| Error::string("ingestion writer not started"))
    }

    /// Stores a request's `items` (events, alerts, history, envelopes) and
    /// returns its `answer`. With an idempotency key, a retry gets the
    /// stored first answer and stores nothing; the answer is stored in the
    /// same transaction as the events, so a crash cannot separate them.
    ///
    /// # Errors
    /// 422 for a reused key with another body; database errors.
    pub async fn submit_request(
        &self,
        db: &DatabaseConnection,
        items: Vec<NewEvent>,
        correlation_id: &str,
        key: Option<IdempotentRequest>,
        answer: impl AnswerShape,
    ) -> Result<StoredAnswer> {
        let path = answer.path();
        let Some(request) = key else {
            let done = self.submit(items, path, correlation_id, None, None).await?;
            return Ok(match done {
                Done::Stored(ingested) => answer.render(&ingested),
                Done::Answered(stored) => stored,
            });
        };
        if let Some(stored) = idempotency_keys::Model::replay(db, &request).await? {
            return Ok(stored);
        }
        let idempotency = Idempotency {
            request,
            answer: Box::new(answer),
        };
        match self
            .submit(items, path, correlation_id, Some(idempotency), None)
            .await?
        {
            Done::Answered(stored) => Ok(stored),
            // Not reached: a job with a key is always answered.
            Done::Stored(_) => Err(Error::string("an idempotent request went unanswered")),
        }
    }

    /// Stores a log batch's `items` and returns them; with `position`, also
    /// saves that log-file position in the same transaction, so the
    /// position and the events of the lines before it are stored together
    /// or not at all.
    ///
    /// # Errors
    /// Database errors.
    pub async fn submit_log_batch(
        &self,
        items: Vec<NewEvent>,
        correlation_id: &str,
        position: Option<Position>,
    ) -> Result<Vec<Ingested>> {
        match self
            .submit(items, "log", correlation_id, None, position)
            .await?
        {
            Done::Stored(ingested) => Ok(ingested),
            // Not reached: without a key nothing is answered in the writer.
            Done::Answered(_) => Err(Error::string("a log batch got a stored answer")),
        }
    }

    async fn submit(
        &self,
        items: Vec<NewEvent>,
        path: &'static str,
        correlation_id: &str,
        idempotency: Option<Idempotency>,
        position: Option<Position>,
    ) -> Result<Done> {
        let (done, reply) = oneshot::channel();
        let job = Job {
            items,
            path,
            correlation_id: correlation_id.to_string(),
            idempotency,
            position,
            done,
        };
        let stopped = || Error::string("the ingestion writer has stopped");
        self.tx
            .send(Work::Store(Box::new(job)))
            .await
            .map_err(|_| stopped())?;
        reply.await.map_err(|_| stopped())?
    }
}

async fn run(
    db: DatabaseConnection,
    threshold: Severity,
    mut rx: mpsc::Receiver<Work>,
    feed: Option<Arc<Feed>>,
    state: StorageState,
    gate: Arc<Gate>,
) {
    let mut carried: Option<Job> = None;
    let mut probes = Vec::new();
    loop {
        let first = match carried.take() {
            Some(job) => job,
            None => match rx.recv().await {
                Some(Work::Store(job)) => *job,
                Some(Work::Probe(done)) => {
                    probe(&db, &state, done).await;
                    continue;
                }
                None => return,
            },
        };
        let mut events = first.items.len();
        let mut jobs = vec![first];
        while events < MAX_ROUND_EVENTS {
            match rx.try_recv() {
                Ok(Work::Store(job)) => {
                    if events + job.items.len() > MAX_ROUND_EVENTS {
                        carried = Some(*job);
                        break;
                    }
                    events += job.items.len();
                    jobs.push(*job);
                }
                Ok(Work::Probe(done)) => probes.push(done),
                Err(_) => break,
            }
        }
        metrics::histogram!("vigil_writer_round_events").record(events as f64);
        let rules = gate.current(&db).await;
        let started = std::time::Instant::now();
        round(&db, threshold, jobs, feed.as_deref(), &state, &rules).await;
        metrics::histogram!("vigil_writer_commit_seconds").record(started.elapsed().as_secs_f64());
        for done in probes.drain(..) {
            probe(&db, &state, done).await;
        }
    }
}

async fn probe(
    db: &DatabaseConnection,
    state: &StorageState,
    done: oneshot::Sender<Result<(), sea_orm::DbErr>>,
) {
    let result = storage::probe_write(db).await;
    match &result {
        Ok(()) => state.succeeded(),
        Err(err) => state.failed(err),
    }
    let _ = done.send(result);
}

/// Notes a failed commit attempt in the writer's storage state (a
/// successful one is noted where it commits, only when it wrote).
fn note(state: &StorageState, result: &Result<Done>) {
    if let Err(err) = result {
        if let Some(db) = db_error(err) {
            state.failed(db);
        }
    }
}

/// Stores `jobs` in one transaction, or each alone if that fails.
async fn round(
    db: &DatabaseConnection,
    threshold: Severity,
    jobs: Vec<Job>,
    feed: Option<&Feed>,
    state: &StorageState,
    rules: &Snapshot,
) {
    // A retry queued behind its own first attempt goes after this round,
    // where it finds the stored answer.
    let mut seen = HashSet::new();
    let (mut together, mut alone) = (Vec::with_capacity(jobs.len()), Vec::new());
    for job in jobs {
        match &job.idempotency {
            Some(Idempotency { request, .. })
                if !seen.insert((request.principal.clone(), request.key.clone())) =>
            {
                alone.push(job);
            }
            _ => together.push(job),
        }
    }
    let _writer = crate::db::write::sqlite_write_lock(db).await;
    if together.len() == 1 {
        alone.insert(0, together.remove(0));
    }
    if !together.is_empty() {
        match commit_together(db, threshold, &together, feed, state, rules).await {
            Ok(replies) => {
                for (job, reply) in together.into_iter().zip(replies) {
                    let _ = job.done.send(Ok(reply));
                }
            }
            Err(err) => {
                if let Some(db) = db_error(&err) {
                    state.failed(db);
                }
                tracing::warn!(error = %err, requests = together.len(), "group commit failed; storing each request alone");
                alone.splice(0..0, together);
            }
        }
    }
    for job in alone {
        let reply = commit_alone(db, threshold, &job, feed, state, rules).await;
        note(state, &reply);
        let _ = job.done.send(reply);
    }
}

/// Counts a stored job's events for `/metrics`.
fn counted(job: &Job) {
    crate::telemetry::ingested(job.path, job.items.iter().map(|e| e.severity.as_str()));
}

/// After a commit: hands the claimed envelopes to the dispatcher, or pokes
/// it for the unclaimed ones.
fn committed(feed: Option<&Feed>, claimed: Vec<Claimed>) {
    if let Some(feed) = feed {
        if claimed.is_empty() {
            feed.poke();
        } else {
            feed.hand_off(claimed);
        }
    }
}

async fn commit_together(
    db: &DatabaseConnection,
    threshold: Severity,
    jobs: &[Job],
    feed: Option<&Feed>,
    state: &StorageState,
    rules: &Snapshot,
) -> Result<Vec<Done>> {
    let txn = crate::db::write::begin_immediate(db).await?;
    // Idempotent requests answered since they were queued are replays.
    let mut replies: Vec<Option<Done>> = Vec::with_capacity(jobs.len());
    for job in jobs {
        let replay = match &job.idempotency {
            Some(idem) => idempotency_keys::Model::replay(&txn, &idem.request).await?,
            None => None,
        };
        replies.push(replay.map(Done::Answered));
    }
    let fresh: Vec<&Job> = jobs
        .iter()
        .zip(&replies)
        .filter(|(_, r)| r.is_none())
        .map(|(j, _)| j)
        .collect();
    let requests: Vec<IngestRequest<'_>> = fresh
        .iter()
        .map(|j| IngestRequest {
            events: &j.items,
            correlation_id: &j.correlation_id,
        })
        .collect();
    let (stored, claimed) = Event::ingest(
        &txn,
        &requests,
        threshold,
        rules,
        feed.and_then(Feed::claimant),
    )
    .await?;
    let mut stored = stored.into_iter();
    for job in &fresh {
        if let Some(position) = &job.position {
            log_cursors::Model::save(&txn, position).await?;
        }
    }
    for (job, reply) in jobs.iter().zip(replies.iter_mut()) {
        if reply.is_some() {
            continue;
        }
        let ingested = stored.next().unwrap_or_default();
        *reply = Some(match &job.idempotency {
            Some(idem) => {
                let answer = idem.answer.render(&ingested);
                if !idempotency_keys::Model::store(&txn, &idem.request, &answer).await? {
                    txn.rollback().await?;
                    return Err(Error::string("idempotency key stored concurrently"));
                }
                Done::Answered(answer)
            }
            None => Done::Stored(ingested),
        });
    }
    txn.commit().await?;
    if fresh.iter().any(|j| !j.items.is_empty()) {
        state.succeeded();
    }
    for job in &fresh {
        counted(job);
    }
    committed(feed, claimed);
    Ok(replies.into_iter().flatten().collect())
}

async fn commit_alone(
    db: &DatabaseConnection,
    threshold: Severity,
    job: &Job,
    feed: Option<&Feed>,
    state: &StorageState,
    rules: &Snapshot,
) -> Result<Done> {
    if let Some(idem) = &job.idempotency {
        if let Some(answer) = idempotency_keys::Model::replay(db, &idem.request).await? {
            return Ok(Done::Answered(answer));
        }
    }
    let txn = crate::db::write::begin_immediate(db).await?;
    let (mut stored, claimed) = Event::ingest(
        &txn,
        &[IngestRequest {
            events: &job.items,
            correlation_id: &job.correlation_id,
        }],
        threshold,
        rules,
        feed.and_then(Feed::claimant),
    )
    .await?;
    let ingested = stored.pop().unwrap_or_default();
    if let Some(position) = &job.position {
        log_cursors::Model::save(&txn, position).await?;
    }
    let wrote = !job.items.is_empty();
    let Some(idem) = &job.idempotency else {
        txn.commit().await?;
        counted(job);
        if wrote {
            state.succeeded();
        }
        committed(feed, claimed);
        return Ok(Done::Stored(ingested));
    };
    let answer = idem.answer.render(&ingested);
    if !idempotency_keys::Model::store(&txn, &idem.request, &answer).await? {
        // A concurrent retry won: drop ours, answer with theirs.
        txn.rollback().await?;
        return idempotency_keys::Model::replay(db, &idem.request)
            .await?
            .map(Done::Answered)
            .ok_or_else(|| Error::string("idempotency key vanished"));
    }
    txn.commit().await?;
    counted(job);
    // The stored answer is a write even without events.
    state.succeeded();
    committed(feed, claimed);
    Ok(Done::Answered(answer))
}
