//! A bounded cache of verified credentials (token hash / session key hash -> user), so the
//! hot path does not touch the database. Every write that can end a credential (logout,
//! password change, deactivation, deletion) invalidates here at once, and — through
//! PostgreSQL `NOTIFY` or the SQLite invalidation log — on every other instance.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use moka::sync::Cache;

use super::user::User;

/// What a cached credential resolves to.
#[derive(Clone, Debug)]
pub struct CachedCredential {
    /// The authenticated user as loaded when the credential was verified.
    pub user: Arc<User>,
    /// When the credential ends (microseconds); `i64::MAX` when it does not (tokens
    /// without `token_ttl`).
    pub expire_at: i64,
    /// The `auth_token` row of a random (per-login or imported) token, for "last used".
    pub token_id: Option<i64>,
}

/// Credential cache keyed by the stored hash of the secret.
pub struct AuthCache {
    entries: Cache<String, CachedCredential>,
    // Off while cross-instance invalidation cannot be guaranteed (listener down).
    enabled: AtomicBool,
}

/// The notification channel that carries invalidations between instances.
pub const INVALIDATION_CHANNEL: &str = "axum_drf_auth";

impl AuthCache {
    /// A cache of at most `capacity` credentials, each trusted for at most `ttl`
    /// (a backstop; invalidation is what keeps it correct).
    pub fn new(capacity: u64, ttl: Duration, enabled: bool) -> Self {
        AuthCache {
            entries: Cache::builder()
                .max_capacity(capacity)
                .time_to_live(ttl)
                .support_invalidation_closures()
                .build(),
            enabled: AtomicBool::new(enabled),
        }
    }

    /// The cached credential for `key_hash`, if caching is on and it is present.
    pub fn get(&self, key_hash: &str) -> Option<CachedCredential> {
        if !self.enabled.load(Ordering::Acquire) {
            return None;
        }
        self.entries.get(key_hash)
    }

    /// Remembers a verified credential.
    pub fn insert(&self, key_hash: String, credential: CachedCredential) {
        if self.enabled.load(Ordering::Acquire) {
            self.entries.insert(key_hash, credential);
        }
    }

    /// Forgets one credential.
    pub fn invalidate_key(&self, key_hash: &str) {
        self.entries.invalidate(key_hash);
    }

    /// Forgets every credential of a user.
    pub fn invalidate_user(&self, user_id: i64) {
        // Registered predicates apply to every later `get`, so the effect is immediate.
        if self
            .entries
            .invalidate_entries_if(move |_, c| c.user.id == user_id)
            .is_err()
        {
            self.entries.invalidate_all();
        }
    }

    /// Applies an invalidation message from another instance (`user:<id>` or `key:<hash>`,
    /// optionally followed by `#<nonce>`).
    pub fn apply_message(&self, payload: &str) {
        let payload = payload.split_once('#').map_or(payload, |(p, _)| p);
        if let Some(id) = payload.strip_prefix("user:").and_then(|s| s.parse().ok()) {
            self.invalidate_user(id);
        } else if let Some(hash) = payload.strip_prefix("key:") {
            self.invalidate_key(hash);
        } else {
            self.entries.invalidate_all();
        }
    }

    /// Whether the cache is in use.
    pub fn is_enabled(&self) -> bool {
        self.enabled.load(Ordering::Acquire)
    }

    /// Turns caching on or off; turning it off empties it, so nothing stale survives a
    /// period without invalidation messages.
    pub fn set_enabled(&self, enabled: bool) {
        if !enabled {
            self.enabled.store(false, Ordering::Release);
            self.entries.invalidate_all();
        } else {
            self.entries.invalidate_all();
            self.enabled.store(true, Ordering::Release);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: i64) -> Arc<User> {
        Arc::new(User {
            id,
            username: format!("u{id}"),
            email: String::new(),
            first_name: String::new(),
            last_name: String::new(),
            is_active: true,
            is_staff: false,
            is_superuser: false,
            last_login: None,
            date_joined: 0,
            password: String::new(),
            token_generation: 0,
        })
    }

    #[test]
    fn invalidation_is_immediate() {
        let c = AuthCache::new(100, Duration::from_secs(60), true);
        let cred = |id| CachedCredential {
            user: user(id),
            expire_at: i64::MAX,
            token_id: None,
        };
        c.insert("a".into(), cred(1));
        c.insert("b".into(), cred(1));
        c.insert("c".into(), cred(2));
        c.invalidate_user(1);
        assert!(c.get("a").is_none() && c.get("b").is_none());
        assert!(c.get("c").is_some());
        c.apply_message("key:c#123");
        assert!(c.get("c").is_none());
        c.insert("d".into(), cred(3));
        c.set_enabled(false);
        assert!(c.get("d").is_none());
    }
}
