//! Forged, tampered and expired access tokens are all a 401.
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha512;
use vigil::models::users::Role;

use super::prepare_data::{assert_error, create_user, token_for};

const TEST_SECRET: &str = "dGVzdC1vbmx5LXZpZ2lsLWp3dC1zZWNyZXQtbm90LWZvci1wcm9kdWN0aW9u";

fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
}

/// Signs `claims` with HS512 under `secret` (base64 key, as Loco does).
fn sign(claims: &Value, secret_b64: &str) -> String {
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret_b64)
        .unwrap();
    let input = format!(
        "{}.{}",
        b64(&json!({"alg": "HS512", "typ": "JWT"})),
        b64(claims)
    );
    let mut mac = Hmac::<Sha512>::new_from_slice(&key).unwrap();
    mac.update(input.as_bytes());
    format!(
        "{input}.{}",
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    )
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

#[tokio::test]
async fn a_correctly_signed_token_is_accepted() {
    // Guards the helper itself: the forgeries below fail for their flaw only.
    crate::support::request(|request, ctx| async move {
        let user = create_user(&ctx, "alice", Role::Analyst).await;
        // A live session (a login's refresh-token family) for the token to name.
        let (_, session) = vigil::models::refresh_tokens::Model::issue(&ctx.db, &user, None, 3600)
            .await
            .unwrap();
        let token = sign(
            &json!({"pid": user.pid.to_string(), "exp": now() + 600, "sid": session.to_string()}),
            TEST_SECRET,
        );
        let r = request
            .get("/api/auth/me")
            .authorization_bearer(&token)
            .await;
        assert_eq!(r.status_code(), 200, "{}", r.text());
        // Correctly signed, but naming no session (or an unknown one): 401.
        for claims in [
            json!({"pid": user.pid.to_string(), "exp": now() + 600}),
            json!({"pid": user.pid.to_string(), "exp": now() + 600,
                   "sid": uuid::Uuid::new_v4().to_string()}),
        ] {
            let r = request
                .get("/api/auth/me")
                .authorization_bearer(sign(&claims, TEST_SECRET))
                .await;
            assert_eq!(r.status_code(), 401, "{claims}: {}", r.text());
        }
    })
    .await;
}

#[tokio::test]
async fn forged_tokens_are_401() {
    crate::support::request(|request, ctx| async move {
        let user = create_user(&ctx, "alice", Role::Analyst).await;
        let admin = create_user(&ctx, "root", Role::Admin).await;
        let pid = user.pid.to_string();

        let expired = sign(&json!({"pid": pid, "exp": now() - 3600}), TEST_SECRET);
        let wrong_key = sign(
            &json!({"pid": pid, "exp": now() + 600}),
            "YW5vdGhlci1zZWNyZXQtdGhhdC1pcy1ub3QtdGhlLXNlcnZlcnMta2V5",
        );
        let alg_none = format!(
            "{}.{}.",
            b64(&json!({"alg": "none", "typ": "JWT"})),
            b64(&json!({"pid": admin.pid.to_string(), "exp": now() + 600}))
        );
        // A real token whose payload is swapped for the admin's pid.
        let real = token_for(&request, &ctx, "bob", Role::Analyst).await;
        let parts: Vec<&str> = real.split('.').collect();
        let tampered = format!(
            "{}.{}.{}",
            parts[0],
            b64(&json!({"pid": admin.pid.to_string(), "exp": now() + 600})),
            parts[2]
        );
        let bad_signature = format!("{}.{}.{}", parts[0], parts[1], "AAAA");

        for (name, token) in [
            ("expired", expired),
            ("wrong key", wrong_key),
            ("alg none", alg_none),
            ("tampered payload", tampered),
            ("bad signature", bad_signature),
            ("garbage", "not.a.jwt".to_string()),
        ] {
            let r = request
                .get("/api/auth/me")
                .authorization_bearer(&token)
                .await;
            assert_eq!(r.status_code(), 401, "{name}: {}", r.text());
            assert_error(&r, 401, "unauthorized");
            let r = request.get("/api/users").authorization_bearer(&token).await;
            assert_eq!(r.status_code(), 401, "{name} on an admin route");
        }
        // A refresh token is not an access token.
        let refresh = super::prepare_data::login(&request, "alice").await["refresh"]
            .as_str()
            .unwrap()
            .to_string();
        let r = request
            .get("/api/auth/me")
            .authorization_bearer(&refresh)
            .await;
        assert_error(&r, 401, "unauthorized");
    })
    .await;
}

/// The user behind an access token is read at most once a second (the
/// app's cache): a change made behind this instance's back (by another
/// instance) shows within that second, one made through it at once.
#[tokio::test]
async fn the_user_behind_a_token_is_read_at_most_once_a_second() {
    crate::support::request(|server, ctx| async move {
        use sea_orm::{sea_query::Expr, ColumnTrait, EntityTrait, QueryFilter};
        use vigil::models::_entities::users;
        let token = token_for(&server, &ctx, "ana", Role::Analyst).await;
        let read = std::time::Instant::now();
        assert_eq!(
            server
                .get("/api/auth/me")
                .authorization_bearer(&token)
                .await
                .status_code(),
            200
        );
        users::Entity::update_many()
            .col_expr(users::Column::IsActive, Expr::value(false))
            .filter(users::Column::Username.eq("ana"))
            .exec(&ctx.db)
            .await
            .unwrap();
        let r = server
            .get("/api/auth/me")
            .authorization_bearer(&token)
            .await;
        if read.elapsed() < std::time::Duration::from_millis(800) {
            assert_eq!(r.status_code(), 200, "read again within the second");
        } else {
            eprintln!("slow machine: the cached read was not checked");
        }
        tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
        let r = server
            .get("/api/auth/me")
            .authorization_bearer(&token)
            .await;
        assert_error(&r, 401, "unauthorized");
    })
    .await;
}
