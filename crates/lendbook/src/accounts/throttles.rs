//! The throttles of the credential endpoints: per client and per target account (see
//! [`CredentialThrottle`] for why a real user cannot be locked out). Rates are the scopes
//! in `crate::throttling::DEFAULT_SCOPES`, overridable in `[throttle.scopes]`. The login
//! views' throttle is the framework's (`axum_drf::auth::views::login_throttle`).

use axum_drf::throttling::{CredentialThrottle, Spend};

/// Registration: accounts (and activation mails) per email address.
pub fn register() -> CredentialThrottle {
    CredentialThrottle::new(
        "register",
        Spend::Successes,
        CredentialThrottle::field("email"),
    )
}

/// `set_password/` and `set_username/` (both check the current password): wrong current
/// passwords per user.
pub fn set_password() -> CredentialThrottle {
    CredentialThrottle::new("set_password", Spend::Failures, CredentialThrottle::user())
}

/// Password and username reset requests: mails per email address.
pub fn password_reset() -> CredentialThrottle {
    CredentialThrottle::new(
        "password_reset",
        Spend::Successes,
        CredentialThrottle::field("email"),
    )
}

/// Password and username reset confirmations: bad links per uid.
pub fn password_reset_confirm() -> CredentialThrottle {
    CredentialThrottle::new(
        "password_reset_confirm",
        Spend::Failures,
        CredentialThrottle::field("uid"),
    )
}

/// Activation: bad links per uid.
pub fn activation() -> CredentialThrottle {
    CredentialThrottle::new(
        "activation",
        Spend::Failures,
        CredentialThrottle::field("uid"),
    )
}

/// Activation resends: mails per email address.
pub fn resend_activation() -> CredentialThrottle {
    CredentialThrottle::new(
        "resend_activation",
        Spend::Successes,
        CredentialThrottle::field("email"),
    )
}
