pub mod alerts;
pub mod auth;
pub mod events;
pub mod pagination;
pub mod users;
