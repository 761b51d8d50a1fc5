//! Storage plumbing that is not a table: connection pools and their
//! hygiene, write transactions, multi-row inserts, the SQLite WAL
//! checkpointer, and how database failures are told apart.
pub mod bulk;
pub mod connect;
pub mod storage;
pub mod wal;
pub mod write;
