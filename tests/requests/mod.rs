mod auth;
mod http_contract;
mod openapi;
mod prepare_data;
mod tokens;
mod users;
