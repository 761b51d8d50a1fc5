//! API keys: creation (shown once, stored hashed), scopes, revocation,
//! expiry, `last_used_at`, the per-key rate limit and its headers.
use axum_test::TestServer;
use loco_rs::app::AppContext;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{json, Value};
use vigil::models::{_entities::api_keys, users::Role};

use super::prepare_data::{assert_error, create_user, token_for};

async fn create_key(server: &TestServer, admin: &str, body: &Value) -> Value {
    let r = server
        .post("/api/api-keys")
        .authorization_bearer(admin)
        .json(body)
        .await;
    assert_eq!(r.status_code(), 201, "{}", r.text());
    r.json()
}

/// A key read-only on alerts, limited to `per_minute` requests; its plaintext.
async fn limited_key(server: &TestServer, admin: &str, name: &str, per_minute: u32) -> String {
    let body =
        json!({"name": name, "scopes": ["alerts:read"], "rate_limit_per_minute": per_minute});
    create_key(server, admin, &body).await["key"]
        .as_str()
        .unwrap()
        .to_string()
}

/// `GET /api/alerts` with `key`.
async fn list_with(server: &TestServer, key: &str) -> axum_test::TestResponse {
    server.get("/api/alerts").add_header("X-API-Key", key).await
}

fn event(ip: &str) -> Value {
    json!({"source": "sensor", "event_type": "port_scan", "severity": "HIGH", "source_ip": ip})
}

async fn stored_key(ctx: &AppContext, id: &str) -> api_keys::Model {
    api_keys::Entity::find()
        .filter(api_keys::Column::Pid.eq(uuid::Uuid::parse_str(id).unwrap()))
        .one(&ctx.db)
        .await
        .unwrap()
        .expect("key row")
}

#[tokio::test]
async fn a_key_is_shown_once_stored_hashed_and_works_within_its_scopes() {
    crate::support::request(|server, ctx| async move {
        let admin = token_for(&server, &ctx, "root", Role::Admin).await;
        let created = create_key(
            &server,
            &admin,
            &json!({"name": "sensor-1", "scopes": ["events:write"]}),
        )
        .await;
        let key = created["key"].as_str().unwrap().to_string();
        assert!(key.starts_with("vgk_") && key.len() > 40, "{key}");
        assert_eq!(created["scopes"], json!(["events:write"]));
        assert_eq!(created["state"], "ACTIVE");
        assert_eq!(created["rate_limit_per_minute"], 600);
        assert!(created["last_used_at"].is_null());
        let id = created["id"].as_str().unwrap();

        // Stored hashed: neither the database nor any later answer has the key.
        let row = stored_key(&ctx, id).await;
        assert_ne!(row.key_hash, key);
        assert!(!row.key_hash.contains(&key[4..]));
        assert_eq!(row.key_hash.len(), 64);
        let shown = server
            .get(&format!("/api/api-keys/{id}"))
            .authorization_bearer(&admin)
            .await;
        assert_eq!(shown.status_code(), 200);
        assert!(shown.json::<Value>().get("key").is_none());
        assert!(!shown.text().contains(&key) && !shown.text().contains(&row.key_hash));
        let listed = server
            .get("/api/api-keys")
            .authorization_bearer(&admin)
            .await;
        assert_eq!(listed.json::<Value>()["count"], 1);
        assert!(!listed.text().contains(&key));

        // events:write ingests, in the name of the admin who made the key.
        let r = server
            .post("/api/events")
            .add_header("X-API-Key", &key)
            .json(&event("10.0.0.1"))
            .await;
        assert_eq!(r.status_code(), 201, "{}", r.text());
        assert!(r.headers().contains_key("ratelimit-limit"));
        // ...but does not read alerts, nor reach what only people do.
        let r = list_with(&server, &key).await;
        let body = assert_error(&r, 403, "forbidden");
        assert!(body["message"].as_str().unwrap().contains("alerts:read"));
        for path in ["/api/users", "/api/api-keys", "/api/alerts/export"] {
            let r = server.get(path).add_header("X-API-Key", &key).await;
            assert_error(&r, 403, "forbidden");
        }
        let r = server
            .post("/api/api-keys")
            .add_header("X-API-Key", &key)
            .json(&json!({"name": "escalate", "scopes": ["alerts:write"]}))
            .await;
        assert_error(&r, 403, "forbidden");
        assert_eq!(
            api_keys::Entity::find().all(&ctx.db).await.unwrap().len(),
            1,
            "a key cannot mint keys"
        );

        // last_used_at is recorded.
        let row = stored_key(&ctx, id).await;
        assert!(row.last_used_at.is_some());
    })
    .await;
}

#[tokio::test]
async fn read_and_write_scopes_cover_the_alert_routes() {
    crate::support::request(|server, ctx| async move {
        let admin = token_for(&server, &ctx, "root", Role::Admin).await;
        let reader = create_key(
            &server,
            &admin,
            &json!({"name": "siem", "scopes": ["alerts:read"]}),
        )
        .await["key"]
            .as_str()
            .unwrap()
            .to_string();
        let writer = create_key(
            &server,
            &admin,
            &json!({"name": "soar", "scopes": ["ALERTS:WRITE", "alerts:read"]}),
        )
        .await["key"]
            .as_str()
            .unwrap()
            .to_string();
        let r = server
            .post("/api/events")
            .authorization_bearer(&admin)
            .json(&event("10.0.0.2"))
            .await;
        let alert = r.json::<Value>()["alert"]["id"]
            .as_str()
            .unwrap()
            .to_string();

        for path in [
            "/api/alerts".to_string(),
            format!("/api/alerts/{alert}"),
            format!("/api/alerts/{alert}/history"),
            "/api/events".to_string(),
            "/api/stats".to_string(),
        ] {
            let r = server.get(&path).add_header("X-API-Key", &reader).await;
            assert_eq!(r.status_code(), 200, "{path}: {}", r.text());
        }
        let r = server
            .post("/api/events")
            .add_header("X-API-Key", &reader)
            .json(&event("10.0.0.3"))
            .await;
        assert_error(&r, 403, "forbidden");
        let r = server
            .patch(&format!("/api/alerts/{alert}/status"))
            .add_header("X-API-Key", &reader)
            .json(&json!({"status": "ACKNOWLEDGED"}))
            .await;
        assert_error(&r, 403, "forbidden");

        let r = server
            .patch(&format!("/api/alerts/{alert}/status"))
            .add_header("X-API-Key", &writer)
            .json(&json!({"status": "ACKNOWLEDGED", "note": "auto-triage"}))
            .await;
        assert_eq!(r.status_code(), 200, "{}", r.text());
        assert_eq!(r.json::<Value>()["status"], "ACKNOWLEDGED");
        let r = server
            .post(&format!("/api/alerts/{alert}/notes"))
            .add_header("X-API-Key", &writer)
            .json(&json!({"note": "ticket INC-42"}))
            .await;
        assert_eq!(r.status_code(), 201, "{}", r.text());
        let history = server
            .get(&format!("/api/alerts/{alert}/history"))
            .authorization_bearer(&admin)
            .await
            .json::<Vec<Value>>();
        let actors: Vec<&Value> = history.iter().map(|h| &h["actor"]).collect();
        assert!(
            actors.iter().any(|a| *a == "root (API key soar)"),
            "the key acts as its owner, and history names the key: {history:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn revoked_expired_unknown_and_orphaned_keys_are_401() {
    crate::support::request(|server, ctx| async move {
        let admin = token_for(&server, &ctx, "root", Role::Admin).await;
        let created = create_key(
            &server,
            &admin,
            &json!({"name": "old", "scopes": ["alerts:read"]}),
        )
        .await;
        let (id, key) = (
            created["id"].as_str().unwrap().to_string(),
            created["key"].as_str().unwrap().to_string(),
        );
        assert_eq!(list_with(&server, &key).await.status_code(), 200);
        let r = server
            .delete(&format!("/api/api-keys/{id}"))
            .authorization_bearer(&admin)
            .await;
        assert_eq!(r.status_code(), 200, "{}", r.text());
        assert_eq!(r.json::<Value>()["state"], "REVOKED");
        let r = list_with(&server, &key).await;
        let body = assert_error(&r, 401, "unauthorized");
        assert!(body["message"].as_str().unwrap().contains("revoked"));

        let r = server
            .get("/api/alerts")
            .add_header("X-API-Key", "vgk_not-a-key")
            .await;
        assert_error(&r, 401, "unauthorized");
        let r = server
            .delete("/api/api-keys/00000000-0000-0000-0000-000000000000")
            .authorization_bearer(&admin)
            .await;
        assert_error(&r, 404, "not_found");

        // Expired: the row's expiry moved into the past.
        let created = create_key(
            &server,
            &admin,
            &json!({"name": "temp", "scopes": ["alerts:read"],
                    "expires_at": "2999-01-01T00:00:00Z"}),
        )
        .await;
        let key = created["key"].as_str().unwrap().to_string();
        api_keys::Entity::update_many()
            .col_expr(
                api_keys::Column::ExpiresAt,
                sea_orm::sea_query::Expr::value(chrono::Utc::now() - chrono::Duration::seconds(1)),
            )
            .filter(api_keys::Column::Name.eq("temp"))
            .exec(&ctx.db)
            .await
            .unwrap();
        let r = list_with(&server, &key).await;
        let body = assert_error(&r, 401, "unauthorized");
        assert!(body["message"].as_str().unwrap().contains("expired"));

        // A key whose admin was deactivated stops at once.
        let boss = create_user(&ctx, "boss", Role::Admin).await;
        let boss_token = super::prepare_data::login(&server, "boss").await["access"]
            .as_str()
            .unwrap()
            .to_string();
        let key = create_key(
            &server,
            &boss_token,
            &json!({"name": "boss-key", "scopes": ["alerts:read"]}),
        )
        .await["key"]
            .as_str()
            .unwrap()
            .to_string();
        let r = server
            .patch(&format!("/api/users/{}", boss.pid))
            .authorization_bearer(&admin)
            .json(&json!({"is_active": false}))
            .await;
        assert_eq!(r.status_code(), 200, "{}", r.text());
        let r = list_with(&server, &key).await;
        assert_error(&r, 401, "unauthorized");
    })
    .await;
}

#[tokio::test]
async fn only_admins_manage_keys_and_bad_fields_are_400() {
    crate::support::request(|server, ctx| async move {
        let admin = token_for(&server, &ctx, "root", Role::Admin).await;
        let analyst = token_for(&server, &ctx, "ann", Role::Analyst).await;
        let r = server
            .post("/api/api-keys")
            .authorization_bearer(&analyst)
            .json(&json!({"name": "x", "scopes": ["alerts:read"]}))
            .await;
        assert_error(&r, 403, "forbidden");
        let r = server
            .get("/api/api-keys")
            .authorization_bearer(&analyst)
            .await;
        assert_error(&r, 403, "forbidden");
        let r = server.post("/api/api-keys").json(&json!({})).await;
        assert_error(&r, 401, "unauthorized");

        let r = server
            .post("/api/api-keys")
            .authorization_bearer(&admin)
            .json(&json!({"name": "", "scopes": ["admin:all"],
                          "expires_at": "2001-01-01T00:00:00Z", "rate_limit_per_minute": 0}))
            .await;
        let body = assert_error(&r, 400, "validation_failed");
        for field in ["name", "scopes", "expires_at", "rate_limit_per_minute"] {
            assert!(body["fields"][field].is_array(), "{field}: {body}");
        }
        let r = server
            .post("/api/api-keys")
            .authorization_bearer(&admin)
            .json(&json!({"name": "x", "scopes": []}))
            .await;
        let body = assert_error(&r, 400, "validation_failed");
        assert!(body["fields"]["scopes"].is_array());
        assert!(api_keys::Entity::find()
            .all(&ctx.db)
            .await
            .unwrap()
            .is_empty());
        let r = server
            .get("/api/api-keys?cursor=")
            .authorization_bearer(&admin)
            .await;
        let body = assert_error(&r, 400, "validation_failed");
        assert!(body["fields"]["cursor"].is_array(), "{body}");
        let r = server
            .get("/api/api-keys/not-a-uuid")
            .authorization_bearer(&admin)
            .await;
        assert_error(&r, 404, "not_found");
    })
    .await;
}

#[tokio::test]
async fn a_key_over_its_rate_limit_gets_429_with_ratelimit_headers() {
    crate::support::request(|server, ctx| async move {
        let admin = token_for(&server, &ctx, "root", Role::Admin).await;
        let key = limited_key(&server, &admin, "tight", 3).await;
        let other = create_key(
            &server,
            &admin,
            &json!({"name": "loose", "scopes": ["alerts:read"]}),
        )
        .await["key"]
            .as_str()
            .unwrap()
            .to_string();
        for remaining in ["2", "1", "0"] {
            let r = list_with(&server, &key).await;
            assert_eq!(r.status_code(), 200);
            assert_eq!(r.headers()["ratelimit-limit"], "3");
            assert_eq!(r.headers()["ratelimit-remaining"], remaining);
            let reset: u64 = r.headers()["ratelimit-reset"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!((1..=60).contains(&reset), "{reset}");
        }
        let r = list_with(&server, &key).await;
        let body = assert_error(&r, 429, "rate_limited");
        assert!(body["message"]
            .as_str()
            .unwrap()
            .contains("3 requests per minute"));
        assert_eq!(r.headers()["ratelimit-remaining"], "0");
        assert!(r.headers().contains_key("retry-after"));
        // Another key, and signed-in users, are not affected.
        let r = list_with(&server, &other).await;
        assert_eq!(r.status_code(), 200);
        let r = server.get("/api/alerts").authorization_bearer(&admin).await;
        assert_eq!(r.status_code(), 200);
        assert!(!r.headers().contains_key("ratelimit-limit"));
    })
    .await;
}

/// With `REDIS_URL`, a key's count is kept in Redis, so the limit holds
/// across instances: a request another instance counted uses up this one's.
#[tokio::test]
#[ignore = "needs Redis (REDIS_URL): run by .ci/run"]
async fn with_redis_the_limit_holds_across_instances() {
    std::env::var("REDIS_URL").expect("REDIS_URL");
    crate::support::request(|server, ctx| async move {
        let settings = vigil::settings::Settings::get(&ctx);
        assert!(!settings.redis_url.is_empty());
        let admin = token_for(&server, &ctx, "root", Role::Admin).await;
        let key = limited_key(&server, &admin, "shared", 3).await;
        for remaining in ["2", "1"] {
            let r = list_with(&server, &key).await;
            assert_eq!(r.status_code(), 200);
            assert_eq!(r.headers()["ratelimit-remaining"], remaining);
        }
        // Another instance (its own counter, the same Redis) counts the third.
        let other = vigil::controllers::rate_limit::RedisCounts::new(
            &settings.redis_url,
            &format!("{}:rate", settings.redis_channel),
        )
        .unwrap();
        let (count, left) = other
            .hit(&vigil::digest::sha256_hex(&key))
            .await
            .expect("Redis answers");
        assert_eq!(count, 3);
        assert!(
            left <= std::time::Duration::from_secs(60) && !left.is_zero(),
            "{left:?}"
        );
        let r = list_with(&server, &key).await;
        assert_error(&r, 429, "rate_limited");
        assert_eq!(r.headers()["ratelimit-remaining"], "0");
    })
    .await;
}

/// Redis configured but unreachable: the instance counts for itself rather
/// than refusing every key (or letting every request through).
#[tokio::test]
async fn with_redis_down_the_limit_is_kept_in_process() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let app = crate::support::boot_with(|config| {
        if let Some(settings) = config.settings.as_mut().and_then(|s| s.as_object_mut()) {
            settings.insert(
                "redis_url".into(),
                format!("redis://127.0.0.1:{port}").into(),
            );
        }
    })
    .await
    .expect("boot");
    let (server, ctx) = (app.server(), app.ctx());
    let admin = token_for(&server, &ctx, "root", Role::Admin).await;
    let key = limited_key(&server, &admin, "tight", 2).await;
    for remaining in ["1", "0"] {
        let r = list_with(&server, &key).await;
        assert_eq!(r.status_code(), 200);
        assert_eq!(r.headers()["ratelimit-remaining"], remaining);
    }
    let r = list_with(&server, &key).await;
    assert_error(&r, 429, "rate_limited");
}
