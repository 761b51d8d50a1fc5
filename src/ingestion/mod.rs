//! The ingestion pipeline: every way events come in ends here. The
//! group-commit writer stores them (`writer`); web-server access logs are
//! cut into lines, scored by `crate::detection` and turned into events
//! (`log_stream`); a log file is followed across rotations (`follower`).
pub mod follower;
pub mod gate;
pub mod log_stream;
pub mod writer;
