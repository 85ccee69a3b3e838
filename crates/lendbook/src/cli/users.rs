//! `lendbook users …` and `createsuperuser`: create, list, activate, deactivate, delete and
//! set staff, through the same store and cache invalidation the API uses (a deactivated or
//! deleted user's token stops working on the next request, on every instance).

use axum_drf::auth::password::hash_password;
use axum_drf::auth::user::{normalize_email, normalize_username};
use axum_drf::auth::validators::UserAttributes;
use axum_drf::auth::{AuthEventKind, AuthService, NewUser, User};
use clap::{Args, Subcommand};
use serde_json::json;

use super::password::PasswordArgs;
use super::CliError;
use crate::app;
use crate::config::Config;

/// `users` subcommands.
#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Create a user; prints its id.
    Create(CreateUser),
    /// List users (id, username, email, flags).
    List {
        /// One JSON array instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Let a user log in again.
    Activate {
        /// Login name.
        username: String,
    },
    /// Stop a user from logging in; their tokens and sessions stop working at once.
    Deactivate {
        /// Login name.
        username: String,
    },
    /// Delete a user with their tokens, sessions, grants and lending records.
    Delete {
        /// Login name.
        username: String,
    },
    /// Make a user staff (passes IsAdminUser), or with --off stop being staff.
    SetStaff {
        /// Login name.
        username: String,
        /// Remove the staff flag instead.
        #[arg(long)]
        off: bool,
    },
}

/// `users create` arguments.
#[derive(Debug, Args)]
pub struct CreateUser {
    /// Login name.
    #[arg(long)]
    pub username: String,
    /// Email address.
    #[arg(long, default_value = "")]
    pub email: String,
    /// Staff user (passes IsAdminUser).
    #[arg(long)]
    pub staff: bool,
    /// Superuser (all permissions; implies staff).
    #[arg(long)]
    pub superuser: bool,
    /// Where the password comes from.
    #[command(flatten)]
    pub password: PasswordArgs,
}

/// The environment variable `users create` and `changepassword` read the password from.
pub const PASSWORD_ENV: &str = "LENDBOOK_PASSWORD";
/// The one `createsuperuser` reads (Django's `DJANGO_SUPERUSER_PASSWORD`).
pub const SUPERUSER_PASSWORD_ENV: &str = "LENDBOOK_SUPERUSER_PASSWORD";

pub(super) async fn auth_service(config: &Config) -> Result<AuthService, CliError> {
    let db = app::open_database(config).await?;
    let state = app::build_state(config.clone(), db)?;
    Ok(state.auth)
}

async fn find(auth: &AuthService, username: &str) -> Result<User, CliError> {
    auth.users()
        .by_username(username)
        .await?
        .ok_or_else(|| CliError::Message(format!("user '{username}' does not exist")))
}

/// Creates the user of `args`, reading the password from `env_var`'s sources; returns its id.
pub async fn create(config: &Config, args: &CreateUser, env_var: &str) -> Result<i64, CliError> {
    let username = normalize_username(args.username.trim());
    if !axum_drf::auth::is_valid_username(&username) {
        return Err(CliError::Message(format!("invalid username '{username}'")));
    }
    let email = normalize_email(&args.email);
    // Validated before the database is opened: a refused password creates nothing.
    let password = args.password.read(env_var)?;
    args.password.validate(
        &password,
        &UserAttributes {
            username: &username,
            email: &email,
            ..Default::default()
        },
    )?;
    let auth = auth_service(config).await?;
    if auth.users().by_username(&username).await?.is_some() {
        return Err(CliError::Message(format!(
            "user '{username}' already exists"
        )));
    }
    let password_hash = tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| CliError::Message(e.to_string()))?;
    let user = auth
        .users()
        .create(&NewUser {
            username,
            email,
            password_hash,
            is_staff: args.staff || args.superuser,
            is_superuser: args.superuser,
            is_active: true,
        })
        .await?;
    Ok(user.id)
}

/// `changepassword U`: validates, sets, ends the user's sessions and cached credentials.
pub async fn change_password(
    config: &Config,
    username: &str,
    password: &PasswordArgs,
) -> Result<(), CliError> {
    let auth = auth_service(config).await?;
    let user = find(&auth, username).await?;
    let new = password.read(PASSWORD_ENV)?;
    password.validate(
        &new,
        &UserAttributes {
            username: &user.username,
            email: &user.email,
            ..Default::default()
        },
    )?;
    let hash = tokio::task::spawn_blocking(move || hash_password(&new))
        .await
        .map_err(|e| CliError::Message(e.to_string()))?;
    // Ends the user's sessions and, by default, tokens (`revoke_tokens_on_password_change`).
    auth.change_password(user.id, &hash)
        .await
        .map_err(|e| CliError::Message(e.to_string()))?;
    auth.audit(super::cli_event(AuthEventKind::PasswordChange).with_user(&user));
    auth.audit_log().flush().await;
    println!("Password changed successfully for user '{username}'");
    Ok(())
}

/// Runs a `users` subcommand.
pub async fn run(config: &Config, command: UsersCommand) -> Result<(), CliError> {
    // `create` checks the password before the database is opened; the others need it first.
    let auth = match &command {
        UsersCommand::Create(args) => {
            let id = create(config, args, PASSWORD_ENV).await?;
            println!("{id}");
            return Ok(());
        }
        _ => auth_service(config).await?,
    };
    match command {
        UsersCommand::Create(_) => {}
        UsersCommand::List { json } => list(&auth, json).await?,
        UsersCommand::Activate { username } => {
            let user = find(&auth, &username).await?;
            auth.users().set_active(user.id, true).await?;
            auth.user_changed(user.id).await;
            audit(
                &auth,
                AuthEventKind::Activation,
                &user,
                "on the command line",
            )
            .await;
            println!("Activated {username}");
        }
        UsersCommand::Deactivate { username } => {
            let user = find(&auth, &username).await?;
            auth.users().set_active(user.id, false).await?;
            auth.user_changed(user.id).await;
            audit(
                &auth,
                AuthEventKind::Deactivation,
                &user,
                "on the command line",
            )
            .await;
            println!("Deactivated {username}");
        }
        UsersCommand::Delete { username } => {
            let user = find(&auth, &username).await?;
            auth.users().delete(user.id).await?;
            auth.user_changed(user.id).await;
            audit(&auth, AuthEventKind::Deactivation, &user, "deleted").await;
            println!("Deleted {username}");
        }
        UsersCommand::SetStaff { username, off } => {
            let user = find(&auth, &username).await?;
            // A superuser without staff would be odd; Django allows it, and so do we.
            auth.users()
                .set_flags(user.id, !off, user.is_superuser, user.is_active)
                .await?;
            auth.user_changed(user.id).await;
            let detail = if off { "staff off" } else { "staff on" };
            audit(&auth, AuthEventKind::PermissionChange, &user, detail).await;
            if off {
                println!("{username} is no longer staff");
            } else {
                println!("{username} is now staff");
            }
        }
    }
    Ok(())
}

/// Records `kind` for `user` and writes it before the command exits.
async fn audit(auth: &AuthService, kind: AuthEventKind, user: &User, detail: &str) {
    auth.audit(super::cli_event(kind).with_user(user).with_detail(detail));
    auth.audit_log().flush().await;
}

async fn list(auth: &AuthService, as_json: bool) -> Result<(), CliError> {
    let rows = auth
        .db()
        .query(
            "SELECT id, username, email, is_active, is_staff, is_superuser FROM auth_user ORDER BY id",
            Vec::new(),
        )
        .await?;
    let mut users = Vec::with_capacity(rows.len());
    for row in &rows {
        users.push(json!({
            "id": row.int(0)?,
            "username": row.text(1)?,
            "email": row.text(2)?,
            "is_active": row.bool(3)?,
            "is_staff": row.bool(4)?,
            "is_superuser": row.bool(5)?,
        }));
    }
    if as_json {
        println!("{}", serde_json::Value::Array(users));
        return Ok(());
    }
    println!("id\tusername\temail\tactive\tstaff\tsuperuser");
    for u in users {
        println!(
            "{}\t{}\t{}\t{}\t{}\t{}",
            u["id"],
            u["username"].as_str().unwrap_or_default(),
            u["email"].as_str().unwrap_or_default(),
            u["is_active"],
            u["is_staff"],
            u["is_superuser"]
        );
    }
    Ok(())
}
