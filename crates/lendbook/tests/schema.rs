//! `/api/schema/` (drf-spectacular's media types and formats), generated from the route
//! table and resource declarations, and the Swagger UI page with its bundled assets.
//! (scripts/schema-fuzz.sh validates the document as OpenAPI 3 and fuzzes the server with it.)

mod support;

use reqwest::header::{ACCEPT, CONTENT_TYPE};
use serde_json::Value;
use support::TestApp;

async fn schema_json(app: &TestApp) -> Value {
    let r = reqwest::get(app.url("/api/schema/?format=json"))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()[CONTENT_TYPE],
        "application/vnd.oai.openapi+json"
    );
    r.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_schema_is_served_as_yaml_or_json_by_negotiation() {
    let app = TestApp::spawn().await;
    let r = reqwest::get(app.url("/api/schema/")).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()[CONTENT_TYPE],
        "application/vnd.oai.openapi; charset=utf-8"
    );
    let yaml = r.text().await.unwrap();
    assert!(yaml.starts_with("openapi: 3.0.3\n"), "{yaml}");
    let client = reqwest::Client::new();
    for (accept, media_type) in [
        ("application/json", "application/json"),
        (
            "application/vnd.oai.openapi+json",
            "application/vnd.oai.openapi+json",
        ),
        ("application/yaml", "application/yaml; charset=utf-8"),
    ] {
        let r = client
            .get(app.url("/api/schema/"))
            .header(ACCEPT, accept)
            .send()
            .await
            .unwrap();
        assert_eq!(r.headers()[CONTENT_TYPE], media_type, "{accept}");
    }
    let r = client
        .get(app.url("/api/schema/"))
        .header(ACCEPT, "image/png")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 406);
    let r = reqwest::get(app.url("/api/schema/?format=xml"))
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_schema_follows_the_declarations() {
    let app = TestApp::spawn().await;
    let schema = schema_json(&app).await;
    let paths = schema["paths"].as_object().unwrap();
    for (path, methods) in [
        ("/api/v1/friends/", &["get", "post"][..]),
        (
            "/api/v1/friends/{id}/",
            &["get", "put", "patch", "delete"][..],
        ),
        ("/api/v1/borrowings/{id}/return/", &["post"][..]),
        (
            "/api/auth/users/me/",
            &["get", "put", "patch", "delete"][..],
        ),
        ("/api/login/", &["post"][..]),
        ("/api/public/", &["get"][..]),
    ] {
        for method in methods {
            assert!(paths[path][method].is_object(), "{method} {path}");
        }
    }
    let friends = &paths["/api/v1/friends/"]["get"];
    let params: Vec<&str> = friends["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(params, ["limit", "offset"]);
    let borrowings = &paths["/api/v1/borrowings/"]["get"]["parameters"];
    assert!(borrowings.to_string().contains("\"overdue\""));
    assert!(borrowings.to_string().contains("\"missing\""));
    let components = &schema["components"]["schemas"];
    assert_eq!(components["Friend"]["properties"]["id"]["readOnly"], true);
    assert_eq!(
        components["Friend"]["properties"]["has_overdue"]["readOnly"],
        true
    );
    assert_eq!(
        components["FriendRequest"]["properties"]["name"]["maxLength"],
        100
    );
    assert_eq!(
        components["FriendRequest"]["required"],
        serde_json::json!(["name"])
    );
    assert!(components["PatchedFriendRequest"]["required"].is_null());
    assert_eq!(
        components["Borrowed"]["properties"]["returned"]["nullable"],
        true
    );
    assert_eq!(
        friends["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/PaginatedFriendList"
    );
    assert_eq!(
        friends["responses"]["403"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/ErrorDetail"
    );
    let schemes = &schema["components"]["securitySchemes"];
    assert_eq!(schemes["tokenAuth"]["name"], "Authorization");
    assert_eq!(schemes["cookieAuth"]["name"], "sessionid");
    // Who may call anonymously comes from the policies.
    assert_eq!(friends["security"].as_array().unwrap().len(), 2);
    let public = &paths["/api/public/"]["get"]["security"];
    assert!(public.as_array().unwrap().contains(&serde_json::json!({})));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_policy_change_shows_in_the_schema() {
    let app = TestApp::spawn_with(|c| {
        c.resources.insert(
            "friends".into(),
            lendbook::config::ResourceSettings {
                permission: Some("AllowAny".into()),
                scope: None,
            },
        );
    })
    .await;
    let schema = schema_json(&app).await;
    let security = &schema["paths"]["/api/v1/friends/"]["get"]["security"];
    assert!(security
        .as_array()
        .unwrap()
        .contains(&serde_json::json!({})));
}

#[tokio::test(flavor = "multi_thread")]
async fn swagger_ui_is_bundled() {
    let app = TestApp::spawn().await;
    let r = reqwest::get(app.url("/api/schema/swagger-ui/"))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()[CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let page = r.text().await.unwrap();
    assert!(page.contains("swagger-ui-bundle.js"));
    assert!(!page.contains("https://"), "no asset from elsewhere");
    let r = reqwest::get(app.url("/api/schema/swagger-ui/swagger-initializer.js"))
        .await
        .unwrap();
    assert!(r.text().await.unwrap().contains("/api/schema/?format=json"));
    let r = reqwest::get(app.url("/api/schema/swagger-ui/swagger-ui-bundle.js"))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn docs_can_be_turned_off_or_restricted() {
    let off = TestApp::spawn_with(|c| c.docs.enabled = false).await;
    let r = reqwest::get(off.url("/api/schema/")).await.unwrap();
    assert_eq!(r.status(), 404);
    let restricted = TestApp::spawn_with(|c| c.docs.permission = "IsAuthenticated".into()).await;
    for path in ["/api/schema/", "/api/schema/swagger-ui/"] {
        let r = reqwest::get(restricted.url(path)).await.unwrap();
        assert_eq!(r.status(), 401, "{path}");
    }
    let (_, token) = restricted.user_with_token("alice").await;
    let r = reqwest::Client::new()
        .get(restricted.url("/api/schema/"))
        .header("Authorization", format!("Token {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Without the browsable API, browsers get JSON and there is no login page.
    let plain = TestApp::spawn_with(|c| c.docs.browsable_api = false).await;
    let r = reqwest::Client::new()
        .get(plain.url("/api/public/"))
        .header(ACCEPT, "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()[CONTENT_TYPE], "application/json");
    let r = reqwest::get(plain.url("/api-auth/login/")).await.unwrap();
    assert_eq!(r.status(), 404);
}
