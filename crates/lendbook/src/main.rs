use clap::Parser;
use lendbook::cli::{run, Cli};

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    // A configuration that does not load still gets a logger; `run` reports the error.
    lendbook::telemetry::init_logging(cli.load_config().ok().as_ref());
    if let Err(e) = run(cli).await {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
