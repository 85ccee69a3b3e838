//! A server whose file email backend writes into a directory the test owns, and helpers
//! to read the links out of its messages.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use lendbook::config::Config;
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};

use super::TestApp;

pub const PASSWORD: &str = "correct-Horse-7-battery";
pub const NEW_PASSWORD: &str = "Another-Stapler-42-pony";

/// A server whose file email backend writes into a directory the test owns.
pub struct MailApp {
    pub app: TestApp,
    pub mail: tempfile::TempDir,
    pub seen: HashSet<PathBuf>,
    pub client: Client,
}

impl MailApp {
    pub async fn spawn(adjust: impl FnOnce(&mut Config)) -> MailApp {
        let mail = tempfile::tempdir().unwrap();
        let dir = mail.path().to_owned();
        let app = TestApp::spawn_with(|config| {
            config.email.file_dir = Some(dir);
            config.accounts.site_url = "https://app.example.com".into();
            adjust(config);
        })
        .await;
        MailApp {
            app,
            mail,
            seen: HashSet::new(),
            client: Client::new(),
        }
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> (StatusCode, String) {
        let mut req = self.client.post(self.app.url(path)).json(&body);
        if let Some(t) = token {
            req = req.header("Authorization", format!("Token {t}"));
        }
        let r = req.send().await.unwrap();
        (r.status(), r.text().await.unwrap())
    }

    pub async fn register(&self, username: &str, email: &str) -> i64 {
        let (status, body) = self
            .post(
                "/api/auth/users/",
                None,
                json!({"username": username, "password": PASSWORD, "email": email}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        serde_json::from_str::<Value>(&body).unwrap()["id"]
            .as_i64()
            .unwrap()
    }

    /// Token login; `None` when refused.
    pub async fn login(&self, username: &str, password: &str) -> Option<String> {
        let (status, body) = self
            .post(
                "/api/auth/token/login/",
                None,
                json!({"username": username, "password": password}),
            )
            .await;
        (status == StatusCode::OK).then(|| {
            serde_json::from_str::<Value>(&body).unwrap()["auth_token"]
                .as_str()
                .unwrap()
                .to_owned()
        })
    }

    /// The next message the backend writes (sending runs in the background).
    pub async fn next_mail(&mut self) -> String {
        for _ in 0..200 {
            if let Some(path) = new_files(self.mail.path(), &self.seen).into_iter().next() {
                self.seen.insert(path.clone());
                return std::fs::read_to_string(path).unwrap();
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("no email was written");
    }

    /// Asserts no message arrives within a moment.
    pub async fn no_mail(&self) {
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(
            new_files(self.mail.path(), &self.seen).is_empty(),
            "unexpected email"
        );
    }

    pub async fn status_of(&self, path: &str, token: &str) -> StatusCode {
        self.client
            .get(self.app.url(path))
            .header("Authorization", format!("Token {token}"))
            .send()
            .await
            .unwrap()
            .status()
    }
}

pub fn new_files(dir: &Path, seen: &HashSet<PathBuf>) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "eml") && !seen.contains(p))
        .collect();
    files.sort();
    files
}

/// The body as text: quoted-printable soft breaks and escapes undone.
pub fn decode_qp(message: &str) -> String {
    let joined = message.replace("=\r\n", "").replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&joined[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `(uid, token)` of the first link into the frontend path `route` (e.g. `password/reset/confirm`).
pub fn link(message: &str, route: &str) -> (String, String) {
    let text = decode_qp(message);
    let pattern = format!(
        r"https://app\.example\.com/#/{}/([A-Za-z0-9_-]+)/([0-9a-z]+-[0-9a-f]+)",
        regex::escape(route)
    );
    let caps = regex::Regex::new(&pattern)
        .unwrap()
        .captures(&text)
        .unwrap_or_else(|| panic!("no {route} link in:\n{text}"));
    (caps[1].to_owned(), caps[2].to_owned())
}

pub fn token_error() -> String {
    json!({"token": ["Invalid token for given user."]}).to_string()
}
