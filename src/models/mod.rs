pub mod _entities;
pub mod alert_histories;
pub mod alert_status;
pub mod alerts;
pub mod events;
pub mod idempotency_keys;
pub mod ingest_writer;
pub mod listing;
pub mod login_throttles;
pub mod outbox_envelopes;
pub mod refresh_tokens;
pub mod severity;
pub mod stats;
pub mod tallies;
pub mod users;

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

/// Rows per multi-row `INSERT`: 500 rows of up to 21 columns stay under
/// SQLite's limit of 32,766 bound values (PostgreSQL allows 65,535).
pub const INSERT_CHUNK: usize = 500;

/// Inserts `rows` in multi-row statements of `INSERT_CHUNK` rows.
///
/// # Errors
/// Database errors.
pub async fn insert_chunked<A, C>(db: &C, rows: Vec<A>) -> Result<(), sea_orm::DbErr>
where
    A: sea_orm::ActiveModelTrait,
    C: sea_orm::ConnectionTrait,
{
    use sea_orm::EntityTrait;
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<A> = rows.by_ref().take(INSERT_CHUNK).collect();
        A::Entity::insert_many(chunk)
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}
