//! Helpers for `lendbook import-django` tests: running the import through the real binary
//! and looking at what landed in the target database.
#![allow(dead_code)]

use super::TestApp;

/// Runs `lendbook import-django --from <from> <extra...>` against `app`'s database;
/// returns (success, stdout, stderr).
pub fn import_django(app: &TestApp, from: &str, extra: &[&str]) -> (bool, String, String) {
    let mut args = vec!["import-django", "--from", from];
    args.extend_from_slice(extra);
    let out = app.cli(&args);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The stored password hash of `username`.
pub async fn stored_hash(app: &TestApp, username: &str) -> String {
    app.state
        .db
        .query_opt(
            "SELECT password FROM auth_user WHERE username = $1",
            vec![username.into()],
        )
        .await
        .expect("query")
        .expect("user exists")
        .text(0)
        .expect("text")
}

/// `app_label.codename` of every model-level grant of `username` (direct and through
/// groups), sorted.
pub async fn model_grants(app: &TestApp, username: &str) -> Vec<String> {
    let rows = app
        .state
        .db
        .query(
            "SELECT p.app_label || '.' || p.codename FROM auth_permission p \
             WHERE p.id IN (SELECT g.permission_id FROM auth_user_user_permissions g \
                            JOIN auth_user u ON u.id = g.user_id WHERE u.username = $1) \
                OR p.id IN (SELECT gp.permission_id FROM auth_group_permissions gp \
                            JOIN auth_user_groups ug ON ug.group_id = gp.group_id \
                            JOIN auth_user u ON u.id = ug.user_id WHERE u.username = $1) \
             ORDER BY 1",
            vec![username.into()],
        )
        .await
        .expect("query");
    rows.iter().map(|r| r.text(0).expect("text")).collect()
}

/// Logs `username` in at `/api/login/`; returns the status and the answer.
pub async fn login(app: &TestApp, username: &str, password: &str) -> (u16, serde_json::Value) {
    let resp = reqwest::Client::new()
        .post(app.url("/api/login/"))
        .json(&serde_json::json!({"username": username, "password": password}))
        .send()
        .await
        .expect("login");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(serde_json::Value::Null))
}
