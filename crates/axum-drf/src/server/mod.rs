//! A server loop that one hostile client cannot starve (`axum::serve` has no timeouts and no
//! caps): HTTP/1.1 and HTTP/2 on hyper-util's auto connection, optionally over TLS
//! ([`tls`]), with
//!
//! - a header-read timeout (the TLS handshake counts against it), a keep-alive idle timeout
//!   and a total body-read timeout (see [`timeouts`](self) for which applies when);
//! - a global connection cap and a per-client-address cap (IPv6 clients by /64, since one
//!   host usually holds a whole /64); a connection over a cap is closed at once, never
//!   queued;
//! - an accept loop that survives running out of file descriptors: it backs off and logs
//!   once per interval instead of spinning or dying;
//! - graceful shutdown: no new connections, in-flight requests finish;
//! - small connections until the first request head is complete ([`head`](self)): an idle or
//!   Slowloris connection holds a 1 KiB buffer, not hyper's buffers.
//!
//! Every request carries [`ConnectInfo<SocketAddr>`](axum::extract::ConnectInfo), exactly as
//! axum's `into_make_service_with_connect_info` inserts it, and, over TLS, [`SecureTransport`].

mod head;
mod timeouts;
pub mod tls;

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::header::HOST;
use axum::http::{HeaderValue, Request, Version};
use axum::response::Response;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::time::Instant;
use tower::util::Oneshot;
use tower::{Service, ServiceExt};

use crate::logging::LogBudget;

pub use timeouts::{is_body_timeout, BodyTimeout};
use timeouts::{ConnClock, InFlight, TimedBody, Timeouts, WatchedIo};
use tls::TlsCertificates;

/// The connection layer's limits.
///
/// ```
/// use std::time::Duration;
/// use axum_drf::server::ServerConfig;
/// let mut config = ServerConfig::default();
/// config.max_connections_per_ip = 16;
/// assert_eq!(config.header_read_timeout, Duration::from_secs(10));
/// ```
///
/// New limits will be added as fields with safe defaults, so the struct is
/// `#[non_exhaustive]`: start from [`ServerConfig::default`] and set what you change.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ServerConfig {
    /// From accept (TLS handshake included) to the end of the first request's head, and from
    /// the first byte of each later head to its end.
    pub header_read_timeout: Duration,
    /// A connection with no request in flight is closed after this long.
    pub idle_timeout: Duration,
    /// From the end of a request's head to the end of its body (a total, so a body trickled a
    /// byte at a time cannot extend it). Past it the body read fails with [`BodyTimeout`].
    pub body_read_timeout: Duration,
    /// Connections held at once; more are closed as soon as they are accepted. Lowered at
    /// start to fit the file-descriptor limit.
    pub max_connections: usize,
    /// Connections held at once from one client address (IPv6: one /64).
    pub max_connections_per_ip: usize,
    /// Largest HTTP/1 read buffer per connection, which bounds a request head (hyper answers
    /// 431 past it) and so the memory one connection can pin.
    pub max_buf_size: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            body_read_timeout: Duration::from_secs(30),
            max_connections: 10_000,
            max_connections_per_ip: 256,
            max_buf_size: 96 * 1024,
        }
    }
}

/// Marks a request that arrived over TLS (Django's `request.is_secure()`).
#[derive(Debug, Clone, Copy)]
pub struct SecureTransport;

/// File descriptors kept free for everything but client connections (database pool, mail,
/// log and data files).
const FD_RESERVE: u64 = 256;
/// Pause after an accept error other than a per-connection one (EMFILE, ENFILE, ENOBUFS):
/// the pending connection stays in the kernel's backlog, and retrying at once would spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);
/// At most one warning per interval for a repeating accept error or refusal.
const LOG_INTERVAL: Duration = Duration::from_secs(10);

/// Raises the soft `RLIMIT_NOFILE` to the hard limit and returns the new soft limit (each
/// held connection needs one descriptor; the common soft default of 1024 would make the
/// connection cap unreachable). `None` where the platform has no such limit.
pub fn raise_fd_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        let lim = nofile()?;
        if lim.rlim_cur < lim.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: lim.rlim_max,
                rlim_max: lim.rlim_max,
            };
            // SAFETY: setrlimit only reads the struct passed.
            if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } != 0 {
                return fd_soft_limit();
            }
        }
    }
    fd_soft_limit()
}

/// The current soft open-file limit.
fn fd_soft_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        #[allow(clippy::unnecessary_cast)] // rlim_t is 32 bits on some targets
        nofile().map(|lim| lim.rlim_cur as u64)
    }
    #[cfg(not(unix))]
    {
        None
    }
}

#[cfg(unix)]
fn nofile() -> Option<libc::rlimit> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only writes the struct passed.
    (unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } == 0).then_some(lim)
}

/// A bound listener with its limits, ready to serve a service.
///
/// ```no_run
/// use axum_drf::server::{Server, ServerConfig};
/// # async fn run() -> std::io::Result<()> {
/// let app = axum::Router::new().route("/", axum::routing::get(|| async { "hi" }));
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:8000").await?;
/// Server::new(listener, ServerConfig::default())
///     .serve(app, async { let _ = tokio::signal::ctrl_c().await; })
///     .await
/// # }
/// ```
pub struct Server {
    listener: TcpListener,
    config: ServerConfig,
    tls: Option<Arc<TlsCertificates>>,
}

impl Server {
    /// Serves plain HTTP on `listener` unless [`tls`](Self::tls) is called.
    pub fn new(listener: TcpListener, config: ServerConfig) -> Self {
        Server {
            listener,
            config,
            tls: None,
        }
    }

    /// Serves HTTPS with these certificates (HTTP/2 and HTTP/1.1 by ALPN).
    pub fn tls(mut self, tls: Option<Arc<TlsCertificates>>) -> Self {
        self.tls = tls;
        self
    }

    /// Serves `service` until `shutdown` completes, then stops accepting and waits for
    /// in-flight requests to finish (idle connections are closed at once).
    pub async fn serve<S>(
        self,
        service: S,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()>
    where
        S: Service<Request<Body>, Response = Response, Error = Infallible> + Clone + Send + 'static,
        S::Future: Send + 'static,
    {
        let Server {
            listener,
            config,
            tls,
        } = self;
        let mut max_connections = config.max_connections.max(1);
        if let Some(soft) = fd_soft_limit() {
            let fit = soft.saturating_sub(FD_RESERVE).max(1) as usize;
            if fit < max_connections {
                tracing::warn!(
                    max_connections,
                    fd_limit = soft,
                    lowered_to = fit,
                    "max_connections lowered to fit the open-file limit"
                );
                max_connections = fit;
            }
        }
        let limits = Arc::new(Limits {
            total: AtomicUsize::new(0),
            per_ip: Mutex::new(HashMap::new()),
            max_total: max_connections,
            max_per_ip: config.max_connections_per_ip.max(1),
        });
        // hyper's read-buffer cap, and so the longest first head read before hyper is built.
        let max_buf_size = config.max_buf_size.max(8192);
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            // The connection watchdog times head reads; hyper's timer would also close idle
            // keep-alive connections after the header timeout.
            .header_read_timeout(None)
            .max_buf_size(max_buf_size)
            .timer(TokioTimer::new());
        builder.http2().timer(TokioTimer::new());
        let shared = Arc::new(Shared {
            builder,
            timeouts: Timeouts {
                header_read: config.header_read_timeout,
                idle: config.idle_timeout,
            },
            body_read_timeout: config.body_read_timeout,
            max_head: max_buf_size,
            stopping: AtomicBool::new(false),
            stop: Notify::new(),
        });

        let graceful = GracefulShutdown::new();
        let mut shutdown = std::pin::pin!(shutdown);
        let accept_log = LogBudget::new(1, LOG_INTERVAL);
        let refusal_log = LogBudget::new(1, LOG_INTERVAL);
        loop {
            let (stream, peer) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(e) if is_connection_error(&e) => continue,
                    Err(e) => {
                        if let Some(repeats) = accept_log.admit() {
                            tracing::error!(error = %e, repeats, "accept failed; backing off");
                        }
                        tokio::time::sleep(ACCEPT_BACKOFF).await;
                        continue;
                    }
                },
                () = &mut shutdown => break,
            };
            let slot = match limits.admit(peer.ip()) {
                Ok(slot) => slot,
                Err(cap) => {
                    if let Some(repeats) = refusal_log.admit() {
                        tracing::warn!(%peer, cap, repeats, "connection refused: over the cap");
                    }
                    // Closing at once: a queued connection would hold a descriptor anyway.
                    drop(stream);
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            tokio::spawn(connection(
                stream,
                peer,
                tls.clone(),
                service.clone(),
                shared.clone(),
                graceful.watcher(),
                slot,
            ));
        }
        drop(listener);
        shared.stopping.store(true, Ordering::Release);
        shared.stop.notify_waiters();
        graceful.shutdown().await;
        Ok(())
    }
}

/// What every connection task shares.
struct Shared {
    builder: auto::Builder<TokioExecutor>,
    timeouts: Timeouts,
    body_read_timeout: Duration,
    /// The longest first head read before hyper is built (hyper's `max_buf_size`).
    max_head: usize,
    stopping: AtomicBool,
    /// Wakes connections still waiting for their first head when the server stops.
    stop: Notify,
}

/// Errors of one incoming connection (it was reset before we accepted it): the listener is
/// fine, so accept again at once.
fn is_connection_error(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset
    )
}

/// Connection counts. Only the accept loop adds; the map's lock is taken once per
/// connection open and close (never per request), for a few instructions.
struct Limits {
    total: AtomicUsize,
    per_ip: Mutex<HashMap<IpAddr, usize>>,
    max_total: usize,
    max_per_ip: usize,
}

impl Limits {
    /// A slot for a connection from `ip`, or the cap it would exceed.
    fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<Slot, usize> {
        if self.total.fetch_add(1, Ordering::AcqRel) >= self.max_total {
            self.total.fetch_sub(1, Ordering::AcqRel);
            return Err(self.max_total);
        }
        let key = crate::client::address_key(ip);
        let mut per_ip = self.per_ip.lock().unwrap_or_else(|e| e.into_inner());
        let count = per_ip.entry(key).or_insert(0);
        if *count >= self.max_per_ip {
            drop(per_ip);
            self.total.fetch_sub(1, Ordering::AcqRel);
            return Err(self.max_per_ip);
        }
        *count += 1;
        Ok(Slot {
            limits: self.clone(),
            key,
        })
    }
}

/// A held connection's place under the caps, given back on drop.
struct Slot {
    limits: Arc<Limits>,
    key: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut per_ip = self.limits.per_ip.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = per_ip.get_mut(&self.key) {
            *count -= 1;
            if *count == 0 {
                per_ip.remove(&self.key);
            }
        }
        drop(per_ip);
        self.limits.total.fetch_sub(1, Ordering::AcqRel);
    }
}

async fn connection<S>(
    stream: TcpStream,
    peer: SocketAddr,
    tls: Option<Arc<TlsCertificates>>,
    service: S,
    shared: Arc<Shared>,
    watcher: Watcher,
    _slot: Slot,
) where
    S: Service<Request<Body>, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    let clock = Arc::new(ConnClock::new());
    let Some(tls) = tls else {
        return drive(stream, peer, false, service, &shared, watcher, clock).await;
    };
    let deadline = clock
        .deadline(shared.timeouts)
        .expect("no request is in flight before the handshake");
    // Boxed, like hyper's connection below: the handshake's state is large and only needed
    // while it lasts, so the task stays small for the connections that never get further.
    let accept = Box::pin(tls.acceptor().accept(stream));
    let handshake = tokio::time::timeout_at(deadline, accept).await;
    let stream = match handshake {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => {
            tracing::debug!(%peer, error = %e, "TLS handshake failed");
            return;
        }
        Err(_) => {
            tracing::debug!(%peer, "TLS handshake timed out");
            return;
        }
    };
    if shared.stopping.load(Ordering::Acquire) {
        return;
    }
    drive(stream, peer, true, service, &shared, watcher, clock).await
}

/// Serves one connection until it ends, its deadline passes or the server stops.
async fn drive<I, S>(
    mut io: I,
    peer: SocketAddr,
    secure: bool,
    service: S,
    shared: &Shared,
    watcher: Watcher,
    clock: Arc<ConnClock>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: Service<Request<Body>, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    let Some(head) = first_head(&mut io, peer, shared, &clock).await else {
        return;
    };
    let service = ConnService {
        inner: service,
        peer,
        secure,
        clock: clock.clone(),
        body_read_timeout: shared.body_read_timeout,
    };
    let io = TokioIo::new(WatchedIo::new(head::Replay::new(head, io), clock.clone()));
    // On the heap, so that a task waiting for its first head does not carry hyper's state.
    let mut conn = Box::pin(watcher.watch(shared.builder.serve_connection(io, service)));
    // Far enough never to fire; `select!` evaluates a disabled branch's expression too.
    let never = Instant::now() + Duration::from_secs(365 * 24 * 3600);
    loop {
        let deadline = clock.deadline(shared.timeouts);
        tokio::select! {
            result = &mut conn => {
                if let Err(e) = result {
                    tracing::debug!(%peer, error = %e, "connection ended with an error");
                }
                return;
            }
            () = clock.changed() => {}
            () = tokio::time::sleep_until(deadline.unwrap_or(never)), if deadline.is_some() => {
                if clock.deadline(shared.timeouts).is_some_and(|d| d <= Instant::now()) {
                    tracing::debug!(%peer, "connection timed out");
                    // Dropping the connection closes the socket.
                    return;
                }
            }
        }
    }
}

/// The connection's first request head, read before hyper is built; `None` when the client
/// closed, failed or ran out of time first, or the server is stopping.
async fn first_head<I: AsyncRead + Unpin>(
    io: &mut I,
    peer: SocketAddr,
    shared: &Shared,
    clock: &ConnClock,
) -> Option<Vec<u8>> {
    let deadline = clock
        .deadline(shared.timeouts)
        .expect("no request is in flight before the first head");
    let stopped = shared.stop.notified();
    let mut stopped = std::pin::pin!(stopped);
    stopped.as_mut().enable();
    if shared.stopping.load(Ordering::Acquire) {
        return None;
    }
    tokio::select! {
        read = tokio::time::timeout_at(deadline, head::read_first_head(io, shared.max_head)) => {
            match read {
                Ok(Ok(head)) => head,
                Ok(Err(e)) => {
                    tracing::debug!(%peer, error = %e, "connection failed before its first request");
                    None
                }
                Err(_) => {
                    tracing::debug!(%peer, "connection timed out");
                    None
                }
            }
        }
        () = stopped => None,
    }
}

/// The application service as one connection sees it: the peer and transport recorded, the
/// body timed, the request counted in flight.
#[derive(Clone)]
struct ConnService<S> {
    inner: S,
    peer: SocketAddr,
    secure: bool,
    clock: Arc<ConnClock>,
    body_read_timeout: Duration,
}

impl<S> hyper::service::Service<Request<Incoming>> for ConnService<S>
where
    S: Service<Request<Body>, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Counted<Oneshot<S, Request<Body>>>;

    fn call(&self, req: Request<Incoming>) -> Self::Future {
        let in_flight = self.clock.request_started(req.version() == Version::HTTP_2);
        let timeout = self.body_read_timeout;
        let mut req = req.map(|body| Body::new(TimedBody::new(body, timeout)));
        host_from_authority(&mut req);
        req.extensions_mut().insert(ConnectInfo(self.peer));
        if self.secure {
            req.extensions_mut().insert(SecureTransport);
        }
        Counted {
            inner: self.inner.clone().oneshot(req),
            _in_flight: in_flight,
        }
    }
}

/// HTTP/2 carries the host in the `:authority` pseudo-header, which hyper puts in the URI
/// only; code written for HTTP/1 (CSRF's origin checks, absolute links) reads `Host`, so it
/// is filled in from the authority, as HTTP/2 front ends do for their upstreams.
fn host_from_authority(req: &mut Request<Body>) {
    if req.headers().contains_key(HOST) {
        return;
    }
    let Some(authority) = req.uri().authority() else {
        return;
    };
    // Without any `user@` part, which a Host header never has.
    let host = match authority.port() {
        Some(port) => format!("{}:{port}", authority.host()),
        None => authority.host().to_owned(),
    };
    if let Ok(value) = HeaderValue::from_str(&host) {
        req.headers_mut().insert(HOST, value);
    }
}

pin_project_lite::pin_project! {
    /// A response future that keeps its request counted in flight until it completes.
    struct Counted<F> {
        #[pin]
        inner: F,
        _in_flight: InFlight,
    }
}

impl<F: Future> Future for Counted<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.project().inner.poll(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_refuse_and_release() {
        let limits = Arc::new(Limits {
            total: AtomicUsize::new(0),
            per_ip: Mutex::new(HashMap::new()),
            max_total: 3,
            max_per_ip: 2,
        });
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let a1 = limits.admit(a).unwrap();
        let _a2 = limits.admit(a).unwrap();
        assert_eq!(limits.admit(a).err(), Some(2));
        let _b1 = limits.admit(b).unwrap();
        assert_eq!(limits.admit(b).err(), Some(3));
        drop(a1);
        assert!(limits.admit(a).is_ok());
        assert_eq!(limits.per_ip.lock().unwrap().len(), 2);
    }
}
