//! Where a command that sets a password gets it, in this order: `--password` (works, for
//! old scripts, but warns: the command line is visible in `ps` and shell history),
//! `--password-stdin` (one line), the command's environment variable, an interactive
//! prompt without echo. Without a terminal and without any of these the command fails with
//! a message that says what to use instead of an OS error.
//!
//! Passwords pass the same validators as the API (Django's four defaults) unless
//! `--no-validate` is given (Django's "Bypass password validation and create user anyway").

use std::io::{BufRead, IsTerminal};

use axum_drf::auth::validators::{validate_password, UserAttributes};
use clap::Args;

use super::CliError;

/// Password options shared by every command that sets one.
#[derive(Debug, Args, Default)]
pub struct PasswordArgs {
    /// The password (visible to other local users in `ps` and kept in shell history: prefer
    /// --password-stdin, the environment variable or the prompt).
    #[arg(long, conflicts_with = "password_stdin")]
    pub password: Option<String>,
    /// Read the password from the first line of standard input.
    #[arg(long)]
    pub password_stdin: bool,
    /// Accept a password the validators refuse (too short, too common, numeric, similar to
    /// the username).
    #[arg(long)]
    pub no_validate: bool,
}

impl PasswordArgs {
    /// The password, from the first source that has one; `env_var` names the command's
    /// environment variable.
    pub fn read(&self, env_var: &str) -> Result<String, CliError> {
        if let Some(p) = &self.password {
            eprintln!(
                "warning: a password on the command line is visible to other users (ps) and \
                 kept in shell history; use --password-stdin, {env_var} or the prompt"
            );
            return non_blank(p.clone());
        }
        if self.password_stdin {
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line).map_err(|e| {
                CliError::Message(format!("cannot read the password from stdin: {e}"))
            })?;
            let line = line.strip_suffix('\n').unwrap_or(&line);
            let line = line.strip_suffix('\r').unwrap_or(line);
            return non_blank(line.to_owned());
        }
        if let Ok(p) = std::env::var(env_var) {
            if !p.is_empty() {
                return Ok(p);
            }
        }
        prompt(env_var)
    }

    /// Applies the API's password validators unless `--no-validate`.
    pub fn validate(&self, password: &str, user: &UserAttributes<'_>) -> Result<(), CliError> {
        if self.no_validate {
            return Ok(());
        }
        validate_password(password, user).map_err(|messages| {
            CliError::Message(format!(
                "{}\n(use --no-validate to set it anyway)",
                messages.join("\n")
            ))
        })
    }
}

fn non_blank(p: String) -> Result<String, CliError> {
    if p.is_empty() {
        return Err(CliError::Message("password may not be blank".into()));
    }
    Ok(p)
}

fn prompt(env_var: &str) -> Result<String, CliError> {
    if !std::io::stdin().is_terminal() {
        return Err(CliError::Message(format!(
            "no terminal to prompt for the password: pipe it with --password-stdin or set {env_var}"
        )));
    }
    let read = |label: &str| {
        rpassword::prompt_password(label)
            .map_err(|e| CliError::Message(format!("cannot read password: {e}")))
    };
    let first = read("Password: ")?;
    let second = read("Password (again): ")?;
    if first != second {
        return Err(CliError::Message("passwords do not match".into()));
    }
    non_blank(first)
}
