//! Bad input gets a clear DRF-shaped error, never a crash, and loses nothing.

mod support;

use std::io::{Read, Write};

use serde_json::json;
use support::{Api, TestApp};

/// Sends raw bytes and returns the status line and body.
fn raw(app: &TestApp, request: &[u8]) -> (String, String) {
    let mut stream = std::net::TcpStream::connect(app.addr).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    stream.write_all(request).unwrap();
    let mut out = Vec::new();
    let _ = stream.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text.lines().next().unwrap_or_default().to_owned();
    let body = text.split("\r\n\r\n").nth(1).unwrap_or_default().to_owned();
    (status, body)
}

#[tokio::test(flavor = "multi_thread")]
async fn oversized_bodies_get_413_as_json() {
    let app = TestApp::spawn_with(|c| c.body_limit = 1024).await;
    let (alice, _) = Api::user(&app, "alice").await;
    let big = "x".repeat(5000);
    let (status, body) = alice.post("/api/v1/friends/", json!({ "name": big })).await;
    assert_eq!(status, 413);
    assert_eq!(body, json!({"detail": "Request body is too large."}));
    assert_eq!(alice.get("/api/v1/friends/").await.1["count"], json!(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_requests_never_crash_the_server() {
    let app = TestApp::spawn().await;
    let (alice, _) = Api::user(&app, "alice").await;
    let token = alice.token().to_owned();
    let app2 = &app;
    let cases: Vec<Vec<u8>> = vec![
        // invalid UTF-8 JSON body
        [
            format!("POST /api/v1/friends/ HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Token {token}\r\nContent-Type: application/json\r\nContent-Length: 4\r\nConnection: close\r\n\r\n").as_bytes(),
            b"\xff\xfe{}",
        ]
        .concat(),
        // Latin-1 bytes in the Authorization header
        b"GET /api/private/ HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Token \xe9\xe9\r\nConnection: close\r\n\r\n".to_vec(),
        // a cookie header full of junk
        b"GET /api/private/ HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: sessionid=\xff; ;;==; csrftoken\r\nConnection: close\r\n\r\n".to_vec(),
        // deeply nested JSON
        [
            format!("POST /api/v1/friends/ HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Token {token}\r\nContent-Type: application/json\r\nContent-Length: 100000\r\nConnection: close\r\n\r\n").as_bytes(),
            "[".repeat(100_000).as_bytes(),
        ]
        .concat(),
        // an id that overflows every integer type
        format!("GET /api/v1/friends/99999999999999999999999/ HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Token {token}\r\nConnection: close\r\n\r\n").into_bytes(),
        // a huge header
        format!("GET /api/public/ HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: {}\r\nConnection: close\r\n\r\n", "a".repeat(200_000)).into_bytes(),
    ];
    for request in cases {
        let (status, body) = raw(app2, &request);
        assert!(
            status.contains(" 4"),
            "expected a 4xx, got {status:?} {body:?} for {:?}",
            String::from_utf8_lossy(&request[..request.len().min(120)])
        );
    }
    // Still serving, nothing created.
    assert_eq!(alice.get("/api/v1/friends/").await.1["count"], json!(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_types_and_unknown_fields_get_field_errors() {
    let app = TestApp::spawn().await;
    let (alice, _) = Api::user(&app, "alice").await;
    let (status, body) = alice
        .post(
            "/api/v1/friends/",
            json!({"name": {"nested": true}, "bogus": 1}),
        )
        .await;
    assert_eq!(
        (status, body),
        (400, json!({"name": ["Not a valid string."]}))
    );
    let (status, body) = alice
        .post(
            "/api/v1/borrowings/",
            json!({"what": 1.5e300, "to_who": "1 OR 1=1"}),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        body["to_who"],
        json!(["Incorrect type. Expected pk value, received str."])
    );
    assert!(body["what"][0].as_str().unwrap().starts_with("Invalid pk"));
}

#[tokio::test(flavor = "multi_thread")]
async fn json_only_views_refuse_html_like_drf() {
    let app = TestApp::spawn().await;
    let client = reqwest::Client::new();
    // /api/login/ renders JSON only (DRF's ObtainAuthToken): 406 for text/html.
    let r = client
        .post(app.url("/api/login/"))
        .header("Accept", "text/html")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 406);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(
        body,
        json!({"detail": "Could not satisfy the request Accept header."})
    );
    // Views with the browsable API among their renderers accept it (and answer JSON).
    let r = client
        .get(app.url("/api/public/"))
        .header("Accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}
