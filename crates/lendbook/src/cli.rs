//! The command line: `serve`, `migrate`, user, permission and group management.

use std::path::PathBuf;

use axum_drf::auth::audit::{read_events, AuditLog, EventFilter};
use axum_drf::auth::password::hash_password;
use axum_drf::auth::user::{normalize_email, normalize_username};
use axum_drf::auth::{AuthEvent, AuthEventKind, AuthService, ClientInfo, NewUser};
use axum_drf::permissions::{GrantTarget, PermissionStore};
use axum_drf::store::Database;
use clap::{ArgGroup, Args, Parser, Subcommand};

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
    /// Grant, revoke and list permissions (effective on the next request).
    Perms {
        /// The permissions command.
        #[command(subcommand)]
        command: PermsCommand,
    },
    /// Manage groups of users.
    Groups {
        /// The groups command.
        #[command(subcommand)]
        command: GroupsCommand,
    },
    /// Import a Django (DRF) deployment's database in one transaction: users (passwords
    /// keep working), groups, permissions and grants, tokens, friends, belongings and
    /// borrowings, with their ids. See docs/migrating-from-drf.md.
    ImportDjango {
        /// The Django database: a SQLite file (path or sqlite://PATH) or postgres://...
        #[arg(long = "from", value_name = "URL")]
        from: String,
        /// Report what would be imported; write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Delete the target's users, groups and lending data first.
        #[arg(long)]
        replace: bool,
    },
    /// Show the audit log (logins, logouts, tokens, account and permission changes), newest
    /// first.
    Audit {
        /// Only events of this username (attempted or current).
        #[arg(long, value_name = "U")]
        user: Option<String>,
        /// Only events this recent: 90s, 15m, 1h, 7d.
        #[arg(long, value_name = "AGE", value_parser = parse_age)]
        since: Option<std::time::Duration>,
        /// At most this many events.
        #[arg(long, default_value_t = 1000)]
        limit: u32,
        /// One JSON array instead of text lines.
        #[arg(long)]
        json: bool,
    },
}

/// `90s`, `15m`, `1h`, `7d` (a bare number is seconds).
fn parse_age(text: &str) -> Result<std::time::Duration, String> {
    let text = text.trim();
    let (number, unit) = text.split_at(
        text.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len()),
    );
    let n: u64 = number
        .parse()
        .map_err(|_| format!("'{text}' is not an age like 90s, 15m, 1h or 7d"))?;
    let seconds = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("unknown unit '{unit}' (use s, m, h or d)")),
    };
    Ok(std::time::Duration::from_secs(n.saturating_mul(seconds)))
}

/// `perms` subcommands.
#[derive(Debug, Subcommand)]
pub enum PermsCommand {
    /// List a user's or a group's permissions, or (with neither) every permission there is.
    List(PermsList),
    /// Grant a permission on the model, or with --object on one object.
    Grant(PermsChange),
    /// Revoke a permission granted with `perms grant` (same arguments).
    Revoke(PermsChange),
}

/// `perms list` arguments.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("holder").args(["user", "group"])))]
pub struct PermsList {
    /// Login name of the user.
    #[arg(long)]
    pub user: Option<String>,
    /// Name of the group.
    #[arg(long)]
    pub group: Option<String>,
}

/// `perms grant` / `perms revoke` arguments.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("holder").required(true).args(["user", "group"])))]
pub struct PermsChange {
    /// Login name of the user.
    #[arg(long)]
    pub user: Option<String>,
    /// Name of the group.
    #[arg(long)]
    pub group: Option<String>,
    /// Permission as app_label.codename, e.g. lending.change_belonging.
    pub permission: String,
    /// One object as resource:id, e.g. belongings:42 (resources: friends, belongings,
    /// borrowings).
    #[arg(long)]
    pub object: Option<String>,
}

/// `groups` subcommands.
#[derive(Debug, Subcommand)]
pub enum GroupsCommand {
    /// Create a group.
    Create {
        /// Group name.
        name: String,
    },
    /// Delete a group with its memberships and grants.
    Delete {
        /// Group name.
        name: String,
    },
    /// List groups with their member counts.
    List,
    /// Add a user to a group.
    AddUser {
        /// Group name.
        group: String,
        /// Login name.
        user: String,
    },
    /// Remove a user from a group.
    RemoveUser {
        /// Group name.
        group: String,
        /// Login name.
        user: String,
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

impl From<axum_drf::permissions::PermissionStoreError> for CliError {
    fn from(e: axum_drf::permissions::PermissionStoreError) -> Self {
        match e {
            axum_drf::permissions::PermissionStoreError::Store(e) => e.into(),
            other => CliError::Message(other.to_string()),
        }
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
            app::register_permissions(&db).await?;
            if applied.is_empty() {
                println!("No migrations to apply.");
            }
            for name in applied {
                println!("Applied {name}");
            }
            Ok(())
        }
        Command::ImportDjango {
            from,
            dry_run,
            replace,
        } => {
            let db = app::open_database(&config).await?;
            let options = crate::import_django::ImportOptions {
                from,
                dry_run,
                replace,
                progress: true,
                token_ttl: config.auth.token_ttl.map(std::time::Duration::from_secs),
            };
            let report = crate::import_django::import(&db, &options)
                .await
                .map_err(|e| CliError::Message(e.to_string()))?;
            print!("{report}");
            Ok(())
        }
        Command::Perms { command } => perms(&config, command).await,
        Command::Audit {
            user,
            since,
            limit,
            json,
        } => {
            let db = app::open_database(&config).await?;
            let filter = EventFilter {
                username: user,
                since: since.map(|age| {
                    axum_drf::store::now_micros()
                        - i64::try_from(age.as_micros()).unwrap_or(i64::MAX / 2)
                }),
                limit: i64::from(limit),
            };
            let events = read_events(&db, &filter).await?;
            if json {
                let text = serde_json::to_string_pretty(&events)
                    .map_err(|e| CliError::Message(e.to_string()))?;
                println!("{text}");
            } else {
                for e in events {
                    let user = match e.user_id {
                        Some(id) => format!("{} (#{id})", e.username),
                        None => e.username,
                    };
                    println!(
                        "{}\t{}\t{}\t{}\t{}\t{}\t{}",
                        e.at,
                        e.kind,
                        user,
                        e.reason.unwrap_or_default(),
                        e.client_ip.unwrap_or_default(),
                        e.detail,
                        e.user_agent
                    );
                }
            }
            Ok(())
        }
        Command::Groups { command } => groups(&config, command).await,
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
            auth.change_password(user.id, &hash)
                .await
                .map_err(|e| CliError::Message(e.to_string()))?;
            auth.audit(cli_event(AuthEventKind::PasswordChange).with_user(&user));
            auth.audit_log().flush().await;
            println!("Password changed successfully for user '{username}'");
            Ok(())
        }
    }
}

async fn find_user(db: &Database, username: &str) -> Result<axum_drf::auth::User, CliError> {
    axum_drf::auth::Users::new(db.clone())
        .by_username(username)
        .await?
        .ok_or_else(|| CliError::Message(format!("user '{username}' does not exist")))
}

fn describe_object(perm: &str, object_id: Option<i64>) -> String {
    let Some(id) = object_id else {
        return String::new();
    };
    // Show the object as it is given on the command line: belongings:42.
    let resource = axum_drf::permissions::parse_perm(perm)
        .ok()
        .and_then(|(app, codename)| {
            let model = codename.split_once('_')?.1;
            crate::permissions::resource_of(app, model)
        });
    match resource {
        Some(r) => format!(" on {}:{id}", r.name),
        None => format!(" on object {id}"),
    }
}

async fn perms(config: &Config, command: PermsCommand) -> Result<(), CliError> {
    let db = app::open_database(config).await?;
    let store = PermissionStore::new(db.clone());
    match command {
        PermsCommand::List(PermsList {
            user: Some(username),
            ..
        }) => {
            let user = find_user(&db, &username).await?;
            if !user.is_active {
                println!("# {username} is inactive: no permission applies");
            } else if user.is_superuser {
                println!("# {username} is an active superuser: every permission applies");
            }
            let held = store.describe_user(user.id).await?;
            if !held.groups.is_empty() {
                println!("# groups: {}", held.groups.join(", "));
            }
            for g in held.grants {
                let via = match g.via_group {
                    Some(group) => format!("group {group}"),
                    None => "user".into(),
                };
                println!(
                    "{}{}\t({via})",
                    g.perm,
                    describe_object(&g.perm, g.object_id)
                );
            }
        }
        PermsCommand::List(PermsList {
            group: Some(name), ..
        }) => {
            let id = store.group_id(&name).await?;
            let members = store.group_members(id).await?;
            println!("# members: {}", members.join(", "));
            for g in store.describe_group(id).await? {
                println!("{}{}", g.perm, describe_object(&g.perm, g.object_id));
            }
        }
        PermsCommand::List(_) => {
            for perm in store.all_permissions().await? {
                println!("{perm}");
            }
        }
        PermsCommand::Grant(args) => change_perm(&db, &store, args, true).await?,
        PermsCommand::Revoke(args) => change_perm(&db, &store, args, false).await?,
    }
    Ok(())
}

async fn change_perm(
    db: &Database,
    store: &PermissionStore,
    args: PermsChange,
    grant: bool,
) -> Result<(), CliError> {
    let mut subject = None;
    let (target, who) = match (&args.user, &args.group) {
        (Some(username), _) => {
            let user = find_user(db, username).await?;
            let target = GrantTarget::User(user.id);
            subject = Some(user);
            (target, format!("user {username}"))
        }
        (None, Some(group)) => (
            GrantTarget::Group(store.group_id(group).await?),
            format!("group {group}"),
        ),
        (None, None) => return Err(CliError::Message("give --user or --group".into())),
    };
    let object = args
        .object
        .as_deref()
        .map(crate::permissions::parse_object_spec)
        .transpose()
        .map_err(|e| CliError::Message(e.to_string()))?;
    let object_ref = object.as_ref().map(|(m, id)| (m, *id));
    let what = match &args.object {
        Some(spec) => format!("{} on {spec}", args.permission),
        None => args.permission.clone(),
    };
    // Permissions are read per request, so the change applies to the next request.
    let changed = if grant {
        let new = store.grant(target, &args.permission, object_ref).await?;
        if new {
            println!("Granted {what} to {who}");
        } else {
            println!("{who} already holds {what}");
        }
        new.then(|| format!("granted {what} to {who}"))
    } else {
        let had = store.revoke(target, &args.permission, object_ref).await?;
        if had {
            println!("Revoked {what} from {who}");
        } else {
            println!("{who} did not hold {what}");
        }
        had.then(|| format!("revoked {what} from {who}"))
    };
    if let Some(detail) = changed {
        let event = cli_event(AuthEventKind::PermissionChange).with_detail(detail);
        record_now(db, subject.map_or(event.clone(), |u| event.with_user(&u))).await;
    }
    Ok(())
}

async fn groups(config: &Config, command: GroupsCommand) -> Result<(), CliError> {
    let db = app::open_database(config).await?;
    let store = PermissionStore::new(db.clone());
    match command {
        GroupsCommand::Create { name } => {
            store.create_group(&name).await?;
            println!("Created group {name}");
            group_event(&db, None, format!("created group {name}")).await;
        }
        GroupsCommand::Delete { name } => {
            if !store.delete_group(&name).await? {
                return Err(CliError::Message(format!(
                    "group \"{name}\" does not exist"
                )));
            }
            println!("Deleted group {name}");
            group_event(&db, None, format!("deleted group {name}")).await;
        }
        GroupsCommand::List => {
            for (name, members) in store.groups().await? {
                println!("{name}\t{members} member(s)");
            }
        }
        GroupsCommand::AddUser { group, user } => {
            let group_id = store.group_id(&group).await?;
            let member = find_user(&db, &user).await?;
            if store.add_user_to_group(group_id, member.id).await? {
                println!("Added {user} to {group}");
                group_event(&db, Some(&member), format!("added to group {group}")).await;
            } else {
                println!("{user} is already in {group}");
            }
        }
        GroupsCommand::RemoveUser { group, user } => {
            let group_id = store.group_id(&group).await?;
            let member = find_user(&db, &user).await?;
            if store.remove_user_from_group(group_id, member.id).await? {
                println!("Removed {user} from {group}");
                group_event(&db, Some(&member), format!("removed from group {group}")).await;
            } else {
                println!("{user} was not in {group}");
            }
        }
    }
    Ok(())
}

/// An audit event caused on the command line.
fn cli_event(kind: AuthEventKind) -> AuthEvent {
    AuthEvent::new(kind).with_client(&ClientInfo::command_line())
}

/// Writes one event before the command exits.
async fn record_now(db: &Database, event: AuthEvent) {
    let log = AuditLog::new(db.clone(), None);
    log.record(event);
    log.flush().await;
}

async fn group_event(db: &Database, member: Option<&axum_drf::auth::User>, detail: String) {
    let event = cli_event(AuthEventKind::GroupChange).with_detail(detail);
    record_now(db, member.map_or(event.clone(), |m| event.with_user(m))).await;
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
