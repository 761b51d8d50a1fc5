//! Storage plumbing that is not a table: connection pools and their
//! hygiene, write transactions, multi-row inserts, the SQLite WAL
//! checkpointer, how database failures are told apart, and short-lived
//! caches of what every request reads.
pub mod bulk;
pub mod connect;
pub mod recent;
pub mod storage;
pub mod wal;
pub mod write;
