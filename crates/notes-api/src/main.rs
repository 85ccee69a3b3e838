//! `notes-api serve` serves the API; `notes-api createuser USERNAME [EMAIL]` adds a user
//! whose password is read from `NOTES_PASSWORD`. Settings: see `notes_api::config`.

use notes_api::app::{build_state, open_database, Application};
use notes_api::config::Config;

// The allocator lendbook's binary uses, so that the two apps are measured alike.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() {
    // The framework's log set-up, as lendbook's: lines written in batches by a background
    // thread. The guard writes what is still buffered before the process exits.
    let log = axum_drf::logging::Logging::new("info")
        .env_var("NOTES_LOG")
        .init();
    if let Err(e) = run(std::env::args().skip(1).collect()).await {
        drop(log);
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

async fn run(args: Vec<String>) -> Result<(), Box<dyn std::error::Error>> {
    let config = Config::load()?;
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["serve"] | [] => {
            let app = Application::build(&config).await?;
            tracing::info!("listening on http://{}", app.listener.local_addr()?);
            app.run_until(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await?;
        }
        ["createuser", username, ref email @ ..] if email.len() <= 1 => {
            let password = std::env::var("NOTES_PASSWORD")
                .map_err(|_| "set NOTES_PASSWORD to the new user's password")?;
            let state = build_state(&config, open_database(&config).await?)?;
            let user = state
                .create_user(username, email.first().copied().unwrap_or(""), &password)
                .await?;
            println!("{}", user.id);
        }
        _ => return Err("usage: notes-api [serve] | notes-api createuser USERNAME [EMAIL]".into()),
    }
    Ok(())
}
