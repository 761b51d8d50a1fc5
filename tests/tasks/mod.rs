mod create_admin;
