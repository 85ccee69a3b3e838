//! Throttling as DRF does it (429, its text, `Retry-After`), on every credential endpoint
//! per client address and per target account, the global and scoped rates, the counters
//! shared through Redis and PostgreSQL, and the fallback when Redis is down. Clients are
//! played by binding to different loopback addresses (127.0.0.2 and up).

mod support;

use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum_drf::auth::NewUser;
use lendbook::config::Config;
use reqwest::StatusCode;
use serde_json::{json, Value};
use support::{client_from, loopback, TestApp};

const PASSWORD: &str = "correct-Horse-7-battery";
const NEW_PASSWORD: &str = "Another-Stapler-42-pony";

fn set_rates(config: &mut Config, rates: &[(&str, &str)]) {
    for (scope, rate) in rates {
        config
            .throttle
            .scopes
            .insert((*scope).to_owned(), (*rate).to_owned());
    }
}

/// Status, JSON body and `Retry-After` of one request.
struct Answer {
    status: StatusCode,
    body: Value,
    retry_after: Option<u64>,
}

async fn send(
    app: &TestApp,
    from: IpAddr,
    method: reqwest::Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Answer {
    let mut req = client_from(from).request(method, app.url(path));
    if let Some(t) = token {
        req = req.header("Authorization", format!("Token {t}"));
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.expect("request");
    let status = r.status();
    let retry_after = r.headers().get("retry-after").map(|v| {
        v.to_str()
            .unwrap()
            .parse()
            .expect("Retry-After is a number")
    });
    let text = r.text().await.unwrap();
    Answer {
        status,
        body: serde_json::from_str(&text).unwrap_or(Value::Null),
        retry_after,
    }
}

async fn post(app: &TestApp, from: IpAddr, path: &str, token: Option<&str>, body: Value) -> Answer {
    send(app, from, reqwest::Method::POST, path, token, Some(body)).await
}

async fn get(app: &TestApp, from: IpAddr, path: &str, token: Option<&str>) -> Answer {
    send(app, from, reqwest::Method::GET, path, token, None).await
}

/// Asserts DRF's 429: `{"detail": "Request was throttled. Expected available in N
/// seconds."}` with `Retry-After: N`, N within `(low, high]`.
fn assert_throttled(a: &Answer, low: u64, high: u64) {
    assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS, "{}", a.body);
    let n = a.retry_after.expect("Retry-After");
    assert!(
        n > low && n <= high,
        "Retry-After {n} not in ({low}, {high}]"
    );
    let unit = if n == 1 { "second" } else { "seconds" };
    assert_eq!(
        a.body,
        json!({"detail": format!("Request was throttled. Expected available in {n} {unit}.")})
    );
}

/// An active user created directly (activation may be on), logged in: (id, token).
async fn active_user(app: &TestApp, username: &str, email: &str) -> (i64, String) {
    let hash = app.state.auth.hash_password(PASSWORD).await.unwrap();
    let user = app
        .state
        .auth
        .users()
        .create(&NewUser {
            username: username.into(),
            email: email.into(),
            password_hash: hash,
            is_active: true,
            ..NewUser::default()
        })
        .await
        .unwrap();
    let a = post(
        app,
        loopback(250),
        "/api/auth/token/login/",
        None,
        json!({"username": username, "password": PASSWORD}),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    (user.id, a.body["auth_token"].as_str().unwrap().to_owned())
}

// ---- every credential endpoint: per client, per account, not locking the user out ----

/// One credential endpoint: its path, the scope it is limited under, whether it needs the
/// user's token, and the n-th request's body (for an account that exists).
struct Endpoint {
    path: &'static str,
    scope: &'static str,
    authenticated: bool,
    body: fn(usize) -> Value,
    /// What an allowed request answers (a failure for guesses, a success for mails).
    allowed: StatusCode,
}

/// The server (with the mail directory it writes to, removed when dropped) and the token
/// to send, if the endpoint needs one.
async fn endpoint_app(
    ep: &Endpoint,
    rates: &[(&str, &str)],
) -> (TestApp, tempfile::TempDir, Option<String>) {
    let mail = tempfile::tempdir().unwrap();
    let dir = mail.path().to_owned();
    let app = TestApp::spawn_with(|config| {
        config.email.file_dir = Some(dir);
        config.accounts.send_activation_email = true;
        set_rates(config, rates);
    })
    .await;
    let (_, token) = active_user(&app, "alice", "alice@example.com").await;
    // An inactive account for resend_activation.
    let hash = app.state.auth.hash_password(PASSWORD).await.unwrap();
    app.state
        .auth
        .users()
        .create(&NewUser {
            username: "ivy".into(),
            email: "ivy@example.com".into(),
            password_hash: hash,
            is_active: false,
            ..NewUser::default()
        })
        .await
        .unwrap();
    (app, mail, ep.authenticated.then_some(token))
}

/// Per client: `<scope> = 2/min` lets two requests through, the third gets DRF's 429,
/// and another address is not affected.
async fn limited_per_client(ep: Endpoint) {
    let account = format!("{}_account", ep.scope);
    let (app, _mail, token) = endpoint_app(&ep, &[(ep.scope, "2/min"), (&account, "off")]).await;
    let me = loopback(2);
    for n in 0..2 {
        let a = post(&app, me, ep.path, token.as_deref(), (ep.body)(n)).await;
        assert_eq!(a.status, ep.allowed, "{}: {}", ep.path, a.body);
    }
    let a = post(&app, me, ep.path, token.as_deref(), (ep.body)(2)).await;
    assert_throttled(&a, 50, 60);
    if !ep.authenticated {
        // Anonymous clients are told apart by address; a user by id, wherever they are.
        let other = post(&app, loopback(3), ep.path, None, (ep.body)(3)).await;
        assert_eq!(other.status, ep.allowed, "{}: {}", ep.path, other.body);
    }
}

/// Per account: with `<scope>_account = 1/hour`, once the account's allowance is spent a
/// client that spent on it is refused (from any address it spent from), while a client that
/// has not still gets through — so attackers cannot lock the real user out.
async fn limited_per_account(ep: Endpoint) {
    let account = format!("{}_account", ep.scope);
    let (app, _mail, token) = endpoint_app(&ep, &[(ep.scope, "off"), (&account, "1/hour")]).await;
    let token = token.as_deref();
    let a = post(&app, loopback(2), ep.path, token, (ep.body)(0)).await;
    assert_eq!(a.status, ep.allowed, "{}: {}", ep.path, a.body);
    // A fresh address gets its one attempt even though the account's allowance is spent.
    let b = post(&app, loopback(3), ep.path, token, (ep.body)(1)).await;
    assert_eq!(b.status, ep.allowed, "{}: {}", ep.path, b.body);
    // The addresses that spent are refused until the period ends.
    for (ip, n) in [(2, 2), (3, 3)] {
        let again = post(&app, loopback(ip), ep.path, token, (ep.body)(n)).await;
        assert_throttled(&again, 3500, 3600);
    }
    let fresh = post(&app, loopback(4), ep.path, token, (ep.body)(4)).await;
    assert_ne!(
        fresh.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        fresh.body
    );
}

fn wrong_login(_: usize) -> Value {
    json!({"username": "alice", "password": "wrong-password"})
}

fn login_endpoint() -> Endpoint {
    Endpoint {
        path: "/api/login/",
        scope: "login",
        authenticated: false,
        body: wrong_login,
        allowed: StatusCode::BAD_REQUEST,
    }
}

fn token_login_endpoint() -> Endpoint {
    Endpoint {
        path: "/api/auth/token/login/",
        scope: "login",
        authenticated: false,
        body: wrong_login,
        allowed: StatusCode::BAD_REQUEST,
    }
}

fn register_endpoint() -> Endpoint {
    Endpoint {
        path: "/api/auth/users/",
        scope: "register",
        authenticated: false,
        body: |n| json!({"username": format!("new{n}"), "password": PASSWORD, "email": "new@example.com"}),
        allowed: StatusCode::CREATED,
    }
}

fn set_password_endpoint() -> Endpoint {
    Endpoint {
        path: "/api/auth/users/set_password/",
        scope: "set_password",
        authenticated: true,
        body: |_| json!({"current_password": "wrong-password", "new_password": NEW_PASSWORD}),
        allowed: StatusCode::BAD_REQUEST,
    }
}

fn set_username_endpoint() -> Endpoint {
    Endpoint {
        path: "/api/auth/users/set_username/",
        scope: "set_password",
        authenticated: true,
        body: |n| json!({"current_password": "wrong-password", "new_username": format!("al{n}")}),
        allowed: StatusCode::BAD_REQUEST,
    }
}

fn reset_password_endpoint() -> Endpoint {
    Endpoint {
        path: "/api/auth/users/reset_password/",
        scope: "password_reset",
        authenticated: false,
        body: |_| json!({"email": "alice@example.com"}),
        allowed: StatusCode::NO_CONTENT,
    }
}

fn reset_username_endpoint() -> Endpoint {
    Endpoint {
        path: "/api/auth/users/reset_username/",
        scope: "password_reset",
        authenticated: false,
        // Addresses match case-insensitively, so the case does not make a new account.
        body: |n| {
            let email = if n % 2 == 0 {
                "alice@example.com"
            } else {
                "ALICE@example.com"
            };
            json!({ "email": email })
        },
        allowed: StatusCode::NO_CONTENT,
    }
}

fn reset_password_confirm_endpoint() -> Endpoint {
    Endpoint {
        path: "/api/auth/users/reset_password_confirm/",
        scope: "password_reset_confirm",
        authenticated: false,
        body: |n| json!({"uid": "MQ", "token": format!("guess-{n}"), "new_password": NEW_PASSWORD}),
        allowed: StatusCode::BAD_REQUEST,
    }
}

fn reset_username_confirm_endpoint() -> Endpoint {
    Endpoint {
        path: "/api/auth/users/reset_username_confirm/",
        scope: "password_reset_confirm",
        authenticated: false,
        body: |n| json!({"uid": "MQ", "token": format!("guess-{n}"), "new_username": "zed"}),
        allowed: StatusCode::BAD_REQUEST,
    }
}

fn activation_endpoint() -> Endpoint {
    Endpoint {
        path: "/api/auth/users/activation/",
        scope: "activation",
        authenticated: false,
        body: |n| json!({"uid": "Mg", "token": format!("guess-{n}")}),
        allowed: StatusCode::BAD_REQUEST,
    }
}

fn resend_activation_endpoint() -> Endpoint {
    Endpoint {
        path: "/api/auth/users/resend_activation/",
        scope: "resend_activation",
        authenticated: false,
        body: |_| json!({"email": "ivy@example.com"}),
        allowed: StatusCode::NO_CONTENT,
    }
}

macro_rules! endpoint_tests {
    ($($endpoint:ident => $per_client:ident, $per_account:ident;)*) => {$(
        #[tokio::test]
        async fn $per_client() {
            limited_per_client($endpoint()).await;
        }
        #[tokio::test]
        async fn $per_account() {
            limited_per_account($endpoint()).await;
        }
    )*};
}

endpoint_tests! {
    login_endpoint => login_per_client, login_per_account;
    token_login_endpoint => token_login_per_client, token_login_per_account;
    register_endpoint => register_per_client, register_per_account;
    set_password_endpoint => set_password_per_client, set_password_per_account;
    set_username_endpoint => set_username_per_client, set_username_per_account;
    reset_password_endpoint => reset_password_per_client, reset_password_per_account;
    reset_username_endpoint => reset_username_per_client, reset_username_per_account;
    reset_password_confirm_endpoint => reset_password_confirm_per_client, reset_password_confirm_per_account;
    reset_username_confirm_endpoint => reset_username_confirm_per_client, reset_username_confirm_per_account;
    activation_endpoint => activation_per_client, activation_per_account;
    resend_activation_endpoint => resend_activation_per_client, resend_activation_per_account;
}

/// The default limits: guesses at one account from many addresses stop after
/// `login_account` (10/hour) plus one per fresh address, and the real user — who has not
/// failed — still logs in; successes never count.
#[tokio::test]
async fn guessing_at_one_account_from_many_addresses_does_not_lock_the_user_out() {
    let app = TestApp::spawn().await;
    active_user(&app, "alice", "alice@example.com").await;
    let wrong = json!({"username": "alice", "password": "wrong-password"});
    let right = json!({"username": "alice", "password": PASSWORD});
    // Successes first: they spend nothing.
    for _ in 0..12 {
        let a = post(&app, loopback(20), "/api/login/", None, right.clone()).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    }
    for ip in 2..12 {
        let a = post(&app, loopback(ip), "/api/login/", None, wrong.clone()).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{}", a.body);
    }
    // Every address that guessed is refused now, even with the right password.
    for ip in 2..12 {
        let a = post(
            &app,
            loopback(ip),
            "/api/auth/token/login/",
            None,
            right.clone(),
        )
        .await;
        assert_throttled(&a, 3500, 3600);
    }
    // The real user, who has not failed, is not locked out; a fresh attacker gets one guess.
    let user = post(&app, loopback(20), "/api/login/", None, right.clone()).await;
    assert_eq!(user.status, StatusCode::OK, "{}", user.body);
    let fresh = post(&app, loopback(30), "/api/login/", None, wrong.clone()).await;
    assert_eq!(fresh.status, StatusCode::BAD_REQUEST);
    let again = post(&app, loopback(30), "/api/login/", None, wrong).await;
    assert_throttled(&again, 3500, 3600);
    // Another account is untouched.
    active_user(&app, "bob", "bob@example.com").await;
    let bob = json!({"username": "bob", "password": PASSWORD});
    let a = post(&app, loopback(2), "/api/login/", None, bob).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
}

// ---- mail ----

fn mails(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
                .count()
        })
        .unwrap_or(0)
}

/// Waits until `dir` holds `expected` mails, then a moment more to catch any extra.
async fn settled_mails(dir: &std::path::Path, expected: usize) -> usize {
    for _ in 0..200 {
        if mails(dir) >= expected {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    mails(dir)
}

/// Two accounts share an address (Django does not make emails unique; they match
/// case-insensitively): a reset request used to mail both — 30 requests, 60 mails.
#[tokio::test]
async fn a_reset_request_sends_one_mail_when_accounts_share_the_address() {
    let mail = tempfile::tempdir().unwrap();
    let dir = mail.path().to_owned();
    let app = TestApp::spawn_with(|c| c.email.file_dir = Some(dir)).await;
    active_user(&app, "alice", "alice@example.com").await;
    active_user(&app, "alice2", "Alice@Example.com").await;
    for path in ["reset_password", "reset_username"] {
        let a = post(
            &app,
            loopback(2),
            &format!("/api/auth/users/{path}/"),
            None,
            json!({"email": "alice@example.com"}),
        )
        .await;
        assert_eq!(a.status, StatusCode::NO_CONTENT);
    }
    assert_eq!(settled_mails(mail.path(), 2).await, 2);
    let text = std::fs::read_dir(mail.path())
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect::<String>();
    // The account with exactly that address.
    assert!(text.contains("To: alice@example.com"), "{text}");
    assert!(!text.contains("Alice@Example.com"), "{text}");
}

/// With the defaults, repeated reset requests for one address send three mails an hour
/// and nothing past that.
#[tokio::test]
async fn reset_requests_past_the_limit_send_no_mail() {
    let mail = tempfile::tempdir().unwrap();
    let dir = mail.path().to_owned();
    let app = TestApp::spawn_with(|c| c.email.file_dir = Some(dir)).await;
    active_user(&app, "alice", "alice@example.com").await;
    let mut statuses = Vec::new();
    for _ in 0..10 {
        let a = post(
            &app,
            loopback(2),
            "/api/auth/users/reset_password/",
            None,
            json!({"email": "alice@example.com"}),
        )
        .await;
        statuses.push(a.status.as_u16());
    }
    assert_eq!(statuses, [204, 204, 204, 429, 429, 429, 429, 429, 429, 429]);
    assert_eq!(settled_mails(mail.path(), 3).await, 3);
}

// ---- DRF's global and scoped rates ----

#[tokio::test]
async fn global_anon_and_user_rates_and_resource_scopes() {
    let app = TestApp::spawn_with(|c| {
        c.throttle.anon = Some("2/min".into());
        c.throttle.user = Some("5/min".into());
        set_rates(c, &[("friends", "1/min")]);
    })
    .await;
    let (_, token) = app.user_with_token("alice").await;
    let me = loopback(2);
    for _ in 0..2 {
        assert_eq!(get(&app, me, "/api/public/", None).await.status, 200);
    }
    assert_throttled(&get(&app, me, "/api/public/", None).await, 50, 60);
    // Anonymous requests where permissions refuse them never reach the throttles (DRF's
    // order): 401, not 429.
    let a = get(&app, me, "/api/private/", None).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    // The anon rate does not apply to a user; the user rate does, per user.
    let t = Some(token.as_str());
    assert_eq!(get(&app, me, "/api/v1/friends/", t).await.status, 200);
    // The `friends` scope: its second request within the minute.
    assert_throttled(&get(&app, me, "/api/v1/friends/", t).await, 50, 60);
    assert_eq!(get(&app, me, "/api/v1/belongings/", t).await.status, 200);
    assert_eq!(get(&app, me, "/api/private/", t).await.status, 200);
    // Five user requests counted so far (friends twice, belongings, private... and the
    // throttled one was counted by the user throttle, as in DRF); the next is refused.
    let mut last = get(&app, me, "/api/private/", t).await;
    for _ in 0..3 {
        if last.status == StatusCode::TOO_MANY_REQUESTS {
            break;
        }
        last = get(&app, me, "/api/private/", t).await;
    }
    assert_throttled(&last, 50, 60);
    // A user's limit is theirs wherever they come from.
    assert_throttled(&get(&app, loopback(3), "/api/private/", t).await, 50, 60);
}

/// A wrong login from 127.0.0.2 saying, in `X-Forwarded-For`, that it forwards `xff`.
async fn login(app: &TestApp, xff: &str) -> StatusCode {
    let req = client_from(loopback(2))
        .post(app.url("/api/login/"))
        .header("X-Forwarded-For", xff)
        .json(&json!({"username": "nobody", "password": "x"}));
    req.send().await.unwrap().status()
}

/// `GET /api/public/` from 127.0.0.2 forwarding `xff`.
async fn public(app: &TestApp, xff: &str) -> StatusCode {
    let req = client_from(loopback(2))
        .get(app.url("/api/public/"))
        .header("X-Forwarded-For", xff);
    req.send().await.unwrap().status()
}

/// Behind a trusted proxy the client is the `X-Forwarded-For` address; from anyone else the
/// header is ignored (a client cannot pick a fresh identity per request).
#[tokio::test]
async fn clients_are_told_apart_by_the_forwarded_address_only_from_trusted_proxies() {
    let trusting = TestApp::spawn_with(|c| {
        c.server.trusted_proxies = vec!["127.0.0.2".into()];
        set_rates(c, &[("login", "1/min")]);
    })
    .await;
    assert_eq!(login(&trusting, "203.0.113.7").await, 400);
    assert_eq!(login(&trusting, "203.0.113.7").await, 429);
    assert_eq!(login(&trusting, "203.0.113.8").await, 400);

    let untrusting = TestApp::spawn_with(|c| set_rates(c, &[("login", "1/min")])).await;
    assert_eq!(login(&untrusting, "203.0.113.7").await, 400);
    assert_eq!(login(&untrusting, "203.0.113.8").await, 429);
}

/// An IPv6 client is counted by its /64: a host holding one cannot take a fresh budget per
/// address (DRF keys the whole address).
#[tokio::test]
async fn ipv6_clients_are_counted_by_their_64() {
    let app = TestApp::spawn_with(|c| {
        c.server.trusted_proxies = vec!["127.0.0.2".into()];
        c.throttle.anon = Some("2/min".into());
        set_rates(c, &[("login", "1/min")]);
    })
    .await;
    assert_eq!(login(&app, "2001:db8:1:2::7").await, 400);
    assert_eq!(login(&app, "2001:db8:1:2:ffff::8").await, 429);
    assert_eq!(login(&app, "2001:db8:1:3::7").await, 400);
    // The anon rate too: the logins above were anonymous requests, two from the first /64
    // and one from the second.
    assert_eq!(public(&app, "2001:db8:1:2::1:1").await, 429);
    assert_eq!(public(&app, "2001:db8:1:3::1:1").await, 200);
    assert_eq!(public(&app, "2001:db8:1:3::1:2").await, 429);
    assert_eq!(public(&app, "2001:db8:1:4::1").await, 200);
}

/// The in-memory counters hold `memory_max_keys` histories: a new client that finds them
/// full drops the one nearest its end, which then starts afresh.
#[tokio::test]
async fn the_in_memory_counters_are_bounded() {
    let app = TestApp::spawn_with(|c| {
        c.server.trusted_proxies = vec!["127.0.0.2".into()];
        c.throttle.anon = Some("1/min".into());
        c.throttle.memory_max_keys = 2;
    })
    .await;
    if app.state.db.backend() == axum_drf::store::Backend::Postgres {
        return; // the counters live in the database there, not in memory
    }
    assert_eq!(public(&app, "203.0.113.1").await, 200);
    assert_eq!(public(&app, "203.0.113.2").await, 200);
    assert_eq!(public(&app, "203.0.113.1").await, 429);
    // A third client: the first's history ends soonest and goes.
    assert_eq!(public(&app, "203.0.113.3").await, 200);
    assert_eq!(public(&app, "203.0.113.2").await, 429);
    assert_eq!(public(&app, "203.0.113.1").await, 200);
}

// ---- shared counters ----

fn redis_prefix() -> String {
    format!("lendbook-test-{}:", hex::encode(rand::random::<[u8; 8]>()))
}

/// Two instances share one limit: requests to either count against it.
async fn assert_shared(first: &TestApp, second: &TestApp) {
    let me = loopback(2);
    let body = || json!({"username": "nobody", "password": "x"});
    assert_eq!(
        post(first, me, "/api/login/", None, body()).await.status,
        400
    );
    assert_eq!(
        post(second, me, "/api/login/", None, body()).await.status,
        400
    );
    assert_throttled(&post(first, me, "/api/login/", None, body()).await, 50, 60);
    assert_throttled(&post(second, me, "/api/login/", None, body()).await, 50, 60);
}

#[tokio::test]
async fn redis_shares_the_limit_between_instances() {
    let first = TestApp::spawn_with(|c| {
        c.throttle.redis_url = Some("redis://127.0.0.1:6379".into());
        c.throttle.redis_prefix = redis_prefix();
        set_rates(c, &[("login", "2/min")]);
    })
    .await;
    let second = first.another_instance().await;
    assert_shared(&first, &second).await;
}

#[tokio::test]
async fn postgres_shares_the_limit_between_instances() {
    if support::postgres_url().is_none() {
        eprintln!("skipped: DATABASE_URL is not PostgreSQL (the SQLite run counts in memory)");
        return;
    }
    let first = TestApp::spawn_with(|c| set_rates(c, &[("login", "2/min")])).await;
    let second = first.another_instance().await;
    assert_shared(&first, &second).await;
}

/// Without a shared store each instance counts alone (what the shared tests rule out).
#[tokio::test]
async fn memory_counters_are_per_instance() {
    if support::postgres_url().is_some() {
        eprintln!("skipped: on PostgreSQL the counters are shared through the database");
        return;
    }
    let first = TestApp::spawn_with(|c| set_rates(c, &[("login", "1/min")])).await;
    let second = first.another_instance().await;
    let me = loopback(2);
    let body = || json!({"username": "nobody", "password": "x"});
    assert_eq!(
        post(&first, me, "/api/login/", None, body()).await.status,
        400
    );
    assert_eq!(
        post(&second, me, "/api/login/", None, body()).await.status,
        400
    );
}

/// `n` wrong logins from `from` for a user that does not exist: each a 400, each spending
/// the client's allowance.
async fn spend_logins(app: &TestApp, from: IpAddr, n: usize) {
    for _ in 0..n {
        let body = json!({"username": "nobody", "password": "x"});
        assert_eq!(post(app, from, "/api/login/", None, body).await.status, 400);
    }
}

/// Log lines written while the test's (single-threaded) runtime runs the server.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<u8>>>);

impl Log {
    /// Captures this thread's INFO and above until the guard drops.
    fn capture() -> (Log, tracing::subscriber::DefaultGuard) {
        let log = Log::default();
        let writer = log.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .finish();
        (log, tracing::subscriber::set_default(subscriber))
    }

    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

impl std::io::Write for Log {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Redis on a closed port: the server keeps serving, throttles per instance, and says so.
#[tokio::test(flavor = "current_thread")]
async fn redis_down_falls_back_to_per_instance_counters_and_logs_it() {
    let (log, _guard) = Log::capture();
    // A port nobody listens on: bind one, note it, close it.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let app = TestApp::spawn_with(|c| {
        c.throttle.redis_url = Some(format!("redis://127.0.0.1:{port}"));
        c.throttle.redis_prefix = redis_prefix();
        set_rates(c, &[("login", "2/min")]);
    })
    .await;
    let me = loopback(2);
    assert_eq!(get(&app, me, "/api/public/", None).await.status, 200);
    let body = || json!({"username": "nobody", "password": "x"});
    spend_logins(&app, me, 2).await;
    // Other tests' threads may have cached a callsite's interest before this thread's
    // subscriber existed; recompute it so the throttle event reaches us.
    tracing::callsite::rebuild_interest_cache();
    assert_throttled(&post(&app, me, "/api/login/", None, body()).await, 50, 60);
    let text = log.text();
    assert!(
        text.contains("Redis unreachable; counting per instance"),
        "{text}"
    );
    assert_eq!(text.matches("Redis unreachable").count(), 1, "{text}");
    // Throttling is visible in the log, with the scope and the client, without the account.
    // (The failed logins' own audit lines name the account they tried; whether they reach
    // this thread's subscriber depends on which test cached their callsites first.)
    let throttled = text
        .lines()
        .find(|l| l.contains("request throttled"))
        .unwrap_or_else(|| panic!("no throttle line in {text}"));
    assert!(
        throttled.contains("scope=\"login\"") || throttled.contains("scope=login"),
        "{throttled}"
    );
    assert!(throttled.contains("client=127.0.0.2"), "{throttled}");
    assert!(!throttled.contains("nobody"), "{throttled}");
}

/// A flood of refused requests: every refusal counted in the metrics, but "request
/// throttled" written at most `Throttling::WARNINGS` times a second, the rest reported by
/// the next line let through (`suppressed=N`), so the log does not grow with the flood.
#[tokio::test(flavor = "current_thread")]
async fn a_flood_of_refusals_is_logged_within_a_budget_and_counted_in_full() {
    let (log, _guard) = Log::capture();
    let app = TestApp::spawn_with(|c| set_rates(c, &[("login", "2/min")])).await;
    let me = loopback(7);
    let body = || json!({"username": "nobody", "password": "x"});
    spend_logins(&app, me, 2).await;
    tracing::callsite::rebuild_interest_cache();
    let flood = 100;
    for _ in 0..flood {
        assert_eq!(
            post(&app, me, "/api/login/", None, body()).await.status,
            StatusCode::TOO_MANY_REQUESTS
        );
    }
    // The window turns: the next refusal's line carries the count of those left out.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_throttled(&post(&app, me, "/api/login/", None, body()).await, 0, 60);

    let text = log.text();
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("request throttled"))
        .collect();
    let budget = axum_drf::throttling::Throttling::WARNINGS as usize;
    // However slow this machine, 100 requests do not take five seconds' worth of windows.
    assert!(
        !lines.is_empty() && lines.len() <= 5 * budget,
        "{} lines for {} refusals:\n{text}",
        lines.len(),
        flood + 1
    );
    let suppressed: usize = lines
        .iter()
        .map(|l| {
            let n = l.split("suppressed=").nth(1).expect("suppressed=N");
            n.split(' ').next().unwrap().parse::<usize>().unwrap()
        })
        .sum();
    assert_eq!(lines.len() + suppressed, flood + 1, "{text}");
    assert!(lines.last().unwrap().contains("client=127.0.0.7"), "{text}");

    // Every refusal is in the metrics, by scope.
    let metrics = reqwest::get(app.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let counted: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix(r#"http_throttled_requests_total{scope="login"} "#))
        .unwrap_or_else(|| panic!("no throttled count in {metrics}"))
        .parse()
        .unwrap();
    // The recorder is process-wide: other tests' refusals may add to it.
    assert!(counted >= (flood + 1) as f64, "{counted}");
}

/// By default a refusal is held for a second before its 429 (`[throttle] refusal_delay`):
/// eight connections that each send their next login as soon as the last is answered get
/// about one refusal a second each, not as many as the server can answer, and
/// `Retry-After` counts from the answer. Requests that are let through are not held.
#[tokio::test]
async fn a_flood_of_refused_logins_is_held_to_one_refusal_a_second_per_connection() {
    assert_eq!(Config::default().throttle.refusal_delay, 1.0);
    let app = TestApp::spawn_with(|c| {
        set_rates(c, &[("login", "1/min")]);
        c.throttle.refusal_delay = Config::default().throttle.refusal_delay;
    })
    .await;
    let me = loopback(2);
    let started = std::time::Instant::now();
    spend_logins(&app, me, 1).await;
    assert!(started.elapsed() < Duration::from_millis(900), "not held");

    let flood = (0..8).map(|_| async {
        let mut answers = Vec::new();
        let started = std::time::Instant::now();
        while started.elapsed() < Duration::from_millis(2500) {
            let body = json!({"username": "nobody", "password": "x"});
            answers.push(post(&app, me, "/api/login/", None, body).await);
        }
        answers
    });
    let answers: Vec<Answer> = futures::future::join_all(flood)
        .await
        .into_iter()
        .flatten()
        .collect();
    // 2.5 s on 8 connections at one refusal a second: 3 each at most, 24 in all (answered
    // at once, they would be thousands).
    assert!(
        (16..=24).contains(&answers.len()),
        "{} refusals",
        answers.len()
    );
    for a in &answers {
        // The wait was under 60 s when decided, less the second it was held.
        assert_throttled(a, 50, 59);
    }
}
