//! Permissions end to end: policies from configuration, grants through the `lendbook` CLI,
//! answers over HTTP from the real lending resources.

mod support;

use axum::http::{Method, StatusCode};
use lendbook::app::Application;
use lendbook::config::ResourceSettings;
use serde_json::{json, Value as Json};
use support::TestApp;

const TABLE: &str = "lending_belonging";

async fn spawn(adjust: impl FnOnce(&mut lendbook::config::Config)) -> TestApp {
    TestApp::spawn_with(adjust).await
}

async fn belonging(app: &TestApp, owner: i64, name: &str) -> i64 {
    app.state
        .db
        .query(
            format!("INSERT INTO {TABLE} (owner_id, name) VALUES ($1, $2) RETURNING id"),
            vec![owner.into(), name.into()],
        )
        .await
        .unwrap()[0]
        .int(0)
        .unwrap()
}

/// Runs the CLI; panics with its stderr unless it succeeds; returns stdout.
fn cli_ok(app: &TestApp, args: &[&str]) -> String {
    let out = app.cli(args);
    assert!(
        out.status.success(),
        "lendbook {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs the CLI expecting failure; returns stderr.
fn cli_err(app: &TestApp, args: &[&str]) -> String {
    let out = app.cli(args);
    assert!(!out.status.success(), "lendbook {args:?} should fail");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

struct Client<'a> {
    app: &'a TestApp,
    http: reqwest::Client,
    token: String,
}

impl Client<'_> {
    async fn send(&self, method: Method, path: &str, body: Option<Json>) -> (StatusCode, Json) {
        let mut req = self
            .http
            .request(method, self.app.url(path))
            .header("Authorization", format!("Token {}", self.token));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap();
        let status = r.status();
        (status, r.json().await.unwrap_or(Json::Null))
    }
}

/// The ids on a list page.
fn ids(page: Json) -> Json {
    page["results"]
        .as_array()
        .map(|rows| rows.iter().map(|r| r["id"].clone()).collect())
        .unwrap_or(Json::Null)
}

fn detail(text: &str) -> Json {
    json!({ "detail": text })
}

#[tokio::test(flavor = "multi_thread")]
async fn config_policy_and_cli_grants_decide_http_answers() {
    let app = spawn(|c| {
        c.resources.insert(
            "belongings".into(),
            ResourceSettings {
                permission: Some("IsAuthenticated & (IsOwner | DjangoObjectPermissions)".into()),
                scope: Some("granted".parse().unwrap()),
            },
        );
    })
    .await;
    let (alice, _) = app.user_with_token("alice").await;
    let (bob, bob_token) = app.user_with_token("bob").await;
    let lamp = belonging(&app, alice, "lamp").await;
    let drill = belonging(&app, bob, "drill").await;
    let bob_c = Client {
        app: &app,
        http: reqwest::Client::new(),
        token: bob_token,
    };
    let path = format!("/api/v1/belongings/{lamp}/");
    let object = format!("belongings:{lamp}");

    let r = reqwest::get(app.url(&path)).await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(r.headers()["www-authenticate"], "Token");
    assert_eq!(
        ids(bob_c.send(Method::GET, "/api/v1/belongings/", None).await.1),
        json!([drill])
    );
    assert_eq!(
        bob_c.send(Method::GET, &path, None).await,
        (
            StatusCode::NOT_FOUND,
            detail("No Belonging matches the given query.")
        )
    );

    // A view grant on the object: in bob's scope at once.
    let out = cli_ok(
        &app,
        &[
            "perms",
            "grant",
            "--user",
            "bob",
            "lending.view_belonging",
            "--object",
            &object,
        ],
    );
    assert_eq!(
        out.trim(),
        format!("Granted lending.view_belonging on {object} to user bob")
    );
    assert_eq!(
        ids(bob_c.send(Method::GET, "/api/v1/belongings/", None).await.1),
        json!([lamp, drill])
    );
    assert_eq!(
        bob_c.send(Method::GET, &path, None).await,
        (StatusCode::OK, json!({"id": lamp, "name": "lamp"}))
    );
    let put = || bob_c.send(Method::PUT, &path, Some(json!({"name": "LAMP"})));
    assert_eq!(
        put().await,
        (
            StatusCode::FORBIDDEN,
            detail("You do not have permission to perform this action.")
        )
    );

    // The model-level change through a group, and the object grant to the user.
    cli_ok(&app, &["groups", "create", "editors"]);
    cli_ok(&app, &["groups", "add-user", "editors", "bob"]);
    cli_ok(
        &app,
        &[
            "perms",
            "grant",
            "--group",
            "editors",
            "lending.change_belonging",
        ],
    );
    assert_eq!(
        put().await.0,
        StatusCode::FORBIDDEN,
        "no grant on the object yet"
    );
    cli_ok(
        &app,
        &[
            "perms",
            "grant",
            "--user",
            "bob",
            "lending.change_belonging",
            "--object",
            &object,
        ],
    );
    assert_eq!(
        put().await,
        (StatusCode::OK, json!({"id": lamp, "name": "LAMP"}))
    );

    let listing = cli_ok(&app, &["perms", "list", "--user", "bob"]);
    assert_eq!(
        listing,
        format!(
            "# groups: editors\n\
             lending.change_belonging\t(group editors)\n\
             lending.change_belonging on {object}\t(user)\n\
             lending.view_belonging on {object}\t(user)\n"
        )
    );
    let group_listing = cli_ok(&app, &["perms", "list", "--group", "editors"]);
    assert_eq!(group_listing, "# members: bob\nlending.change_belonging\n");
    let all = cli_ok(&app, &["perms", "list"]);
    assert!(all.contains("lending.view_borrowed\n"), "{all}");
    assert!(all.contains("lending.delete_friend\n"), "{all}");

    // Revocations and leaving the group apply on the next request too.
    let out = cli_ok(
        &app,
        &[
            "perms",
            "revoke",
            "--user",
            "bob",
            "lending.change_belonging",
            "--object",
            &object,
        ],
    );
    assert_eq!(
        out.trim(),
        format!("Revoked lending.change_belonging on {object} from user bob")
    );
    assert_eq!(put().await.0, StatusCode::FORBIDDEN);
    let out = cli_ok(
        &app,
        &[
            "perms",
            "revoke",
            "--user",
            "bob",
            "lending.change_belonging",
            "--object",
            &object,
        ],
    );
    assert_eq!(
        out.trim(),
        format!("user bob did not hold lending.change_belonging on {object}")
    );
    cli_ok(
        &app,
        &[
            "perms",
            "grant",
            "--user",
            "bob",
            "lending.change_belonging",
            "--object",
            &object,
        ],
    );
    assert_eq!(put().await.0, StatusCode::OK);
    cli_ok(&app, &["groups", "remove-user", "editors", "bob"]);
    assert_eq!(put().await.0, StatusCode::FORBIDDEN);
    cli_ok(
        &app,
        &[
            "perms",
            "revoke",
            "--user",
            "bob",
            "lending.view_belonging",
            "--object",
            &object,
        ],
    );
    assert_eq!(
        bob_c.send(Method::GET, &path, None).await.0,
        StatusCode::NOT_FOUND
    );
    let groups = cli_ok(&app, &["groups", "list"]);
    assert_eq!(groups, "editors\t0 member(s)\n");
}

#[tokio::test(flavor = "multi_thread")]
async fn defaults_reproduce_the_reference() {
    let app = spawn(|_| {}).await;
    let (alice, _) = app.user_with_token("alice").await;
    let (_, bob_token) = app.user_with_token("bob").await;
    let lamp = belonging(&app, alice, "lamp").await;
    let bob_c = Client {
        app: &app,
        http: reqwest::Client::new(),
        token: bob_token,
    };
    let path = format!("/api/v1/belongings/{lamp}/");
    assert_eq!(
        bob_c.send(Method::GET, &path, None).await,
        (
            StatusCode::NOT_FOUND,
            detail("No Belonging matches the given query.")
        )
    );
    // Grants do not matter to the default policy and scope.
    cli_ok(
        &app,
        &[
            "perms",
            "grant",
            "--user",
            "bob",
            "lending.view_belonging",
            "--object",
            &format!("belongings:{lamp}"),
        ],
    );
    assert_eq!(
        bob_c.send(Method::GET, &path, None).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        ids(bob_c.send(Method::GET, "/api/v1/belongings/", None).await.1),
        json!([])
    );

    // scope = all: the object is found, and IsOwner refuses with its message.
    let app = spawn(|c| {
        c.resources.insert(
            "belongings".into(),
            ResourceSettings {
                permission: None,
                scope: Some("all".parse().unwrap()),
            },
        );
    })
    .await;
    let (alice, _) = app.user_with_token("alice").await;
    let (_, bob_token) = app.user_with_token("bob").await;
    let lamp = belonging(&app, alice, "lamp").await;
    let bob_c = Client {
        app: &app,
        http: reqwest::Client::new(),
        token: bob_token,
    };
    assert_eq!(
        bob_c
            .send(Method::GET, &format!("/api/v1/belongings/{lamp}/"), None)
            .await,
        (StatusCode::FORBIDDEN, detail("Not an owner."))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_default_policy_applies_to_views_without_one() {
    // /api/private/ sets no policy of its own: DEFAULT_PERMISSION_CLASSES decides.
    let private = |app: &TestApp, token: String| {
        let url = app.url("/api/private/");
        async move {
            let r = reqwest::Client::new()
                .get(url)
                .header("Authorization", format!("Token {token}"))
                .send()
                .await
                .unwrap();
            (r.status(), r.json::<Json>().await.unwrap())
        }
    };
    let app = TestApp::spawn_with(|c| c.permissions.default = "IsAdminUser".into()).await;
    let (_, token) = app.user_with_token("alice").await;
    assert_eq!(
        private(&app, token).await,
        (
            StatusCode::FORBIDDEN,
            detail("You do not have permission to perform this action.")
        )
    );
    let app = TestApp::spawn().await;
    let (_, token) = app.user_with_token("alice").await;
    assert_eq!(private(&app, token).await.0, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_policies_stop_start_up_pointing_at_the_spot() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = lendbook::config::Config {
        bind: "127.0.0.1:0".into(),
        secret_key: Some("x".repeat(40)),
        database_url: format!("sqlite://{}", dir.path().join("db.sqlite3").display()),
        ..Default::default()
    };
    config.resources.insert(
        "belongings".into(),
        ResourceSettings {
            permission: Some("IsAuthenticated & (IsOwner | DjangoObjectPermisions)".into()),
            scope: None,
        },
    );
    let err = Application::build(config.clone())
        .await
        .err()
        .expect("start-up fails")
        .to_string();
    assert!(
        err.starts_with("configuration: [resources.belongings] permission: column 30: unknown permission class \"DjangoObjectPermisions\""),
        "{err}"
    );
    assert!(
        err.ends_with(&format!(
            "\n    IsAuthenticated & (IsOwner | DjangoObjectPermisions)\n    {}^",
            " ".repeat(29)
        )),
        "{err}"
    );
    // Checked before the database is opened (this test needs none, on either engine).
    assert!(!dir.path().join("db.sqlite3").exists());

    // Through the binary and a configuration file.
    let file = dir.path().join("lendbook.toml");
    std::fs::write(
        &file,
        "[permissions]\ndefault = \"IsAuthenticated\"\n[resources.friends]\npermission = \"IsAuthenticated & & IsOwner\"\nscope = \"owner\"\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_lendbook"))
        .args([
            "--config",
            file.to_str().unwrap(),
            "serve",
            "--bind",
            "127.0.0.1:0",
        ])
        .env("DATABASE_URL", &config.database_url)
        .env("LENDBOOK_SECRET_KEY", "x".repeat(40))
        .env("LENDBOOK_LOG", "warn")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("[resources.friends] permission: column 19: expected a permission class, \"~\" or \"(\", found \"&\""),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "    IsAuthenticated & & IsOwner\n    {}^",
            " ".repeat(18)
        )),
        "{stderr}"
    );

    // An unknown scope or resource stops start-up too.
    std::fs::write(&file, "[resources.belongings]\nscope = \"everyone\"\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_lendbook"))
        .args(["--config", file.to_str().unwrap(), "migrate"])
        .env("DATABASE_URL", &config.database_url)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("everyone"));
    config.resources.clear();
    config
        .resources
        .insert("books".into(), ResourceSettings::default());
    let err = Application::build(config)
        .await
        .err()
        .expect("start-up fails")
        .to_string();
    assert!(
        err.contains(
            "[resources.books]: unknown resource (known: friends, belongings, borrowings)"
        ),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_cli_refuses_bad_grants_with_a_reason() {
    let app = spawn(|_| {}).await;
    app.user_with_token("alice").await;
    let cases: [(&[&str], &str); 8] = [
        (
            &["perms", "grant", "--user", "alice", "lending.fly_belonging"],
            "unknown permission \"lending.fly_belonging\"",
        ),
        (
            &["perms", "grant", "--user", "alice", "change_belonging"],
            "is not a permission name",
        ),
        (
            &["perms", "grant", "--user", "nobody", "lending.view_friend"],
            "user 'nobody' does not exist",
        ),
        (
            &[
                "perms",
                "grant",
                "--group",
                "nogroup",
                "lending.view_friend",
            ],
            "group \"nogroup\" does not exist",
        ),
        (
            &[
                "perms",
                "grant",
                "--user",
                "alice",
                "lending.view_friend",
                "--object",
                "belongings:1",
            ],
            "permission \"lending.view_friend\" is about lending.friend, not lending.belonging",
        ),
        (
            &[
                "perms",
                "grant",
                "--user",
                "alice",
                "lending.view_friend",
                "--object",
                "friends",
            ],
            "is not an object",
        ),
        (
            &[
                "perms",
                "grant",
                "--user",
                "alice",
                "lending.view_friend",
                "--object",
                "books:1",
            ],
            "unknown resource \"books\"",
        ),
        (
            &["groups", "add-user", "nogroup", "alice"],
            "group \"nogroup\" does not exist",
        ),
    ];
    for (args, want) in cases {
        let err = cli_err(&app, args);
        assert!(err.contains(want), "{args:?}: {err}");
    }
    // --user and --group exclude each other; one is required.
    cli_err(&app, &["perms", "grant", "lending.view_friend"]);
    cli_err(
        &app,
        &[
            "perms",
            "grant",
            "--user",
            "alice",
            "--group",
            "g",
            "lending.view_friend",
        ],
    );
    cli_ok(&app, &["groups", "create", "g"]);
    assert!(cli_err(&app, &["groups", "create", "g"]).contains("group \"g\" already exists"));
    cli_ok(&app, &["groups", "delete", "g"]);
    assert!(cli_err(&app, &["groups", "delete", "g"]).contains("does not exist"));
    // Borrowings map to the reference's `Borrowed` model; a grant needs the object to exist.
    let grant = [
        "perms",
        "grant",
        "--user",
        "alice",
        "lending.view_borrowed",
        "--object",
    ];
    let err = cli_err(&app, &[&grant[..], &["borrowings:3"]].concat());
    assert!(err.contains("borrowings:3 does not exist"), "{err}");
    let (api, _) = support::Api::user(&app, "bert").await;
    let friend = api.create("/api/v1/friends/", json!({"name": "F"})).await;
    let thing = api
        .create("/api/v1/belongings/", json!({"name": "T"}))
        .await;
    let loan = api
        .create(
            "/api/v1/borrowings/",
            json!({"what": thing, "to_who": friend}),
        )
        .await;
    let spec = format!("borrowings:{loan}");
    let out = cli_ok(&app, &[&grant[..], &[spec.as_str()]].concat());
    assert_eq!(
        out.trim(),
        format!("Granted lending.view_borrowed on {spec} to user alice")
    );
}
