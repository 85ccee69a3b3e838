//! DRF's throttle classes, one job each: say whose history a request counts against
//! (`get_cache_key`) and at which rate. The step itself is the store's.

use std::fmt;
use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::Rate;
use crate::request::ApiRequest;

/// A throttle class: DRF's `SimpleRateThrottle` subclass.
pub trait Throttle: Send + Sync + 'static {
    /// The scope named in keys and logs (`anon`, `user`, a view's scope).
    fn scope(&self) -> &str;
    /// The rate.
    fn rate(&self) -> Rate;
    /// DRF's `get_cache_key`: the history this request counts against, or `None` when the
    /// class does not apply to it.
    fn cache_key(&self, request: &ApiRequest) -> Option<String>;
}

/// DRF's `get_ident`: the client's address ([`ApiRequest::client_ip`]), empty if unknown.
pub fn ident(request: &ApiRequest) -> String {
    request.client_ip.map(address_text).unwrap_or_default()
}

/// The address as `Display` writes it. For IPv4 `Display` goes through the formatter a digit
/// group at a time: 1.3k instructions of an anonymous request, for four integers and three dots.
fn address_text(ip: std::net::IpAddr) -> String {
    match ip {
        std::net::IpAddr::V4(ip) => {
            let mut text = String::with_capacity(15);
            for (i, octet) in ip.octets().into_iter().enumerate() {
                if i > 0 {
                    text.push('.');
                }
                text.push_str(itoa::Buffer::new().format(octet));
            }
            text
        }
        ip => ip.to_string(),
    }
}

/// The client part of a throttle key: DRF's `get_ident` for IPv4 clients; an IPv6 client's
/// /64 (`2001:db8:1:2::/64`) where DRF keys the whole address, since a host that holds a
/// /64 could otherwise take a fresh budget, and a fresh entry in the counters, per request
/// ([`address_key`](crate::client::address_key)). Logs still name the whole address
/// ([`ident`]).
fn client_ident(request: &ApiRequest) -> String {
    match request.client_ip.map(crate::client::address_key) {
        Some(ip @ std::net::IpAddr::V6(_)) => format!("{ip}/64"),
        Some(ip) => address_text(ip),
        None => String::new(),
    }
}

// DRF's `cache_format`.
fn cache_key(scope: &str, ident: &str) -> String {
    // Pushed rather than `format!`ed: this runs on every throttled request.
    let mut key = String::with_capacity(10 + scope.len() + ident.len());
    key.push_str("throttle_");
    key.push_str(scope);
    key.push('_');
    key.push_str(ident);
    key
}

/// DRF's `UserRateThrottle` and `ScopedRateThrottle` key: the user's id when
/// authenticated, else the client's address.
fn user_or_ident_key(scope: &str, request: &ApiRequest) -> String {
    match &request.identity.user {
        Some(user) => cache_key(scope, itoa::Buffer::new().format(user.id)),
        None => cache_key(scope, &client_ident(request)),
    }
}

/// DRF's `AnonRateThrottle`: anonymous requests, per client address.
#[derive(Debug, Clone)]
pub struct AnonRateThrottle {
    /// The rate (`[throttle] anon`).
    pub rate: Rate,
}

impl Throttle for AnonRateThrottle {
    fn scope(&self) -> &str {
        "anon"
    }
    fn rate(&self) -> Rate {
        self.rate
    }
    fn cache_key(&self, request: &ApiRequest) -> Option<String> {
        if request.identity.user.is_some() {
            return None;
        }
        Some(cache_key("anon", &client_ident(request)))
    }
}

/// DRF's `UserRateThrottle`: per user, anonymous requests per client address.
#[derive(Debug, Clone)]
pub struct UserRateThrottle {
    /// The rate (`[throttle] user`).
    pub rate: Rate,
}

impl Throttle for UserRateThrottle {
    fn scope(&self) -> &str {
        "user"
    }
    fn rate(&self) -> Rate {
        self.rate
    }
    fn cache_key(&self, request: &ApiRequest) -> Option<String> {
        Some(user_or_ident_key("user", request))
    }
}

/// DRF's `ScopedRateThrottle`: the view's `throttle_scope`, per user or client address.
#[derive(Debug, Clone)]
pub struct ScopedRateThrottle {
    /// The view's scope.
    pub scope: String,
    /// The scope's rate.
    pub rate: Rate,
}

impl Throttle for ScopedRateThrottle {
    fn scope(&self) -> &str {
        &self.scope
    }
    fn rate(&self) -> Rate {
        self.rate
    }
    fn cache_key(&self, request: &ApiRequest) -> Option<String> {
        Some(user_or_ident_key(&self.scope, request))
    }
}

/// Which outcome spends an account's allowance in a [`CredentialThrottle`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spend {
    /// A refused attempt (4xx): password guesses, bad links. A success never counts.
    Failures,
    /// An accepted request (2xx): each may send mail to the account's address.
    Successes,
}

type AccountFn = Arc<dyn Fn(&ApiRequest) -> Option<String> + Send + Sync>;

/// A credential endpoint's limits beyond DRF's: per client (a [`ScopedRateThrottle`] on
/// `scope`) **and** per target account (the rate of scope `<scope>_account`), so that many
/// addresses guessing at one account are limited too.
///
/// The account limit cannot lock the real user out: it counts only what [`Spend`] says
/// (failures, for guesses), and when it is reached it refuses only clients that have
/// themselves spent on that account within the period. A client that has not — the real
/// user on their own device — still gets through; if that attempt spends too, it is
/// refused next time. Distributed guessing at one account is so held to the account rate
/// plus one attempt per fresh client address (IPv6: per fresh /64) per period.
///
/// ```
/// use axum_drf::throttling::{CredentialThrottle, Spend};
/// let login = CredentialThrottle::new("login", Spend::Failures, CredentialThrottle::field("username"));
/// assert_eq!(login.account_scope(), "login_account");
/// ```
#[derive(Clone)]
pub struct CredentialThrottle {
    scope: String,
    account_scope: String,
    spend: Spend,
    account: AccountFn,
}

impl fmt::Debug for CredentialThrottle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CredentialThrottle")
            .field("scope", &self.scope)
            .field("spend", &self.spend)
            .finish_non_exhaustive()
    }
}

impl CredentialThrottle {
    /// Limits on `scope` (per client) and `<scope>_account` (per account as `account`
    /// names it, counting `spend`).
    pub fn new<F>(scope: impl Into<String>, spend: Spend, account: F) -> Self
    where
        F: Fn(&ApiRequest) -> Option<String> + Send + Sync + 'static,
    {
        let scope = scope.into();
        CredentialThrottle {
            account_scope: format!("{scope}_account"),
            scope,
            spend,
            account: Arc::new(account),
        }
    }

    /// The account is a body field (`username`, `uid`); emails are compared
    /// case-insensitively, as accounts are found by them.
    pub fn field(name: &'static str) -> impl Fn(&ApiRequest) -> Option<String> + Send + Sync {
        move |request| {
            let data = request.data().ok()?;
            let value = match data.get(name)? {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Number(n) => n.to_string(),
                _ => return None,
            };
            Some(if name == "email" {
                value.to_lowercase()
            } else {
                value
            })
        }
    }

    /// The account is the authenticated user (`set_password`).
    pub fn user() -> impl Fn(&ApiRequest) -> Option<String> + Send + Sync {
        |request| request.identity.user.as_ref().map(|u| u.id.to_string())
    }

    /// The per-client scope.
    pub fn scope(&self) -> &str {
        &self.scope
    }

    /// The per-account scope, `<scope>_account`.
    pub fn account_scope(&self) -> &str {
        &self.account_scope
    }

    /// What spends the account's allowance.
    pub fn spend(&self) -> Spend {
        self.spend
    }

    /// The history keys of this request's account, and of this client on that account;
    /// `None` when the request names no account. The account is hashed: keys (in Redis, in
    /// the database) never hold a username or an email address.
    pub fn account_keys(&self, request: &ApiRequest) -> Option<(String, String)> {
        let account = (self.account)(request)?;
        let digest = Sha256::digest(account.as_bytes());
        let account = hex::encode(&digest[..16]);
        let key = cache_key(&self.account_scope, &account);
        let client = format!("{key}_{}", client_ident(request));
        Some((key, client))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(ip: &str) -> ApiRequest {
        super::super::tests::request_from(ip.parse().unwrap())
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_64_and_ipv4_clients_as_drf_does() {
        let anon = AnonRateThrottle {
            rate: "1/min".parse().unwrap(),
        };
        let key = |ip: &str| anon.cache_key(&from(ip)).unwrap();
        assert_eq!(key("203.0.113.9"), "throttle_anon_203.0.113.9");
        assert_eq!(key("::ffff:203.0.113.9"), "throttle_anon_203.0.113.9");
        assert_eq!(
            key("2001:db8:1:2:aaaa::1"),
            "throttle_anon_2001:db8:1:2::/64"
        );
        assert_eq!(key("2001:db8:1:2:bbbb::9"), key("2001:db8:1:2:aaaa::1"));
        assert_ne!(key("2001:db8:1:3::1"), key("2001:db8:1:2:aaaa::1"));
        let login = CredentialThrottle::new("login", Spend::Failures, |_| Some("bob".into()));
        let (_, a) = login.account_keys(&from("2001:db8:1:2::1")).unwrap();
        let (_, b) = login.account_keys(&from("2001:db8:1:2::2")).unwrap();
        assert_eq!(a, b);
        // Logs still name the whole address.
        assert_eq!(ident(&from("2001:db8:1:2::1")), "2001:db8:1:2::1");
    }

    #[test]
    fn addresses_are_written_as_display_writes_them() {
        for ip in [
            "0.0.0.0",
            "127.0.0.1",
            "10.20.255.9",
            "255.255.255.255",
            "::1",
            "2001:db8::8a2e:370:7334",
            "::ffff:1.2.3.4",
        ] {
            let ip: std::net::IpAddr = ip.parse().unwrap();
            assert_eq!(address_text(ip), ip.to_string());
        }
    }
}
