//! The server and its tasks (Loco's CLI).
//!
//! The allocator is jemalloc, for every allocation in the process: its
//! `malloc` replaces glibc's, so SQLite's own allocations use it too.
//! glibc's malloc spent much of batch ingestion's CPU in consolidation and
//! arena locks, and kept what a burst freed; jemalloc is faster and
//! returns it (figures: README, "Why these settings").
use loco_rs::cli;
use migration::Migrator;
use vigil::app::App;

#[cfg(all(target_os = "linux", not(target_env = "musl")))]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's start-up options, read before the first allocation (the
/// symbol is weak in jemalloc, so this definition wins): two arenas for two
/// cores, and a background thread that returns pages unused for 100 ms to
/// the system, so RSS follows what is in use: batches free megabytes at a
/// time, and a longer decay raised peak RSS for no throughput (a decay of 0
/// cost throughput; figures: README, "Why these settings").
#[cfg(all(target_os = "linux", not(target_env = "musl")))]
#[allow(non_upper_case_globals)]
#[unsafe(no_mangle)]
pub static malloc_conf: &u8 =
    &b"narenas:2,background_thread:true,dirty_decay_ms:100,muzzy_decay_ms:0\0"[0];

#[tokio::main]
async fn main() -> loco_rs::Result<()> {
    cli::main::<App, Migrator>().await
}
