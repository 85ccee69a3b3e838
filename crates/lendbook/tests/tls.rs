//! HTTPS: HTTP/2 by ALPN, secure cookies and links, HSTS, certificate reload on SIGHUP, and
//! the connection limits over TLS. Certificates are generated here.

mod support;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::json;
use support::net::{
    closed_within, connect_from, exchange, served_certificate, tls_connect, tls_connector,
    write_certificate,
};
use support::TestApp;
use tokio::io::AsyncWriteExt;

struct Https {
    app: TestApp,
    client: reqwest::Client,
    cert_der: Vec<u8>,
    files: (PathBuf, PathBuf),
    _dir: tempfile::TempDir,
}

async fn https(adjust: impl FnOnce(&mut lendbook::config::Config)) -> Https {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key, cert_der) = write_certificate(dir.path(), "server");
    let files = (cert.clone(), key.clone());
    let app = TestApp::spawn_with(|c| {
        c.tls.cert = Some(cert);
        c.tls.key = Some(key);
        adjust(c);
    })
    .await;
    let client = reqwest::Client::builder()
        .use_rustls_tls()
        .add_root_certificate(reqwest::Certificate::from_der(&cert_der).unwrap())
        .resolve("localhost", app.addr)
        .build()
        .unwrap();
    Https {
        app,
        client,
        cert_der,
        files,
        _dir: dir,
    }
}

impl Https {
    fn url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.app.addr.port())
    }

    /// Registers alice and logs her in (a session and a token); the login response.
    async fn register_and_login(&self) -> reqwest::Response {
        let credentials = json!({"username": "alice", "password": "correct-Horse-7-battery"});
        for path in ["/api/auth/users/", "/api/login/"] {
            let response = self
                .client
                .post(self.url(path))
                .json(&credentials)
                .send()
                .await
                .unwrap();
            assert!(
                response.status().is_success(),
                "{path}: {}",
                response.status()
            );
            if path == "/api/login/" {
                return response;
            }
        }
        unreachable!("the loop returns the login response")
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn https_speaks_http2_with_secure_cookies_links_and_hsts() {
    let s = https(|c| c.tls.hsts_max_age = Some(31_536_000)).await;
    let response = s.client.get(s.url("/api/public/")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.version(), reqwest::Version::HTTP_2);
    assert_eq!(
        response.headers()["strict-transport-security"],
        "max-age=31536000"
    );

    let login = s.register_and_login().await;
    let cookies = axum_drf::testing::set_cookies(&login);
    assert_eq!(cookies.len(), 2, "{cookies:?}");
    assert!(
        cookies.iter().all(|c| c.contains("; Secure")),
        "{cookies:?}"
    );
    let value = |name: &str| {
        let c = cookies.iter().find(|c| c.starts_with(name)).unwrap();
        c[name.len() + 1..].split(';').next().unwrap().to_owned()
    };
    let (session, csrf) = (value("sessionid"), value("csrftoken"));

    // A session-authenticated write over HTTPS passes Django's secure CSRF checks (the
    // request counts as secure), and links are https.
    let origin = s.url("");
    let friend = s
        .client
        .post(s.url("/api/v1/friends/"))
        .header("Cookie", format!("sessionid={session}; csrftoken={csrf}"))
        .header("X-CSRFToken", &csrf)
        .header("Origin", &origin)
        .header("Referer", s.url("/"))
        .json(&json!({"name": "Bob"}))
        .send()
        .await
        .unwrap();
    assert_eq!(friend.status(), 201, "{:?}", friend.text().await);
    let root = s
        .client
        .get(s.url("/api/v1/"))
        .header("Cookie", format!("sessionid={session}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(root.contains(&format!("\"{origin}/api/v1/")), "{root}");
    assert!(!root.contains("http://"), "{root}");

    // HTTP/1.1 when the client offers only that.
    let h1 = reqwest::Client::builder()
        .use_rustls_tls()
        .http1_only()
        .add_root_certificate(reqwest::Certificate::from_der(&s.cert_der).unwrap())
        .resolve("localhost", s.app.addr)
        .build()
        .unwrap();
    let response = h1.get(s.url("/api/public/")).send().await.unwrap();
    assert_eq!(response.version(), reqwest::Version::HTTP_11);
    assert_eq!(response.status(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn no_hsts_unless_configured_and_cookie_secure_can_be_turned_off() {
    let s = https(|c| c.auth.cookie_secure = Some(false)).await;
    let response = s.client.get(s.url("/api/public/")).send().await.unwrap();
    assert!(response
        .headers()
        .get("strict-transport-security")
        .is_none());
    let login = s.register_and_login().await;
    for cookie in login.headers().get_all("set-cookie") {
        assert!(!cookie.to_str().unwrap().contains("Secure"), "{cookie:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sighup_reloads_the_certificate_and_a_bad_one_keeps_the_old() {
    let s = https(|_| {}).await;
    let new_dir = tempfile::tempdir().unwrap();
    let (new_cert, new_key, new_der) = write_certificate(new_dir.path(), "renewed");
    let connector = tls_connector(&[&s.cert_der, &new_der], &[b"http/1.1"]);
    assert_eq!(served_certificate(&connector, s.app.addr).await, s.cert_der);

    std::fs::copy(&new_cert, &s.files.0).unwrap();
    std::fs::copy(&new_key, &s.files.1).unwrap();
    hangup();
    let deadline = Instant::now() + Duration::from_secs(5);
    while served_certificate(&connector, s.app.addr).await != new_der {
        assert!(
            Instant::now() < deadline,
            "the new certificate is served after SIGHUP"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    std::fs::write(&s.files.0, "not a certificate").unwrap();
    hangup();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(served_certificate(&connector, s.app.addr).await, new_der);
    let response = s.client.get(s.url("/api/public/")).send().await;
    assert!(
        response.is_err(),
        "the old certificate is no longer served, so the old trust fails"
    );
}

fn hangup() {
    let status = std::process::Command::new("kill")
        .args(["-HUP", &std::process::id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread")]
async fn connection_limits_hold_over_tls() {
    let s = https(|c| {
        c.server.header_read_timeout = 0.5;
        c.server.max_connections_per_ip = 2;
    })
    .await;
    let addr: SocketAddr = s.app.addr;
    // No ClientHello: the handshake counts against the header timeout.
    let mut silent = connect_from("127.0.0.2", addr).await;
    let closed = closed_within(&mut silent, Duration::from_secs(3)).await;
    assert!(closed.expect("closed") >= Duration::from_millis(400));
    drop(silent);

    // Handshake done, then a trickled head: the same timeout.
    let connector = tls_connector(&[&s.cert_der], &[b"http/1.1"]);
    let mut tls = tls_connect(&connector, addr).await.unwrap();
    tls.write_all(b"GET /api/public/ HTTP/1.1\r\n")
        .await
        .unwrap();
    tls.flush().await.unwrap();
    assert!(closed_within(&mut tls, Duration::from_secs(3))
        .await
        .is_some());

    // Early 413 over TLS.
    let mut tls = tls_connect(&connector, addr).await.unwrap();
    let started = Instant::now();
    let (head, _) = exchange(
        &mut tls,
        b"POST /api/login/ HTTP/1.1\r\nHost: localhost\r\nContent-Length: 104857600\r\n\r\n",
        Duration::from_secs(2),
    )
    .await
    .expect("413");
    assert!(head.starts_with("HTTP/1.1 413"), "{head}");
    assert!(started.elapsed() < Duration::from_secs(1));
    drop(tls);

    // The per-address cap counts TLS connections (even mid-handshake).
    let _a = connect_from("127.0.0.3", addr).await;
    let _b = connect_from("127.0.0.3", addr).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut c = connect_from("127.0.0.3", addr).await;
    let closed = closed_within(&mut c, Duration::from_millis(300)).await;
    assert!(
        closed.is_some(),
        "third connection from one address refused"
    );
}
