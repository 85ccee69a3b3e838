//! A connection's first request head, read into a small buffer before hyper is built.
//!
//! hyper gives each HTTP/1 connection an 8 KiB write buffer when it is built and, once a
//! head arrives in pieces, a read buffer of 16 KiB; a connection future with hyper inside
//! is a few KiB more. 5,000 Slowloris connections (bench/attack.sh) held 32 KiB each, 160
//! MiB in all, for a head that never ends. Until its first head is complete, a connection
//! now holds a 1 KiB buffer in a small task, and hyper gets the bytes replayed ([`Replay`])
//! once the head is complete: for the requests that are served, nothing changes.
//!
//! The head counts as complete at the first empty line, `\n\r\n` or `\n\n` (httparse
//! accepts bare line feeds too); an early guess is harmless, since hyper then reads on with
//! its own buffers. A head longer than the server's `max_buf_size` is handed to hyper as
//! it is, which answers 431.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};

/// What a connection holds while its first head trickles in.
const INITIAL: usize = 1024;

/// Reads until the first head is complete (or `limit` bytes have come): those bytes, or
/// `None` if the client closed the connection first.
pub(super) async fn read_first_head<I: AsyncRead + Unpin>(
    io: &mut I,
    limit: usize,
) -> io::Result<Option<Vec<u8>>> {
    let mut head = Vec::with_capacity(INITIAL);
    loop {
        if head.len() == head.capacity() {
            head.reserve(head.capacity().min(limit));
        }
        let searched = head.len().saturating_sub(2);
        if io.read_buf(&mut head).await? == 0 {
            return Ok(None);
        }
        if ends_head(&head[searched..]) || head.len() >= limit {
            return Ok(Some(head));
        }
    }
}

/// Whether `bytes` hold an empty line's end: `\n\r\n` or `\n\n`.
fn ends_head(bytes: &[u8]) -> bool {
    bytes.windows(2).any(|w| w == b"\n\n") || bytes.windows(3).any(|w| w == b"\n\r\n")
}

pin_project_lite::pin_project! {
    /// `inner` with `prefix` read first.
    pub(super) struct Replay<I> {
        prefix: Vec<u8>,
        read: usize,
        #[pin]
        inner: I,
    }
}

impl<I> Replay<I> {
    pub(super) fn new(prefix: Vec<u8>, inner: I) -> Self {
        Replay {
            prefix,
            read: 0,
            inner,
        }
    }
}

impl<I: AsyncRead> AsyncRead for Replay<I> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.project();
        let rest = &this.prefix[*this.read..];
        if rest.is_empty() {
            return this.inner.poll_read(cx, buf);
        }
        let n = rest.len().min(buf.remaining());
        buf.put_slice(&rest[..n]);
        *this.read += n;
        if *this.read == this.prefix.len() {
            // Replayed: give the memory back.
            *this.prefix = Vec::new();
            *this.read = 0;
        }
        Poll::Ready(Ok(()))
    }
}

impl<I: AsyncWrite> AsyncWrite for Replay<I> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.project().inner.poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().inner.poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().inner.poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.project().inner.poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    #[test]
    fn an_empty_line_ends_the_head() {
        assert!(ends_head(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
        assert!(ends_head(b"GET / HTTP/1.1\nHost: x\n\n"));
        assert!(ends_head(b"\n\r\n"));
        assert!(!ends_head(b"GET / HTTP/1.1\r\nHost: x\r\n"));
        assert!(!ends_head(b"\r\n\r"));
    }

    /// The head read in pieces, and what follows it replayed, byte for byte.
    #[tokio::test]
    async fn a_head_sent_a_byte_at_a_time_is_read_whole_and_replayed() {
        let request = b"GET /a/ HTTP/1.1\r\nHost: x\r\n\r\nGET /b/ HTTP/1.1\r\nHost: x\r\n\r\n";
        let (mut client, mut server) = tokio::io::duplex(64);
        let writer = tokio::spawn(async move {
            for b in request {
                client.write_all(&[*b]).await.unwrap();
            }
            client
        });
        let head = read_first_head(&mut server, 96 * 1024)
            .await
            .unwrap()
            .unwrap();
        assert!(head.ends_with(b"\r\n\r\n"));
        assert!(
            head.capacity() <= INITIAL,
            "a short head keeps the small buffer"
        );
        let _client = writer.await.unwrap();
        let mut replayed = vec![0; request.len()];
        Replay::new(head, server)
            .read_exact(&mut replayed)
            .await
            .unwrap();
        assert_eq!(replayed, request);
    }

    #[tokio::test]
    async fn a_long_head_stops_at_the_limit_and_a_closed_connection_gives_none() {
        let (mut client, mut server) = tokio::io::duplex(64 * 1024);
        client.write_all(&[b'a'; 10_000]).await.unwrap();
        let head = read_first_head(&mut server, 4096).await.unwrap().unwrap();
        assert!((4096..10_000).contains(&head.len()), "{}", head.len());

        let (client, mut server) = tokio::io::duplex(64);
        drop(client);
        assert!(read_first_head(&mut server, 4096).await.unwrap().is_none());
    }
}
