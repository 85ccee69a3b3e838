//! The connection layer under attack: trickling, idle and over-cap connections, and a
//! declared body over the limit. Attackers connect from 127.0.0.2 and up, the honest client
//! from 127.0.0.1.

mod support;

use std::time::{Duration, Instant};

use support::net::{closed_within, connect_from, exchange};
use support::TestApp;
use tokio::io::AsyncWriteExt;

const PUBLIC: &[u8] = b"GET /api/public/ HTTP/1.1\r\nHost: localhost\r\n\r\n";

#[tokio::test(flavor = "multi_thread")]
async fn trickling_connections_neither_starve_others_nor_stay_open() {
    let app = TestApp::spawn_with(|c| c.server.header_read_timeout = 1.5).await;
    let addr = app.addr;
    let mut attackers = Vec::new();
    for i in 0..500 {
        let from = format!("127.0.0.{}", 2 + i % 5);
        attackers.push(tokio::spawn(async move {
            let mut stream = connect_from(&from, addr).await;
            let start = Instant::now();
            // The head of a request that never ends, a byte at a time.
            let head = b"GET /api/public/ HTTP/1.1\r\nHost: localhost\r\nX-Slow: ";
            for (n, byte) in head.iter().chain(std::iter::repeat(&b'a')).enumerate() {
                if stream.write_all(&[*byte]).await.is_err() {
                    break;
                }
                if closed_within(&mut stream, Duration::from_millis(100))
                    .await
                    .is_some()
                {
                    break;
                }
                if n > 100 {
                    // 10 s: long past the timeout.
                    return None;
                }
            }
            Some(start.elapsed())
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;

    let started = Instant::now();
    let response = reqwest::Client::new()
        .get(app.url("/api/public/"))
        .timeout(Duration::from_secs(1))
        .send()
        .await
        .expect("served while under attack");
    assert_eq!(response.status(), 200);
    assert!(started.elapsed() < Duration::from_secs(1));

    for attacker in attackers {
        let held = attacker
            .await
            .unwrap()
            .expect("trickling connection closed");
        assert!(held < Duration::from_millis(3000), "held {held:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn silent_and_idle_connections_are_closed_after_their_timeouts() {
    let app = TestApp::spawn_with(|c| {
        c.server.header_read_timeout = 0.5;
        c.server.idle_timeout = 1.5;
    })
    .await;
    // Silent from the start: the header timeout.
    let mut silent = connect_from("127.0.0.2", app.addr).await;
    let closed = closed_within(&mut silent, Duration::from_secs(3)).await;
    let closed = closed.expect("a silent connection is closed");
    assert!(closed >= Duration::from_millis(400), "{closed:?}");

    // Idle between requests: the idle timeout, not the header one.
    let mut idle = connect_from("127.0.0.2", app.addr).await;
    let (head, _) = exchange(&mut idle, PUBLIC, Duration::from_secs(2))
        .await
        .expect("a response");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let closed = closed_within(&mut idle, Duration::from_secs(4)).await;
    let closed = closed.expect("an idle connection is closed");
    assert!(closed >= Duration::from_millis(1300), "{closed:?}");

    // Still usable before the idle timeout.
    let mut kept = connect_from("127.0.0.2", app.addr).await;
    for _ in 0..2 {
        let (head, _) = exchange(&mut kept, PUBLIC, Duration::from_secs(2))
            .await
            .expect("keep-alive works");
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        tokio::time::sleep(Duration::from_millis(800)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_trickled_body_gets_408_after_the_body_timeout() {
    use tokio::io::AsyncReadExt;
    let app = TestApp::spawn_with(|c| c.server.body_read_timeout = 1.0).await;
    let stream = connect_from("127.0.0.2", app.addr).await;
    let (mut read, mut write) = stream.into_split();
    let started = Instant::now();
    let reader = tokio::spawn(async move {
        let mut response = Vec::new();
        let read_all = read.read_to_end(&mut response);
        let _ = tokio::time::timeout(Duration::from_secs(6), read_all).await;
        (
            String::from_utf8_lossy(&response).into_owned(),
            started.elapsed(),
        )
    });
    write
        .write_all(b"POST /api/login/ HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"us")
        .await
        .unwrap();
    // A byte every 100 ms: 5 s for the body, were it not cut off.
    for _ in 0..50 {
        if reader.is_finished() || write.write_all(b" ").await.is_err() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (text, closed) = reader.await.unwrap();
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("connection: close"), "{text}");
    assert!(
        text.ends_with(r#"{"detail":"Request body not received in time."}"#),
        "{text}"
    );
    assert!(closed < Duration::from_millis(2500), "{closed:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_declared_body_over_the_limit_gets_413_at_once() {
    let app = TestApp::spawn_with(|c| c.server.body_read_timeout = 30.0).await;
    let mut stream = connect_from("127.0.0.2", app.addr).await;
    let started = Instant::now();
    let (head, body) = exchange(
        &mut stream,
        b"POST /api/v1/friends/ HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 104857600\r\n\r\n",
        Duration::from_secs(2),
    )
    .await
    .expect("an answer before any byte of the body");
    assert!(started.elapsed() < Duration::from_secs(1));
    assert!(head.starts_with("HTTP/1.1 413"), "{head}");
    assert!(head.contains("connection: close"), "{head}");
    assert_eq!(body, r#"{"detail":"Request body is too large."}"#);
    // Closed rather than drained.
    assert!(closed_within(&mut stream, Duration::from_secs(1))
        .await
        .is_some());
}

#[tokio::test(flavor = "multi_thread")]
async fn connections_over_the_per_address_cap_are_refused() {
    let app = TestApp::spawn_with(|c| c.server.max_connections_per_ip = 3).await;
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut stream = connect_from("127.0.0.2", app.addr).await;
        let (head, _) = exchange(&mut stream, PUBLIC, Duration::from_secs(2))
            .await
            .expect("under the cap: served");
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        held.push(stream);
    }
    let mut extra = connect_from("127.0.0.2", app.addr).await;
    assert!(
        closed_within(&mut extra, Duration::from_secs(1))
            .await
            .is_some(),
        "the fourth connection from one address is closed at once"
    );
    let mut other = connect_from("127.0.0.3", app.addr).await;
    let (head, _) = exchange(&mut other, PUBLIC, Duration::from_secs(2))
        .await
        .expect("another address is served");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");

    // A slot comes back when its connection closes.
    drop(held.pop());
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut again = connect_from("127.0.0.2", app.addr).await;
    assert!(exchange(&mut again, PUBLIC, Duration::from_secs(2))
        .await
        .is_some());
}

#[tokio::test(flavor = "multi_thread")]
async fn connections_over_the_global_cap_are_refused() {
    let app = TestApp::spawn_with(|c| c.server.max_connections = 2).await;
    let mut held = Vec::new();
    for from in ["127.0.0.2", "127.0.0.3"] {
        let mut stream = connect_from(from, app.addr).await;
        assert!(exchange(&mut stream, PUBLIC, Duration::from_secs(2))
            .await
            .is_some());
        held.push(stream);
    }
    let mut extra = connect_from("127.0.0.4", app.addr).await;
    assert!(closed_within(&mut extra, Duration::from_secs(1))
        .await
        .is_some());
}

/// 1,000 Slowloris connections, each with its head unfinished: the real binary holds a few
/// KiB for each (hyper's buffers alone were 24 KiB, 32 KiB in all, before the first head was
/// read outside hyper), and each is still answered once its head ends.
#[tokio::test(flavor = "multi_thread")]
async fn a_connection_waiting_for_its_first_head_holds_a_few_kib() {
    const HELD: usize = 1000;
    let app = TestApp::spawn().await;
    let served = app.serve_binary(&[]);
    let addr = served.addr();
    let first = reqwest::get(served.url("/api/public/"))
        .await
        .expect("served");
    assert_eq!(first.status(), 200);
    let before = served.rss_kib();
    let mut held = Vec::new();
    for i in 0..HELD {
        // 200 per address: under the default per-address cap of 256.
        let mut stream = connect_from(&format!("127.0.0.{}", 2 + i % 5), addr).await;
        stream
            .write_all(b"GET /api/public/ HTTP/1.1\r\nHost: localhost\r\n")
            .await
            .expect("send a partial head");
        held.push(stream);
    }
    // Let the server read every partial head.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let per_connection = served.rss_kib().saturating_sub(before) / HELD as u64;
    assert!(
        per_connection <= 12,
        "{per_connection} KiB per connection waiting for its head"
    );
    let mut answered = 0;
    for stream in &mut held {
        let (status, _) = exchange(stream, b"\r\n", Duration::from_secs(5))
            .await
            .expect("an answer once the head ends");
        assert!(status.contains(" 200 "), "{status}");
        answered += 1;
    }
    assert_eq!(answered, HELD);
    served.stop();
}
