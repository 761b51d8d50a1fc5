//! `vigil-cli task create_admin` reads the password from the environment or
//! standard input, so it never has to be on the command line.
use std::{io::Write, process::Stdio};

use vigil::models::users::{self, Role};

use super::{configured_db, connect};
use crate::support::TestDb;

fn create_admin(url: &str, username: &str, env: Option<&str>, stdin: &str) -> bool {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_vigil-cli"));
    cmd.args([
        "task",
        "create_admin",
        &format!("username:{username}"),
        &format!("email:{username}@example.com"),
    ])
    .env("LOCO_ENV", "development")
    .env("DATABASE_URL", url)
    .env("LOG_LEVEL", "error")
    .env_remove("VIGIL_ADMIN_PASSWORD")
    .stdin(Stdio::piped())
    .stdout(Stdio::null())
    .stderr(Stdio::inherit());
    if let Some(env) = env {
        cmd.env("VIGIL_ADMIN_PASSWORD", env);
    }
    let mut child = cmd.spawn().expect("spawn vigil-cli");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    child.wait().expect("wait").success()
}

#[tokio::test]
async fn create_admin_takes_the_password_from_the_environment_or_stdin() {
    let (_db, url) = TestDb::create(&configured_db().await).await;
    assert!(create_admin(&url, "fromstdin", None, "stdin-password-1\n"));
    assert!(create_admin(&url, "fromenv", Some("env-password-12"), ""));
    assert!(
        !create_admin(&url, "nopassword", None, ""),
        "no password: refused"
    );
    let db = connect(&url).await;
    for (name, password) in [
        ("fromstdin", "stdin-password-1"),
        ("fromenv", "env-password-12"),
    ] {
        let user = users::Model::find_by_login(&db, name).await.expect(name);
        assert_eq!(user.role(), Role::Admin);
        assert!(
            users::Model::password_matches(Some(&user), password),
            "{name}"
        );
    }
    assert!(users::Model::find_by_login(&db, "nopassword")
        .await
        .is_err());
    db.close().await.ok();
}
