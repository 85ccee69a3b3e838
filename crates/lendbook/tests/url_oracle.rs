//! Differential oracle for URL resolution, replayed: `tests/oracle/urls.py` asks the
//! reference project itself (Django's resolver, `APPEND_SLASH`, DRF's routers, format
//! suffixes and views) how it answers thousands of path spellings — ids in every form
//! Python's `int()` sees, percent-encoded characters, suffixes on lists, objects and
//! actions, unknown routes — and `tests/oracle/urls.jsonl` records the answers. This test
//! sends the same requests to lendbook, byte for byte, and compares status, Content-Type,
//! `Location` and body.
//!
//! To ask the reference again (its virtualenv from `shared/reference/serve.sh setup`):
//!
//! ```text
//! python tests/oracle/urls.py /work/shared/reference tests/oracle/urls.jsonl 1 1.0
//! ```

mod support;

use serde_json::Value;
use support::raw_http::request;
use support::TestApp;

const CORPUS: &str = include_str!("oracle/urls.jsonl");

/// The reference's data: user `oracle` (id 1) with friends 1-3, belongings 1-2 and
/// borrowing 1; returns the user's token.
async fn seed(app: &TestApp) -> String {
    let client = reqwest::Client::new();
    let created = client
        .post(app.url("/api/auth/users/"))
        .json(
            &serde_json::json!({"username": "oracle", "password": "correct-Horse-7-battery",
                                  "email": "oracle@example.com"}),
        )
        .send()
        .await
        .expect("register");
    assert_eq!(created.status(), 201);
    let login: Value = client
        .post(app.url("/api/auth/token/login/"))
        .json(&serde_json::json!({"username": "oracle", "password": "correct-Horse-7-battery"}))
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("json");
    let token = login["auth_token"].as_str().expect("token").to_owned();
    let post = |path: &'static str, body: Value| {
        let client = client.clone();
        let token = token.clone();
        let url = app.url(path);
        async move {
            let r = client
                .post(url)
                .header("Authorization", format!("Token {token}"))
                .json(&body)
                .send()
                .await
                .expect("create");
            assert_eq!(r.status(), 201, "{path}");
        }
    };
    for name in ["Ann", "Bob", "Cy"] {
        post("/api/v1/friends/", serde_json::json!({ "name": name })).await;
    }
    for name in ["Book", "Lamp"] {
        post("/api/v1/belongings/", serde_json::json!({ "name": name })).await;
    }
    post(
        "/api/v1/borrowings/",
        serde_json::json!({"what": 1, "to_who": 1}),
    )
    .await;
    token
}

/// Timestamps differ between the two servers; everything else must match.
fn normalise(v: &mut Value) {
    match v {
        Value::String(s) if s.len() >= 20 && s.as_bytes()[4] == b'-' && s.ends_with('Z') => {
            *s = "<datetime>".into();
        }
        Value::Array(items) => items.iter_mut().for_each(normalise),
        Value::Object(map) => map.values_mut().for_each(normalise),
        _ => {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn url_resolution_matches_the_reference() {
    let app = TestApp::spawn().await;
    let token = seed(&app).await;
    let auth = format!("Token {token}");
    let mut failures = Vec::new();
    let mut checked = 0;
    for line in CORPUS.lines().filter(|l| !l.is_empty()) {
        let row: Value = serde_json::from_str(line).expect("corpus line");
        let case = &row["case"];
        let want = &row["want"];
        let method = case["method"].as_str().expect("method");
        let path = case["path"].as_str().expect("path");
        let mut headers = vec![("Host", "localhost")];
        if case["auth"] == true {
            headers.push(("Authorization", auth.as_str()));
        }
        let got = request(app.addr, method, path, &headers).await;
        checked += 1;
        let mut problems = Vec::new();
        if want["status"] == 500 {
            // The reference crashes (a format suffix on an action it cannot take); lendbook
            // must neither crash nor run the action.
            if got.status != 404 {
                problems.push(format!(
                    "status {} (want 404 for the reference's 500)",
                    got.status
                ));
            }
        } else {
            if want["status"] != got.status {
                problems.push(format!("status {} want {}", got.status, want["status"]));
            }
            let ct = got.header("content-type");
            // lendbook has no browsable API: where DRF renders its HTML page, lendbook
            // answers the same status in JSON (docs/wire-compatibility.md).
            let browsable = want["body"].is_null()
                && want["content_type"]
                    .as_str()
                    .is_some_and(|c| c.starts_with("text/html"));
            if want["content_type"].as_str() != ct && !browsable {
                problems.push(format!("content-type {ct:?} want {}", want["content_type"]));
            }
            let location = got.header("location");
            if want["location"].as_str() != location {
                problems.push(format!("location {location:?} want {}", want["location"]));
            }
            let text = String::from_utf8_lossy(&got.body);
            match &want["body"] {
                Value::Null => {}
                Value::String(s) if s == "<django-404-page>" => {
                    if text != axum_drf::routing::DJANGO_NOT_FOUND_PAGE {
                        problems.push(format!("body {text:?} want Django's 404 page"));
                    }
                }
                Value::String(s) => {
                    if text != *s {
                        problems.push(format!("body {text:?} want {s:?}"));
                    }
                }
                expected => {
                    let mut body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                    let mut expected = expected.clone();
                    normalise(&mut body);
                    normalise(&mut expected);
                    if body != expected {
                        problems.push(format!("body {body} want {expected}"));
                    }
                }
            }
        }
        if !problems.is_empty() {
            failures.push(format!(
                "{method} {path} auth={}: {}",
                case["auth"],
                problems.join("; ")
            ));
        }
    }
    for f in failures.iter().take(60) {
        eprintln!("{f}");
    }
    eprintln!("{checked} checked, {} failed", failures.len());
    assert!(checked > 2000, "the corpus holds thousands of cases");
    assert!(failures.is_empty());
}
