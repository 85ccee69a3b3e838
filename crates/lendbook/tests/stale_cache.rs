//! The credential cache never outlives an invalidation: a request that read the database
//! before a logout / password change / deactivation / deletion committed must not put its
//! result into the cache after the invalidation cleared it. Many trials of "readers
//! hammering while the credential ends": no request sent after the invalidation returned
//! may be accepted.

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum_drf::auth::{NewUser, User};
use reqwest::{Client, RequestBuilder, StatusCode};
use support::TestApp;

const READERS: usize = 6;
const CSRF: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

/// Which credential the readers present.
#[derive(Clone)]
enum Cred {
    Token(String),
    Session(String),
}

impl Cred {
    fn apply(&self, req: RequestBuilder) -> RequestBuilder {
        match self {
            Cred::Token(t) => req.header("Authorization", format!("Token {t}")),
            Cred::Session(s) => req.header("Cookie", format!("sessionid={s}; csrftoken={CSRF}")),
        }
    }
}

/// Runs one trial: readers send `GET /api/private/` with `cred` until told to stop;
/// `invalidate` runs while they do. Returns how many requests sent after `invalidate`
/// returned were still accepted (must be 0).
async fn trial<F, Fut>(app: &TestApp, client: &Client, cred: Cred, invalidate: F) -> usize
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let stop = Arc::new(AtomicBool::new(false));
    let log: Arc<Mutex<Vec<(Instant, StatusCode)>>> = Arc::default();
    let readers: Vec<_> = (0..READERS)
        .map(|_| {
            let (stop, log, client, cred) =
                (stop.clone(), log.clone(), client.clone(), cred.clone());
            let url = app.url("/api/private/");
            tokio::spawn(async move {
                while !stop.load(Ordering::Acquire) {
                    let sent = Instant::now();
                    let status = cred.apply(client.get(&url)).send().await.unwrap().status();
                    log.lock().unwrap().push((sent, status));
                }
            })
        })
        .collect();
    // Let the readers get going (and the credential get cached) before it ends.
    tokio::time::sleep(Duration::from_millis(4 + rand::random::<u64>() % 4)).await;
    invalidate().await;
    let answered = Instant::now();
    tokio::time::sleep(Duration::from_millis(40)).await;
    stop.store(true, Ordering::Release);
    for r in readers {
        r.await.unwrap();
    }
    let log = log.lock().unwrap();
    log.iter()
        .filter(|(sent, status)| *sent > answered && *status == StatusCode::OK)
        .count()
}

async fn new_user(app: &TestApp, name: &str) -> User {
    app.state
        .auth
        .users()
        .create(&NewUser {
            username: name.into(),
            // Never logged in with: the trials authenticate with issued credentials.
            password_hash: "!unusable".into(),
            is_active: true,
            ..NewUser::default()
        })
        .await
        .unwrap()
}

async fn token_for(app: &TestApp, id: i64) -> String {
    let user = app.state.auth.users().by_id(id).await.unwrap().unwrap();
    let key = app.state.auth.issue_token(&user).await.unwrap();
    key.expose().to_owned()
}

async fn session_for(app: &TestApp, id: i64) -> String {
    let user = app.state.auth.users().by_id(id).await.unwrap().unwrap();
    app.state
        .auth
        .start_session(&user, None)
        .await
        .unwrap()
        .session_key
}

async fn spawn() -> (TestApp, Client) {
    let app = TestApp::spawn().await;
    // PostgreSQL: the cache is on only once the invalidation listener has subscribed.
    tokio::time::sleep(Duration::from_millis(500)).await;
    (app, Client::new())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_request_is_accepted_after_logout_answered() {
    let (app, client) = spawn().await;
    let user = new_user(&app, "racer").await;
    let mut stale = Vec::new();
    for i in 0..150 {
        let token = token_for(&app, user.id).await;
        let n = trial(&app, &client, Cred::Token(token.clone()), || async {
            let r = client
                .post(app.url("/api/auth/token/logout/"))
                .header("Authorization", format!("Token {token}"))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::NO_CONTENT);
        })
        .await;
        if n > 0 {
            stale.push(("token", i, n));
        }
        let session = session_for(&app, user.id).await;
        let n = trial(&app, &client, Cred::Session(session.clone()), || async {
            let r = client
                .post(app.url("/api/logout/"))
                .header("Cookie", format!("sessionid={session}; csrftoken={CSRF}"))
                .header("X-CSRFToken", CSRF)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::OK);
        })
        .await;
        if n > 0 {
            stale.push(("session", i, n));
        }
    }
    assert!(
        stale.is_empty(),
        "accepted after logout answered (path, trial, requests): {stale:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_request_is_accepted_after_password_change_deactivation_or_deletion() {
    let (app, client) = spawn().await;
    let auth = &app.state.auth;
    let mut stale = Vec::new();
    for i in 0..40 {
        for kind in ["password", "deactivation", "deletion"] {
            for path in ["token", "session"] {
                let user = new_user(&app, &format!("u{i}{kind}{path}")).await;
                let cred = match path {
                    "token" => Cred::Token(token_for(&app, user.id).await),
                    _ => Cred::Session(session_for(&app, user.id).await),
                };
                let id = user.id;
                let n = trial(&app, &client, cred, || async move {
                    match kind {
                        "password" => {
                            // Sessions end on a password change on every version; tokens
                            // too once revocation is on (the default).
                            auth.users()
                                .set_password_hash(id, "!changed")
                                .await
                                .unwrap();
                            auth.end_user_sessions(id).await.unwrap();
                            if path == "token" {
                                auth.revoke_token(id).await.unwrap();
                            }
                        }
                        "deactivation" => {
                            auth.users().set_active(id, false).await.unwrap();
                            auth.user_changed(id).await;
                        }
                        _ => {
                            auth.users().delete(id).await.unwrap();
                            auth.user_changed(id).await;
                        }
                    }
                })
                .await;
                if n > 0 {
                    stale.push((kind, path, i, n));
                }
            }
        }
    }
    assert!(
        stale.is_empty(),
        "accepted after the invalidation returned (kind, path, trial, requests): {stale:?}"
    );
}
