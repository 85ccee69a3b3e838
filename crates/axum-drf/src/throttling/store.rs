//! Where throttle histories live: one trait, [`CounterStore`], with an in-memory
//! implementation here and shared ones in [`redis`](super::redis) and
//! [`postgres`](super::postgres).
//!
//! A history is DRF's list of request timestamps for one cache key, newest first, trimmed
//! to the rate's period. Every store runs the same step atomically per key, so the answers
//! (and `Retry-After`) are the same whichever store holds the counters.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};

use dashmap::DashMap;

use super::Rate;

/// A boxed future returned by [`CounterStore`] methods.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What to do with the current request's timestamp after trimming the history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Record {
    /// Only look (a failure counter consulted before the request runs).
    No,
    /// DRF's `throttle_success`: record it only if the history had room.
    IfAllowed,
    /// Record it whatever the count (a failure that happened); the history keeps at most
    /// `rate.requests` newest entries, which is all the decision needs.
    Always,
}

impl Record {
    /// The mode number the Redis script and the PostgreSQL function take.
    pub fn code(self) -> i64 {
        match self {
            Record::No => 0,
            Record::IfAllowed => 1,
            Record::Always => 2,
        }
    }
}

/// The state of one history after dropping entries older than the period, before the
/// current request was (maybe) recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Entries within the period.
    pub count: u32,
    /// The oldest of them (DRF's `history[-1]`), in microseconds since the epoch.
    pub oldest: Option<i64>,
}

impl Window {
    /// Whether the history had room for one more request.
    pub fn allows(&self, rate: Rate) -> bool {
        self.count < rate.requests
    }

    /// DRF's `SimpleRateThrottle.wait()`: the rest of the oldest entry's period, spread over
    /// the requests still available; `None` when none is (a lowered rate), in seconds.
    pub fn wait(&self, rate: Rate, now: i64) -> Option<f64> {
        let period = rate.period_micros();
        let remaining = match self.oldest {
            Some(oldest) => period - (now - oldest),
            None => period,
        };
        let available = i64::from(rate.requests) - i64::from(self.count) + 1;
        (available > 0).then(|| remaining as f64 / 1e6 / available as f64)
    }
}

/// A store of throttle histories.
pub trait CounterStore: Send + Sync + 'static {
    /// Trims `key`'s history to `rate`'s period at `now` (microseconds), records `now` as
    /// `record` says, and returns the window as it was before recording — atomically, so
    /// concurrent requests on one key never both take the last place.
    fn step<'a>(
        &'a self,
        key: &'a str,
        rate: Rate,
        now: i64,
        record: Record,
    ) -> BoxFuture<'a, Result<Window, CounterError>>;

    /// A short name for logs (`memory`, `redis`, `postgres`).
    fn name(&self) -> &'static str;
}

/// A store that could not answer (the caller falls back or lets the request through).
#[derive(Debug, thiserror::Error)]
#[error("throttle counters ({store}): {message}")]
pub struct CounterError {
    /// The store's name.
    pub store: &'static str,
    /// What went wrong.
    pub message: String,
}

/// Histories in this process's memory: a sharded map (no global lock), swept of expired
/// keys every few thousand steps so that one-off clients do not pile up. Keys are hashed
/// with aHash, randomly keyed per store (clients choose their addresses, so the hash must
/// resist collisions chosen for it), for less than SipHash costs.
///
/// The store holds at most [`max_keys`](Self::with_max_keys) histories (default
/// [`DEFAULT_MAX_KEYS`](Self::DEFAULT_MAX_KEYS): ~20 MiB with IPv6 keys), so clients from ever
/// new addresses cannot grow it without bound. A new key that finds it full first sweeps
/// the expired histories; if it is still full, the tenth of the histories that would end
/// soonest are dropped (with a warning in the log), as Django's local-memory cache culls
/// when it passes its `MAX_ENTRIES`. A dropped history starts afresh; filling the store
/// takes that many client addresses within a period, each of which had a budget of its
/// own anyway.
///
/// ```
/// use axum_drf::throttling::{MemoryCounters, Rate, Record};
/// let store = MemoryCounters::new();
/// let rate: Rate = "2/min".parse().unwrap();
/// for expected in [true, true, false] {
///     let window = store.step_now("k", rate, 1_000_000, Record::IfAllowed);
///     assert_eq!(window.allows(rate), expected);
/// }
/// ```
#[derive(Debug)]
pub struct MemoryCounters {
    histories: DashMap<String, History, ahash::RandomState>,
    steps: AtomicU64,
    max_keys: usize,
}

impl Default for MemoryCounters {
    fn default() -> Self {
        Self::with_max_keys(Self::DEFAULT_MAX_KEYS)
    }
}

#[derive(Debug)]
struct History {
    // Newest first, like DRF's list.
    hits: VecDeque<i64>,
    // When the newest entry leaves its period: the key can go.
    expires: i64,
}

const SWEEP_EVERY: u64 = 4096;

impl MemoryCounters {
    /// Histories held at most unless told otherwise.
    pub const DEFAULT_MAX_KEYS: usize = 100_000;

    /// An empty store of at most [`DEFAULT_MAX_KEYS`](Self::DEFAULT_MAX_KEYS) histories.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty store of at most `max_keys` histories (at least 1).
    ///
    /// ```
    /// use axum_drf::throttling::{MemoryCounters, Rate, Record};
    /// let store = MemoryCounters::with_max_keys(100);
    /// let rate: Rate = "5/hour".parse().unwrap();
    /// for client in 0..1_000 {
    ///     store.step_now(&format!("throttle_anon_{client}"), rate, 1_000_000, Record::IfAllowed);
    /// }
    /// assert!(store.len() <= 100);
    /// ```
    pub fn with_max_keys(max_keys: usize) -> Self {
        MemoryCounters {
            histories: DashMap::default(),
            steps: AtomicU64::new(0),
            max_keys: max_keys.max(1),
        }
    }

    /// Makes room for one more history: the expired ones go, then, if that was not enough,
    /// the tenth that would end soonest (one scan pays for many insertions).
    fn make_room(&self, now: i64) {
        self.histories.retain(|_, h| h.expires > now);
        let len = self.histories.len();
        if len < self.max_keys {
            return;
        }
        let drop = (len + 1 - self.max_keys).max(self.max_keys / 10).min(len);
        let mut ends: Vec<i64> = self.histories.iter().map(|h| h.expires).collect();
        let (_, &mut last, _) = ends.select_nth_unstable(drop - 1);
        let mut dropped = 0;
        self.histories.retain(|_, h| {
            let goes = dropped < drop && h.expires <= last;
            dropped += usize::from(goes);
            !goes
        });
        tracing::warn!(
            max_keys = self.max_keys,
            dropped,
            "throttle: the in-memory counters are full; the histories nearest their end were dropped"
        );
    }

    /// The step, synchronously (memory never waits).
    pub fn step_now(&self, key: &str, rate: Rate, now: i64, record: Record) -> Window {
        if self.steps.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            self.histories.retain(|_, h| h.expires > now);
        }
        let period = rate.period_micros();
        let cap = rate.requests as usize;
        let window = |h: &mut History| {
            while h.hits.back().is_some_and(|&t| t <= now - period) {
                h.hits.pop_back();
            }
            let window = Window {
                count: u32::try_from(h.hits.len()).unwrap_or(u32::MAX),
                oldest: h.hits.back().copied(),
            };
            let add = match record {
                Record::No => false,
                Record::IfAllowed => window.allows(rate),
                Record::Always => true,
            };
            if add {
                h.hits.push_front(now);
                h.hits.truncate(cap);
                h.expires = now + period;
            }
            window
        };
        // Looking never creates a key (a flood of distinct keys must not cost memory).
        if record == Record::No {
            return match self.histories.get_mut(key) {
                Some(mut h) => window(&mut h),
                None => Window {
                    count: 0,
                    oldest: None,
                },
            };
        }
        // `get_mut` first: the common case (a known key) then allocates nothing.
        if let Some(mut h) = self.histories.get_mut(key) {
            return window(&mut h);
        }
        if self.histories.len() >= self.max_keys {
            self.make_room(now);
        }
        let mut entry = self
            .histories
            .entry(key.to_owned())
            .or_insert_with(|| History {
                hits: VecDeque::new(),
                expires: now,
            });
        window(&mut entry)
    }

    /// Keys currently held (for tests and metrics).
    pub fn len(&self) -> usize {
        self.histories.len()
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.histories.is_empty()
    }
}

impl CounterStore for MemoryCounters {
    fn step<'a>(
        &'a self,
        key: &'a str,
        rate: Rate,
        now: i64,
        record: Record,
    ) -> BoxFuture<'a, Result<Window, CounterError>> {
        let window = self.step_now(key, rate, now, record);
        Box::pin(std::future::ready(Ok(window)))
    }

    fn name(&self) -> &'static str {
        "memory"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000;

    #[test]
    fn drf_history_semantics() {
        let store = MemoryCounters::new();
        let rate: Rate = "3/min".parse().unwrap();
        let t0 = 1_000 * S;
        for i in 0..3 {
            let w = store.step_now("k", rate, t0 + i * S, Record::IfAllowed);
            assert!(w.allows(rate));
        }
        // Full: refused, not recorded; the wait is the oldest entry's remaining period.
        let w = store.step_now("k", rate, t0 + 10 * S, Record::IfAllowed);
        assert!(!w.allows(rate));
        assert_eq!(w.wait(rate, t0 + 10 * S), Some(50.0));
        // The oldest leaves its period exactly 60 s after it came (DRF drops `<= now - d`).
        let w = store.step_now("k", rate, t0 + 60 * S, Record::IfAllowed);
        assert!(w.allows(rate));
        assert_eq!(w.count, 2);
    }

    #[test]
    fn a_full_store_drops_the_expired_then_the_histories_nearest_their_end() {
        let store = MemoryCounters::with_max_keys(20);
        let minute: Rate = "1/min".parse().unwrap();
        let day: Rate = "1/day".parse().unwrap();
        let t0 = 1_000 * S;
        // Ten histories for a day, ten for a minute: full.
        for i in 0..10 {
            store.step_now(&format!("day{i}"), day, t0, Record::IfAllowed);
            store.step_now(&format!("min{i}"), minute, t0 + i * S, Record::IfAllowed);
        }
        assert_eq!(store.len(), 20);
        // Two minutes on, the minute histories have expired: they alone make room.
        store.step_now("new", minute, t0 + 120 * S, Record::IfAllowed);
        assert_eq!(store.len(), 11);
        // Nothing has expired when the last of these arrives: the two histories nearest
        // their end go (a tenth of 20), `new` and then `min0`.
        for i in 0..10 {
            store.step_now(
                &format!("min{i}"),
                minute,
                t0 + (121 + i) * S,
                Record::IfAllowed,
            );
        }
        assert_eq!(store.len(), 19);
        store.step_now("newer", day, t0 + 132 * S, Record::IfAllowed);
        let gone = |key: &str, rate| store.step_now(key, rate, t0 + 132 * S, Record::No).count == 0;
        assert!(
            gone("new", minute) && gone("min0", minute),
            "the nearest their end go"
        );
        assert!((1..10).all(|i| !gone(&format!("min{i}"), minute)));
        assert!(
            (0..10).all(|i| !gone(&format!("day{i}"), day)),
            "day histories kept"
        );
        assert!(!gone("newer", day));
        // Every day history still refuses its second request.
        let w = store.step_now("day3", day, t0 + 133 * S, Record::IfAllowed);
        assert!(!w.allows(day));
    }

    #[test]
    fn wait_spreads_over_available_requests() {
        let rate: Rate = "4/min".parse().unwrap();
        let w = Window {
            count: 2,
            oldest: Some(0),
        };
        // (60 - 30) / (4 - 2 + 1)
        assert_eq!(w.wait(rate, 30 * S), Some(10.0));
        let over = Window {
            count: 5,
            oldest: Some(0),
        };
        assert_eq!(over.wait(rate, 0), None);
    }

    #[test]
    fn looking_creates_nothing_and_always_is_capped() {
        let store = MemoryCounters::new();
        let rate: Rate = "2/h".parse().unwrap();
        store.step_now("ghost", rate, S, Record::No);
        assert!(store.is_empty());
        for i in 0..10 {
            store.step_now("f", rate, S + i, Record::Always);
        }
        let w = store.step_now("f", rate, 2 * S, Record::No);
        assert_eq!((w.count, w.oldest), (2, Some(S + 8)));
    }
}
