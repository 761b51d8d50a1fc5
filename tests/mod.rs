mod detection;
mod models;
mod process;
pub mod requests;
mod support;
mod tasks;
