//! djoser's emails (activation, password reset, username reset): texts after djoser's
//! templates, links after its `*_URL` settings, delivered in the background.

use axum_drf::auth::activation::Activations;
use axum_drf::auth::signing::{encode_uid, LinkSigner};
use axum_drf::auth::User;
use axum_drf::mail::{Email, Mailer, SmtpSettings};
use axum_drf::store::StoreError;

use crate::app::AppState;
use crate::config::Config;

/// Link purposes; each is bound into its tokens, so one never serves as another.
pub const PASSWORD_RESET: &str = "password_reset";
/// Username reset links.
pub const USERNAME_RESET: &str = "username_reset";
/// Activation links.
pub const ACTIVATION: &str = "activation";

/// Which email to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// djoser's `ActivationEmail`.
    Activation,
    /// djoser's `PasswordResetEmail`.
    PasswordReset,
    /// djoser's `UsernameResetEmail`.
    UsernameReset,
}

impl Kind {
    /// The token purpose of this email's link.
    pub fn purpose(self) -> &'static str {
        match self {
            Kind::Activation => ACTIVATION,
            Kind::PasswordReset => PASSWORD_RESET,
            Kind::UsernameReset => USERNAME_RESET,
        }
    }
}

/// The configured mailer: SMTP when `[email] smtp_url` is set, else the file backend.
pub fn mailer(config: &Config) -> Mailer {
    match config.email.smtp_url.as_deref().map(SmtpSettings::from_url) {
        Some(Ok(mut settings)) => {
            settings.timeout = std::time::Duration::from_secs(config.email.timeout_secs);
            Mailer::smtp(settings)
        }
        // Checked when the configuration loaded; a config built in code may still be wrong.
        Some(Err(e)) => {
            tracing::error!(error = %e, "bad [email] smtp_url; writing mail to files instead");
            Mailer::file(config.mail_dir())
        }
        None => Mailer::file(config.mail_dir()),
    }
}

/// The frontend link for `user`, with a fresh token for `purpose` (see [`purpose_for`]).
pub fn link(
    config: &Config,
    signer: &LinkSigner,
    kind: Kind,
    purpose: &str,
    user: &User,
) -> String {
    let accounts = &config.accounts;
    let pattern = match kind {
        Kind::Activation => &accounts.activation_url,
        Kind::PasswordReset => &accounts.password_reset_confirm_url,
        Kind::UsernameReset => &accounts.username_reset_confirm_url,
    };
    let path = pattern
        .replace("{uid}", &encode_uid(user.id))
        .replace("{token}", &signer.make(purpose, user));
    format!("{}/{}", accounts.site_url.trim_end_matches('/'), path)
}

/// Renders the email of `kind` for `user`, its link signed for `purpose`.
pub fn render(
    config: &Config,
    signer: &LinkSigner,
    kind: Kind,
    purpose: &str,
    user: &User,
) -> Email {
    let site = &config.accounts.site_name;
    let url = link(config, signer, kind, purpose, user);
    let (subject, intro, action, remind) = match kind {
        Kind::Activation => (
            format!("Account activation on {site}"),
            format!(
                "You're receiving this email because you need to finish activation process on {site}."
            ),
            "Please go to the following page to activate account:",
            false,
        ),
        Kind::PasswordReset => (
            format!("Password reset on {site}"),
            format!(
                "You're receiving this email because you requested a password reset for your user account at {site}."
            ),
            "Please go to the following page and choose a new password:",
            true,
        ),
        Kind::UsernameReset => (
            format!("Username reset on {site}"),
            format!(
                "You're receiving this email because you requested a username reset for your user account at {site}."
            ),
            "Please go to the following page and choose a new username:",
            true,
        ),
    };
    let reminder = if remind {
        format!(
            "Your username, in case you've forgotten: {}\n",
            user.username
        )
    } else {
        String::new()
    };
    let text = format!(
        "{intro}\n\n{action}\n{url}\n{reminder}\nThanks for using our site!\n\nThe {site} team\n"
    );
    let html_reminder = if remind {
        format!(
            "<p>Your username, in case you've forgotten: <b>{}</b></p>\n",
            escape(&user.username)
        )
    } else {
        String::new()
    };
    let html = format!(
        "<p>{}</p>\n<p>{action}</p>\n<p><a href=\"{url}\">{url}</a></p>\n{html_reminder}<p>Thanks for using our site!</p>\n<p>The {} team</p>\n",
        escape(&intro),
        escape(site),
        url = escape(&url),
    );
    Email {
        from: config.email.from_email.clone(),
        to: vec![user.email.clone()],
        subject,
        text,
        html: Some(html),
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#x27;")
}

/// Sends `kind` to `user` in the background: the response never waits for (or tells
/// anything about) delivery. Failures are logged.
pub fn spawn_send(state: &AppState, kind: Kind, user: User) {
    let state = state.clone();
    tokio::spawn(async move { send(&state, kind, &user).await });
}

/// Sends `kind` to every user `find` returns, in the background, so that the time to
/// answer is the same whether or not anybody matched.
pub fn spawn_send_to<F, Fut>(state: &AppState, kind: Kind, find: F)
where
    F: FnOnce(AppState) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<Vec<User>, StoreError>> + Send,
{
    let state = state.clone();
    tokio::spawn(async move {
        match find(state.clone()).await {
            Ok(users) => {
                for user in users {
                    send(&state, kind, &user).await;
                }
            }
            Err(e) => tracing::error!(error = %e, ?kind, "cannot look up email recipients"),
        }
    });
}

/// The purpose `kind`'s link for `user` is signed for, or `None` when no such link may be
/// sent: an activation link exists only while the account waits for activation (never
/// for one an administrator deactivated), bound to that activation period.
pub async fn purpose_for(
    state: &AppState,
    kind: Kind,
    user: &User,
) -> Result<Option<String>, StoreError> {
    if kind != Kind::Activation {
        return Ok(Some(kind.purpose().to_owned()));
    }
    Ok(Activations::new(state.db.clone())
        .period(user.id)
        .await?
        .filter(|p| p.pending && !user.is_active)
        .map(|p| Activations::purpose(kind.purpose(), p.since)))
}

async fn send(state: &AppState, kind: Kind, user: &User) {
    if user.email.is_empty() {
        return;
    }
    let purpose = match purpose_for(state, kind, user).await {
        Ok(Some(purpose)) => purpose,
        Ok(None) => {
            tracing::info!(
                user_id = user.id,
                ?kind,
                "not waiting for activation: no email"
            );
            return;
        }
        Err(e) => {
            tracing::error!(user_id = user.id, ?kind, error = %e, "email not sent");
            return;
        }
    };
    let signer = LinkSigner::new(&state.auth.config().secret);
    let email = render(&state.config, &signer, kind, &purpose, user);
    match mailer(&state.config).send(&email).await {
        Ok(_) => tracing::info!(user_id = user.id, ?kind, "email sent"),
        Err(e) => tracing::error!(user_id = user.id, ?kind, error = %e, "email not sent"),
    }
}
