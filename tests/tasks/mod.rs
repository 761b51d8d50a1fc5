mod create_admin;
mod purge_events;
