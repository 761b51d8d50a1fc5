pub mod alerts;
pub mod auth;
pub mod events;
pub mod ingest;
pub mod pagination;
pub mod stats;
pub mod users;
