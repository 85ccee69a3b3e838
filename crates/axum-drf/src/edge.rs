//! The server's edge: what every request meets before routing and every response after it,
//! in one plain `Service` (no boxing, one future type) because it sits on the hottest path.
//!
//! - a request-header size limit (431 with a DRF-shaped body);
//! - Django's `ALLOWED_HOSTS` ([`AllowedHosts`]): any other `Host` gets Django's 400 page, and
//!   the checked one travels on as [`CheckedHost`] for absolute links;
//! - Django's view of the path: percent-decoded and re-escaped, router parameters without
//!   dots, DRF's format suffixes (`/friends.json`, `/friends/5.json/`) only on router
//!   routes — all of which rewrite or answer the request and so must run before routing;
//! - an `X-Request-Id` (the client's, or a cheap process-unique one) echoed on the response;
//! - a declared `Content-Length` over the body limit answered 413 before any of the body
//!   is read, and the connection closed after it (as after a 408 body timeout), so that the
//!   rest of a huge body is never drained;
//! - CORS ([`Edge::cors`], tower-http's [`CorsLayer`]): requests with an `Origin` header and
//!   `OPTIONS` requests go through it; the rest get the headers it would have added, worked out once
//!   (tower-http builds them anew for every request: 14% of a token read's instructions);
//! - `Strict-Transport-Security` on responses sent over TLS, when configured;
//! - the security headers Django's middleware adds (`X-Content-Type-Options: nosniff`,
//!   `X-Frame-Options: DENY`, `Referrer-Policy` and `Cross-Origin-Opener-Policy:
//!   same-origin`);
//! - the access log (one INFO line per request on the `access` target: method, route
//!   template, status, latency, user id, request id — never a header, cookie or query
//!   string, so no secret reaches the log) and the request metrics
//!   ([`crate::metrics::request`]), both timed here around everything else and both
//!   switchable ([`Edge::observe`]).

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Instant;

use axum::body::Body;
use axum::extract::{OriginalUri, Request};
use axum::http::header::{
    CONNECTION, CONTENT_LENGTH, ORIGIN, REFERRER_POLICY, STRICT_TRANSPORT_SECURITY, VARY,
    X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, Uri, Version};
use axum::response::{IntoResponse, Response};
use futures::future::{Either, Ready};
use futures::FutureExt;
use serde_json::json;
use tower::{Layer, Service};
use tower_http::cors::CorsLayer;

use crate::error::{json_response, ApiError};
use crate::hosts::{AllowedHosts, CheckedHost, DisallowedHost};
use crate::metrics::{RequestMetrics, Served};
use crate::routing::{canonical_path, no_route, resolve, FormatSuffix, Resolved, RoutePattern};
use crate::server::SecureTransport;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Wraps a router; see the module docs.
///
/// ```
/// use axum_drf::edge::Edge;
/// let router: axum::Router = axum::Router::new().route("/x/", axum::routing::get(|| async { "x" }));
/// let routes = axum_drf::routing::Routes::<()>::new().route("/x/", axum::routing::get(|| async { "x" }));
/// let service = Edge::new(router, routes.patterns(), 64 * 1024);
/// # let _ = service;
/// ```
#[derive(Clone)]
pub struct Edge<S> {
    inner: S,
    patterns: Arc<Vec<RoutePattern>>,
    max_header_bytes: usize,
    body_limit: Option<u64>,
    hsts: Option<HeaderValue>,
    hosts: Arc<AllowedHosts>,
    observe: Observers,
    cors: Option<EdgeCors<S>>,
}

/// [`Edge::cors`]: the router with tower-http's CORS on its routes, and the headers CORS
/// adds to a response when the request has no `Origin` and is no `OPTIONS`.
#[derive(Clone)]
struct EdgeCors<S> {
    service: S,
    without_origin: Arc<[(HeaderName, HeaderValue)]>,
}

/// What the edge records about every request (both on by default). `#[non_exhaustive]`:
/// start from [`Observe::default`] and turn off what you do not want.
///
/// ```
/// let mut observe = axum_drf::edge::Observe::default();
/// observe.metrics = false;
/// assert!(observe.access_log);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Observe {
    /// One INFO line per request on the `access` tracing target.
    pub access_log: bool,
    /// Request count and latency through [`crate::metrics::RequestMetrics`].
    pub metrics: bool,
}

impl Default for Observe {
    fn default() -> Self {
        Observe {
            access_log: true,
            metrics: true,
        }
    }
}

// A random per-process prefix plus a counter: unique enough to correlate logs, and no
// syscall per request (a UUIDv4 costs a getrandom call each time).
static NEXT_ID: AtomicU64 = AtomicU64::new(0);
static PREFIX: std::sync::OnceLock<u32> = std::sync::OnceLock::new();

fn next_request_id() -> HeaderValue {
    let prefix = *PREFIX.get_or_init(rand::random::<u32>);
    let n = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    // `{prefix:08x}-{n:012x}` without the formatting machinery (measured: 2% of a request).
    let mut id = [b'-'; 21];
    hex_digits(u64::from(prefix), &mut id[..8]);
    hex_digits(n, &mut id[9..]);
    HeaderValue::from_bytes(&id).expect("hex is a valid header")
}

/// Writes the low `out.len()` hex digits of `v` into `out`.
fn hex_digits(mut v: u64, out: &mut [u8]) {
    for digit in out.iter_mut().rev() {
        *digit = b"0123456789abcdef"[(v & 0xf) as usize];
        v >>= 4;
    }
}

impl<S> Edge<S> {
    /// `inner` behind the edge; `patterns` are the router's paths (for format suffixes and
    /// Django's path converters).
    /// It answers the local hosts only ([`AllowedHosts::local`]) until
    /// [`Edge::allowed_hosts`] says otherwise.
    pub fn new(inner: S, patterns: Vec<RoutePattern>, max_header_bytes: usize) -> Self {
        Edge {
            inner,
            patterns: Arc::new(patterns),
            max_header_bytes,
            body_limit: None,
            hsts: None,
            hosts: Arc::new(AllowedHosts::local(None)),
            observe: Observe::default().into(),
            cors: None,
        }
    }

    /// Chooses what is recorded per request (access log, metrics). Metric handles are
    /// looked up on first use: install the metrics recorder before the first request.
    pub fn observe(mut self, observe: Observe) -> Self {
        self.observe = observe.into();
        self
    }

    /// Answers 413 at once to a request whose `Content-Length` exceeds `limit` bytes.
    ///
    /// ```
    /// # let router: axum::Router = axum::Router::new();
    /// let service = axum_drf::edge::Edge::new(router, vec![], 64 * 1024).with_body_limit(1 << 20);
    /// # let _ = service;
    /// ```
    pub fn with_body_limit(mut self, limit: usize) -> Self {
        self.body_limit = Some(limit as u64);
        self
    }

    /// Sends `Strict-Transport-Security: max-age=SECONDS` on responses to requests that
    /// came over TLS ([`SecureTransport`]); `None` sends none.
    ///
    /// ```
    /// # let router: axum::Router = axum::Router::new();
    /// let service = axum_drf::edge::Edge::new(router, vec![], 64 * 1024).with_hsts(Some(31_536_000));
    /// # let _ = service;
    /// ```
    pub fn with_hsts(mut self, max_age_secs: Option<u64>) -> Self {
        self.hsts = max_age_secs.map(|s| {
            HeaderValue::from_str(&format!("max-age={s}")).expect("digits are a valid header")
        });
        self
    }

    /// The hosts this site answers to (Django's `ALLOWED_HOSTS`).
    ///
    /// ```
    /// use axum_drf::{edge::Edge, hosts::AllowedHosts};
    /// let router: axum::Router = axum::Router::new();
    /// let service = Edge::new(router, vec![], 64 * 1024)
    ///     .allowed_hosts(AllowedHosts::new(["api.example.com"]));
    /// # let _ = service;
    /// ```
    pub fn allowed_hosts(mut self, hosts: AllowedHosts) -> Self {
        self.hosts = Arc::new(hosts);
        self
    }
}

impl Edge<axum::Router> {
    /// Cross-origin access with tower-http's [`CorsLayer`] semantics, as one step of the
    /// edge: a request with an `Origin` header, or an `OPTIONS`, goes to the router with the
    /// layer on its routes (as `Router::layer` puts it) and gets exactly what it answers; any
    /// other request goes to the plain router and gets the headers the layer adds for no
    /// origin (`Vary`, and `Access-Control-Allow-Credentials` when allowed), worked out once
    /// here.
    ///
    /// ```
    /// use axum::http::{HeaderValue, Method};
    /// use tower_http::cors::CorsLayer;
    /// # let router: axum::Router = axum::Router::new();
    /// let cors = CorsLayer::new()
    ///     .allow_origin(HeaderValue::from_static("https://app.example.com"))
    ///     .allow_methods([Method::GET, Method::POST]);
    /// let service = axum_drf::edge::Edge::new(router, vec![], 64 * 1024).cors(cors);
    /// # let _ = service;
    /// ```
    pub fn cors(mut self, layer: CorsLayer) -> Self {
        // What the layer adds to a plain GET without `Origin`: a no-op service behind it,
        // answered at once.
        let mut probe = layer.layer(tower::service_fn(|_: Request| async {
            Ok::<_, Infallible>(Response::new(Body::empty()))
        }));
        let request = Request::new(Body::empty());
        let without_origin = probe
            .call(request)
            .now_or_never()
            .and_then(Result::ok)
            .map(|r| {
                r.headers()
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            })
            .expect("CORS answers a no-op service at once");
        self.cors = Some(EdgeCors {
            // On the routes, as `Router::layer` puts it: CORS's preflight answers keep
            // the method router's `Allow`.
            service: self.inner.clone().layer(layer),
            without_origin,
        });
        self
    }
}

/// A request's facts, kept from its start to its response.
struct Observed {
    start: Instant,
    method: Method,
    access_log: bool,
    metrics: Option<Arc<RequestMetrics>>,
}

impl Observed {
    fn start(observe: &Observers, method: &Method) -> Option<Observed> {
        (observe.access_log || observe.metrics.is_some()).then(|| Observed {
            start: Instant::now(),
            method: method.clone(),
            access_log: observe.access_log,
            metrics: observe.metrics.clone(),
        })
    }

    fn finish(self, response: &Response, request_id: Option<&HeaderValue>) {
        let elapsed = self.start.elapsed();
        let served = response.extensions().get::<Served>();
        let unmatched;
        let route = match served {
            Some(s) => &s.route,
            None => {
                unmatched = crate::metrics::unmatched();
                &unmatched
            }
        };
        let status = response.status();
        if let Some(metrics) = &self.metrics {
            metrics.record(&self.method, route, status, elapsed);
        }
        if self.access_log {
            let user_id = served.and_then(|s| s.user_id);
            let request_id = request_id.and_then(|v| v.to_str().ok()).unwrap_or("-");
            crate::logging::AccessLine {
                method: self.method.as_str(),
                route,
                status: status.as_u16(),
                latency_us: u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
                user_id,
                request_id,
            }
            .log();
        }
    }
}

/// [`Observe`] as the edge applies it: the metrics with their handles cached.
#[derive(Clone, Default)]
struct Observers {
    access_log: bool,
    metrics: Option<Arc<RequestMetrics>>,
}

impl From<Observe> for Observers {
    fn from(observe: Observe) -> Self {
        Observers {
            access_log: observe.access_log,
            metrics: observe.metrics.then(Arc::default),
        }
    }
}

pin_project_lite::pin_project! {
    /// The response future: the inner one, then the edge's response headers.
    pub struct EdgeFuture<F> {
        #[pin]
        inner: F,
        request_id: Option<HeaderValue>,
        observed: Option<Observed>,
        tail: Tail,
    }
}

/// What the edge adds to a response besides the fixed headers.
#[derive(Default)]
struct Tail {
    hsts: Option<HeaderValue>,
    http1: bool,
    /// CORS's headers for a request without `Origin` ([`Edge::cors`]).
    cors_headers: Option<Arc<[(HeaderName, HeaderValue)]>>,
}

impl<F: Future<Output = Result<Response, Infallible>>> Future for EdgeFuture<F> {
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut response = ready!(this.inner.poll(cx))?;
        if let Some(cors) = this.tail.cors_headers.take() {
            add_cors_headers(&mut response, &cors);
        }
        let id = this.request_id.take();
        if let Some(observed) = this.observed.take() {
            observed.finish(&response, id.as_ref());
        }
        if let Some(id) = id {
            response.headers_mut().insert(REQUEST_ID, id);
        }
        Poll::Ready(Ok(finish(response, std::mem::take(this.tail))))
    }
}

impl<S> Service<Request> for Edge<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Either<Ready<Result<Response, Infallible>>, EdgeFuture<S::Future>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        ready!(self.inner.poll_ready(cx))?;
        match &mut self.cors {
            Some(cors) => cors.service.poll_ready(cx),
            None => Poll::Ready(Ok(())),
        }
    }

    fn call(&mut self, mut req: Request) -> Self::Future {
        let observed = Observed::start(&self.observe, req.method());
        let mut tail = Tail {
            hsts: match req.extensions().get::<SecureTransport>() {
                Some(_) => self.hsts.clone(),
                None => None,
            },
            http1: req.version() < Version::HTTP_2,
            cors_headers: None,
        };
        let header_bytes: usize = req
            .headers()
            .iter()
            .map(|(k, v)| k.as_str().len() + v.len() + 4)
            .sum();
        if header_bytes > self.max_header_bytes {
            let response = json_response(
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                &json!({"detail": "Request header fields too large."}),
            );
            return Either::Left(futures::future::ready(Ok(early(response, tail, observed))));
        }
        if let Some(limit) = self.body_limit {
            if declared_length(&req).is_some_and(|n| n > limit) {
                let response = ApiError::PayloadTooLarge.into_response();
                return Either::Left(futures::future::ready(Ok(early(response, tail, observed))));
            }
        }
        match self
            .hosts
            .check(req.headers().get(axum::http::header::HOST))
        {
            Ok(Some(host)) => {
                req.extensions_mut().insert(CheckedHost(host));
            }
            Ok(None) => {}
            Err(DisallowedHost) => {
                let response = early(crate::hosts::bad_request(), tail, observed);
                return Either::Left(futures::future::ready(Ok(response)));
            }
        }
        canonicalize_path(&mut req);
        if let Some(response) = resolve_dotted(&self.patterns, &mut req) {
            return Either::Left(futures::future::ready(Ok(early(response, tail, observed))));
        }
        let id = match req.headers().get(&REQUEST_ID) {
            Some(id) => id.clone(),
            None => {
                let id = next_request_id();
                req.headers_mut().insert(REQUEST_ID, id.clone());
                id
            }
        };
        req.extensions_mut().insert(RequestId(id.clone()));
        let inner = match &mut self.cors {
            Some(cors) if needs_cors(&req) => cors.service.call(req),
            Some(cors) => {
                tail.cors_headers = Some(cors.without_origin.clone());
                self.inner.call(req)
            }
            None => self.inner.call(req),
        };
        Either::Right(EdgeFuture {
            inner,
            request_id: Some(id),
            observed,
            tail,
        })
    }
}

/// Whether CORS must see the request: it has an `Origin`, or is an `OPTIONS` (tower-http
/// answers every `OPTIONS` as a preflight, `Origin` or not).
fn needs_cors(req: &Request) -> bool {
    req.headers().contains_key(ORIGIN) || req.method() == Method::OPTIONS
}

/// Adds CORS's headers for a request without `Origin` as tower-http does: `Vary` appended
/// to the response's own, any other name replacing the response's value.
fn add_cors_headers(response: &mut Response, cors: &[(HeaderName, HeaderValue)]) {
    let headers = response.headers_mut();
    let mut previous: Option<&HeaderName> = None;
    for (name, value) in cors {
        if *name == VARY || previous == Some(name) {
            headers.append(name.clone(), value.clone());
        } else {
            headers.insert(name.clone(), value.clone());
        }
        previous = Some(name);
    }
}

/// The request's id, for handlers and logs.
#[derive(Clone, Debug)]
pub struct RequestId(pub HeaderValue);

/// The request's `Content-Length`, when it has a valid one.
fn declared_length(req: &Request) -> Option<u64> {
    req.headers()
        .get(CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// A response the edge answers itself, before the router: finished and recorded.
fn early(response: Response, tail: Tail, observed: Option<Observed>) -> Response {
    let response = finish(response, tail);
    if let Some(observed) = observed {
        observed.finish(&response, None);
    }
    response
}

fn finish(mut response: Response, tail: Tail) -> Response {
    let status = response.status();
    let headers = response.headers_mut();
    if let Some(hsts) = tail.hsts {
        headers.insert(STRICT_TRANSPORT_SECURITY, hsts);
    }
    // The body was not (fully) read: close rather than drain it. HTTP/2 resets the stream
    // instead, and forbids the header.
    if tail.http1
        && (status == StatusCode::PAYLOAD_TOO_LARGE || status == StatusCode::REQUEST_TIMEOUT)
    {
        headers.insert(CONNECTION, HeaderValue::from_static("close"));
    }
    for (name, value) in SECURITY_HEADERS {
        headers.entry(name).or_insert(value);
    }
    response
}

/// The headers every response gets unless its view set them (Django's security middleware
/// and DRF's defaults). Constants: `HeaderName::from_static` called at run time parses and
/// validates its text on every call (~1k instructions a response, callgrind).
const SECURITY_HEADERS: [(HeaderName, HeaderValue); 4] = [
    (X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
    (X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
    (REFERRER_POLICY, HeaderValue::from_static("same-origin")),
    (
        HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    ),
];

/// Routes on the path as Django sees it (see [`canonical_path`]).
fn canonicalize_path(req: &mut Request) {
    let Some(path) = canonical_path(req.uri().path()) else {
        return;
    };
    let uri = match req.uri().query() {
        Some(q) => format!("{path}?{q}"),
        None => path,
    };
    if let Ok(uri) = uri.parse::<Uri>() {
        *req.uri_mut() = uri;
    }
}

/// A path with a dot is where Django's resolver and axum's differ: a router parameter never
/// holds a dot, and router routes take DRF's format suffixes. Such a path is rewritten to
/// its route (the suffix kept for content negotiation), or answered here when no route
/// takes it. An empty segment (`//`) is no parameter either, though axum's router would
/// take it for one. Other paths route as axum routes them.
fn resolve_dotted(patterns: &[RoutePattern], req: &mut Request) -> Option<Response> {
    let path = req.uri().path();
    if !path.contains('.') && !path.contains("//") {
        return None;
    }
    match resolve(patterns, req.uri().path()) {
        Resolved::Direct => None,
        Resolved::NoRoute => Some(no_route(patterns, req.uri())),
        Resolved::Suffix { path, format } => {
            let uri = match req.uri().query() {
                Some(q) => format!("{path}?{q}"),
                None => path,
            };
            let uri = uri.parse::<Uri>().ok()?;
            // Views see the path as requested (DRF's `request.path`), e.g. for page links.
            let original = std::mem::replace(req.uri_mut(), uri);
            req.extensions_mut().insert(OriginalUri(original));
            req.extensions_mut().insert(FormatSuffix(format));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::header::{ACCESS_CONTROL_REQUEST_METHOD, VARY};
    use axum::routing::get;
    use tower::ServiceExt;

    /// [`Edge::cors`] answers every request as the same `CorsLayer` around the router does
    /// (the way lendbook applied it before CORS became an edge step): status, headers (the
    /// request id aside; each name's values in order) and body.
    #[tokio::test]
    async fn the_cors_step_answers_as_tower_https_layer() {
        let router = axum::Router::new()
            .route("/x/", get(|| async { "x" }).post(|| async { "posted" }))
            .route("/varies/", get(|| async { ([(VARY, "Accept")], "varies") }));
        let cors = CorsLayer::new()
            .allow_origin([HeaderValue::from_static("https://app.example.com")])
            .allow_credentials(true)
            .allow_methods([Method::GET, Method::POST])
            .allow_headers([axum::http::header::AUTHORIZATION])
            .expose_headers([REQUEST_ID]);
        let layered = Edge::new(router.clone().layer(cors.clone()), vec![], 64 * 1024);
        let stepped = Edge::new(router, vec![], 64 * 1024).cors(cors);
        let requests = [
            (Method::GET, "/x/", None, false),
            (Method::GET, "/x/", Some("https://app.example.com"), false),
            (Method::GET, "/x/", Some("https://evil.example.com"), false),
            (Method::POST, "/x/", None, false),
            (Method::POST, "/x/", Some("https://app.example.com"), false),
            (Method::HEAD, "/x/", None, false),
            (Method::OPTIONS, "/x/", None, false),
            (
                Method::OPTIONS,
                "/x/",
                Some("https://app.example.com"),
                true,
            ),
            (Method::OPTIONS, "/x/", None, true),
            (Method::GET, "/varies/", None, false),
            (
                Method::GET,
                "/varies/",
                Some("https://app.example.com"),
                false,
            ),
            (Method::GET, "/missing/", None, false),
            (Method::DELETE, "/x/", None, false),
        ];
        for (method, path, origin, preflight) in requests {
            let request = || {
                let mut r = Request::builder()
                    .method(method.clone())
                    .uri(path)
                    .header("host", "localhost");
                if let Some(origin) = origin {
                    r = r.header(ORIGIN, origin);
                }
                if preflight {
                    r = r.header(ACCESS_CONTROL_REQUEST_METHOD, "POST");
                }
                r.body(Body::empty()).unwrap()
            };
            let answer = |response: Response| async move {
                let (parts, body) = response.into_parts();
                let mut headers: Vec<(String, String)> = parts
                    .headers
                    .iter()
                    .filter(|(k, _)| *k != REQUEST_ID)
                    .map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_owned()))
                    .collect();
                // Where axum adds `content-length` differs; the values of one name keep
                // their order (a stable sort).
                headers.sort_by(|a, b| a.0.cmp(&b.0));
                let body = axum::body::to_bytes(body, 1 << 20).await.unwrap();
                (parts.status, headers, body)
            };
            let expected = answer(layered.clone().oneshot(request()).await.unwrap()).await;
            let got = answer(stepped.clone().oneshot(request()).await.unwrap()).await;
            assert_eq!(
                got, expected,
                "{method} {path} origin={origin:?} preflight={preflight}"
            );
        }
    }
}
