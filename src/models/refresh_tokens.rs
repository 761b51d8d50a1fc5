use chrono::{Duration, Utc};
use loco_rs::{cache::Cache, hash, prelude::*};
use sea_orm::sea_query::Expr;
use uuid::Uuid;

pub use super::_entities::refresh_tokens::{self, ActiveModel, Column, Entity, Model};
use super::domain_errors;
use super::users;

impl ActiveModelBehavior for ActiveModel {}

/// SHA-256 (hex) of an opaque refresh token: what the database keeps.
fn digest(token: &str) -> String {
    crate::digest::sha256_hex(token)
}

/// A refresh token that does not work, whatever the reason (an attacker
/// learns nothing from the difference).
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("The refresh token is invalid, expired or revoked")]
pub struct Rejected;

domain_errors!(Rejected);

fn invalid() -> Error {
    Rejected.into()
}

impl Model {
    /// Issues a new refresh token for `user` in `family` (a new family for a
    /// fresh login) and returns the plaintext token, shown only this once,
    /// with its family: the session its access tokens name (`sid`).
    ///
    /// # Errors
    /// Database errors.
    pub async fn issue<C: ConnectionTrait>(
        db: &C,
        user: &users::Model,
        family: Option<Uuid>,
        ttl_seconds: i64,
    ) -> ModelResult<(String, Uuid)> {
        let token = format!("vgr_{}", hash::random_string(48));
        let family = family.unwrap_or_else(Uuid::new_v4);
        ActiveModel {
            token_hash: ActiveValue::set(digest(&token)),
            family: ActiveValue::set(family),
            expires_at: ActiveValue::set((Utc::now() + Duration::seconds(ttl_seconds)).into()),
            user_id: ActiveValue::set(user.id),
            ..Default::default()
        }
        .insert(db)
        .await?;
        Ok((token, family))
    }

    /// Whether the session (`family`) an access token names is still live:
    /// not logged out, not revoked for reuse. Read from the database at most
    /// once a second per session (kept in `cache`); a revocation made in
    /// this process applies at once, and for good.
    ///
    /// # Errors
    /// Database errors.
    pub async fn session_alive(
        db: &DatabaseConnection,
        cache: &Cache,
        family: Uuid,
    ) -> ModelResult<bool> {
        let key = session_key(family);
        if let Ok(Some(alive)) = cache.get::<bool>(&key).await {
            return Ok(alive);
        }
        let alive = Entity::find()
            .filter(Column::Family.eq(family))
            .filter(Column::RevokedAt.is_null())
            .one(db)
            .await?
            .is_some();
        // An ended session stays ended; a live one is read again in a second.
        let kept = if alive {
            cache.insert_with_expiry(&key, &alive, SESSION_TTL).await
        } else {
            cache.insert(&key, &alive).await
        };
        if let Err(err) = kept {
            tracing::warn!(error = %err, "session cache refused an entry");
        }
        Ok(alive)
    }

    /// Spends `token` and issues its successor in the same family. A token
    /// that was already spent (a replay, or a stolen copy) revokes the whole
    /// family: both holders must log in again.
    ///
    /// # Errors
    /// 401 when the token is unknown, expired, revoked or replayed; 401 when
    /// the account is inactive; database errors.
    pub async fn rotate(
        db: &DatabaseConnection,
        cache: &Cache,
        token: &str,
        ttl_seconds: i64,
    ) -> Result<(users::Model, String, Uuid)> {
        let Some(row) = Entity::find()
            .filter(Column::TokenHash.eq(digest(token)))
            .one(db)
            .await?
        else {
            return Err(invalid());
        };
        if row.revoked_at.is_some() {
            return Err(invalid());
        }
        if row.used_at.is_some() {
            tracing::warn!(
                user_id = row.user_id,
                "refresh token reused: family revoked"
            );
            Self::revoke_family(db, cache, row.family).await?;
            let username = users::Entity::find_by_id(row.user_id)
                .one(db)
                .await?
                .map_or_else(|| format!("user {}", row.user_id), |u| u.username);
            super::audit::record(
                db,
                &super::audit::By::new(username, None),
                super::audit::Entry::new("refresh_token.reused", row.family.to_string())
                    .after(serde_json::json!({"revoked": "every token of this login"})),
            )
            .await?;
            return Err(invalid());
        }
        if row.expires_at < Utc::now() {
            return Err(invalid());
        }
        let (_writer, txn) = crate::db::write::begin_write(db).await?;
        // Spend it only if nobody else did in the meantime: of two concurrent
        // refreshes with one token, exactly one wins.
        let spent = Entity::update_many()
            .col_expr(Column::UsedAt, Expr::value(Utc::now()))
            .filter(Column::Id.eq(row.id))
            .filter(Column::UsedAt.is_null())
            .filter(Column::RevokedAt.is_null())
            .exec(&txn)
            .await?;
        if spent.rows_affected != 1 {
            txn.rollback().await?;
            Self::revoke_family(db, cache, row.family).await?;
            return Err(invalid());
        }
        let user = users::Entity::find_by_id(row.user_id)
            .one(&txn)
            .await?
            .filter(|u| u.is_active)
            .ok_or_else(invalid)?;
        let (next, family) = Self::issue(&txn, &user, Some(row.family), ttl_seconds).await?;
        txn.commit().await?;
        Ok((user, next, family))
    }

    /// Revokes the family of `token` (logout). Already revoked: nothing to do.
    ///
    /// # Errors
    /// 401 when the token is unknown; database errors.
    pub async fn revoke(db: &DatabaseConnection, cache: &Cache, token: &str) -> Result<()> {
        let row = Entity::find()
            .filter(Column::TokenHash.eq(digest(token)))
            .one(db)
            .await?
            .ok_or_else(invalid)?;
        Self::revoke_family(db, cache, row.family).await?;
        Ok(())
    }

    /// The console session a cookie holds: the family and the user of a
    /// refresh token that is live (not spent, revoked or expired) and whose
    /// account is active. Checked on every console request the way an
    /// access token is: the token's row, the session and the user are each
    /// read from the database at most once a second (kept in `cache`), and
    /// a sign-out or an account change made in this process applies at the
    /// next request (one made by another instance within that second).
    ///
    /// # Errors
    /// Database errors.
    pub async fn console_session(
        db: &DatabaseConnection,
        cache: &Cache,
        token: &str,
    ) -> ModelResult<Option<(Uuid, users::Model)>> {
        if token.len() > 128 {
            return Ok(None);
        }
        let key = format!("console:{}", digest(token));
        let held = match cache.get::<Held>(&key).await {
            Ok(Some(held)) => held,
            _ => {
                let Some(row) = Entity::find()
                    .filter(Column::TokenHash.eq(digest(token)))
                    .filter(Column::RevokedAt.is_null())
                    .filter(Column::UsedAt.is_null())
                    .one(db)
                    .await?
                else {
                    return Ok(None);
                };
                let Some(user) = users::Entity::find_by_id(row.user_id).one(db).await? else {
                    return Ok(None);
                };
                let held = Held {
                    family: row.family,
                    user: user.pid,
                    expires_at: row.expires_at.with_timezone(&Utc),
                };
                if let Err(err) = cache.insert_with_expiry(&key, &held, SESSION_TTL).await {
                    tracing::warn!(error = %err, "session cache refused an entry");
                }
                held
            }
        };
        if held.expires_at < Utc::now() || !Self::session_alive(db, cache, held.family).await? {
            return Ok(None);
        }
        match users::Model::find_for_token(db, cache, &held.user.to_string()).await {
            Ok(user) if user.is_active => Ok(Some((held.family, user))),
            Ok(_) | Err(ModelError::EntityNotFound) => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// Revokes every live token of a family.
    ///
    /// # Errors
    /// Database errors.
    pub async fn revoke_family(
        db: &DatabaseConnection,
        cache: &Cache,
        family: Uuid,
    ) -> ModelResult<u64> {
        if let Err(err) = cache.insert(&session_key(family), &false).await {
            tracing::warn!(error = %err, "session cache could not record an ended session");
        }
        let res = Entity::update_many()
            .col_expr(Column::RevokedAt, Expr::value(Utc::now()))
            .filter(Column::Family.eq(family))
            .filter(Column::RevokedAt.is_null())
            .exec(db)
            .await?;
        Ok(res.rows_affected)
    }
}

/// A console cookie's token, as read from its row.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Held {
    family: Uuid,
    user: Uuid,
    expires_at: chrono::DateTime<Utc>,
}

/// How long a session read live is trusted ([`Model::session_alive`]).
const SESSION_TTL: std::time::Duration = std::time::Duration::from_secs(1);

/// The cache key of a session's state.
fn session_key(family: Uuid) -> String {
    format!("session:{family}")
}
