//! The log subscriber every app built on this crate wants: a filter (`RUST_LOG` or an app's own
//! variable overrides the configured one), text or JSON lines, colour only on a terminal, and
//! lines written to stderr in batches by a background thread.
//!
//! [`BatchWriter`] is hand-written because of a measurement. `tracing-appender`'s non-blocking
//! writer hands every line to its writer thread through a channel, and a channel send to a
//! sleeping thread wakes it: a futex call and, with the server on one core, two context
//! switches per access-log line. On token `GET /api/private/` that cost about a third of the
//! throughput for a tenth of the instructions (README, "Performance"). Here each thread
//! appends its lines to a buffer of its own (a lock no other logging thread takes), and one
//! flusher thread writes every buffer out on a timer, or sooner when one fills up: one
//! `write` per batch and no wake-up per line.
//!
//! [`PlainFields`] and [`UtcMicros`] are hand-written for the same reason, measured with
//! callgrind on an access-log line (about 7.5k instructions of a 56k-instruction request):
//! the default field formatter writes every string through `Debug`, which escapes it a
//! character at a time, and the default timer works out the calendar date on every event.
//! [`PlainFormat`] then builds each text line in one string instead of writing it a piece at
//! a time through a `dyn Write` (the access-log line went from 4.2k to 2.5k instructions).
//!
//! ```no_run
//! use axum_drf::logging::{LogFormat, Logging};
//!
//! # fn main() {
//! // Keep the guard until the process ends: dropping it writes what is still buffered.
//! let _log = Logging::new("info").env_var("NOTES_LOG").format(LogFormat::Text).init();
//! tracing::info!(port = 8000, "listening");
//! # }
//! ```

use std::cell::{Cell, RefCell};
use std::fmt;
use std::io::{self, IsTerminal, Write};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use tracing::field::{Field, Visit};
use tracing_subscriber::field::{MakeVisitor, VisitFmt, VisitOutput};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::FormatTime;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, MakeWriter};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::EnvFilter;

mod access;

pub use access::AccessLine;

/// How log lines are laid out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum LogFormat {
    /// Human-readable lines; ANSI colour only when stderr is a terminal.
    #[default]
    Text,
    /// One JSON object per line, the event's fields at the top level.
    Json,
}

/// The global log subscriber's settings; [`Logging::init`] installs it.
///
/// ```
/// use std::time::Duration;
/// use axum_drf::logging::{LogFormat, Logging};
///
/// let logging = Logging::new("info,access=warn")
///     .format(LogFormat::Json)
///     .flush_interval(Duration::from_millis(50));
/// # drop(logging);
/// ```
#[derive(Debug, Clone)]
pub struct Logging {
    filter: String,
    env_var: String,
    format: LogFormat,
    flush_interval: Duration,
}

impl Logging {
    /// Logs what `filter` (an `EnvFilter` directive such as `"info,access=warn"`) lets
    /// through, unless `RUST_LOG` is set.
    pub fn new(filter: impl Into<String>) -> Self {
        Self {
            filter: filter.into(),
            env_var: "RUST_LOG".into(),
            format: LogFormat::Text,
            flush_interval: BatchWriter::DEFAULT_INTERVAL,
        }
    }

    /// The environment variable whose directive overrides the filter (default `RUST_LOG`).
    pub fn env_var(mut self, name: impl Into<String>) -> Self {
        self.env_var = name.into();
        self
    }

    /// Text (the default) or JSON lines.
    pub fn format(mut self, format: LogFormat) -> Self {
        self.format = format;
        self
    }

    /// How long a line may wait in its thread's buffer before it is written (default 20 ms).
    pub fn flush_interval(mut self, interval: Duration) -> Self {
        self.flush_interval = interval;
        self
    }

    /// Installs the subscriber as the global default, writing to stderr through a
    /// [`BatchWriter`]. If a global subscriber is already installed (a test harness, a
    /// second call), that one stays and this call only returns an idle guard.
    ///
    /// Keep the guard until the process ends: dropping it writes every buffered line.
    pub fn init(self) -> LogGuard {
        let filter =
            EnvFilter::try_from_env(&self.env_var).unwrap_or_else(|_| EnvFilter::new(&self.filter));
        let (writer, guard) = BatchWriter::new(io::stderr(), self.flush_interval);
        let ansi = io::stderr().is_terminal();
        let (dispatch, direct) = subscriber(filter, writer, self.format, ansi);
        if tracing_subscriber::util::SubscriberInitExt::try_init(dispatch).is_ok() {
            if let Some(direct) = direct {
                direct.install();
            }
        }
        guard
    }
}

/// The subscriber [`Logging::init`] installs, writing to `writer`, and the direct access
/// line for it ([`AccessLine`]) when it has a layout the line reproduces.
fn subscriber(
    filter: EnvFilter,
    writer: BatchWriter,
    format: LogFormat,
    ansi: bool,
) -> (tracing::Dispatch, Option<access::Direct>) {
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer.clone())
        .with_timer(UtcMicros)
        .with_ansi(ansi);
    match format {
        // Colour is for people at a terminal; files and collectors get plain fields.
        LogFormat::Text if !ansi => access::Direct::with(
            builder
                .fmt_fields(PlainFields)
                .event_format(PlainFormat::default())
                .finish(),
            writer,
            format,
        ),
        LogFormat::Text => (tracing::Dispatch::new(builder.finish()), None),
        LogFormat::Json => {
            access::Direct::with(builder.json().flatten_event(true).finish(), writer, format)
        }
    }
}

/// Text fields as `name=value`, separated by spaces, with no styling: strings quoted (and
/// escaped only when they hold a quote, a backslash or a character outside printable ASCII),
/// integers and booleans bare, the event's message as it is.
///
/// The same text as tracing-subscriber's default field formatter without colour, faster.
///
/// ```
/// use axum_drf::logging::PlainFields;
///
/// let subscriber = tracing_subscriber::fmt()
///     .fmt_fields(PlainFields)
///     .with_ansi(false)
///     .finish();
/// tracing::subscriber::with_default(subscriber, || {
///     tracing::info!(target: "access", method = "GET", status = 200u16, "served")
/// });
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct PlainFields;

/// The visitor [`PlainFields`] makes for one event.
pub struct PlainVisitor<W> {
    writer: W,
    result: fmt::Result,
    first: bool,
}

impl<'a> MakeVisitor<Writer<'a>> for PlainFields {
    type Visitor = PlainVisitor<Writer<'a>>;

    fn make_visitor(&self, writer: Writer<'a>) -> PlainVisitor<Writer<'a>> {
        PlainVisitor::new(writer)
    }
}

impl<W: fmt::Write> PlainVisitor<W> {
    fn new(writer: W) -> Self {
        PlainVisitor {
            writer,
            result: Ok(()),
            first: true,
        }
    }

    /// Writes the separator and `name=` (nothing for the message), then `value`.
    fn field(&mut self, field: &Field, value: impl FnOnce(&mut W) -> fmt::Result) {
        if self.result.is_err() {
            return;
        }
        let w = &mut self.writer;
        self.result = (|| {
            if !std::mem::take(&mut self.first) {
                w.write_char(' ')?;
            }
            if field.name() != "message" {
                w.write_str(field.name())?;
                w.write_char('=')?;
            }
            value(w)
        })();
    }
}

/// A string field's value as the default formatter writes it: quoted, escaped as `Debug`
/// escapes it only when it holds a quote, a backslash or a character outside printable ASCII.
fn write_quoted(w: &mut impl fmt::Write, value: &str) -> fmt::Result {
    // A fold rather than `all`: without the early exit the compiler may vectorise the check
    // (this function's share of an access line: 548 → 439 instructions, callgrind).
    let plain = value.bytes().fold(true, |plain, b| {
        plain & matches!(b, 0x20..=0x7e) & (b != b'"') & (b != b'\\')
    });
    if !plain {
        return write!(w, "{value:?}");
    }
    w.write_char('"')?;
    w.write_str(value)?;
    w.write_char('"')
}

impl<W: fmt::Write> Visit for PlainVisitor<W> {
    fn record_str(&mut self, field: &Field, value: &str) {
        let message = field.name() == "message";
        self.field(field, |w| match message {
            true => w.write_str(value),
            false => write_quoted(w, value),
        });
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.field(field, |w| w.write_str(itoa::Buffer::new().format(value)));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.field(field, |w| w.write_str(itoa::Buffer::new().format(value)));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.field(field, |w| w.write_str(if value { "true" } else { "false" }));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.field(field, |w| write!(w, "{value:?}"));
    }
}

impl<W: fmt::Write> VisitOutput<fmt::Result> for PlainVisitor<W> {
    fn finish(self) -> fmt::Result {
        self.result
    }
}

impl<W: fmt::Write> VisitFmt for PlainVisitor<W> {
    fn writer(&mut self) -> &mut dyn fmt::Write {
        &mut self.writer
    }
}

/// A budget for a warning that clients can trigger at will: at most `lines` per `per`, the
/// rest counted and reported by the next line let through. Without one, a flood of refused
/// requests writes a warning per request (thousands of lines a second of the same news) and
/// spends more on logging than on refusing.
///
/// ```
/// use std::time::Duration;
/// use axum_drf::logging::LogBudget;
///
/// let budget = LogBudget::new(2, Duration::from_millis(500));
/// assert_eq!(budget.admit(), Some(0));
/// assert_eq!(budget.admit(), Some(0));
/// assert_eq!(budget.admit(), None); // over the budget: counted, not logged
/// assert_eq!(budget.admit(), None);
/// std::thread::sleep(Duration::from_millis(600));
/// // The next window's first line says how many were left out before it.
/// if let Some(suppressed) = budget.admit() {
///     assert_eq!(suppressed, 2);
///     tracing::warn!(suppressed, "something clients can repeat at will");
/// }
/// ```
#[derive(Debug)]
pub struct LogBudget {
    lines: u32,
    per_nanos: u128,
    origin: std::time::Instant,
    /// The window `used` counts in (elapsed time / `per`).
    window: std::sync::atomic::AtomicU64,
    used: std::sync::atomic::AtomicU64,
    suppressed: std::sync::atomic::AtomicU64,
}

impl LogBudget {
    /// At most `lines` per `per` (a zero `per` lets every line through).
    pub fn new(lines: u32, per: Duration) -> Self {
        LogBudget {
            lines,
            per_nanos: per.as_nanos(),
            origin: std::time::Instant::now(),
            window: Default::default(),
            used: Default::default(),
            suppressed: Default::default(),
        }
    }

    /// `Some(n)`: log this line and say that `n` lines were left out since the last one;
    /// `None`: leave it out (it is counted). Lock-free; under a race between threads at a
    /// window's turn a line or two more may pass.
    pub fn admit(&self) -> Option<u64> {
        use std::sync::atomic::Ordering::Relaxed;
        if self.per_nanos == 0 {
            return Some(self.suppressed.swap(0, Relaxed));
        }
        let now = (self.origin.elapsed().as_nanos() / self.per_nanos) as u64;
        let window = self.window.load(Relaxed);
        if now != window
            && self
                .window
                .compare_exchange(window, now, Relaxed, Relaxed)
                .is_ok()
        {
            self.used.store(0, Relaxed);
        }
        if self.used.fetch_add(1, Relaxed) < u64::from(self.lines) {
            Some(self.suppressed.swap(0, Relaxed))
        } else {
            self.suppressed.fetch_add(1, Relaxed);
            None
        }
    }
}

/// The UTC time as `2026-11-30T18:50:25.965476Z` (tracing-subscriber's default layout),
/// with the date and time of day worked out once per second per thread.
///
/// ```
/// let subscriber = tracing_subscriber::fmt()
///     .with_timer(axum_drf::logging::UtcMicros)
///     .finish();
/// # drop(subscriber);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct UtcMicros;

thread_local! {
    /// The second last formatted on this thread and its text up to the decimal point.
    static SECOND: Cell<(u64, [u8; 19])> = const { Cell::new((u64::MAX, [0; 19])) };
}

impl UtcMicros {
    /// Writes the current time.
    fn write(w: &mut impl fmt::Write) -> fmt::Result {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let secs = now.as_secs();
        let (cached, mut text) = SECOND.with(Cell::get);
        if cached != secs {
            let time = i64::try_from(secs)
                .ok()
                .and_then(|s| chrono::DateTime::from_timestamp(s, 0))
                .unwrap_or_default();
            let formatted = time.format("%Y-%m-%dT%H:%M:%S").to_string();
            // Years past 9999 do not fit; write them without the cache.
            let Ok(bytes) = <[u8; 19]>::try_from(formatted.as_bytes()) else {
                return write!(w, "{formatted}.{:06}Z", now.subsec_micros());
            };
            text = bytes;
            SECOND.with(|c| c.set((secs, text)));
        }
        // The cache holds only what chrono wrote: ASCII digits and separators.
        w.write_str(std::str::from_utf8(&text).map_err(|_| fmt::Error)?)?;
        let micros = now.subsec_micros() + 1_000_000; // a leading 1 keeps the zeros
        w.write_char('.')?;
        w.write_str(&itoa::Buffer::new().format(micros)[1..])?;
        w.write_char('Z')
    }
}

impl FormatTime for UtcMicros {
    fn format_time(&self, w: &mut Writer<'_>) -> fmt::Result {
        Self::write(w)
    }
}

/// Text lines without colour, exactly as tracing-subscriber's default (`Full`) format with
/// [`PlainFields`] and [`UtcMicros`] writes them — `2026-11-30T18:50:25.965476Z  INFO
/// access: method="GET" status=200` — each built in a string of its own and handed to the
/// writer once.
///
/// The default format writes a line a piece at a time through a `dyn Write`, and the level
/// and target through styles even when colour is off: 4.2k instructions of a token read's 55k
/// for the access-log line (callgrind); this, 2.5k. Events inside spans, events
/// forwarded from the `log` crate and colour go to the default format, which has the
/// layouts for those.
///
/// ```
/// let subscriber = tracing_subscriber::fmt()
///     .with_ansi(false)
///     .fmt_fields(axum_drf::logging::PlainFields)
///     .event_format(axum_drf::logging::PlainFormat::default())
///     .finish();
/// tracing::subscriber::with_default(subscriber, || {
///     tracing::info!(target: "access", method = "GET", status = 200u16)
/// });
/// ```
#[derive(Debug, Clone)]
pub struct PlainFormat {
    full: tracing_subscriber::fmt::format::Format<tracing_subscriber::fmt::format::Full, UtcMicros>,
}

impl Default for PlainFormat {
    fn default() -> Self {
        let full = tracing_subscriber::fmt::format().with_timer(UtcMicros);
        PlainFormat { full }
    }
}

thread_local! {
    /// The line being built (kept so that a line allocates nothing).
    static LINE: RefCell<String> = const { RefCell::new(String::new()) };
}

impl<S, N> FormatEvent<S, N> for PlainFormat
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        writer: Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        // `tracing-log` events carry their real target in fields, which the default format
        // reads back.
        let forwarded = meta.target() == "log" && meta.name() == "log event";
        if writer.has_ansi_escapes() || forwarded || ctx.lookup_current().is_some() {
            return self.full.format_event(ctx, writer, event);
        }
        LINE.with(|line| {
            // A line that logs from within formatting (a `Debug` impl that logs) finds the
            // buffer taken and builds its own.
            let mut own = String::new();
            let mut kept = line.try_borrow_mut();
            let line = match kept.as_deref_mut() {
                Ok(line) => line,
                Err(_) => &mut own,
            };
            line.clear();
            UtcMicros::write(line)?;
            line.push_str(match *meta.level() {
                tracing::Level::TRACE => " TRACE ",
                tracing::Level::DEBUG => " DEBUG ",
                tracing::Level::INFO => "  INFO ",
                tracing::Level::WARN => "  WARN ",
                tracing::Level::ERROR => " ERROR ",
            });
            line.push_str(meta.target());
            line.push_str(": ");
            let mut fields = PlainVisitor::new(&mut *line);
            event.record(&mut fields);
            fields.finish()?;
            line.push('\n');
            let mut writer = writer;
            writer.write_str(line)
        })
    }
}

/// A [`MakeWriter`] that batches lines per thread and writes them from one flusher thread.
///
/// Lines of one thread reach the output in the order they were logged, each line whole.
/// Nothing is dropped: a thread whose buffer has grown past [`BatchWriter::MAX_BUFFER`]
/// (the output is slower than the loggers) writes it out itself before going on.
///
/// ```
/// use std::time::Duration;
/// use axum_drf::logging::BatchWriter;
///
/// let (writer, guard) = BatchWriter::new(std::io::sink(), Duration::from_millis(20));
/// let subscriber = tracing_subscriber::fmt().with_writer(writer).finish();
/// tracing::subscriber::with_default(subscriber, || tracing::info!("hello"));
/// drop(guard); // writes what is buffered and stops the flusher thread
/// ```
#[derive(Clone)]
pub struct BatchWriter {
    shared: Arc<Shared>,
}

/// Keeps the flusher thread running; dropping it writes every buffered line and stops it.
#[must_use = "dropping the guard stops the log writer"]
pub struct LogGuard {
    shared: Arc<Shared>,
    flusher: Option<JoinHandle<()>>,
}

struct Shared {
    /// Which writer a thread's buffer belongs to (a process may hold several).
    id: usize,
    /// Every thread's buffer; the flusher drains them. Locked when a thread logs for the
    /// first time and by the flusher, never per line.
    buffers: Mutex<Vec<Buffer>>,
    /// The output. Taken before a buffer is drained, so one thread's lines keep their order
    /// whether the flusher or the thread itself writes them.
    out: Mutex<Box<dyn Write + Send>>,
    /// Set when a buffer passes [`BatchWriter::FLUSH_AT`] or the guard is dropped.
    wake: Mutex<bool>,
    woken: Condvar,
    stopping: AtomicBool,
}

/// One thread's lines waiting for the flusher.
type Buffer = Arc<Mutex<Vec<u8>>>;

thread_local! {
    /// This thread's buffers, one per writer it has logged through.
    static LOCAL: RefCell<Vec<(usize, Buffer)>> = const { RefCell::new(Vec::new()) };
}

fn lock<T: ?Sized>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding a log buffer leaves bytes, not broken invariants.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl BatchWriter {
    /// The flush interval [`Logging`] uses unless told otherwise.
    pub const DEFAULT_INTERVAL: Duration = Duration::from_millis(20);
    /// A buffer this large wakes the flusher before its interval is up.
    pub const FLUSH_AT: usize = 64 * 1024;
    /// A buffer this large is written by its own thread: memory stays bounded when the
    /// output is slower than the loggers, at the cost of that thread waiting for it.
    pub const MAX_BUFFER: usize = 1024 * 1024;

    /// A writer to `out` whose flusher thread writes every `interval`. The guard stops it.
    pub fn new(out: impl Write + Send + 'static, interval: Duration) -> (Self, LogGuard) {
        static NEXT_ID: AtomicUsize = AtomicUsize::new(0);
        let shared = Arc::new(Shared {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            buffers: Mutex::new(Vec::new()),
            out: Mutex::new(Box::new(out)),
            wake: Mutex::new(false),
            woken: Condvar::new(),
            stopping: AtomicBool::new(false),
        });
        let flusher = {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name("log-writer".into())
                .spawn(move || shared.run(interval))
                .expect("spawn the log writer thread")
        };
        let guard = LogGuard {
            shared: shared.clone(),
            flusher: Some(flusher),
        };
        (Self { shared }, guard)
    }

    /// Appends one formatted line (tracing-subscriber writes each event with one call).
    fn append(&self, line: &[u8]) {
        self.append_with(|buf| buf.extend_from_slice(line));
    }

    /// Appends what `write` writes to this thread's buffer, with the buffer locked (a lock
    /// no other logging thread takes): one line, formatted in place.
    fn append_with(&self, write: impl FnOnce(&mut Vec<u8>)) {
        let shared = &self.shared;
        let mut write = Some(write);
        // The thread's buffer is borrowed, not cloned: an `Arc` clone and drop per line were
        // a measurable part of the access log (perf, token reads).
        let _ = LOCAL.try_with(|local| {
            let Ok(mut local) = local.try_borrow_mut() else {
                return;
            };
            let at = match local.iter().position(|(id, _)| *id == shared.id) {
                Some(at) => at,
                None => {
                    let b = Arc::new(Mutex::new(Vec::with_capacity(Self::FLUSH_AT)));
                    lock(&shared.buffers).push(b.clone());
                    local.push((shared.id, b));
                    local.len() - 1
                }
            };
            let buffer = &local[at].1;
            let len = {
                let mut buf = lock(buffer);
                if let Some(write) = write.take() {
                    write(&mut buf);
                }
                buf.len()
            };
            if len >= Self::MAX_BUFFER || shared.stopping.load(Ordering::Acquire) {
                // Write it here: the output is behind, or the flusher has stopped.
                shared.write_out(std::slice::from_ref(buffer));
            } else if len >= Self::FLUSH_AT {
                shared.wake();
            }
        });
        // Logging from a thread-local destructor (or from within a line being appended):
        // write the line straight out.
        if let Some(write) = write.take() {
            let mut line = Vec::new();
            write(&mut line);
            let _ = lock(&shared.out).write_all(&line);
        }
    }
}

impl Shared {
    fn run(&self, interval: Duration) {
        loop {
            let stopping = {
                let mut wake = lock(&self.wake);
                if !*wake {
                    wake = self
                        .woken
                        .wait_timeout(wake, interval)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0;
                }
                *wake = false;
                self.stopping.load(Ordering::Acquire)
            };
            let buffers = lock(&self.buffers).clone();
            self.write_out(&buffers);
            drop(buffers);
            // A buffer only this list holds belongs to a thread that has ended; once it is
            // empty nothing can fill it again.
            lock(&self.buffers).retain(|b| Arc::strong_count(b) > 1 || !lock(b).is_empty());
            if stopping {
                return;
            }
        }
    }

    /// Writes and empties `buffers`, holding the output so no other writer slips between.
    fn write_out(&self, buffers: &[Buffer]) {
        let mut out = lock(&self.out);
        for buffer in buffers {
            let batch = {
                let mut buf = lock(buffer);
                if buf.is_empty() {
                    continue;
                }
                // Swap in a buffer of the same capacity so the logging thread does not grow
                // a new one line by line.
                let spare = Vec::with_capacity(buf.capacity().min(BatchWriter::MAX_BUFFER));
                std::mem::replace(&mut *buf, spare)
            };
            // A log that cannot be written has nowhere to report it.
            let _ = out.write_all(&batch);
        }
        let _ = out.flush();
    }

    fn wake(&self) {
        *lock(&self.wake) = true;
        self.woken.notify_one();
    }
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        self.shared.stopping.store(true, Ordering::Release);
        self.shared.wake();
        if let Some(flusher) = self.flusher.take() {
            let _ = flusher.join();
        }
        // Lines appended while the flusher made its last pass.
        let buffers = lock(&self.shared.buffers).clone();
        self.shared.write_out(&buffers);
    }
}

impl<'a> MakeWriter<'a> for BatchWriter {
    type Writer = LineWriter<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        LineWriter { writer: self }
    }
}

/// What [`BatchWriter`] hands tracing-subscriber for one event.
pub struct LineWriter<'a> {
    writer: &'a BatchWriter,
}

impl Write for LineWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.writer.append(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An output the test can read back.
    #[derive(Clone, Default)]
    pub(super) struct Capture(Arc<Mutex<Vec<u8>>>);

    impl Capture {
        /// What was written so far.
        pub(super) fn text(&self) -> String {
            String::from_utf8(lock(&self.0).clone()).unwrap()
        }
    }

    impl Write for Capture {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            lock(&self.0).extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn log_lines(writer: &BatchWriter, prefix: &str, n: usize) {
        for i in 0..n {
            writer.append(format!("{prefix} {i}\n").as_bytes());
        }
    }

    /// What a subscriber with [`PlainFields`] and [`PlainFormat`] writes for `log`.
    fn formatted(log: impl FnOnce()) -> String {
        let out = Capture::default();
        let (writer, guard) = BatchWriter::new(out.clone(), Duration::from_secs(3600));
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_max_level(tracing::Level::TRACE)
            .fmt_fields(PlainFields)
            .event_format(PlainFormat::default())
            .with_writer(writer)
            .finish();
        tracing::subscriber::with_default(subscriber, log);
        drop(guard);
        out.text()
    }

    #[test]
    fn plain_fields_write_what_the_default_formatter_writes() {
        // The default formatter's line without colour, and ours, minus the timestamps.
        let line = |log: fn()| {
            let ours = formatted(log);
            let capture = Capture::default();
            let c = capture.clone();
            let default = tracing_subscriber::fmt()
                .with_ansi(false)
                .with_max_level(tracing::Level::TRACE)
                .with_writer(move || c.clone())
                .finish();
            tracing::subscriber::with_default(default, log);
            let theirs = capture.text();
            let strip = |l: &str| l.split_once(' ').unwrap().1.to_owned();
            (strip(&ours), strip(&theirs))
        };
        for log in [
            (|| tracing::info!(target: "access", method = "GET", route = "/api/x/", status = 200u16, latency_us = 17u64, user_id = -3i64, ok = true))
                as fn(),
            || tracing::info!(version = "0.1.0", "lendbook"),
            || {
                tracing::warn!(
                    name = "quo\"te",
                    path = "back\\slash",
                    tab = "a\tb",
                    accent = "café",
                    "odd {} strings",
                    2
                )
            },
            || tracing::error!(error = %"shown with Display", debug = ?Some(3), "failed"),
            || tracing::trace!(target: "t", "x"),
            || tracing::debug!(n = 1u8),
            || {
                let span = tracing::info_span!("outer", id = 7);
                let _in = span.enter();
                tracing::info_span!("inner").in_scope(|| tracing::info!(k = "v", "in spans"));
            },
        ] {
            let (ours, theirs) = line(log);
            assert_eq!(ours, theirs);
        }
    }

    #[test]
    fn the_timestamp_has_the_default_layout_and_moves_with_the_clock() {
        let pattern = regex::Regex::new(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$").unwrap();
        let stamps: Vec<String> = (0..2)
            .map(|i| {
                if i == 1 {
                    std::thread::sleep(Duration::from_millis(1100));
                }
                let line = formatted(|| tracing::info!("tick"));
                line.split_once(' ').unwrap().0.to_owned()
            })
            .collect();
        for stamp in &stamps {
            assert!(pattern.is_match(stamp), "{stamp}");
            let parsed = chrono::DateTime::parse_from_rfc3339(stamp).unwrap();
            let age = chrono::Utc::now().signed_duration_since(parsed);
            assert!(age.num_seconds().abs() < 5, "{stamp} is not now");
        }
        assert!(stamps[1] > stamps[0], "{stamps:?}");
    }

    #[test]
    fn every_line_of_every_thread_arrives_whole_and_in_order() {
        let out = Capture::default();
        // A long interval: the lines must arrive through FLUSH_AT, MAX_BUFFER and the guard.
        let (writer, guard) = BatchWriter::new(out.clone(), Duration::from_secs(3600));
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let writer = writer.clone();
                std::thread::spawn(move || log_lines(&writer, &format!("t{t}"), 20_000))
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        drop(guard);
        let text = out.text();
        for t in 0..4 {
            let seen: Vec<usize> = text
                .lines()
                .filter_map(|l| l.strip_prefix(&format!("t{t} ")))
                .map(|n| n.parse().unwrap())
                .collect();
            assert_eq!(seen, (0..20_000).collect::<Vec<_>>(), "thread {t}");
        }
        assert_eq!(text.lines().count(), 80_000);
    }

    #[test]
    fn lines_are_written_within_the_interval_without_a_flush() {
        let out = Capture::default();
        let (writer, _guard) = BatchWriter::new(out.clone(), Duration::from_millis(10));
        log_lines(&writer, "x", 3);
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while lock(&out.0).as_slice() != b"x 0\nx 1\nx 2\n" {
            assert!(std::time::Instant::now() < deadline, "not written");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn an_ended_threads_lines_are_written_and_its_buffer_forgotten() {
        let out = Capture::default();
        let (writer, guard) = BatchWriter::new(out.clone(), Duration::from_millis(5));
        let w = writer.clone();
        std::thread::spawn(move || log_lines(&w, "gone", 2))
            .join()
            .unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while !lock(&writer.shared.buffers).is_empty() {
            assert!(std::time::Instant::now() < deadline, "buffer kept");
            std::thread::sleep(Duration::from_millis(5));
        }
        drop(guard);
        assert_eq!(lock(&out.0).as_slice(), b"gone 0\ngone 1\n");
    }
}
