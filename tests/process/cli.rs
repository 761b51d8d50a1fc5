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

/// The server's own log: a live token sent in a URL (the feed's `?token=`)
/// never appears in it, and a client's mistake is not logged as an error.
#[tokio::test]
async fn tokens_never_reach_the_log_and_client_mistakes_are_not_errors() {
    let (db, url) = TestDb::create(&configured_db().await).await;
    let log = std::env::temp_dir().join(format!("vigil-log-{}.log", uuid::Uuid::new_v4()));
    let port = super::free_port();
    let mut server =
        super::Server::start_logging(&url, port, None, &[("LOG_LEVEL", "debug")], Some(&log)).await;
    let conn = connect(&url).await;
    super::create_admin(&conn, "root").await;
    conn.close().await.ok();
    let token = server.token("root").await;
    let (status, _) = server
        .call(
            "GET",
            &format!("/ws/alerts?token={token}&min_severity=BOGUS"),
            None,
            None,
        )
        .await
        .expect("feed");
    assert_eq!(status, 400);
    let (status, _) = server
        .call("GET", "/api/alerts?status=NOPE", Some(&token), None)
        .await
        .expect("list");
    assert_eq!(status, 400);
    server.kill();
    let text = std::fs::read_to_string(&log).expect("read log");
    let _ = std::fs::remove_file(&log);
    drop(db);
    assert!(text.contains("ws/alerts"), "the request was logged: {text}");
    assert!(text.contains("token=REDACTED"), "{text}");
    let signature = token.rsplit('.').next().expect("JWT signature");
    assert!(!text.contains(signature), "the token leaked into the log");
    let errors: Vec<&str> = text.lines().filter(|l| l.contains("ERROR")).collect();
    assert!(errors.is_empty(), "4xx logged as errors: {errors:?}");
}

/// `vigil-cli task verify_audit`: exit 0 on an intact chain, non-zero
/// naming the first altered entry after a row is changed in the database.
#[tokio::test]
async fn verify_audit_names_the_altered_entry_and_fails() {
    use sea_orm::ConnectionTrait;
    let (_db, url) = TestDb::create(&configured_db().await).await;
    assert!(create_admin(&url, "first", Some("first-password-1"), ""));
    assert!(create_admin(&url, "second", Some("second-password-2"), ""));
    let verify = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_vigil-cli"))
            .args(["task", "verify_audit"])
            .env("LOCO_ENV", "development")
            .env("DATABASE_URL", &url)
            .env("LOG_LEVEL", "error")
            .output()
            .expect("run vigil-cli")
    };
    let ok = verify();
    let out = String::from_utf8_lossy(&ok.stdout);
    assert!(ok.status.success(), "{out}");
    assert!(out.contains("intact: 2 entries"), "{out}");

    let db = connect(&url).await;
    let first: i64 = db
        .query_one_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT min(id) AS id FROM audit_log",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get("", "id")
        .unwrap();
    db.execute_unprepared(&format!(
        "UPDATE audit_log SET after = '{{\"role\":\"ANALYST\"}}' WHERE id = {first}"
    ))
    .await
    .unwrap();
    db.close().await.ok();
    let bad = verify();
    let err =
        String::from_utf8_lossy(&bad.stderr).to_string() + &String::from_utf8_lossy(&bad.stdout);
    assert!(!bad.status.success(), "a tampered log must fail: {err}");
    assert!(err.contains(&format!("TAMPERED at entry {first}")), "{err}");
}
