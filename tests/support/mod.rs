//! Test harness: every test boots the app on a database of its own, created
//! for it and dropped after it (also when the test panics).
//!
//! Loco's `request_with_create_db` does the same, but its PostgreSQL clean-up
//! drops the database while the app's pool still holds connections and
//! panics; this one drops it `WITH (FORCE)`.
use std::{future::Future, net::SocketAddr, ops::Deref, path::PathBuf};

use axum_test::{TestServer, TestServerConfig};
use loco_rs::{
    app::{AppContext, Hooks},
    boot::{BootResult, StartMode},
    environment::Environment,
};
use sea_orm::{ConnectionTrait, Database};
use vigil::app::App;

pub enum TestDb {
    Postgres { root: String, name: String },
    Sqlite { dir: PathBuf },
}

impl TestDb {
    /// Creates an empty database next to the configured one; returns its URL.
    pub async fn create(configured: &str) -> (Self, String) {
        let unique = uuid::Uuid::new_v4().simple().to_string();
        if configured.starts_with("postgres") {
            let without_query = configured.split('?').next().unwrap_or(configured);
            let base = &without_query[..without_query.rfind('/').expect("database name in URL")];
            let root = format!("{base}/postgres");
            let name = format!("vigil_test_{unique}");
            let conn = Database::connect(&root)
                .await
                .expect("connect to PostgreSQL");
            conn.execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                .await
                .expect("create test database");
            conn.close().await.ok();
            let url = format!("{base}/{name}");
            (Self::Postgres { root, name }, url)
        } else {
            let dir = std::env::temp_dir().join(format!("vigil-test-{unique}"));
            std::fs::create_dir_all(&dir).expect("temp dir");
            let url = format!("sqlite://{}?mode=rwc", dir.join("test.sqlite").display());
            (Self::Sqlite { dir }, url)
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        match self {
            Self::Sqlite { dir } => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Self::Postgres { root, name } => {
                let (root, name) = (root.clone(), name.clone());
                // Drop runs outside any async context we could block on:
                // use a runtime of our own on a thread of our own.
                let _ = std::thread::spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .expect("runtime");
                    rt.block_on(async {
                        if let Ok(conn) = Database::connect(&root).await {
                            let _ = conn
                                .execute_unprepared(&format!(
                                    "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                                ))
                                .await;
                            conn.close().await.ok();
                        }
                    });
                })
                .join();
            }
        }
    }
}

/// A booted app on its own database.
pub struct TestApp {
    boot: BootResult,
    _db: TestDb,
}

impl Deref for TestApp {
    type Target = BootResult;
    fn deref(&self) -> &BootResult {
        &self.boot
    }
}

impl TestApp {
    pub fn ctx(&self) -> AppContext {
        self.boot.app_context.clone()
    }

    /// An HTTP client for the app (in-process transport).
    pub fn server(&self) -> TestServer {
        let router = self.boot.router.clone().expect("router");
        TestServer::new_with_config(
            router.into_make_service_with_connect_info::<SocketAddr>(),
            TestServerConfig {
                default_content_type: Some("application/json".to_string()),
                ..Default::default()
            },
        )
        .expect("test server")
    }
}

impl TestApp {
    /// An HTTP client over a real socket on a random port (WebSocket tests).
    pub fn http_server(&self) -> TestServer {
        let router = self.boot.router.clone().expect("router");
        TestServer::new_with_config(
            router.into_make_service_with_connect_info::<SocketAddr>(),
            TestServerConfig {
                default_content_type: Some("application/json".to_string()),
                transport: Some(axum_test::Transport::HttpRandomPort),
                ..Default::default()
            },
        )
        .expect("test server")
    }
}

/// Boots the app (test environment) on a fresh database.
pub async fn boot() -> TestApp {
    boot_with(|_| {}).await.expect("boot app")
}

/// Boots the app with `edit` applied to the test configuration.
pub async fn boot_with(
    edit: impl FnOnce(&mut loco_rs::config::Config),
) -> loco_rs::Result<TestApp> {
    let mut config = App::load_config(&Environment::Test)
        .await
        .expect("load config/test.yaml");
    let (db, url) = TestDb::create(&config.database.uri).await;
    config.database.uri = url;
    // With REDIS_URL set, each test app gets a channel of its own, as each
    // deployment would, so parallel tests do not see each other's envelopes.
    if let Some(settings) = config.settings.as_mut().and_then(|s| s.as_object_mut()) {
        settings.insert(
            "redis_channel".into(),
            format!("vigil:test:{}", uuid::Uuid::new_v4().simple()).into(),
        );
    }
    edit(&mut config);
    let boot = App::boot(StartMode::ServerOnly, &Environment::Test, config).await?;
    Ok(TestApp { boot, _db: db })
}

/// Runs `callback` with an HTTP client and the app context, on a fresh database.
pub async fn request<F, Fut>(callback: F)
where
    F: FnOnce(TestServer, AppContext) -> Fut,
    Fut: Future<Output = ()>,
{
    let app = boot().await;
    callback(app.server(), app.ctx()).await;
}

/// An app context as a CLI task gets it (`create_context`: no router, so
/// nothing that only a serving process runs), on a fresh, migrated database.
pub struct TaskContext {
    pub ctx: AppContext,
    _db: TestDb,
}

pub async fn task_context() -> TaskContext {
    use migration::MigratorTrait;
    let mut config = App::load_config(&Environment::Test)
        .await
        .expect("load config/test.yaml");
    let (db, url) = TestDb::create(&config.database.uri).await;
    config.database.uri = url;
    let ctx = loco_rs::boot::create_context::<App>(&Environment::Test, config)
        .await
        .expect("task context");
    migration::Migrator::up(&ctx.db, None)
        .await
        .expect("migrate");
    TaskContext { ctx, _db: db }
}

/// Holds the database as another writer would, past the configured lock
/// timeout, until the returned transaction is rolled back: on SQLite the
/// write lock, on PostgreSQL an exclusive lock on `table`.
pub async fn hold_writes(ctx: &AppContext, table: &str) -> sea_orm::DatabaseTransaction {
    use sea_orm::TransactionTrait;
    let hold = ctx.db.begin().await.expect("begin");
    if ctx.db.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
        hold.execute_unprepared(&format!("LOCK TABLE {table} IN EXCLUSIVE MODE"))
            .await
            .expect("lock table");
    } else {
        hold.execute_unprepared("CREATE TABLE held_by_a_test (x INTEGER)")
            .await
            .expect("take the write lock");
    }
    hold
}
