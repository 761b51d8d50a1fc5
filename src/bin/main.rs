use loco_rs::cli;
use migration::Migrator;
use vigil::app::App;

fn main() -> loco_rs::Result<()> {
    vigil::memory::tune();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(cli::main::<App, Migrator>())
}
