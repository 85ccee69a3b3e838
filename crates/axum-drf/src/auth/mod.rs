//! Authentication: who is making the request.
//!
//! DRF's `TokenAuthentication` then `SessionAuthentication`, in that order: a request with a
//! `Token` header is judged by the token alone (an invalid one fails even on public routes),
//! otherwise a valid `sessionid` cookie authenticates it and unsafe methods must then pass
//! Django's CSRF check. Passwords are hashed with argon2id on a bounded blocking pool.

pub mod activation;
pub mod audit;
pub mod cache;
pub mod csrf;
pub mod hashing;
pub mod password;
pub mod schema;
pub mod service;
pub mod signing;
pub mod token;
pub mod tokens;
pub mod user;
pub mod validators;
pub mod views;

use std::sync::Arc;

pub use audit::{AuthEvent, AuthEventKind, ClientInfo};
pub use service::{AuthConfig, AuthService, SessionStart};
pub use tokens::TokenMode;
pub use user::{is_valid_username, normalize_email, normalize_username, NewUser, User, Users};

/// How the current request proved who it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Credential {
    /// No credentials (or none that apply).
    Anonymous,
    /// `Authorization: Token ...`; holds the stored hash of the key (DRF's `request.auth`).
    Token {
        /// SHA-256 hex of the presented key.
        key_hash: String,
    },
    /// The `sessionid` cookie; holds the stored hash of the session key.
    Session {
        /// SHA-256 hex of the session key.
        key_hash: String,
    },
}

/// The result of authentication: the user (if any) and the credential used.
///
/// ```
/// use axum_drf::auth::Identity;
/// let anonymous = Identity::anonymous();
/// assert!(!anonymous.is_authenticated());
/// ```
#[derive(Clone, Debug)]
pub struct Identity {
    /// The authenticated user; `None` is Django's `AnonymousUser`.
    pub user: Option<Arc<User>>,
    /// The credential that authenticated the user.
    pub credential: Credential,
}

impl Identity {
    /// An anonymous identity.
    pub fn anonymous() -> Self {
        Identity {
            user: None,
            credential: Credential::Anonymous,
        }
    }

    /// Whether a user is authenticated (DRF's `request.user.is_authenticated`).
    pub fn is_authenticated(&self) -> bool {
        self.user.is_some()
    }

    /// The authenticated user, if any.
    pub fn user(&self) -> Option<&User> {
        self.user.as_deref()
    }
}
