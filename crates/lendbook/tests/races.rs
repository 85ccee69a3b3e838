//! Writes racing deletes answer 4xx, never 500: a borrowing created or updated while the
//! friend (or belonging) it names is being deleted reads DRF's 400 `Invalid pk`.

mod support;

use futures::future::join_all;
use serde_json::{json, Value};
use support::{Api, TestApp};

const ROUNDS: usize = 25;
const WRITERS: usize = 8;

/// Every answer of a racing write: 2xx, 404 (the row itself went with a cascade) or DRF's
/// 400 naming the field that lost its object.
fn check(answers: &[(u16, Value)], field: &str, id: i64) {
    let expected = json!({ field: [format!("Invalid pk \"{id}\" - object does not exist.")] });
    for (status, body) in answers {
        match status {
            200 | 201 | 404 => {}
            400 => assert_eq!(body, &expected),
            _ => panic!("{status} {body}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn creating_borrowings_while_their_friend_or_belonging_is_deleted_never_fails() {
    let app = TestApp::spawn().await;
    let (api, _) = Api::user(&app, "racer").await;
    let mut refused = 0;
    for round in 0..ROUNDS {
        let friend = api.create("/api/v1/friends/", json!({"name": "F"})).await;
        let thing = api
            .create("/api/v1/belongings/", json!({"name": "B"}))
            .await;
        // Alternate which side disappears.
        let (victim, field, id) = if round % 2 == 0 {
            (format!("/api/v1/friends/{friend}/"), "to_who", friend)
        } else {
            (format!("/api/v1/belongings/{thing}/"), "what", thing)
        };
        let body = json!({"what": thing, "to_who": friend});
        let creates = (0..WRITERS).map(|_| api.post("/api/v1/borrowings/", body.clone()));
        let (answers, deleted) = futures::join!(join_all(creates), async {
            tokio::time::sleep(std::time::Duration::from_micros(
                rand::random::<u64>() % 3000,
            ))
            .await;
            api.delete(&victim).await
        });
        assert_eq!(deleted.0, 204);
        check(&answers, field, id);
        refused += answers.iter().filter(|(s, _)| *s == 400).count();
    }
    eprintln!("{refused} creates refused with 400 over {ROUNDS} rounds");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn moving_a_borrowing_to_a_friend_being_deleted_never_fails() {
    let app = TestApp::spawn().await;
    let (api, _) = Api::user(&app, "mover").await;
    let home = api
        .create("/api/v1/friends/", json!({"name": "Home"}))
        .await;
    let thing = api
        .create("/api/v1/belongings/", json!({"name": "B"}))
        .await;
    for _ in 0..ROUNDS {
        let loans: Vec<i64> = join_all((0..WRITERS).map(|_| {
            api.create(
                "/api/v1/borrowings/",
                json!({"what": thing, "to_who": home}),
            )
        }))
        .await;
        let friend = api.create("/api/v1/friends/", json!({"name": "F"})).await;
        let paths: Vec<String> = loans
            .iter()
            .map(|id| format!("/api/v1/borrowings/{id}/"))
            .collect();
        let moves = paths
            .iter()
            .map(|path| api.patch(path, json!({"to_who": friend})));
        let (answers, deleted) = futures::join!(join_all(moves), async {
            tokio::time::sleep(std::time::Duration::from_micros(
                rand::random::<u64>() % 3000,
            ))
            .await;
            api.delete(&format!("/api/v1/friends/{friend}/")).await
        });
        assert_eq!(deleted.0, 204);
        check(&answers, "to_who", friend);
    }
}
