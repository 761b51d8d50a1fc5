//! `ingest_log`: a file read once, followed as it grows, across rotation by
//! rename and by truncation, and resumed after a restart; every line is
//! handled exactly once (each test line is an attack with its own number,
//! so the stored events show which lines were read, and how often).
use std::{
    collections::BTreeMap,
    io::Write,
    path::{Path, PathBuf},
    time::Duration,
};

use loco_rs::{app::AppContext, boot::run_task, task};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use tokio::sync::watch;
use vigil::{
    app::App,
    ingestion::follower::{FollowOptions, Summary},
    models::_entities::{events, log_cursors, outbox_envelopes},
    tasks::ingest_log::ingest_file,
};

/// A temporary directory, removed afterwards.
struct Dir(PathBuf);

impl Dir {
    fn new() -> Self {
        let p = std::env::temp_dir().join(format!("vigil-log-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&p).unwrap();
        Self(p)
    }
    fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Attack line `n`: an SQL injection (HIGH) carrying its number.
fn attack(n: u32) -> String {
    format!(
        "203.0.113.9 - - [20/Nov/2026:09:{:02}:{:02} +0000] \"GET /item?n={n}&id=1%27%20or%201=1-- HTTP/1.1\" 200 64 \"-\" \"curl/8.5.0\"\n",
        (n / 60) % 60,
        n % 60
    )
}

fn lines(range: std::ops::Range<u32>) -> String {
    range.map(attack).collect()
}

fn append(path: &Path, text: &str) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

/// How many times each line number was stored.
async fn stored(ctx: &AppContext) -> BTreeMap<u32, u32> {
    let mut seen = BTreeMap::new();
    for e in events::Entity::find().all(&ctx.db).await.unwrap() {
        let path = e.metadata.as_ref().unwrap()["request"]["path"]
            .as_str()
            .unwrap()
            .to_string();
        let n: u32 = path
            .split("n=")
            .nth(1)
            .and_then(|s| s.split('&').next())
            .unwrap()
            .parse()
            .unwrap();
        *seen.entry(n).or_insert(0) += 1;
    }
    seen
}

fn once(range: std::ops::Range<u32>) -> BTreeMap<u32, u32> {
    range.map(|n| (n, 1)).collect()
}

async fn wait_for(ctx: &AppContext, count: u64) {
    for _ in 0..500 {
        if events::Entity::find().count(&ctx.db).await.unwrap() >= count {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!(
        "waited for {count} events, have {}",
        events::Entity::find().count(&ctx.db).await.unwrap()
    );
}

fn vars(args: &[(&str, &str)]) -> task::Vars {
    task::Vars::from_cli_args(
        args.iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect(),
    )
}

async fn run_once(ctx: &AppContext, path: &Path) {
    let name = "ingest_log".to_string();
    let path = path.display().to_string();
    run_task::<App>(
        ctx,
        Some(&name),
        &vars(&[("path", &path), ("source", "web-01")]),
    )
    .await
    .expect("ingest_log");
}

/// Follows `path` in the background until the returned sender says stop.
fn follow(
    ctx: &AppContext,
    path: &Path,
) -> (watch::Sender<bool>, tokio::task::JoinHandle<Summary>) {
    let (tx, rx) = watch::channel(false);
    let (ctx, path) = (ctx.clone(), path.to_path_buf());
    let handle = tokio::spawn(async move {
        ingest_file(
            &ctx,
            &path,
            Some("web-01"),
            FollowOptions {
                follow: true,
                poll: Duration::from_millis(20),
                idle_polls: None,
                stop: Some(rx),
            },
        )
        .await
        .expect("follow")
    });
    (tx, handle)
}

#[tokio::test]
async fn a_rerun_resumes_where_the_last_run_stopped() {
    let app = crate::support::boot().await;
    let ctx = app.ctx();
    let dir = Dir::new();
    let log = dir.join("access.log");
    append(&log, &lines(0..20));
    append(&log, "garbage that is not a log line\n");

    run_once(&ctx, &log).await;
    assert_eq!(stored(&ctx).await, once(0..20));
    let e = events::Entity::find().one(&ctx.db).await.unwrap().unwrap();
    assert_eq!(
        (e.source.as_str(), e.event_type.as_str()),
        ("web-01", "SQL_INJECTION")
    );

    // Nothing new: nothing read again.
    run_once(&ctx, &log).await;
    assert_eq!(stored(&ctx).await, once(0..20));

    // Grown while stopped: only the new lines.
    append(&log, &lines(20..30));
    run_once(&ctx, &log).await;
    assert_eq!(stored(&ctx).await, once(0..30));
    let cursor = log_cursors::Entity::find()
        .one(&ctx.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        cursor.position,
        i64::try_from(std::fs::metadata(&log).unwrap().len()).unwrap()
    );
    assert_eq!(cursor.lines, 31);
    assert_eq!(
        cursor.path,
        std::path::absolute(&log).unwrap().display().to_string()
    );

    // Without source:, the file's name is the source.
    let other = dir.join("shop.access.log");
    append(&other, &lines(100..101));
    let name = "ingest_log".to_string();
    let path = other.display().to_string();
    run_task::<App>(&ctx, Some(&name), &vars(&[("path", &path)]))
        .await
        .unwrap();
    let sources: Vec<String> = events::Entity::find()
        .filter(events::Column::Source.ne("web-01"))
        .all(&ctx.db)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.source)
        .collect();
    assert_eq!(sources, ["shop.access.log"]);
}

#[tokio::test]
async fn a_restart_finishes_a_file_rotated_while_stopped_then_reads_the_new_one() {
    let app = crate::support::boot().await;
    let ctx = app.ctx();
    let dir = Dir::new();
    let log = dir.join("access.log");
    append(&log, &lines(0..5));
    run_once(&ctx, &log).await;
    assert_eq!(stored(&ctx).await, once(0..5));

    // While nothing reads: more lines, then logrotate renames the file and
    // the server starts a new one.
    append(&log, &lines(5..8));
    std::fs::rename(&log, dir.join("access.log.1")).unwrap();
    append(&log, &lines(8..12));
    run_once(&ctx, &log).await;
    assert_eq!(stored(&ctx).await, once(0..12));

    // Truncated while stopped (copytruncate) and written again, shorter.
    std::fs::write(&log, lines(12..14)).unwrap();
    run_once(&ctx, &log).await;
    assert_eq!(stored(&ctx).await, once(0..14));
}

#[tokio::test]
async fn following_reads_growth_and_survives_rotation_by_rename() {
    let app = crate::support::boot().await;
    let ctx = app.ctx();
    let dir = Dir::new();
    let log = dir.join("access.log");
    append(&log, &lines(0..5));
    let (stop, handle) = follow(&ctx, &log);
    wait_for(&ctx, 5).await;

    // A line written in two parts is read once, whole.
    let line = attack(5);
    let (head, tail) = line.split_at(40);
    append(&log, head);
    tokio::time::sleep(Duration::from_millis(100)).await;
    append(&log, tail);
    append(&log, &lines(6..10));
    wait_for(&ctx, 10).await;

    // logrotate: rename, the server still writes a little to the old file
    // until it reopens, then writes to a new file at the same path.
    std::fs::rename(&log, dir.join("access.log.1")).unwrap();
    append(&dir.join("access.log.1"), &lines(10..13));
    append(&log, &lines(13..18));
    wait_for(&ctx, 18).await;
    append(&log, &lines(18..20));
    wait_for(&ctx, 20).await;

    stop.send(true).unwrap();
    let summary = handle.await.unwrap();
    assert_eq!(stored(&ctx).await, once(0..20));
    assert_eq!((summary.counts.lines, summary.counts.events), (20, 20));
    assert_eq!(summary.files, 2);
    let cursor = log_cursors::Entity::find()
        .one(&ctx.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(cursor.lines, 7, "the new file's lines");

    // Following again picks up only what came after.
    append(&log, &lines(20..22));
    let (stop, handle) = follow(&ctx, &log);
    wait_for(&ctx, 22).await;
    stop.send(true).unwrap();
    handle.await.unwrap();
    assert_eq!(stored(&ctx).await, once(0..22));
}

#[tokio::test]
async fn following_survives_truncation() {
    let app = crate::support::boot().await;
    let ctx = app.ctx();
    let dir = Dir::new();
    let log = dir.join("access.log");
    append(&log, &lines(0..6));
    let (stop, handle) = follow(&ctx, &log);
    wait_for(&ctx, 6).await;

    // copytruncate, then fewer bytes than were read before.
    std::fs::write(&log, lines(6..8)).unwrap();
    wait_for(&ctx, 8).await;
    // Truncated again and written past the old position before the next
    // look: the first line tells the new content from the old.
    std::fs::write(&log, lines(8..20)).unwrap();
    wait_for(&ctx, 20).await;

    stop.send(true).unwrap();
    handle.await.unwrap();
    assert_eq!(stored(&ctx).await, once(0..20));
}

#[tokio::test]
async fn following_waits_for_a_file_that_does_not_exist_yet() {
    let app = crate::support::boot().await;
    let ctx = app.ctx();
    let dir = Dir::new();
    let log = dir.join("later.log");
    let (stop, handle) = follow(&ctx, &log);
    tokio::time::sleep(Duration::from_millis(100)).await;
    append(&log, &lines(0..3));
    wait_for(&ctx, 3).await;
    stop.send(true).unwrap();
    assert_eq!(handle.await.unwrap().files, 1);
    assert_eq!(stored(&ctx).await, once(0..3));
}

#[tokio::test]
async fn bad_arguments_are_refused() {
    let app = crate::support::boot().await;
    let ctx = app.ctx();
    let name = "ingest_log".to_string();
    let dir = Dir::new();
    let missing = dir.join("missing.log").display().to_string();
    for (args, needle) in [
        (vec![], "path"),
        (vec![("path", missing.as_str())], "missing.log"),
        (
            vec![("path", missing.as_str()), ("follow", "maybe")],
            "follow",
        ),
    ] {
        let err = run_task::<App>(&ctx, Some(&name), &vars(&args))
            .await
            .unwrap_err();
        assert!(err.to_string().contains(needle), "{args:?}: {err}");
    }
    let log = dir.join("a.log");
    append(&log, &lines(0..1));
    let path = log.display().to_string();
    let long = "x".repeat(256);
    let err = run_task::<App>(
        &ctx,
        Some(&name),
        &vars(&[("path", &path), ("source", &long)]),
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("source"), "{err}");
    assert_eq!(events::Entity::find().count(&ctx.db).await.unwrap(), 0);
}

#[tokio::test]
async fn a_task_process_leaves_envelopes_to_the_server_that_delivers_them() {
    // A CLI task boots without routes: no outbox dispatcher. Its alerts'
    // envelopes stay pending for a serving process to deliver to its
    // live-feed subscribers, rather than being marked delivered to nobody.
    let task = crate::support::task_context().await;
    let dir = Dir::new();
    let log = dir.join("access.log");
    append(&log, &lines(0..3));
    run_once(&task.ctx, &log).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    let envelopes = outbox_envelopes::Entity::find()
        .all(&task.ctx.db)
        .await
        .unwrap();
    assert_eq!(envelopes.len(), 1, "one alert.created for the three events");
    assert!(envelopes[0].delivered_at.is_none());

    // A serving process does deliver.
    let app = crate::support::boot().await;
    let ctx = app.ctx();
    run_once(&ctx, &log).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::time::Instant::now() < deadline {
        let pending = outbox_envelopes::Entity::find()
            .filter(outbox_envelopes::Column::DeliveredAt.is_null())
            .count(&ctx.db)
            .await
            .unwrap();
        if pending == 0
            && outbox_envelopes::Entity::find()
                .count(&ctx.db)
                .await
                .unwrap()
                == 1
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the server's dispatcher did not deliver");
}

#[tokio::test]
async fn a_line_without_end_is_counted_once_and_skipped() {
    let app = crate::support::boot().await;
    let ctx = app.ctx();
    let dir = Dir::new();
    let log = dir.join("access.log");
    append(&log, &lines(0..2));
    let (stop, handle) = follow(&ctx, &log);
    wait_for(&ctx, 2).await;
    // 70 KiB and no line break yet: more than a line may hold.
    append(&log, &"x".repeat(70 * 1024));
    tokio::time::sleep(Duration::from_millis(100)).await;
    append(&log, &format!("{}\n", "y".repeat(1024)));
    append(&log, &lines(2..4));
    wait_for(&ctx, 4).await;
    stop.send(true).unwrap();
    let summary = handle.await.unwrap();
    assert_eq!(stored(&ctx).await, once(0..4));
    let c = summary.counts;
    assert_eq!((c.lines, c.parsed, c.malformed), (5, 4, 1));
    assert_eq!(summary.errors.len(), 1);
    assert_eq!(summary.errors[0].line, 3);
    assert!(
        summary.errors[0].reason.contains("longer than 64 KiB"),
        "{:?}",
        summary.errors
    );
}
