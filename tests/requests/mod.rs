mod alerts;
mod auth;
mod events;
mod http_contract;
mod openapi;
pub mod prepare_data;
mod stats_export;
mod tokens;
mod users;
