//! The browsable API and DRF's login pages, spoken to as a browser would (HTML, cookies,
//! form posts with `csrfmiddlewaretoken`).

mod support;

use reqwest::header::{ACCEPT, CONTENT_TYPE, LOCATION};
use reqwest::redirect::Policy;
use serde_json::json;
use support::{Api, TestApp};

const PASSWORD: &str = "correct-Horse-7-battery";

fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(Policy::none())
        .build()
        .unwrap()
}

fn csrf_token(html: &str) -> String {
    let re = regex::Regex::new(r#"name="csrfmiddlewaretoken" value="([A-Za-z0-9]{64})""#).unwrap();
    re.captures(html).expect("a CSRF token in the page")[1].to_owned()
}

async fn html(response: reqwest::Response) -> (u16, String, String) {
    let status = response.status().as_u16();
    let content_type = response.headers()[CONTENT_TYPE]
        .to_str()
        .unwrap()
        .to_owned();
    (status, content_type, response.text().await.unwrap())
}

/// Logs `username` in through `/api-auth/login/` and returns the redirect target.
async fn log_in(app: &TestApp, client: &reqwest::Client, username: &str, next: &str) -> String {
    let page = client
        .get(app.url(&format!("/api-auth/login/?next={next}")))
        .send()
        .await
        .unwrap();
    let (_, _, body) = html(page).await;
    let token = csrf_token(&body);
    let r = client
        .post(app.url("/api-auth/login/"))
        .form(&[
            ("username", username),
            ("password", PASSWORD),
            ("csrfmiddlewaretoken", &token),
            ("next", next),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302, "login redirects");
    r.headers()[LOCATION].to_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_way_of_asking_for_html_gets_the_page_with_the_json_status() {
    let app = TestApp::spawn().await;
    let (api, _) = Api::user(&app, "alice").await;
    api.create("/api/v1/friends/", json!({"name": "Bob"})).await;
    let client = reqwest::Client::new();
    let auth = format!("Token {}", api.token());
    for (path, accept) in [
        (
            "/api/v1/friends/",
            Some("text/html,application/xhtml+xml,*/*;q=0.8"),
        ),
        ("/api/v1/friends/?format=api", None),
        ("/api/v1/friends.api", None),
    ] {
        let mut request = client.get(app.url(path)).header("Authorization", &auth);
        if let Some(accept) = accept {
            request = request.header(ACCEPT, accept);
        }
        let r = request.send().await.unwrap();
        assert_eq!(r.headers()["allow"], "GET, POST, HEAD, OPTIONS");
        assert_eq!(r.headers()["vary"], "Accept");
        let (status, content_type, body) = html(r).await;
        assert_eq!(
            (status, content_type.as_str()),
            (200, "text/html; charset=utf-8"),
            "{path}"
        );
        assert!(body.contains("<h1>Friend List</h1>"), "{path}");
        assert!(body.contains("HTTP 200 OK"));
        assert!(body.contains("<b>Allow:</b>"));
        assert!(body.contains("<b>Vary:</b>"));
        // Pretty-printed JSON, four spaces as DRF.
        assert!(body.contains("\n    &quot;count&quot;: 1,"), "{body}");
    }
    // Errors render the same way, with their own status.
    let r = client
        .get(app.url("/api/v1/friends/999/"))
        .header("Authorization", &auth)
        .header(ACCEPT, "text/html")
        .send()
        .await
        .unwrap();
    let (status, content_type, body) = html(r).await;
    assert_eq!(
        (status, content_type.as_str()),
        (404, "text/html; charset=utf-8")
    );
    assert!(body.contains("HTTP 404 Not Found"));
    assert!(body.contains("No Friend matches the given query."));
    let r = client
        .get(app.url("/api/v1/friends/"))
        .header(ACCEPT, "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["www-authenticate"], "Token");
    let (status, _, body) = html(r).await;
    assert_eq!(status, 401);
    assert!(body.contains("Authentication credentials were not provided."));
    assert!(
        body.contains(r#"id="login""#),
        "anonymous pages link the login"
    );
    // JSON clients are unaffected.
    let r = client
        .get(app.url("/api/v1/friends/"))
        .header("Authorization", &auth)
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()[CONTENT_TYPE], "application/json");
}

#[tokio::test(flavor = "multi_thread")]
async fn names_render_as_text_not_markup() {
    let app = TestApp::spawn().await;
    let (api, _) = Api::user(&app, "alice").await;
    let evil = "<script>alert(1)</script>";
    let id = api.create("/api/v1/friends/", json!({"name": evil})).await;
    for path in [
        "/api/v1/friends/".to_owned(),
        format!("/api/v1/friends/{id}/"),
    ] {
        let r = reqwest::Client::new()
            .get(app.url(&path))
            .header("Authorization", format!("Token {}", api.token()))
            .header(ACCEPT, "text/html")
            .send()
            .await
            .unwrap();
        let (status, _, body) = html(r).await;
        assert_eq!(status, 200);
        assert!(!body.contains("<script>alert"), "{body}");
        assert!(
            body.contains("&lt;script&gt;alert(1)&lt;"),
            "{path}: {body}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn forms_are_offered_only_for_permitted_methods() {
    let app = TestApp::spawn_with(|c| {
        c.resources.insert(
            "friends".into(),
            lendbook::config::ResourceSettings {
                permission: Some("IsAuthenticated & IsOwnerOrReadOnly".into()),
                scope: Some(axum_drf::permissions::Scope::All),
            },
        );
    })
    .await;
    let (alice, _) = Api::user(&app, "alice").await;
    let (bob, _) = Api::user(&app, "bob").await;
    let id = alice
        .create("/api/v1/friends/", json!({"name": "Carol"}))
        .await;
    let page = |api: &Api, path: String| {
        let request = reqwest::Client::new()
            .get(app.url(&path))
            .header("Authorization", format!("Token {}", api.token()))
            .header(ACCEPT, "text/html");
        async move { html(request.send().await.unwrap()).await.2 }
    };
    let own = page(&alice, format!("/api/v1/friends/{id}/")).await;
    assert!(own.contains(r#"id="put-form""#));
    assert!(own.contains(r#"id="delete-button""#));
    assert!(
        own.contains(r#"value="Carol""#),
        "the edit form starts from the object"
    );
    assert!(own.contains(r#"data-method="PATCH""#));
    let others = page(&bob, format!("/api/v1/friends/{id}/")).await;
    assert!(others.contains("Carol"), "bob may read it");
    assert!(!others.contains(r#"id="put-form""#), "but not edit it");
    assert!(!others.contains(r#"id="delete-button""#));
    let list = page(&bob, "/api/v1/friends/".into()).await;
    assert!(list.contains(r#"id="post-form""#));
    assert!(
        list.contains(r#"maxlength="100""#),
        "lengths come from the declaration"
    );
    let anonymous = html(
        reqwest::Client::new()
            .get(app.url("/api/v1/friends/"))
            .header(ACCEPT, "text/html")
            .send()
            .await
            .unwrap(),
    )
    .await
    .2;
    assert!(!anonymous.contains(r#"id="post-form""#));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_browser_logs_in_posts_forms_and_logs_out() {
    let app = TestApp::spawn().await;
    Api::user(&app, "alice").await;
    let client = browser();
    assert_eq!(
        log_in(&app, &client, "alice", "/api/v1/friends/").await,
        "/api/v1/friends/"
    );
    let page = |client: &reqwest::Client| {
        let request = client
            .get(app.url("/api/v1/friends/"))
            .header(ACCEPT, "text/html");
        async move { html(request.send().await.unwrap()).await }
    };
    let (status, _, body) = page(&client).await;
    assert_eq!(status, 200);
    assert!(body.contains(r#"id="username">alice<"#));
    // The HTML form posts urlencoded with the token in csrfmiddlewaretoken, as Django's.
    let token = csrf_token(&body);
    let r = client
        .post(app.url("/api/v1/friends/"))
        .header(ACCEPT, "text/html")
        .form(&[("name", "Dora"), ("csrfmiddlewaretoken", &token)])
        .send()
        .await
        .unwrap();
    let (status, _, created) = html(r).await;
    assert_eq!(status, 201, "{created}");
    assert!(created.contains("HTTP 201 Created"));
    // Without the token, Django's CSRF check refuses the session's post.
    let r = client
        .post(app.url("/api/v1/friends/"))
        .header(ACCEPT, "text/html")
        .form(&[("name", "Eve")])
        .send()
        .await
        .unwrap();
    let (status, _, refused) = html(r).await;
    assert_eq!(status, 403);
    assert!(refused.contains("CSRF Failed: CSRF token missing."));
    // A validation error comes back beside its field, the input kept.
    let long = "x".repeat(101);
    let r = client
        .post(app.url("/api/v1/friends/"))
        .header(ACCEPT, "text/html")
        .form(&[("name", long.as_str()), ("csrfmiddlewaretoken", &token)])
        .send()
        .await
        .unwrap();
    let (status, _, invalid) = html(r).await;
    assert_eq!(status, 400);
    assert!(invalid.contains(
        r#"<span class="error" id="post-form-name-error">Ensure this field has no more than 100 characters.</span>"#
    ), "{invalid}");
    assert!(invalid.contains(&format!(r#"value="{long}""#)));
    // Log out (POST with the token), then the page is the anonymous one.
    let r = client
        .post(app.url("/api-auth/logout/"))
        .form(&[("csrfmiddlewaretoken", &token)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    let (status, _, anonymous) = page(&client).await;
    assert_eq!(status, 401);
    assert!(anonymous.contains(r#"id="login""#));
    assert!(!anonymous.contains("alice"));
    // Logout is POST-only (Django 5).
    let r = client
        .get(app.url("/api-auth/logout/"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
}

#[tokio::test(flavor = "multi_thread")]
async fn login_redirects_only_to_local_paths_and_checks_csrf() {
    let app = TestApp::spawn().await;
    Api::user(&app, "alice").await;
    for next in [
        "//evil.example/",
        "https://evil.example/",
        "/\\evil.example",
    ] {
        let client = browser();
        let encoded: String = url_encode(next);
        assert_eq!(log_in(&app, &client, "alice", &encoded).await, "/api/v1/");
    }
    // A wrong password shows the form again with Django's message; a missing token is 403.
    let client = browser();
    let (_, _, body) = html(
        client
            .get(app.url("/api-auth/login/"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let token = csrf_token(&body);
    let r = client
        .post(app.url("/api-auth/login/"))
        .form(&[
            ("username", "alice"),
            ("password", "wrong"),
            ("csrfmiddlewaretoken", &token),
        ])
        .send()
        .await
        .unwrap();
    let (status, _, body) = html(r).await;
    assert_eq!(status, 200);
    assert!(body.contains("Please enter a correct username and password."));
    let r = browser()
        .post(app.url("/api-auth/login/"))
        .form(&[("username", "alice"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
}

#[tokio::test(flavor = "multi_thread")]
async fn assets_are_served_by_the_binary() {
    let app = TestApp::spawn().await;
    for (file, media_type) in [
        ("api.css", "text/css; charset=utf-8"),
        ("api.js", "text/javascript; charset=utf-8"),
    ] {
        let r = reqwest::get(app.url(&format!("/static/api/{file}")))
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()[CONTENT_TYPE], media_type);
    }
    let r = reqwest::get(app.url("/static/api/nope.js")).await.unwrap();
    assert_eq!(r.status(), 404);
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
