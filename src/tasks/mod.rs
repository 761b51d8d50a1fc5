pub mod create_admin;
pub mod ingest_log;

pub mod purge_events;
pub mod verify_audit;
