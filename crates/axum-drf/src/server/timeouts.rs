//! The per-connection clock: what a connection is waiting for and until when.
//!
//! hyper's own `header_read_timeout` starts as soon as hyper waits for the next request, so
//! a keep-alive connection would be closed after the header timeout instead of the idle
//! timeout, and HTTP/2 has no idle timeout at all. One small watchdog per connection covers
//! both protocols instead:
//!
//! - before the first request (TLS handshake included): `header_read_timeout` from accept;
//! - HTTP/1 between requests: `idle_timeout` after the last response, or
//!   `header_read_timeout` after the first byte of the next request's head, whichever the
//!   client is in;
//! - HTTP/2 with no stream in flight: `idle_timeout` after the last response (its frames,
//!   PINGs included, do not count as activity, so a client cannot hold the connection with
//!   them); hyper's own limits bound header frames;
//! - while a handler runs: no connection deadline; the request body has its own
//!   ([`TimedBody`]).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;
use tokio::time::{Instant, Sleep};

/// The connection's timeouts, from [`ServerConfig`](super::ServerConfig).
#[derive(Debug, Clone, Copy)]
pub(super) struct Timeouts {
    pub header_read: Duration,
    pub idle: Duration,
}

/// Shared by the connection's IO wrapper, its service and its watchdog.
#[derive(Debug)]
pub(super) struct ConnClock {
    start: Instant,
    in_flight: AtomicUsize,
    /// Milliseconds since `start` when the connection last became idle.
    idle_since: AtomicU64,
    /// Milliseconds since `start` + 1 of the first byte read while idle; 0: none yet.
    first_byte: AtomicU64,
    seen_request: AtomicBool,
    http2: AtomicBool,
    changed: Notify,
}

impl ConnClock {
    pub(super) fn new() -> Self {
        ConnClock {
            start: Instant::now(),
            in_flight: AtomicUsize::new(0),
            idle_since: AtomicU64::new(0),
            first_byte: AtomicU64::new(0),
            seen_request: AtomicBool::new(false),
            http2: AtomicBool::new(false),
            changed: Notify::new(),
        }
    }

    fn now_ms(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }

    fn at(&self, ms: u64) -> Instant {
        self.start + Duration::from_millis(ms)
    }

    /// A request's head arrived; the returned guard marks its end.
    pub(super) fn request_started(self: &std::sync::Arc<Self>, http2: bool) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        if !self.seen_request.swap(true, Ordering::AcqRel) {
            self.http2.store(http2, Ordering::Release);
        }
        self.changed.notify_one();
        InFlight(self.clone())
    }

    fn read_bytes(&self) {
        if self.in_flight.load(Ordering::Acquire) == 0
            && self.first_byte.load(Ordering::Acquire) == 0
        {
            self.first_byte.store(self.now_ms() + 1, Ordering::Release);
            self.changed.notify_one();
        }
    }

    /// When the connection must be closed if nothing changes; `None` while a request runs.
    pub(super) fn deadline(&self, t: Timeouts) -> Option<Instant> {
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return None;
        }
        if !self.seen_request.load(Ordering::Acquire) {
            return Some(self.start + t.header_read);
        }
        let first_byte = self.first_byte.load(Ordering::Acquire);
        if first_byte > 0 && !self.http2.load(Ordering::Acquire) {
            return Some(self.at(first_byte - 1) + t.header_read);
        }
        Some(self.at(self.idle_since.load(Ordering::Acquire)) + t.idle)
    }

    /// Resolves when the deadline may have moved.
    pub(super) async fn changed(&self) {
        self.changed.notified().await
    }
}

/// Counts a request as in flight until dropped (when its handler has answered).
#[derive(Debug)]
pub(super) struct InFlight(std::sync::Arc<ConnClock>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let clock = &self.0;
        if clock.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            clock.idle_since.store(clock.now_ms(), Ordering::Release);
            clock.first_byte.store(0, Ordering::Release);
            clock.changed.notify_one();
        }
    }
}

pin_project_lite::pin_project! {
    /// The connection's (decrypted) stream, noting the first byte of each idle period.
    pub(super) struct WatchedIo<I> {
        #[pin]
        inner: I,
        clock: std::sync::Arc<ConnClock>,
    }
}

impl<I> WatchedIo<I> {
    pub(super) fn new(inner: I, clock: std::sync::Arc<ConnClock>) -> Self {
        WatchedIo { inner, clock }
    }
}

impl<I: AsyncRead> AsyncRead for WatchedIo<I> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.project();
        let before = buf.filled().len();
        let result = this.inner.poll_read(cx, buf);
        if buf.filled().len() > before {
            this.clock.read_bytes();
        }
        result
    }
}

impl<I: AsyncWrite> AsyncWrite for WatchedIo<I> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.project().inner.poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.project().inner.poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.project().inner.poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        self.project().inner.poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// The request body was not received within the server's `body_read_timeout`.
///
/// [`is_body_timeout`] finds it in an error's source chain, so a view can answer 408.
#[derive(Debug, thiserror::Error)]
#[error("request body not received in time")]
pub struct BodyTimeout;

/// Whether `err`, or an error it wraps, is a [`BodyTimeout`].
///
/// ```
/// use axum_drf::server::{is_body_timeout, BodyTimeout};
/// let err = axum::Error::new(BodyTimeout);
/// assert!(is_body_timeout(&err));
/// assert!(!is_body_timeout(&std::io::Error::other("x")));
/// ```
pub fn is_body_timeout(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(err);
    while let Some(e) = next {
        if e.is::<BodyTimeout>() {
            return true;
        }
        next = e.source();
    }
    false
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

pin_project_lite::pin_project! {
    /// A request body that fails with [`BodyTimeout`] when it is not complete by a deadline
    /// counted from the end of the request head: a total, not a per-read, limit, so trickling
    /// a byte at a time does not extend it.
    pub(super) struct TimedBody<B> {
        #[pin]
        inner: B,
        deadline: Instant,
        // Allocated only when the body is not already there on the first poll.
        sleep: Option<Pin<Box<Sleep>>>,
    }
}

impl<B> TimedBody<B> {
    pub(super) fn new(inner: B, timeout: Duration) -> Self {
        TimedBody {
            inner,
            deadline: Instant::now() + timeout,
            sleep: None,
        }
    }
}

impl<B> Body for TimedBody<B>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.project();
        if let Poll::Ready(frame) = this.inner.poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        let deadline = *this.deadline;
        let sleep = this
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        match sleep.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(Box::new(BodyTimeout)))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
