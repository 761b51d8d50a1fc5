//! Connection pools: one for the app, and on SQLite one connection each
//! for the ingestion writer and the WAL checkpointer, every connection with
//! its PRAGMAs; hooks that close a connection a failed transaction left
//! open; and `TCP_NODELAY` towards PostgreSQL.
use loco_rs::Result;

use crate::settings::StorageSettings;

/// A pooled PostgreSQL connection idle this long is pinged before use (a
/// server, proxy or firewall may have dropped it); a busy one is not.
/// sqlx pings on every checkout by default: one more round trip per
/// checkout, to the PostgreSQL server or to SQLite's worker thread (a
/// thread wake-up each way, which made the ingestion writer's `BEGIN`
/// cost as much as the rest of a small round under load).
const PING_IF_IDLE_FOR: std::time::Duration = std::time::Duration::from_secs(10);

/// Who a pool is for.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The app's handlers, tasks and workers.
    App,
    /// The ingestion writer on SQLite: one connection.
    Writer,
    /// The WAL checkpointer on SQLite ([`wal`](super::wal)): one connection, whose
    /// busy timeout bounds how long a restarting checkpoint holds the
    /// writers back while a reader stays in the log.
    Checkpointer,
}

/// A pool for `role`.
///
/// On SQLite every connection needs the PRAGMAs (Loco applies them to one
/// pooled connection only): WAL with `synchronous = NORMAL` (durable across
/// application crashes, one fsync per checkpoint rather than per commit),
/// foreign keys, a busy timeout for other processes (CLI tasks), and no
/// checkpoints in `COMMIT`: [`wal`](super::wal)'s task does them.
///
/// The writer has a connection of its own so that its page cache (8 MB)
/// stays valid from one round to the next: a pooled connection discards
/// its cache whenever another connection has written, and then re-reads
/// every index page it touches. More than 8 MB gave no more throughput and
/// cost RSS (figures: README, "Why these settings"). Pooled readers keep
/// 1 MB each (below).
///
/// On PostgreSQL over TCP, each new connection gets `TCP_NODELAY`
/// ([`nodelay_to`]).
pub async fn connect(
    cfg: &loco_rs::config::Database,
    storage: &StorageSettings,
    role: Role,
) -> Result<sea_orm::DatabaseConnection> {
    use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
    use std::time::Duration;
    let mut opts = sea_orm::ConnectOptions::new(cfg.uri.clone());
    opts.connect_timeout(Duration::from_millis(cfg.connect_timeout))
        .sqlx_logging(cfg.enable_logging);
    if let Some(acquire_timeout) = cfg.acquire_timeout {
        opts.acquire_timeout(Duration::from_millis(acquire_timeout));
    }
    if cfg.uri.starts_with("sqlite") {
        // A connection to a local file cannot drop.
        opts.test_before_acquire(false);
    } else {
        opts.test_before_acquire_if_idle_for(PING_IF_IDLE_FOR);
    }
    let port = postgres_tcp_port(&cfg.uri);
    opts.map_sqlx_postgres_pool_opts(move |pool| {
        pool.after_connect(move |_, _| {
            if let Some(port) = port {
                nodelay_to(port);
            }
            Box::pin(async { Ok(()) })
        })
        .after_release(|conn, _| Box::pin(async move { Ok(released_clean_pg(conn)) }))
    });
    // The ingestion writer's connection (one round trip to SQLite's worker
    // thread per round) also asks SQLite itself; the others rely on
    // sqlx's count, which catches every way sqlx's own statements leave a
    // transaction (no extra round trip per request).
    let ask_sqlite = role == Role::Writer;
    opts.map_sqlx_sqlite_pool_opts(move |pool| {
        pool.after_release(move |conn, _| Box::pin(released_clean_sqlite(conn, ask_sqlite)))
    });
    let lock_timeout = storage.lock_timeout_ms;
    opts.map_sqlx_postgres_opts(move |o| {
        o.options([("lock_timeout", format!("{lock_timeout}ms"))])
    });
    let max_pages = storage.sqlite_max_pages;
    if role == Role::App {
        opts.max_connections(cfg.max_connections)
            .min_connections(cfg.min_connections)
            .idle_timeout(Duration::from_millis(cfg.idle_timeout));
    } else {
        opts.max_connections(1).min_connections(1);
    }
    opts.map_sqlx_sqlite_opts(move |o| {
        let o = o
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(if role == Role::Checkpointer {
                super::wal::RESTART_WAIT
            } else {
                Duration::from_millis(lock_timeout)
            })
            .pragma("wal_autocheckpoint", "0");
        let o = if max_pages > 0 {
            o.pragma("max_page_count", max_pages.to_string())
        } else {
            o
        };
        match role {
            Role::Writer => o.pragma("cache_size", "-8000"),
            // Readers: 1 MB each rather than SQLite's 2 MB. A list page
            // reads a few dozen pages, and ten connections warmed by a
            // burst of reads hold their caches until they idle out: at
            // 2 MB that was the server's peak RSS.
            Role::App => o.pragma("cache_size", "-1000"),
            // A checkpoint copies the log's pages without the page cache.
            Role::Checkpointer => o.pragma("cache_size", "-100"),
        }
    });
    Ok(sea_orm::Database::connect(opts).await?)
}

/// Whether a SQLite connection coming back to its pool is outside any
/// transaction, both as SQLite sees it (autocommit) and as sqlx counts
/// (transaction depth); else the pool closes it. After `SQLITE_FULL` (and
/// some I/O errors) SQLite rolls the transaction back by itself; sqlx's
/// count stays at one, its later `ROLLBACK` fails, and its next "begin"
/// would be a `SAVEPOINT` inside a transaction nobody commits: every later
/// "commit" on that connection would be a `RELEASE`, acknowledged and
/// never durable, holding the write lock for good.
async fn released_clean_sqlite(
    conn: &mut sea_orm::sqlx::SqliteConnection,
    ask_sqlite: bool,
) -> std::result::Result<bool, sea_orm::sqlx::Error> {
    use sea_orm::sqlx::Connection;
    let autocommit = !ask_sqlite || {
        let mut handle = conn.lock_handle().await?;
        // SAFETY: the locked handle keeps sqlx's worker thread off this
        // database handle for the duration of the call, which only reads
        // the connection's state.
        unsafe { libsqlite3_sys::sqlite3_get_autocommit(handle.as_raw_handle().as_ptr()) != 0 }
    };
    let clean = autocommit && !conn.is_in_transaction();
    if !clean {
        tracing::warn!(
            autocommit,
            "closing a database connection left inside a transaction after an error"
        );
    }
    Ok(clean)
}

/// The PostgreSQL counterpart of [`released_clean_sqlite`]: sqlx's own
/// count (a broken connection fails the ping that follows and is closed).
fn released_clean_pg(conn: &mut sea_orm::sqlx::PgConnection) -> bool {
    use sea_orm::sqlx::Connection;
    let clean = !conn.is_in_transaction();
    if !clean {
        tracing::warn!("closing a database connection left inside a transaction");
    }
    clean
}

/// The TCP port of a PostgreSQL URI (none for SQLite or a Unix socket).
fn postgres_tcp_port(uri: &str) -> Option<u16> {
    use sea_orm::sqlx::postgres::PgConnectOptions;
    if !uri.starts_with("postgres") {
        return None;
    }
    let opts: PgConnectOptions = uri.parse().ok()?;
    (!opts.get_host().starts_with('/') && opts.get_socket().is_none()).then(|| opts.get_port())
}

/// Sets `TCP_NODELAY` on this process's TCP sockets whose peer listens on
/// `port`, as libpq does on every connection.
///
/// sqlx 0.9.0 stopped setting it (launchbadge/sqlx#4335; the fix, #4336,
/// came after 0.9.0), and offers no hook to the socket. A statement larger
/// than the socket's free send buffer then leaves in two writes, and the
/// second waits for PostgreSQL's delayed ACK, 40 ms, which cut single-event
/// ingestion several-fold (figures: README, "Why these settings"). Called
/// after each new connection, it finds the new socket
/// among the process's descriptors. Remove it once sqlx ships #4336.
fn nodelay_to(port: u16) {
    use std::os::fd::BorrowedFd;
    let Ok(fds) = std::fs::read_dir("/proc/self/fd") else {
        return;
    };
    for entry in fds.flatten() {
        let Some(fd) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
            continue;
        };
        let socket = std::fs::read_link(entry.path())
            .is_ok_and(|target| target.to_string_lossy().starts_with("socket:"));
        if !socket {
            continue;
        }
        // SAFETY: the descriptor is only borrowed for these two calls. Were
        // it closed meanwhile, they fail (EBADF) and nothing happens; were
        // its number reused, the peer check still guards the option, which
        // is harmless on any TCP socket.
        let fd = unsafe { BorrowedFd::borrow_raw(fd) };
        let sock = socket2::SockRef::from(&fd);
        let to_db = sock
            .peer_addr()
            .ok()
            .and_then(|addr| addr.as_socket())
            .is_some_and(|addr| addr.port() == port);
        if to_db {
            let _ = sock.set_tcp_nodelay(true);
        }
    }
}

/// The pool's connections, and how many of them are idle (`/metrics`).
#[must_use]
pub fn pool_state(db: &sea_orm::DatabaseConnection) -> (u32, u32) {
    match db.get_database_backend() {
        sea_orm::DatabaseBackend::Postgres => {
            let pool = db.get_postgres_connection_pool();
            (
                pool.size(),
                u32::try_from(pool.num_idle()).unwrap_or(u32::MAX),
            )
        }
        sea_orm::DatabaseBackend::Sqlite => {
            let pool = db.get_sqlite_connection_pool();
            (
                pool.size(),
                u32::try_from(pool.num_idle()).unwrap_or(u32::MAX),
            )
        }
        _ => (0, 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_postgres_over_tcp_has_a_port_to_fix() {
        assert_eq!(
            postgres_tcp_port("postgres://postgres@127.0.0.1:5433/vigil"),
            Some(5433)
        );
        assert_eq!(
            postgres_tcp_port("postgres://postgres@db/vigil"),
            Some(5432)
        );
        assert_eq!(
            postgres_tcp_port("postgres://postgres@%2Fvar%2Frun%2Fpostgresql/vigil"),
            None
        );
        assert_eq!(postgres_tcp_port("sqlite://vigil.sqlite?mode=rwc"), None);
    }

    // It reads the process's descriptors from /proc.
    #[cfg(target_os = "linux")]
    #[test]
    fn nodelay_is_set_on_the_sockets_to_that_port_only() {
        // Two listeners stand in for the database and another service.
        let db = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let other = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let to_db = std::net::TcpStream::connect(db.local_addr().unwrap()).unwrap();
        let to_other = std::net::TcpStream::connect(other.local_addr().unwrap()).unwrap();
        assert!(!to_db.nodelay().unwrap());
        nodelay_to(db.local_addr().unwrap().port());
        assert!(to_db.nodelay().unwrap());
        assert!(!to_other.nodelay().unwrap());
    }
}
