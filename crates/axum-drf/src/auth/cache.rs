//! A bounded cache of verified credentials (token hash / session key hash -> user), so the
//! hot path does not touch the database. Every write that can end a credential (logout,
//! password change, deactivation, deletion) invalidates here at once, and — through
//! PostgreSQL `NOTIFY` or the SQLite invalidation log — on every other instance.
//!
//! Invalidation alone cannot keep the cache correct: a request that read the database just
//! before a logout committed would insert what it read *after* the logout cleared the
//! cache. So every invalidation also advances an epoch — per user and per credential key,
//! kept in fixed arrays of atomic counters (stripes; no lock, no map to grow) — and every
//! entry remembers the [`ReadTicket`] taken before its database read. An entry read before
//! a later invalidation of its user or key is never served: a hit costs three atomic loads
//! and no database round trip.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
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

/// The moment a database read of a credential began, taken with
/// [`AuthCache::ticket`] before the read and handed to [`AuthCache::insert`] after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ReadTicket(u64);

#[derive(Clone)]
struct Entry {
    credential: CachedCredential,
    ticket: ReadTicket,
}

/// Counters per stripe: users (or keys) sharing a stripe only cost each other a cache miss.
const STRIPES: usize = 4096;

/// Credential cache keyed by the stored hash of the secret.
pub struct AuthCache {
    // aHash, keyed per process: the keys are SHA-256 digests, and SipHash over 64 hex digits
    // was ~300 instructions of every token read (callgrind).
    entries: Cache<String, Entry, ahash::RandomState>,
    // Off while cross-instance invalidation cannot be guaranteed (listener down).
    enabled: AtomicBool,
    // Advanced by every invalidation; a ticket is its value when a read began.
    clock: AtomicU64,
    // The clock value of the last invalidation of everything / of a user / of a key.
    all: AtomicU64,
    users: Box<[AtomicU64]>,
    keys: Box<[AtomicU64]>,
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
                .build_with_hasher(ahash::RandomState::new()),
            enabled: AtomicBool::new(enabled),
            clock: AtomicU64::new(0),
            all: AtomicU64::new(0),
            users: (0..STRIPES).map(|_| AtomicU64::new(0)).collect(),
            keys: (0..STRIPES).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    /// Take before reading a credential from the database; pass to [`AuthCache::insert`].
    pub fn ticket(&self) -> ReadTicket {
        ReadTicket(self.clock.load(Ordering::SeqCst))
    }

    /// The cached credential for `key_hash`, if caching is on, it is present, and neither
    /// its user nor its key was invalidated after it was read.
    pub fn get(&self, key_hash: &str) -> Option<CachedCredential> {
        if !self.enabled.load(Ordering::Acquire) {
            return None;
        }
        let Some(entry) = self.entries.get(key_hash) else {
            crate::metrics::credential_cache(false);
            return None;
        };
        if self.invalidated_since(key_hash, entry.credential.user.id, entry.ticket) {
            self.entries.invalidate(key_hash);
            crate::metrics::credential_cache(false);
            return None;
        }
        crate::metrics::credential_cache(true);
        Some(entry.credential)
    }

    /// Remembers a credential verified by a database read that began at `ticket`. If an
    /// invalidation of its user or key happened since, it is never served.
    pub fn insert(&self, key_hash: String, credential: CachedCredential, ticket: ReadTicket) {
        if self.enabled.load(Ordering::Acquire)
            && !self.invalidated_since(&key_hash, credential.user.id, ticket)
        {
            self.entries.insert(key_hash, Entry { credential, ticket });
        }
    }

    fn invalidated_since(&self, key_hash: &str, user_id: i64, ticket: ReadTicket) -> bool {
        let after = |epoch: &AtomicU64| epoch.load(Ordering::SeqCst) > ticket.0;
        after(&self.all)
            || after(&self.users[user_stripe(user_id)])
            || after(&self.keys[key_stripe(key_hash)])
    }

    // Called after the change is committed, before entries are dropped: a read that began
    // before the commit holds a smaller ticket than the epoch written here.
    fn advance(&self, epoch: &AtomicU64) {
        let now = self.clock.fetch_add(1, Ordering::SeqCst) + 1;
        epoch.fetch_max(now, Ordering::SeqCst);
    }

    /// Forgets one credential.
    pub fn invalidate_key(&self, key_hash: &str) {
        self.advance(&self.keys[key_stripe(key_hash)]);
        self.entries.invalidate(key_hash);
    }

    /// Forgets every credential of a user.
    pub fn invalidate_user(&self, user_id: i64) {
        self.advance(&self.users[user_stripe(user_id)]);
        // Registered predicates apply to every later `get`, so the effect is immediate.
        if self
            .entries
            .invalidate_entries_if(move |_, e| e.credential.user.id == user_id)
            .is_err()
        {
            self.entries.invalidate_all();
        }
    }

    fn invalidate_all(&self) {
        self.advance(&self.all);
        self.entries.invalidate_all();
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
            self.invalidate_all();
        }
    }

    /// Whether the cache is in use.
    pub fn is_enabled(&self) -> bool {
        self.enabled.load(Ordering::Acquire)
    }

    /// Turns caching on or off; turning it off empties it, so nothing stale survives a
    /// period without invalidation messages. Turning on an enabled cache changes nothing
    /// (the SQLite poller confirms it on every tick).
    pub fn set_enabled(&self, enabled: bool) {
        if !enabled {
            self.enabled.store(false, Ordering::Release);
            self.invalidate_all();
        } else if !self.enabled.load(Ordering::Acquire) {
            // Reads that began while invalidations could be missed are never trusted.
            self.invalidate_all();
            self.enabled.store(true, Ordering::Release);
        }
    }
}

fn user_stripe(user_id: i64) -> usize {
    (user_id as u64 % STRIPES as u64) as usize
}

// FNV-1a: key hashes are already uniform, this only folds them into a stripe index.
fn key_stripe(key_hash: &str) -> usize {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key_hash.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    (h % STRIPES as u64) as usize
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
        let t = c.ticket();
        c.insert("a".into(), cred(1), t);
        c.insert("b".into(), cred(1), t);
        c.insert("c".into(), cred(2), t);
        c.invalidate_user(1);
        assert!(c.get("a").is_none() && c.get("b").is_none());
        assert!(c.get("c").is_some());
        c.apply_message("key:c#123");
        assert!(c.get("c").is_none());
        c.insert("d".into(), cred(3), c.ticket());
        // Confirming an enabled cache keeps its entries.
        c.set_enabled(true);
        assert!(c.get("d").is_some());
        c.set_enabled(false);
        assert!(c.get("d").is_none());
        // A read that began before the cache was turned back on is not trusted.
        let before = c.ticket();
        c.set_enabled(true);
        c.insert("d".into(), cred(3), before);
        assert!(c.get("d").is_none());
    }

    #[test]
    fn a_read_that_began_before_an_invalidation_is_never_served() {
        let c = AuthCache::new(100, Duration::from_secs(60), true);
        let cred = |id| CachedCredential {
            user: user(id),
            expire_at: i64::MAX,
            token_id: None,
        };
        // User: read begins, user invalidated, read result arrives.
        let before = c.ticket();
        c.invalidate_user(1);
        c.insert("a".into(), cred(1), before);
        assert!(c.get("a").is_none());
        // Inserted first, invalidated after: gone at once.
        let t = c.ticket();
        c.insert("b".into(), cred(2), t);
        assert!(c.get("b").is_some());
        c.invalidate_key("b");
        assert!(c.get("b").is_none());
        // Key: same race through a message from another instance.
        let before = c.ticket();
        c.apply_message("key:k");
        c.insert("k".into(), cred(3), before);
        assert!(c.get("k").is_none());
        // A read that began after the invalidation is cached.
        c.insert("k".into(), cred(3), c.ticket());
        assert!(c.get("k").is_some());
        // Another user's invalidation leaves it alone.
        c.invalidate_user(4);
        assert!(c.get("k").is_some());
    }
}
