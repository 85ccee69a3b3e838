//! SMTP over TLS against a sink written here (tokio-rustls, a CA and certificate made by
//! rcgen): implicit TLS (`smtps://`), STARTTLS (`?tls=required`), the CA from
//! `[email] ca_file`, and refusals (an unknown CA; a server without STARTTLS).

use std::sync::Arc;

use axum_drf::mail::{Email, Mailer};
use lendbook::accounts::emails::smtp_settings;
use lendbook::config::Config;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio_rustls::rustls;

/// A CA and a certificate for 127.0.0.1 signed by it; returns (CA PEM, server config).
fn certificates() -> (String, Arc<rustls::ServerConfig>) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let leaf = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&leaf_key, &ca, &ca_key)
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into()),
        )
        .unwrap();
    (ca.pem(), Arc::new(config))
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Implicit,
    StartTls,
    /// Plain SMTP that does not offer STARTTLS.
    PlainOnly,
}

/// What the sink saw: the message (if one came) and whether it came over TLS.
#[derive(Debug, Default)]
struct Received {
    message: Option<String>,
    over_tls: bool,
}

enum Next {
    Upgrade,
    Done(Option<String>),
}

async fn converse<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    greet: bool,
    offer_starttls: bool,
) -> std::io::Result<Next> {
    let mut stream = BufReader::new(stream);
    if greet {
        stream.write_all(b"220 sink ESMTP\r\n").await?;
    }
    let mut line = String::new();
    loop {
        line.clear();
        if stream.read_line(&mut line).await? == 0 {
            return Ok(Next::Done(None));
        }
        let command = line.trim_end().to_ascii_uppercase();
        if command.starts_with("EHLO") {
            let extensions = if offer_starttls {
                "250-sink\r\n250-STARTTLS\r\n250 8BITMIME\r\n"
            } else {
                "250-sink\r\n250 8BITMIME\r\n"
            };
            stream.write_all(extensions.as_bytes()).await?;
        } else if command == "STARTTLS" && offer_starttls {
            stream.write_all(b"220 go ahead\r\n").await?;
            stream.flush().await?;
            return Ok(Next::Upgrade);
        } else if command == "DATA" {
            stream.write_all(b"354 end with .\r\n").await?;
            let mut data = String::new();
            loop {
                line.clear();
                stream.read_line(&mut line).await?;
                if line == ".\r\n" || line.is_empty() {
                    break;
                }
                data.push_str(&line);
            }
            stream.write_all(b"250 queued\r\n").await?;
            line.clear();
            stream.read_line(&mut line).await?;
            stream.write_all(b"221 bye\r\n").await?;
            return Ok(Next::Done(Some(data)));
        } else if command == "QUIT" {
            stream.write_all(b"221 bye\r\n").await?;
            return Ok(Next::Done(None));
        } else {
            stream.write_all(b"250 ok\r\n").await?;
        }
        stream.flush().await?;
    }
}

/// A one-connection SMTP sink; returns its port and what it will have received.
async fn sink(mode: Mode) -> (u16, String, tokio::task::JoinHandle<Received>) {
    let (ca_pem, config) = certificates();
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut received = Received::default();
        match mode {
            Mode::Implicit => {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return received;
                };
                received.over_tls = true;
                if let Ok(Next::Done(m)) = converse(tls, true, false).await {
                    received.message = m;
                }
            }
            Mode::StartTls | Mode::PlainOnly => {
                let mut tcp = tcp;
                match converse(&mut tcp, true, mode == Mode::StartTls).await {
                    Ok(Next::Upgrade) => {
                        let Ok(tls) = acceptor.accept(tcp).await else {
                            return received;
                        };
                        received.over_tls = true;
                        if let Ok(Next::Done(m)) = converse(tls, false, false).await {
                            received.message = m;
                        }
                    }
                    Ok(Next::Done(m)) => received.message = m,
                    Err(_) => {}
                }
            }
        }
        received
    });
    (port, ca_pem, handle)
}

fn config(url: &str, ca_file: Option<std::path::PathBuf>) -> Config {
    let mut config = Config::default();
    config.email.smtp_url = Some(url.to_owned());
    config.email.ca_file = ca_file;
    config.email.timeout_secs = 5;
    config
}

fn email() -> Email {
    Email {
        from: "webmaster@localhost".into(),
        to: vec!["alice@example.com".into()],
        subject: "Over TLS".into(),
        text: "secret reset link".into(),
        html: None,
    }
}

fn write_ca(dir: &tempfile::TempDir, pem: &str) -> std::path::PathBuf {
    let path = dir.path().join("ca.pem");
    std::fs::write(&path, pem).unwrap();
    path
}

#[tokio::test]
async fn smtps_delivers_over_tls_to_a_server_signed_by_the_configured_ca() {
    let dir = tempfile::tempdir().unwrap();
    let (port, ca, received) = sink(Mode::Implicit).await;
    let config = config(
        &format!("smtps://127.0.0.1:{port}"),
        Some(write_ca(&dir, &ca)),
    );
    let mailer = Mailer::smtp(smtp_settings(&config).unwrap().unwrap());
    mailer.send(&email()).await.unwrap();
    let received = received.await.unwrap();
    assert!(received.over_tls);
    assert!(received.message.unwrap().contains("secret reset link"));
}

#[tokio::test]
async fn starttls_required_upgrades_before_sending() {
    let dir = tempfile::tempdir().unwrap();
    let (port, ca, received) = sink(Mode::StartTls).await;
    let config = config(
        &format!("smtp://127.0.0.1:{port}?tls=required"),
        Some(write_ca(&dir, &ca)),
    );
    let mailer = Mailer::smtp(smtp_settings(&config).unwrap().unwrap());
    mailer.send(&email()).await.unwrap();
    let received = received.await.unwrap();
    assert!(received.over_tls, "the message must not travel in clear");
    assert!(received.message.unwrap().contains("secret reset link"));
}

#[tokio::test]
async fn an_unknown_ca_is_refused() {
    let (port, _ca, received) = sink(Mode::Implicit).await;
    let config = config(&format!("smtps://127.0.0.1:{port}"), None);
    let mailer = Mailer::smtp(smtp_settings(&config).unwrap().unwrap());
    let err = mailer.send(&email()).await.unwrap_err().to_string();
    assert!(err.to_lowercase().contains("certificate"), "{err}");
    assert!(received.await.unwrap().message.is_none());
}

#[tokio::test]
async fn tls_required_refuses_a_server_without_starttls() {
    let dir = tempfile::tempdir().unwrap();
    let (port, ca, received) = sink(Mode::PlainOnly).await;
    let config = config(
        &format!("smtp://127.0.0.1:{port}?tls=required"),
        Some(write_ca(&dir, &ca)),
    );
    let mailer = Mailer::smtp(smtp_settings(&config).unwrap().unwrap());
    assert!(mailer.send(&email()).await.is_err());
    assert!(received.await.unwrap().message.is_none(), "sent in clear");
}

#[test]
fn an_unreadable_ca_file_is_refused_with_its_path() {
    let config = config("smtps://127.0.0.1:465", Some("/nonexistent/ca.pem".into()));
    let err = smtp_settings(&config).unwrap_err().to_string();
    assert!(err.contains("/nonexistent/ca.pem"), "{err}");
}
