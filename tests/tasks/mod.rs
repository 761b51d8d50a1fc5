mod create_admin;
mod ingest_log;
mod purge_events;
