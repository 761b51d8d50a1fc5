//! The server and its tasks (Loco's CLI).
//!
//! The allocator is jemalloc, for every allocation in the process: its
//! `malloc` replaces glibc's, so SQLite's own allocations use it too.
//! Measured on batch ingestion (SQLite, 1,000 events per request), glibc's
//! malloc spent about a third of the server's CPU in consolidation and
//! arena locks, and kept what a burst freed (a round of 4,000 events, 1 MiB
//! bodies) instead of returning it; jemalloc gave 48 % more throughput at a
//! lower peak RSS.
use loco_rs::cli;
use migration::Migrator;
use vigil::app::App;

#[cfg(all(target_os = "linux", not(target_env = "musl")))]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's start-up options, read before the first allocation (the
/// symbol is weak in jemalloc, so this definition wins): two arenas for two
/// cores, and a background thread that returns pages unused for 100 ms to
/// the system, so RSS follows what is in use. Batches free megabytes at a
/// time: kept for a second, they put the server's peak RSS at 112-114 MB
/// (SQLite benchmark, 1,000,000 events), against 104 MB at 100 ms, for the
/// same throughput (a decay of 0 cost a third of it).
#[cfg(all(target_os = "linux", not(target_env = "musl")))]
#[allow(non_upper_case_globals)]
#[unsafe(no_mangle)]
pub static malloc_conf: &u8 =
    &b"narenas:2,background_thread:true,dirty_decay_ms:100,muzzy_decay_ms:0\0"[0];

#[tokio::main]
async fn main() -> loco_rs::Result<()> {
    cli::main::<App, Migrator>().await
}
