//! The lending API beyond the recorded cases: overdue loans, query counts, isolation under
//! concurrency, and every 4xx path of each resource.

mod support;

use axum_drf::store::{now_micros, Value};
use serde_json::json;
use support::{Api, TestApp};

const DAY: i64 = 86_400_000_000;

async fn backdate(app: &TestApp, loan: i64, days: i64) {
    app.state
        .db
        .execute(
            "UPDATE lending_borrowed SET lent_at = $1 WHERE id = $2",
            vec![Value::Int(now_micros() - days * DAY), Value::Int(loan)],
        )
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn old_unreturned_loans_are_overdue() {
    let app = TestApp::spawn().await;
    let (alice, _) = Api::user(&app, "alice").await;
    let bob = alice
        .create("/api/v1/friends/", json!({"name": "Bob"}))
        .await;
    let carol = alice
        .create("/api/v1/friends/", json!({"name": "Carol"}))
        .await;
    let drill = alice
        .create("/api/v1/belongings/", json!({"name": "Drill"}))
        .await;
    let old = alice
        .create("/api/v1/borrowings/", json!({"what": drill, "to_who": bob}))
        .await;
    let fresh = alice
        .create(
            "/api/v1/borrowings/",
            json!({"what": drill, "to_who": carol}),
        )
        .await;
    backdate(&app, old, 90).await;
    backdate(&app, fresh, 20).await;

    let (_, b) = alice.get(&format!("/api/v1/friends/{bob}/")).await;
    assert_eq!(b["has_overdue"], json!(true));
    let (_, c) = alice.get(&format!("/api/v1/friends/{carol}/")).await;
    assert_eq!(c["has_overdue"], json!(false));
    let (_, overdue) = alice.get("/api/v1/borrowings/?overdue=true").await;
    assert_eq!(overdue["count"], json!(1));
    assert_eq!(overdue["results"][0]["id"], json!(old));
    let (_, missing) = alice.get("/api/v1/borrowings/?missing=1").await;
    assert_eq!(missing["count"], json!(2));

    let (status, returned) = alice
        .post(&format!("/api/v1/borrowings/{old}/return/"), json!({}))
        .await;
    assert_eq!(status, 200);
    assert!(returned["returned"].is_string());
    let (_, b) = alice.get(&format!("/api/v1/friends/{bob}/")).await;
    assert_eq!(b["has_overdue"], json!(false));
    let (_, overdue) = alice.get("/api/v1/borrowings/?overdue=1").await;
    assert_eq!(overdue["count"], json!(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn listing_many_friends_costs_a_constant_number_of_queries() {
    let app = TestApp::spawn().await;
    let (alice, _) = Api::user(&app, "alice").await;
    let drill = alice
        .create("/api/v1/belongings/", json!({"name": "Drill"}))
        .await;
    for i in 0..40 {
        let f = alice
            .create("/api/v1/friends/", json!({"name": format!("F{i}")}))
            .await;
        let loan = alice
            .create("/api/v1/borrowings/", json!({"what": drill, "to_who": f}))
            .await;
        if i % 3 == 0 {
            backdate(&app, loan, 100).await;
        }
    }
    // Warm the credential cache so only the list itself is counted.
    alice.get("/api/private/").await;
    let before = app.state.db.statements_run();
    let (status, page) = alice.get("/api/v1/friends/").await;
    let used = app.state.db.statements_run() - before;
    assert_eq!(status, 200);
    assert_eq!(page["count"], json!(40));
    let overdue = page["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["has_overdue"] == json!(true))
        .count();
    assert_eq!(overdue, 14);
    // COUNT + page, whatever the number of rows (plus at most one token lookup).
    assert!(used <= 3, "list used {used} statements");
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_creates_by_many_users_stay_isolated() {
    let app = TestApp::spawn().await;
    let mut users = Vec::new();
    for i in 0..6 {
        users.push(Api::user(&app, &format!("user{i}")).await.0);
    }
    let mut tasks = Vec::new();
    for (u, api) in users.iter().enumerate() {
        for n in 0..8 {
            tasks.push(api.post("/api/v1/friends/", json!({"name": format!("u{u}-f{n}")})));
        }
    }
    for (status, body) in futures::future::join_all(tasks).await {
        assert_eq!(status, 201, "{body}");
    }
    for (u, api) in users.iter().enumerate() {
        let (_, page) = api.get("/api/v1/friends/").await;
        assert_eq!(page["count"], json!(8));
        for f in page["results"].as_array().unwrap() {
            assert!(f["name"].as_str().unwrap().starts_with(&format!("u{u}-")));
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_client_error_path_of_each_resource() {
    let app = TestApp::spawn().await;
    let (alice, _) = Api::user(&app, "alice").await;
    let (eve, _) = Api::user(&app, "eve").await;
    let anon = Api::anonymous(&app);
    let friend = alice
        .create("/api/v1/friends/", json!({"name": "Bob"}))
        .await;
    let thing = alice
        .create("/api/v1/belongings/", json!({"name": "Drill"}))
        .await;
    let loan = alice
        .create(
            "/api/v1/borrowings/",
            json!({"what": thing, "to_who": friend}),
        )
        .await;
    let eve_friend = eve
        .create("/api/v1/friends/", json!({"name": "Mallory"}))
        .await;
    let eve_thing = eve
        .create("/api/v1/belongings/", json!({"name": "Saw"}))
        .await;

    for (base, id, model) in [
        ("/api/v1/friends/", friend, "Friend"),
        ("/api/v1/belongings/", thing, "Belonging"),
        ("/api/v1/borrowings/", loan, "Borrowed"),
    ] {
        let detail = format!("{base}{id}/");
        // 401: anonymous, list and detail.
        assert_eq!(anon.get(base).await.0, 401);
        assert_eq!(anon.delete(&detail).await.0, 401);
        // 404: another user's object, on every method; unknown and non-numeric ids.
        let hidden = json!({"detail": format!("No {model} matches the given query.")});
        assert_eq!(eve.get(&detail).await, (404, hidden.clone()));
        assert_eq!(
            eve.patch(&detail, json!({"name": "x"})).await,
            (404, hidden.clone())
        );
        assert_eq!(eve.delete(&detail).await, (404, hidden.clone()));
        assert_eq!(alice.get(&format!("{base}999999/")).await, (404, hidden));
        assert_eq!(
            alice.get(&format!("{base}x1/")).await,
            (404, json!({"detail": "Not found."}))
        );
        // 405.
        assert_eq!(alice.put(base, json!({})).await.0, 405);
        assert_eq!(alice.post(&detail, json!({})).await.0, 405);
        // 400: not an object; malformed JSON; 415: wrong media type.
        assert_eq!(
            alice.post(base, json!([1])).await,
            (
                400,
                json!({"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]})
            )
        );
        let raw = reqwest::Client::new()
            .post(app.url(base))
            .header("Authorization", format!("Token {}", app_token(&alice)))
            .header("Content-Type", "text/csv")
            .body("a,b")
            .send()
            .await
            .unwrap();
        assert_eq!(raw.status(), 415);
        // Still there after all that.
        assert_eq!(alice.get(&detail).await.0, 200);
    }
    // 400: validation on each writable field.
    assert_eq!(
        alice.post("/api/v1/friends/", json!({"name": ""})).await.0,
        400
    );
    assert_eq!(alice.post("/api/v1/belongings/", json!({})).await.0, 400);
    // A loan can never point at someone else's friend or belonging, on create or update.
    let invalid = |id: i64| json!([format!("Invalid pk \"{id}\" - object does not exist.")]);
    let (status, body) = alice
        .post(
            "/api/v1/borrowings/",
            json!({"what": eve_thing, "to_who": eve_friend}),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(body["what"], invalid(eve_thing));
    assert_eq!(body["to_who"], invalid(eve_friend));
    let detail = format!("/api/v1/borrowings/{loan}/");
    let (status, body) = alice.patch(&detail, json!({"to_who": eve_friend})).await;
    assert_eq!((status, &body["to_who"]), (400, &invalid(eve_friend)));
    let (status, body) = alice
        .put(&detail, json!({"what": eve_thing, "to_who": friend}))
        .await;
    assert_eq!((status, &body["what"]), (400, &invalid(eve_thing)));
    let (_, unchanged) = alice.get(&detail).await;
    assert_eq!(
        (unchanged["what"].as_i64(), unchanged["to_who"].as_i64()),
        (Some(thing), Some(friend))
    );
    // PUT needs every required field; PATCH does not.
    assert_eq!(alice.put(&detail, json!({"what": thing})).await.0, 400);
    assert_eq!(alice.patch(&detail, json!({"returned": null})).await.0, 200);
    // A client-sent owner is ignored.
    let (_, created) = alice
        .post("/api/v1/friends/", json!({"name": "Z", "owner": 999}))
        .await;
    assert_eq!(
        eve.get(&format!("/api/v1/friends/{}/", created["id"]))
            .await
            .0,
        404
    );
    // The return action: twice is 400.
    let path = format!("/api/v1/borrowings/{loan}/return/");
    assert_eq!(alice.post(&path, json!({})).await.0, 200);
    assert_eq!(
        alice.post(&path, json!({})).await,
        (400, json!({"detail": "Already returned."}))
    );
    assert_eq!(eve.post(&path, json!({})).await.0, 404);
}

fn app_token(api: &Api) -> String {
    api.token().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn deleting_a_friend_or_belonging_deletes_its_loans() {
    let app = TestApp::spawn().await;
    let (alice, _) = Api::user(&app, "alice").await;
    let f = alice
        .create("/api/v1/friends/", json!({"name": "Bob"}))
        .await;
    let b = alice
        .create("/api/v1/belongings/", json!({"name": "Drill"}))
        .await;
    let b2 = alice
        .create("/api/v1/belongings/", json!({"name": "Saw"}))
        .await;
    alice
        .create("/api/v1/borrowings/", json!({"what": b, "to_who": f}))
        .await;
    alice
        .create("/api/v1/borrowings/", json!({"what": b2, "to_who": f}))
        .await;
    assert_eq!(
        alice.delete(&format!("/api/v1/belongings/{b}/")).await.0,
        204
    );
    assert_eq!(alice.get("/api/v1/borrowings/").await.1["count"], json!(1));
    assert_eq!(alice.delete(&format!("/api/v1/friends/{f}/")).await.0, 204);
    assert_eq!(alice.get("/api/v1/borrowings/").await.1["count"], json!(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn options_lists_put_only_for_objects_the_user_reaches() {
    let app = TestApp::spawn().await;
    let (alice, _) = Api::user(&app, "alice").await;
    let (eve, _) = Api::user(&app, "eve").await;
    let friend = alice
        .create("/api/v1/friends/", json!({"name": "Bob"}))
        .await;
    let path = format!("/api/v1/friends/{friend}/");
    let (status, own) = alice.send(reqwest::Method::OPTIONS, &path, None).await;
    assert_eq!(status, 200);
    assert_eq!(own["actions"]["PUT"]["name"]["max_length"], json!(100));
    // DRF's metadata runs get_object() for PUT: another user's (or a missing) object
    // gets the description without actions.
    for (api, path) in [
        (&eve, path.clone()),
        (&alice, "/api/v1/friends/99999/".to_owned()),
    ] {
        let (status, body) = api.send(reqwest::Method::OPTIONS, &path, None).await;
        assert_eq!(status, 200);
        assert_eq!(body["name"], json!("Friend Instance"));
        assert!(body.get("actions").is_none(), "{body}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn absolute_links_follow_a_trusted_proxys_scheme_only() {
    let app = TestApp::spawn_with(|c| c.auth.trust_forwarded_proto = true).await;
    let (alice, _) = Api::user(&app, "alice").await;
    for i in 0..3 {
        alice
            .create("/api/v1/friends/", json!({"name": format!("F{i}")}))
            .await;
    }
    let client = reqwest::Client::new();
    let page: serde_json::Value = client
        .get(app.url("/api/v1/friends/?limit=1"))
        .header("Authorization", format!("Token {}", alice.token()))
        .header("X-Forwarded-Proto", "https")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let next = page["next"].as_str().unwrap();
    assert!(next.starts_with("https://"), "{next}");

    // Untrusted by default: a client cannot make the server emit https links.
    let plain = TestApp::spawn().await;
    let (bob, _) = Api::user(&plain, "bob").await;
    for i in 0..3 {
        bob.create("/api/v1/friends/", json!({"name": format!("F{i}")}))
            .await;
    }
    let page: serde_json::Value = client
        .get(plain.url("/api/v1/friends/?limit=1"))
        .header("Authorization", format!("Token {}", bob.token()))
        .header("X-Forwarded-Proto", "https")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(page["next"].as_str().unwrap().starts_with("http://"));
}

/// An owner's list reads its page from an index holding every listed column, so there is no
/// table seek per row (SQLite's plan says "COVERING INDEX"). PostgreSQL chooses plans by its
/// statistics, so there the index itself is checked.
#[tokio::test]
async fn owner_lists_are_read_from_covering_indexes() {
    let app = TestApp::spawn().await;
    let db = &app.state.db;
    let lists = [
        ("lending_friend", "t.id, t.name, t.open_since, t.owner_id"),
        ("lending_belonging", "t.id, t.name, t.owner_id"),
        (
            "lending_borrowed",
            "t.id, t.what_id, t.to_who_id, t.lent_at, t.returned, t.owner_id",
        ),
    ];
    for (table, columns) in lists {
        if db.backend() == axum_drf::store::Backend::Postgres {
            let row = db
                .query_opt(
                    "SELECT indexdef FROM pg_indexes WHERE tablename = $1 AND indexname = $2",
                    vec![
                        Value::Text(table.into()),
                        Value::Text(format!("{table}_owner_rows")),
                    ],
                )
                .await
                .unwrap()
                .unwrap_or_else(|| panic!("{table} has no covering index"));
            assert!(row.text(0).unwrap().contains("INCLUDE"), "{table}");
            continue;
        }
        // The page query as the framework writes it for an owner-scoped list.
        let plan = db
            .query(
                format!(
                    "EXPLAIN QUERY PLAN SELECT {columns} FROM {table} t \
                     WHERE t.owner_id = $1 ORDER BY t.id LIMIT $2 OFFSET $3"
                ),
                vec![Value::Int(1), Value::Int(20), Value::Int(0)],
            )
            .await
            .unwrap();
        let plan: Vec<String> = plan.iter().map(|r| r.text(3).unwrap()).collect();
        assert!(
            plan.iter().any(|p| p.contains("USING COVERING INDEX")),
            "{table}: {plan:?}"
        );
        assert!(
            !plan.iter().any(|p| p.contains("TEMP B-TREE")),
            "{table}: {plan:?}"
        );
    }
}

/// Friends whose kept `open_since` differs from their oldest open loan as a query finds it.
async fn stale_open_since(app: &TestApp) -> i64 {
    app.state
        .db
        .query_opt(
            "SELECT COUNT(*) FROM lending_friend f WHERE COALESCE(f.open_since, -1) <> COALESCE(\
             (SELECT MIN(b.lent_at) FROM lending_borrowed b \
              WHERE b.to_who_id = f.id AND b.returned IS NULL), -1)",
            vec![],
        )
        .await
        .unwrap()
        .unwrap()
        .int(0)
        .unwrap()
}

/// `has_overdue` compares a date triggers keep on the friend (its oldest open loan): it
/// follows every kind of change to loans — lend, backdate, return, move to another friend,
/// delete, a cascade from a deleted belonging — and many changes to one friend at once.
#[tokio::test(flavor = "multi_thread")]
async fn has_overdue_follows_every_change_to_loans() {
    let app = TestApp::spawn().await;
    let (alice, _) = Api::user(&app, "alice").await;
    let friend = |name: &'static str| alice.create("/api/v1/friends/", json!({ "name": name }));
    let (bob, carol) = (friend("Bob").await, friend("Carol").await);
    let drill = alice
        .create("/api/v1/belongings/", json!({"name": "Drill"}))
        .await;
    let saw = alice
        .create("/api/v1/belongings/", json!({"name": "Saw"}))
        .await;
    let lend = |what: i64, to: i64| {
        alice.create("/api/v1/borrowings/", json!({"what": what, "to_who": to}))
    };
    let overdue = |friend: i64| {
        let alice = &alice;
        async move {
            let (_, f) = alice.get(&format!("/api/v1/friends/{friend}/")).await;
            f["has_overdue"].as_bool().unwrap()
        }
    };
    let old = lend(drill, bob).await;
    let recent = lend(saw, bob).await;
    backdate(&app, old, 90).await;
    assert!(overdue(bob).await && !overdue(carol).await);

    let (status, _) = alice
        .patch(
            &format!("/api/v1/borrowings/{old}/"),
            json!({"to_who": carol}),
        )
        .await;
    assert_eq!(status, 200);
    assert!(!overdue(bob).await && overdue(carol).await);

    // Deleting the drill deletes its loan (now Carol's) by cascade.
    let (status, _) = alice.delete(&format!("/api/v1/belongings/{drill}/")).await;
    assert_eq!(status, 204);
    assert!(!overdue(carol).await);

    backdate(&app, recent, 100).await;
    assert!(overdue(bob).await);
    let (status, _) = alice.delete(&format!("/api/v1/borrowings/{recent}/")).await;
    assert_eq!(status, 204);
    assert!(!overdue(bob).await);
    assert_eq!(stale_open_since(&app).await, 0);

    // Many loans to one friend lent, backdated and returned at once.
    let loans: Vec<i64> = futures::future::join_all((0..24).map(|_| lend(saw, carol))).await;
    let changes = loans.iter().enumerate().map(|(i, &loan)| {
        let (alice, app) = (&alice, &app);
        async move {
            backdate(app, loan, 60 + i as i64).await;
            if i % 2 == 0 {
                let (status, _) = alice
                    .post(&format!("/api/v1/borrowings/{loan}/return/"), json!({}))
                    .await;
                assert_eq!(status, 200);
            }
        }
    });
    futures::future::join_all(changes).await;
    assert_eq!(stale_open_since(&app).await, 0);
    assert!(overdue(carol).await);
}
