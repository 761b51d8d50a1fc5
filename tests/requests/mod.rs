mod alerts;
mod auth;
mod events;
mod http_contract;
mod openapi;
mod prepare_data;
mod tokens;
mod users;
