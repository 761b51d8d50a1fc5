use chrono::{Duration, Utc};
use loco_rs::prelude::*;
use sea_orm::sea_query::OnConflict;

pub use super::_entities::login_throttles::{self, ActiveModel, Column, Entity, Model};
use crate::settings::LoginThrottle;

impl ActiveModelBehavior for ActiveModel {}

/// The throttle keys of one login attempt: the account named and the client.
#[must_use]
pub fn keys(login: &str, client: &str) -> [String; 2] {
    [
        format!("account:{}", login.to_lowercase()),
        format!("client:{client}"),
    ]
}

fn limit_for(key: &str, policy: &LoginThrottle) -> i64 {
    if key.starts_with("account:") {
        policy.max_failures_per_account
    } else {
        policy.max_failures_per_client
    }
}

impl Model {
    /// Seconds until `keys` may try again, if any of them is over its limit.
    ///
    /// # Errors
    /// Database errors.
    pub async fn retry_after(
        db: &DatabaseConnection,
        keys: &[String],
        policy: &LoginThrottle,
    ) -> ModelResult<Option<i64>> {
        let rows = Entity::find()
            .filter(Column::Key.is_in(keys.iter().cloned()))
            .all(db)
            .await?;
        let now = Utc::now();
        let wait = rows
            .iter()
            .filter(|r| r.failures >= limit_for(&r.key, policy))
            .map(|r| {
                (r.window_started_at.with_timezone(&Utc) + Duration::seconds(policy.window_seconds)
                    - now)
                    .num_seconds()
            })
            .filter(|s| *s > 0)
            .max();
        Ok(wait)
    }

    /// Counts one failed attempt against every key; a window that has run out
    /// starts again at one.
    ///
    /// # Errors
    /// Database errors.
    pub async fn record_failure(
        db: &DatabaseConnection,
        keys: &[String],
        policy: &LoginThrottle,
    ) -> ModelResult<()> {
        let now = Utc::now();
        let (_writer, txn) = super::begin_write(db).await?;
        for key in keys {
            let existing = Entity::find().filter(Column::Key.eq(key)).one(&txn).await?;
            match existing {
                Some(row) => {
                    let expired = row.window_started_at.with_timezone(&Utc)
                        + Duration::seconds(policy.window_seconds)
                        <= now;
                    let failures = row.failures;
                    let mut am = row.into_active_model();
                    if expired {
                        am.failures = ActiveValue::set(1);
                        am.window_started_at = ActiveValue::set(now.into());
                    } else {
                        am.failures = ActiveValue::set(failures.saturating_add(1));
                    }
                    am.update(&txn).await?;
                }
                None => {
                    // A concurrent first failure may insert the same key: keep theirs.
                    Entity::insert(ActiveModel {
                        key: ActiveValue::set(key.clone()),
                        failures: ActiveValue::set(1),
                        window_started_at: ActiveValue::set(now.into()),
                        ..Default::default()
                    })
                    .on_conflict(OnConflict::column(Column::Key).do_nothing().to_owned())
                    .exec_without_returning(&txn)
                    .await?;
                }
            }
        }
        txn.commit().await?;
        Ok(())
    }

    /// Forgets the failures of an account after it logged in.
    ///
    /// # Errors
    /// Database errors.
    pub async fn clear(db: &DatabaseConnection, key: &str) -> ModelResult<()> {
        Entity::delete_many()
            .filter(Column::Key.eq(key))
            .exec(db)
            .await?;
        Ok(())
    }
}
