//! The admins' pages: users (role, active), API keys (created: shown
//! once; revoked), webhooks (created: the secret shown once; enabled or
//! disabled; deliveries). Every handler refuses an analyst with 403, and
//! every form is checked for its CSRF token first.
use axum::http::StatusCode;
use loco_rs::prelude::*;

use super::{
    page, see_other,
    session::{Console, Posted},
    Page,
};
use crate::{
    models::{
        api_keys::{self, NewKey, Scope},
        outbox_envelopes::EnvelopeType,
        users::{self, AccessChange, Role},
        webhooks::{self, NewWebhook, WebhookChange},
        FieldErrors,
    },
    settings::Settings,
    views::{
        api_keys::{ApiKeyResponse, CreatedApiKey},
        console::pages::{KeysPage, UsersPage, WebhookPage, WebhooksPage},
        users::UserResponse,
        webhooks::{CreatedWebhook, DeliveryResponse, WebhookResponse},
    },
};

/// Admin lists show this many rows (users, keys and webhooks are few).
const LIST: u64 = 500;

/// A client's mistake in words, for the page to show; `None` for a fault.
pub(super) fn refused_message(err: &loco_rs::Error) -> Option<String> {
    crate::errors::answer_for(err)
        .filter(|r| r.status.is_client_error())
        .map(|r| r.in_words())
}

async fn users_page(
    console: &Console,
    ctx: &AppContext,
    error: Option<String>,
    status: StatusCode,
) -> Page {
    let (rows, _) = users::Model::list_page(&ctx.db, 1, LIST).await?;
    let mut response = page(
        "users.html",
        &UsersPage {
            layout: console.layout("Users", "users"),
            users: rows.iter().map(UserResponse::from).collect(),
            me: console.user.pid.to_string(),
            flash: None,
            error,
        },
    )?;
    *response.status_mut() = status;
    Ok(response)
}

/// `GET /console/admin/users`.
pub async fn users(console: Console, State(ctx): State<AppContext>) -> Page {
    console.require_admin()?;
    users_page(&console, &ctx, None, StatusCode::OK).await
}

/// `POST /console/admin/users/{id}`: `role` and/or `is_active`, under the
/// last-admin rule (409 shown on the page). A demotion or deactivation
/// ends the user's sessions.
pub async fn change_user(
    State(ctx): State<AppContext>,
    Path(id): Path<String>,
    Posted { console, form, by }: Posted,
) -> Page {
    console.require_admin()?;
    let role = match form.get("role").map(str::parse::<Role>).transpose() {
        Ok(role) => role,
        Err(m) => {
            return users_page(
                &console,
                &ctx,
                Some(format!("role: {m}")),
                StatusCode::BAD_REQUEST,
            )
            .await
        }
    };
    let is_active = match form.get("is_active") {
        None => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(_) => {
            return users_page(
                &console,
                &ctx,
                Some("is_active: true or false.".into()),
                StatusCode::BAD_REQUEST,
            )
            .await
        }
    };
    let target = users::Model::find_by_pid(&ctx.db, &id).await?;
    match target
        .change_access(&ctx.db, &ctx.cache, &by, &AccessChange { role, is_active })
        .await
    {
        Ok(updated) => {
            tracing::info!(admin = %console.user.pid, user = %updated.pid, role = %updated.role, active = updated.is_active, "access changed (console)");
            Ok(see_other("/console/admin/users"))
        }
        Err(err) => match refused_message(&err) {
            Some(m) => users_page(&console, &ctx, Some(m), StatusCode::CONFLICT).await,
            None => Err(err.into()),
        },
    }
}

async fn keys_page(
    console: &Console,
    ctx: &AppContext,
    created: Option<CreatedApiKey>,
    error: Option<String>,
    status: StatusCode,
) -> Page {
    let (rows, _) = api_keys::Model::list_page(&ctx.db, 1, LIST).await?;
    let mut response = page(
        "keys.html",
        &KeysPage {
            layout: console.layout("API keys", "keys"),
            keys: rows.iter().map(ApiKeyResponse::from).collect(),
            created,
            scopes: Scope::ALL.iter().map(|s| s.as_str()).collect(),
            error,
        },
    )?;
    *response.status_mut() = status;
    Ok(response)
}

/// `GET /console/admin/keys`.
pub async fn keys(console: Console, State(ctx): State<AppContext>) -> Page {
    console.require_admin()?;
    keys_page(&console, &ctx, None, None, StatusCode::OK).await
}

/// `POST /console/admin/keys`: creates a key and shows it, this once.
pub async fn create_key(
    State(ctx): State<AppContext>,
    Posted { console, form, by }: Posted,
) -> Page {
    console.require_admin()?;
    let mut fields = FieldErrors::new();
    let rate_limit_per_minute = match form.get("rate_limit_per_minute").map(str::trim) {
        None | Some("") => None,
        Some(raw) => raw.parse::<i32>().map_or_else(
            |_| {
                fields.insert(
                    "rate_limit_per_minute".into(),
                    vec!["A whole number.".into()],
                );
                None
            },
            Some,
        ),
    };
    let expires_at = match form.get("expires_at").map(str::trim) {
        None | Some("") => None,
        Some(raw) => chrono::DateTime::parse_from_rfc3339(raw).map_or_else(
            |_| {
                fields.insert(
                    "expires_at".into(),
                    vec!["An RFC 3339 time, e.g. 2027-01-01T00:00:00Z.".into()],
                );
                None
            },
            |t| Some(t.with_timezone(&chrono::Utc)),
        ),
    };
    if !fields.is_empty() {
        let message = crate::errors::in_words(&fields);
        return keys_page(&console, &ctx, None, Some(message), StatusCode::BAD_REQUEST).await;
    }
    let new = NewKey {
        name: form.get("name").unwrap_or_default().to_string(),
        scopes: form.all("scopes").into_iter().map(str::to_string).collect(),
        expires_at,
        rate_limit_per_minute,
    };
    match api_keys::Model::create(&ctx.db, &console.user, &by, &new).await {
        Ok((row, key)) => {
            tracing::info!(admin = %console.user.pid, key = %row.pid, scopes = %row.scopes, "API key created (console)");
            let created = CreatedApiKey {
                api_key: ApiKeyResponse::from(&row),
                key,
            };
            keys_page(&console, &ctx, Some(created), None, StatusCode::CREATED).await
        }
        Err(err) => match refused_message(&err) {
            Some(m) => keys_page(&console, &ctx, None, Some(m), StatusCode::BAD_REQUEST).await,
            None => Err(err.into()),
        },
    }
}

/// `POST /console/admin/keys/{id}/revoke`.
pub async fn revoke_key(
    State(ctx): State<AppContext>,
    Path(id): Path<String>,
    Posted {
        console,
        form: _,
        by,
    }: Posted,
) -> Page {
    console.require_admin()?;
    let key = api_keys::Model::find_by_pid(&ctx.db, &id)
        .await?
        .revoke(&ctx.db, &by)
        .await?;
    tracing::info!(admin = %console.user.pid, key = %key.pid, "API key revoked (console)");
    Ok(see_other("/console/admin/keys"))
}

async fn webhooks_page(
    console: &Console,
    ctx: &AppContext,
    created: Option<CreatedWebhook>,
    error: Option<String>,
    status: StatusCode,
) -> Page {
    let (rows, _) = webhooks::Model::list_page(&ctx.db, 1, LIST).await?;
    let mut response = page(
        "webhooks.html",
        &WebhooksPage {
            layout: console.layout("Webhooks", "webhooks"),
            webhooks: rows.iter().map(WebhookResponse::from).collect(),
            created,
            event_types: EnvelopeType::names().collect(),
            error,
        },
    )?;
    *response.status_mut() = status;
    Ok(response)
}

/// `GET /console/admin/webhooks`.
pub async fn webhooks(console: Console, State(ctx): State<AppContext>) -> Page {
    console.require_admin()?;
    webhooks_page(&console, &ctx, None, None, StatusCode::OK).await
}

/// `POST /console/admin/webhooks`: creates a webhook (the URL checked
/// against the outbound policy) and shows its secret, this once.
pub async fn create_webhook(
    State(ctx): State<AppContext>,
    Posted { console, form, by }: Posted,
) -> Page {
    console.require_admin()?;
    let types: Vec<String> = form
        .all("event_types")
        .into_iter()
        .map(str::to_string)
        .collect();
    let new = NewWebhook {
        url: form.get("url").unwrap_or_default().trim().to_string(),
        event_types: (!types.is_empty()).then_some(types),
        min_severity: form.get("min_severity").map(str::to_string),
        enabled: None,
    };
    let policy = Settings::get(&ctx).webhooks.outbound();
    match webhooks::Model::create(&ctx.db, &console.user, &by, &new, &policy).await {
        Ok((row, secret)) => {
            tracing::info!(admin = %console.user.pid, webhook = %row.pid, url = %row.url, "webhook created (console)");
            let created = CreatedWebhook {
                webhook: WebhookResponse::from(&row),
                secret,
            };
            webhooks_page(&console, &ctx, Some(created), None, StatusCode::CREATED).await
        }
        Err(err) => match refused_message(&err) {
            Some(m) => webhooks_page(&console, &ctx, None, Some(m), StatusCode::BAD_REQUEST).await,
            None => Err(err.into()),
        },
    }
}

/// `POST /console/admin/webhooks/{id}/enabled`: `enabled=true|false`.
pub async fn toggle_webhook(
    State(ctx): State<AppContext>,
    Path(id): Path<String>,
    Posted { console, form, by }: Posted,
) -> Page {
    console.require_admin()?;
    let enabled = form.get("enabled") == Some("true");
    let change = WebhookChange {
        url: None,
        event_types: None,
        min_severity: None,
        enabled: Some(enabled),
    };
    let hook = webhooks::Model::find_by_pid(&ctx.db, &id)
        .await?
        .change(
            &ctx.db,
            &by,
            &change,
            &Settings::get(&ctx).webhooks.outbound(),
        )
        .await?;
    tracing::info!(admin = %console.user.pid, webhook = %hook.pid, enabled = hook.enabled, "webhook changed (console)");
    if hook.enabled {
        if let Ok(sweeper) = crate::workers::webhooks::Sweeper::get(&ctx) {
            sweeper.poke();
        }
    }
    Ok(see_other("/console/admin/webhooks"))
}

/// `GET /console/admin/webhooks/{id}`: the webhook and its latest
/// deliveries (status, attempts, last code and error).
pub async fn webhook(
    console: Console,
    State(ctx): State<AppContext>,
    Path(id): Path<String>,
) -> Page {
    console.require_admin()?;
    let hook = webhooks::Model::find_by_pid(&ctx.db, &id).await?;
    let (deliveries, _) = hook.deliveries(&ctx.db, 1, 100).await?;
    page(
        "webhook.html",
        &WebhookPage {
            layout: console.layout("Webhook", "webhooks"),
            webhook: WebhookResponse::from(&hook),
            deliveries: deliveries.iter().map(DeliveryResponse::from).collect(),
        },
    )
}
