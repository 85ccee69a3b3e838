use clap::Parser;
use lendbook::cli::{run, Cli};

// Every request allocates a little (headers, rows, JSON): mimalloc's thread-local free lists
// make those allocations cheaper than glibc's, which took ~12% of a list request's CPU in a
// profile (README, "Performance").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    // A configuration that does not load still gets a logger; `run` reports the error. The
    // guard flushes the log lines still queued when main returns.
    let log = lendbook::telemetry::init_logging(cli.load_config().ok().as_ref());
    if let Err(e) = run(cli).await {
        drop(log);
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
