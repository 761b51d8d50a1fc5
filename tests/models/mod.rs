mod ingest_writer;
mod outbox;
mod users;
mod wal;
