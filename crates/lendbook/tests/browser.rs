//! The browsable API in a real headless Chromium (Debian's `chromium` + `chromium-driver`,
//! which `.ci/run` installs), driven over WebDriver: a person's round trip from the
//! anonymous page through the login form, creating and editing a friend with the HTML
//! forms, to logging out. Screenshots land in `target/browser-screenshots/`.

mod support;

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;
use support::{Api, TestApp};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

/// chromedriver on a free port, in a process group of its own with the Chromium it starts;
/// that group (by its id) is killed when dropped, even after a failed assertion.
struct Driver {
    child: Child,
    url: String,
    _profile: tempfile::TempDir,
}

impl Drop for Driver {
    fn drop(&mut self) {
        // SAFETY: kill(2) on the group we created; no memory is involved.
        unsafe {
            libc::kill(-(self.child.id() as i32), libc::SIGKILL);
        }
        let _ = self.child.wait();
    }
}

async fn start_browser() -> (Driver, Client) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .process_group(0)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("{CHROMEDRIVER} must be installed (apt-get install chromium-driver): {e}")
        });
    let driver = Driver {
        child,
        url: format!("http://127.0.0.1:{port}"),
        _profile: tempfile::tempdir().unwrap(),
    };
    let profile = driver._profile.path().display().to_string();
    // The flags this machine needs: no sandbox as root, and no background traffic to hosts
    // the closed network refuses.
    let args = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--window-size=1200,1000",
    ]
    .iter()
    .map(|a| a.to_string())
    .chain([format!("--user-data-dir={profile}")])
    .collect::<Vec<_>>();
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".into(),
        json!({"binary": CHROMIUM, "args": args}),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    let mut last_error = None;
    for _ in 0..50 {
        match ClientBuilder::new(connector.clone())
            .capabilities(capabilities.clone())
            .connect(&driver.url)
            .await
        {
            Ok(client) => return (driver, client),
            Err(e) => last_error = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("no WebDriver session: {last_error:?}");
}

fn screenshots_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/browser-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn snap(client: &Client, name: &str) {
    let png = client.screenshot().await.unwrap();
    std::fs::write(screenshots_dir().join(format!("{name}.png")), png).unwrap();
}

async fn text_of(client: &Client, css: &str) -> String {
    client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .text()
        .await
        .unwrap()
}

/// Waits for the element with `id` and clicks it.
async fn click(client: &Client, id: &str) {
    element(client, id).await.click().await.unwrap();
}

/// Waits for the input with `id` and types `text` into it.
async fn type_into(client: &Client, id: &str, text: &str) {
    element(client, id).await.send_keys(text).await.unwrap();
}

async fn element(client: &Client, id: &str) -> fantoccini::elements::Element {
    client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Id(id))
        .await
        .unwrap_or_else(|e| panic!("#{id}: {e}"))
}

/// Waits until the response panel shows `wanted` (forms sent by script replace the page).
async fn wait_for_response(client: &Client, wanted: &str) -> String {
    for _ in 0..100 {
        if let Ok(element) = client.find(Locator::Css("#response")).await {
            if let Ok(text) = element.text().await {
                if text.contains(wanted) {
                    return text;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the page never showed {wanted:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_person_logs_in_creates_edits_and_logs_out_in_chromium() {
    let app = TestApp::spawn().await;
    let (alice, _) = Api::user(&app, "alice").await;
    let (_driver, client) = start_browser().await;
    journey(&app, &alice, &client).await;
    let _ = client.close().await;
}

async fn journey(app: &TestApp, alice: &Api, client: &Client) {
    // Anonymous: the 401 page, with a login link.
    client.goto(&app.url("/api/v1/friends/")).await.unwrap();
    let response = wait_for_response(client, "HTTP 401 Unauthorized").await;
    assert!(response.contains("Authentication credentials were not provided."));
    snap(client, "01-anonymous-friends").await;

    // Follow the login link, log in through the form; ?next= brings us back.
    click(client, "login").await;
    type_into(client, "id_username", "alice").await;
    type_into(client, "id_password", "correct-Horse-7-battery").await;
    snap(client, "02-login-form").await;
    click(client, "login-submit").await;
    assert_eq!(text_of(client, "#username").await, "alice");
    assert_eq!(
        client.current_url().await.unwrap().path(),
        "/api/v1/friends/"
    );
    wait_for_response(client, "HTTP 200 OK").await;

    // Create a friend through the HTML form (a plain form post with csrfmiddlewaretoken).
    let name = "Ada <script>alert(1)</script>";
    type_into(client, "post-form-name", name).await;
    snap(client, "03-create-form").await;
    click(client, "post-form-submit").await;
    let created = wait_for_response(client, "HTTP 201 Created").await;
    assert!(created.contains(name), "the name shows as text: {created}");
    snap(client, "04-created").await;

    // It is in the list.
    client.goto(&app.url("/api/v1/friends/")).await.unwrap();
    let list = wait_for_response(client, "HTTP 200 OK").await;
    assert!(list.contains(name));
    assert!(list.contains("\"count\": 1"));
    snap(client, "05-list").await;

    // Edit it: the PUT form goes through the page's script, with the CSRF token.
    let (_, friends) = alice.get("/api/v1/friends/").await;
    let id = friends["results"][0]["id"].as_i64().unwrap();
    client
        .goto(&app.url(&format!("/api/v1/friends/{id}/")))
        .await
        .unwrap();
    wait_for_response(client, "HTTP 200 OK").await;
    let field = client.find(Locator::Id("put-form-name")).await.unwrap();
    assert_eq!(field.prop("value").await.unwrap().as_deref(), Some(name));
    field.clear().await.unwrap();
    field.send_keys("Ada Lovelace").await.unwrap();
    click(client, "put-form-submit").await;
    let edited = wait_for_response(client, "\"name\": \"Ada Lovelace\"").await;
    assert!(edited.starts_with("HTTP 200 OK"), "{edited}");
    snap(client, "06-edited").await;
    let (_, friend) = alice.get(&format!("/api/v1/friends/{id}/")).await;
    assert_eq!(friend["name"], "Ada Lovelace");

    // Log out (a POST form), and the list is the anonymous page again.
    click(client, "logout").await;
    client
        .wait()
        .for_element(Locator::Id("login"))
        .await
        .unwrap();
    client.goto(&app.url("/api/v1/friends/")).await.unwrap();
    let anonymous = wait_for_response(client, "HTTP 401 Unauthorized").await;
    assert!(!anonymous.contains("Ada"));
    assert!(client.find(Locator::Id("username")).await.is_err());
    snap(client, "07-logged-out").await;
}
