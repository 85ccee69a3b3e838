//! What the framework measures, through the [`metrics`](https://docs.rs/metrics) facade: the
//! application installs a recorder (e.g. `metrics-exporter-prometheus`) and exposes it;
//! without one every call here is a no-op. Each metric has exactly one function here, so
//! names and labels are written once.
//!
//! | metric | kind | labels |
//! |---|---|---|
//! | `http_requests_total` | counter | `method`, `route` (the route template), `status` |
//! | `http_request_duration_seconds` | histogram | `method`, `route` |
//! | `auth_attempts_total` | counter | `scheme` (`token`, `session`, `none`), `outcome` |
//! | `auth_credential_cache_total` | counter | `result` (`hit`, `miss`) |
//! | `http_throttled_requests_total` | counter | `scope` |
//! | `password_hashing_in_flight` | gauge | queued plus running hashes |
//! | `db_pool_wait_seconds` | histogram | time to get a PostgreSQL connection |
//! | `db_pool_connections` | gauge | `state` (`in_use`, `idle`, `max`) |
//! | `db_pool_waiting` | gauge | tasks waiting for a connection (or queued SQLite jobs) |
//!
//! Labels are `&'static` strings or shared `Arc<str>`s, so recording allocates nothing on the
//! hot path. Route labels are templates (`/api/v1/friends/{pk}/`), never raw paths, so the
//! number of series stays bounded whatever clients send; requests that match no route are
//! `route="unmatched"`.
//!
//! ```
//! use std::time::Duration;
//! use axum::http::{Method, StatusCode};
//! // Without a recorder installed these record nothing, and cost next to nothing.
//! axum_drf::metrics::request(&Method::GET, &axum_drf::metrics::unmatched(), StatusCode::NOT_FOUND, Duration::from_millis(1));
//! axum_drf::metrics::throttled("anon");
//! ```

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::http::{Method, StatusCode};
use metrics::{Label, SharedString};

/// The request-duration histogram's name (for the exporter's bucket configuration).
pub const REQUEST_DURATION: &str = "http_request_duration_seconds";
/// The pool-wait histogram's name.
pub const POOL_WAIT: &str = "db_pool_wait_seconds";

/// What the view path tells the edge about a request it served, as a response extension:
/// the route template and the authenticated user, for the access log and metrics.
#[derive(Clone, Debug)]
pub struct Served {
    /// The route template, e.g. `/api/v1/friends/{pk}/`.
    pub route: Arc<str>,
    /// The authenticated user's id, if any.
    pub user_id: Option<i64>,
}

/// The label of requests no route matched.
pub fn unmatched() -> Arc<str> {
    static UNMATCHED: OnceLock<Arc<str>> = OnceLock::new();
    UNMATCHED.get_or_init(|| Arc::from("unmatched")).clone()
}

fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::TRACE => "TRACE",
        Method::CONNECT => "CONNECT",
        // Extension methods would let clients mint series.
        _ => "other",
    }
}

fn status_label(status: StatusCode) -> SharedString {
    // The common codes as static strings; others (rare) allocate.
    let s: &'static str = match status.as_u16() {
        200 => "200",
        201 => "201",
        204 => "204",
        301 => "301",
        302 => "302",
        304 => "304",
        400 => "400",
        401 => "401",
        403 => "403",
        404 => "404",
        405 => "405",
        406 => "406",
        413 => "413",
        415 => "415",
        429 => "429",
        431 => "431",
        500 => "500",
        503 => "503",
        other => return SharedString::from_owned(other.to_string()),
    };
    SharedString::const_str(s)
}

/// Records one served request.
pub fn request(method: &Method, route: &Arc<str>, status: StatusCode, elapsed: Duration) {
    let (counter, histogram) = handles(method_label(method), route, status);
    counter.increment(1);
    histogram.record(elapsed.as_secs_f64());
}

/// A request series: route template, method, status.
type SeriesKey = (Arc<str>, &'static str, u16);

/// [`request`] with the metric handles cached per (route, method, status).
///
/// Each [`request`] call builds a key from its labels and looks it up in the recorder's
/// registry, twice (~2,800 instructions a request, measured with callgrind); a cached pair
/// of handles costs one hash of the route and two atomic updates. Routes are templates, so
/// the cache stays small; past [`RequestMetrics::MAX_SERIES`] entries it records uncached.
/// Handles come from the recorder installed when they are first used: install it before
/// the first request.
///
/// ```
/// use std::time::Duration;
/// use axum::http::{Method, StatusCode};
/// let metrics = axum_drf::metrics::RequestMetrics::default();
/// metrics.record(&Method::GET, &axum_drf::metrics::unmatched(), StatusCode::NOT_FOUND, Duration::from_millis(1));
/// ```
#[derive(Default)]
pub struct RequestMetrics {
    // aHash: the keys are route templates, methods and statuses, never client-chosen text.
    handles:
        dashmap::DashMap<SeriesKey, (metrics::Counter, metrics::Histogram), ahash::RandomState>,
}

impl RequestMetrics {
    /// Entries cached at most.
    pub const MAX_SERIES: usize = 4096;

    /// Records one served request, as [`request`] does.
    pub fn record(&self, method: &Method, route: &Arc<str>, status: StatusCode, elapsed: Duration) {
        let key = (route.clone(), method_label(method), status.as_u16());
        if let Some(handles) = self.handles.get(&key) {
            handles.0.increment(1);
            handles.1.record(elapsed.as_secs_f64());
            return;
        }
        if self.handles.len() >= Self::MAX_SERIES {
            return request(method, route, status, elapsed);
        }
        let (counter, histogram) = handles(key.1, route, status);
        counter.increment(1);
        histogram.record(elapsed.as_secs_f64());
        self.handles.insert(key, (counter, histogram));
    }
}

fn handles(
    method: &'static str,
    route: &Arc<str>,
    status: StatusCode,
) -> (metrics::Counter, metrics::Histogram) {
    let method = SharedString::const_str(method);
    let route = SharedString::from_shared(route.clone());
    let labels = [
        Label::new("method", method.clone()),
        Label::new("route", route.clone()),
        Label::new("status", status_label(status)),
    ];
    let counter = metrics::counter!("http_requests_total", labels.iter());
    let labels = [Label::new("method", method), Label::new("route", route)];
    (
        counter,
        metrics::histogram!(REQUEST_DURATION, labels.iter()),
    )
}

/// How a request's credentials fared: `scheme` is `token`, `session` or `none`; `outcome`
/// `success`, `failure` or `anonymous`.
///
/// Every request records this and (with token or session credentials) [`credential_cache`],
/// so their handles are kept after first use ([`KeptCounter`]; a registry lookup per call
/// was 1.5k instructions of a token read).
pub fn authentication(scheme: &'static str, outcome: &'static str) {
    const SCHEMES: [&str; 3] = ["token", "session", "none"];
    const OUTCOMES: [&str; 3] = ["success", "failure", "anonymous"];
    static KEPT: [[KeptCounter; 3]; 3] = [const { [const { KeptCounter::new() }; 3] }; 3];
    let index = |names: &[&str; 3], name: &str| names.iter().position(|n| *n == name);
    let counter =
        || metrics::counter!("auth_attempts_total", "scheme" => scheme, "outcome" => outcome);
    match (index(&SCHEMES, scheme), index(&OUTCOMES, outcome)) {
        (Some(s), Some(o)) => KEPT[s][o].increment(counter),
        _ => counter().increment(1),
    }
}

/// A credential-cache lookup (handles kept as [`authentication`]'s).
pub fn credential_cache(hit: bool) {
    static KEPT: [KeptCounter; 2] = [const { KeptCounter::new() }; 2];
    let result = if hit { "hit" } else { "miss" };
    KEPT[usize::from(hit)]
        .increment(|| metrics::counter!("auth_credential_cache_total", "result" => result));
}

/// A counter handle kept after its first use, with the recorder it came from. A call under
/// another recorder (a global one installed later, a thread's local one) looks its own
/// handle up instead, so a process that installs its recorder late, or runs several apps,
/// counts nothing into the wrong place.
struct KeptCounter(OnceLock<(usize, metrics::Counter)>);

impl KeptCounter {
    const fn new() -> Self {
        KeptCounter(OnceLock::new())
    }

    fn increment(&self, make: impl Fn() -> metrics::Counter) {
        // The recorder's address: the global one is leaked and the no-op one a static, so it
        // names the recorder for the life of the process.
        let recorder =
            metrics::with_recorder(|r| (r as *const dyn metrics::Recorder).cast::<()>() as usize);
        let (kept_for, counter) = self.0.get_or_init(|| (recorder, make()));
        if *kept_for == recorder {
            counter.increment(1);
        } else {
            make().increment(1);
        }
    }
}

/// A request refused by a throttle (HTTP 429); `scope` is the throttle's scope, e.g. `anon`,
/// `user` or `login`. Throttles call this once per refused request.
pub fn throttled(scope: &str) {
    let scope = SharedString::from_owned(scope.to_owned());
    metrics::counter!("http_throttled_requests_total", "scope" => scope).increment(1);
}

/// A password hash entered (`+1`) or left (`-1`) the hashing pool's queue.
pub fn hashing_in_flight(delta: f64) {
    metrics::gauge!("password_hashing_in_flight").increment(delta);
}

/// Time spent waiting for a database connection.
pub fn pool_wait(elapsed: Duration) {
    metrics::histogram!(POOL_WAIT).record(elapsed.as_secs_f64());
}

/// A snapshot of the database pool, set as gauges (call it before rendering).
pub fn pool_status(status: &crate::store::PoolStatus) {
    metrics::gauge!("db_pool_connections", "state" => "in_use").set(status.in_use as f64);
    metrics::gauge!("db_pool_connections", "state" => "idle").set(status.idle as f64);
    metrics::gauge!("db_pool_connections", "state" => "max").set(status.max as f64);
    metrics::gauge!("db_pool_waiting").set(status.waiting as f64);
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Mutex;

    use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, Unit};

    use super::*;

    /// Counters by name and labels; no gauges or histograms.
    #[derive(Default)]
    struct Counters(Mutex<Vec<(String, Arc<AtomicU64>)>>);

    impl Counters {
        fn get(&self, key: &str) -> u64 {
            let counters = self.0.lock().unwrap();
            let found = counters.iter().find(|(k, _)| k == key);
            found.map_or(0, |(_, v)| v.load(Ordering::Relaxed))
        }
    }

    impl Recorder for Counters {
        fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
            let labels: Vec<String> = key
                .labels()
                .map(|l| format!("{}={}", l.key(), l.value()))
                .collect();
            let name = format!("{}{{{}}}", key.name(), labels.join(","));
            let mut counters = self.0.lock().unwrap();
            let value = match counters.iter().find(|(k, _)| *k == name) {
                Some((_, v)) => v.clone(),
                None => {
                    let v = Arc::new(AtomicU64::new(0));
                    counters.push((name, v.clone()));
                    v
                }
            };
            Counter::from_arc(value)
        }
        fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> Gauge {
            Gauge::noop()
        }
        fn register_histogram(&self, _: &Key, _: &Metadata<'_>) -> Histogram {
            Histogram::noop()
        }
    }

    #[test]
    fn kept_handles_count_into_the_recorder_in_use() {
        // No recorder, then two in turn: each sees exactly its own calls.
        authentication("token", "success");
        credential_cache(true);
        let (first, second) = (Counters::default(), Counters::default());
        for (recorder, calls) in [(&first, 2), (&second, 3)] {
            metrics::with_local_recorder(recorder, || {
                for _ in 0..calls {
                    authentication("token", "success");
                    credential_cache(true);
                }
            });
        }
        for (recorder, calls) in [(&first, 2), (&second, 3)] {
            assert_eq!(
                recorder.get("auth_attempts_total{scheme=token,outcome=success}"),
                calls
            );
            assert_eq!(
                recorder.get("auth_credential_cache_total{result=hit}"),
                calls
            );
        }
    }
}
