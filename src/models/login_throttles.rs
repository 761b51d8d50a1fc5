//! Failed-login throttling (SPEC §2). Every attempt is reserved, counted
//! atomically, before its password is checked, so concurrent guesses cannot
//! race past a limit. Three counts:
//!
//! - per (account, client address): `max_failures_per_account` within the
//!   window, then 429 for that address only, so an attacker at one address
//!   cannot keep the owner at another out;
//! - per client address: `max_failures_per_client`, any accounts, then 429;
//! - per account, across addresses: past `account_delay_after`, every
//!   attempt at the account waits a delay that doubles with each further
//!   failure, up to `max_delay_ms`: slower guessing from many addresses,
//!   never a lock.
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

/// What a reserved attempt may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Check the password, after waiting this long (the account's
    /// progressive delay; zero when there is none).
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
        let (_writer, txn) = super::begin_write(db).await?;
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
        txn.commit().await?;
        Ok(Verdict::Proceed {
            delay: account_delay(account.failures, policy),
        })
    }

    /// A successful login: clears its (account, address) and account
    /// counts, and gives its address back the attempt it reserved.
    ///
    /// # Errors
    /// Database errors.
    pub async fn succeeded(db: &DatabaseConnection, keys: &Keys) -> ModelResult<()> {
        let (_writer, txn) = super::begin_write(db).await?;
        Entity::delete_many()
            .filter(Column::Key.is_in([keys.pair.clone(), keys.account.clone()]))
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
    fn keys_name_the_account_and_the_address() {
        let keys = Keys::new("42", "203.0.113.9");
        assert_eq!(keys.pair, "pair:42|203.0.113.9");
        assert_eq!(keys.client, "client:203.0.113.9");
        assert_eq!(keys.account, "account:42");
    }
}
