//! Authentication beyond the recorded cases: secrets at rest, invalidation, multi-instance.

mod support;

use reqwest::StatusCode;
use serde_json::json;
use support::TestApp;

#[tokio::test(flavor = "multi_thread")]
async fn no_token_or_session_key_is_stored_in_plaintext() {
    let app = TestApp::spawn().await;
    let (_, token) = app.user_with_token("alice").await;
    let client = reqwest::Client::new();
    let response = client
        .post(app.url("/api/login/"))
        .json(&json!({"username": "alice", "password": "correct-Horse-7-battery"}))
        .send()
        .await
        .unwrap();
    let session = response
        .cookies()
        .find(|c| c.name() == "sessionid")
        .expect("session cookie")
        .value()
        .to_owned();
    let db = &app.state.db;
    for (table, column) in [
        ("authtoken_token", "key_hash"),
        ("auth_session", "key_hash"),
    ] {
        let rows = db
            .query(format!("SELECT {column} FROM {table}"), vec![])
            .await
            .unwrap();
        assert!(!rows.is_empty(), "{table} has rows");
        for row in rows {
            let stored = row.text(0).unwrap();
            assert_ne!(stored, token);
            assert_ne!(stored, session);
            assert!(!stored.contains(&token) && !stored.contains(&session));
        }
    }
    let passwords = db
        .query("SELECT password FROM auth_user", vec![])
        .await
        .unwrap();
    assert!(passwords[0].text(0).unwrap().starts_with("$argon2id$"));
}

#[tokio::test(flavor = "multi_thread")]
async fn logout_takes_effect_on_the_next_request_even_when_cached() {
    let app = TestApp::spawn().await;
    let (_, token) = app.user_with_token("bob").await;
    let client = reqwest::Client::new();
    let auth = format!("Token {token}");
    for _ in 0..3 {
        let r = client
            .get(app.url("/api/private/"))
            .header("Authorization", &auth)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    }
    let r = client
        .post(app.url("/api/logout/"))
        .header("Authorization", &auth)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = client
        .get(app.url("/api/private/"))
        .header("Authorization", &auth)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread")]
async fn password_change_by_cli_ends_sessions_and_deactivation_is_immediate() {
    let app = TestApp::spawn().await;
    let (id, token) = app.user_with_token("carol").await;
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let r = client
        .post(app.url("/api/login/"))
        .json(&json!({"username": "carol", "password": "correct-Horse-7-battery"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        client
            .get(app.url("/api/private/"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );

    let out = app.cli(&[
        "changepassword",
        "carol",
        "--password",
        "another-Horse-8-battery",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The CLI is another process; on SQLite it cannot reach this server's cache, so the
    // server must not be trusting a cached session here: the session row is gone.
    app.state.auth.user_changed(id).await;
    assert_eq!(
        client
            .get(app.url("/api/private/"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );

    // The token went with the password (revoke_tokens_on_password_change); log in again.
    let private = |token: String| {
        reqwest::Client::new()
            .get(app.url("/api/private/"))
            .header("Authorization", format!("Token {token}"))
            .send()
    };
    assert_eq!(
        private(token).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    let token = app.login("carol", "another-Horse-8-battery").await;

    app.state
        .auth
        .users()
        .set_flags(id, false, false, false)
        .await
        .unwrap();
    app.state.auth.user_changed(id).await;
    let r = private(token).await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body, json!({"detail": "User inactive or deleted."}));
}

#[tokio::test(flavor = "multi_thread")]
async fn two_instances_share_tokens_sessions_and_logouts() {
    if support::postgres_url().is_none() {
        eprintln!("skipped: needs DATABASE_URL=postgres://...");
        return;
    }
    let a = TestApp::spawn().await;
    let b = a.another_instance().await;
    // Let both listeners subscribe before relying on invalidation.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let (_, token) = a.user_with_token("dave").await;
    let auth = format!("Token {token}");
    let plain = reqwest::Client::new();
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let r = browser
        .post(a.url("/api/login/"))
        .json(&json!({"username": "dave", "password": "correct-Horse-7-battery"}))
        .send()
        .await
        .unwrap();
    let session = r
        .cookies()
        .find(|c| c.name() == "sessionid")
        .unwrap()
        .value()
        .to_owned();

    // Used on the other instance (and cached there).
    for _ in 0..2 {
        let r = plain
            .get(b.url("/api/private/"))
            .header("Authorization", &auth)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let r = plain
            .get(b.url("/api/private/"))
            .header("Cookie", format!("sessionid={session}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    }
    // Token logout on A: rejected on B at once.
    let r = plain
        .post(a.url("/api/auth/token/logout/"))
        .header("Authorization", &auth)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = plain
        .get(b.url("/api/private/"))
        .header("Authorization", &auth)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // Session logout on B: rejected on A at once.
    let r = browser.get(a.url("/api/private/")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    // The double-submit check compares cookie and header, so the test supplies both.
    let csrftoken = "A".repeat(32);
    let r = plain
        .post(b.url("/api/logout/"))
        .header(
            "Cookie",
            format!("sessionid={session}; csrftoken={csrftoken}"),
        )
        .header("X-CSRFToken", &csrftoken)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = plain
        .get(a.url("/api/private/"))
        .header("Cookie", format!("sessionid={session}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}
