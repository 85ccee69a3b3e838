//! Emailed links (password reset, username reset, activation): exactly one spelling is
//! valid, a link works once even when sent many times at once in several spellings, and
//! an account an administrator deactivated is not re-activated by any link.

mod support;

use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::{json, Value};
use support::mail::{link, token_error, MailApp};

/// Other spellings of the link `(uid, token)` that decode to the same user and time.
fn aliases(uid: &str, token: &str) -> Vec<(String, String)> {
    let (ts, mac) = token.split_once('-').unwrap();
    vec![
        (uid.to_owned(), format!("{}-{mac}", ts.to_ascii_uppercase())),
        (uid.to_owned(), format!("0{ts}-{mac}")),
        (uid.to_owned(), format!("000{ts}-{mac}")),
        (uid.to_owned(), format!("{ts}-{}", mac.to_ascii_uppercase())),
        (format!("{uid}=="), token.to_owned()),
    ]
}

/// Sends `body(uid, token)` to `path` for the genuine link and each alias, `copies` times
/// each, all at once; returns the statuses.
async fn all_at_once(
    t: &MailApp,
    path: &str,
    uid: &str,
    token: &str,
    copies: usize,
    body: impl Fn(&str, &str) -> Value,
) -> Vec<StatusCode> {
    let mut spellings = vec![(uid.to_owned(), token.to_owned())];
    spellings.extend(aliases(uid, token));
    let requests = (0..copies).flat_map(|_| spellings.clone()).map(|(u, k)| {
        let body = body(&u, &k);
        async move { t.post(path, None, body).await.0 }
    });
    join_all(requests).await
}

/// These tests send one link many times at once: the credential throttles (which would
/// answer 429 after ten failed link attempts per account) are off, so what refuses the
/// copies is the link's own single use.
fn no_link_throttles(config: &mut lendbook::config::Config) {
    for scope in [
        "password_reset_confirm",
        "password_reset_confirm_account",
        "activation",
        "activation_account",
    ] {
        config.throttle.scopes.insert(scope.into(), "off".into());
    }
}

fn exactly_one_success(statuses: &[StatusCode]) {
    let ok = statuses.iter().filter(|s| s.is_success()).count();
    assert_eq!(ok, 1, "{statuses:?}");
    assert!(
        statuses
            .iter()
            .all(|s| s.is_success() || *s == StatusCode::BAD_REQUEST),
        "{statuses:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn only_the_issued_spelling_of_a_link_is_valid() {
    let mut t = MailApp::spawn(no_link_throttles).await;
    t.register("ann", "ann@example.com").await;
    t.post(
        "/api/auth/users/reset_password/",
        None,
        json!({"email": "ann@example.com"}),
    )
    .await;
    let (uid, token) = link(&t.next_mail().await, "password/reset/confirm");
    for (u, k) in aliases(&uid, &token) {
        let (status, body) = t
            .post(
                "/api/auth/users/reset_password_confirm/",
                None,
                json!({"uid": u, "token": k, "new_password": "Alias-Stapler-42-pony"}),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{u} {k}: {body}");
    }
    // Had an alias worked, the password (which links are bound to) would have changed and
    // the genuine link would be dead now.
    let (status, _) = t
        .post(
            "/api/auth/users/reset_password_confirm/",
            None,
            json!({"uid": uid, "token": token, "new_password": "Real-Stapler-42-pony"}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reset_link_sent_many_times_at_once_works_once() {
    let mut t = MailApp::spawn(no_link_throttles).await;
    t.register("bea", "bea@example.com").await;
    t.post(
        "/api/auth/users/reset_password/",
        None,
        json!({"email": "bea@example.com"}),
    )
    .await;
    let (uid, token) = link(&t.next_mail().await, "password/reset/confirm");
    let statuses = all_at_once(
        &t,
        "/api/auth/users/reset_password_confirm/",
        &uid,
        &token,
        3,
        |u, k| json!({"uid": u, "token": k, "new_password": "Parallel-Stapler-42-pony"}),
    )
    .await;
    exactly_one_success(&statuses);
    // And never again, in any spelling.
    let statuses = all_at_once(
        &t,
        "/api/auth/users/reset_password_confirm/",
        &uid,
        &token,
        1,
        |u, k| json!({"uid": u, "token": k, "new_password": "Again-Stapler-42-pony"}),
    )
    .await;
    assert!(
        statuses.iter().all(|s| *s == StatusCode::BAD_REQUEST),
        "{statuses:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_username_reset_link_sent_many_times_at_once_works_once() {
    let mut t = MailApp::spawn(no_link_throttles).await;
    t.register("cyd", "cyd@example.com").await;
    t.post(
        "/api/auth/users/reset_username/",
        None,
        json!({"email": "cyd@example.com"}),
    )
    .await;
    let (uid, token) = link(&t.next_mail().await, "username/reset/confirm");
    let n = std::sync::atomic::AtomicUsize::new(0);
    let statuses = all_at_once(
        &t,
        "/api/auth/users/reset_username_confirm/",
        &uid,
        &token,
        3,
        |u, k| {
            let i = n.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            json!({"uid": u, "token": k, "new_username": format!("cyd{i}")})
        },
    )
    .await;
    exactly_one_success(&statuses);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_activation_link_sent_many_times_at_once_works_once() {
    let mut t = MailApp::spawn(|c| {
        no_link_throttles(c);
        c.accounts.send_activation_email = true;
    })
    .await;
    t.register("dee", "dee@example.com").await;
    let (uid, token) = link(&t.next_mail().await, "activate");
    let statuses = all_at_once(
        &t,
        "/api/auth/users/activation/",
        &uid,
        &token,
        3,
        |u, k| json!({"uid": u, "token": k}),
    )
    .await;
    // The losers read 400 (or djoser's 403 "Stale token" once the account is active).
    let ok = statuses.iter().filter(|s| s.is_success()).count();
    assert_eq!(ok, 1, "{statuses:?}");
    assert!(
        statuses.iter().all(|s| s.is_success()
            || *s == StatusCode::BAD_REQUEST
            || *s == StatusCode::FORBIDDEN),
        "{statuses:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn no_link_undoes_an_administrators_deactivation() {
    let mut t = MailApp::spawn(|c| {
        no_link_throttles(c);
        c.accounts.send_activation_email = true;
    })
    .await;
    let activate = |u: &str, k: &str| json!({"uid": u, "token": k});

    // Activated, then deactivated by an administrator: neither the used link (in any
    // spelling) nor a new one from resend_activation brings the account back.
    let eve = t.register("eve", "eve@example.com").await;
    let (uid, token) = link(&t.next_mail().await, "activate");
    let (status, _) = t
        .post("/api/auth/users/activation/", None, activate(&uid, &token))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let users = t.app.state.auth.users().clone();
    users.set_active(eve, false).await.unwrap();
    t.app.state.auth.user_changed(eve).await;
    let mut spellings = vec![(uid.clone(), token.clone())];
    spellings.extend(aliases(&uid, &token));
    for (u, k) in &spellings {
        let (status, body) = t
            .post("/api/auth/users/activation/", None, activate(u, k))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{u} {k}: {body}");
    }
    let (status, _) = t
        .post(
            "/api/auth/users/resend_activation/",
            None,
            json!({"email": "eve@example.com"}),
        )
        .await;
    // djoser's answer does not tell whether a mail went out.
    assert_eq!(status, StatusCode::NO_CONTENT);
    t.no_mail().await;
    assert!(!users.by_id(eve).await.unwrap().unwrap().is_active);

    // Deactivated by an administrator before ever activating: same.
    let fay = t.register("fay", "fay@example.com").await;
    let (uid, token) = link(&t.next_mail().await, "activate");
    users.set_active(fay, false).await.unwrap();
    t.app.state.auth.user_changed(fay).await;
    let (status, body) = t
        .post("/api/auth/users/activation/", None, activate(&uid, &token))
        .await;
    assert_eq!((status, body), (StatusCode::BAD_REQUEST, token_error()));
    t.post(
        "/api/auth/users/resend_activation/",
        None,
        json!({"email": "fay@example.com"}),
    )
    .await;
    t.no_mail().await;
    assert!(!users.by_id(fay).await.unwrap().unwrap().is_active);

    // Never activated: resend works, and its link does.
    t.register("gil", "gil@example.com").await;
    t.next_mail().await;
    t.post(
        "/api/auth/users/resend_activation/",
        None,
        json!({"email": "gil@example.com"}),
    )
    .await;
    let (uid, token) = link(&t.next_mail().await, "activate");
    let (status, _) = t
        .post("/api/auth/users/activation/", None, activate(&uid, &token))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    // Following it again reads djoser's 403 "Stale token for given user.".
    let (status, body) = t
        .post("/api/auth/users/activation/", None, activate(&uid, &token))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
}
