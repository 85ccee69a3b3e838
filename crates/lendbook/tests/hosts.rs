//! `[server] allowed_hosts` (Django's `ALLOWED_HOSTS`): a foreign `Host` gets Django's 400
//! page, and absolute links come only from a checked host.

mod support;

use serde_json::json;
use support::{Api, TestApp};

/// Django 5.2's `bad_request` page (DEBUG = False), as the reference answers a bad `Host`.
const DJANGO_400: &str = "\n<!doctype html>\n<html lang=\"en\">\n<head>\n  <title>Bad Request (400)</title>\n</head>\n<body>\n  <h1>Bad Request (400)</h1><p></p>\n</body>\n</html>\n";

async fn get_with_host(
    app: &TestApp,
    path: &str,
    host: &str,
    token: Option<&str>,
) -> (u16, String, String) {
    let mut req = reqwest::Client::new()
        .get(app.url(path))
        .header("Host", host);
    if let Some(t) = token {
        req = req.header("Authorization", format!("Token {t}"));
    }
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, content_type, resp.text().await.expect("body"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_foreign_host_gets_djangos_400_before_anything_else() {
    let app = TestApp::spawn().await;
    let (alice, _) = Api::user(&app, "alice").await;
    for host in [
        "evil.example",
        "evil.example:80",
        "bad host",
        "127.0.0.1.evil",
        "[::2]:1",
    ] {
        for path in [
            "/api/public/",
            "/api/v1/",
            "/api/v1/friends/",
            "/no/such/path",
        ] {
            let (status, content_type, body) =
                get_with_host(&app, path, host, Some(alice.token())).await;
            assert_eq!(status, 400, "{host} {path}");
            assert_eq!(content_type, "text/html; charset=utf-8");
            assert_eq!(body, DJANGO_400);
        }
    }
    // A login with a foreign Host does not happen either.
    let resp = reqwest::Client::new()
        .post(app.url("/api/login/"))
        .header("Host", "evil.example")
        .json(&json!({"username": "alice", "password": "correct-Horse-7-battery"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_default_allows_local_names_and_the_bind_address() {
    let app = TestApp::spawn().await;
    let port = app.addr.port();
    for host in [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        format!("LOCALHOST.:{port}"),
        format!("[::1]:{port}"),
        "127.0.0.1".to_owned(),
    ] {
        let (status, _, body) = get_with_host(&app, "/api/public/", &host, None).await;
        assert_eq!(status, 200, "{host}: {body}");
    }
    // Bound to another address, that address is allowed too.
    let app = TestApp::spawn_with(|c| c.bind = "127.0.0.2:0".into()).await;
    let (status, _, _) = get_with_host(&app, "/api/public/", "127.0.0.2:9", None).await;
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn configured_patterns_match_as_in_django_and_build_the_links() {
    let app = TestApp::spawn_with(|c| {
        c.server.allowed_hosts = Some(vec![
            ".example.com".into(),
            "api.test".into(),
            "127.0.0.1".into(),
        ])
    })
    .await;
    let (alice, _) = Api::user(&app, "alice").await;
    for _ in 0..3 {
        alice.create("/api/v1/friends/", json!({"name": "x"})).await;
    }
    for host in ["example.com", "a.b.EXAMPLE.com.", "api.test:8443"] {
        let (status, _, body) =
            get_with_host(&app, "/api/v1/friends/?limit=1", host, Some(alice.token())).await;
        assert_eq!(status, 200, "{host}");
        let page: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            page["next"],
            json!(format!("http://{host}/api/v1/friends/?limit=1&offset=1"))
        );
        let (_, _, root) = get_with_host(&app, "/api/v1/", host, Some(alice.token())).await;
        assert!(
            root.contains(&format!("\"http://{host}/api/v1/friends/\"")),
            "{root}"
        );
    }
    // Not listed any more: the other local names; look-alikes.
    let port = app.addr.port();
    for host in [
        format!("localhost:{port}"),
        format!("[::1]:{port}"),
        "badexample.com".into(),
        "api.test.evil".into(),
    ] {
        let (status, _, body) = get_with_host(&app, "/api/v1/", &host, None).await;
        assert_eq!((status, body.as_str()), (400, DJANGO_400), "{host}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_star_allows_any_well_formed_host() {
    let app = TestApp::spawn_with(|c| c.server.allowed_hosts = Some(vec!["*".into()])).await;
    let (status, _, _) = get_with_host(&app, "/api/public/", "anything.example:1", None).await;
    assert_eq!(status, 200);
    let (status, _, body) = get_with_host(&app, "/api/public/", "not valid", None).await;
    assert_eq!((status, body.as_str()), (400, DJANGO_400));
}
