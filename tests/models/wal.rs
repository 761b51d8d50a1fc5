//! SQLite's write-ahead log is checkpointed by a task, not in commits.
//! (PostgreSQL has no such log to manage: these tests return at once there.)
use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use chrono::Utc;
use loco_rs::app::AppContext;
use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseConnection, Statement};
use vigil::{
    db::{wal, write::sqlite_write_lock},
    ingestion::writer::IngestWriter,
    models::{new_event::NewEvent, severity::Severity},
};

fn events(n: usize) -> Vec<NewEvent> {
    (0..n)
        .map(|i| {
            NewEvent::new("ids", "port_scan", Severity::High, Utc::now())
                .with_source_ip(std::net::Ipv4Addr::new(192, 0, 2, (i % 200) as u8).into())
                .with_description("x".repeat(500))
                .checked()
                .expect("valid event")
        })
        .collect()
}

/// A booted app with its ingestion writer, on SQLite only.
async fn sqlite_app() -> Option<(crate::support::TestApp, AppContext, Arc<IngestWriter>)> {
    let app = crate::support::boot().await;
    let ctx = app.ctx();
    if ctx.db.get_database_backend() != DatabaseBackend::Sqlite {
        return None;
    }
    let writer = IngestWriter::get(&ctx).unwrap();
    Some((app, ctx, writer))
}

/// A round of `task` that got to run: the app's own task may hold
/// SQLite's checkpoint lock at that moment (the round then reports `busy`
/// and a log of -1, having done nothing), so try again shortly.
async fn tick(task: &mut wal::Checkpointer, db: &DatabaseConnection) -> wal::Checkpoint {
    for _ in 0..100 {
        let done = task.tick(db).await.unwrap();
        if done.log >= 0 {
            return done;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the checkpoint lock stayed taken");
}

async fn pragma(db: &DatabaseConnection, name: &str) -> i64 {
    db.query_one_raw(Statement::from_string(
        DatabaseBackend::Sqlite,
        format!("PRAGMA {name}"),
    ))
    .await
    .unwrap()
    .expect("a row")
    .try_get_by_index(0)
    .unwrap()
}

#[tokio::test]
async fn the_server_checkpoints_the_log_that_its_commits_leave_alone() {
    let Some((_app, ctx, writer)) = sqlite_app().await else {
        return;
    };
    let path = ctx
        .config
        .database
        .uri
        .trim_start_matches("sqlite://")
        .split('?')
        .next()
        .unwrap()
        .to_string();
    assert_eq!(pragma(&ctx.db, "wal_autocheckpoint").await, 0);
    let before = std::fs::metadata(&path).unwrap().len();

    for _ in 0..4 {
        let stored = writer
            .submit_log_batch(events(500), "test", None)
            .await
            .unwrap();
        assert_eq!(stored.len(), 500);
    }
    // Commits write the log only; the database file grows once the task
    // has copied the log into it.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = std::fs::metadata(&path).unwrap().len();
        if now > before + 1_000_000 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "database file still {now} bytes (was {before}): the log was not checkpointed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_restarting_checkpoint_waits_for_the_writers_and_a_passive_one_does_not() {
    let Some((_app, ctx, writer)) = sqlite_app().await else {
        return;
    };
    writer
        .submit_log_batch(events(200), "test", None)
        .await
        .unwrap();

    let writing = sqlite_write_lock(&ctx.db).await;
    // Below the restart length: passive only, done while a writer works.
    let passive = tokio::time::timeout(
        Duration::from_secs(5),
        tick(&mut wal::Checkpointer::new(i64::MAX), &ctx.db),
    )
    .await
    .expect("a passive checkpoint does not wait for the writers");
    assert!(!passive.busy);
    assert_eq!(passive.checkpointed, passive.log);

    // At the restart length it waits for the writers' lock.
    let db = ctx.db.clone();
    let restart = tokio::spawn(async move { tick(&mut wal::Checkpointer::new(1), &db).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !restart.is_finished(),
        "restarted while a writer held the lock"
    );
    drop(writing);
    let restarted = tokio::time::timeout(Duration::from_secs(5), restart)
        .await
        .expect("restarts once the writer is done")
        .unwrap();
    assert!(!restarted.busy);
    assert_eq!(restarted.checkpointed, restarted.log);

    // The next commit writes the log from its beginning.
    writer
        .submit_log_batch(events(1), "test", None)
        .await
        .unwrap();
    let after = wal::checkpoint(&ctx.db, wal::Mode::Passive).await.unwrap();
    assert!(
        after.log < restarted.log,
        "log {} pages after the restart, {} before",
        after.log,
        restarted.log
    );
}

#[tokio::test]
async fn a_restart_gives_up_and_lets_the_writers_go_while_a_reader_stays_in_the_log() {
    use sea_orm::TransactionTrait;
    let Some((_app, ctx, writer)) = sqlite_app().await else {
        return;
    };
    writer
        .submit_log_batch(events(50), "test", None)
        .await
        .unwrap();
    // A reader whose snapshot is in the log (as a backup would hold one).
    let reader = ctx.db.begin().await.unwrap();
    reader
        .query_one_raw(Statement::from_string(
            DatabaseBackend::Sqlite,
            "SELECT count(*) FROM events",
        ))
        .await
        .unwrap();
    writer
        .submit_log_batch(events(50), "test", None)
        .await
        .unwrap();

    // A connection as the task has: it waits RESTART_WAIT for readers.
    let mut opts = sea_orm::ConnectOptions::new(ctx.config.database.uri.clone());
    opts.max_connections(1).min_connections(1);
    let checkpointer = sea_orm::Database::connect(opts).await.unwrap();
    checkpointer
        .execute_unprepared(&format!(
            "PRAGMA busy_timeout = {}",
            wal::RESTART_WAIT.as_millis()
        ))
        .await
        .unwrap();
    let mut task = wal::Checkpointer::new(1);
    let started = Instant::now();
    let gave_up = tick(&mut task, &checkpointer).await;
    assert!(gave_up.busy, "{gave_up:?}");
    assert!(gave_up.checkpointed < gave_up.log, "{gave_up:?}");
    assert!(started.elapsed() < Duration::from_secs(3));

    // Restarts pause: the next round, with a writer working, is passive
    // and does not wait for it.
    let writing = sqlite_write_lock(&ctx.db).await;
    let paused = tokio::time::timeout(Duration::from_secs(2), tick(&mut task, &checkpointer))
        .await
        .expect("no restart is tried during the pause");
    assert!(paused.log > 0);
    drop(writing);
    // The writers were let go.
    let stored = tokio::time::timeout(
        Duration::from_secs(5),
        writer.submit_log_batch(events(1), "test", None),
    )
    .await
    .expect("the writer is not held back")
    .unwrap();
    assert_eq!(stored.len(), 1);
    reader.rollback().await.unwrap();
}
