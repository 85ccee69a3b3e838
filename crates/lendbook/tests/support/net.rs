//! Raw sockets and certificates for connection-layer tests: attackers on other loopback
//! addresses, watching when the server closes a connection, HTTPS with a throwaway CA.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// A connection to `server` from the loopback address `from` (e.g. `127.0.0.2`).
pub async fn connect_from(from: &str, server: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().expect("socket");
    socket
        .bind(SocketAddr::new(from.parse().expect("address"), 0))
        .expect("bind a loopback address");
    socket.connect(server).await.expect("connect")
}

/// Reads (discarding) until the server closes the connection; how long that took, or `None`
/// if it was still open after `max`.
pub async fn closed_within<S: AsyncRead + Unpin>(
    stream: &mut S,
    max: Duration,
) -> Option<Duration> {
    let start = Instant::now();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout_at((start + max).into(), stream.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(start.elapsed()),
            Ok(Ok(_)) => {}
        }
    }
}

/// Writes `request` and reads one HTTP/1.1 response (head and `Content-Length` body); `None`
/// when the connection closed or nothing came within `max`.
pub async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    request: &[u8],
    max: Duration,
) -> Option<(String, String)> {
    stream.write_all(request).await.ok()?;
    tokio::time::timeout(max, read_response(stream))
        .await
        .ok()?
}

async fn read_response<S: AsyncRead + Unpin>(stream: &mut S) -> Option<(String, String)> {
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&data[..end]).into_owned();
            let length: usize = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse().ok())?
                })
                .unwrap_or(0);
            while data.len() < end + 4 + length {
                let n = stream.read(&mut buf).await.ok()?;
                if n == 0 {
                    return None;
                }
                data.extend_from_slice(&buf[..n]);
            }
            let body = String::from_utf8_lossy(&data[end + 4..end + 4 + length]).into_owned();
            return Some((head, body));
        }
        let n = stream.read(&mut buf).await.ok()?;
        if n == 0 {
            return None;
        }
        data.extend_from_slice(&buf[..n]);
    }
}

/// A self-signed certificate for `localhost` and `127.0.0.1`, written as PEM files into
/// `dir` under `name`; returns (cert path, key path, certificate DER).
pub fn write_certificate(dir: &Path, name: &str) -> (PathBuf, PathBuf, Vec<u8>) {
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .expect("generate a certificate");
    let cert = dir.join(format!("{name}.crt"));
    let key = dir.join(format!("{name}.key"));
    std::fs::write(&cert, certified.cert.pem()).expect("write cert");
    std::fs::write(&key, certified.key_pair.serialize_pem()).expect("write key");
    (cert, key, certified.cert.der().to_vec())
}

/// A rustls client trusting exactly `roots` (DER), offering `alpn`.
pub fn tls_connector(roots: &[&[u8]], alpn: &[&[u8]]) -> tokio_rustls::TlsConnector {
    let mut store = rustls::RootCertStore::empty();
    for der in roots {
        store
            .add(rustls_pki_types::CertificateDer::from(der.to_vec()))
            .expect("trust the test certificate");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_root_certificates(store)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

/// Connects over TLS as `localhost`.
pub async fn tls_connect(
    connector: &tokio_rustls::TlsConnector,
    server: SocketAddr,
) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(server).await?;
    let name = rustls_pki_types::ServerName::try_from("localhost").expect("a valid name");
    connector.connect(name, tcp).await
}

/// The leaf certificate (DER) the server presents to a new connection.
pub async fn served_certificate(
    connector: &tokio_rustls::TlsConnector,
    server: SocketAddr,
) -> Vec<u8> {
    let stream = tls_connect(connector, server).await.expect("TLS handshake");
    let (_, conn) = stream.get_ref();
    conn.peer_certificates().expect("a certificate")[0].to_vec()
}
