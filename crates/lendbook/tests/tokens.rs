//! Tokens beyond DRF (opt-in): `[auth] token_ttl` and `token_mode = "per_login"` (knox's
//! model: a token per login, logout of one, `token/logoutall/`, `tokens/` list and delete).

mod support;

use std::time::Duration;

use axum_drf::auth::TokenMode;
use serde_json::{json, Value};
use support::{Api, TestApp};

const PASSWORD: &str = "correct-Horse-7-battery";

async fn register(app: &TestApp, username: &str) {
    let status = reqwest::Client::new()
        .post(app.url("/api/auth/users/"))
        .json(&json!({"username": username, "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status.as_u16(), 201);
}

/// djoser's token login with a given user agent; the token.
async fn login(app: &TestApp, username: &str, agent: &str) -> String {
    let body: Value = reqwest::Client::new()
        .post(app.url("/api/auth/token/login/"))
        .header("User-Agent", agent)
        .json(&json!({"username": username, "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["auth_token"].as_str().expect("a token").to_owned()
}

async fn call(app: &TestApp, method: reqwest::Method, path: &str, token: &str) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .request(method, app.url(path))
        .header("Authorization", format!("Token {token}"))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn private(app: &TestApp, token: &str) -> (u16, Value) {
    call(app, reqwest::Method::GET, "/api/private/", token).await
}

fn per_login(ttl: Option<u64>) -> impl FnOnce(&mut lendbook::config::Config) {
    move |c| {
        c.auth.token_mode = TokenMode::PerLogin;
        c.auth.token_ttl = ttl;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_token_answers_drfs_401_and_the_next_login_renews_it() {
    for mode in [TokenMode::Single, TokenMode::PerLogin] {
        let app = TestApp::spawn_with(|c| {
            c.auth.token_ttl = Some(2);
            c.auth.token_mode = mode;
        })
        .await;
        register(&app, "alice").await;
        let token = login(&app, "alice", "a").await;
        // Cached now: expiry must hold on the cached path too.
        assert_eq!(private(&app, &token).await.0, 200);
        assert_eq!(private(&app, &token).await.0, 200);
        tokio::time::sleep(Duration::from_millis(2100)).await;
        assert_eq!(
            private(&app, &token).await,
            (401, json!({"detail": "Invalid token."})),
            "{mode:?}"
        );
        let renewed = login(&app, "alice", "a").await;
        assert_ne!(renewed, token);
        assert_eq!(private(&app, &renewed).await.0, 200);
        assert_eq!(private(&app, &token).await.0, 401);
    }
    // Without a ttl the default token does not expire (DRF).
    let app = TestApp::spawn().await;
    register(&app, "bob").await;
    let token = login(&app, "bob", "b").await;
    assert_eq!(login(&app, "bob", "b").await, token);
}

#[tokio::test(flavor = "multi_thread")]
async fn each_login_gets_its_own_token_and_logout_revokes_only_that_one() {
    let app = TestApp::spawn_with(per_login(None)).await;
    register(&app, "alice").await;
    let phone = login(&app, "alice", "phone").await;
    let laptop = login(&app, "alice", "laptop").await;
    // The seed login hands out a per-login token too.
    let seed: Value = reqwest::Client::new()
        .post(app.url("/api/login/"))
        .json(&json!({"username": "alice", "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let seed = seed["token"].as_str().unwrap().to_owned();
    assert!(phone != laptop && laptop != seed && phone != seed);
    for t in [&phone, &laptop, &seed] {
        assert_eq!(t.len(), 40);
        assert_eq!(private(&app, t).await.0, 200);
    }
    let (status, _) = call(
        &app,
        reqwest::Method::POST,
        "/api/auth/token/logout/",
        &phone,
    )
    .await;
    assert_eq!(status, 204);
    assert_eq!(
        private(&app, &phone).await,
        (401, json!({"detail": "Invalid token."}))
    );
    assert_eq!(private(&app, &laptop).await.0, 200);
    let (status, _) = call(&app, reqwest::Method::POST, "/api/logout/", &seed).await;
    assert_eq!(status, 200);
    assert_eq!(private(&app, &seed).await.0, 401);
    assert_eq!(private(&app, &laptop).await.0, 200);
    // Stored as SHA-256 only.
    let rows = app
        .state
        .db
        .query("SELECT key_hash FROM auth_token", vec![])
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    let stored = rows[0].text(0).unwrap();
    assert_eq!(stored, axum_drf::auth::token::hash_secret(&laptop));
}

#[tokio::test(flavor = "multi_thread")]
async fn logoutall_revokes_every_token_of_the_user_only() {
    let app = TestApp::spawn_with(per_login(Some(3600))).await;
    register(&app, "alice").await;
    register(&app, "bob").await;
    let tokens: Vec<String> = [
        login(&app, "alice", "1").await,
        login(&app, "alice", "2").await,
        login(&app, "alice", "3").await,
    ]
    .into();
    let bob = login(&app, "bob", "b").await;
    for t in &tokens {
        assert_eq!(private(&app, t).await.0, 200);
    }
    let resp = reqwest::Client::new()
        .post(app.url("/api/auth/token/logoutall/"))
        .header("Authorization", format!("Token {}", tokens[1]))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 204);
    assert!(resp.bytes().await.unwrap().is_empty());
    for t in &tokens {
        assert_eq!(private(&app, t).await.0, 401);
    }
    assert_eq!(private(&app, &bob).await.0, 200);
    // Anonymous: DRF's 401.
    let resp = reqwest::Client::new()
        .post(app.url("/api/auth/token/logoutall/"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_token_list_shows_own_tokens_without_keys_and_revokes_by_id() {
    let app = TestApp::spawn_with(per_login(Some(3600))).await;
    register(&app, "alice").await;
    register(&app, "bob").await;
    let phone = login(&app, "alice", "phone/1.0").await;
    let laptop = login(&app, "alice", "laptop/2.0").await;
    let bob = login(&app, "bob", "bob").await;
    let (status, list) = call(&app, reqwest::Method::GET, "/api/auth/tokens/", &laptop).await;
    assert_eq!(status, 200);
    let list = list.as_array().unwrap().clone();
    assert_eq!(list.len(), 2, "{list:?}");
    // Newest first; the request's own token is marked.
    assert_eq!(list[0]["user_agent"], "laptop/2.0");
    assert_eq!(list[0]["current"], true);
    assert_eq!(list[1]["user_agent"], "phone/1.0");
    assert_eq!(list[1]["current"], false);
    for entry in &list {
        assert_eq!(entry["client_ip"], "127.0.0.1");
        assert!(entry["created"].as_str().unwrap().ends_with('Z'));
        assert!(entry["expires"].is_string());
        let mut keys: Vec<&str> = entry
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                "client_ip",
                "created",
                "current",
                "expires",
                "id",
                "last_used",
                "user_agent"
            ]
        );
    }
    let text = list.iter().map(|e| e.to_string()).collect::<String>();
    for secret in [&phone, &laptop] {
        assert!(!text.contains(secret.as_str()));
        assert!(!text.contains(&axum_drf::auth::token::hash_secret(secret)));
    }
    let phone_id = list[1]["id"].as_i64().unwrap();
    let (_, bob_list) = call(&app, reqwest::Method::GET, "/api/auth/tokens/", &bob).await;
    let bob_id = bob_list[0]["id"].as_i64().unwrap();
    // Another user's token, a malformed and an unknown id: 404.
    for path in [
        format!("/api/auth/tokens/{bob_id}/"),
        "/api/auth/tokens/abc/".into(),
        "/api/auth/tokens/99999999999999999999/".into(),
    ] {
        assert_eq!(
            call(&app, reqwest::Method::DELETE, &path, &laptop).await,
            (404, json!({"detail": "Not found."})),
            "{path}"
        );
    }
    assert_eq!(private(&app, &bob).await.0, 200);
    let path = format!("/api/auth/tokens/{phone_id}/");
    assert_eq!(
        call(&app, reqwest::Method::DELETE, &path, &laptop).await.0,
        204
    );
    assert_eq!(private(&app, &phone).await.0, 401);
    assert_eq!(
        call(&app, reqwest::Method::DELETE, &path, &laptop).await.0,
        404
    );
    let (_, list) = call(&app, reqwest::Method::GET, "/api/auth/tokens/", &laptop).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn last_used_is_written_once_not_per_request() {
    let app = TestApp::spawn_with(per_login(None)).await;
    register(&app, "alice").await;
    let token = login(&app, "alice", "a").await;
    let last_used = || async {
        app.state
            .db
            .query_opt("SELECT last_used FROM auth_token", vec![])
            .await
            .unwrap()
            .unwrap()
            .opt_int(0)
            .unwrap()
    };
    assert_eq!(last_used().await, None);
    assert_eq!(private(&app, &token).await.0, 200);
    let mut first = None;
    for _ in 0..100 {
        first = last_used().await;
        if first.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let first = first.expect("last_used recorded");
    for _ in 0..30 {
        assert_eq!(private(&app, &token).await.0, 200);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(last_used().await, Some(first));
    let (_, list) = call(&app, reqwest::Method::GET, "/api/auth/tokens/", &token).await;
    assert!(list[0]["last_used"].is_string());
}

#[tokio::test(flavor = "multi_thread")]
async fn by_default_the_knox_endpoints_do_not_exist() {
    let app = TestApp::spawn().await;
    let (alice, _) = Api::user(&app, "alice").await;
    assert_eq!(alice.get("/api/auth/tokens/").await.0, 404);
    assert_eq!(
        alice.post("/api/auth/token/logoutall/", json!({})).await.0,
        404
    );
    assert_eq!(alice.get("/api/private/").await.0, 200);
}
