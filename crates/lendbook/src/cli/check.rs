//! `lendbook check`: validates what `serve` would need — configuration, permission policies,
//! CORS, the database (reachable, migrations applied) and mail (settings, and for SMTP a
//! connection with TLS as configured) — without serving and without creating or migrating
//! anything. One line per check; exit status 1 if any failed.

use std::path::Path;

use axum_drf::mail::Mailer;
use axum_drf::store::Database;

use super::CliError;
use crate::app;
use crate::config::Config;
use crate::permissions::Policies;

/// Runs every check, printing one line each.
pub async fn run(config: &Config, config_file: Option<&Path>) -> Result<(), CliError> {
    let mut failures = 0;
    let mut report = |name: &str, result: Result<String, String>| match result {
        Ok(text) => println!("ok    {name}: {text}"),
        Err(text) => {
            failures += 1;
            println!("FAIL  {name}: {text}");
        }
    };
    let file = crate::telemetry::describe_config_file(config_file);
    report("configuration", Ok(format!("loaded from {file}")));
    report(
        "permissions",
        Policies::from_config(config)
            .map(|_| "policies parse".into())
            .map_err(|e| e.to_string()),
    );
    report(
        "cors",
        crate::cors::layer(&config.cors).map(|layer| match layer {
            Some(_) => format!("on for {:?}", config.cors.allowed_origins),
            None => "off".into(),
        }),
    );
    report(
        "bind",
        config
            .bind
            .parse::<std::net::SocketAddr>()
            .map(|a| a.to_string())
            .map_err(|e| format!("{:?}: {e}", config.bind)),
    );
    report("database", check_database(config).await);
    report("mail", check_mail(config).await);
    if failures > 0 {
        return Err(CliError::Message(format!("{failures} check(s) failed")));
    }
    Ok(())
}

async fn check_database(config: &Config) -> Result<String, String> {
    let shown = config.database_display();
    axum_drf::store::check_scheme(&config.database_url).map_err(|e| e.to_string())?;
    if let Some(path) = config.sqlite_path() {
        if !path.exists() {
            // Opening would create it: say what serve would do instead.
            let dir = match path.parent() {
                Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
                _ => ".".into(),
            };
            return match std::fs::metadata(&dir) {
                Ok(m) if m.is_dir() && !m.permissions().readonly() => Ok(format!(
                    "{} does not exist yet; serve or migrate creates it",
                    path.display()
                )),
                Ok(_) => Err(format!("{}: directory is not writable", dir.display())),
                Err(e) => Err(format!("{}: {e}", dir.display())),
            };
        }
    }
    let db = Database::connect(&config.database_url)
        .await
        .map_err(|e| format!("{shown}: {e}"))?;
    let rows = db
        .query("SELECT name FROM _migrations", Vec::new())
        .await
        .map(|rows| {
            rows.iter()
                .filter_map(|r| r.text(0).ok())
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    let pending: Vec<_> = app::all_migrations()
        .iter()
        .map(|m| m.name)
        .filter(|name| !rows.iter().any(|r| r == name))
        .collect();
    if pending.is_empty() {
        Ok(format!("{shown}: reachable, migrations current"))
    } else {
        Ok(format!(
            "{shown}: reachable, {} migration(s) to apply ({})",
            pending.len(),
            pending.join(", ")
        ))
    }
}

async fn check_mail(config: &Config) -> Result<String, String> {
    match crate::accounts::emails::smtp_settings(config).map_err(|e| e.to_string())? {
        Some(settings) => {
            let shown = format!(
                "smtp {}:{} (tls: {:?})",
                settings.host, settings.port, settings.tls
            );
            Mailer::smtp(settings)
                .check()
                .await
                .map(|()| format!("{shown}: connected"))
                .map_err(|e| format!("{shown}: {e}"))
        }
        None => Ok(format!("files in {}", config.mail_dir().display())),
    }
}
