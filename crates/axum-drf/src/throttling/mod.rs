//! Throttling with Django REST Framework's semantics (`rest_framework/throttling.py`).
//!
//! A view's throttles run where DRF runs them — after authentication and permissions —
//! and a refused request answers 429 `{"detail": "Request was throttled. Expected available
//! in N seconds."}` with `Retry-After: N` ([`ApiError::Throttled`]). They are:
//!
//! - the state's defaults ([`Throttling::anon`], [`Throttling::user`]: DRF's
//!   `DEFAULT_THROTTLE_CLASSES` with `AnonRateThrottle` and `UserRateThrottle`);
//! - the view's scope ([`View::throttle_scope`](crate::View::throttle_scope)), when the
//!   state has a rate for it (DRF's `ScopedRateThrottle`; a scope without a rate is not
//!   throttled, where DRF would raise `ImproperlyConfigured`);
//! - a credential endpoint's [`CredentialThrottle`]: per client and per target account.
//!
//! Histories live in a [`CounterStore`]: memory by default, Redis or PostgreSQL when
//! instances must share them.
//!
//! ```
//! use std::sync::Arc;
//! use axum_drf::throttling::{MemoryCounters, Throttling};
//! let throttling = Throttling::new(Arc::new(MemoryCounters::new()))
//!     .anon("100/hour".parse().unwrap())
//!     .scope("login", "10/min".parse().unwrap());
//! assert_eq!(throttling.rate("login").unwrap().requests, 10);
//! ```

mod classes;
pub mod postgres;
mod rate;
pub mod redis;
mod store;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

pub use classes::{
    ident, AnonRateThrottle, CredentialThrottle, ScopedRateThrottle, Spend, Throttle,
    UserRateThrottle,
};
pub use rate::{InvalidRate, Rate};
pub use store::{BoxFuture, CounterError, CounterStore, MemoryCounters, Record, Window};

use crate::error::ApiError;
use crate::logging::LogBudget;
use crate::request::ApiRequest;
use crate::store::now_micros;

/// The throttling configuration an application state holds: its counter store, default
/// classes and scope rates (DRF's `DEFAULT_THROTTLE_CLASSES` / `DEFAULT_THROTTLE_RATES`).
#[derive(Clone)]
pub struct Throttling {
    store: Arc<dyn CounterStore>,
    defaults: Vec<Arc<dyn Throttle>>,
    rates: HashMap<String, Rate>,
    /// The "request throttled" warnings' budget ([`Throttling::WARNINGS`]).
    warnings: Arc<LogBudget>,
    /// How long a refusal is held before it is answered ([`Throttling::refusal_delay`]).
    refusal_delay: Duration,
}

impl std::fmt::Debug for Throttling {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Throttling")
            .field("store", &self.store.name())
            .field("rates", &self.rates)
            .finish_non_exhaustive()
    }
}

/// What a credential endpoint's request may spend once its handler has answered.
pub struct Pending {
    store: Arc<dyn CounterStore>,
    spend: Spend,
    rate: Rate,
    account: String,
    client: String,
}

impl Throttling {
    /// At most this many "request throttled" warnings per second: a flood of refused
    /// requests is news once, not once per request (a login flood refused at 4,750 req/s
    /// wrote as many lines a second). The `http_throttled_requests_total` metric still
    /// counts every refusal, and the first line let through after a stretch of left-out
    /// ones says how many (`suppressed=N`).
    pub const WARNINGS: u32 = 10;

    /// No throttles yet, histories in `store`.
    pub fn new(store: Arc<dyn CounterStore>) -> Self {
        Throttling {
            store,
            defaults: Vec::new(),
            rates: HashMap::new(),
            warnings: Arc::new(LogBudget::new(Self::WARNINGS, Duration::from_secs(1))),
            refusal_delay: Duration::ZERO,
        }
    }

    /// Holds a refused request for up to `delay` (never longer than its wait) before the
    /// 429 goes out; `Retry-After` then counts from the answer. Default: none, as in DRF.
    ///
    /// A client that sends its next request as soon as the last is answered — a flood
    /// over a few connections — is otherwise refused as fast as the server can answer, and
    /// takes a share of the server as large as the connections it holds. Held for a second,
    /// each connection costs at most one refusal a second; the wait is a timer, not a
    /// worker.
    ///
    /// ```
    /// use std::{sync::Arc, time::Duration};
    /// use axum_drf::throttling::{MemoryCounters, Throttling};
    /// let throttling = Throttling::new(Arc::new(MemoryCounters::new()))
    ///     .refusal_delay(Duration::from_secs(1));
    /// assert_eq!(throttling.held_for(), Duration::from_secs(1));
    /// ```
    pub fn refusal_delay(mut self, delay: Duration) -> Self {
        self.refusal_delay = delay;
        self
    }

    /// The longest a refusal is held ([`Throttling::refusal_delay`]).
    pub fn held_for(&self) -> Duration {
        self.refusal_delay
    }

    /// Adds DRF's `AnonRateThrottle` at `rate` to every view.
    pub fn anon(mut self, rate: Rate) -> Self {
        self.defaults.push(Arc::new(AnonRateThrottle { rate }));
        self
    }

    /// Adds DRF's `UserRateThrottle` at `rate` to every view.
    pub fn user(mut self, rate: Rate) -> Self {
        self.defaults.push(Arc::new(UserRateThrottle { rate }));
        self
    }

    /// Sets the rate of a scope (a view's, or a credential endpoint's `<scope>` and
    /// `<scope>_account`).
    pub fn scope(mut self, name: impl Into<String>, rate: Rate) -> Self {
        self.rates.insert(name.into(), rate);
        self
    }

    /// The rate of scope `name`, if any.
    pub fn rate(&self, name: &str) -> Option<Rate> {
        self.rates.get(name).copied()
    }

    /// The counter store.
    pub fn store(&self) -> &Arc<dyn CounterStore> {
        &self.store
    }

    /// DRF's `check_throttles` for a view with `scope` and `credential`: every applicable
    /// throttle steps (the ones that allow record the request, as in DRF, even when
    /// another refuses), and a refusal is [`ApiError::Throttled`] with the longest wait.
    /// On success, a credential endpoint gets what to [`settle`](Pending::settle) later.
    ///
    /// The per-account limit is consulted only when no per-client (or default, or scope)
    /// limit has refused: the request is refused either way, the account step records
    /// nothing, and naming the account means parsing the body and hashing the name — a
    /// quarter of a refused login's cost (15k of 64k instructions), which a login flood
    /// pays thousands of times a second. The wait is then the refusing limits' longest, so
    /// a client may meet the account's limit when it comes back.
    pub async fn check(
        &self,
        request: &ApiRequest,
        scope: Option<&str>,
        credential: Option<&CredentialThrottle>,
    ) -> Result<Option<Pending>, ApiError> {
        let scoped = |name: &str| {
            self.rate(name).map(|rate| ScopedRateThrottle {
                scope: name.to_owned(),
                rate,
            })
        };
        let view_scope = scope.and_then(scoped);
        let client_scope = credential.and_then(|c| scoped(c.scope()));
        if self.defaults.is_empty() && view_scope.is_none() && credential.is_none() {
            return Ok(None);
        }
        let now = now_micros();
        let mut waits: Vec<Option<f64>> = Vec::new();
        let classes = self.defaults.iter().map(|t| t.as_ref() as &dyn Throttle);
        let own = view_scope
            .iter()
            .chain(&client_scope)
            .map(|t| t as &dyn Throttle);
        for throttle in classes.chain(own) {
            let Some(key) = throttle.cache_key(request) else {
                continue;
            };
            let rate = throttle.rate();
            let window = self.step(&key, rate, now, Record::IfAllowed).await;
            if !window.allows(rate) {
                self.refused(request, throttle.scope(), "client");
                waits.push(window.wait(rate, now));
            }
        }
        let mut pending = None;
        if let Some(credential) = credential.filter(|_| waits.is_empty()) {
            let rate = self.rate(credential.account_scope());
            if let (Some(rate), Some((account, client))) = (rate, credential.account_keys(request))
            {
                let spent = self.step(&account, rate, now, Record::No).await;
                if !spent.allows(rate) {
                    // Full: refuse only a client that has spent on this account itself.
                    let mine = Rate {
                        requests: 1,
                        ..rate
                    };
                    let own = self.step(&client, mine, now, Record::No).await;
                    if !own.allows(mine) {
                        self.refused(request, credential.account_scope(), "account");
                        let wait = match (spent.wait(rate, now), own.wait(mine, now)) {
                            (Some(a), Some(b)) => Some(a.min(b)),
                            (a, b) => a.or(b),
                        };
                        waits.push(wait);
                    }
                }
                pending = Some(Pending {
                    store: self.store.clone(),
                    spend: credential.spend(),
                    rate,
                    account,
                    client,
                });
            }
        }
        if waits.is_empty() {
            return Ok(pending);
        }
        let mut wait = waits.into_iter().flatten().reduce(f64::max);
        if !self.refusal_delay.is_zero() {
            let hold = wait.map_or(self.refusal_delay, |w| {
                self.refusal_delay.min(Duration::from_secs_f64(w.max(0.0)))
            });
            tokio::time::sleep(hold).await;
            wait = wait.map(|w| (w - hold.as_secs_f64()).max(0.0));
        }
        Err(ApiError::Throttled {
            wait: wait.map(|w| w.ceil() as u64),
        })
    }

    /// A refusal: counted in the metrics every time, logged within the warnings' budget.
    fn refused(&self, request: &ApiRequest, scope: &str, limit: &'static str) {
        crate::metrics::throttled(scope);
        let Some(suppressed) = self.warnings.admit() else {
            return;
        };
        tracing::warn!(
            scope,
            limit,
            client = %ident(request),
            user_id = request.identity.user.as_ref().map(|u| u.id),
            path = request.uri.path(),
            suppressed,
            "request throttled"
        );
    }

    // A store that fails lets the request through (the store logs why): an outage of the
    // counters must not become an outage of the API.
    async fn step(&self, key: &str, rate: Rate, now: i64, record: Record) -> Window {
        match self.store.step(key, rate, now, record).await {
            Ok(window) => window,
            Err(e) => {
                tracing::error!(error = %e, "throttle: counter store failed; request not counted");
                Window {
                    count: 0,
                    oldest: None,
                }
            }
        }
    }
}

impl Pending {
    /// Counts the answer against the account when it is what the endpoint spends:
    /// a 4xx refusal for [`Spend::Failures`], a 2xx for [`Spend::Successes`].
    pub async fn settle(self, status: axum::http::StatusCode) {
        let spends = match self.spend {
            Spend::Failures => status.is_client_error(),
            Spend::Successes => status.is_success(),
        };
        if !spends {
            return;
        }
        let now = now_micros();
        let mine = Rate {
            requests: 1,
            ..self.rate
        };
        for (key, rate) in [(&self.account, self.rate), (&self.client, mine)] {
            if let Err(e) = self.store.step(key, rate, now, Record::Always).await {
                tracing::error!(error = %e, "throttle: cannot count a spent attempt");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::auth::Identity;

    /// An anonymous `GET /` from `ip`, for the throttles' tests.
    pub(super) fn request_from(ip: std::net::IpAddr) -> ApiRequest {
        ApiRequest {
            method: axum::http::Method::GET,
            uri: "/".parse().unwrap(),
            headers: axum::http::HeaderMap::new(),
            body: bytes::Bytes::new(),
            identity: Identity::anonymous(),
            params: vec![],
            format_suffix: None,
            secure: false,
            client_ip: Some(ip),
            host: None,
            perms: None,
        }
    }

    fn login(body: &'static str) -> ApiRequest {
        let mut request = request_from([10, 0, 0, 1].into());
        request.method = axum::http::Method::POST;
        request.uri = "/login/".parse().unwrap();
        let json = "application/json".parse().unwrap();
        request.headers.insert("content-type", json);
        request.body = bytes::Bytes::from_static(body.as_bytes());
        request
    }

    #[tokio::test]
    async fn a_request_a_client_limit_refuses_does_not_name_its_account() {
        static NAMED: AtomicUsize = AtomicUsize::new(0);
        let credential = CredentialThrottle::new("login", Spend::Failures, |request| {
            NAMED.fetch_add(1, Ordering::Relaxed);
            CredentialThrottle::field("username")(request)
        });
        let throttling = Throttling::new(Arc::new(MemoryCounters::new()))
            .scope("login", "1/min".parse().unwrap())
            .scope("login_account", "10/hour".parse().unwrap());
        let request = login(r#"{"username": "alice", "password": "x"}"#);

        let first = throttling.check(&request, None, Some(&credential)).await;
        assert!(matches!(first, Ok(Some(_))), "the first attempt passes");
        assert_eq!(NAMED.load(Ordering::Relaxed), 1);

        for _ in 0..3 {
            let refused = throttling.check(&request, None, Some(&credential)).await;
            assert!(matches!(
                refused,
                Err(ApiError::Throttled { wait: Some(60) })
            ));
        }
        assert_eq!(
            NAMED.load(Ordering::Relaxed),
            1,
            "refused by the client limit: the body was not parsed for the account"
        );
    }
}
