pub mod create_admin;
