//! djoser's account endpoints beyond the recorded cases: the emailed-link flows (through the
//! file and SMTP backends), activation, set_username/set_password, deletion, visibility.

mod support;

use std::collections::HashSet;
use std::time::Duration;

use axum_drf::auth::NewUser;
use lendbook::config::Config;
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use support::mail::{decode_qp, link, new_files, token_error, MailApp, NEW_PASSWORD, PASSWORD};
use support::TestApp;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

#[tokio::test(flavor = "multi_thread")]
async fn password_reset_end_to_end_through_the_file_backend() {
    let mut t = MailApp::spawn(|_| {}).await;
    let id = t.register("alice", "alice@example.com").await;
    let token = t.login("alice", PASSWORD).await.unwrap();
    let session = Client::builder().cookie_store(true).build().unwrap();
    let r = session
        .post(t.app.url("/api/login/"))
        .json(&json!({"username": "alice", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    let (status, body) = t
        .post(
            "/api/auth/users/reset_password/",
            None,
            json!({"email": "alice@example.com"}),
        )
        .await;
    assert_eq!((status, body.as_str()), (StatusCode::NO_CONTENT, ""));
    let mail = t.next_mail().await;
    assert!(mail.contains("To: alice@example.com"), "{mail}");
    assert!(
        mail.contains("Subject: Password reset on lendbook"),
        "{mail}"
    );
    assert!(decode_qp(&mail).contains("Your username, in case you've forgotten: alice"));
    let (uid, reset) = link(&mail, "password/reset/confirm");
    assert_eq!(uid, axum_drf::auth::signing::encode_uid(id));

    // Django's validators run, before the link is even looked at.
    let (status, body) = t
        .post(
            "/api/auth/users/reset_password_confirm/",
            None,
            json!({"uid": uid, "token": reset, "new_password": "short"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("too short"), "{body}");

    let confirm = json!({"uid": uid, "token": reset, "new_password": NEW_PASSWORD});
    let (status, body) = t
        .post(
            "/api/auth/users/reset_password_confirm/",
            None,
            confirm.clone(),
        )
        .await;
    assert_eq!((status, body.as_str()), (StatusCode::NO_CONTENT, ""));

    assert!(t.login("alice", PASSWORD).await.is_none());
    // Sessions and (by default, unlike the reference) the API token end with the password.
    let r = session
        .get(t.app.url("/api/private/"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        t.status_of("/api/private/", &token).await,
        StatusCode::UNAUTHORIZED
    );
    let token = t.login("alice", NEW_PASSWORD).await.unwrap();

    // Single use.
    let (status, body) = t
        .post("/api/auth/users/reset_password_confirm/", None, confirm)
        .await;
    assert_eq!((status, body), (StatusCode::BAD_REQUEST, token_error()));

    // A password change kills every outstanding link.
    t.post(
        "/api/auth/users/reset_password/",
        None,
        json!({"email": "alice@example.com"}),
    )
    .await;
    let (uid, pending) = link(&t.next_mail().await, "password/reset/confirm");
    let (status, _) = t
        .post(
            "/api/auth/users/set_password/",
            Some(&token),
            json!({"current_password": NEW_PASSWORD, "new_password": "Third-Stapler-43-pony"}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = t
        .post(
            "/api/auth/users/reset_password_confirm/",
            None,
            json!({"uid": uid, "token": pending, "new_password": "Fourth-Stapler-44-pony"}),
        )
        .await;
    assert_eq!((status, body), (StatusCode::BAD_REQUEST, token_error()));
}

#[tokio::test(flavor = "multi_thread")]
async fn reset_links_expire_and_serve_one_purpose() {
    let mut t = MailApp::spawn(|c| c.accounts.password_reset_timeout_secs = 0).await;
    t.register("bob", "bob@example.com").await;
    t.post(
        "/api/auth/users/reset_password/",
        None,
        json!({"email": "bob@example.com"}),
    )
    .await;
    let (uid, token) = link(&t.next_mail().await, "password/reset/confirm");
    let (status, body) = t
        .post(
            "/api/auth/users/reset_password_confirm/",
            None,
            json!({"uid": uid, "token": token, "new_password": NEW_PASSWORD}),
        )
        .await;
    assert_eq!((status, body), (StatusCode::BAD_REQUEST, token_error()));
    assert!(t.login("bob", PASSWORD).await.is_some());

    // A reset token (expired or not) opens no other door.
    let (status, body) = t
        .post(
            "/api/auth/users/reset_username_confirm/",
            None,
            json!({"uid": uid, "token": token, "new_username": "robert"}),
        )
        .await;
    assert_eq!((status, body), (StatusCode::BAD_REQUEST, token_error()));
    let (status, _) = t
        .post(
            "/api/auth/users/activation/",
            None,
            json!({"uid": uid, "token": token}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Bad uids, as djoser words them.
    let (status, body) = t
        .post(
            "/api/auth/users/reset_password_confirm/",
            None,
            json!({"uid": "OTk5OTk5", "token": token, "new_password": NEW_PASSWORD}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({"uid": ["Invalid user id or user doesn't exist."]}).to_string()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_addresses_get_the_same_answer_and_no_mail() {
    let t = MailApp::spawn(|_| {}).await;
    t.register("carol", "carol@example.com").await;
    let send = |email: &'static str| {
        t.client
            .post(t.app.url("/api/auth/users/reset_password/"))
            .json(&json!({ "email": email }))
            .send()
    };
    let known = send("carol@example.com").await.unwrap();
    let unknown = send("nobody@example.com").await.unwrap();
    assert_eq!(known.status(), StatusCode::NO_CONTENT);
    assert_eq!(unknown.status(), StatusCode::NO_CONTENT);
    let names = |r: &reqwest::Response| {
        let mut h: Vec<String> = r
            .headers()
            .keys()
            .filter(|k| *k != "date" && *k != "x-request-id")
            .map(|k| k.to_string())
            .collect();
        h.sort();
        h
    };
    assert_eq!(names(&known), names(&unknown));
    assert_eq!(known.text().await.unwrap(), unknown.text().await.unwrap());

    // Only carol's message is written.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let files = new_files(t.mail.path(), &HashSet::new());
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(std::fs::read_to_string(&files[0])
        .unwrap()
        .contains("To: carol@example.com"));
}

#[tokio::test(flavor = "multi_thread")]
async fn activation_is_off_by_default() {
    let t = MailApp::spawn(|_| {}).await;
    t.register("dave", "dave@example.com").await;
    assert!(t.login("dave", PASSWORD).await.is_some());
    let r = t
        .client
        .post(t.app.url("/api/auth/users/resend_activation/"))
        .json(&json!({"email": "dave@example.com"}))
        .send()
        .await
        .unwrap();
    // djoser's bare 400 when activation is off.
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.headers().get("content-type").is_none());
    assert_eq!(r.text().await.unwrap(), "");
    t.no_mail().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn activation_when_on() {
    let mut t = MailApp::spawn(|c| c.accounts.send_activation_email = true).await;
    let id = t.register("erin", "erin@example.com").await;
    assert!(
        t.login("erin", PASSWORD).await.is_none(),
        "inactive users cannot log in"
    );
    let mail = t.next_mail().await;
    assert!(
        mail.contains("Subject: Account activation on lendbook"),
        "{mail}"
    );
    let (uid, token) = link(&mail, "activate");

    // resend_activation mails a fresh link to an inactive user.
    let (status, _) = t
        .post(
            "/api/auth/users/resend_activation/",
            None,
            json!({"email": "erin@example.com"}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, second) = link(&t.next_mail().await, "activate");

    let (status, body) = t
        .post(
            "/api/auth/users/activation/",
            None,
            json!({"uid": uid, "token": token}),
        )
        .await;
    assert_eq!((status, body.as_str()), (StatusCode::NO_CONTENT, ""));

    // Following a link again (either one) is stale, as djoser answers (until a login
    // changes `last_login`, which every link is bound to).
    for used in [&token, &second] {
        let (status, body) = t
            .post(
                "/api/auth/users/activation/",
                None,
                json!({"uid": uid, "token": used}),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(
            body,
            json!({"detail": "Stale token for given user."}).to_string()
        );
    }
    // Active users get no activation mail.
    t.post(
        "/api/auth/users/resend_activation/",
        None,
        json!({"email": "erin@example.com"}),
    )
    .await;
    t.no_mail().await;

    // Deactivated later, the spent link does not bring the account back.
    t.app
        .state
        .auth
        .users()
        .set_active(id, false)
        .await
        .unwrap();
    t.app.state.auth.user_changed(id).await;
    let (status, body) = t
        .post(
            "/api/auth/users/activation/",
            None,
            json!({"uid": uid, "token": token}),
        )
        .await;
    assert_eq!((status, body), (StatusCode::BAD_REQUEST, token_error()));
    t.app.state.auth.users().set_active(id, true).await.unwrap();
    t.app.state.auth.user_changed(id).await;
    let erin = t.login("erin", PASSWORD).await.expect("active now");

    // Changing the address deactivates until the new one is confirmed (djoser).
    let r = t
        .client
        .patch(t.app.url("/api/auth/users/me/"))
        .header("Authorization", format!("Token {erin}"))
        .json(&json!({"email": "erin2@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let mail = t.next_mail().await;
    assert!(mail.contains("To: erin2@example.com"), "{mail}");
    assert_eq!(
        t.status_of("/api/auth/users/me/", &erin).await,
        StatusCode::UNAUTHORIZED
    );
    let (uid, token) = link(&mail, "activate");
    let (status, _b) = t
        .post(
            "/api/auth/users/activation/",
            None,
            json!({"uid": uid, "token": token}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{_b}");
    assert_eq!(
        t.status_of("/api/auth/users/me/", &erin).await,
        StatusCode::OK
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn activation_links_expire() {
    let mut t = MailApp::spawn(|c| {
        c.accounts.send_activation_email = true;
        c.accounts.activation_timeout_secs = 0;
    })
    .await;
    t.register("fay", "fay@example.com").await;
    let (uid, token) = link(&t.next_mail().await, "activate");
    let (status, body) = t
        .post(
            "/api/auth/users/activation/",
            None,
            json!({"uid": uid, "token": token}),
        )
        .await;
    assert_eq!((status, body), (StatusCode::BAD_REQUEST, token_error()));
    assert!(t.login("fay", PASSWORD).await.is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn set_username_and_username_reset() {
    let mut t = MailApp::spawn(|_| {}).await;
    t.register("gus", "gus@example.com").await;
    t.register("hal", "hal@example.com").await;
    let token = t.login("gus", PASSWORD).await.unwrap();

    let (status, body) = t
        .post(
            "/api/auth/users/set_username/",
            Some(&token),
            json!({"current_password": PASSWORD, "new_username": "hal"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({"new_username": ["A user with that username already exists."]}).to_string()
    );
    let (status, _) = t
        .post(
            "/api/auth/users/set_username/",
            Some(&token),
            json!({"current_password": PASSWORD, "new_username": "gustav"}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(t.login("gus", PASSWORD).await.is_none());
    assert!(t.login("gustav", PASSWORD).await.is_some());
    // The token still works and the cached user is fresh.
    let me: Value = t
        .client
        .get(t.app.url("/api/auth/users/me/"))
        .header("Authorization", format!("Token {token}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["username"], "gustav");

    // Username reset by email.
    t.post(
        "/api/auth/users/reset_username/",
        None,
        json!({"email": "gus@example.com"}),
    )
    .await;
    let mail = t.next_mail().await;
    assert!(
        mail.contains("Subject: Username reset on lendbook"),
        "{mail}"
    );
    let (uid, reset) = link(&mail, "username/reset/confirm");
    let confirm = json!({"uid": uid, "token": reset, "new_username": "gus2"});
    let (status, _) = t
        .post(
            "/api/auth/users/reset_username_confirm/",
            None,
            confirm.clone(),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(t.login("gus2", PASSWORD).await.is_some());
    let (status, body) = t
        .post(
            "/api/auth/users/reset_username_confirm/",
            None,
            json!({"uid": uid, "token": reset, "new_username": "gus3"}),
        )
        .await;
    assert_eq!((status, body), (StatusCode::BAD_REQUEST, token_error()));
}

async fn staff(app: &TestApp, username: &str) -> String {
    let hash = app.state.auth.hash_password(PASSWORD).await.unwrap();
    app.state
        .auth
        .users()
        .create(&NewUser {
            username: username.into(),
            email: format!("{username}@example.com"),
            password_hash: hash,
            is_staff: true,
            is_active: true,
            ..NewUser::default()
        })
        .await
        .unwrap();
    let user = app
        .state
        .auth
        .users()
        .by_username(username)
        .await
        .unwrap()
        .unwrap();
    app.state
        .auth
        .issue_token(&user)
        .await
        .unwrap()
        .expose()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn staff_see_everyone_regular_users_only_themselves() {
    let t = MailApp::spawn(|_| {}).await;
    let jo = t.register("jo", "jo@example.com").await;
    let kim = t.register("kim", "kim@example.com").await;
    let jo_token = t.login("jo", PASSWORD).await.unwrap();
    let boss = staff(&t.app, "boss").await;
    let list = |token: String| {
        let req = t
            .client
            .get(t.app.url("/api/auth/users/"))
            .header("Authorization", format!("Token {token}"));
        async move { req.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let mine = list(jo_token.clone()).await;
    assert_eq!(mine["count"], 1);
    assert_eq!(mine["results"][0]["id"], jo);
    assert_eq!(list(boss.clone()).await["count"], 3);

    let kim_path = format!("/api/auth/users/{kim}/");
    assert_eq!(
        t.status_of(&kim_path, &jo_token).await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(t.status_of(&kim_path, &boss).await, StatusCode::OK);
    let r = t
        .client
        .patch(t.app.url(&kim_path))
        .header("Authorization", format!("Token {boss}"))
        .json(&json!({"email": "kim.new@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.json::<Value>().await.unwrap()["email"],
        "kim.new@example.com"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn deleting_users() {
    let t = MailApp::spawn(|_| {}).await;
    let lee = t.register("lee", "lee@example.com").await;
    let max = t.register("max", "max@example.com").await;
    let lee_token = t.login("lee", PASSWORD).await.unwrap();
    let max_token = t.login("max", PASSWORD).await.unwrap();
    let boss = staff(&t.app, "boss").await;
    let delete = |path: String, token: String, body: Value| {
        let req = t
            .client
            .delete(t.app.url(&path))
            .header("Authorization", format!("Token {token}"))
            .json(&body);
        async move {
            let r = req.send().await.unwrap();
            (r.status(), r.text().await.unwrap())
        }
    };
    // Another user's record: 403 for a regular user, even with the right password.
    let (status, _) = delete(
        format!("/api/auth/users/{max}/"),
        lee_token.clone(),
        json!({"current_password": PASSWORD}),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Staff need their own password.
    let (status, body) = delete(
        format!("/api/auth/users/{max}/"),
        boss.clone(),
        json!({"current_password": "wrong-password-1"}),
    )
    .await;
    assert_eq!(
        (status, body),
        (
            StatusCode::BAD_REQUEST,
            json!({"current_password": ["Invalid password."]}).to_string()
        )
    );
    let (status, _) = delete(
        format!("/api/auth/users/{max}/"),
        boss.clone(),
        json!({"current_password": PASSWORD}),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        t.status_of("/api/private/", &max_token).await,
        StatusCode::UNAUTHORIZED
    );

    // Deleting oneself through the detail URL ends the token at once (even cached).
    assert_eq!(
        t.status_of("/api/private/", &lee_token).await,
        StatusCode::OK
    );
    let (status, body) = delete(
        format!("/api/auth/users/{lee}/"),
        lee_token.clone(),
        json!({"current_password": PASSWORD}),
    )
    .await;
    assert_eq!((status, body.as_str()), (StatusCode::NO_CONTENT, ""));
    assert_eq!(
        t.status_of("/api/private/", &lee_token).await,
        StatusCode::UNAUTHORIZED
    );
    assert!(t.login("lee", PASSWORD).await.is_none());
    assert_eq!(
        t.status_of(&format!("/api/auth/users/{lee}/"), &boss).await,
        StatusCode::NOT_FOUND
    );
}

/// A minimal SMTP server: accepts one message and hands its DATA to the test.
async fn smtp_sink() -> (u16, tokio::sync::oneshot::Receiver<(Vec<String>, String)>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let (read, mut write) = stream.into_split();
        let mut lines = BufReader::new(read).lines();
        write.write_all(b"220 sink ESMTP\r\n").await.unwrap();
        let (mut commands, mut data, mut in_data) = (Vec::new(), String::new(), false);
        while let Ok(Some(line)) = lines.next_line().await {
            if in_data {
                if line == "." {
                    in_data = false;
                    write.write_all(b"250 queued\r\n").await.unwrap();
                } else {
                    data.push_str(line.strip_prefix('.').unwrap_or(&line));
                    data.push('\n');
                }
                continue;
            }
            commands.push(line.clone());
            let verb = line
                .split_whitespace()
                .next()
                .unwrap_or("")
                .to_ascii_uppercase();
            let reply: &[u8] = match verb.as_str() {
                "EHLO" | "HELO" => b"250 sink\r\n",
                "DATA" => {
                    in_data = true;
                    b"354 go ahead\r\n"
                }
                "QUIT" => {
                    write.write_all(b"221 bye\r\n").await.unwrap();
                    break;
                }
                _ => b"250 ok\r\n",
            };
            write.write_all(reply).await.unwrap();
        }
        let _ = tx.send((commands, data));
    });
    (port, rx)
}

#[tokio::test(flavor = "multi_thread")]
async fn smtp_delivery() {
    let (port, received) = smtp_sink().await;
    let t = MailApp::spawn(|c| {
        c.email.smtp_url = Some(format!("smtp://127.0.0.1:{port}"));
        c.email.from_email = "Lendbook <noreply@example.com>".into();
    })
    .await;
    t.register("nia", "nia@example.com").await;
    let (status, _) = t
        .post(
            "/api/auth/users/reset_password/",
            None,
            json!({"email": "nia@example.com"}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (commands, data) = tokio::time::timeout(Duration::from_secs(10), received)
        .await
        .expect("the message reaches the sink")
        .unwrap();
    assert!(
        commands
            .iter()
            .any(|c| c == "MAIL FROM:<noreply@example.com>"),
        "{commands:?}"
    );
    assert!(
        commands.iter().any(|c| c == "RCPT TO:<nia@example.com>"),
        "{commands:?}"
    );
    assert!(
        data.contains("Subject: Password reset on lendbook"),
        "{data}"
    );
    // Nothing went to the file backend.
    assert!(new_files(t.mail.path(), &HashSet::new()).is_empty());

    let (uid, token) = link(&data, "password/reset/confirm");
    let (status, _) = t
        .post(
            "/api/auth/users/reset_password_confirm/",
            None,
            json!({"uid": uid, "token": token, "new_password": NEW_PASSWORD}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(t.login("nia", NEW_PASSWORD).await.is_some());
}

#[test]
fn smtp_urls_are_checked_when_the_configuration_loads() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("lendbook.toml");
    std::fs::write(&file, "[email]\nsmtp_url = \"smtps://mail.example.com\"\n").unwrap();
    let err = Config::load(Some(&file)).unwrap_err().to_string();
    assert!(err.contains("smtp"), "{err}");
    std::fs::write(&file, "[email]\nsmtp_url = \"smtp://127.0.0.1:2525\"\n").unwrap();
    let config = Config::load(Some(&file)).unwrap();
    assert_eq!(
        config.email.smtp_url.as_deref(),
        Some("smtp://127.0.0.1:2525")
    );
}

/// The audit log's `(kind, username)` pairs, oldest first, once the queue is written.
async fn audit_kinds(app: &TestApp) -> Vec<(String, String)> {
    app.state.auth.audit_log().flush().await;
    let rows = app
        .state
        .db
        .query("SELECT kind, username FROM auth_event ORDER BY id", vec![])
        .await
        .unwrap();
    rows.iter()
        .map(|r| (r.text(0).unwrap(), r.text(1).unwrap()))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn emailed_link_flows_and_deletion_are_audited() {
    let mut t = MailApp::spawn(|c| c.accounts.send_activation_email = true).await;
    t.register("ivy", "ivy@example.com").await;
    let (uid, token) = link(&t.next_mail().await, "activate");
    let (status, _) = t
        .post(
            "/api/auth/users/activation/",
            None,
            json!({"uid": uid, "token": token}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    for (request, route, confirm, field, value) in [
        (
            "reset_password",
            "password/reset/confirm",
            "reset_password_confirm",
            "new_password",
            NEW_PASSWORD,
        ),
        (
            "reset_username",
            "username/reset/confirm",
            "reset_username_confirm",
            "new_username",
            "ivy2",
        ),
    ] {
        t.post(
            &format!("/api/auth/users/{request}/"),
            None,
            json!({"email": "ivy@example.com"}),
        )
        .await;
        let (uid, token) = link(&t.next_mail().await, route);
        let (status, _) = t
            .post(
                &format!("/api/auth/users/{confirm}/"),
                None,
                json!({"uid": uid, "token": token, field: value}),
            )
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{confirm}");
    }
    let api = t.login("ivy2", NEW_PASSWORD).await.unwrap();
    let r = t
        .client
        .delete(t.app.url("/api/auth/users/me/"))
        .header("Authorization", format!("Token {api}"))
        .json(&json!({"current_password": NEW_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let pairs = |v: &[(&str, &str)]| -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    };
    assert_eq!(
        audit_kinds(&t.app).await,
        pairs(&[
            ("activation", "ivy"),
            ("password_reset", "ivy"),
            ("username_change", "ivy2"),
            ("login", "ivy2"),
            ("token_created", "ivy2"),
            ("deactivation", "ivy2"),
        ])
    );
}
