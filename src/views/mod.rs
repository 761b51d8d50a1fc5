pub mod alerts;
pub mod api_keys;
pub mod auth;
pub mod events;
pub mod pagination;
pub mod stats;
pub mod users;
pub mod webhooks;
