//! Storage that refuses writes (a full disk, a read-only file, a lock held
//! past its timeout, a lost connection) is not a bug in the request: the
//! client should retry later, and a load balancer should drain the
//! instance. [`is_unavailable`] tells such failures from the others, so
//! they answer 503 `storage_unavailable` rather than 500, and
//! [`StorageState`] remembers the last one, so `/_health` says so until a
//! write succeeds again.
use std::sync::{Arc, Mutex, PoisonError};

use sea_orm::{sqlx, DbErr, RuntimeErr};

/// Seconds a client is asked to wait (`Retry-After`) when storage refuses
/// writes.
pub const RETRY_AFTER_SECONDS: u64 = 5;

/// Whether `err` means the storage cannot take writes right now (retry
/// later), rather than a fault of the request or of the code.
#[must_use]
pub fn is_unavailable(err: &DbErr) -> bool {
    match err {
        // No connection could be made or kept, whatever the database said
        // (PostgreSQL refuses new ones with 55000 while a database does not
        // accept connections): not now, rather than a fault.
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(runtime) | DbErr::Query(runtime) => match runtime {
            RuntimeErr::SqlxError(err) => sqlx_unavailable(err),
            RuntimeErr::Internal(_) => false,
            #[allow(unreachable_patterns)]
            _ => false,
        },
        _ => false,
    }
}

fn sqlx_unavailable(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::BeginFailed => true,
        sqlx::Error::Database(db) => {
            let Some(code) = db.code() else { return false };
            if db
                .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
                .is_some()
            {
                postgres_unavailable(&code)
            } else {
                code.parse().is_ok_and(sqlite_unavailable)
            }
        }
        _ => false,
    }
}

/// SQLite result codes (primary or extended) that mean "not now" rather
/// than "not this".
#[must_use]
pub fn sqlite_unavailable(code: i64) -> bool {
    // The primary code is the low byte of an extended one.
    matches!(
        code & 0xff,
        5   // SQLITE_BUSY (past the busy timeout)
            | 6  // SQLITE_LOCKED
            | 7  // SQLITE_NOMEM
            | 8  // SQLITE_READONLY
            | 10 // SQLITE_IOERR
            | 13 // SQLITE_FULL
            | 14 // SQLITE_CANTOPEN
    )
}

/// PostgreSQL SQLSTATEs that mean "not now" rather than "not this".
#[must_use]
pub fn postgres_unavailable(code: &str) -> bool {
    // Connection exceptions (08), insufficient resources (53:
    // disk full, out of memory, too many connections), system errors
    // (58: I/O), operator intervention (57: shutdown, statement timeout),
    // lock not available, a read-only transaction, serialization
    // failures and deadlocks (retry).
    code.starts_with("08")
        || code.starts_with("53")
        || code.starts_with("57")
        || code.starts_with("58")
        || matches!(code, "55P03" | "25006" | "40001" | "40P01")
}

/// The last storage failure a writer saw, until a write succeeds again.
#[derive(Clone, Default)]
pub struct StorageState(Arc<Mutex<Option<String>>>);

impl StorageState {
    /// Records a failed write; `err` decides whether storage is refusing.
    pub fn failed(&self, err: &DbErr) {
        if is_unavailable(err) {
            *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(err.to_string());
        }
    }

    /// Records a committed write: storage accepts writes again.
    pub fn succeeded(&self) {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take();
    }

    /// Why writes are failing, if they are.
    #[must_use]
    pub fn problem(&self) -> Option<String> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// Writes and commits one 64 KiB row (then deletes the previous one) on
/// `db`, as the ingestion writer would: whether storage takes writes now.
/// Used by `/_health` while writes have been failing.
///
/// # Errors
/// The database error the write met.
pub async fn probe_write(db: &sea_orm::DatabaseConnection) -> Result<(), DbErr> {
    use sea_orm::{ConnectionTrait, DatabaseBackend};
    let (_writer, txn) = crate::db::write::begin_write(db).await?;
    let (insert, delete) = match db.get_database_backend() {
        DatabaseBackend::Sqlite => (
            "INSERT INTO storage_probes (created_at, updated_at, padding) \
             VALUES (CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, zeroblob(65536))",
            "DELETE FROM storage_probes WHERE id <> last_insert_rowid()",
        ),
        _ => (
            "INSERT INTO storage_probes (created_at, updated_at, padding) \
             VALUES (now(), now(), decode(repeat('00', 65536), 'hex'))",
            "DELETE FROM storage_probes WHERE id < (SELECT max(id) FROM storage_probes)",
        ),
    };
    txn.execute_unprepared(insert).await?;
    txn.execute_unprepared(delete).await?;
    txn.commit().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_codes_that_mean_not_now() {
        for code in [5, 6, 8, 10, 13, 14, 261, 517, 1032, 3338] {
            assert!(sqlite_unavailable(code), "{code}");
        }
        // SQLITE_CONSTRAINT (19, 2067 unique), SQLITE_ERROR (1), SQLITE_MISMATCH (20).
        for code in [1, 19, 2067, 20, 1811] {
            assert!(!sqlite_unavailable(code), "{code}");
        }
    }

    #[test]
    fn postgres_states_that_mean_not_now() {
        for code in [
            "53100", "08006", "57P01", "57014", "55P03", "25006", "58030", "40001",
        ] {
            assert!(postgres_unavailable(code), "{code}");
        }
        // unique_violation, invalid text representation, character not in repertoire.
        for code in ["23505", "22P02", "22021"] {
            assert!(!postgres_unavailable(code), "{code}");
        }
    }

    #[test]
    fn a_connection_the_database_refuses_is_unavailable() {
        // What sea-orm reports for PostgreSQL's 55000 "database … is not
        // currently accepting connections" (seen as a 500 before).
        assert!(is_unavailable(&DbErr::Conn(RuntimeErr::Internal(
            "database \"vigil\" is not currently accepting connections".into()
        ))));
    }

    #[test]
    fn pool_and_io_failures_are_unavailable() {
        assert!(is_unavailable(&DbErr::ConnectionAcquire(
            sea_orm::error::ConnAcquireErr::Timeout
        )));
        let io = sqlx::Error::Io(std::io::Error::other("connection reset"));
        assert!(is_unavailable(&DbErr::Exec(RuntimeErr::SqlxError(
            std::sync::Arc::new(io)
        ))));
        assert!(!is_unavailable(&DbErr::RecordNotFound("x".into())));
    }

    #[test]
    fn state_clears_on_success() {
        let state = StorageState::default();
        state.failed(&DbErr::RecordNotFound("x".into()));
        assert!(state.problem().is_none(), "not a storage failure");
        state.failed(&DbErr::ConnectionAcquire(
            sea_orm::error::ConnAcquireErr::Timeout,
        ));
        assert!(state.problem().is_some());
        state.succeeded();
        assert!(state.problem().is_none());
    }
}
