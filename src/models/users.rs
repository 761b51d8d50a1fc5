use std::{str::FromStr, sync::OnceLock};

use loco_rs::cache::Cache;
use loco_rs::{auth::jwt, hash, prelude::*};
use sea_orm::{sea_query::Expr, SqlErr};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

pub use super::_entities::users::{self, ActiveModel, Column, Entity, Model};
use super::domain_errors;

/// What a person may do (SPEC §1).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    ToSchema,
    strum::Display,
    strum::IntoStaticStr,
    strum::VariantArray,
)]
#[serde(rename_all = "UPPERCASE")]
#[strum(serialize_all = "UPPERCASE")]
pub enum Role {
    Admin,
    Analyst,
}

impl Role {
    /// `ADMIN` or `ANALYST`, as stored.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        super::variant_named(s)
            .ok_or_else(|| format!("unknown role `{s}`: expected ADMIN or ANALYST"))
    }
}

/// Case-insensitive on input, uppercase on output.
impl<'de> Deserialize<'de> for Role {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// `POST /api/auth/register`. Every field is optional at the parse step so
/// that all missing and invalid fields are reported together.
#[derive(Debug, Deserialize, Validate, ToSchema)]
pub struct RegisterParams {
    #[validate(
        required(message = "This field is required."),
        length(min = 1, max = 150, message = "Must be 1 to 150 characters."),
        custom(function = "validate_username")
    )]
    #[schema(example = "alice", min_length = 1, max_length = 150)]
    pub username: Option<String>,
    #[validate(
        required(message = "This field is required."),
        email(message = "Enter a valid email address."),
        length(max = 254, message = "Must be at most 254 characters.")
    )]
    #[schema(example = "alice@example.com", max_length = 254)]
    pub email: Option<String>,
    #[validate(
        required(message = "This field is required."),
        length(
            min = 10,
            max = 1024,
            message = "Must be at least 10 characters (and at most 1024)."
        )
    )]
    #[schema(example = "correct-horse-battery", min_length = 10, max_length = 1024)]
    pub password: Option<String>,
}

fn validate_username(name: &str) -> Result<(), validator::ValidationError> {
    // The name the server's own actions (escalation, expiry) carry in
    // history and the audit log: no person may look like it.
    if name.eq_ignore_ascii_case(super::audit::SYSTEM) {
        let mut err = validator::ValidationError::new("username");
        err.message = Some("`system` is reserved for the server's own actions".into());
        return Err(err);
    }
    if name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "@.+-_".contains(c))
    {
        Ok(())
    } else {
        let mut err = validator::ValidationError::new("username");
        err.message = Some("Use only letters, digits and @ . + - _".into());
        Err(err)
    }
}

/// The fields of a new account, once validated.
#[derive(Debug, Clone)]
pub struct NewUser<'a> {
    pub username: &'a str,
    pub email: &'a str,
    pub password: &'a str,
    pub role: Role,
}

impl<'a> NewUser<'a> {
    /// An analyst account from a validated registration.
    #[must_use]
    pub fn analyst(params: &'a RegisterParams) -> Self {
        Self {
            username: params.username.as_deref().unwrap_or_default(),
            email: params.email.as_deref().unwrap_or_default(),
            password: params.password.as_deref().unwrap_or_default(),
            role: Role::Analyst,
        }
    }
}

/// The changes an admin may make to an account.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccessChange {
    pub role: Option<Role>,
    pub is_active: Option<bool>,
}

#[async_trait::async_trait]
impl ActiveModelBehavior for super::_entities::users::ActiveModel {
    async fn before_save<C>(self, _db: &C, insert: bool) -> Result<Self, DbErr>
    where
        C: ConnectionTrait,
    {
        if insert {
            let mut this = self;
            this.pid = ActiveValue::Set(Uuid::new_v4());
            Ok(this)
        } else {
            Ok(self)
        }
    }
}

#[async_trait]
impl Authenticable for Model {
    async fn find_by_api_key(_db: &DatabaseConnection, _api_key: &str) -> ModelResult<Self> {
        // Users have no API key: machine keys are their own table.
        Err(ModelError::EntityNotFound)
    }

    async fn find_by_claims_key(db: &DatabaseConnection, claims_key: &str) -> ModelResult<Self> {
        let pid = Uuid::parse_str(claims_key).map_err(|_| ModelError::EntityNotFound)?;
        Entity::find()
            .filter(Column::Pid.eq(pid))
            .one(db)
            .await?
            .ok_or(ModelError::EntityNotFound)
    }
}

/// A hash of a password nobody has, verified when the account does not
/// exist so that a wrong username costs the same time as a wrong password.
fn decoy_hash() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| hash::hash_password("vigil-decoy-password").unwrap_or_default())
}

impl Model {
    /// The account's role; an unknown value in the row grants nothing beyond analyst.
    #[must_use]
    pub fn role(&self) -> Role {
        self.role.parse().unwrap_or(Role::Analyst)
    }

    #[must_use]
    pub fn is_admin(&self) -> bool {
        self.is_active && self.role() == Role::Admin
    }

    /// Finds a user by public id.
    ///
    /// # Errors
    /// `NotFound` when there is none (or the id is not a UUID); database
    /// errors.
    pub async fn find_by_pid(db: &DatabaseConnection, pid: &str) -> Result<Self> {
        super::find_by_pid::<Entity, _>(db, "user", Column::Pid, pid).await
    }

    /// The user an access token names, as [`Self::find_by_pid`], read from
    /// the database at most once per [`RECENT_TTL`] per user (kept in
    /// `cache`, the app's in-process cache): the token check runs on every
    /// request, and a query each time was the largest per-request database
    /// cost. A change of role or active flag made here forgets the user at
    /// once ([`Self::change_access`]); one made by another instance is seen
    /// here within [`RECENT_TTL`].
    ///
    /// # Errors
    /// `EntityNotFound` when there is none (or the id is not a UUID).
    pub async fn find_for_token(
        db: &DatabaseConnection,
        cache: &Cache,
        pid: &str,
    ) -> ModelResult<Self> {
        let pid = Uuid::parse_str(pid).map_err(|_| ModelError::EntityNotFound)?;
        let key = recent_key(&pid);
        if let Ok(Some(user)) = cache.get::<Self>(&key).await {
            return Ok(user);
        }
        let user = Entity::find()
            .filter(Column::Pid.eq(pid))
            .one(db)
            .await?
            .ok_or(ModelError::EntityNotFound)?;
        if let Err(err) = cache.insert_with_expiry(&key, &user, RECENT_TTL).await {
            tracing::warn!(error = %err, "user cache refused an entry");
        }
        Ok(user)
    }

    /// Finds a user by username or email (case-insensitive for email).
    ///
    /// # Errors
    /// `EntityNotFound` when there is none.
    pub async fn find_by_login(db: &DatabaseConnection, login: &str) -> ModelResult<Self> {
        let cond = if login.contains('@') {
            Column::Email.eq(login.to_lowercase())
        } else {
            Column::Username.eq(login)
        };
        Entity::find()
            .filter(cond)
            .one(db)
            .await?
            .ok_or(ModelError::EntityNotFound)
    }

    /// Checks a password; unknown accounts are checked against a decoy so the
    /// answer takes the same time either way.
    #[must_use]
    pub fn password_matches(user: Option<&Self>, password: &str) -> bool {
        match user {
            Some(user) => hash::verify_password(password, &user.password),
            None => {
                let _ = hash::verify_password(password, decoy_hash());
                false
            }
        }
    }

    /// Creates an account with an Argon2id password hash. Username and email
    /// are unique: a duplicate is a 409 naming the field, even when two
    /// registrations race (the unique indexes decide).
    ///
    /// # Errors
    /// 409 `duplicate` on a taken username or email; database errors.
    pub async fn create_with_password(
        db: &DatabaseConnection,
        by: &super::audit::By,
        new: &NewUser<'_>,
    ) -> Result<Self> {
        let email = new.email.to_lowercase();
        if let Some(field) = Self::taken_field(db, new.username, &email).await? {
            return Err(AccountError::Duplicate { field }.into());
        }
        let password = hash::hash_password(new.password)?;
        let (writer, txn) = crate::db::write::begin_write(db).await?;
        let inserted = ActiveModel {
            username: ActiveValue::set(new.username.to_string()),
            email: ActiveValue::set(email.clone()),
            password: ActiveValue::set(password),
            role: ActiveValue::set(new.role.as_str().to_string()),
            is_active: ActiveValue::set(true),
            ..Default::default()
        }
        .insert(&txn)
        .await;
        match inserted {
            Ok(user) => {
                super::audit::commit_with(
                    txn,
                    by,
                    super::audit::Entry::new("user.created", user.pid.to_string())
                        .after(user.access_snapshot()),
                )
                .await?;
                Ok(user)
            }
            Err(err) if matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
                txn.rollback().await?;
                drop(writer);
                let field = Self::taken_field(db, new.username, &email)
                    .await?
                    .unwrap_or("username");
                Err(AccountError::Duplicate { field }.into())
            }
            Err(err) => Err(err.into()),
        }
    }

    async fn taken_field(
        db: &DatabaseConnection,
        username: &str,
        email: &str,
    ) -> ModelResult<Option<&'static str>> {
        let hit = Entity::find()
            .filter(
                Condition::any()
                    .add(Column::Username.eq(username))
                    .add(Column::Email.eq(email)),
            )
            .one(db)
            .await?;
        Ok(hit.map(|u| {
            if u.username == username {
                "username"
            } else {
                "email"
            }
        }))
    }

    /// Issues a short-lived access token (JWT) for this user.
    ///
    /// # Errors
    /// When the token cannot be signed.
    pub fn generate_jwt(
        &self,
        secret: &str,
        expiration: u64,
        session: Uuid,
    ) -> ModelResult<String> {
        let mut claims = serde_json::Map::new();
        claims.insert("typ".into(), "access".into());
        // The login (refresh-token family) the token belongs to: logging out
        // or a detected refresh-token theft ends its access tokens too.
        claims.insert("sid".into(), session.to_string().into());
        jwt::JWT::new(secret)
            .generate_token(expiration, self.pid.to_string(), claims)
            .map_err(ModelError::from)
    }

    /// One page of users, newest first.
    ///
    /// # Errors
    /// Database errors.
    pub async fn list_page(
        db: &DatabaseConnection,
        page: u64,
        page_size: u64,
    ) -> ModelResult<(Vec<Self>, u64)> {
        let sel = Entity::find()
            .order_by_desc(Column::CreatedAt)
            .order_by_desc(Column::Id);
        Ok(super::listing::page_of(db, sel, page, page_size).await?)
    }

    /// Counts active admins other than `except`.
    async fn other_active_admins<C: ConnectionTrait>(db: &C, except: i64) -> ModelResult<u64> {
        Ok(Entity::find()
            .filter(Column::Role.eq(Role::Admin.as_str()))
            .filter(Column::IsActive.eq(true))
            .filter(Column::Id.ne(except))
            .count(db)
            .await?)
    }

    /// Changes role and/or active flag. The last active admin can be neither
    /// demoted nor deactivated, so the service always has someone in charge.
    ///
    /// # Errors
    /// 409 `last_admin`; database errors.
    pub async fn change_access(
        self,
        db: &DatabaseConnection,
        cache: &Cache,
        by: &super::audit::By,
        change: &AccessChange,
    ) -> Result<Self> {
        let (_writer, txn) = crate::db::write::begin_write(db).await?;
        let role = change.role.unwrap_or_else(|| self.role());
        let active = change.is_active.unwrap_or(self.is_active);
        let loses_admin = self.is_admin() && !(active && role == Role::Admin);
        if loses_admin && Self::other_active_admins(&txn, self.id).await? == 0 {
            return Err(AccountError::LastAdmin.into());
        }
        let before = self.access_snapshot();
        let mut am = self.into_active_model();
        am.role = ActiveValue::set(role.as_str().to_string());
        am.is_active = ActiveValue::set(active);
        let user = am.update(&txn).await?;
        let after = user.access_snapshot();
        if before != after {
            super::audit::append(
                &txn,
                by,
                super::audit::Entry::new("user.access_changed", user.pid.to_string())
                    .before(before)
                    .after(after),
            )
            .await?;
        }
        txn.commit().await?;
        forget(cache, &user.pid).await;
        Ok(user)
    }

    /// What the audit log shows of an account (never its password).
    #[must_use]
    pub fn access_snapshot(&self) -> serde_json::Value {
        serde_json::json!({
            "username": self.username,
            "email": self.email,
            "role": self.role,
            "is_active": self.is_active,
        })
    }

    /// Records a successful login.
    ///
    /// # Errors
    /// Database errors.
    pub async fn touch_login(&self, db: &DatabaseConnection, cache: &Cache) -> ModelResult<()> {
        Entity::update_many()
            .col_expr(Column::LastLoginAt, Expr::value(chrono::Utc::now()))
            .filter(Column::Id.eq(self.id))
            .exec(db)
            .await?;
        forget(cache, &self.pid).await;
        Ok(())
    }
}

/// How long a user read for a token check is trusted.
pub const RECENT_TTL: std::time::Duration = std::time::Duration::from_secs(1);

/// The cache key of a user read for a token check.
fn recent_key(pid: &Uuid) -> String {
    format!("user:{pid}")
}

/// Drops a user read for token checks, after a change.
async fn forget(cache: &Cache, pid: &Uuid) {
    if let Err(err) = cache.remove(&recent_key(pid)).await {
        tracing::warn!(error = %err, "user cache could not forget a changed user");
    }
}

/// Why an account change was refused.
#[derive(Debug, Clone, Copy, thiserror::Error)]
pub enum AccountError {
    /// `field` (`username` or `email`) names another account already.
    #[error("A user with this {field} already exists.")]
    Duplicate { field: &'static str },
    /// The change would leave no active admin.
    #[error("This is the last active admin: promote another admin first")]
    LastAdmin,
}

domain_errors!(AccountError);
