//! The audit log (`auth_event`, `lendbook audit`, `[audit] retention_days`): what is
//! recorded, that nothing secret reaches it or the log output, that the hot path writes
//! nothing, and that a clean shutdown loses nothing.

mod support;

use axum_drf::auth::{AuthEvent, AuthEventKind};
use serde_json::{json, Value};
use support::{Api, TestApp};

const PASSWORD: &str = "correct-Horse-7-battery";
const NEW_PASSWORD: &str = "another-Stable-9-horse";

/// Every stored event as JSON objects, oldest first, after the queue is written.
async fn events(app: &TestApp) -> Vec<Value> {
    app.state.auth.audit_log().flush().await;
    stored_events(app).await
}

async fn stored_events(app: &TestApp) -> Vec<Value> {
    let rows = app
        .state
        .db
        .query(
            "SELECT kind, user_id, username, reason, detail, client_ip, user_agent, at \
             FROM auth_event ORDER BY id",
            vec![],
        )
        .await
        .unwrap();
    rows.iter()
        .map(|r| {
            let text = |i: usize| match &r.0[i] {
                axum_drf::store::Value::Text(t) => json!(t),
                axum_drf::store::Value::Int(n) => json!(n),
                _ => Value::Null,
            };
            json!({
                "kind": text(0), "user_id": text(1), "username": text(2), "reason": text(3),
                "detail": text(4), "client_ip": text(5), "user_agent": text(6), "at": text(7),
            })
        })
        .collect()
}

fn kinds(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["kind"].as_str().unwrap()).collect()
}

async fn post(
    client: &reqwest::Client,
    url: String,
    token: Option<&str>,
    body: Value,
) -> (u16, Value) {
    let mut req = client.post(url).json(&body);
    if let Some(t) = token {
        req = req.header("Authorization", format!("Token {t}"));
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread")]
async fn account_flow_is_audited_with_client_and_reason_and_no_secret() {
    let app = TestApp::spawn().await;
    let long_agent = format!("flow-test/1.0 {}", "x".repeat(1000));
    let client = reqwest::Client::builder()
        .user_agent(long_agent.clone())
        .build()
        .unwrap();
    let url = |p: &str| app.url(p);
    post(
        &client,
        url("/api/auth/users/"),
        None,
        json!({"username": "alice", "password": PASSWORD, "email": "a@example.com"}),
    )
    .await;
    // Failures: unknown user, bad password (both the seed and djoser logins).
    let (status, _) = post(
        &client,
        url("/api/login/"),
        None,
        json!({"username": "nobody", "password": PASSWORD}),
    )
    .await;
    assert_eq!(status, 400);
    let (status, _) = post(
        &client,
        url("/api/auth/token/login/"),
        None,
        json!({"username": "alice", "password": "wrong-Password-1"}),
    )
    .await;
    assert_eq!(status, 400);
    let (status, body) = post(
        &client,
        url("/api/auth/token/login/"),
        None,
        json!({"username": "alice", "password": PASSWORD}),
    )
    .await;
    assert_eq!(status, 200);
    let token = body["auth_token"].as_str().unwrap().to_owned();
    let t = Some(token.as_str());
    let (status, _) = post(
        &client,
        url("/api/auth/users/set_username/"),
        t,
        json!({"current_password": PASSWORD, "new_username": "alice2"}),
    )
    .await;
    assert_eq!(status, 204);
    let resp = client
        .patch(url("/api/auth/users/me/"))
        .header("Authorization", format!("Token {token}"))
        .json(&json!({"email": "new@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let (status, _) = post(&client, url("/api/auth/token/logout/"), t, json!({})).await;
    assert_eq!(status, 204);
    // Logged in again (a new token), the password changes.
    let (status, body) = post(
        &client,
        url("/api/auth/token/login/"),
        None,
        json!({"username": "alice2", "password": PASSWORD}),
    )
    .await;
    assert_eq!(status, 200);
    let token2 = body["auth_token"].as_str().unwrap().to_owned();
    let t = Some(token2.as_str());
    let (status, _) = post(
        &client,
        url("/api/auth/users/set_password/"),
        t,
        json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD}),
    )
    .await;
    assert_eq!(status, 204);

    let all = events(&app).await;
    assert_eq!(
        kinds(&all),
        [
            "login_failed",
            "login_failed",
            "login",
            "token_created",
            "username_change",
            "email_change",
            "logout",
            "token_revoked",
            "login",
            "token_created",
            "password_change"
        ],
        "{all:#?}"
    );
    assert_eq!(all[0]["username"], "nobody");
    assert_eq!(all[0]["reason"], "unknown_user");
    assert_eq!(all[0]["user_id"], Value::Null);
    assert_eq!(all[1]["username"], "alice");
    assert_eq!(all[1]["reason"], "bad_password");
    assert_eq!(all[2]["reason"], Value::Null);
    assert_eq!(all[4]["username"], "alice2");
    for e in &all {
        assert_eq!(e["client_ip"], "127.0.0.1", "{e}");
        let agent = e["user_agent"].as_str().unwrap();
        assert_eq!(agent.chars().count(), 200);
        assert!(long_agent.starts_with(agent));
        assert!(e["at"].as_i64().unwrap() > 0);
    }
    let dump = serde_json::to_string(&all).unwrap();
    for secret in [PASSWORD, NEW_PASSWORD, "wrong-Password-1", &token, &token2] {
        assert!(!dump.contains(secret), "{secret} reached the audit log");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn inactive_accounts_and_activation_are_told_apart() {
    let mail = tempfile::tempdir().unwrap();
    let app = TestApp::spawn_with(|c| {
        c.accounts.send_activation_email = true;
        // Not the working directory (where PostgreSQL's default mail directory is).
        c.email.file_dir = Some(mail.path().to_owned());
    })
    .await;
    let client = reqwest::Client::new();
    post(
        &client,
        app.url("/api/auth/users/"),
        None,
        json!({"username": "carol", "password": PASSWORD, "email": "c@example.com"}),
    )
    .await;
    let (status, _) = post(
        &client,
        app.url("/api/login/"),
        None,
        json!({"username": "carol", "password": PASSWORD}),
    )
    .await;
    assert_eq!(status, 400);
    let all = events(&app).await;
    assert_eq!(kinds(&all), ["login_failed"]);
    assert_eq!(all[0]["reason"], "inactive");
    assert!(all[0]["user_id"].is_null());
}

#[tokio::test(flavor = "multi_thread")]
async fn token_authenticated_reads_write_nothing() {
    let app = TestApp::spawn().await;
    let (alice, _) = Api::user(&app, "alice").await;
    let before = events(&app).await.len();
    for _ in 0..20 {
        assert_eq!(alice.get("/api/private/").await.0, 200);
        assert_eq!(alice.get("/api/v1/friends/").await.0, 200);
    }
    assert_eq!(events(&app).await.len(), before);
}

#[tokio::test(flavor = "multi_thread")]
async fn failed_logins_reach_the_info_log_and_a_clean_shutdown_loses_no_event() {
    let app = TestApp::spawn().await;
    let server = app.serve_binary(&[("LENDBOOK_LOG", "info")]);
    let client = reqwest::Client::new();
    post(
        &client,
        server.url("/api/auth/users/"),
        None,
        json!({"username": "dave", "password": PASSWORD}),
    )
    .await;
    let (status, body) = post(
        &client,
        server.url("/api/login/"),
        None,
        json!({"username": "dave", "password": PASSWORD}),
    )
    .await;
    assert_eq!(status, 200);
    let token = body["token"].as_str().unwrap().to_owned();
    let attempts = 5;
    for i in 0..attempts {
        let (status, _) = post(
            &client,
            server.url("/api/auth/token/login/"),
            None,
            json!({"username": "dave", "password": format!("guess-{i}-Secret")}),
        )
        .await;
        assert_eq!(status, 400);
    }
    let (status, _) = post(&client, server.url("/api/logout/"), Some(&token), json!({})).await;
    assert_eq!(status, 200);
    // SIGTERM right after the last answer: the queued events must still be written.
    let log = server.stop();
    let all = stored_events(&app).await;
    let failed = all.iter().filter(|e| e["kind"] == "login_failed").count();
    assert_eq!(failed, attempts);
    assert_eq!(all.last().unwrap()["kind"], "token_revoked", "{all:#?}");
    let logged = log.lines().filter(|l| l.contains("login failed")).count();
    assert_eq!(logged, attempts, "{log}");
    assert!(
        log.contains("bad_password") && log.contains("dave"),
        "{log}"
    );
    let dump = serde_json::to_string(&all).unwrap();
    for secret in [PASSWORD.to_owned(), token.clone(), "guess-".to_owned()] {
        assert!(!log.contains(&secret), "{secret} reached the log output");
        assert!(!dump.contains(&secret), "{secret} reached the audit log");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn events_queued_at_shutdown_are_written_before_it_completes() {
    let mut app = TestApp::spawn().await;
    let burst = 3000;
    for i in 0..burst {
        app.state.auth.audit(
            AuthEvent::new(AuthEventKind::Throttled)
                .with_username(&format!("u{i}"))
                .with_detail("scope burst"),
        );
    }
    app.stop().await;
    assert_eq!(stored_events(&app).await.len(), burst);
}

fn run_json(app: &TestApp, args: &[&str]) -> Vec<Value> {
    let out = app.cli(args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON")
}

#[tokio::test(flavor = "multi_thread")]
async fn cli_changes_are_audited_and_lendbook_audit_reads_them() {
    let app = TestApp::spawn().await;
    let (_, _) = Api::user(&app, "erin").await;
    let (_, _) = Api::user(&app, "frank").await;
    for args in [
        &["perms", "grant", "--user", "erin", "lending.view_belonging"][..],
        &[
            "perms",
            "revoke",
            "--user",
            "erin",
            "lending.view_belonging",
        ],
        &["groups", "create", "lenders"],
        &["groups", "add-user", "lenders", "erin"],
        &[
            "perms",
            "grant",
            "--group",
            "lenders",
            "lending.change_belonging",
        ],
        &["changepassword", "erin", "--password", NEW_PASSWORD],
    ] {
        let out = app.cli(args);
        assert!(out.status.success(), "{args:?}: {out:?}");
    }
    app.state.auth.audit_log().flush().await;
    // An event from long ago, to show --since filtering.
    app.state
        .db
        .execute(
            "INSERT INTO auth_event (at, kind, username) VALUES ($1, 'login', 'erin')",
            vec![(axum_drf::store::now_micros() - 7_200_000_000).into()],
        )
        .await
        .unwrap();

    let erin = run_json(&app, &["audit", "--user", "erin", "--json"]);
    let kinds: Vec<&str> = erin.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    // Newest first.
    assert_eq!(
        kinds,
        [
            "password_change",
            "group_change",
            "permission_change",
            "permission_change",
            "token_created",
            "login",
            "login"
        ],
        "{erin:#?}"
    );
    assert_eq!(erin[0]["user_agent"], "command line");
    assert_eq!(erin[1]["detail"], "added to group lenders");
    assert_eq!(
        erin[2]["detail"],
        "revoked lending.view_belonging from user erin"
    );
    let recent = run_json(
        &app,
        &["audit", "--user", "erin", "--since", "1h", "--json"],
    );
    assert_eq!(recent.len(), erin.len() - 1);
    let all = run_json(&app, &["audit", "--json", "--since", "90m"]);
    let groups: Vec<&str> = all
        .iter()
        .filter(|e| e["kind"] == "group_change" || e["kind"] == "permission_change")
        .map(|e| e["detail"].as_str().unwrap())
        .collect();
    assert!(groups.contains(&"created group lenders"), "{groups:?}");
    assert!(
        groups.contains(&"granted lending.change_belonging to group lenders"),
        "{groups:?}"
    );
    assert!(all.iter().any(|e| e["username"] == "frank"));

    let text = app.cli(&["audit", "--user", "erin"]);
    let text = String::from_utf8(text.stdout).unwrap();
    assert_eq!(text.lines().count(), erin.len());
    assert!(text
        .lines()
        .next()
        .unwrap()
        .contains("\tpassword_change\terin (#"));
    let bad = app.cli(&["audit", "--since", "1y"]);
    assert!(!bad.status.success());
    for secret in [PASSWORD, NEW_PASSWORD] {
        assert!(!text.contains(secret));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn retention_prunes_old_events() {
    let app = TestApp::spawn_with(|c| c.audit.retention_days = 1).await;
    let (_, _) = Api::user(&app, "gina").await;
    app.state.auth.audit_log().flush().await;
    let old = axum_drf::store::now_micros() - 2 * 86_400_000_000;
    app.state
        .db
        .execute(
            "INSERT INTO auth_event (at, kind, username) VALUES ($1, 'login', 'old')",
            vec![old.into()],
        )
        .await
        .unwrap();
    // A starting instance prunes at once, then hourly.
    let _second = app.another_instance().await;
    let mut left = usize::MAX;
    for _ in 0..100 {
        let all = stored_events(&app).await;
        left = all.iter().filter(|e| e["username"] == "old").count();
        if left == 0 {
            assert!(all.iter().any(|e| e["username"] == "gina"));
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(left, 0, "the old event was not pruned");
}
