mod ingest_writer;
mod users;
