pub mod alerts;
pub mod auth;
pub mod docs;
pub mod events;
pub mod extract;
pub mod health;
pub mod middleware;
pub mod users;
