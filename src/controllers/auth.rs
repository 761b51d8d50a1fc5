use axum::http::StatusCode;
use loco_rs::{controller::middleware::remote_ip::RemoteIP, prelude::*};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::{
    controllers::extract::{CurrentUser, JsonBody},
    errors::ApiResult,
    errors::{validate, ApiError, ErrorBody, FieldErrors},
    models::{
        audit,
        login_throttles::{self, Verdict},
        refresh_tokens,
        users::{self, NewUser, RegisterParams},
    },
    settings::Settings,
    views::{
        auth::{LoginResponse, TokenPair},
        users::UserResponse,
    },
};

/// `POST /api/auth/login`: `username` or `email`, and `password`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginParams {
    #[schema(example = "alice", max_length = 254)]
    pub username: Option<String>,
    #[schema(max_length = 254)]
    pub email: Option<String>,
    #[schema(example = "correct-horse-battery", max_length = 1024)]
    pub password: Option<String>,
}

/// `POST /api/auth/refresh` and `/api/auth/logout`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RefreshParams {
    #[schema(max_length = 512)]
    pub refresh: String,
}

fn access_token(
    ctx: &AppContext,
    user: &users::Model,
    session: uuid::Uuid,
) -> Result<(String, u64)> {
    let jwt = ctx.config.get_jwt_config()?;
    let token = user.generate_jwt(&jwt.secret, jwt.expiration, session)?;
    Ok((token, jwt.expiration))
}

/// Register an analyst account. A `role` in the body is ignored: admins come
/// from the CLI or from another admin.
#[utoipa::path(post, path = "/api/auth/register", operation_id = "register", tag = "auth",
    request_body = RegisterParams,
    responses(
        (status = 201, description = "Account created", body = UserResponse),
        (status = 400, description = "Invalid fields", body = ErrorBody),
        (status = 409, description = "Username or email taken", body = ErrorBody),
        (status = 415, description = "Body is not JSON", body = ErrorBody),
    ))]
#[debug_handler]
async fn register(
    State(ctx): State<AppContext>,
    remote: RemoteIP,
    JsonBody(params): JsonBody<RegisterParams>,
) -> ApiResult {
    validate(&params)?;
    let by = crate::models::audit::By::new(
        params.username.clone().unwrap_or_default(),
        crate::controllers::extract::address(&remote),
    );
    let user = users::Model::create_with_password(&ctx.db, &by, &NewUser::analyst(&params)).await?;
    tracing::info!(user = %user.pid, "account registered");
    Ok(format::render()
        .status(StatusCode::CREATED)
        .json(UserResponse::from(&user))?)
}

fn too_many(retry_after: i64) -> ApiResult {
    let body = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_requests",
        format!("Too many failed logins: try again in {retry_after} s"),
    )
    .body();
    Ok(format::render()
        .status(StatusCode::TOO_MANY_REQUESTS)
        .header("retry-after", &retry_after.to_string())
        .json(body)?)
}

/// How a sign-in attempt ended.
pub enum SignIn {
    Granted(users::Model),
    /// Too many failures: try again in this many seconds.
    Throttled {
        retry_after: i64,
    },
    /// Unknown account, wrong password or deactivated: one answer for all.
    Refused,
}

/// Checks a login and password under the login throttle (the API's and the
/// console's sign-in alike): repeated failures for an account from one
/// address, or from one address for any accounts, are throttled; an
/// account failing from many addresses answers ever more slowly. A success
/// clears the failures and records the login.
///
/// # Errors
/// Database errors.
pub async fn check_credentials(
    ctx: &AppContext,
    remote: &RemoteIP,
    login: &str,
    password: &str,
) -> Result<SignIn> {
    let settings = Settings::get(ctx);
    let client = match remote {
        RemoteIP::Forwarded(ip) | RemoteIP::Socket(ip) => login_throttles::client_of(*ip),
        RemoteIP::None => "unknown".to_string(),
    };
    let user = users::Model::find_by_login(&ctx.db, login).await.ok();
    let keys = login_throttles::Keys::for_attempt(user.as_ref(), login, &client);
    let by = |name: &str| {
        audit::By::new(
            name.chars().take(200).collect::<String>(),
            crate::controllers::extract::address(remote),
        )
    };
    match login_throttles::Model::reserve(&ctx.db, &keys, &settings.login_throttle).await? {
        Verdict::Refuse { retry_after } => {
            // Once a minute per account and client: a throttled attacker
            // cannot flood the log.
            audit::note(
                &ctx.db,
                by(login),
                audit::Entry::new("login.throttled", user.as_ref().map(|u| u.pid.to_string())),
                Some(&format!("throttled:{login}:{client}")),
            );
            return Ok(SignIn::Throttled { retry_after });
        }
        Verdict::Proceed { delay } => {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
        }
    }
    let ok = users::Model::password_matches(user.as_ref(), password);
    match user {
        Some(user) if ok && user.is_active => {
            login_throttles::Model::succeeded(&ctx.db, &keys).await?;
            user.touch_login(&ctx.db, &ctx.cache).await?;
            audit::record(
                &ctx.db,
                &by(&user.username),
                audit::Entry::new("login.succeeded", user.pid.to_string()),
            )
            .await?;
            Ok(SignIn::Granted(user))
        }
        user => {
            let reason = match &user {
                None => "unknown account",
                Some(u) if !u.is_active => "deactivated account",
                Some(_) => "wrong password",
            };
            audit::record(
                &ctx.db,
                &by(login),
                audit::Entry::new("login.failed", user.as_ref().map(|u| u.pid.to_string()))
                    .after(serde_json::json!({ "reason": reason })),
            )
            .await?;
            Ok(SignIn::Refused)
        }
    }
}

/// Log in with username or email. Unknown account and wrong password give the
/// same 401. Repeated failures for an account from one client address, or
/// from one address for any accounts, give 429 with `Retry-After`; an
/// account failing from many addresses answers ever more slowly (up to 5 s),
/// never locked.
#[utoipa::path(post, path = "/api/auth/login", operation_id = "login", tag = "auth",
    request_body = LoginParams,
    responses(
        (status = 200, description = "Logged in", body = LoginResponse),
        (status = 400, description = "Missing fields", body = ErrorBody),
        (status = 401, description = "Invalid credentials", body = ErrorBody),
        (status = 429, description = "Too many failures; see Retry-After", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ))]
#[debug_handler]
async fn login(
    State(ctx): State<AppContext>,
    remote: RemoteIP,
    JsonBody(params): JsonBody<LoginParams>,
) -> ApiResult {
    let login = params
        .username
        .as_deref()
        .or(params.email.as_deref())
        .filter(|s| !s.is_empty());
    let password = params.password.as_deref().filter(|s| !s.is_empty());
    let (Some(login), Some(password)) = (login, password) else {
        let mut fields = FieldErrors::new();
        if login.is_none() {
            fields.insert(
                "username".into(),
                vec!["Send `username` or `email`.".into()],
            );
        }
        if password.is_none() {
            fields.insert("password".into(), vec!["This field is required.".into()]);
        }
        return Err(ApiError::validation(fields).into());
    };
    // Bounded before anything is hashed or looked up.
    let mut fields = FieldErrors::new();
    if login.chars().count() > 254 {
        let name = if params.username.is_some() {
            "username"
        } else {
            "email"
        };
        fields.insert(name.into(), vec!["Must be at most 254 characters.".into()]);
    }
    if password.chars().count() > 1024 {
        fields.insert(
            "password".into(),
            vec!["Must be at most 1024 characters.".into()],
        );
    }
    if !fields.is_empty() {
        return Err(ApiError::validation(fields).into());
    }

    let settings = Settings::get(&ctx);
    let user = match check_credentials(&ctx, &remote, login, password).await? {
        SignIn::Granted(user) => user,
        SignIn::Throttled { retry_after } => return too_many(retry_after),
        SignIn::Refused => {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_credentials",
                "Invalid username/email or password",
            )
            .into());
        }
    };

    let (refresh, session) =
        refresh_tokens::Model::issue(&ctx.db, &user, None, settings.refresh_token_ttl_seconds)
            .await?;
    let (access, expires_in) = access_token(&ctx, &user, session)?;
    tracing::info!(user = %user.pid, "logged in");
    Ok(format::json(LoginResponse {
        tokens: TokenPair::new(access, refresh, expires_in),
        user: UserResponse::from(&user),
    })?)
}

/// Exchange a refresh token for a new pair. The old token is spent; using a
/// spent token again revokes every token of its login.
#[utoipa::path(post, path = "/api/auth/refresh", operation_id = "refresh", tag = "auth",
    request_body = RefreshParams,
    responses(
        (status = 200, description = "New tokens", body = TokenPair),
        (status = 401, description = "Invalid, expired, revoked or reused token", body = ErrorBody),
    ))]
#[debug_handler]
async fn refresh(
    State(ctx): State<AppContext>,
    JsonBody(params): JsonBody<RefreshParams>,
) -> ApiResult {
    let ttl = Settings::get(&ctx).refresh_token_ttl_seconds;
    let (user, refresh, session) =
        refresh_tokens::Model::rotate(&ctx.db, &ctx.cache, &params.refresh, ttl).await?;
    let (access, expires_in) = access_token(&ctx, &user, session)?;
    Ok(format::json(TokenPair::new(access, refresh, expires_in))?)
}

/// Log out: the refresh token (and every token rotated from the same login)
/// stops working.
#[utoipa::path(post, path = "/api/auth/logout", operation_id = "logout", tag = "auth",
    request_body = RefreshParams,
    responses(
        (status = 204, description = "Logged out"),
        (status = 401, description = "Unknown refresh token", body = ErrorBody),
    ))]
#[debug_handler]
async fn logout(
    State(ctx): State<AppContext>,
    JsonBody(params): JsonBody<RefreshParams>,
) -> ApiResult {
    refresh_tokens::Model::revoke(&ctx.db, &ctx.cache, &params.refresh).await?;
    Ok(format::render().status(StatusCode::NO_CONTENT).empty()?)
}

/// The current user.
#[utoipa::path(get, path = "/api/auth/me", operation_id = "me", tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The current user", body = UserResponse),
        (status = 401, description = "Missing, invalid or expired token", body = ErrorBody),
    ))]
#[debug_handler]
async fn me(user: CurrentUser, State(_ctx): State<AppContext>) -> ApiResult {
    Ok(format::json(UserResponse::from(&user.user))?)
}

pub fn routes() -> Routes {
    Routes::new()
        .prefix("/api/auth")
        .add("/register", post(register))
        .add("/login", post(login))
        .add("/refresh", post(refresh))
        .add("/logout", post(logout))
        .add("/me", get(me))
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(register, login, refresh, logout, me))]
pub struct AuthApi;
