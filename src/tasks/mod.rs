pub mod create_admin;

pub mod purge_events;
