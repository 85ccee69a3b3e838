//! Acceptance of `lendbook import-django` against the real DRF reference
//! (`../shared/reference/`, Django 5.2 + DRF + djoser): the reference serves its own SQLite
//! file, users register, log in, lend, return, get loans backdated and permissions granted;
//! its answers to a set of GETs are recorded; the file is imported into a fresh lendbook
//! (SQLite, or PostgreSQL with DATABASE_URL); the same GETs with the same tokens must give
//! the same bodies, each user logs in with the old password (then stored as argon2id), and
//! the grants still decide.
//!
//! Needs the reference's virtualenv (`serve.sh setup`), so it is ignored by default:
//! `.ci/import-reference.sh` runs it on both databases when the reference can be set up.
//! `LENDING_REFERENCE` overrides the reference directory.

#[path = "support/django.rs"]
mod django;
mod support;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use django::{import_django, login, stored_hash};
use lendbook::config::ResourceSettings;
use serde_json::{json, Value};
use support::{Api, TestApp};

const PASSWORD: &str = "correct-Horse-7-battery";

fn reference_dir() -> PathBuf {
    std::env::var_os("LENDING_REFERENCE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/reference")
        })
}

/// The reference server on its own SQLite file; stopped (SIGTERM to gunicorn) on drop.
struct Reference {
    child: Option<Child>,
    base: String,
    port: u16,
    db: PathBuf,
}

impl Reference {
    async fn start(db: PathBuf) -> Reference {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("bash")
            .arg(reference_dir().join("serve.sh"))
            .env("LENDING_DB", &db)
            .env("PORT", port.to_string())
            .env("WORKERS", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the reference (serve.sh)");
        let reference = Reference {
            child: Some(child),
            base: format!("http://127.0.0.1:{port}"),
            port,
            db,
        };
        let client = reqwest::Client::new();
        for _ in 0..300 {
            if let Ok(r) = client.get(reference.url("/api/public/")).send().await {
                if r.status().is_success() {
                    return reference;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the reference did not start on port {port}");
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// `serve.sh manage ARGS...` against this server's database.
    fn manage(&self, args: &[&str]) -> String {
        let out = Command::new("bash")
            .arg(reference_dir().join("serve.sh"))
            .arg("manage")
            .args(args)
            .env("LENDING_DB", &self.db)
            .env("PORT", self.port.to_string())
            .output()
            .expect("serve.sh manage");
        assert!(
            out.status.success(),
            "manage {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let _ = child.wait();
        }
    }
}

impl Drop for Reference {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One user of the scenario on the reference.
struct RefUser {
    name: &'static str,
    token: String,
    paths: Vec<String>,
}

#[tokio::test]
#[ignore = "needs the DRF reference's virtualenv; run by .ci/import-reference.sh"]
async fn reference_database_imports_with_identical_answers_tokens_passwords_and_grants() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("reference.sqlite3");
    let mut reference = Reference::start(db.clone()).await;

    // 1. Users register and log in (tokens); they lend, return, and loans get backdated.
    let mut users = Vec::new();
    for name in ["alice", "bob", "carol"] {
        let anonymous = Api::at(&reference.base, None);
        let (status, body) = anonymous
            .post(
                "/api/auth/users/",
                json!({"username": name, "password": PASSWORD, "email": format!("{name}@example.com")}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        let (status, body) = anonymous
            .post(
                "/api/login/",
                json!({"username": name, "password": PASSWORD}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        users.push(RefUser {
            name,
            token: body["token"].as_str().unwrap().to_owned(),
            paths: Vec::new(),
        });
    }
    let common = [
        "/api/v1/",
        "/api/v1/friends/",
        "/api/v1/belongings/",
        "/api/v1/borrowings/",
        "/api/v1/borrowings/?missing=true",
        "/api/v1/borrowings/?overdue=true",
        "/api/v1/borrowings/?missing=1&overdue=true",
        "/api/v1/friends/?limit=1&offset=1",
        "/api/auth/users/me/",
        "/api/private/",
    ];
    for (i, user) in users.iter_mut().enumerate().take(2) {
        let api = Api::at(&reference.base, Some(&user.token));
        let ann = api.create("/api/v1/friends/", json!({"name": "Ann"})).await;
        let ben = api.create("/api/v1/friends/", json!({"name": "Ben"})).await;
        let saw = api
            .create("/api/v1/belongings/", json!({"name": "Saw"}))
            .await;
        let book = api
            .create("/api/v1/belongings/", json!({"name": "Book"}))
            .await;
        let pen = api
            .create("/api/v1/belongings/", json!({"name": "Pen"}))
            .await;
        let l1 = api
            .create("/api/v1/borrowings/", json!({"what": saw, "to_who": ann}))
            .await;
        let l2 = api
            .create("/api/v1/borrowings/", json!({"what": book, "to_who": ben}))
            .await;
        let l3 = api
            .create("/api/v1/borrowings/", json!({"what": pen, "to_who": ann}))
            .await;
        let (status, body) = api
            .post(&format!("/api/v1/borrowings/{l1}/return/"), json!({}))
            .await;
        assert_eq!(status, 200, "{body}");
        // alice: one loan overdue (90 days), bob: one only a month old.
        reference.manage(&[
            "backdate_loan",
            &l2.to_string(),
            "--days",
            if i == 0 { "90" } else { "30" },
        ]);
        for path in [
            format!("/api/v1/friends/{ann}/"),
            format!("/api/v1/friends/{ben}/"),
            format!("/api/v1/belongings/{book}/"),
            format!("/api/v1/borrowings/{l1}/"),
            format!("/api/v1/borrowings/{l2}/"),
            format!("/api/v1/borrowings/{l3}/"),
        ] {
            user.paths.push(path);
        }
    }
    // Someone else's objects are 404 for carol.
    let alice_paths = users[0].paths.clone();
    users[2].paths.extend(alice_paths);
    for user in &mut users {
        user.paths.extend(common.iter().map(|p| p.to_string()));
    }
    // Grants: bob directly, carol through a group; alice none.
    reference.manage(&[
        "shell",
        "-c",
        "from django.contrib.auth.models import Group, Permission, User\n\
         add = Permission.objects.get(content_type__app_label='lending', codename='add_belonging')\n\
         User.objects.get(username='bob').user_permissions.add(add)\n\
         g = Group.objects.create(name='adders')\n\
         g.permissions.add(add)\n\
         User.objects.get(username='carol').groups.add(g)",
    ]);

    // 2. The reference's answers.
    let mut recorded = Vec::new();
    for user in &users {
        for path in &user.paths {
            let (status, body) = Api::at(&reference.base, Some(&user.token)).get(path).await;
            recorded.push((user.name, user.token.clone(), path.clone(), status, body));
        }
    }
    let reference_base = reference.base.clone();
    reference.stop();

    // 3. Import into a fresh lendbook, where adding a belonging needs the model permission.
    let app = TestApp::spawn_with(|c| {
        c.resources.insert(
            "belongings".into(),
            ResourceSettings {
                permission: Some("IsAuthenticated & IsOwner & DjangoModelPermissions".into()),
                scope: None,
            },
        );
    })
    .await;
    let (ok, out, err) = import_django(&app, &db.display().to_string(), &[]);
    assert!(ok, "{err}");
    assert!(out.contains("lending_borrowed"), "{out}");
    assert!(
        !out.contains("unknown"),
        "every reference table is known:\n{out}"
    );

    // 4. The same GETs with the same tokens: the same answers.
    for (name, token, path, status, body) in &recorded {
        let (got_status, got) = Api::with_token(&app, token).get(path).await;
        let expected: Value =
            serde_json::from_str(&body.to_string().replace(&reference_base, &app.base)).unwrap();
        assert_eq!(
            (got_status, &got),
            (*status, &expected),
            "{name} GET {path}"
        );
    }
    assert!(recorded
        .iter()
        .any(|(_, _, p, s, b)| p.contains("overdue") && *s == 200 && b["count"] == 1));

    // Old passwords log in; the stored hash is then argon2id.
    for user in &users {
        assert!(stored_hash(&app, user.name)
            .await
            .starts_with("pbkdf2_sha256$"));
        let (status, body) = login(&app, user.name, PASSWORD).await;
        assert_eq!(status, 200, "{}: {body}", user.name);
        assert!(stored_hash(&app, user.name).await.starts_with("$argon2id$"));
        // The token from the reference still works after the new login.
        let (status, _) = Api::with_token(&app, &user.token)
            .get("/api/private/")
            .await;
        assert_eq!(status, 200);
    }

    // The grants still decide: bob (directly) and carol (by group) may add, alice may not.
    for (user, expected) in users.iter().zip([403, 201, 201]) {
        let (status, body) = Api::with_token(&app, &user.token)
            .post("/api/v1/belongings/", json!({"name": "New"}))
            .await;
        assert_eq!(status, expected, "{}: {body}", user.name);
    }
}
