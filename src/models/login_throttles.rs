//! Failed-login throttling (SPEC §2). Every attempt is reserved, counted
//! atomically, before its password is checked, so concurrent guesses cannot
//! race past a limit. Three counts:
//!
//! - per (account, client address): `max_failures_per_account` within the
//!   window, then 429 for that address only, so an attacker at one address
//!   cannot keep the owner at another out;
//! - per client address: `max_failures_per_client`, any accounts, then 429;
//! - per account, across addresses: past `account_delay_after`, the
//!   account takes one attempt per slot whose length doubles with each
//!   further failure, up to `max_delay_ms`; attempts queue for their slot
//!   (sent together, they wait one after another), and one that would wait
//!   longer than `max_delay_ms` gets 429: slower guessing from many
//!   addresses, never a lock.
//!
//! A successful login gives back its reservation: it clears its (account,
//! address) and account counts and takes one off its address's.
use chrono::{Duration, Utc};
use loco_rs::prelude::*;
use sea_orm::sea_query::{Expr, ExprTrait as _, OnConflict};

pub use super::_entities::login_throttles::{self, ActiveModel, Column, Entity, Model};
use crate::settings::LoginThrottle;

impl ActiveModelBehavior for ActiveModel {}

/// The three throttle keys of one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keys {
    pub pair: String,
    pub client: String,
    pub account: String,
}

impl Keys {
    /// The keys of an attempt that named `login`: the account budget is the
    /// resolved account's, whichever of its names (username or email) the
    /// attempt used; a login naming no account is counted by that name.
    #[must_use]
    pub fn for_attempt(user: Option<&super::users::Model>, login: &str, client: &str) -> Self {
        let account = user.map_or_else(
            || format!("?{}", login.to_lowercase()),
            |u| u.id.to_string(),
        );
        Self::new(&account, client)
    }

    /// `account` is the resolved account (its id), or, for a login that
    /// names no account, that login in lower case (so unknown names are
    /// throttled alike and answer alike).
    #[must_use]
    pub fn new(account: &str, client: &str) -> Self {
        Self {
            pair: format!("pair:{account}|{client}"),
            client: format!("client:{client}"),
            account: format!("account:{account}"),
        }
    }
}

/// The client a login attempt is counted against: its IPv4 address, or
/// the /64 network of its IPv6 address (one subscriber's usual share, all
/// of whose addresses an attacker holds at once).
#[must_use]
pub fn client_of(ip: std::net::IpAddr) -> String {
    match ip.to_canonical() {
        std::net::IpAddr::V4(v4) => v4.to_string(),
        std::net::IpAddr::V6(v6) => {
            let s = v6.segments();
            let net = std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0);
            format!("{net}/64")
        }
    }
}

/// What a reserved attempt may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Check the password, after waiting this long (until the account's
    /// next free slot; zero when it has no delay).
    Proceed { delay: std::time::Duration },
    /// Refuse with 429: this many seconds until the window ends.
    Refuse { retry_after: i64 },
}

/// The delay an account with `failures` (this attempt included) imposes.
#[must_use]
pub fn account_delay(failures: i64, policy: &LoginThrottle) -> std::time::Duration {
    let over = failures - policy.account_delay_after;
    if over <= 0 {
        return std::time::Duration::ZERO;
    }
    // 250 ms, 500 ms, 1 s, ... up to the cap.
    let shift = u32::try_from(over - 1).unwrap_or(u32::MAX);
    let shift = std::cmp::Ord::min(shift, 20);
    let ms = std::cmp::Ord::min(250u64.saturating_mul(1u64 << shift), policy.max_delay_ms);
    std::time::Duration::from_millis(ms)
}

impl Model {
    /// Counts one attempt against `key` and returns its count in the
    /// window and when the window started (one atomic upsert: a window
    /// that has run out starts again at one).
    async fn reserve_one<C: ConnectionTrait>(
        db: &C,
        key: &str,
        policy: &LoginThrottle,
    ) -> ModelResult<Self> {
        let now = Utc::now();
        let cutoff = now - Duration::seconds(policy.window_seconds);
        let expired = Expr::col((Entity, Column::WindowStartedAt)).lte(cutoff);
        let on_conflict = OnConflict::column(Column::Key)
            .value(
                Column::Failures,
                Expr::case(expired.clone(), 1)
                    .finally(Expr::col((Entity, Column::Failures)).add(1)),
            )
            .value(
                Column::WindowStartedAt,
                Expr::case(expired, now).finally(Expr::col((Entity, Column::WindowStartedAt))),
            )
            .value(Column::UpdatedAt, now)
            .to_owned();
        let row = Entity::insert(ActiveModel {
            key: ActiveValue::set(key.to_string()),
            failures: ActiveValue::set(1),
            window_started_at: ActiveValue::set(now.into()),
            created_at: ActiveValue::set(now.into()),
            updated_at: ActiveValue::set(now.into()),
            ..Default::default()
        })
        .on_conflict(on_conflict)
        .exec_with_returning(db)
        .await?;
        Ok(row)
    }

    /// Reserves one attempt against every key, before the password is
    /// checked, and says whether it may go on.
    ///
    /// # Errors
    /// Database errors.
    pub async fn reserve(
        db: &DatabaseConnection,
        keys: &Keys,
        policy: &LoginThrottle,
    ) -> ModelResult<Verdict> {
        let now = Utc::now();
        let retry_after = |row: &Self| {
            let seconds = (row.window_started_at.with_timezone(&Utc)
                + Duration::seconds(policy.window_seconds)
                - now)
                .num_seconds();
            std::cmp::Ord::max(seconds, 1)
        };
        // One write transaction (on SQLite behind the in-process write
        // lock, so a burst of attempts queues rather than times out).
        let (_writer, txn) = crate::db::write::begin_write(db).await?;
        let pair = Self::reserve_one(&txn, &keys.pair, policy).await?;
        let client = Self::reserve_one(&txn, &keys.client, policy).await?;
        let refused = [
            (pair.failures > policy.max_failures_per_account).then(|| retry_after(&pair)),
            (client.failures > policy.max_failures_per_client).then(|| retry_after(&client)),
        ]
        .into_iter()
        .flatten()
        .max();
        if let Some(retry_after) = refused {
            txn.commit().await?;
            return Ok(Verdict::Refuse { retry_after });
        }
        let account = Self::reserve_one(&txn, &keys.account, policy).await?;
        let delay = account_delay(account.failures, policy);
        let verdict = if delay.is_zero() {
            Verdict::Proceed { delay }
        } else {
            Self::take_slot(&txn, &keys.account, delay, policy).await?
        };
        txn.commit().await?;
        Ok(verdict)
    }

    /// Past its delay threshold an account takes one attempt per slot of
    /// `delay`, from whatever addresses they come: attempts sent together
    /// queue rather than wait side by side, so parallel guessing gains
    /// nothing. An attempt whose slot would start more than `max_delay_ms`
    /// from now is refused (429, try again when it would start) without
    /// taking one, so the queue never grows past that: a flood slows the
    /// account down, it never locks it for a fixed time.
    async fn take_slot<C: ConnectionTrait>(
        db: &C,
        account: &str,
        delay: std::time::Duration,
        policy: &LoginThrottle,
    ) -> ModelResult<Verdict> {
        let now = Utc::now();
        let key = format!("slot:{account}");
        // The slot row holds, in `window_started_at`, when the next slot
        // starts; locked for this transaction (FOR UPDATE on PostgreSQL,
        // the in-process write lock on SQLite).
        Entity::insert(ActiveModel {
            key: ActiveValue::set(key.clone()),
            failures: ActiveValue::set(0),
            window_started_at: ActiveValue::set(now.into()),
            created_at: ActiveValue::set(now.into()),
            updated_at: ActiveValue::set(now.into()),
            ..Default::default()
        })
        .on_conflict(OnConflict::column(Column::Key).do_nothing().to_owned())
        .exec_without_returning(db)
        .await?;
        let Some(row) = Entity::find()
            .filter(Column::Key.eq(&key))
            .lock_exclusive()
            .one(db)
            .await?
        else {
            return Ok(Verdict::Proceed { delay });
        };
        let next_free = row.window_started_at.with_timezone(&Utc);
        let start = if next_free > now { next_free } else { now };
        let wait = (start - now).to_std().unwrap_or_default();
        if wait > std::time::Duration::from_millis(policy.max_delay_ms) {
            let seconds = i64::try_from(wait.as_secs()).unwrap_or(i64::MAX);
            return Ok(Verdict::Refuse {
                retry_after: std::cmp::Ord::max(seconds, 1),
            });
        }
        let slot_end = start + Duration::from_std(delay).unwrap_or_default();
        let mut am = row.into_active_model();
        am.window_started_at = ActiveValue::set(slot_end.into());
        am.updated_at = ActiveValue::set(now.into());
        am.update(db).await?;
        Ok(Verdict::Proceed { delay: wait })
    }

    /// A successful login: clears its (account, address) and account
    /// counts, and gives its address back the attempt it reserved.
    ///
    /// # Errors
    /// Database errors.
    pub async fn succeeded(db: &DatabaseConnection, keys: &Keys) -> ModelResult<()> {
        let (_writer, txn) = crate::db::write::begin_write(db).await?;
        Entity::delete_many()
            .filter(Column::Key.is_in([
                keys.pair.clone(),
                keys.account.clone(),
                format!("slot:{}", keys.account),
            ]))
            .exec(&txn)
            .await?;
        Entity::update_many()
            .col_expr(Column::Failures, Expr::col(Column::Failures).sub(1))
            .filter(Column::Key.eq(keys.client.clone()))
            .filter(Column::Failures.gt(0))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok(())
    }

    /// Deletes the counts whose window ended before `cutoff` (the daily
    /// purge): they no longer limit anything.
    ///
    /// # Errors
    /// Database errors.
    pub async fn purge_before(
        db: &DatabaseConnection,
        cutoff: chrono::DateTime<Utc>,
    ) -> ModelResult<u64> {
        let res = Entity::delete_many()
            .filter(Column::WindowStartedAt.lt(cutoff))
            .exec(db)
            .await?;
        Ok(res.rows_affected)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_account_delay_doubles_past_its_threshold_up_to_the_cap() {
        let policy = LoginThrottle {
            account_delay_after: 10,
            max_delay_ms: 5_000,
            ..LoginThrottle::default()
        };
        let ms = |f| account_delay(f, &policy).as_millis();
        assert_eq!(ms(10), 0);
        assert_eq!(ms(11), 250);
        assert_eq!(ms(12), 500);
        assert_eq!(ms(13), 1_000);
        assert_eq!(ms(15), 4_000);
        assert_eq!(ms(16), 5_000);
        assert_eq!(ms(1_000), 5_000);
    }

    #[test]
    fn ipv6_clients_count_by_their_64_network() {
        let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
        assert_eq!(client_of(ip("203.0.113.9")), "203.0.113.9");
        assert_eq!(client_of(ip("::ffff:203.0.113.9")), "203.0.113.9");
        assert_eq!(client_of(ip("2001:db8:1:2:aaaa::1")), "2001:db8:1:2::/64");
        assert_eq!(
            client_of(ip("2001:db8:1:2:ffff:ffff:ffff:fffe")),
            client_of(ip("2001:db8:1:2::7"))
        );
        assert_ne!(
            client_of(ip("2001:db8:1:3::7")),
            client_of(ip("2001:db8:1:2::7"))
        );
    }

    #[test]
    fn keys_name_the_account_and_the_address() {
        let keys = Keys::new("42", "203.0.113.9");
        assert_eq!(keys.pair, "pair:42|203.0.113.9");
        assert_eq!(keys.client, "client:203.0.113.9");
        assert_eq!(keys.account, "account:42");
    }
}
