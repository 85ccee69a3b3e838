//! The command line: `serve`, `migrate`, user management.

use std::path::PathBuf;

use axum_drf::auth::password::hash_password;
use axum_drf::auth::user::{normalize_email, normalize_username};
use axum_drf::auth::{AuthService, NewUser};
use clap::{Args, Parser, Subcommand};

use crate::app::{self, Application, StartError};
use crate::config::Config;

/// lendbook: track the things you lend to friends.
#[derive(Debug, Parser)]
#[command(version, about)]
pub struct Cli {
    /// Configuration file (default: ./lendbook.toml when present).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Database URL; overrides the file and DATABASE_URL.
    #[arg(long, global = true, value_name = "URL")]
    pub database_url: Option<String>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply pending migrations, then serve HTTP until SIGINT/SIGTERM.
    Serve {
        /// Address to listen on, e.g. 127.0.0.1:8000.
        #[arg(long)]
        bind: Option<String>,
    },
    /// Apply pending migrations.
    Migrate,
    /// Create a superuser (password from LENDBOOK_SUPERUSER_PASSWORD, else prompted).
    Createsuperuser {
        /// Login name.
        #[arg(long)]
        username: String,
        /// Email address.
        #[arg(long, default_value = "")]
        email: String,
    },
    /// Manage users.
    Users {
        /// The user command.
        #[command(subcommand)]
        command: UsersCommand,
    },
    /// Set a user's password (prompted unless --password is given). Ends their sessions.
    Changepassword {
        /// Login name.
        username: String,
        /// The new password.
        #[arg(long)]
        password: Option<String>,
    },
}

/// `users` subcommands.
#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Create a user; prints its id.
    Create(CreateUser),
}

/// `users create` arguments.
#[derive(Debug, Args)]
pub struct CreateUser {
    /// Login name.
    #[arg(long)]
    pub username: String,
    /// Password.
    #[arg(long)]
    pub password: String,
    /// Email address.
    #[arg(long, default_value = "")]
    pub email: String,
    /// Staff user (passes IsAdminUser).
    #[arg(long)]
    pub staff: bool,
    /// Superuser (all permissions; implies staff).
    #[arg(long)]
    pub superuser: bool,
}

/// A command-line failure, printed as one line.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Start-up failed.
    #[error(transparent)]
    Start(#[from] StartError),
    /// Anything else, already worded for the user.
    #[error("{0}")]
    Message(String),
}

impl From<axum_drf::store::StoreError> for CliError {
    fn from(e: axum_drf::store::StoreError) -> Self {
        CliError::Start(e.into())
    }
}

impl Cli {
    /// The configuration this invocation runs with.
    pub fn load_config(&self) -> Result<Config, CliError> {
        let mut config = Config::load(self.config.as_deref()).map_err(StartError::from)?;
        if let Some(url) = &self.database_url {
            config.database_url = url.clone();
        }
        Ok(config)
    }
}

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> Result<(), CliError> {
    let mut config = cli.load_config()?;
    match cli.command {
        Command::Serve { bind } => {
            if let Some(bind) = bind {
                config.bind = bind;
            }
            let app = Application::build(config).await?;
            tracing::info!(addr = %app.local_addr(), "lendbook listening");
            app.run_until(shutdown_signal())
                .await
                .map_err(|e| CliError::Message(format!("server error: {e}")))?;
            tracing::info!("lendbook stopped");
            Ok(())
        }
        Command::Migrate => {
            let db = axum_drf::store::Database::connect(&config.database_url).await?;
            let applied = db.migrate(&app::all_migrations()).await?;
            if applied.is_empty() {
                println!("No migrations to apply.");
            }
            for name in applied {
                println!("Applied {name}");
            }
            Ok(())
        }
        Command::Createsuperuser { username, email } => {
            let password = match std::env::var("LENDBOOK_SUPERUSER_PASSWORD") {
                Ok(p) if !p.is_empty() => p,
                _ => prompt_password()?,
            };
            let args = CreateUser {
                username,
                password,
                email,
                staff: true,
                superuser: true,
            };
            let id = create_user(&config, &args).await?;
            println!("{id}");
            Ok(())
        }
        Command::Users {
            command: UsersCommand::Create(args),
        } => {
            let id = create_user(&config, &args).await?;
            println!("{id}");
            Ok(())
        }
        Command::Changepassword { username, password } => {
            let password = match password {
                Some(p) => p,
                None => prompt_password()?,
            };
            let auth = auth_service(&config).await?;
            let user =
                auth.users().by_username(&username).await?.ok_or_else(|| {
                    CliError::Message(format!("user '{username}' does not exist"))
                })?;
            let hash = tokio::task::spawn_blocking(move || hash_password(&password))
                .await
                .map_err(|e| CliError::Message(e.to_string()))?;
            auth.users().set_password_hash(user.id, &hash).await?;
            auth.end_user_sessions(user.id)
                .await
                .map_err(|e| CliError::Message(e.to_string()))?;
            println!("Password changed successfully for user '{username}'");
            Ok(())
        }
    }
}

async fn auth_service(config: &Config) -> Result<AuthService, CliError> {
    let db = app::open_database(config).await?;
    let state = app::build_state(config.clone(), db)?;
    Ok(state.auth)
}

async fn create_user(config: &Config, args: &CreateUser) -> Result<i64, CliError> {
    let auth = auth_service(config).await?;
    let username = normalize_username(args.username.trim());
    if !axum_drf::auth::is_valid_username(&username) {
        return Err(CliError::Message(format!("invalid username '{username}'")));
    }
    if auth.users().by_username(&username).await?.is_some() {
        return Err(CliError::Message(format!(
            "user '{username}' already exists"
        )));
    }
    let password = args.password.clone();
    let password_hash = tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| CliError::Message(e.to_string()))?;
    let user = auth
        .users()
        .create(&NewUser {
            username,
            email: normalize_email(&args.email),
            password_hash,
            is_staff: args.staff || args.superuser,
            is_superuser: args.superuser,
            is_active: true,
        })
        .await?;
    Ok(user.id)
}

fn prompt_password() -> Result<String, CliError> {
    let first = rpassword::prompt_password("Password: ")
        .map_err(|e| CliError::Message(format!("cannot read password: {e}")))?;
    let second = rpassword::prompt_password("Password (again): ")
        .map_err(|e| CliError::Message(format!("cannot read password: {e}")))?;
    if first != second {
        return Err(CliError::Message("passwords do not match".into()));
    }
    if first.is_empty() {
        return Err(CliError::Message("password may not be blank".into()));
    }
    Ok(first)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}
