pub mod _entities;
pub mod login_throttles;
pub mod refresh_tokens;
pub mod users;
