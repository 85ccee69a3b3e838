//! `lendbook import-django` on a hand-made Django database: the reference's real schema
//! (`fixtures/django/reference_empty.sql`, dumped from its migrated SQLite file), users with
//! a hash of every supported Django hasher (`fixtures/django/hashes.json`, made by Django
//! 5.2.19's own hashers), tokens, groups, grants, django-guardian object grants, lending
//! rows with gaps in their ids, and content lendbook does not know. Runs without Python,
//! on SQLite and (with DATABASE_URL) on PostgreSQL.

#[path = "support/django.rs"]
mod django;
mod support;

use django::{import_django, login, model_grants, stored_hash};
use serde_json::{json, Value};
use support::{Api, TestApp};

const OWNER_TOKEN: &str = "0123456789abcdef0123456789abcdef01234567";
const SECOND_TOKEN: &str = "fedcba9876543210fedcba9876543210fedcba98";

struct Fixture {
    _dir: tempfile::TempDir,
    path: String,
    password: String,
    /// (username, hasher name from hashes.json)
    users: Vec<(String, String)>,
}

fn hashes() -> (String, Vec<(String, String)>) {
    let doc: Value =
        serde_json::from_str(include_str!("fixtures/django/hashes.json")).expect("hashes.json");
    let password = doc["password"].as_str().expect("password").to_owned();
    let list = doc["hashes"]
        .as_array()
        .expect("hashes")
        .iter()
        .map(|pair| {
            (
                pair[0].as_str().expect("name").to_owned(),
                pair[1].as_str().expect("hash").to_owned(),
            )
        })
        .collect();
    (password, list)
}

/// A Django database as the reference leaves it, filled by hand.
fn django_database() -> Fixture {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("django.sqlite3");
    let conn = rusqlite::Connection::open(&path).expect("create");
    conn.execute_batch(include_str!("fixtures/django/reference_empty.sql"))
        .expect("reference schema");
    // django-guardian's tables, as its migrations create them on SQLite, and an app lendbook
    // does not know.
    conn.execute_batch(
        r#"
        CREATE TABLE "guardian_userobjectpermission" ("id" integer NOT NULL PRIMARY KEY AUTOINCREMENT, "object_pk" varchar(255) NOT NULL, "content_type_id" integer NOT NULL, "permission_id" integer NOT NULL, "user_id" integer NOT NULL);
        CREATE TABLE "guardian_groupobjectpermission" ("id" integer NOT NULL PRIMARY KEY AUTOINCREMENT, "object_pk" varchar(255) NOT NULL, "content_type_id" integer NOT NULL, "group_id" integer NOT NULL, "permission_id" integer NOT NULL);
        CREATE TABLE "polls_question" ("id" integer NOT NULL PRIMARY KEY AUTOINCREMENT, "text" varchar(200) NOT NULL);
        INSERT INTO polls_question (text) VALUES ('why?'), ('why not?');
        INSERT INTO django_session VALUES ('abc', 'data', '2030-01-01 00:00:00');
        "#,
    )
    .expect("extra tables");
    let (password, list) = hashes();
    let mut users = Vec::new();
    for (i, (name, hash)) in list.iter().enumerate() {
        let id = 10 + 2 * i as i64; // gaps, as deleted users leave them
        let username = format!("u_{}", name.replace([' ', '='], "_"));
        conn.execute(
            "INSERT INTO auth_user (id, password, last_login, is_superuser, username, last_name, \
             email, is_staff, is_active, date_joined, first_name) \
             VALUES (?1, ?2, ?3, 0, ?4, 'Last', ?5, ?6, 1, '2024-01-02 03:04:05.123456', 'First')",
            rusqlite::params![
                id,
                hash,
                (i % 2 == 0).then_some("2025-06-07 08:09:10"),
                username,
                format!("{username}@example.com"),
                i == 1,
            ],
        )
        .expect("user");
        users.push((username, name.clone()));
    }
    conn.execute_batch(
        r#"
        UPDATE sqlite_sequence SET seq = 500 WHERE name = 'auth_user';
        INSERT INTO authtoken_token VALUES ('0123456789abcdef0123456789abcdef01234567', '2024-02-03 04:05:06.5', 10);
        INSERT INTO authtoken_token VALUES ('fedcba9876543210fedcba9876543210fedcba98', '2024-02-03 04:05:07', 12);
        INSERT INTO lending_friend (id, name, owner_id) VALUES (3, 'Ann', 10), (7, 'Bob', 10), (8, 'Cy', 12);
        INSERT INTO lending_belonging (id, name, owner_id) VALUES (5, 'Saw', 10), (6, 'Book', 10), (9, 'Pen', 12);
        INSERT INTO lending_borrowed (id, "when", returned, owner_id, what_id, to_who_id) VALUES
            (2, '2024-03-04 05:06:07.123456', '2024-03-05 00:00:00', 10, 5, 3),
            (9, '2024-04-01 00:00:00', NULL, 10, 6, 7),
            (11, '2999-01-01 00:00:00', NULL, 10, 5, 3),
            (12, '2024-04-01 00:00:00', NULL, 12, 9, 8);
        UPDATE sqlite_sequence SET seq = 40 WHERE name = 'lending_friend';
        INSERT INTO auth_group (id, name) VALUES (4, 'editors');
        INSERT INTO auth_user_groups (user_id, group_id) VALUES (12, 4);
        INSERT INTO auth_group_permissions (group_id, permission_id)
            SELECT 4, p.id FROM auth_permission p JOIN django_content_type c ON c.id = p.content_type_id
            WHERE c.app_label = 'lending' AND p.codename = 'change_belonging';
        INSERT INTO auth_user_user_permissions (user_id, permission_id)
            SELECT 10, p.id FROM auth_permission p JOIN django_content_type c ON c.id = p.content_type_id
            WHERE c.app_label = 'lending' AND p.codename = 'add_belonging';
        INSERT INTO auth_user_user_permissions (user_id, permission_id)
            SELECT 10, p.id FROM auth_permission p JOIN django_content_type c ON c.id = p.content_type_id
            WHERE c.app_label = 'auth' AND p.codename = 'view_user';
        INSERT INTO guardian_userobjectpermission (object_pk, content_type_id, permission_id, user_id)
            SELECT '7', c.id, p.id, 12 FROM auth_permission p JOIN django_content_type c ON c.id = p.content_type_id
            WHERE c.app_label = 'lending' AND p.codename = 'view_friend';
        INSERT INTO guardian_userobjectpermission (object_pk, content_type_id, permission_id, user_id)
            SELECT 'abc', c.id, p.id, 12 FROM auth_permission p JOIN django_content_type c ON c.id = p.content_type_id
            WHERE c.app_label = 'lending' AND p.codename = 'view_friend';
        INSERT INTO guardian_groupobjectpermission (object_pk, content_type_id, permission_id, group_id)
            SELECT '3', c.id, p.id, 4 FROM auth_permission p JOIN django_content_type c ON c.id = p.content_type_id
            WHERE c.app_label = 'lending' AND p.codename = 'change_friend';
        "#,
    )
    .expect("data");
    Fixture {
        path: path.display().to_string(),
        _dir: dir,
        password,
        users,
    }
}

async fn count(app: &TestApp, sql: &'static str) -> i64 {
    app.state
        .db
        .query_opt(sql, vec![])
        .await
        .expect("count")
        .expect("row")
        .int(0)
        .expect("int")
}

#[tokio::test]
async fn imports_a_django_database_with_every_hasher_token_grant_and_loan() {
    let fixture = django_database();
    let from = fixture.path.clone();
    imports_everything(&fixture, &from).await;
}

/// The same Django database served by PostgreSQL (Django's PostgreSQL column types:
/// booleans, timestamptz, identity columns), read through the PostgreSQL source.
#[tokio::test]
async fn imports_the_same_django_database_from_postgresql() {
    let Some(admin) = support::postgres_url() else {
        eprintln!("DATABASE_URL is not PostgreSQL: the PostgreSQL source is tested in that run");
        return;
    };
    let fixture = django_database();
    let (url, name) = django_on_postgres(&admin, &fixture.path).await;
    imports_everything(&fixture, &url).await;
    let (client, conn) = tokio_postgres::connect(&admin, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    client
        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await
        .unwrap();
}

/// Django's PostgreSQL DDL for the reference's tables (as its migrations create them) plus
/// django-guardian's and an unknown app's.
const DJANGO_POSTGRES_DDL: &str = r#"
    CREATE TABLE django_migrations (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, app varchar(255) NOT NULL, name varchar(255) NOT NULL, applied timestamptz NOT NULL);
    CREATE TABLE django_content_type (id integer GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, app_label varchar(100) NOT NULL, model varchar(100) NOT NULL);
    CREATE TABLE auth_permission (id integer GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, name varchar(255) NOT NULL, content_type_id integer NOT NULL REFERENCES django_content_type (id), codename varchar(100) NOT NULL);
    CREATE TABLE auth_group (id integer GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, name varchar(150) NOT NULL UNIQUE);
    CREATE TABLE auth_group_permissions (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, group_id integer NOT NULL REFERENCES auth_group (id), permission_id integer NOT NULL REFERENCES auth_permission (id));
    CREATE TABLE auth_user (id integer GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, password varchar(128) NOT NULL, last_login timestamptz NULL, is_superuser boolean NOT NULL, username varchar(150) NOT NULL UNIQUE, first_name varchar(150) NOT NULL, last_name varchar(150) NOT NULL, email varchar(254) NOT NULL, is_staff boolean NOT NULL, is_active boolean NOT NULL, date_joined timestamptz NOT NULL);
    CREATE TABLE auth_user_groups (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, user_id integer NOT NULL REFERENCES auth_user (id), group_id integer NOT NULL REFERENCES auth_group (id));
    CREATE TABLE auth_user_user_permissions (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, user_id integer NOT NULL REFERENCES auth_user (id), permission_id integer NOT NULL REFERENCES auth_permission (id));
    CREATE TABLE authtoken_token (key varchar(40) NOT NULL PRIMARY KEY, created timestamptz NOT NULL, user_id integer NOT NULL UNIQUE REFERENCES auth_user (id));
    CREATE TABLE lending_friend (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, name varchar(100) NOT NULL, owner_id integer NOT NULL REFERENCES auth_user (id));
    CREATE TABLE lending_belonging (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, name varchar(100) NOT NULL, owner_id integer NOT NULL REFERENCES auth_user (id));
    CREATE TABLE lending_borrowed (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, "when" timestamptz NOT NULL, returned timestamptz NULL, owner_id integer NOT NULL REFERENCES auth_user (id), what_id bigint NOT NULL REFERENCES lending_belonging (id), to_who_id bigint NOT NULL REFERENCES lending_friend (id));
    CREATE TABLE django_session (session_key varchar(40) NOT NULL PRIMARY KEY, session_data text NOT NULL, expire_date timestamptz NOT NULL);
    CREATE TABLE guardian_userobjectpermission (id integer GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, object_pk varchar(255) NOT NULL, content_type_id integer NOT NULL, permission_id integer NOT NULL, user_id integer NOT NULL);
    CREATE TABLE guardian_groupobjectpermission (id integer GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, object_pk varchar(255) NOT NULL, content_type_id integer NOT NULL, group_id integer NOT NULL, permission_id integer NOT NULL);
    CREATE TABLE polls_question (id integer GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, text varchar(200) NOT NULL);
"#;

/// Copies the SQLite Django database at `sqlite_path` into a new PostgreSQL database with
/// Django's PostgreSQL schema; returns its URL and name.
async fn django_on_postgres(admin: &str, sqlite_path: &str) -> (String, String) {
    let name = format!("django_src_{}", hex::encode(rand::random::<[u8; 6]>()));
    let (client, conn) = tokio_postgres::connect(admin, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap();
    let url = format!("{}/{name}", admin.rsplit_once('/').unwrap().0);
    let (pg, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    pg.batch_execute(DJANGO_POSTGRES_DDL).await.unwrap();
    pg.batch_execute("SET TIME ZONE 'UTC'").await.unwrap();
    let sqlite = rusqlite::Connection::open(sqlite_path).unwrap();
    // In foreign-key order; every value goes over as a literal PostgreSQL coerces to the
    // column's type (booleans from '0'/'1', timestamps from Django's SQLite text).
    for table in [
        "django_migrations",
        "django_content_type",
        "auth_permission",
        "auth_group",
        "auth_group_permissions",
        "auth_user",
        "auth_user_groups",
        "auth_user_user_permissions",
        "authtoken_token",
        "lending_friend",
        "lending_belonging",
        "lending_borrowed",
        "django_session",
        "guardian_userobjectpermission",
        "guardian_groupobjectpermission",
        "polls_question",
    ] {
        let mut stmt = sqlite
            .prepare(&format!("SELECT * FROM \"{table}\""))
            .unwrap();
        let columns: Vec<String> = stmt
            .column_names()
            .iter()
            .map(|c| format!("\"{c}\""))
            .collect();
        let mut rows = stmt.query([]).unwrap();
        while let Some(row) = rows.next().unwrap() {
            let values: Vec<String> = (0..columns.len())
                .map(|i| match row.get_ref(i).unwrap() {
                    rusqlite::types::ValueRef::Null => "NULL".to_owned(),
                    rusqlite::types::ValueRef::Integer(n) => format!("'{n}'"),
                    rusqlite::types::ValueRef::Text(t) => {
                        format!("'{}'", String::from_utf8_lossy(t).replace('\'', "''"))
                    }
                    other => panic!("unexpected {other:?}"),
                })
                .collect();
            pg.batch_execute(&format!(
                "INSERT INTO {table} ({}) VALUES ({})",
                columns.join(", "),
                values.join(", ")
            ))
            .await
            .unwrap();
        }
    }
    // The sequences' high-water marks, as the SQLite file has them.
    for (table, seq) in [("auth_user", 500), ("lending_friend", 40)] {
        pg.batch_execute(&format!(
            "SELECT setval(pg_get_serial_sequence('{table}', 'id'), {seq})"
        ))
        .await
        .unwrap();
    }
    (url, name)
}

async fn imports_everything(fixture: &Fixture, from: &str) {
    let app = TestApp::spawn().await;

    // A dry run reports and writes nothing.
    let (ok, out, err) = import_django(&app, from, &["--dry-run"]);
    assert!(ok, "{err}");
    assert!(out.contains("dry run: nothing was written"), "{out}");
    assert!(out.contains("would import"), "{out}");
    assert_eq!(count(&app, "SELECT COUNT(*) FROM auth_user").await, 0);

    let (ok, out, err) = import_django(&app, from, &[]);
    assert!(ok, "{err}");
    let rows = |table: &str| -> u64 {
        out.lines()
            .find(|l| l.split_whitespace().next() == Some(table))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no count for {table} in:\n{out}"))
    };
    assert_eq!(rows("auth_user"), fixture.users.len() as u64);
    assert_eq!(rows("authtoken_token"), 2);
    assert_eq!(rows("lending_friend"), 3);
    assert_eq!(rows("lending_belonging"), 3);
    assert_eq!(rows("lending_borrowed"), 4);
    assert_eq!(rows("auth_group"), 1);
    assert_eq!(rows("auth_user_groups"), 1);
    assert_eq!(rows("auth_user_user_permissions"), 2);
    assert_eq!(rows("auth_group_permissions"), 1);
    assert_eq!(rows("guardian_userobjectpermission"), 1);
    assert_eq!(rows("guardian_groupobjectpermission"), 1);
    // Everything not moved is named.
    for expected in [
        "not imported: password hasher md5 (1 users: u_md5)",
        "not imported: table polls_question (2 rows): unknown",
        "not imported: table django_session (1 rows): browser sessions do not move",
        "guardian_userobjectpermission: lending.view_friend on friend \"abc\"",
    ] {
        assert!(out.contains(expected), "{expected:?} missing in:\n{out}");
    }
    assert!(!out.contains("django_migrations"), "{out}");

    // Tokens: stored as hashes only, and they authenticate as before.
    let stored: Vec<String> = app
        .state
        .db
        .query(
            "SELECT key_hash FROM auth_token WHERE kind = 'imported'",
            vec![],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.text(0).unwrap())
        .collect();
    assert!(!stored.iter().any(|h| h == OWNER_TOKEN || h == SECOND_TOKEN));
    let owner = Api::with_token(&app, OWNER_TOKEN);
    let (status, me) = owner.get("/api/auth/users/me/").await;
    assert_eq!(status, 200, "{me}");
    let owner_name = &fixture.users[0].0;
    assert_eq!(
        me,
        json!({"email": format!("{owner_name}@example.com"), "id": 10, "username": owner_name})
    );
    let (status, _) = Api::with_token(&app, &OWNER_TOKEN.replace('0', "1"))
        .get("/api/auth/users/me/")
        .await;
    assert_eq!(status, 401);

    // Lending rows with their ids, timestamps and returned state; counters and filters.
    let (status, loans) = owner.get("/api/v1/borrowings/").await;
    assert_eq!(status, 200);
    assert_eq!(
        loans,
        json!({"count": 3, "next": null, "previous": null, "results": [
            {"id": 2, "what": 5, "to_who": 3, "when": "2024-03-04T05:06:07.123456Z", "returned": "2024-03-05T00:00:00Z"},
            {"id": 9, "what": 6, "to_who": 7, "when": "2024-04-01T00:00:00Z", "returned": null},
            {"id": 11, "what": 5, "to_who": 3, "when": "2999-01-01T00:00:00Z", "returned": null},
        ]})
    );
    let (_, overdue) = owner.get("/api/v1/borrowings/?overdue=true").await;
    assert_eq!(overdue["results"][0]["id"], 9);
    assert_eq!(overdue["count"], 1);
    let (_, friends) = owner.get("/api/v1/friends/").await;
    assert_eq!(
        friends,
        json!({"count": 2, "next": null, "previous": null, "results": [
            {"id": 3, "name": "Ann", "has_overdue": false},
            {"id": 7, "name": "Bob", "has_overdue": true},
        ]})
    );
    let (status, _) = owner.get("/api/v1/friends/8/").await;
    assert_eq!(status, 404, "another user's friend stays invisible");

    // Ids continue after the source's high-water marks, not after the largest id left.
    let friend = owner
        .create("/api/v1/friends/", json!({"name": "Dee"}))
        .await;
    assert_eq!(friend, 41);
    let (_, friends) = owner.get("/api/v1/friends/").await;
    assert_eq!(friends["count"], 3);
    let (_, newcomer) = Api::user(&app, "newcomer").await;
    assert_eq!(newcomer, 501);

    // Grants, by app label and codename; object grants of django-guardian.
    let second_name = &fixture.users[1].0;
    assert_eq!(
        model_grants(&app, owner_name).await,
        ["auth.view_user", "lending.add_belonging"]
    );
    assert_eq!(
        model_grants(&app, second_name).await,
        ["lending.change_belonging"]
    );
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM auth_user_object_permissions WHERE user_id = 12 AND object_id = 7").await,
        1
    );
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM auth_group_object_permissions WHERE group_id = 4 AND object_id = 3").await,
        1
    );

    // Every supported hash logs in with the old password and is then argon2id; the others
    // do not log in.
    for (username, hasher) in &fixture.users {
        let (status, body) = login(&app, username, &fixture.password).await;
        if hasher == "md5" || hasher == "unusable" {
            assert_eq!(status, 400, "{hasher}: {body}");
            continue;
        }
        assert_eq!(status, 200, "{hasher}: {body}");
        assert!(
            stored_hash(&app, username).await.starts_with("$argon2id$"),
            "{hasher} was not upgraded"
        );
        let (status, _) = login(&app, username, &format!("{}x", fixture.password)).await;
        assert_eq!(status, 400, "{hasher}");
    }

    // A login issues lendbook's own token; the imported one keeps working until logout,
    // which ends it.
    let (status, _) = owner.get("/api/auth/users/me/").await;
    assert_eq!(status, 200);
    let (status, _) = owner.post("/api/auth/token/logout/", json!({})).await;
    assert_eq!(status, 204);
    let (status, _) = owner.get("/api/auth/users/me/").await;
    assert_eq!(status, 401);

    // A lendbook token of a user, in use (and so cached).
    let (username, _) = &fixture.users[2];
    let (status, body) = login(&app, username, &fixture.password).await;
    assert_eq!(status, 200, "{body}");
    let cached = Api::with_token(&app, body["token"].as_str().unwrap());
    assert_eq!(cached.get("/api/private/").await.0, 200);

    // A non-empty target is refused, then replaced on request.
    let (ok, out, err) = import_django(&app, from, &["--dry-run"]);
    assert!(ok, "{err}");
    assert!(out.contains("would be refused without --replace"), "{out}");
    let (ok, _, err) = import_django(&app, from, &[]);
    assert!(!ok);
    assert!(
        err.contains("not empty") && err.contains("--replace"),
        "{err}"
    );
    let (ok, _, err) = import_django(&app, from, &["--replace"]);
    assert!(ok, "{err}");
    // The replaced user's token (gone with the old rows) stops working on the running
    // server at once, not when its cache entry expires.
    let mut status = 0;
    for _ in 0..50 {
        status = cached.get("/api/private/").await.0;
        if status == 401 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(status, 401, "a replaced credential is still accepted");
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM auth_user").await,
        fixture.users.len() as i64
    );
    assert_eq!(count(&app, "SELECT COUNT(*) FROM lending_friend").await, 3);
    assert_eq!(
        count(
            &app,
            "SELECT n FROM lending_owner_count WHERE tbl = 'lending_friend' AND owner_id = 10"
        )
        .await,
        2
    );
    assert!(stored_hash(&app, owner_name)
        .await
        .starts_with("pbkdf2_sha256$"));
}

#[tokio::test]
async fn refuses_a_database_without_django_auth_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("not-django.sqlite3");
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch("CREATE TABLE accounts_user (id INTEGER PRIMARY KEY);")
        .unwrap();
    let app = TestApp::spawn().await;
    let (ok, _, err) = import_django(&app, &path.display().to_string(), &[]);
    assert!(!ok);
    assert!(err.contains("no auth_user table"), "{err}");
    let (ok, _, err) = import_django(&app, "/nonexistent/db.sqlite3", &[]);
    assert!(!ok);
    assert!(err.contains("no SQLite file"), "{err}");

    // A value of the wrong type in the source is named by table, column and row.
    let fixture = django_database();
    let conn = rusqlite::Connection::open(&fixture.path).unwrap();
    conn.execute_batch(
        "PRAGMA foreign_keys = OFF; UPDATE lending_friend SET owner_id = 'abc' WHERE id = 7;",
    )
    .unwrap();
    drop(conn);
    let (ok, _, err) = import_django(&app, &fixture.path, &[]);
    assert!(!ok);
    assert!(err.contains("lending_friend.owner_id, row 2"), "{err}");
    assert_eq!(count(&app, "SELECT COUNT(*) FROM auth_user").await, 0);

    // A row the target refuses (a loan of a belonging that does not exist) rolls back all.
    let fixture = django_database();
    let conn = rusqlite::Connection::open(&fixture.path).unwrap();
    conn.execute_batch(
        "PRAGMA foreign_keys = OFF; INSERT INTO lending_borrowed (id, \"when\", owner_id, what_id, to_who_id) \
         VALUES (99, '2024-01-01 00:00:00', 10, 12345, 3);",
    )
    .unwrap();
    drop(conn);
    let (ok, _, err) = import_django(&app, &fixture.path, &[]);
    assert!(!ok, "{err}");
    assert_eq!(count(&app, "SELECT COUNT(*) FROM auth_user").await, 0);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM lending_friend").await, 0);
}

/// Statements the server runs for one token-authenticated GET.
async fn statements_for(app: &TestApp, token: &str, expected_status: u16) -> u64 {
    let before = app.state.db.statements_run();
    let (status, body) = Api::with_token(app, token).get("/api/private/").await;
    assert_eq!(status, expected_status, "{body}");
    app.state.db.statements_run() - before
}

/// The hot path stays as it was: a lendbook token is found by the one lookup it always
/// had; only a key that is not a lendbook token also looks among the imported keys
/// (measured with the credential cache off, which otherwise answers both).
#[tokio::test]
async fn imported_keys_are_looked_up_only_after_the_lendbook_token_lookup_misses() {
    let fixture = django_database();
    let app = TestApp::spawn_with(|c| c.auth.cache_capacity = 0).await;
    let (ok, _, err) = import_django(&app, &fixture.path, &[]);
    assert!(ok, "{err}");
    let (status, body) = login(&app, &fixture.users[0].0, &fixture.password).await;
    assert_eq!(status, 200, "{body}");
    let own = body["token"].as_str().unwrap().to_owned();
    assert_ne!(own, OWNER_TOKEN);
    // The login's audit record is written in the background: not part of what is counted.
    app.state.auth.audit_log().flush().await;
    let derived = statements_for(&app, &own, 200).await;
    let imported = statements_for(&app, OWNER_TOKEN, 200).await;
    let unknown = statements_for(&app, &"1".repeat(40), 401).await;
    // A miss costs the second lookup; an imported key the same (plus the occasional
    // background write of its "last used").
    assert_eq!(unknown, derived + 1);
    assert!(imported > derived, "{imported} vs {derived}");
}
