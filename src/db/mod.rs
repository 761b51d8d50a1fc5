//! Storage plumbing that is not a table: how database failures are told
//! apart, and the connection hygiene that keeps a failed transaction from
//! outliving its error.
pub mod recent;
pub mod storage;
