//! Operating the server over HTTP: probes, Prometheus metrics (and their bearer token), CORS
//! preflights, the registration switch.

mod support;

use axum_drf::store::Value;
use support::{Api, TestApp};

#[tokio::test]
async fn probes_need_no_credentials_and_readyz_sees_pending_migrations() {
    let app = TestApp::spawn().await;
    let client = reqwest::Client::new();
    for path in ["/healthz", "/readyz"] {
        // Even a bad credential does not matter: probes are outside the view path.
        let r = client
            .get(app.url(path))
            .header("Authorization", "Token not-a-token")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
    }
    // Forget one migration: the binary is ahead of the database.
    app.state
        .db
        .execute(
            "DELETE FROM _migrations WHERE name = $1",
            vec![Value::Text("lending_0002_owner_counts".into())],
        )
        .await
        .unwrap();
    let r = client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 503);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(
        body["pending"],
        serde_json::json!(["lending_0002_owner_counts"])
    );
    // Alive all the same.
    assert_eq!(
        client
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

async fn scrape(app: &TestApp, token: Option<&str>) -> (u16, String) {
    let mut req = reqwest::Client::new().get(app.url("/metrics"));
    if let Some(t) = token {
        req = req.header("Authorization", format!("Bearer {t}"));
    }
    let r = req.send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test]
async fn metrics_count_requests_by_route_template_and_authentication_outcome() {
    let app = TestApp::spawn().await;
    let (api, _) = Api::user(&app, "mia").await;
    let id = api
        .create("/api/v1/friends/", serde_json::json!({"name": "Ann"}))
        .await;
    let path = format!("/api/v1/friends/{id}/");
    for _ in 0..3 {
        assert_eq!(api.get(&path).await.0, 200);
    }
    assert_eq!(api.get("/api/v1/friends/987654/").await.0, 404);
    reqwest::Client::new()
        .get(app.url("/api/private/"))
        .header("Authorization", "Token wrong")
        .send()
        .await
        .unwrap();
    reqwest::get(app.url("/no/such/path/at/all")).await.unwrap();

    let (status, text) = scrape(&app, None).await;
    assert_eq!(status, 200);
    // The template, never the raw path (the recorder is process-wide: other tests add to
    // the counts, so only presence is asserted).
    assert!(
        text.contains(
            r#"http_requests_total{method="GET",route="/api/v1/friends/{pk}/",status="200"}"#
        ),
        "{text}"
    );
    assert!(
        text.contains(r#"route="/api/v1/friends/{pk}/",status="404""#),
        "{text}"
    );
    assert!(
        !text.contains("987654") && !text.contains("/no/such/path"),
        "{text}"
    );
    assert!(text.contains(r#"route="unmatched""#), "{text}");
    assert!(
        text.contains("http_request_duration_seconds_bucket{"),
        "{text}"
    );
    assert!(
        text.contains(r#"auth_attempts_total{scheme="token",outcome="success"}"#),
        "{text}"
    );
    assert!(
        text.contains(r#"auth_attempts_total{scheme="token",outcome="failure"}"#),
        "{text}"
    );
    assert!(
        text.contains(r#"auth_credential_cache_total{result="hit"}"#),
        "{text}"
    );
    assert!(
        text.contains(r#"db_pool_connections{state="max"}"#),
        "{text}"
    );
    assert!(text.contains("password_hashing_in_flight"), "{text}");
}

#[tokio::test]
async fn metrics_can_require_a_bearer_token_or_be_off() {
    let app = TestApp::spawn_with(|c| c.metrics.token = Some("scrape-me".into())).await;
    assert_eq!(scrape(&app, None).await.0, 401);
    assert_eq!(scrape(&app, Some("scrape-mf")).await.0, 401);
    assert_eq!(scrape(&app, Some("scrape-me-too")).await.0, 401);
    let (status, text) = scrape(&app, Some("scrape-me")).await;
    assert_eq!(status, 200);
    assert!(text.contains("http_requests_total"));

    let off = TestApp::spawn_with(|c| c.metrics.enabled = false).await;
    assert_eq!(scrape(&off, None).await.0, 404);
}

async fn preflight(app: &TestApp, origin: &str) -> reqwest::Response {
    reqwest::Client::new()
        .request(reqwest::Method::OPTIONS, app.url("/api/v1/friends/"))
        .header("Origin", origin)
        .header("Access-Control-Request-Method", "POST")
        .header(
            "Access-Control-Request-Headers",
            "authorization, content-type",
        )
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn cors_is_off_by_default_and_answers_preflights_when_configured() {
    let app = TestApp::spawn().await;
    let r = preflight(&app, "https://app.example.com").await;
    assert!(r.headers().get("access-control-allow-origin").is_none());
    // Without CORS an OPTIONS stays DRF's (metadata needs authentication here: 401).
    assert_eq!(r.status(), 401);

    let app = TestApp::spawn_with(|c| {
        c.cors.allowed_origins = vec!["https://app.example.com".into()];
        c.cors.allow_credentials = true;
        c.cors.max_age = 120;
    })
    .await;
    let r = preflight(&app, "https://app.example.com").await;
    assert_eq!(r.status(), 200);
    let h = r.headers();
    assert_eq!(h["access-control-allow-origin"], "https://app.example.com");
    assert_eq!(h["access-control-allow-credentials"], "true");
    assert_eq!(h["access-control-max-age"], "120");
    assert!(h["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .contains("POST"));
    assert!(h["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .contains("authorization"));

    let r = preflight(&app, "https://evil.example.com").await;
    assert!(r.headers().get("access-control-allow-origin").is_none());
    // The browser refuses the cross-origin call without it.

    // A simple request from the allowed origin gets the header on the real answer.
    let r = reqwest::Client::new()
        .get(app.url("/api/public/"))
        .header("Origin", "https://app.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
}

#[tokio::test]
async fn closed_registration_answers_drf_shaped_403() {
    let app = TestApp::spawn_with(|c| c.accounts.allow_registration = false).await;
    let (status, body) = Api::anonymous(&app)
        .post(
            "/api/auth/users/",
            serde_json::json!({"username": "x", "password": "correct-Horse-7-battery"}),
        )
        .await;
    assert_eq!(status, 403);
    assert_eq!(
        body,
        serde_json::json!({"detail": "You do not have permission to perform this action."})
    );
    let rows = app
        .state
        .db
        .query("SELECT COUNT(*) FROM auth_user", Vec::new())
        .await
        .unwrap();
    assert_eq!(rows[0].int(0).unwrap(), 0);
}
