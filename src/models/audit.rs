//! The audit log: admin actions and security events, each appended in the
//! transaction of the change it records, as a hash chain. Every entry
//! stores the hash of the entry before it and the SHA-256 of that hash and
//! its own content, so altering, removing or reordering an entry breaks
//! the chain at that entry ([`verify`]). The one-row `audit_head` holds the
//! last entry's id and hash: appenders lock it (on PostgreSQL
//! `FOR UPDATE`; SQLite has one writer), so two transactions never extend
//! the same entry, and a removed tail shows against it.
use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};
use loco_rs::prelude::*;
use sea_orm::{DbBackend, Statement};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use uuid::Uuid;

pub use super::_entities::audit_log::{self, ActiveModel, Column, Entity, Model};

impl ActiveModelBehavior for ActiveModel {}
impl ActiveModelBehavior for super::_entities::audit_head::ActiveModel {}

/// The actor name of what the server does by itself (escalation, expiry).
pub const SYSTEM: &str = "system";

/// The hash the first entry follows.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Who acted, and from where.
#[derive(Debug, Clone, Default)]
pub struct By {
    /// The user (`alice`, `alice (API key ci)`), `system`, or for a failed
    /// login the name tried.
    pub actor: String,
    /// The client address, when known.
    pub address: Option<String>,
}

impl By {
    #[must_use]
    pub fn new(actor: impl Into<String>, address: Option<String>) -> Self {
        Self {
            actor: actor.into(),
            address,
        }
    }

    /// The server itself (escalation, expiry).
    #[must_use]
    pub fn system() -> Self {
        Self::new(SYSTEM, None)
    }
}

/// One thing to record: what, on what, before → after (never a secret).
#[derive(Debug, Clone)]
pub struct Entry {
    pub action: &'static str,
    pub target: Option<String>,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

impl Entry {
    #[must_use]
    pub fn new(action: &'static str, target: impl Into<Option<String>>) -> Self {
        Self {
            action,
            target: target.into(),
            before: None,
            after: None,
        }
    }

    #[must_use]
    pub fn before(mut self, value: impl Serialize) -> Self {
        self.before = serde_json::to_value(value).ok();
        self
    }

    #[must_use]
    pub fn after(mut self, value: impl Serialize) -> Self {
        self.after = serde_json::to_value(value).ok();
        self
    }
}

/// The content an entry's hash covers, in a fixed order.
#[derive(Serialize)]
struct Hashed<'a> {
    pid: &'a Uuid,
    at: &'a str,
    actor: &'a str,
    address: Option<&'a str>,
    action: &'a str,
    target: Option<&'a str>,
    before: Option<&'a str>,
    after: Option<&'a str>,
}

fn stamp(at: &DateTime<chrono::FixedOffset>) -> String {
    at.with_timezone(&Utc)
        .to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// SHA-256 (hex) of the previous hash, a newline and the entry's content.
fn chain_hash(prev: &str, row: &Model) -> String {
    let at = stamp(&row.created_at);
    let content = Hashed {
        pid: &row.pid,
        at: &at,
        actor: &row.actor,
        address: row.address.as_deref(),
        action: &row.action,
        target: row.target.as_deref(),
        before: row.before.as_deref(),
        after: row.after.as_deref(),
    };
    let text = serde_json::to_string(&content).unwrap_or_default();
    let mut digest = Sha256::new();
    digest.update(prev.as_bytes());
    digest.update(b"\n");
    digest.update(text.as_bytes());
    hex::encode(digest.finalize())
}

/// The chain's head, locked for this transaction: (last id, last hash).
async fn lock_head<C: ConnectionTrait>(db: &C) -> ModelResult<(i64, String)> {
    let backend = db.get_database_backend();
    let (insert, select) = match backend {
        DbBackend::Postgres => (
            "INSERT INTO audit_head (id, last_id, last_hash, created_at, updated_at) \
             VALUES (1, 0, $1, now(), now()) ON CONFLICT (id) DO NOTHING",
            "SELECT last_id, last_hash FROM audit_head WHERE id = 1 FOR UPDATE",
        ),
        _ => (
            "INSERT INTO audit_head (id, last_id, last_hash, created_at, updated_at) \
             VALUES (1, 0, ?, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP) ON CONFLICT (id) DO NOTHING",
            "SELECT last_id, last_hash FROM audit_head WHERE id = 1",
        ),
    };
    let row = match db
        .query_one_raw(Statement::from_string(backend, select))
        .await?
    {
        Some(row) => row,
        None => {
            db.execute_raw(Statement::from_sql_and_values(
                backend,
                insert,
                [GENESIS.into()],
            ))
            .await?;
            db.query_one_raw(Statement::from_string(backend, select))
                .await?
                .ok_or(ModelError::EntityNotFound)?
        }
    };
    Ok((row.try_get("", "last_id")?, row.try_get("", "last_hash")?))
}

/// Appends `entry` by `by` to the chain, in the caller's transaction (the
/// one that makes the change). On SQLite the caller holds the write lock.
///
/// # Errors
/// Database errors.
pub async fn append<C: ConnectionTrait>(db: &C, by: &By, entry: Entry) -> ModelResult<Model> {
    let (_, prev) = lock_head(db).await?;
    let now: sea_orm::prelude::DateTimeWithTimeZone = Utc::now().trunc_subsecs(6).into();
    let text = |v: Option<Value>| v.map(|v| v.to_string());
    let mut row = Model {
        created_at: now,
        updated_at: now,
        id: 0,
        pid: Uuid::now_v7(),
        actor: by.actor.chars().take(200).collect(),
        address: by.address.as_ref().map(|a| a.chars().take(64).collect()),
        action: entry.action.to_string(),
        target: entry.target.map(|t| t.chars().take(200).collect()),
        before: text(entry.before),
        after: text(entry.after),
        prev_hash: prev.clone(),
        hash: String::new(),
    };
    row.hash = chain_hash(&prev, &row);
    let mut am: ActiveModel = row.clone().into();
    am.id = ActiveValue::NotSet;
    let stored = am.insert(db).await?;
    super::_entities::audit_head::Entity::update_many()
        .col_expr(
            super::_entities::audit_head::Column::LastId,
            sea_orm::sea_query::Expr::value(stored.id),
        )
        .col_expr(
            super::_entities::audit_head::Column::LastHash,
            sea_orm::sea_query::Expr::value(stored.hash.clone()),
        )
        .col_expr(
            super::_entities::audit_head::Column::UpdatedAt,
            sea_orm::sea_query::Expr::value(now),
        )
        .filter(super::_entities::audit_head::Column::Id.eq(1))
        .exec(db)
        .await?;
    Ok(stored)
}

/// Appends `entry` in a transaction of its own (security events that
/// change nothing else: a refused login, a refused key).
///
/// # Errors
/// Database errors.
pub async fn record(db: &DatabaseConnection, by: &By, entry: Entry) -> Result<()> {
    let (_writer, txn) = crate::db::write::begin_write(db).await?;
    Ok(commit_with(txn, by, entry).await?)
}

/// [`append`]s `entry` to `txn` and commits it: the change and its entry
/// land together, and nothing can be appended after the commit.
///
/// # Errors
/// Database errors.
pub async fn commit_with(
    txn: sea_orm::DatabaseTransaction,
    by: &By,
    entry: Entry,
) -> ModelResult<()> {
    append(&txn, by, entry).await?;
    txn.commit().await?;
    Ok(())
}

/// Where the chain breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broken {
    /// The first entry that does not check out (for a removed tail, the
    /// last entry left).
    pub id: i64,
    pub reason: String,
}

/// Checks the whole chain in id order, a thousand entries at a time.
/// Returns how many entries it checked.
///
/// # Errors
/// The first entry that was altered, or that follows a removed entry; or a
/// removed tail; database errors as `Err(Err(..))`.
pub async fn verify(db: &DatabaseConnection) -> Result<std::result::Result<u64, Broken>> {
    // The head first: entries appended while the check runs come after it
    // (appenders hold the head's lock, so ids follow the chain) and are
    // left for the next check rather than taken for a tampered tail.
    let head = super::_entities::audit_head::Entity::find_by_id(1)
        .one(db)
        .await?;
    let end = head.as_ref().map_or(i64::MAX, |h| h.last_id);
    let mut prev = GENESIS.to_string();
    let (mut after, mut count) = (0_i64, 0_u64);
    loop {
        let rows = Entity::find()
            .filter(Column::Id.gt(after))
            .filter(Column::Id.lte(end))
            .order_by_asc(Column::Id)
            .limit(1_000)
            .all(db)
            .await?;
        let Some(last) = rows.last() else { break };
        let next_after = last.id;
        for row in rows {
            if row.prev_hash != prev {
                return Ok(Err(Broken {
                    id: row.id,
                    reason: if after == 0 && count == 0 {
                        "it does not follow the start of the chain: the entries before it \
                         were removed or altered"
                            .to_string()
                    } else {
                        format!(
                            "it does not follow entry {after}: entry {after} was altered, or \
                             entries between them were removed"
                        )
                    },
                }));
            }
            let hash = chain_hash(&prev, &row);
            if hash != row.hash {
                return Ok(Err(Broken {
                    id: row.id,
                    reason: "its content does not match its hash: it was altered".to_string(),
                }));
            }
            prev = row.hash;
            after = row.id;
            count += 1;
        }
        after = next_after;
    }
    if let Some(head) = head {
        if head.last_id != after || head.last_hash != prev {
            return Ok(Err(Broken {
                id: after,
                reason: format!(
                    "the chain ends at entry {after}, but its head names entry {}: the entries \
                     after it were removed",
                    head.last_id
                ),
            }));
        }
    }
    Ok(Ok(count))
}

/// Filters of `GET /api/audit`: each empty or absent means any.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub action: Vec<String>,
    pub actor: Vec<String>,
    pub target: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

/// A page (from 1) of entries matching `q`, newest first, and their count.
///
/// # Errors
/// Database errors.
pub async fn page(
    db: &DatabaseConnection,
    q: &AuditQuery,
    page: u64,
    size: u64,
) -> ModelResult<(Vec<Model>, u64)> {
    let mut select = Entity::find();
    if !q.action.is_empty() {
        select = select.filter(Column::Action.is_in(q.action.clone()));
    }
    if !q.actor.is_empty() {
        select = select.filter(Column::Actor.is_in(q.actor.clone()));
    }
    if let Some(target) = &q.target {
        select = select.filter(Column::Target.eq(target.clone()));
    }
    if let Some(t) = q.since {
        select = select.filter(Column::CreatedAt.gte(t));
    }
    if let Some(t) = q.until {
        select = select.filter(Column::CreatedAt.lt(t));
    }
    Ok(super::listing::page_of(db, select.order_by_desc(Column::Id), page, size).await?)
}

/// Security events that an attacker can repeat at will (a key over its
/// rate, a key refused a scope) are recorded once per `key` per minute, so
/// a flood of refusals cannot flood the log.
fn first_in_a_minute(key: &str) -> bool {
    use std::time::{Duration, Instant};
    let mut seen = recently_noted();
    let now = Instant::now();
    if seen.len() > 10_000 {
        seen.retain(|_, at| now.duration_since(*at) < Duration::from_secs(60));
    }
    match seen.get(key) {
        Some(at) if now.duration_since(*at) < Duration::from_secs(60) => false,
        _ => {
            seen.insert(key.to_string(), now);
            true
        }
    }
}

/// The keys [`first_in_a_minute`] let through, and when.
fn recently_noted(
) -> std::sync::MutexGuard<'static, std::collections::HashMap<String, std::time::Instant>> {
    use std::{
        collections::HashMap,
        sync::{Mutex, OnceLock, PoisonError},
        time::Instant,
    };
    static SEEN: OnceLock<Mutex<HashMap<String, Instant>>> = OnceLock::new();
    SEEN.get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
}

/// Records a security event in the background (the request it concerns
/// changed nothing, and its answer does not wait for the log). With
/// `once_per_minute`, repeats of that key within a minute are dropped.
pub fn note(db: &DatabaseConnection, by: By, entry: Entry, once_per_minute: Option<&str>) {
    if once_per_minute.is_some_and(|key| !first_in_a_minute(key)) {
        return;
    }
    let db = db.clone();
    let key = once_per_minute.map(str::to_string);
    tokio::spawn(async move {
        if let Err(err) = record(&db, &by, entry).await {
            tracing::warn!(error = %err, "audit: a security event could not be recorded");
            // Not recorded: the next repeat is the first again.
            if let Some(key) = key {
                recently_noted().remove(&key);
            }
        }
    });
}

/// Every action the log records.
pub const ACTIONS: &[&str] = &[
    "login.succeeded",
    "login.failed",
    "login.throttled",
    "refresh_token.reused",
    "user.created",
    "user.access_changed",
    "api_key.created",
    "api_key.revoked",
    "api_key.refused_scope",
    "api_key.rate_limited",
    "webhook.created",
    "webhook.updated",
    "webhook.deleted",
    "silence.created",
    "silence.updated",
    "silence.deleted",
    "silence.expired",
    "allowlist.created",
    "allowlist.deleted",
    "escalation_policy.created",
    "escalation_policy.updated",
    "escalation_policy.deleted",
    "alerts.bulk_status",
];
