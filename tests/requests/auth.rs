use serde_json::{json, Value};
use vigil::models::{
    _entities::refresh_tokens,
    users::{self, Role},
};

use super::prepare_data::{assert_error, create_user, login, token_for, PASSWORD};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

#[tokio::test]
async fn register_creates_an_analyst_without_exposing_the_hash() {
    crate::support::request(|request, ctx| async move {
        let response = request
            .post("/api/auth/register")
            .json(&json!({
                "username": "alice",
                "email": "Alice@Example.com",
                "password": "a-long-password",
                "role": "ADMIN"
            }))
            .await;
        assert_eq!(response.status_code(), 201, "{}", response.text());
        let body: Value = response.json();
        assert_eq!(body["username"], "alice");
        assert_eq!(body["email"], "alice@example.com");
        assert_eq!(body["role"], "ANALYST", "a role in the body is ignored");
        assert_eq!(body["is_active"], true);
        assert!(body["id"]
            .as_str()
            .is_some_and(|id| uuid::Uuid::parse_str(id).is_ok()));
        let text = response.text();
        assert!(!text.contains("password"), "no password field: {text}");
        assert!(!text.contains("argon2"), "no hash: {text}");

        let stored = users::Model::find_by_login(&ctx.db, "alice").await.unwrap();
        assert_eq!(stored.role(), Role::Analyst);
        assert!(stored.password.starts_with("$argon2id$"), "Argon2id hash");
    })
    .await;
}

#[tokio::test]
async fn register_reports_every_invalid_field() {
    crate::support::request(|request, _ctx| async move {
        let response = request
            .post("/api/auth/register")
            .json(&json!({"username": "", "email": "not-an-email", "password": "short"}))
            .await;
        let body = assert_error(&response, 400, "validation_failed");
        for field in ["username", "email", "password"] {
            assert!(body["fields"][field].is_array(), "{field} reported: {body}");
        }
        assert!(body["fields"]["password"][0]
            .as_str()
            .unwrap()
            .contains("10 characters"));

        let response = request.post("/api/auth/register").json(&json!({})).await;
        let body = assert_error(&response, 400, "validation_failed");
        for field in ["username", "email", "password"] {
            assert_eq!(body["fields"][field][0], "This field is required.");
        }

        let response = request
            .post("/api/auth/register")
            .json(&json!({"username": "bob", "email": "bob@example.com", "password": 1234567890}))
            .await;
        let body = assert_error(&response, 400, "validation_failed");
        assert!(body["fields"]["password"].is_array(), "{body}");
    })
    .await;
}

#[tokio::test]
async fn register_duplicates_are_409_naming_the_field() {
    crate::support::request(|request, _ctx| async move {
        let alice =
            json!({"username": "alice", "email": "alice@example.com", "password": PASSWORD});
        assert_eq!(
            request
                .post("/api/auth/register")
                .json(&alice)
                .await
                .status_code(),
            201
        );

        let response = request.post("/api/auth/register").json(&alice).await;
        let body = assert_error(&response, 409, "duplicate");
        assert!(body["fields"]["username"].is_array());

        let response = request
            .post("/api/auth/register")
            .json(
                &json!({"username": "alice2", "email": "ALICE@example.com", "password": PASSWORD}),
            )
            .await;
        let body = assert_error(&response, 409, "duplicate");
        assert!(body["fields"]["email"].is_array(), "{body}");
    })
    .await;
}

#[tokio::test]
async fn login_by_username_or_email_returns_tokens_and_user() {
    crate::support::request(|request, ctx| async move {
        create_user(&ctx, "alice", Role::Analyst).await;
        let body = login(&request, "alice").await;
        assert!(body["access"]
            .as_str()
            .is_some_and(|t| t.split('.').count() == 3));
        assert!(body["refresh"].as_str().is_some_and(|t| t.len() > 32));
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["expires_in"], 900);
        assert_eq!(body["user"]["username"], "alice");
        assert!(body["user"].get("password").is_none());

        let response = request
            .post("/api/auth/login")
            .json(&json!({"email": "alice@example.com", "password": PASSWORD}))
            .await;
        assert_eq!(response.status_code(), 200);

        let me = request
            .get("/api/auth/me")
            .authorization_bearer(body["access"].as_str().unwrap())
            .await;
        assert_eq!(me.status_code(), 200);
        assert_eq!(me.json::<Value>()["username"], "alice");

        let stored = users::Model::find_by_login(&ctx.db, "alice").await.unwrap();
        assert!(stored.last_login_at.is_some());
    })
    .await;
}

#[tokio::test]
async fn unknown_user_and_wrong_password_get_the_same_401() {
    crate::support::request(|request, ctx| async move {
        create_user(&ctx, "alice", Role::Analyst).await;
        let wrong_password = request
            .post("/api/auth/login")
            .json(&json!({"username": "alice", "password": "not-the-password"}))
            .await;
        let unknown = request
            .post("/api/auth/login")
            .json(&json!({"username": "mallory", "password": "not-the-password"}))
            .await;
        assert_error(&wrong_password, 401, "invalid_credentials");
        assert_error(&unknown, 401, "invalid_credentials");
        assert_eq!(wrong_password.text(), unknown.text());

        let missing = request.post("/api/auth/login").json(&json!({})).await;
        let body = assert_error(&missing, 400, "validation_failed");
        assert!(body["fields"]["password"].is_array());
    })
    .await;
}

#[tokio::test]
async fn repeated_failures_for_one_account_are_throttled() {
    crate::support::request(|request, ctx| async move {
        create_user(&ctx, "alice", Role::Analyst).await;
        for _ in 0..5 {
            let r = request
                .post("/api/auth/login")
                .json(&json!({"username": "alice", "password": "wrong-password"}))
                .await;
            assert_eq!(r.status_code(), 401);
        }
        // Even the right password is refused while the account is locked.
        let response = request
            .post("/api/auth/login")
            .json(&json!({"username": "alice", "password": PASSWORD}))
            .await;
        assert_error(&response, 429, "too_many_requests");
        let retry: i64 = response
            .headers()
            .get("retry-after")
            .expect("Retry-After header")
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(retry > 0 && retry <= 900, "retry-after {retry}");

        // Another account from the same client is not locked by alice's failures.
        create_user(&ctx, "bob", Role::Analyst).await;
        login(&request, "bob").await;
    })
    .await;
}

#[tokio::test]
async fn repeated_failures_from_one_client_are_throttled() {
    crate::support::request(|request, ctx| async move {
        create_user(&ctx, "alice", Role::Analyst).await;
        // 20 failures spread over many account names, from one client.
        for i in 0..20 {
            let r = request
                .post("/api/auth/login")
                .json(&json!({"username": format!("guess{i}"), "password": "wrong-password"}))
                .await;
            assert_eq!(r.status_code(), 401);
        }
        let response = request
            .post("/api/auth/login")
            .json(&json!({"username": "alice", "password": PASSWORD}))
            .await;
        assert_error(&response, 429, "too_many_requests");
        assert!(response.headers().contains_key("retry-after"));
    })
    .await;
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_family() {
    crate::support::request(|request, ctx| async move {
        create_user(&ctx, "alice", Role::Analyst).await;
        let first = login(&request, "alice").await;
        let r1 = first["refresh"].as_str().unwrap().to_string();

        let response = request
            .post("/api/auth/refresh")
            .json(&json!({"refresh": r1}))
            .await;
        assert_eq!(response.status_code(), 200, "{}", response.text());
        let second: Value = response.json();
        let r2 = second["refresh"].as_str().unwrap().to_string();
        assert_ne!(r1, r2);
        assert!(second["access"].as_str().is_some());
        let me = request
            .get("/api/auth/me")
            .authorization_bearer(second["access"].as_str().unwrap())
            .await;
        assert_eq!(me.status_code(), 200);

        // The spent token again: refused, and the family (r2 too) is revoked.
        let replay = request
            .post("/api/auth/refresh")
            .json(&json!({"refresh": r1}))
            .await;
        assert_error(&replay, 401, "unauthorized");
        let after = request
            .post("/api/auth/refresh")
            .json(&json!({"refresh": r2}))
            .await;
        assert_error(&after, 401, "unauthorized");

        // Tokens are stored hashed, never in clear.
        let rows = refresh_tokens::Entity::find().all(&ctx.db).await.unwrap();
        assert_eq!(rows.len(), 2);
        assert!(rows
            .iter()
            .all(|r| r.token_hash != r1 && r.token_hash != r2 && r.revoked_at.is_some()));

        // An unrelated login (another family) still works.
        let third = login(&request, "alice").await;
        let ok = request
            .post("/api/auth/refresh")
            .json(&json!({"refresh": third["refresh"]}))
            .await;
        assert_eq!(ok.status_code(), 200);
    })
    .await;
}

#[tokio::test]
async fn logout_spends_the_refresh_token() {
    crate::support::request(|request, ctx| async move {
        create_user(&ctx, "alice", Role::Analyst).await;
        let body = login(&request, "alice").await;
        let refresh = body["refresh"].clone();
        let response = request
            .post("/api/auth/logout")
            .json(&json!({"refresh": refresh}))
            .await;
        assert_eq!(response.status_code(), 204);
        let response = request
            .post("/api/auth/refresh")
            .json(&json!({"refresh": refresh}))
            .await;
        assert_error(&response, 401, "unauthorized");
        let response = request
            .post("/api/auth/logout")
            .json(&json!({"refresh": "vgr_not-a-token"}))
            .await;
        assert_error(&response, 401, "unauthorized");
        assert_eq!(
            refresh_tokens::Entity::find().count(&ctx.db).await.unwrap(),
            1
        );
    })
    .await;
}

#[tokio::test]
async fn me_requires_a_token() {
    crate::support::request(|request, ctx| async move {
        let response = request.get("/api/auth/me").await;
        assert_error(&response, 401, "unauthorized");
        let token = token_for(&request, &ctx, "alice", Role::Analyst).await;
        let response = request
            .get("/api/auth/me/")
            .authorization_bearer(&token)
            .await;
        assert_eq!(response.status_code(), 200, "trailing slash answers too");
    })
    .await;
}

#[tokio::test]
async fn a_deactivation_by_another_instance_is_seen_within_a_second() {
    crate::support::request(|request, ctx| async move {
        let analyst = token_for(&request, &ctx, "alice", Role::Analyst).await;
        let me = request
            .get("/api/auth/me")
            .authorization_bearer(&analyst)
            .await;
        assert_eq!(me.status_code(), 200);
        // Another instance deactivates her: a write this process never saw.
        users::Entity::update_many()
            .col_expr(
                users::Column::IsActive,
                sea_orm::sea_query::Expr::value(false),
            )
            .filter(users::Column::Username.eq("alice"))
            .exec(&ctx.db)
            .await
            .unwrap();
        tokio::time::sleep(users::RECENT_TTL + std::time::Duration::from_millis(50)).await;
        let me = request
            .get("/api/auth/me")
            .authorization_bearer(&analyst)
            .await;
        assert_error(&me, 401, "unauthorized");
    })
    .await;
}

#[tokio::test]
async fn deactivated_user_is_refused_at_once_and_cannot_log_in() {
    crate::support::request(|request, ctx| async move {
        let admin = token_for(&request, &ctx, "root", Role::Admin).await;
        let analyst = token_for(&request, &ctx, "alice", Role::Analyst).await;
        let refresh = login(&request, "alice").await["refresh"].clone();
        let alice = users::Model::find_by_login(&ctx.db, "alice").await.unwrap();
        // Her token works (and the token check now holds her as active).
        let me = request
            .get("/api/auth/me")
            .authorization_bearer(&analyst)
            .await;
        assert_eq!(me.status_code(), 200);

        let response = request
            .patch(&format!("/api/users/{}", alice.pid))
            .authorization_bearer(&admin)
            .json(&json!({"is_active": false}))
            .await;
        assert_eq!(response.status_code(), 200, "{}", response.text());
        assert_eq!(response.json::<Value>()["is_active"], false);

        // The access token alice already holds stops working on the next request.
        let me = request
            .get("/api/auth/me")
            .authorization_bearer(&analyst)
            .await;
        assert_error(&me, 401, "unauthorized");
        // She cannot log in or refresh either.
        let response = request
            .post("/api/auth/login")
            .json(&json!({"username": "alice", "password": PASSWORD}))
            .await;
        assert_error(&response, 401, "invalid_credentials");
        let response = request
            .post("/api/auth/refresh")
            .json(&json!({"refresh": refresh}))
            .await;
        assert_error(&response, 401, "unauthorized");
    })
    .await;
}
