//! The access log's line: one per served request, under target `access` at INFO.
//!
//! Hand-written for measured speed. As a tracing event the line went through the
//! dispatcher, a visitor call per field and two copies (into tracing-subscriber's buffer,
//! then the writer's): with both servers loaded at once (`bench/layers.sh`), the access log
//! cost 12% of a token read's CPU, most of it tracing's work per field (perf). When the
//! subscriber in use is the one [`Logging::init`](super::Logging::init) installed, the line
//! is written here instead, straight into the log writer's buffer, byte for byte as that
//! subscriber would have written the event (a test compares the two). Under any other
//! subscriber, inside a span, or with colour, the line is the tracing event.

use std::any::Any;
use std::fmt;
use std::sync::OnceLock;

use tracing::Dispatch;

use super::{write_quoted, BatchWriter, LogFormat, UtcMicros};

/// One served request, as the access log records it.
///
/// ```
/// use axum_drf::logging::AccessLine;
///
/// let subscriber = tracing_subscriber::fmt().with_ansi(false).finish();
/// tracing::subscriber::with_default(subscriber, || {
///     AccessLine {
///         method: "GET",
///         route: "/api/private/",
///         status: 200,
///         latency_us: 17,
///         user_id: Some(3),
///         request_id: "-",
///     }
///     .log()
/// });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccessLine<'a> {
    /// The request method.
    pub method: &'a str,
    /// The route template that served it (`/api/v1/friends/{pk}/`), or `unmatched`.
    pub route: &'a str,
    /// The response status code.
    pub status: u16,
    /// Microseconds from the request's head to the response's.
    pub latency_us: u64,
    /// The authenticated user, if any.
    pub user_id: Option<i64>,
    /// The request id (`X-Request-Id`), `-` if none.
    pub request_id: &'a str,
}

impl AccessLine<'_> {
    /// Logs the line under target `access` at INFO, if the log filter lets it through.
    pub fn log(&self) {
        if DIRECT.get().is_some_and(|direct| direct.write(self)) {
            return;
        }
        self.event();
    }

    /// The line as a tracing event (what the direct line reproduces).
    fn event(&self) {
        tracing::info!(
            target: "access",
            method = self.method,
            route = self.route,
            status = self.status,
            latency_us = self.latency_us,
            user_id = self.user_id,
            request_id = self.request_id,
        );
    }

    /// The line as [`PlainFormat`](super::PlainFormat) with [`PlainFields`](super::PlainFields)
    /// writes the event.
    fn write_text(&self, out: &mut Vec<u8>) -> fmt::Result {
        let w = &mut Utf8(out);
        UtcMicros::write(w)?;
        w.0.extend_from_slice(b"  INFO access: method=");
        write_quoted(w, self.method)?;
        w.0.extend_from_slice(b" route=");
        write_quoted(w, self.route)?;
        w.0.extend_from_slice(b" status=");
        w.0.extend_from_slice(itoa::Buffer::new().format(self.status).as_bytes());
        w.0.extend_from_slice(b" latency_us=");
        w.0.extend_from_slice(itoa::Buffer::new().format(self.latency_us).as_bytes());
        if let Some(user_id) = self.user_id {
            w.0.extend_from_slice(b" user_id=");
            w.0.extend_from_slice(itoa::Buffer::new().format(user_id).as_bytes());
        }
        w.0.extend_from_slice(b" request_id=");
        write_quoted(w, self.request_id)?;
        w.0.push(b'\n');
        Ok(())
    }

    /// The line as tracing-subscriber's JSON format with flattened fields writes the event.
    fn write_json(&self, out: &mut Vec<u8>) -> fmt::Result {
        let string = |out: &mut Vec<u8>, s: &str| {
            serde_json::to_writer(&mut *out, s).map_err(|_| fmt::Error)
        };
        out.extend_from_slice(b"{\"timestamp\":\"");
        UtcMicros::write(&mut Utf8(out))?;
        out.extend_from_slice(b"\",\"level\":\"INFO\",\"method\":");
        string(out, self.method)?;
        out.extend_from_slice(b",\"route\":");
        string(out, self.route)?;
        out.extend_from_slice(b",\"status\":");
        out.extend_from_slice(itoa::Buffer::new().format(self.status).as_bytes());
        out.extend_from_slice(b",\"latency_us\":");
        out.extend_from_slice(itoa::Buffer::new().format(self.latency_us).as_bytes());
        if let Some(user_id) = self.user_id {
            out.extend_from_slice(b",\"user_id\":");
            out.extend_from_slice(itoa::Buffer::new().format(user_id).as_bytes());
        }
        out.extend_from_slice(b",\"request_id\":");
        string(out, self.request_id)?;
        out.extend_from_slice(b",\"target\":\"access\"}\n");
        Ok(())
    }
}

/// Text written into a byte buffer.
struct Utf8<'a>(&'a mut Vec<u8>);

impl fmt::Write for Utf8<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

/// The subscriber [`Logging::init`](super::Logging::init) installed, and its writer.
pub(super) struct Direct {
    writer: BatchWriter,
    format: LogFormat,
    /// The subscriber's address, and how to find it in a dispatcher.
    subscriber: usize,
    find: fn(&Dispatch) -> Option<usize>,
    /// Whether the subscriber's filter lets `access` lines at INFO through.
    enabled: bool,
}

static DIRECT: OnceLock<Direct> = OnceLock::new();

fn address<S: Any>(dispatch: &Dispatch) -> Option<usize> {
    dispatch
        .downcast_ref::<S>()
        .map(|s| std::ptr::from_ref(s).addr())
}

impl Direct {
    /// `subscriber` as a dispatcher, and the direct line for it, written to `writer` in
    /// `format` (the subscriber's own layout).
    pub(super) fn with<S>(
        subscriber: S,
        writer: BatchWriter,
        format: LogFormat,
    ) -> (Dispatch, Option<Direct>)
    where
        S: tracing::Subscriber + Send + Sync + 'static,
    {
        let dispatch = Dispatch::new(subscriber);
        let find = address::<S>;
        let direct = find(&dispatch).map(|subscriber| Direct {
            writer,
            format,
            subscriber,
            find,
            // Asked once: `enabled!` asks the subscriber on every call, even when the
            // callsite's interest is settled, and this subscriber's filter has only fixed
            // directives outside spans (the direct line is only written outside spans).
            enabled: tracing::dispatcher::with_default(
                &dispatch,
                || tracing::enabled!(target: "access", tracing::Level::INFO),
            ),
        });
        (dispatch, direct)
    }

    /// Makes `self` the access log's line for the rest of the process (the global
    /// subscriber is installed once).
    pub(super) fn install(self) {
        let _ = DIRECT.set(self);
    }

    /// Writes the line (if the filter lets it through) when this subscriber is the one in
    /// use, outside any span; false when the line is not its to write.
    fn write(&self, line: &AccessLine<'_>) -> bool {
        let ours = tracing::dispatcher::get_default(|d| {
            (self.find)(d) == Some(self.subscriber) && d.current_span().id().is_none()
        });
        if ours && self.enabled {
            self.writer.append_with(|buf| {
                let start = buf.len();
                let written = match self.format {
                    LogFormat::Text => line.write_text(buf),
                    LogFormat::Json => line.write_json(buf),
                };
                // The formatters only fail on text they cannot encode; write no half line.
                if written.is_err() {
                    buf.truncate(start);
                }
            });
        }
        ours
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tracing_subscriber::EnvFilter;

    use super::*;
    use crate::logging::tests::Capture;

    /// The subscriber `Logging::init` builds (no colour), writing to a capture; the direct
    /// line for it; and the guard that flushes the writer.
    fn installed(format: LogFormat) -> (Dispatch, Direct, Capture, crate::logging::LogGuard) {
        filtered(format, "info")
    }

    /// [`installed`] with the log filter `filter`.
    fn filtered(
        format: LogFormat,
        filter: &str,
    ) -> (Dispatch, Direct, Capture, crate::logging::LogGuard) {
        let out = Capture::default();
        let (writer, guard) = BatchWriter::new(out.clone(), Duration::from_secs(3600));
        let (dispatch, direct) =
            crate::logging::subscriber(EnvFilter::new(filter), writer, format, false);
        let direct = direct.expect("the subscriber is found");
        (dispatch, direct, out, guard)
    }

    /// Each line with its timestamp replaced by `T`.
    fn untimed(text: &str) -> Vec<String> {
        let stamp = regex::Regex::new(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z").unwrap();
        text.lines()
            .map(|l| stamp.replace(l, "T").into_owned())
            .collect()
    }

    const LINES: [AccessLine<'static>; 5] = [
        AccessLine {
            method: "GET",
            route: "/api/private/",
            status: 200,
            latency_us: 17,
            user_id: Some(3),
            request_id: "-",
        },
        AccessLine {
            method: "POST",
            route: "unmatched",
            status: 404,
            latency_us: 0,
            user_id: None,
            request_id: "req-42",
        },
        AccessLine {
            method: "other",
            route: "/api/v1/friends/{pk}/",
            status: 599,
            latency_us: u64::MAX,
            user_id: Some(i64::MIN),
            request_id: "quo\"te and back\\slash",
        },
        AccessLine {
            method: "DELETE",
            route: "/caf\u{e9}/\t/\u{1b}[31m",
            status: 100,
            latency_us: 1_000_000,
            user_id: Some(0),
            request_id: "",
        },
        AccessLine {
            method: "GET",
            route: "/",
            status: 204,
            latency_us: 5,
            user_id: Some(-1),
            request_id: "\u{7f}\u{0}",
        },
    ];

    #[test]
    fn the_direct_line_is_the_events_line_byte_for_byte() {
        for format in [LogFormat::Text, LogFormat::Json] {
            // Through tracing: the event the fallback logs.
            let (dispatch, _, events, guard) = installed(format);
            tracing::dispatcher::with_default(&dispatch, || {
                for line in &LINES {
                    line.event();
                }
            });
            drop(guard);
            // Direct.
            let (dispatch, direct, written, guard) = installed(format);
            tracing::dispatcher::with_default(&dispatch, || {
                for line in &LINES {
                    assert!(direct.write(line), "{format:?}: the subscriber is in use");
                }
            });
            drop(guard);
            let (theirs, ours) = (untimed(&events.text()), untimed(&written.text()));
            assert_eq!(ours.len(), LINES.len(), "{format:?}");
            assert_eq!(ours, theirs, "{format:?}");
        }
    }

    #[test]
    fn another_subscriber_or_a_span_gets_the_event() {
        let (dispatch, direct, written, guard) = installed(LogFormat::Text);
        let line = &LINES[0];
        // A subscriber of the same type, but not the installed one.
        let (other, _, other_out, other_guard) = installed(LogFormat::Text);
        tracing::dispatcher::with_default(&other, || {
            assert!(!direct.write(line));
            line.log();
        });
        // The installed one, inside a span.
        tracing::dispatcher::with_default(&dispatch, || {
            let span = tracing::info_span!("request", id = 7);
            let _in = span.enter();
            assert!(!direct.write(line));
        });
        // No subscriber at all.
        assert!(!direct.write(line));
        drop((guard, other_guard));
        assert_eq!(written.text(), "");
        assert_eq!(untimed(&other_out.text()).len(), 1, "logged as an event");
    }

    #[test]
    fn the_line_follows_the_filter() {
        for format in [LogFormat::Text, LogFormat::Json] {
            for (filter, lines) in [("info,access=off", 0), ("warn,access=info", 1)] {
                let (dispatch, direct, written, guard) = filtered(format, filter);
                tracing::dispatcher::with_default(&dispatch, || {
                    assert!(direct.write(&LINES[0]), "the line is the subscriber's");
                });
                drop(guard);
                let text = written.text();
                assert_eq!(text.lines().count(), lines, "{format:?} {filter}: {text}");
            }
        }
    }
}
