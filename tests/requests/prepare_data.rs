//! Shared set-up for request tests: accounts, tokens, headers.
use loco_rs::{app::AppContext, TestServer};
use serde_json::{json, Value};
use vigil::models::users::{self, NewUser, Role};

pub const PASSWORD: &str = "correct-horse-battery";

/// Creates an account directly through the model (as the CLI task does).
pub async fn create_user(ctx: &AppContext, username: &str, role: Role) -> users::Model {
    let email = format!("{username}@example.com");
    users::Model::create_with_password(
        &ctx.db,
        &vigil::models::audit::By::new("test", None),
        &NewUser {
            username,
            email: &email,
            password: PASSWORD,
            role,
        },
    )
    .await
    .expect("create user")
}

/// Logs in over HTTP and returns the whole login body.
pub async fn login(request: &TestServer, username: &str) -> Value {
    let response = request
        .post("/api/auth/login")
        .json(&json!({"username": username, "password": PASSWORD}))
        .await;
    assert_eq!(
        response.status_code(),
        200,
        "login {username}: {}",
        response.text()
    );
    response.json::<Value>()
}

/// Creates an account with `role` and returns its access token.
pub async fn token_for(
    request: &TestServer,
    ctx: &AppContext,
    username: &str,
    role: Role,
) -> String {
    create_user(ctx, username, role).await;
    login(request, username).await["access"]
        .as_str()
        .expect("access token")
        .to_string()
}

/// Asserts the JSON error envelope and returns it.
pub fn assert_error(response: &axum_test::TestResponse, status: u16, code: &str) -> Value {
    assert_eq!(
        response.status_code(),
        status,
        "unexpected status, body: {}",
        response.text()
    );
    let body: Value = serde_json::from_str(&response.text())
        .unwrap_or_else(|_| panic!("error body is not JSON: {:?}", response.text()));
    assert_eq!(body["error"], code, "body: {body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "message missing: {body}"
    );
    body
}

/// Posts a HIGH event from `ip` and returns the id of its alert.
pub async fn open_alert(request: &TestServer, token: &str, ip: &str) -> String {
    let r = request
        .post("/api/events")
        .authorization_bearer(token)
        .json(
            &json!({"source": "ids-1", "event_type": "sqli", "severity": "HIGH", "source_ip": ip}),
        )
        .await;
    assert_eq!(r.status_code(), 201, "{}", r.text());
    r.json::<Value>()["alert"]["id"]
        .as_str()
        .expect("alert id")
        .to_string()
}

/// Creates an API key with `scopes` as the admin `admin_token`; returns
/// the key.
pub async fn key_with(request: &TestServer, admin_token: &str, scopes: &[&str]) -> String {
    let r = request
        .post("/api/api-keys")
        .authorization_bearer(admin_token)
        .json(&json!({"name": format!("k{}", uuid::Uuid::new_v4().simple()), "scopes": scopes}))
        .await;
    assert_eq!(r.status_code(), 201, "{}", r.text());
    r.json::<Value>()["key"]
        .as_str()
        .expect("the key")
        .to_string()
}
