//! lendbook's throttling: the default rates of its credential endpoints, and the
//! [`Throttling`] built from `[throttle]` with the counter store the deployment calls for
//! (Redis when configured, else its PostgreSQL database, else memory).

use std::sync::Arc;

use axum_drf::store::{Backend, Database};
use axum_drf::throttling::postgres::PgCounters;
use axum_drf::throttling::redis::RedisCounters;
use axum_drf::throttling::{CounterError, CounterStore, MemoryCounters, Rate, Throttling};

use crate::config::ThrottleSettings;

/// Scope rates on by default: every credential endpoint, per client (`<scope>`, DRF's
/// `ScopedRateThrottle`: all requests) and per target account (`<scope>_account`: failed
/// attempts, or for the mail-sending scopes the mails sent). Generous per client, so that a
/// normal client's flow (and the recorded DRF cases) never meets them; tight per account.
pub const DEFAULT_SCOPES: &[(&str, &str)] = &[
    // /api/login/ and djoser's token/login/, per client; wrong passwords per username.
    ("login", "100/min"),
    ("login_account", "10/hour"),
    // Registration per client; accounts (and activation mails) per email address.
    ("register", "200/hour"),
    ("register_account", "10/hour"),
    // set_password per user; wrong current passwords per user.
    ("set_password", "30/min"),
    ("set_password_account", "10/hour"),
    // Password and username reset requests per client; mails per email address.
    ("password_reset", "30/hour"),
    ("password_reset_account", "3/hour"),
    // Reset confirmations per client; bad links per uid.
    ("password_reset_confirm", "30/min"),
    ("password_reset_confirm_account", "10/hour"),
    // Activation per client; bad links per uid.
    ("activation", "30/min"),
    ("activation_account", "10/hour"),
    // Activation resends per client; mails per email address.
    ("resend_activation", "30/hour"),
    ("resend_activation_account", "3/hour"),
];

/// Builds the throttling of `settings` over `db`. A malformed Redis URL is an error; an
/// unreachable Redis is not (counting falls back to memory until it answers).
pub fn build(settings: &ThrottleSettings, db: &Database) -> Result<Throttling, CounterError> {
    let store: Arc<dyn CounterStore> = match (&settings.redis_url, db.backend()) {
        (Some(url), _) if !url.trim().is_empty() => {
            Arc::new(RedisCounters::new(url, settings.redis_prefix.clone())?)
        }
        (_, Backend::Postgres) => Arc::new(PgCounters::new(db.clone())),
        _ => Arc::new(MemoryCounters::with_max_keys(settings.memory_max_keys)),
    };
    tracing::info!(store = store.name(), "throttle counters");
    // Checked when the configuration loaded; a config built in code may still be wrong.
    let rate = |r: &str| match r.parse::<Rate>() {
        Ok(rate) => Some(rate),
        Err(e) => {
            tracing::error!(error = %e, "ignoring a throttle rate");
            None
        }
    };
    let mut throttling = Throttling::new(store)
        .refusal_delay(std::time::Duration::from_secs_f64(settings.refusal_delay));
    if let Some(r) = settings.anon.as_deref().and_then(rate) {
        throttling = throttling.anon(r);
    }
    if let Some(r) = settings.user.as_deref().and_then(rate) {
        throttling = throttling.user(r);
    }
    for (scope, r) in &settings.scopes {
        if r == "off" {
            continue;
        }
        if let Some(r) = rate(r) {
            throttling = throttling.scope(scope.clone(), r);
        }
    }
    Ok(throttling)
}
