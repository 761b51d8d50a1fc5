mod detection;
mod models;
pub mod requests;
mod support;
mod tasks;
