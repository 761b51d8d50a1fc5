//! The console: sign-in, role gating, CSRF, escaping, security headers, on
//! both databases (the browser walks are in `tests/e2e`).
use axum_test::{TestResponse, TestServer};
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::{json, Value};
use vigil::models::{_entities::api_keys, alerts, users::Role};

use super::prepare_data::{create_user, open_alert, token_for, PASSWORD};

/// The value of the first `Set-Cookie` named `name`, if any.
fn set_cookie(r: &TestResponse, name: &str) -> Option<String> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(str::to_string)
}

fn cookie_value(set_cookie: &str) -> String {
    set_cookie
        .split(';')
        .next()
        .and_then(|kv| kv.split_once('='))
        .map(|(_, v)| v.to_string())
        .unwrap_or_default()
}

/// The CSRF token a page carries (`data-csrf` on its body).
fn csrf_of(html: &str) -> String {
    let start = html.find("data-csrf=\"").expect("page has a CSRF token") + 11;
    html[start..start + html[start..].find('"').unwrap()].to_string()
}

fn location(r: &TestResponse) -> String {
    r.headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

/// Signs in through the login form; returns the `Cookie` header value.
async fn sign_in(request: &TestServer, login: &str) -> String {
    let page = request.get("/console/login").await;
    assert_eq!(page.status_code(), 200);
    let nonce = cookie_value(&set_cookie(&page, "vigil_login").expect("login cookie"));
    let csrf = csrf_of(&page.text());
    let r = request
        .post("/console/login")
        .add_header("cookie", format!("vigil_login={nonce}"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("login", login),
            ("password", PASSWORD),
            ("next", "/console"),
        ])
        .await;
    assert_eq!(r.status_code(), 303, "{}", r.text());
    let session = set_cookie(&r, "vigil_session").expect("session cookie");
    format!("vigil_session={}", cookie_value(&session))
}

async fn get(request: &TestServer, cookie: &str, path: &str) -> TestResponse {
    request
        .get(path)
        .add_header("cookie", cookie.to_string())
        .await
}

async fn post_form(
    request: &TestServer,
    cookie: &str,
    path: &str,
    form: &[(&str, &str)],
) -> TestResponse {
    request
        .post(path)
        .add_header("cookie", cookie.to_string())
        .form(&form)
        .await
}

/// A page's CSRF token for this session.
async fn csrf(request: &TestServer, cookie: &str) -> String {
    csrf_of(&get(request, cookie, "/console/alerts").await.text())
}

async fn alert_status(ctx: &loco_rs::app::AppContext, id: &str) -> String {
    alerts::Model::find_by_pid(&ctx.db, id)
        .await
        .unwrap()
        .status
}

#[tokio::test]
async fn without_a_session_pages_send_the_browser_to_sign_in_and_back() {
    crate::support::request(|request, _ctx| async move {
        let r = request.get("/").await;
        assert_eq!(r.status_code(), 303);
        assert_eq!(location(&r), "/console");

        let r = request
            .get("/console/alerts?status=OPEN&source=a%20b")
            .await;
        assert_eq!(r.status_code(), 303);
        assert_eq!(
            location(&r),
            "/console/login?next=%2Fconsole%2Falerts%3Fstatus%3DOPEN%26source%3Da%2520b"
        );
        // htmx asks for a full-page redirect instead.
        let r = request
            .get("/console/alerts")
            .add_header("hx-request", "true")
            .await;
        assert_eq!(r.status_code(), 401);
        assert!(r.headers()["hx-redirect"]
            .to_str()
            .unwrap()
            .starts_with("/console/login?next="));
        // A form posted without a session changes nothing and signs in first.
        let r = request
            .post("/console/alerts/bulk")
            .form(&[("status", "RESOLVED")])
            .await;
        assert_eq!(r.status_code(), 303);
        assert!(location(&r).starts_with("/console/login"));
        // A made-up cookie is no session, and is dropped.
        let r = get(&request, "vigil_session=vgr_forged", "/console").await;
        assert_eq!(r.status_code(), 303);
        assert!(set_cookie(&r, "vigil_session")
            .unwrap()
            .contains("Max-Age=0"));
    })
    .await;
}

#[tokio::test]
async fn signing_in_sets_a_strict_http_only_cookie_and_returns_where_asked() {
    crate::support::request(|request, ctx| async move {
        create_user(&ctx, "alice", Role::Analyst).await;
        let page = request.get("/console/login?next=/console/events").await;
        assert_eq!(page.status_code(), 200);
        assert!(page
            .text()
            .contains("name=\"next\" value=\"/console/events\""));
        let nonce = cookie_value(&set_cookie(&page, "vigil_login").unwrap());
        let csrf = csrf_of(&page.text());
        let form = |password: &'static str, next: &'static str| {
            vec![
                ("csrf", csrf.clone()),
                ("login", "alice".to_string()),
                ("password", password.to_string()),
                ("next", next.to_string()),
            ]
        };
        let post = |form: Vec<(&'static str, String)>, cookie: String| {
            let request = &request;
            async move {
                request
                    .post("/console/login")
                    .add_header("cookie", cookie)
                    .form(&form)
                    .await
            }
        };

        // Wrong password: the form again, 401, no session.
        let r = post(
            form("wrong-password-1", "/console"),
            format!("vigil_login={nonce}"),
        )
        .await;
        assert_eq!(r.status_code(), 401);
        assert!(r.text().contains("Invalid username/email or password"));
        assert!(set_cookie(&r, "vigil_session").is_none());

        // Without the form's own cookie: 403.
        let r = post(form(PASSWORD, "/console"), String::new()).await;
        assert_eq!(r.status_code(), 403);
        assert!(set_cookie(&r, "vigil_session").is_none());

        let r = post(
            form(PASSWORD, "/console/events"),
            format!("vigil_login={nonce}"),
        )
        .await;
        assert_eq!(r.status_code(), 303);
        assert_eq!(location(&r), "/console/events");
        let session = set_cookie(&r, "vigil_session").unwrap();
        assert!(session.contains("HttpOnly"), "{session}");
        assert!(session.contains("SameSite=Strict"), "{session}");
        assert!(session.contains("Path=/"), "{session}");
        assert!(
            !session.contains("Secure"),
            "plain HTTP in tests: {session}"
        );
        // The cookie is a server-side session (a refresh-token row), not a JWT.
        assert!(cookie_value(&session).starts_with("vgr_"));

        // Never sent back to another site.
        let r = post(
            form(PASSWORD, "https://evil.example/x"),
            format!("vigil_login={nonce}"),
        )
        .await;
        assert_eq!(location(&r), "/console");
        let r = post(
            form(PASSWORD, "//evil.example"),
            format!("vigil_login={nonce}"),
        )
        .await;
        assert_eq!(location(&r), "/console");
    })
    .await;
}

#[tokio::test]
async fn sign_in_failures_are_throttled_as_for_the_api() {
    crate::support::request(|request, ctx| async move {
        create_user(&ctx, "alice", Role::Analyst).await;
        let page = request.get("/console/login").await;
        let nonce = cookie_value(&set_cookie(&page, "vigil_login").unwrap());
        let csrf = csrf_of(&page.text());
        let mut last = 0;
        for _ in 0..7 {
            let r = request
                .post("/console/login")
                .add_header("cookie", format!("vigil_login={nonce}"))
                .form(&[
                    ("csrf", csrf.as_str()),
                    ("login", "alice"),
                    ("password", "not-the-password"),
                ])
                .await;
            last = r.status_code().as_u16();
            if last == 429 {
                assert!(r.headers().contains_key("retry-after"));
                assert!(r.text().contains("Too many failed sign-ins"));
                break;
            }
            assert_eq!(last, 401);
        }
        assert_eq!(last, 429, "the sixth failure is throttled");
    })
    .await;
}

#[tokio::test]
async fn every_page_answers_by_role() {
    crate::support::request(|request, ctx| async move {
        let admin_token = token_for(&request, &ctx, "root", Role::Admin).await;
        create_user(&ctx, "alice", Role::Analyst).await;
        let alert = open_alert(&request, &admin_token, "203.0.113.7").await;
        let event = alerts::Model::find_by_pid(&ctx.db, &alert)
            .await
            .unwrap()
            .event_pid
            .to_string();
        let admin = sign_in(&request, "root").await;
        let analyst = sign_in(&request, "alice").await;

        let shared = [
            "/console".to_string(),
            "/console?span=7d".to_string(),
            "/console?fragment=1".to_string(),
            "/console/alerts".to_string(),
            "/console/alerts?fragment=rows".to_string(),
            format!("/console/alerts/{alert}"),
            "/console/events".to_string(),
            format!("/console/events/{event}"),
            "/console/upload".to_string(),
        ];
        let admin_only = [
            "/console/admin/users",
            "/console/admin/keys",
            "/console/admin/webhooks",
        ];
        for path in &shared {
            for (who, cookie) in [("admin", &admin), ("analyst", &analyst)] {
                let r = get(&request, cookie, path).await;
                assert_eq!(r.status_code(), 200, "{who} {path}: {}", r.text());
                assert!(r.headers()["content-type"]
                    .to_str()
                    .unwrap()
                    .starts_with("text/html"));
            }
        }
        for path in admin_only {
            let r = get(&request, &admin, path).await;
            assert_eq!(r.status_code(), 200, "admin {path}");
            let r = get(&request, &analyst, path).await;
            assert_eq!(r.status_code(), 403, "analyst {path}");
            assert!(r.text().contains("ADMIN role"));
        }
        // An analyst sees no admin navigation and no admin controls.
        let page = get(&request, &analyst, &format!("/console/alerts/{alert}"))
            .await
            .text();
        assert!(!page.contains("/console/admin/"), "no admin links");
        assert!(!page.contains("/status\""), "no status form");
        assert!(!page.contains("/edit\""), "no edit form");
        assert!(page.contains("/notes\""), "the note form");
        let list = get(&request, &analyst, "/console/alerts").await.text();
        assert!(!list.contains("name=\"ids\""), "no bulk selection");
        let page = get(&request, &admin, &format!("/console/alerts/{alert}"))
            .await
            .text();
        assert!(page.contains("value=\"ACKNOWLEDGED\""));
        assert!(!page.contains("<button type=\"submit\" name=\"status\" value=\"OPEN\""));
        let list = get(&request, &admin, "/console/alerts").await.text();
        assert!(list.contains("name=\"ids\""));

        // Unknown pages and ids: HTML 404s.
        for path in [
            "/console/nope",
            "/console/alerts/00000000-0000-0000-0000-000000000000",
            "/console/events/x",
        ] {
            let r = get(&request, &admin, path).await;
            assert_eq!(r.status_code(), 404, "{path}");
            assert!(r.text().contains("<html"), "{path}");
        }
    })
    .await;
}

#[tokio::test]
async fn every_console_answer_carries_the_security_headers() {
    crate::support::request(|request, ctx| async move {
        create_user(&ctx, "alice", Role::Analyst).await;
        let cookie = sign_in(&request, "alice").await;
        for r in [
            request.get("/console/login").await,
            request.get("/").await,
            get(&request, &cookie, "/console").await,
            get(&request, &cookie, "/console/alerts").await,
            get(&request, &cookie, "/console/nope").await,
            get(&request, &cookie, "/console/admin/users").await,
            request.put("/console/alerts").await,
        ] {
            let h = r.headers();
            let csp = h["content-security-policy"].to_str().unwrap();
            assert!(csp.contains("default-src 'self'"), "{csp}");
            assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
            assert!(
                !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
                "{csp}"
            );
            assert_eq!(h["x-frame-options"], "DENY");
            assert_eq!(h["x-content-type-options"], "nosniff");
            assert_eq!(h["referrer-policy"], "no-referrer");
            assert_eq!(h["cache-control"], "no-store");
        }
        // The page scripts are files of this origin: no inline script at all.
        let page = get(&request, &cookie, "/console").await.text();
        for (i, _) in page.match_indices("<script") {
            assert!(
                page[i..].starts_with("<script src=\"/console/assets/"),
                "{}",
                &page[i..i + 60]
            );
        }
        // The framework's own refusals are HTML pages too.
        let r = request.put("/console/alerts").await;
        assert_eq!(r.status_code(), 405);
        assert!(r.text().contains("<html"));
    })
    .await;
}

#[tokio::test]
async fn assets_have_hashed_names_gzip_and_long_cache_lives() {
    crate::support::request(|request, ctx| async move {
        create_user(&ctx, "alice", Role::Analyst).await;
        let cookie = sign_in(&request, "alice").await;
        let page = get(&request, &cookie, "/console").await.text();
        let urls: Vec<&str> = page
            .match_indices("/console/assets/")
            .map(|(i, _)| &page[i..i + page[i..].find('"').unwrap()])
            .collect();
        assert_eq!(urls.len(), 5, "{urls:?}");
        let mut total = 0;
        for url in urls {
            let r = request
                .get(url)
                .add_header("accept-encoding", "gzip, br")
                .await;
            assert_eq!(r.status_code(), 200, "{url}");
            assert_eq!(r.headers()["content-encoding"], "gzip", "{url}");
            assert_eq!(
                r.headers()["cache-control"],
                "public, max-age=31536000, immutable"
            );
            total += r.as_bytes().len();
            // Without gzip in Accept-Encoding: the plain file.
            let plain = request.get(url).await;
            assert!(plain.headers().get("content-encoding").is_none());
            assert!(plain.as_bytes().len() > r.as_bytes().len());
        }
        assert!(
            total < 120_000,
            "the scripts and styles, compressed: {total} bytes"
        );
        let r = request.get("/console/assets/htmx.000000000000.js").await;
        assert_eq!(r.status_code(), 404);
    })
    .await;
}

#[tokio::test]
async fn a_form_without_the_sessions_csrf_token_is_refused_and_changes_nothing() {
    crate::support::request(|request, ctx| async move {
        let token = token_for(&request, &ctx, "root", Role::Admin).await;
        let id = open_alert(&request, &token, "203.0.113.7").await;
        let admin = sign_in(&request, "root").await;
        let path = format!("/console/alerts/{id}/status");

        let r = post_form(&request, &admin, &path, &[("status", "ACKNOWLEDGED")]).await;
        assert_eq!(r.status_code(), 403);
        let r = post_form(
            &request,
            &admin,
            &path,
            &[("status", "ACKNOWLEDGED"), ("csrf", &"0".repeat(64))],
        )
        .await;
        assert_eq!(r.status_code(), 403);
        // Another session's token is not this one's.
        let other = sign_in(&request, "root").await;
        let theirs = csrf(&request, &other).await;
        let r = post_form(&request, &admin, &path, &[("status", "ACKNOWLEDGED"), ("csrf", &theirs)]).await;
        assert_eq!(r.status_code(), 403);
        assert_eq!(alert_status(&ctx, &id).await, "OPEN");

        // The header form (htmx) and the field form both work.
        let mine = csrf(&request, &admin).await;
        let r = request
            .post(&path)
            .add_header("cookie", admin.clone())
            .add_header("x-csrf-token", mine.clone())
            .form(&[("status", "ACKNOWLEDGED"), ("note", "on it")])
            .await;
        assert_eq!(r.status_code(), 303, "{}", r.text());
        assert_eq!(location(&r), format!("/console/alerts/{id}"));
        assert_eq!(alert_status(&ctx, &id).await, "ACKNOWLEDGED");
        let r = post_form(&request, &admin, &path, &[("status", "RESOLVED"), ("csrf", &mine)]).await;
        assert_eq!(r.status_code(), 303);
        // The timeline names the admin.
        let page = get(&request, &admin, &format!("/console/alerts/{id}")).await.text();
        assert!(page.contains("<strong class=\"actor\">root</strong> moved it from <span class=\"status\">OPEN</span> to <span class=\"status\">ACKNOWLEDGED</span>"), "{page}");
        assert!(page.contains("to <span class=\"status\">RESOLVED</span>"));
        assert!(page.contains("on it"));
        // An illegal move is a 409 page, nothing changed.
        let r = post_form(&request, &admin, &path, &[("status", "MITIGATED"), ("csrf", &mine)]).await;
        assert_eq!(r.status_code(), 409);
        assert_eq!(alert_status(&ctx, &id).await, "RESOLVED");
    })
    .await;
}

#[tokio::test]
async fn an_analysts_forged_admin_requests_are_refused() {
    crate::support::request(|request, ctx| async move {
        let token = token_for(&request, &ctx, "root", Role::Admin).await;
        let victim = create_user(&ctx, "bob", Role::Analyst).await;
        create_user(&ctx, "alice", Role::Analyst).await;
        let id = open_alert(&request, &token, "203.0.113.7").await;
        let analyst = sign_in(&request, "alice").await;
        let t = csrf(&request, &analyst).await;

        for (path, form) in [
            (
                format!("/console/alerts/{id}/status"),
                vec![("status", "RESOLVED")],
            ),
            (
                "/console/alerts/bulk".to_string(),
                vec![("status", "RESOLVED"), ("ids", id.as_str())],
            ),
            (
                format!("/console/alerts/{id}/edit"),
                vec![("severity", "LOW"), ("assignee", "alice")],
            ),
            (
                format!("/console/admin/users/{}", victim.pid),
                vec![("role", "ADMIN")],
            ),
            (
                "/console/admin/keys".to_string(),
                vec![("name", "k"), ("scopes", "events:write")],
            ),
            (
                "/console/admin/webhooks".to_string(),
                vec![("url", "http://127.0.0.1:9/hook")],
            ),
        ] {
            let mut form = form.clone();
            form.push(("csrf", &t));
            let r = post_form(&request, &analyst, &path, &form).await;
            assert_eq!(r.status_code(), 403, "{path}");
        }
        let alert = alerts::Model::find_by_pid(&ctx.db, &id).await.unwrap();
        assert_eq!(
            (alert.status.as_str(), alert.severity.as_str()),
            ("OPEN", "HIGH")
        );
        assert!(alert.assignee.is_none());
        assert_eq!(api_keys::Entity::find().count(&ctx.db).await.unwrap(), 0);
        let bob = vigil::models::users::Model::find_by_pid(&ctx.db, &victim.pid.to_string())
            .await
            .unwrap();
        assert_eq!(bob.role, "ANALYST");

        // What analysts may do: notes.
        let r = post_form(
            &request,
            &analyst,
            &format!("/console/alerts/{id}/notes"),
            &[("note", "looks like a scanner"), ("csrf", &t)],
        )
        .await;
        assert_eq!(r.status_code(), 303);
        let page = get(&request, &analyst, &format!("/console/alerts/{id}"))
            .await
            .text();
        assert!(page.contains("<strong class=\"actor\">alice</strong>"));
        assert!(page.contains("looks like a scanner"));
    })
    .await;
}

#[tokio::test]
async fn hostile_stored_text_is_shown_as_text() {
    crate::support::request(|request, ctx| async move {
        let token = token_for(&request, &ctx, "root", Role::Admin).await;
        let hostile = "<script>alert(1)</script><img src=x onerror=alert(1)>\"'><svg onload=alert(1)>";
        let r = request
            .post("/api/events")
            .authorization_bearer(&token)
            .json(&json!({
                "source": "<b>ids</b>",
                "event_type": "xss<img src=x onerror=alert(2)>",
                "severity": "HIGH",
                "source_ip": "203.0.113.9",
                "description": hostile,
                "metadata": {"link": "javascript:alert(3)", "<img src=x onerror=alert(4)>": hostile},
            }))
            .await;
        assert_eq!(r.status_code(), 201, "{}", r.text());
        let body: Value = r.json();
        let (alert, event) = (
            body["alert"]["id"].as_str().unwrap().to_string(),
            body["id"].as_str().unwrap().to_string(),
        );
        // A note and a tag with markup too.
        let admin = sign_in(&request, "root").await;
        let t = csrf(&request, &admin).await;
        post_form(&request, &admin, &format!("/console/alerts/{alert}/notes"), &[("note", hostile), ("csrf", &t)]).await;
        post_form(&request, &admin, &format!("/console/alerts/{alert}/edit"), &[("tags", "<i>x</i>"), ("assignee", ""), ("severity", "HIGH"), ("csrf", &t)]).await;

        for path in [
            "/console".to_string(),
            "/console/alerts".to_string(),
            "/console/alerts?fragment=rows".to_string(),
            "/console/alerts?search=%3Cscript%3E".to_string(),
            format!("/console/alerts/{alert}"),
            "/console/events".to_string(),
            format!("/console/events/{event}"),
        ] {
            let page = get(&request, &admin, &path).await;
            assert_eq!(page.status_code(), 200, "{path}");
            let page = page.text();
            for raw in ["<script>alert", "<img src=x", "<svg", "<b>ids", "<i>x", "javascript:alert(3)\""] {
                assert!(!page.contains(raw), "{path} shows {raw} unescaped");
            }
            assert!(!page.contains("href=\"javascript:"), "{path}");
        }
        let page = get(&request, &admin, &format!("/console/alerts/{alert}")).await.text();
        assert!(page.contains("&lt;script&gt;alert(1)&lt;&#x2F;script&gt;") || page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "escaped, still readable");
        assert!(page.contains("&lt;b&gt;ids&lt;/b&gt;") || page.contains("&lt;b&gt;ids&lt;&#x2F;b&gt;"));
    })
    .await;
}

#[tokio::test]
async fn sign_out_deactivation_and_demotion_end_the_session() {
    crate::support::request(|request, ctx| async move {
        create_user(&ctx, "root", Role::Admin).await;
        create_user(&ctx, "alice", Role::Analyst).await;
        create_user(&ctx, "carol", Role::Admin).await;
        let admin = sign_in(&request, "root").await;
        let alice = sign_in(&request, "alice").await;
        let carol = sign_in(&request, "carol").await;

        // Sign-out: the old cookie no longer opens a page.
        let t = csrf(&request, &alice).await;
        let r = post_form(&request, &alice, "/console/logout", &[("csrf", &t)]).await;
        assert_eq!(r.status_code(), 303);
        assert_eq!(location(&r), "/console/login");
        assert!(set_cookie(&r, "vigil_session")
            .unwrap()
            .contains("Max-Age=0"));
        let r = get(&request, &alice, "/console/alerts").await;
        assert_eq!(r.status_code(), 303);
        // Sign-out needs the token too (no forced logout from another site).
        let alice = sign_in(&request, "alice").await;
        let r = post_form(&request, &alice, "/console/logout", &[]).await;
        assert_eq!(r.status_code(), 403);
        assert_eq!(get(&request, &alice, "/console").await.status_code(), 200);

        // Deactivated: out at the next request.
        let users = vigil::models::users::Entity::find()
            .all(&ctx.db)
            .await
            .unwrap();
        let pid = |name: &str| {
            users
                .iter()
                .find(|u| u.username == name)
                .unwrap()
                .pid
                .to_string()
        };
        let t = csrf(&request, &admin).await;
        let r = post_form(
            &request,
            &admin,
            &format!("/console/admin/users/{}", pid("alice")),
            &[("is_active", "false"), ("csrf", &t)],
        )
        .await;
        assert_eq!(r.status_code(), 303, "{}", r.text());
        assert_eq!(get(&request, &alice, "/console").await.status_code(), 303);

        // Demoted: carol's admin session ends.
        assert_eq!(
            get(&request, &carol, "/console/admin/users")
                .await
                .status_code(),
            200
        );
        let r = post_form(
            &request,
            &admin,
            &format!("/console/admin/users/{}", pid("carol")),
            &[("role", "ANALYST"), ("csrf", &t)],
        )
        .await;
        assert_eq!(r.status_code(), 303);
        assert_eq!(
            get(&request, &carol, "/console/admin/users")
                .await
                .status_code(),
            303
        );

        // The role in the cookie grants nothing: claiming ADMIN ends the session.
        let dave = create_user(&ctx, "dave", Role::Analyst).await;
        let cookie = sign_in(&request, "dave").await;
        assert!(cookie.ends_with(".ANALYST"), "{cookie}");
        let forged = cookie.replace(".ANALYST", ".ADMIN");
        assert_eq!(
            get(&request, &forged, "/console/admin/users")
                .await
                .status_code(),
            303
        );
        assert_eq!(
            get(&request, &cookie, "/console").await.status_code(),
            303,
            "revoked"
        );
        assert!(!dave.is_admin());

        // The last admin stays: a 409 page.
        let r = post_form(
            &request,
            &admin,
            &format!("/console/admin/users/{}", pid("root")),
            &[("role", "ANALYST"), ("csrf", &t)],
        )
        .await;
        assert_eq!(r.status_code(), 409);
        assert!(r.text().contains("last active admin"), "{}", r.text());
    })
    .await;
}

#[tokio::test]
async fn admins_change_alerts_in_bulk_and_edit_them() {
    crate::support::request(|request, ctx| async move {
        let token = token_for(&request, &ctx, "root", Role::Admin).await;
        create_user(&ctx, "alice", Role::Analyst).await;
        let a = open_alert(&request, &token, "203.0.113.1").await;
        let b = open_alert(&request, &token, "203.0.113.2").await;
        let c = open_alert(&request, &token, "203.0.113.3").await;
        let admin = sign_in(&request, "root").await;
        let t = csrf(&request, &admin).await;
        let r = post_form(
            &request,
            &admin,
            "/console/alerts/bulk",
            &[
                ("ids", &a),
                ("ids", &b),
                ("status", "ACKNOWLEDGED"),
                ("note", "triaged"),
                ("csrf", &t),
            ],
        )
        .await;
        assert_eq!(r.status_code(), 303, "{}", r.text());
        assert_eq!(alert_status(&ctx, &a).await, "ACKNOWLEDGED");
        assert_eq!(alert_status(&ctx, &b).await, "ACKNOWLEDGED");
        assert_eq!(alert_status(&ctx, &c).await, "OPEN");
        let r = post_form(
            &request,
            &admin,
            "/console/alerts/bulk",
            &[("status", "ACKNOWLEDGED"), ("csrf", &t)],
        )
        .await;
        assert_eq!(r.status_code(), 400);

        let r = post_form(
            &request,
            &admin,
            &format!("/console/alerts/{c}/edit"),
            &[
                ("assignee", "alice"),
                ("tags", "web, scanner"),
                ("severity", "CRITICAL"),
                ("csrf", &t),
            ],
        )
        .await;
        assert_eq!(r.status_code(), 303, "{}", r.text());
        let alert = alerts::Model::find_by_pid(&ctx.db, &c).await.unwrap();
        assert_eq!(alert.assignee.as_deref(), Some("alice"));
        assert_eq!(alert.severity, "CRITICAL");
        assert_eq!(alert.tags, json!(["scanner", "web"]), "kept sorted");
        let r = post_form(
            &request,
            &admin,
            &format!("/console/alerts/{c}/edit"),
            &[("assignee", "nobody-here"), ("csrf", &t)],
        )
        .await;
        assert_eq!(r.status_code(), 400);
        assert!(r.text().contains("assignee"));
    })
    .await;
}

#[tokio::test]
async fn alert_filters_live_in_the_url_and_bad_ones_are_named() {
    crate::support::request(|request, ctx| async move {
        let token = token_for(&request, &ctx, "root", Role::Admin).await;
        open_alert(&request, &token, "203.0.113.1").await;
        open_alert(&request, &token, "198.51.100.2").await;
        let admin = sign_in(&request, "root").await;
        let page = get(
            &request,
            &admin,
            "/console/alerts?source_ip=198.51.100.2&status=&severity=",
        )
        .await;
        assert_eq!(page.status_code(), 200);
        let page = page.text();
        assert!(page.contains("198.51.100.2") && !page.contains("203.0.113.1"));
        assert!(
            page.contains("value=\"198.51.100.2\""),
            "the form shows the filter"
        );
        assert!(
            page.contains("data-live=\"/console/alerts?source_ip=198.51.100.2&amp;fragment=rows\""),
            "{page}"
        );
        let r = get(
            &request,
            &admin,
            "/console/alerts?severity=URGENT&colour=red",
        )
        .await;
        assert_eq!(r.status_code(), 400);
        let text = r.text();
        assert!(
            text.contains("severity") && text.contains("colour"),
            "both named"
        );
        let r = get(&request, &admin, "/console/events?cursor=zz").await;
        assert_eq!(r.status_code(), 400);
        assert!(r.text().contains("cursor"));
    })
    .await;
}

#[tokio::test]
async fn the_overview_counts_open_alerts() {
    crate::support::request(|request, ctx| async move {
        let token = token_for(&request, &ctx, "root", Role::Admin).await;
        for ip in ["203.0.113.1", "203.0.113.2", "203.0.113.3"] {
            open_alert(&request, &token, ip).await;
        }
        let admin = sign_in(&request, "root").await;
        let page = get(&request, &admin, "/console").await.text();
        assert!(page.contains("data-figure=\"open\">3<"), "{page}");
        assert!(page.contains("data-figure=\"open-high\">3<"));
        assert!(page.contains("ids-1"), "top sources");
        assert!(page.contains("data-chart=\"{&quot;x&quot;:["), "chart data");
    })
    .await;
}

#[tokio::test]
async fn a_log_upload_reports_its_counts_and_links_its_alerts() {
    crate::support::request(|request, ctx| async move {
        create_user(&ctx, "alice", Role::Analyst).await;
        let cookie = sign_in(&request, "alice").await;
        let t = csrf(&request, &cookie).await;
        let log = "203.0.113.50 - - [01/Dec/2026:10:00:00 +0000] \"GET /products?id=1%27%20UNION%20SELECT%20password%20FROM%20users-- HTTP/1.1\" 200 512 \"-\" \"sqlmap/1.7\"\nnot a log line\n";
        let r = post_form(&request, &cookie, "/console/upload", &[("source", "web-01"), ("log", log), ("csrf", &t)]).await;
        assert_eq!(r.status_code(), 200, "{}", r.text());
        let page = r.text();
        assert!(page.contains("data-count=\"lines\">2<"), "{page}");
        assert!(page.contains("data-count=\"malformed\">1<"));
        assert!(page.contains("data-count=\"events\">1<"));
        assert!(page.contains("/console/alerts?source=web-01&amp;since="));
        let r = post_form(&request, &cookie, "/console/upload", &[("source", ""), ("log", log), ("csrf", &t)]).await;
        assert_eq!(r.status_code(), 400);
        assert!(r.text().contains("source"));
    })
    .await;
}

#[tokio::test]
async fn keys_and_webhook_secrets_are_shown_once() {
    crate::support::request(|request, ctx| async move {
        create_user(&ctx, "root", Role::Admin).await;
        let admin = sign_in(&request, "root").await;
        let t = csrf(&request, &admin).await;
        let r = post_form(
            &request,
            &admin,
            "/console/admin/keys",
            &[
                ("name", "sensor-1"),
                ("scopes", "events:write"),
                ("scopes", "alerts:read"),
                ("csrf", &t),
            ],
        )
        .await;
        assert_eq!(r.status_code(), 201, "{}", r.text());
        let page = r.text();
        let start = page.find("id=\"created-key\">").unwrap() + 17;
        let key = &page[start..start + page[start..].find('<').unwrap()];
        assert!(key.len() > 20);
        // The key works on the API, and is never shown again.
        let api = request
            .get("/api/alerts")
            .add_header("x-api-key", key.to_string())
            .await;
        assert_eq!(api.status_code(), 200);
        let list = get(&request, &admin, "/console/admin/keys").await.text();
        assert!(list.contains("sensor-1") && !list.contains(key));
        let row = api_keys::Entity::find()
            .one(&ctx.db)
            .await
            .unwrap()
            .unwrap();
        let r = post_form(
            &request,
            &admin,
            &format!("/console/admin/keys/{}/revoke", row.pid),
            &[("csrf", &t)],
        )
        .await;
        assert_eq!(r.status_code(), 303);
        let api = request
            .get("/api/alerts")
            .add_header("x-api-key", key.to_string())
            .await;
        assert_eq!(api.status_code(), 401);
        let r = post_form(
            &request,
            &admin,
            "/console/admin/keys",
            &[("name", "bad"), ("scopes", "everything"), ("csrf", &t)],
        )
        .await;
        assert_eq!(r.status_code(), 400);
        assert!(r.text().contains("scopes"));

        // Nothing listens on port 9: no alert is raised here, so nothing is sent.
        let r = post_form(
            &request,
            &admin,
            "/console/admin/webhooks",
            &[
                ("url", "http://127.0.0.1:9/hook"),
                ("min_severity", "CRITICAL"),
                ("csrf", &t),
            ],
        )
        .await;
        assert_eq!(r.status_code(), 201, "{}", r.text());
        let page = r.text();
        let start = page.find("id=\"created-secret\">").unwrap() + 20;
        let secret = &page[start..start + page[start..].find('<').unwrap()];
        assert!(secret.len() > 20);
        let list = get(&request, &admin, "/console/admin/webhooks")
            .await
            .text();
        assert!(list.contains("http://127.0.0.1:9/hook") && !list.contains(secret));
        let hook = vigil::models::_entities::webhooks::Entity::find()
            .one(&ctx.db)
            .await
            .unwrap()
            .unwrap();
        let r = post_form(
            &request,
            &admin,
            &format!("/console/admin/webhooks/{}/enabled", hook.pid),
            &[("enabled", "false"), ("csrf", &t)],
        )
        .await;
        assert_eq!(r.status_code(), 303);
        let hook = vigil::models::_entities::webhooks::Entity::find()
            .one(&ctx.db)
            .await
            .unwrap()
            .unwrap();
        assert!(!hook.enabled);
        let r = get(
            &request,
            &admin,
            &format!("/console/admin/webhooks/{}", hook.pid),
        )
        .await;
        assert_eq!(r.status_code(), 200);
        assert!(r.text().contains("No deliveries yet"));
        let r = post_form(
            &request,
            &admin,
            "/console/admin/webhooks",
            &[("url", "http://10.0.0.1/x"), ("csrf", &t)],
        )
        .await;
        assert_eq!(r.status_code(), 400);
        assert!(r.text().contains("url"));
    })
    .await;
}

#[tokio::test]
async fn the_live_feed_takes_the_console_cookie_from_this_origin_only() {
    let app = crate::support::boot().await;
    let (server, ctx) = (app.http_server(), app.ctx());
    create_user(&ctx, "alice", Role::Analyst).await;
    let cookie = sign_in(&server, "alice").await;
    let addr = server.server_address().expect("a real socket");
    let origin = format!("http://{}", addr.authority());
    let r = server
        .get_websocket("/ws/alerts")
        .add_header("cookie", cookie.clone())
        .add_header("origin", "http://evil.example")
        .await;
    assert_eq!(r.status_code(), 401);
    let r = server
        .get_websocket("/ws/alerts")
        .add_header("cookie", cookie.clone())
        .await;
    assert_eq!(r.status_code(), 401, "no Origin: not a console page");
    let r = server
        .get_websocket("/ws/alerts")
        .add_header("cookie", cookie)
        .add_header("origin", origin)
        .await;
    assert_eq!(r.status_code(), 101);
}

#[tokio::test]
async fn a_server_fault_is_a_plain_500_page_without_internals() {
    crate::support::request(|request, ctx| async move {
        use sea_orm::ConnectionTrait;
        let token = token_for(&request, &ctx, "root", Role::Admin).await;
        let id = open_alert(&request, &token, "203.0.113.7").await;
        let admin = sign_in(&request, "root").await;
        ctx.db
            .execute_unprepared("DROP TABLE alert_histories")
            .await
            .unwrap();
        let r = get(&request, &admin, &format!("/console/alerts/{id}")).await;
        assert_eq!(r.status_code(), 500);
        assert!(r.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'self'"));
        let text = r.text();
        assert!(text.contains("<html") && text.contains("Vigil could not show this page"));
        for leak in [
            "alert_histories",
            "SELECT",
            "no such table",
            "does not exist",
            "panicked",
            "src/",
        ] {
            assert!(!text.contains(leak), "the page shows {leak}");
        }
    })
    .await;
}

#[tokio::test]
async fn the_overview_catches_up_after_a_change() {
    crate::support::request(|request, ctx| async move {
        let token = token_for(&request, &ctx, "root", Role::Admin).await;
        let a = open_alert(&request, &token, "203.0.113.1").await;
        open_alert(&request, &token, "203.0.113.2").await;
        let admin = sign_in(&request, "root").await;
        let page = get(&request, &admin, "/console").await.text();
        assert!(page.contains("data-figure=\"open\">2<"));
        let t = csrf(&request, &admin).await;
        let r = post_form(
            &request,
            &admin,
            &format!("/console/alerts/{a}/status"),
            &[("status", "RESOLVED"), ("csrf", &t)],
        )
        .await;
        assert_eq!(r.status_code(), 303);
        // The figures are kept a while (a second, or four times what
        // computing them took): meanwhile the same figures, with a hint to
        // ask again (its value depends on the machine's speed, tested at
        // fixed ages in `models::stats`).
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        let page = get(&request, &admin, "/console").await.text();
        assert!(
            page.contains("data-figure=\"open\">2<") && page.contains("data-recheck=\""),
            "{page}"
        );
        let mut caught_up = false;
        for _ in 0..50 {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            let page = get(&request, &admin, "/console?fragment=1").await.text();
            // Whether this page also says when to ask again depends on how
            // long ago its figures were computed, which is the machine's
            // speed, not the code's: `models::stats` tests that at fixed
            // ages.
            if page.contains("data-figure=\"open\">1<") {
                caught_up = true;
                break;
            }
        }
        assert!(caught_up, "the overview never showed the change");
    })
    .await;
}

/// Rows of a table, for "nothing changed" checks.
async fn rows_in(ctx: &loco_rs::app::AppContext, table: &str) -> i64 {
    use sea_orm::{ConnectionTrait, Statement};
    let sql = format!("SELECT COUNT(*) AS n FROM {table}");
    let row = ctx
        .db
        .query_one_raw(Statement::from_string(ctx.db.get_database_backend(), sql))
        .await
        .unwrap()
        .unwrap();
    row.try_get::<i64>("", "n").unwrap()
}

#[tokio::test]
async fn every_form_is_refused_without_the_csrf_token_and_changes_nothing() {
    crate::support::request(|request, ctx| async move {
        let token = token_for(&request, &ctx, "root", Role::Admin).await;
        let alice = create_user(&ctx, "alice", Role::Analyst).await;
        let id = open_alert(&request, &token, "203.0.113.7").await;
        let admin = sign_in(&request, "root").await;
        let t = csrf(&request, &admin).await;
        // A key and a webhook to revoke and toggle (port 9: nothing listens,
        // and no alert is raised after it, so nothing is sent).
        post_form(&request, &admin, "/console/admin/keys", &[("name", "k"), ("scopes", "alerts:read"), ("csrf", &t)]).await;
        post_form(&request, &admin, "/console/admin/webhooks", &[("url", "http://127.0.0.1:9/hook"), ("min_severity", "CRITICAL"), ("csrf", &t)]).await;
        let key = api_keys::Entity::find().one(&ctx.db).await.unwrap().unwrap().pid;
        let hook = vigil::models::_entities::webhooks::Entity::find().one(&ctx.db).await.unwrap().unwrap().pid;
        let tables = ["alerts", "alert_histories", "events", "api_keys", "webhooks", "users", "refresh_tokens"];
        let mut before = Vec::new();
        for table in tables {
            before.push(rows_in(&ctx, table).await);
        }
        let log = "203.0.113.50 - - [01/Dec/2026:10:00:00 +0000] \"GET /?id=1%27%20UNION%20SELECT%20password%20FROM%20users-- HTTP/1.1\" 200 5 \"-\" \"sqlmap\"\n";
        let forms: Vec<(String, Vec<(&str, &str)>)> = vec![
            (format!("/console/alerts/{id}/status"), vec![("status", "RESOLVED")]),
            (format!("/console/alerts/{id}/notes"), vec![("note", "x")]),
            (format!("/console/alerts/{id}/edit"), vec![("severity", "LOW")]),
            ("/console/alerts/bulk".into(), vec![("status", "RESOLVED"), ("ids", id.as_str())]),
            ("/console/upload".into(), vec![("source", "web-01"), ("log", log)]),
            (format!("/console/admin/users/{}", alice.pid), vec![("is_active", "false")]),
            ("/console/admin/keys".into(), vec![("name", "k2"), ("scopes", "alerts:read")]),
            (format!("/console/admin/keys/{key}/revoke"), vec![]),
            ("/console/admin/webhooks".into(), vec![("url", "http://127.0.0.1:9/other")]),
            (format!("/console/admin/webhooks/{hook}/enabled"), vec![("enabled", "false")]),
            ("/console/logout".into(), vec![]),
        ];
        for (path, form) in &forms {
            for bad in [None, Some("0".repeat(64))] {
                let mut form = form.clone();
                if let Some(bad) = &bad {
                    form.push(("csrf", bad));
                }
                let r = post_form(&request, &admin, path, &form).await;
                assert_eq!(r.status_code(), 403, "{path} with {bad:?}");
            }
        }
        let mut after = Vec::new();
        for table in tables {
            after.push(rows_in(&ctx, table).await);
        }
        assert_eq!(before, after, "rows of {tables:?}");
        let alert = alerts::Model::find_by_pid(&ctx.db, &id).await.unwrap();
        assert_eq!((alert.status.as_str(), alert.severity.as_str()), ("OPEN", "HIGH"));
        let key = api_keys::Entity::find().one(&ctx.db).await.unwrap().unwrap();
        assert!(key.revoked_at.is_none());
        let hook = vigil::models::_entities::webhooks::Entity::find().one(&ctx.db).await.unwrap().unwrap();
        assert!(hook.enabled);
        assert!(vigil::models::users::Model::find_by_pid(&ctx.db, &alice.pid.to_string()).await.unwrap().is_active);
        // Still signed in: the refused sign-out did not end the session.
        assert_eq!(get(&request, &admin, "/console").await.status_code(), 200);
    })
    .await;
}

#[tokio::test]
async fn an_analyst_cannot_revoke_keys_toggle_webhooks_or_read_deliveries() {
    crate::support::request(|request, ctx| async move {
        create_user(&ctx, "root", Role::Admin).await;
        create_user(&ctx, "alice", Role::Analyst).await;
        let admin = sign_in(&request, "root").await;
        let t = csrf(&request, &admin).await;
        post_form(
            &request,
            &admin,
            "/console/admin/keys",
            &[("name", "k"), ("scopes", "alerts:read"), ("csrf", &t)],
        )
        .await;
        post_form(
            &request,
            &admin,
            "/console/admin/webhooks",
            &[
                ("url", "http://127.0.0.1:9/hook"),
                ("min_severity", "CRITICAL"),
                ("csrf", &t),
            ],
        )
        .await;
        let key = api_keys::Entity::find()
            .one(&ctx.db)
            .await
            .unwrap()
            .unwrap()
            .pid;
        let hook = vigil::models::_entities::webhooks::Entity::find()
            .one(&ctx.db)
            .await
            .unwrap()
            .unwrap()
            .pid;
        let analyst = sign_in(&request, "alice").await;
        let mine = csrf(&request, &analyst).await;
        let r = post_form(
            &request,
            &analyst,
            &format!("/console/admin/keys/{key}/revoke"),
            &[("csrf", &mine)],
        )
        .await;
        assert_eq!(r.status_code(), 403);
        let r = post_form(
            &request,
            &analyst,
            &format!("/console/admin/webhooks/{hook}/enabled"),
            &[("enabled", "false"), ("csrf", &mine)],
        )
        .await;
        assert_eq!(r.status_code(), 403);
        let r = get(
            &request,
            &analyst,
            &format!("/console/admin/webhooks/{hook}"),
        )
        .await;
        assert_eq!(r.status_code(), 403);
        assert!(api_keys::Entity::find()
            .one(&ctx.db)
            .await
            .unwrap()
            .unwrap()
            .revoked_at
            .is_none());
        assert!(
            vigil::models::_entities::webhooks::Entity::find()
                .one(&ctx.db)
                .await
                .unwrap()
                .unwrap()
                .enabled
        );
        // The admin may.
        let r = get(&request, &admin, &format!("/console/admin/webhooks/{hook}")).await;
        assert_eq!(r.status_code(), 200);
    })
    .await;
}

#[tokio::test]
async fn oversized_and_non_form_bodies_are_html_refusals() {
    crate::support::request(|request, ctx| async move {
        create_user(&ctx, "alice", Role::Analyst).await;
        let cookie = sign_in(&request, "alice").await;
        let t = csrf(&request, &cookie).await;
        let big = "a".repeat(1_100_000);
        let r = post_form(
            &request,
            &cookie,
            "/console/upload",
            &[("source", "web-01"), ("log", &big), ("csrf", &t)],
        )
        .await;
        assert_eq!(r.status_code(), 413);
        assert!(r.text().contains("<html") && r.text().contains("1 MiB"));
        assert_eq!(rows_in(&ctx, "events").await, 0);
        let r = request
            .post("/console/upload")
            .add_header("cookie", cookie.clone())
            .json(&json!({"source": "web-01", "log": "x", "csrf": t}))
            .await;
        assert_eq!(r.status_code(), 415);
        assert!(r.text().contains("<html"));
        assert!(r.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'self'"));
    })
    .await;
}

/// While storage refuses writes, a console change is a 503 page to retry,
/// and nothing is stored; afterwards the same form works.
#[tokio::test]
async fn a_console_change_while_storage_refuses_is_a_503_and_stores_nothing() {
    crate::support::request(|request, ctx| async move {
        let token = token_for(&request, &ctx, "root", Role::Admin).await;
        let id = open_alert(&request, &token, "203.0.113.7").await;
        let admin = sign_in(&request, "root").await;
        let t = csrf(&request, &admin).await;
        // Another writer holds the database (SQLite: the write lock; PostgreSQL:
        // the alerts table) past the configured lock timeout.
        let hold = crate::support::hold_writes(&ctx, "alerts").await;
        let path = format!("/console/alerts/{id}/status");
        let r = post_form(
            &request,
            &admin,
            &path,
            &[("status", "RESOLVED"), ("csrf", &t)],
        )
        .await;
        hold.rollback().await.unwrap();
        assert_eq!(r.status_code(), 503, "{}", r.text());
        assert!(r.text().contains("Storage is not accepting writes"));
        assert!(r.headers().contains_key("retry-after"));
        assert_eq!(alert_status(&ctx, &id).await, "OPEN");
        let r = post_form(
            &request,
            &admin,
            &path,
            &[("status", "RESOLVED"), ("csrf", &t)],
        )
        .await;
        assert_eq!(r.status_code(), 303);
        assert_eq!(alert_status(&ctx, &id).await, "RESOLVED");
    })
    .await;
}

/// The operations pages: admins only, forms behind CSRF, the silenced
/// badge on a quiet alert, and shown text escaped.
#[tokio::test]
async fn operations_pages_are_admin_only_and_show_silenced_alerts() {
    crate::support::request(|request, ctx| async move {
        let token = token_for(&request, &ctx, "root", Role::Admin).await;
        create_user(&ctx, "ann", Role::Analyst).await;
        let admin = sign_in(&request, "root").await;
        let analyst = sign_in(&request, "ann").await;
        for path in ["/console/admin/silences", "/console/admin/allowlist", "/console/admin/audit"] {
            let r = get(&request, &analyst, path).await;
            assert_eq!(r.status_code(), 403, "{path}");
            let r = get(&request, &admin, path).await;
            assert_eq!(r.status_code(), 200, "{path}: {}", r.text());
        }
        let t = csrf(&request, &admin).await;
        // No CSRF token: refused, nothing stored.
        let r = post_form(&request, &admin, "/console/admin/silences",
            &[("source", "fw-1"), ("hours", "2"), ("comment", "x")]).await;
        assert_eq!(r.status_code(), 403);
        let r = post_form(&request, &admin, "/console/admin/silences",
            &[("source", "fw-1"), ("hours", "2"), ("comment", "<script>alert(1)</script>"), ("csrf", &t)]).await;
        assert_eq!(r.status_code(), 303, "{}", r.text());
        let page = get(&request, &admin, "/console/admin/silences").await.text();
        assert!(page.contains("source=fw-1"));
        assert!(!page.contains("<script>alert(1)</script>"), "escaped");
        assert!(page.contains("&lt;script&gt;"));
        // A bad network is shown, not stored.
        let r = post_form(&request, &admin, "/console/admin/allowlist",
            &[("cidr", "10.0.0.0/33"), ("reason", "r"), ("csrf", &t)]).await;
        assert_eq!(r.status_code(), 400);
        assert!(r.text().contains("cidr"));
        let r = post_form(&request, &admin, "/console/admin/allowlist",
            &[("cidr", "10.0.0.0/8"), ("reason", "scanner"), ("csrf", &t)]).await;
        assert_eq!(r.status_code(), 303);
        assert!(get(&request, &admin, "/console/admin/allowlist").await.text().contains("10.0.0.0/8"));
        // An event the silence matches: the badge, in the list and on its page.
        let r = request
            .post("/api/events")
            .authorization_bearer(&token)
            .json(&serde_json::json!({"source": "fw-1", "event_type": "scan", "severity": "HIGH", "source_ip": "192.0.2.9"}))
            .await;
        let id = r.json::<serde_json::Value>()["alert"]["id"].as_str().unwrap().to_string();
        assert!(get(&request, &admin, "/console/alerts").await.text().contains("badge-silenced"));
        assert!(get(&request, &admin, &format!("/console/alerts/{id}")).await.text().contains("Silenced by"));
        let audit = get(&request, &admin, "/console/admin/audit?action=silence.created").await.text();
        assert!(audit.contains("silence.created"));
        assert!(!audit.contains("allowlist.created</td>"), "filtered by action");
    })
    .await;
}

/// An analyst with a valid session and CSRF token is refused every
/// operations form, and nothing changes; an admin's end-now, remove and
/// silence-until-resolved forms do what they say.
#[tokio::test]
async fn operations_forms_are_refused_to_analysts_and_work_for_admins() {
    use vigil::models::_entities::{allowlist_entries, audit_log, silences};
    crate::support::request(|request, ctx| async move {
        let token = token_for(&request, &ctx, "root", Role::Admin).await;
        create_user(&ctx, "ann", Role::Analyst).await;
        let admin = sign_in(&request, "root").await;
        let analyst = sign_in(&request, "ann").await;
        let alert = open_alert(&request, &token, "198.51.100.20").await;
        let t = csrf(&request, &admin).await;
        let r = post_form(
            &request,
            &admin,
            "/console/admin/silences",
            &[
                ("source", "s"),
                ("hours", "2"),
                ("comment", "c"),
                ("csrf", &t),
            ],
        )
        .await;
        assert_eq!(r.status_code(), 303);
        let r = post_form(
            &request,
            &admin,
            "/console/admin/allowlist",
            &[("cidr", "10.0.0.0/8"), ("reason", "r"), ("csrf", &t)],
        )
        .await;
        assert_eq!(r.status_code(), 303);
        let silence = silences::Entity::find()
            .one(&ctx.db)
            .await
            .unwrap()
            .unwrap()
            .pid;
        let entry = allowlist_entries::Entity::find()
            .one(&ctx.db)
            .await
            .unwrap()
            .unwrap()
            .pid;
        let counts = || async {
            (
                silences::Entity::find()
                    .all(&ctx.db)
                    .await
                    .unwrap()
                    .iter()
                    .filter(|s| s.ended_at.is_none())
                    .count(),
                allowlist_entries::Entity::find()
                    .all(&ctx.db)
                    .await
                    .unwrap()
                    .len(),
                audit_log::Entity::find().all(&ctx.db).await.unwrap().len(),
            )
        };
        let before = counts().await;
        let at = csrf(&request, &analyst).await;
        let forms = [
            "/console/admin/silences".to_string(),
            format!("/console/admin/silences/{silence}/expire"),
            format!("/console/alerts/{alert}/silence"),
            "/console/admin/allowlist".to_string(),
            format!("/console/admin/allowlist/{entry}/delete"),
        ];
        for path in &forms {
            let r = post_form(
                &request,
                &analyst,
                path,
                &[
                    ("source", "x"),
                    ("hours", "1"),
                    ("comment", "c"),
                    ("cidr", "192.0.2.0/24"),
                    ("reason", "r"),
                    ("csrf", &at),
                ],
            )
            .await;
            assert_eq!(r.status_code(), 403, "{path}");
        }
        assert_eq!(counts().await, before, "nothing changed");
        // Bad form values: 400 pages naming them.
        let r = post_form(
            &request,
            &admin,
            "/console/admin/silences",
            &[
                ("source", "x"),
                ("hours", "0"),
                ("comment", "c"),
                ("csrf", &t),
            ],
        )
        .await;
        assert_eq!(r.status_code(), 400);
        assert!(r.text().contains("hours"));
        let r = post_form(
            &request,
            &admin,
            "/console/admin/allowlist",
            &[
                ("cidr", "192.0.2.0/24"),
                ("reason", "r"),
                ("expires_at", "soon"),
                ("csrf", &t),
            ],
        )
        .await;
        assert_eq!(r.status_code(), 400);
        assert!(r.text().contains("expires_at"));
        // The admin's forms.
        for path in &forms[1..3] {
            let r = post_form(&request, &admin, path, &[("csrf", &t)]).await;
            assert_eq!(r.status_code(), 303, "{path}: {}", r.text());
        }
        let r = post_form(&request, &admin, &forms[4], &[("csrf", &t)]).await;
        assert_eq!(r.status_code(), 303);
        let ended = silences::Entity::find().all(&ctx.db).await.unwrap();
        assert!(ended
            .iter()
            .any(|s| s.pid == silence && s.ended_at.is_some()));
        assert!(ended
            .iter()
            .any(|s| s.alert_id.is_some() && s.ended_at.is_none()));
        assert!(allowlist_entries::Entity::find()
            .all(&ctx.db)
            .await
            .unwrap()
            .is_empty());
        let page = get(&request, &admin, &format!("/console/alerts/{alert}"))
            .await
            .text();
        assert!(page.contains("Silenced by"));
        assert!(
            !page.contains("Silence until resolved"),
            "offered only while not silenced"
        );
        // Unknown ids are 404 pages; a model's refusal is a 400 page.
        let unknown = "00000000-0000-0000-0000-000000000000";
        for path in [
            format!("/console/admin/silences/{unknown}/expire"),
            format!("/console/alerts/{unknown}/silence"),
            format!("/console/admin/allowlist/{unknown}/delete"),
        ] {
            let r = post_form(&request, &admin, &path, &[("csrf", &t)]).await;
            assert_eq!(r.status_code(), 404, "{path}: {}", r.text());
        }
        let silences_before = silences::Entity::find().all(&ctx.db).await.unwrap().len();
        let r = post_form(
            &request,
            &admin,
            "/console/admin/silences",
            &[("hours", "2"), ("comment", "no matcher"), ("csrf", &t)],
        )
        .await;
        assert_eq!(r.status_code(), 400);
        assert!(r.text().contains("matchers"), "{}", r.text());
        let r = post_form(
            &request,
            &admin,
            "/console/admin/silences",
            &[
                ("source", "x"),
                ("days", "sat"),
                ("start", "02:00"),
                ("duration_minutes", "lots"),
                ("comment", "c"),
                ("csrf", &t),
            ],
        )
        .await;
        assert_eq!(r.status_code(), 400);
        assert!(r.text().contains("duration_minutes"), "{}", r.text());
        assert_eq!(
            silences::Entity::find().all(&ctx.db).await.unwrap().len(),
            silences_before
        );
    })
    .await;
}
