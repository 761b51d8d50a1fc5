//! Reading an access-log file for `ingest_log`: once to its end, or
//! following it as it grows, across rotation by rename (logrotate's
//! default) and by truncation (`copytruncate`), and resuming after a
//! restart from the position saved in `log_cursors`.
//!
//! A position is the byte after the last line handled, with the file's
//! identity: device, inode and a digest of its first line. It is saved in
//! the transaction that stores the events of the lines before it (when a
//! batch of detections is full, at the end of what the file holds, and
//! every two seconds while a long file is read), so a line is never handled
//! twice and never skipped, crash or not:
//!
//! - same identity, file at least as long: resume there;
//! - same identity, shorter or another first line: truncated, read again
//!   from the start;
//! - another file at the path: rotated. The old file is finished first, from
//!   its open handle while following, or found again in the same directory
//!   by its inode after a restart, then the new one is read from its start.
//!
//! After a rename the writer may still append to the old file until it
//! reopens its log (nginx on `USR1`): the old file is read until it has
//! been quiet for one poll before the new one is taken up.
use std::{
    fs::File,
    os::unix::fs::{FileExt, MetadataExt},
    path::{Path, PathBuf},
    sync::Arc,
    time::{Duration, Instant},
};

use chrono::Utc;
use loco_rs::prelude::*;
use tokio::sync::watch;

use super::{
    log_stream::{Counts, LineError, LogIngest},
    writer::IngestWriter,
};
use crate::detection::parse::MAX_LINE;
use crate::digest::sha256_hex;
use crate::models::log_cursors::{self, Position};

/// Bytes read from the file at a time.
const CHUNK: usize = 1 << 20;
/// While a long file is being read, its position is saved at least this
/// often (and whenever detections are stored, and at its end), so a
/// restart re-reads little of it.
const SAVE_EVERY: Duration = Duration::from_secs(2);

/// How to read.
#[derive(Debug, Clone)]
pub struct FollowOptions {
    /// Keep reading as the file grows (else stop at its end).
    pub follow: bool,
    /// How long to wait at the end of the file before looking again.
    pub poll: Duration,
    /// Stop after this many looks in a row found nothing new (tests);
    /// `None`: until `stop`.
    pub idle_polls: Option<u32>,
    /// Stops following when it turns `true` (or its sender is dropped).
    pub stop: Option<watch::Receiver<bool>>,
}

/// What a run read.
#[derive(Debug, Clone)]
pub struct Summary {
    pub counts: Counts,
    pub errors: Vec<LineError>,
    /// Files read from (more than one after a rotation).
    pub files: u32,
    pub elapsed: Duration,
}

/// An open file and how far it has been handled.
struct Reading {
    file: File,
    device: u64,
    inode: u64,
    head: String,
    /// Length of the first line (without its line break).
    head_len: usize,
    /// Bytes handled: the start of `partial`.
    offset: u64,
    lines: u64,
    /// Bytes read after `offset` that do not end a line yet.
    partial: Vec<u8>,
    /// Discarding the rest of an over-long line.
    skipping: bool,
    /// The path now names another file: finish this one.
    rotated: bool,
}

impl Reading {
    fn open(path: &Path) -> std::io::Result<Self> {
        let file = File::open(path)?;
        let meta = file.metadata()?;
        Ok(Self {
            file,
            device: meta.dev(),
            inode: meta.ino(),
            head: String::new(),
            head_len: 0,
            offset: 0,
            lines: 0,
            partial: Vec::new(),
            skipping: false,
            rotated: false,
        })
    }

    fn position(&self, key: &str) -> Position {
        Position {
            path: key.to_string(),
            device: self.device,
            inode: self.inode,
            head: self.head.clone(),
            offset: self.offset,
            lines: self.lines,
        }
    }

    fn len(&self) -> std::io::Result<u64> {
        Ok(self.file.metadata()?.len())
    }

    /// Whether the file still starts with the first line read from it (a
    /// file truncated and written again does not). Reads that line only.
    fn same_head(&self) -> std::io::Result<bool> {
        if self.head.is_empty() {
            return Ok(true);
        }
        let mut buf = vec![0; self.head_len + 1];
        let mut filled = 0;
        while filled < buf.len() {
            let n = self.file.read_at(&mut buf[filled..], filled as u64)?;
            if n == 0 {
                return Ok(false);
            }
            filled += n;
        }
        Ok(buf[self.head_len] == b'\n' && sha256_hex(&buf[..self.head_len]) == self.head)
    }

    /// Starts over at the beginning (the file was truncated).
    fn restart(&mut self) {
        self.head.clear();
        self.head_len = 0;
        self.offset = 0;
        self.lines = 0;
        self.partial.clear();
        self.skipping = false;
    }
}

/// The digest and length of a file's first line; `None` while it has none.
fn first_line(file: &File) -> std::io::Result<Option<(String, usize)>> {
    let mut buf = vec![0; MAX_LINE + 1];
    let mut filled = 0;
    while filled < buf.len() {
        let n = file.read_at(&mut buf[filled..], filled as u64)?;
        if n == 0 {
            break;
        }
        filled += n;
        if buf[..filled].contains(&b'\n') {
            break;
        }
    }
    Ok(buf[..filled]
        .iter()
        .position(|&b| b == b'\n')
        .map(|end| (sha256_hex(&buf[..end]), end)))
}

/// The file `saved` described, if it is still next to `path` under
/// another name (renamed by rotation).
fn find_rotated(path: &Path, saved: &Position) -> Option<PathBuf> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(std::result::Result::ok)
        .map(|entry| entry.path())
        .find(|candidate| {
            std::fs::symlink_metadata(candidate)
                .is_ok_and(|m| m.is_file() && m.dev() == saved.device && m.ino() == saved.inode)
                && (saved.head.is_empty()
                    || File::open(candidate)
                        .and_then(|f| first_line(&f))
                        .is_ok_and(|h| h.is_some_and(|(d, _)| d == saved.head)))
        })
}

/// Reads one log file into events.
pub struct LogFollower {
    path: PathBuf,
    /// The cursor's key: the absolute path.
    key: String,
    ingest: LogIngest,
    writer: Arc<IngestWriter>,
    correlation_id: String,
    /// What was last saved, to skip saving the same position again.
    saved: Option<Position>,
    saved_at: Instant,
    files: u32,
}

fn io_error(path: &Path, e: &std::io::Error) -> Error {
    Error::string(&format!("{}: {e}", path.display()))
}

impl LogFollower {
    /// A follower of `path`, scoring with `ingest`.
    ///
    /// # Errors
    /// When the path cannot be made absolute.
    pub fn new(
        path: &Path,
        ingest: LogIngest,
        writer: Arc<IngestWriter>,
        correlation_id: String,
    ) -> Result<Self> {
        let absolute = std::path::absolute(path).map_err(|e| io_error(path, &e))?;
        Ok(Self {
            key: absolute.display().to_string(),
            path: absolute,
            ingest,
            writer,
            correlation_id,
            saved: None,
            saved_at: Instant::now(),
            files: 0,
        })
    }

    /// Reads until the end of the file, or while following until stopped;
    /// returns what was read.
    ///
    /// # Errors
    /// A missing file when not following; read and database errors (the
    /// saved position then points after the last stored batch).
    pub async fn run(
        mut self,
        db: &DatabaseConnection,
        mut opts: FollowOptions,
    ) -> Result<Summary> {
        let started = Instant::now();
        let saved = log_cursors::Model::find_by_path(db, &self.key).await?;
        self.saved.clone_from(&saved);
        let mut current = self.resume(saved, &opts).await?;
        let mut idle = 0u32;
        loop {
            if let Some(r) = current.as_mut() {
                if self.read_available(r).await? {
                    idle = 0;
                    continue;
                }
                // At the end of what there is: store it all.
                self.save(r).await?;
            }
            if self.look_at_path(&mut current, opts.follow).await? {
                idle = 0;
                continue;
            }
            if !opts.follow {
                break;
            }
            idle += 1;
            if opts.idle_polls.is_some_and(|n| idle >= n) || pause(&mut opts).await {
                break;
            }
        }
        if let Some(r) = current.as_mut() {
            // Following, an unfinished last line is left for next time;
            // a file read once is complete as it is.
            if !opts.follow {
                self.finish(r).await?;
            }
            self.save(r).await?;
        }
        Ok(Summary {
            counts: self.ingest.counts(),
            errors: self.ingest.errors().to_vec(),
            files: self.files,
            elapsed: started.elapsed(),
        })
    }

    /// Opens the path where the saved position says, finishing first a
    /// file that was rotated away while nothing was reading it.
    async fn resume(
        &mut self,
        saved: Option<Position>,
        opts: &FollowOptions,
    ) -> Result<Option<Reading>> {
        let opened = match Reading::open(&self.path) {
            Ok(r) => Some(r),
            Err(e)
                if e.kind() == std::io::ErrorKind::NotFound && (opts.follow || saved.is_some()) =>
            {
                None
            }
            Err(e) => return Err(io_error(&self.path, &e)),
        };
        let Some(saved) = saved else {
            self.files += u32::from(opened.is_some());
            return Ok(opened);
        };
        if let Some(mut r) = opened.filter(|r| (r.device, r.inode) == (saved.device, saved.inode)) {
            let head = first_line(&r.file).map_err(|e| io_error(&self.path, &e))?;
            let len = r.len().map_err(|e| io_error(&self.path, &e))?;
            let same = saved.head.is_empty()
                || head
                    .as_ref()
                    .is_some_and(|(digest, _)| *digest == saved.head);
            if len >= saved.offset && same {
                r.head = saved.head;
                r.head_len = head.map_or(0, |(_, len)| len);
                r.offset = saved.offset;
                r.lines = saved.lines;
            } else {
                tracing::info!(path = %self.path.display(), "truncated since the last run: reading from the start");
            }
            self.files += 1;
            return Ok(Some(r));
        }
        // Another file (or none) at the path: the one read before was rotated.
        match find_rotated(&self.path, &saved) {
            Some(old_path) => {
                let mut old = Reading::open(&old_path).map_err(|e| io_error(&old_path, &e))?;
                old.head.clone_from(&saved.head);
                old.head_len = first_line(&old.file)
                    .map_err(|e| io_error(&old_path, &e))?
                    .map_or(0, |(_, len)| len);
                old.offset = saved.offset;
                old.lines = saved.lines;
                self.files += 1;
                tracing::info!(path = %old_path.display(), offset = saved.offset, "finishing the file rotated since the last run");
                while self.read_available(&mut old).await? {}
                self.finish(&mut old).await?;
                self.save(&old).await?;
            }
            None => tracing::warn!(
                path = %self.path.display(),
                offset = saved.offset,
                "the file read before was rotated and is not next to it (compressed or removed?): lines written to it after the saved position are not read"
            ),
        }
        let reopened = match Reading::open(&self.path) {
            Ok(r) => Some(r),
            Err(e)
                if e.kind() == std::io::ErrorKind::NotFound && (opts.follow || self.files > 0) =>
            {
                None
            }
            Err(e) => return Err(io_error(&self.path, &e)),
        };
        self.files += u32::from(reopened.is_some());
        Ok(reopened)
    }

    /// Reads what the file holds beyond what was read; false at its end.
    async fn read_available(&mut self, r: &mut Reading) -> Result<bool> {
        // Replaced since the last read (copytruncate, then written past
        // the old position)? Then what lies beyond the position is not new.
        if r.offset > 0 && !r.same_head().map_err(|e| io_error(&self.path, &e))? {
            tracing::info!(path = %self.path.display(), "truncated: reading from the start");
            r.restart();
        }
        let mut buf = vec![0; CHUNK];
        let at = r.offset + r.partial.len() as u64;
        let n = r
            .file
            .read_at(&mut buf, at)
            .map_err(|e| io_error(&self.path, &e))?;
        if n == 0 {
            return Ok(false);
        }
        buf.truncate(n);
        let data = if r.partial.is_empty() {
            buf
        } else {
            let mut joined = std::mem::take(&mut r.partial);
            joined.extend_from_slice(&buf);
            joined
        };
        let now = Utc::now();
        let mut start = 0;
        while let Some(nl) = data[start..].iter().position(|&b| b == b'\n') {
            let line = &data[start..start + nl];
            start += nl + 1;
            let was_skipping = std::mem::replace(&mut r.skipping, false);
            r.offset += nl as u64 + 1;
            if was_skipping {
                continue;
            }
            if r.lines == 0 && r.offset == nl as u64 + 1 {
                r.head = sha256_hex(line);
                r.head_len = nl;
            }
            r.lines += 1;
            if self.ingest.push_line(&String::from_utf8_lossy(line), now) {
                let position = r.position(&self.key);
                self.store(position).await?;
            }
        }
        let rest = &data[start..];
        if rest.len() > MAX_LINE || (r.skipping && !rest.is_empty()) {
            // No end of line in sight: count it once, drop it, and skip to
            // the next line.
            if !r.skipping {
                self.ingest.push_oversized();
                r.lines += 1;
                r.skipping = true;
            }
            r.offset += rest.len() as u64;
        } else {
            r.partial = rest.to_vec();
        }
        if self.saved_at.elapsed() >= SAVE_EVERY {
            self.save(r).await?;
        }
        Ok(true)
    }

    /// Handles an unfinished last line as a whole one (its writer is done).
    async fn finish(&mut self, r: &mut Reading) -> Result<()> {
        if r.partial.is_empty() {
            return Ok(());
        }
        let line = std::mem::take(&mut r.partial);
        r.offset += line.len() as u64;
        if !std::mem::replace(&mut r.skipping, false) {
            // No head for a file whose only line has no line break yet:
            // nothing to compare a later first line with.
            r.lines += 1;
            self.ingest
                .push_line(&String::from_utf8_lossy(&line), Utc::now());
        }
        Ok(())
    }

    /// At the end of the file: has the path changed? True when there is
    /// something new to read (a new file, or the old one again).
    async fn look_at_path(&mut self, current: &mut Option<Reading>, follow: bool) -> Result<bool> {
        let meta = match std::fs::metadata(&self.path) {
            Ok(m) => m,
            // Renamed away and not created again yet: keep the old handle.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if current.is_none() && !follow && self.files == 0 {
                    return Err(io_error(&self.path, &e));
                }
                return Ok(false);
            }
            Err(e) => return Err(io_error(&self.path, &e)),
        };
        let Some(r) = current.as_mut() else {
            match Reading::open(&self.path) {
                Ok(r) => {
                    self.files += 1;
                    *current = Some(r);
                    return Ok(true);
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
                Err(e) => return Err(io_error(&self.path, &e)),
            }
        };
        if (meta.dev(), meta.ino()) != (r.device, r.inode) {
            if !r.rotated && follow {
                // Give the writer one poll to finish with the old file.
                r.rotated = true;
                return Ok(false);
            }
            self.finish(r).await?;
            self.save(r).await?;
            tracing::info!(path = %self.path.display(), lines = r.lines, "rotated: reading the new file");
            match Reading::open(&self.path) {
                Ok(new) => {
                    self.files += 1;
                    *current = Some(new);
                    return Ok(true);
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
                Err(e) => return Err(io_error(&self.path, &e)),
            }
        }
        let read_to = r.offset + r.partial.len() as u64;
        let head_changed = !r.same_head().map_err(|e| io_error(&self.path, &e))?;
        if meta.len() < read_to || head_changed {
            tracing::info!(path = %self.path.display(), "truncated: reading from the start");
            r.restart();
            return Ok(true);
        }
        Ok(false)
    }

    /// Stores waiting detections with `position`.
    async fn store(&mut self, position: Position) -> Result<()> {
        self.ingest
            .flush(&self.writer, &self.correlation_id, Some(position.clone()))
            .await?;
        self.saved = Some(position);
        self.saved_at = Instant::now();
        Ok(())
    }

    /// Saves `r`'s position (with any waiting detections) unless it is
    /// the one saved last.
    async fn save(&mut self, r: &Reading) -> Result<()> {
        let position = r.position(&self.key);
        if self.ingest.has_pending() || self.saved.as_ref() != Some(&position) {
            self.store(position).await?;
        }
        Ok(())
    }
}

/// Waits one poll; true when asked to stop.
async fn pause(opts: &mut FollowOptions) -> bool {
    let poll = opts.poll;
    match opts.stop.as_mut() {
        None => {
            tokio::time::sleep(poll).await;
            false
        }
        Some(rx) => {
            if *rx.borrow() {
                return true;
            }
            tokio::select! {
                changed = rx.changed() => changed.is_err() || *rx.borrow(),
                () = tokio::time::sleep(poll) => false,
            }
        }
    }
}
