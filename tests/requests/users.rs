use serde_json::{json, Value};
use vigil::models::users::{self, Role};

use super::prepare_data::{assert_error, create_user, token_for};

#[tokio::test]
async fn admin_lists_users_with_pagination_links() {
    crate::support::request(|request, ctx| async move {
        let admin = token_for(&request, &ctx, "root", Role::Admin).await;
        for i in 0..4 {
            create_user(&ctx, &format!("user{i}"), Role::Analyst).await;
        }
        let response = request
            .get("/api/users?page_size=2")
            .add_header("host", "localhost")
            .authorization_bearer(&admin)
            .await;
        assert_eq!(response.status_code(), 200, "{}", response.text());
        let body: Value = response.json();
        assert_eq!(body["count"], 5);
        assert_eq!(body["results"].as_array().unwrap().len(), 2);
        assert!(body["previous"].is_null());
        let next = body["next"].as_str().unwrap();
        assert!(
            next.starts_with("http://localhost/"),
            "absolute link: {next}"
        );
        assert!(next.ends_with("/api/users?page_size=2&page=2"), "{next}");
        assert!(body["results"][0].get("password").is_none());

        let last = request
            .get("/api/users/?page_size=2&page=3")
            .authorization_bearer(&admin)
            .await;
        let body: Value = last.json();
        assert_eq!(body["results"].as_array().unwrap().len(), 1);
        assert!(body["next"].is_null());
        assert!(body["previous"].as_str().unwrap().ends_with("page=2"));

        let default = request.get("/api/users").authorization_bearer(&admin).await;
        assert_eq!(
            default.json::<Value>()["results"].as_array().unwrap().len(),
            5
        );
    })
    .await;
}

#[tokio::test]
async fn bad_page_parameters_are_400_naming_them() {
    crate::support::request(|request, ctx| async move {
        let admin = token_for(&request, &ctx, "root", Role::Admin).await;
        for query in ["page=0", "page=abc", "page_size=501", "page_size=-1"] {
            let response = request
                .get(&format!("/api/users?{query}"))
                .authorization_bearer(&admin)
                .await;
            let body = assert_error(&response, 400, "validation_failed");
            let name = query.split('=').next().unwrap();
            assert!(body["fields"][name].is_array(), "{query}: {body}");
        }
    })
    .await;
}

#[tokio::test]
async fn analysts_and_anonymous_cannot_administer_users() {
    crate::support::request(|request, ctx| async move {
        let analyst = token_for(&request, &ctx, "alice", Role::Analyst).await;
        let bob = create_user(&ctx, "bob", Role::Analyst).await;
        let path = format!("/api/users/{}", bob.pid);

        assert_error(&request.get("/api/users").await, 401, "unauthorized");
        assert_error(&request.get(&path).await, 401, "unauthorized");
        assert_error(
            &request.patch(&path).json(&json!({"role": "ADMIN"})).await,
            401,
            "unauthorized",
        );

        let r = request
            .get("/api/users")
            .authorization_bearer(&analyst)
            .await;
        assert_error(&r, 403, "forbidden");
        let r = request.get(&path).authorization_bearer(&analyst).await;
        assert_error(&r, 403, "forbidden");
        let r = request
            .patch(&path)
            .authorization_bearer(&analyst)
            .json(&json!({"role": "ADMIN"}))
            .await;
        assert_error(&r, 403, "forbidden");
        let unchanged = users::Model::find_by_login(&ctx.db, "bob").await.unwrap();
        assert_eq!(unchanged.role(), Role::Analyst);
    })
    .await;
}

#[tokio::test]
async fn admin_reads_and_promotes_a_user() {
    crate::support::request(|request, ctx| async move {
        let admin = token_for(&request, &ctx, "root", Role::Admin).await;
        let bob = create_user(&ctx, "bob", Role::Analyst).await;
        let path = format!("/api/users/{}", bob.pid);

        let r = request.get(&path).authorization_bearer(&admin).await;
        assert_eq!(r.status_code(), 200);
        assert_eq!(r.json::<Value>()["username"], "bob");

        let r = request
            .patch(&path)
            .authorization_bearer(&admin)
            .json(&json!({"role": "admin"}))
            .await;
        assert_eq!(r.status_code(), 200, "{}", r.text());
        assert_eq!(r.json::<Value>()["role"], "ADMIN");
        let stored = users::Model::find_by_login(&ctx.db, "bob").await.unwrap();
        assert_eq!(stored.role(), Role::Admin);

        let r = request
            .patch(&path)
            .authorization_bearer(&admin)
            .json(&json!({"role": "SUPERUSER"}))
            .await;
        let body = assert_error(&r, 400, "validation_failed");
        assert!(body["fields"]["role"].is_array(), "{body}");

        let r = request
            .patch(&path)
            .authorization_bearer(&admin)
            .json(&json!({"password": "x"}))
            .await;
        assert_error(&r, 400, "validation_failed");

        let missing = request
            .get("/api/users/00000000-0000-0000-0000-000000000000")
            .authorization_bearer(&admin)
            .await;
        assert_error(&missing, 404, "not_found");
        let garbage = request
            .get("/api/users/not-a-uuid")
            .authorization_bearer(&admin)
            .await;
        assert_error(&garbage, 404, "not_found");
    })
    .await;
}

#[tokio::test]
async fn a_demoted_admin_loses_rights_on_the_next_request() {
    crate::support::request(|request, ctx| async move {
        let root = token_for(&request, &ctx, "root", Role::Admin).await;
        let second = token_for(&request, &ctx, "second", Role::Admin).await;
        let second_user = users::Model::find_by_login(&ctx.db, "second")
            .await
            .unwrap();

        let r = request
            .get("/api/users")
            .authorization_bearer(&second)
            .await;
        assert_eq!(r.status_code(), 200);

        let r = request
            .patch(&format!("/api/users/{}", second_user.pid))
            .authorization_bearer(&root)
            .json(&json!({"role": "ANALYST"}))
            .await;
        assert_eq!(r.status_code(), 200);

        // Same token, next request: no longer an admin.
        let r = request
            .get("/api/users")
            .authorization_bearer(&second)
            .await;
        assert_error(&r, 403, "forbidden");
    })
    .await;
}

#[tokio::test]
async fn the_last_active_admin_cannot_be_demoted_or_deactivated() {
    crate::support::request(|request, ctx| async move {
        let root = token_for(&request, &ctx, "root", Role::Admin).await;
        let root_user = users::Model::find_by_login(&ctx.db, "root").await.unwrap();
        let path = format!("/api/users/{}", root_user.pid);

        for change in [json!({"role": "ANALYST"}), json!({"is_active": false})] {
            let r = request
                .patch(&path)
                .authorization_bearer(&root)
                .json(&change)
                .await;
            assert_error(&r, 409, "last_admin");
        }
        let stored = users::Model::find_by_login(&ctx.db, "root").await.unwrap();
        assert!(stored.is_admin());

        // With a second active admin, the first may step down.
        create_user(&ctx, "second", Role::Admin).await;
        let r = request
            .patch(&path)
            .authorization_bearer(&root)
            .json(&json!({"role": "ANALYST"}))
            .await;
        assert_eq!(r.status_code(), 200, "{}", r.text());
    })
    .await;
}
