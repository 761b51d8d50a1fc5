use loco_rs::{boot::run_task, task};
use vigil::{
    app::App,
    models::users::{self, Role},
};

fn vars(username: &str, email: &str, password: &str) -> task::Vars {
    task::Vars::from_cli_args(vec![
        ("username".to_string(), username.to_string()),
        ("email".to_string(), email.to_string()),
        ("password".to_string(), password.to_string()),
    ])
}

#[tokio::test]
async fn create_admin_creates_an_admin_once() {
    let boot = crate::support::boot().await;
    let ctx = &boot.app_context;
    let name = "create_admin".to_string();

    run_task::<App>(
        ctx,
        Some(&name),
        &vars("root", "root@example.com", "a-long-password"),
    )
    .await
    .expect("first run creates");
    let admin = users::Model::find_by_login(&ctx.db, "root").await.unwrap();
    assert_eq!(admin.role(), Role::Admin);
    assert!(admin.is_active);
    assert!(admin.password.starts_with("$argon2id$"));

    // Idempotent: a second run succeeds and changes nothing.
    run_task::<App>(
        ctx,
        Some(&name),
        &vars("root", "root@example.com", "another-password"),
    )
    .await
    .expect("second run is a no-op");
    let again = users::Model::find_by_login(&ctx.db, "root").await.unwrap();
    assert_eq!(again.password, admin.password);
}

#[tokio::test]
async fn create_admin_refuses_bad_input_and_existing_analysts() {
    let boot = crate::support::boot().await;
    let ctx = &boot.app_context;
    let name = "create_admin".to_string();

    let err = run_task::<App>(ctx, Some(&name), &vars("root", "root@example.com", "short"))
        .await
        .expect_err("short password refused");
    assert!(err.to_string().contains("password"), "{err}");

    let missing = task::Vars::from_cli_args(vec![("username".to_string(), "x".to_string())]);
    let err = run_task::<App>(ctx, Some(&name), &missing)
        .await
        .expect_err("missing args");
    assert!(err.to_string().contains("email"), "{err}");

    users::Model::create_with_password(
        &ctx.db,
        &vigil::models::audit::By::new("test", None),
        &users::NewUser {
            username: "alice",
            email: "alice@example.com",
            password: "a-long-password",
            role: Role::Analyst,
        },
    )
    .await
    .unwrap();
    let err = run_task::<App>(
        ctx,
        Some(&name),
        &vars("alice", "alice@example.com", "a-long-password"),
    )
    .await
    .expect_err("an analyst is not silently promoted");
    assert!(err.to_string().contains("already exists"), "{err}");
    assert_eq!(
        users::Model::find_by_login(&ctx.db, "alice")
            .await
            .unwrap()
            .role(),
        Role::Analyst
    );
}
