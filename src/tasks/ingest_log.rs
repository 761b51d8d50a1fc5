//! `vigil-cli task ingest_log path:FILE [source:NAME] [follow:true]`
//!
//! Reads an nginx or Apache `combined` access log, scores every line and
//! stores detections of MEDIUM and above as events (SPEC §7). With
//! `follow:true` it keeps reading as the file grows, through rotation by
//! rename or truncation, until Ctrl-C. It saves its position as it goes,
//! so running it again on the same path resumes where it stopped.
use std::{path::Path, sync::Arc, time::Duration};

use loco_rs::{prelude::*, task::Vars};
use migration::MigratorTrait;

use crate::{
    ingestion::{
        follower::{FollowOptions, LogFollower, Summary},
        log_stream::{self, LogIngest},
        writer::IngestWriter,
    },
    settings::Settings,
};

pub struct IngestLog;

const USAGE: &str = "usage: ingest_log path:FILE [source:NAME] [follow:true]";

fn follow_arg(vars: &Vars) -> Result<bool> {
    match vars.cli_arg("follow") {
        Err(_) => Ok(false),
        Ok(v) => match v.to_ascii_lowercase().as_str() {
            "true" | "yes" | "1" => Ok(true),
            "false" | "no" | "0" => Ok(false),
            _ => Err(Error::string(&format!(
                "follow:{v} is not true or false ({USAGE})"
            ))),
        },
    }
}

/// Reads `path` as `ingest_log` does, with the follow behaviour of `opts`.
///
/// # Errors
/// Invalid arguments; read and database errors.
pub async fn ingest_file(
    ctx: &AppContext,
    path: &Path,
    source: Option<&str>,
    opts: FollowOptions,
) -> Result<Summary> {
    let source = match source {
        Some(s) => s.to_string(),
        None => path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
    };
    let source = log_stream::check_source(&source)
        .map_err(|m| Error::string(&format!("source: {m} ({USAGE})")))?;
    let settings = Settings::get(ctx);
    let ingest = LogIngest::new(log_stream::rules(ctx)?, &settings.detection, source);
    let writer: Arc<IngestWriter> = IngestWriter::get(ctx)?;
    let cid = format!("ingest_log:{}", uuid::Uuid::new_v4());
    LogFollower::new(path, ingest, writer, cid)?
        .run(&ctx.db, opts)
        .await
}

#[async_trait]
impl Task for IngestLog {
    fn task(&self) -> TaskInfo {
        TaskInfo {
            name: "ingest_log".to_string(),
            detail: format!("Score an access log and store its detections as events: {USAGE}"),
        }
    }

    async fn run(&self, ctx: &AppContext, vars: &Vars) -> Result<()> {
        let path = vars
            .cli_arg("path")
            .map_err(|_| Error::string(&format!("missing `path:` argument ({USAGE})")))?;
        let follow = follow_arg(vars)?;
        // Tasks do not migrate on boot; the position table may be new.
        migration::Migrator::up(&ctx.db, None).await?;
        // A task skips the initializers; this one may write for days.
        crate::initializers::sqlite_wal::start(ctx).await?;
        let stop = if follow {
            let (tx, rx) = tokio::sync::watch::channel(false);
            tokio::spawn(async move {
                if tokio::signal::ctrl_c().await.is_ok() {
                    let _ = tx.send(true);
                }
                // Keep the sender: dropping it would also mean "stop".
                std::future::pending::<()>().await;
            });
            Some(rx)
        } else {
            None
        };
        let opts = FollowOptions {
            follow,
            poll: Duration::from_millis(Settings::get(ctx).detection.follow_poll_ms.max(10)),
            idle_polls: None,
            stop,
        };
        let summary = ingest_file(ctx, Path::new(path), vars.cli_arg("source").ok(), opts).await?;
        let c = summary.counts;
        let secs = summary.elapsed.as_secs_f64();
        #[allow(clippy::cast_precision_loss)]
        let rate = if secs > 0.0 {
            c.lines as f64 / secs
        } else {
            0.0
        };
        println!(
            "ingest_log {path}: {} lines ({} parsed, {} malformed) from {} file(s); {} events, {} alerts, {} LOW detections not stored; {secs:.1} s, {rate:.0} lines/s",
            c.lines, c.parsed, c.malformed, summary.files, c.events, c.alerts, c.low
        );
        for e in &summary.errors {
            println!("  malformed line {}: {}", e.line, e.reason);
        }
        Ok(())
    }
}
