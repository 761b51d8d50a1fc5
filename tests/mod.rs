mod models;
mod requests;
mod tasks;
