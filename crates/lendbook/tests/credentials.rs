//! What ends a credential and who may touch whom: a password change by any path ends the
//! user's sessions and API token (`[auth] revoke_tokens_on_password_change`), and staff
//! who are not superusers cannot change, deactivate or delete a superuser.

mod support;

use std::time::Duration;

use axum_drf::auth::NewUser;
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use support::mail::{link, MailApp, NEW_PASSWORD, PASSWORD};
use support::TestApp;

#[derive(Debug, Clone, Copy)]
enum ChangedBy {
    SetPassword,
    ResetLink,
    Cli,
}

/// The status `/api/private/` answers `token`, waiting up to 2 s for it to become
/// `expected` (the CLI is another process: a SQLite server learns of its change by polling).
async fn settles(t: &MailApp, token: &str, expected: StatusCode) -> StatusCode {
    let mut status = t.status_of("/api/private/", token).await;
    for _ in 0..40 {
        if status == expected {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        status = t.status_of("/api/private/", token).await;
    }
    status
}

async fn password_change(by: ChangedBy, revoke: bool) {
    let mut t = MailApp::spawn(|c| {
        c.accounts.site_url = "https://app.example.com".into();
        c.auth.revoke_tokens_on_password_change = revoke;
    })
    .await;
    t.register("ida", "ida@example.com").await;
    let token = t.login("ida", PASSWORD).await.unwrap();
    let browser = Client::builder().cookie_store(true).build().unwrap();
    let r = browser
        .post(t.app.url("/api/login/"))
        .json(&json!({"username": "ida", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let private = t.app.url("/api/private/");
    let session = || browser.get(&private).send();
    assert_eq!(session().await.unwrap().status(), StatusCode::OK);
    assert_eq!(t.status_of("/api/private/", &token).await, StatusCode::OK);

    match by {
        ChangedBy::SetPassword => {
            let (status, body) = t
                .post(
                    "/api/auth/users/set_password/",
                    Some(&token),
                    json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD}),
                )
                .await;
            assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
        }
        ChangedBy::ResetLink => {
            t.post(
                "/api/auth/users/reset_password/",
                None,
                json!({"email": "ida@example.com"}),
            )
            .await;
            let (uid, reset) = link(&t.next_mail().await, "password/reset/confirm");
            let (status, body) = t
                .post(
                    "/api/auth/users/reset_password_confirm/",
                    None,
                    json!({"uid": uid, "token": reset, "new_password": NEW_PASSWORD}),
                )
                .await;
            assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
        }
        ChangedBy::Cli => {
            let revoke = revoke.to_string();
            let out = t.app.cli_with_env(
                &["changepassword", "ida", "--password", NEW_PASSWORD],
                &[("LENDBOOK_AUTH__REVOKE_TOKENS_ON_PASSWORD_CHANGE", &revoke)],
            );
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }

    let expected = if revoke {
        StatusCode::UNAUTHORIZED
    } else {
        StatusCode::OK
    };
    assert_eq!(settles(&t, &token, expected).await, expected, "{by:?}");
    // Sessions end either way (Django's session hash covers the password).
    for _ in 0..40 {
        if session().await.unwrap().status() == StatusCode::UNAUTHORIZED {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(session().await.unwrap().status(), StatusCode::UNAUTHORIZED);
    // The next login works; with revocation it hands out a fresh token.
    let fresh = t.login("ida", NEW_PASSWORD).await.unwrap();
    assert_eq!(fresh != token, revoke, "{by:?}");
    assert_eq!(t.status_of("/api/private/", &fresh).await, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread")]
async fn set_password_ends_sessions_and_the_token() {
    password_change(ChangedBy::SetPassword, true).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn password_reset_ends_sessions_and_the_token() {
    password_change(ChangedBy::ResetLink, true).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn cli_changepassword_ends_sessions_and_the_token() {
    password_change(ChangedBy::Cli, true).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn tokens_survive_a_password_change_when_revocation_is_off() {
    for by in [ChangedBy::SetPassword, ChangedBy::ResetLink, ChangedBy::Cli] {
        password_change(by, false).await;
    }
}

/// A user created directly, with a token.
async fn account(
    app: &TestApp,
    username: &str,
    is_staff: bool,
    is_superuser: bool,
) -> (i64, String) {
    let auth = &app.state.auth;
    let hash = auth.hash_password(PASSWORD).await.unwrap();
    let user = auth
        .users()
        .create(&NewUser {
            username: username.into(),
            email: format!("{username}@example.com"),
            password_hash: hash,
            is_staff,
            is_superuser,
            is_active: true,
        })
        .await
        .unwrap();
    let token = auth.issue_token(&user).await.unwrap().expose().to_owned();
    (user.id, token)
}

async fn send(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: Value,
) -> (StatusCode, Value) {
    let r = Client::new()
        .request(method, app.url(path))
        .header("Authorization", format!("Token {token}"))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread")]
async fn staff_cannot_change_deactivate_or_delete_a_superuser() {
    // Activation on: an email change then deactivates, so refusing it guards that too.
    let mail = MailApp::spawn(|c| c.accounts.send_activation_email = true).await;
    let app = &mail.app;
    let (root, root_token) = account(app, "root", true, true).await;
    let (staff_id, staff) = account(app, "staffer", true, false).await;
    let (plain, _) = account(app, "plain", false, false).await;
    let denied = json!({"detail": "You do not have permission to perform this action."});
    let detail = format!("/api/auth/users/{root}/");
    use reqwest::Method;

    // Reading is still allowed, as in djoser.
    let (status, body) = send(app, Method::GET, &detail, &staff, Value::Null).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Changing the email (the first step of taking the account over through a reset, and
    // with activation on also a deactivation), replacing, deleting: refused.
    for method in [Method::PATCH, Method::PUT] {
        let (status, body) = send(
            app,
            method,
            &detail,
            &staff,
            json!({"email": "staffer@example.com"}),
        )
        .await;
        assert_eq!((status, body), (StatusCode::FORBIDDEN, denied.clone()));
    }
    let (status, body) = send(
        app,
        Method::DELETE,
        &detail,
        &staff,
        json!({"current_password": PASSWORD}),
    )
    .await;
    assert_eq!((status, body), (StatusCode::FORBIDDEN, denied.clone()));
    let root_now = app.state.auth.users().by_id(root).await.unwrap().unwrap();
    assert_eq!(root_now.email, "root@example.com");
    assert!(root_now.is_active && root_now.is_superuser);
    assert_eq!(
        send(
            app,
            Method::GET,
            "/api/auth/users/me/",
            &root_token,
            Value::Null
        )
        .await
        .0,
        StatusCode::OK
    );

    // Staff still manage users who are not superusers (djoser's CurrentUserOrAdmin).
    let (status, body) = send(
        app,
        Method::PATCH,
        &format!("/api/auth/users/{plain}/"),
        &staff,
        json!({"email": "plain2@example.com"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Nobody grants themselves (or others) privileges: those fields are read-only.
    for path in [
        "/api/auth/users/me/".to_owned(),
        format!("/api/auth/users/{staff_id}/"),
    ] {
        let (status, _) = send(
            app,
            Method::PATCH,
            &path,
            &staff,
            json!({"is_superuser": true, "is_staff": true}),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
    }
    let staff_now = app
        .state
        .auth
        .users()
        .by_id(staff_id)
        .await
        .unwrap()
        .unwrap();
    assert!(!staff_now.is_superuser);

    // A superuser may manage another superuser.
    let (other_root, _) = account(app, "root2", true, true).await;
    let (status, body) = send(
        app,
        Method::PATCH,
        &format!("/api/auth/users/{other_root}/"),
        &root_token,
        json!({"email": "root2b@example.com"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}
