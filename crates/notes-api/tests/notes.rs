//! notes-api over HTTP: the real server on a random port, an isolated database (SQLite, or
//! PostgreSQL with `DATABASE_URL`).

mod support;

use axum_drf::permissions::{GrantTarget, PermissionStore};
use axum_drf::testing::post_json;
use serde_json::json;
use support::{Api, TestApp, PASSWORD};

#[tokio::test]
async fn notes_are_private_to_their_owner() {
    let app = TestApp::spawn().await;
    let (alice, _) = Api::user(&app, "alice").await;
    let (bob, _) = Api::user(&app, "bob").await;

    let book = alice
        .create("/api/notebooks/", json!({"title": "Ideas"}))
        .await;
    let (status, note) = alice
        .post(
            "/api/notes/",
            json!({"notebook": book, "title": "Rust", "body": "a second app"}),
        )
        .await;
    assert_eq!(status, 201, "{note}");
    assert_eq!(note["archived"], serde_json::Value::Null);
    assert!(note["created"].is_string(), "{note}");
    let id = note["id"].as_i64().unwrap();

    let (status, list) = alice.get("/api/notes/").await;
    assert_eq!(status, 200);
    assert_eq!(list["count"], 1, "{list}");
    assert_eq!(list["results"][0]["title"], "Rust");

    // Bob sees none of it, and cannot file a note in Alice's notebook.
    assert_eq!(bob.get("/api/notes/").await.1["count"], 0);
    assert_eq!(bob.get(&format!("/api/notes/{id}/")).await.0, 404);
    let (status, body) = bob
        .post(
            "/api/notes/",
            json!({"notebook": book, "title": "x", "body": "y"}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(body["notebook"][0].as_str().unwrap().contains("Invalid pk"));

    // The list total comes from the trigger-kept counter: it follows deletes and cascades.
    alice
        .create(
            "/api/notes/",
            json!({"notebook": book, "title": "2", "body": "two"}),
        )
        .await;
    assert_eq!(alice.get("/api/notes/").await.1["count"], 2);
    assert_eq!(alice.delete(&format!("/api/notes/{id}/")).await.0, 204);
    assert_eq!(alice.get("/api/notes/").await.1["count"], 1);
    assert_eq!(
        alice.delete(&format!("/api/notebooks/{book}/")).await.0,
        204
    );
    assert_eq!(alice.get("/api/notes/").await.1["count"], 0);

    assert_eq!(Api::anonymous(&app).get("/api/notes/").await.0, 401);
}

#[tokio::test]
async fn archive_is_a_detail_action() {
    let app = TestApp::spawn().await;
    let (alice, _) = Api::user(&app, "alice").await;
    let (bob, _) = Api::user(&app, "bob").await;
    let book = alice.create("/api/notebooks/", json!({"title": "B"})).await;
    let id = alice
        .create(
            "/api/notes/",
            json!({"notebook": book, "title": "t", "body": "b"}),
        )
        .await;

    let path = format!("/api/notes/{id}/archive/");
    assert_eq!(bob.post(&path, json!({})).await.0, 404);
    let (status, first) = alice.post(&path, json!({})).await;
    assert_eq!(status, 200, "{first}");
    assert!(first["archived"].is_string(), "{first}");
    // Archiving again keeps the first time.
    let (_, again) = alice.post(&path, json!({})).await;
    assert_eq!(again["archived"], first["archived"]);
    assert_eq!(alice.get(&path).await.0, 405);

    let (_, archived) = alice.get("/api/notes/?archived=true").await;
    assert_eq!(archived["count"], 1, "{archived}");
}

#[tokio::test]
async fn the_custom_permission_needs_an_email_to_write() {
    let app = TestApp::spawn().await;
    app.user("mute", "").await;
    let mute = Api::at(&app.server.base, Some(&app.token("mute").await));
    let book = mute.create("/api/notebooks/", json!({"title": "B"})).await;
    let (status, body) = mute
        .post(
            "/api/notes/",
            json!({"notebook": book, "title": "t", "body": "b"}),
        )
        .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(
        body["detail"],
        "Add an email address to your account before writing."
    );
    assert_eq!(mute.get("/api/notes/").await.0, 200);
}

#[tokio::test]
async fn model_permissions_from_configuration() {
    let app = TestApp::spawn_with(|c| {
        c.permissions.insert(
            "notebooks".into(),
            "IsAuthenticated & DjangoModelPermissions & IsOwner".into(),
        );
    })
    .await;
    let (alice, alice_id) = Api::user(&app, "alice").await;
    let (status, body) = alice.post("/api/notebooks/", json!({"title": "B"})).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(
        body["detail"],
        "You do not have permission to perform this action."
    );
    // Reading needs no grant (DRF's perms map has none for GET).
    assert_eq!(alice.get("/api/notebooks/").await.0, 200);

    PermissionStore::new(app.state.auth.db().clone())
        .grant(GrantTarget::User(alice_id), "notes.add_notebook", None)
        .await
        .expect("grant");
    app.state.auth.user_changed(alice_id).await;
    assert_eq!(
        alice.post("/api/notebooks/", json!({"title": "B"})).await.0,
        201
    );
}

#[tokio::test]
async fn bad_policies_stop_start_up() {
    let mut config = notes_api::config::Config::default();
    config
        .permissions
        .insert("notes".into(), "IsAuthenticated & IsOwnr".into());
    let e = notes_api::permissions::policies(&config.permissions).unwrap_err();
    assert!(
        e.to_string().starts_with("[permissions] notes: column 19"),
        "{e}"
    );
    config.permissions.clear();
    config.permissions.insert("note".into(), "AllowAny".into());
    assert!(notes_api::permissions::policies(&config.permissions).is_err());
}

#[tokio::test]
async fn a_throttle_scope_per_resource() {
    let app = TestApp::spawn_with(|c| {
        c.throttle.insert("notes".into(), "3/min".into());
    })
    .await;
    let (alice, _) = Api::user(&app, "alice").await;
    for _ in 0..3 {
        assert_eq!(alice.get("/api/notes/").await.0, 200);
    }
    let (status, body) = alice.get("/api/notes/").await;
    assert_eq!(status, 429, "{body}");
    assert!(body["detail"]
        .as_str()
        .unwrap()
        .starts_with("Request was throttled."));
    // Another scope, another count.
    assert_eq!(alice.get("/api/notebooks/").await.0, 200);
}

#[tokio::test]
async fn token_and_session_login() {
    let app = TestApp::spawn().await;
    app.user("alice", "alice@example.com").await;
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();

    let bad = client
        .post(app.url("/api/login/"))
        .json(&json!({"username": "alice", "password": "wrong"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    assert_eq!(
        bad.json::<serde_json::Value>().await.unwrap()["non_field_errors"][0],
        "Unable to log in with provided credentials."
    );

    let login = client
        .post(app.url("/api/login/"))
        .json(&json!({"username": "alice", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
    let cookies = axum_drf::testing::set_cookies(&login);
    assert!(cookies.iter().any(|c| c.starts_with("sessionid=")));
    let csrf = cookies
        .iter()
        .find_map(|c| c.strip_prefix("csrftoken="))
        .and_then(|c| c.split(';').next())
        .unwrap()
        .to_owned();
    let token = login.json::<serde_json::Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();

    // The session reads; a session write needs Django's CSRF double submit.
    let list = client.get(app.url("/api/notes/")).send().await.unwrap();
    assert_eq!(list.status(), 200);
    let no_csrf = client
        .post(app.url("/api/notebooks/"))
        .json(&json!({"title": "B"}))
        .send()
        .await
        .unwrap();
    assert_eq!(no_csrf.status(), 403);
    let with_csrf = client
        .post(app.url("/api/notebooks/"))
        .header("X-CSRFToken", &csrf)
        .header("Referer", app.url("/"))
        .json(&json!({"title": "B"}))
        .send()
        .await
        .unwrap();
    assert_eq!(with_csrf.status(), 201);

    // The token works on its own, until logout.
    let api = Api::at(&app.server.base, Some(&token));
    assert_eq!(api.get("/api/notebooks/").await.1["count"], 1);
    assert_eq!(api.post("/api/logout/", json!({})).await.0, 200);
    assert_eq!(api.get("/api/notebooks/").await.0, 401);

    // djoser's token login and logout.
    let body = json!({"username": "alice", "password": PASSWORD});
    let token = post_json(&app.url("/api/auth/token/login/"), &body).await;
    let token = token["auth_token"].as_str().unwrap();
    let api = Api::at(&app.server.base, Some(token));
    assert_eq!(api.get("/api/notes/").await.0, 200);
    assert_eq!(api.post("/api/auth/token/logout/", json!({})).await.0, 204);
    assert_eq!(api.get("/api/notes/").await.0, 401);
}
