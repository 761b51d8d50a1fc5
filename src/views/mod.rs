pub mod auth;
pub mod pagination;
pub mod users;
