//! Write transactions: SQLite's one writer at a time, taken in process
//! before the file lock, and how many rows one multi-row `INSERT` carries.
/// SQLite has one writer at a time; with a pool of connections, concurrent
/// write transactions would wait on each other's file lock and, under load,
/// time out ("database is locked"). Vigil's write paths take this in-process
/// lock first on SQLite, so writers queue in memory instead. PostgreSQL needs
/// no such thing (`None`).
pub async fn sqlite_write_lock(
    db: &sea_orm::DatabaseConnection,
) -> Option<tokio::sync::MutexGuard<'static, ()>> {
    static LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    (db.get_database_backend() == sea_orm::DatabaseBackend::Sqlite).then_some(LOCK.lock().await)
}

/// The in-process write lock, held while a write transaction runs (`None`
/// on PostgreSQL).
pub type WriteGuard = Option<tokio::sync::MutexGuard<'static, ()>>;

/// Starts a write transaction: on SQLite, takes [`sqlite_write_lock`] and
/// then [`begin_immediate`]. Keep the guard until the transaction ends.
///
/// # Errors
/// Database errors.
pub async fn begin_write(
    db: &sea_orm::DatabaseConnection,
) -> Result<(WriteGuard, sea_orm::DatabaseTransaction), sea_orm::DbErr> {
    let writer = sqlite_write_lock(db).await;
    Ok((writer, begin_immediate(db).await?))
}

/// Starts a transaction that will write; on SQLite, with `BEGIN IMMEDIATE`,
/// which takes the database's write lock at once (waiting out the busy
/// timeout for it). A deferred transaction that reads before it writes
/// takes its snapshot at the read; if another connection commits between
/// the read and the first write, that write fails at once with
/// `SQLITE_BUSY_SNAPSHOT`, which no busy timeout waits out. Such other
/// connections are CLI tasks' and other processes' (the in-process lock
/// does not reach them). For callers that already hold
/// [`sqlite_write_lock`].
///
/// # Errors
/// Database errors.
pub async fn begin_immediate(
    db: &sea_orm::DatabaseConnection,
) -> Result<sea_orm::DatabaseTransaction, sea_orm::DbErr> {
    use sea_orm::TransactionTrait;
    db.begin_with_options(sea_orm::TransactionOptions {
        sqlite_transaction_mode: Some(sea_orm::SqliteTransactionMode::Immediate),
        ..Default::default()
    })
    .await
}

/// Rows per multi-row `INSERT` at most: 512 rows of up to 21 columns stay
/// under SQLite's limit of 32,766 bound values (PostgreSQL allows 65,535).
pub const INSERT_CHUNK: usize = 512;

/// How to cut `n` rows into multi-row `INSERT`s: full chunks, then powers
/// of two. Statements then come in ten shapes per table, which the
/// connections' prepared-statement caches keep, instead of one new
/// statement (parsed, planned and cached, megabytes at a time) for every
/// remainder size.
#[must_use]
pub fn chunk_sizes(mut n: usize) -> Vec<usize> {
    let mut sizes = Vec::new();
    while n > 0 {
        let size = if n >= INSERT_CHUNK {
            INSERT_CHUNK
        } else {
            1 << n.ilog2()
        };
        sizes.push(size);
        n -= size;
    }
    sizes
}

#[cfg(test)]
mod tests {
    #[test]
    fn chunks_are_full_then_powers_of_two() {
        assert_eq!(super::chunk_sizes(0), Vec::<usize>::new());
        assert_eq!(super::chunk_sizes(1), [1]);
        assert_eq!(super::chunk_sizes(1000), [512, 256, 128, 64, 32, 8]);
        assert_eq!(super::chunk_sizes(1300), [512, 512, 256, 16, 4]);
        assert_eq!(super::chunk_sizes(1300).iter().sum::<usize>(), 1300);
    }
}
