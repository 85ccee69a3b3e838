//! Test support for apps built on the framework (cargo feature `testing`, meant for
//! `[dev-dependencies]`): an isolated database per test, the real server on a random port,
//! and a JSON client that speaks HTTP to it. No mocks: what the tests exercise is what
//! production runs.
//!
//! - [`TestDatabase`]: a temp SQLite file, or a fresh PostgreSQL database when
//!   `DATABASE_URL=postgres://...` is set (dropped with the value).
//! - [`ServerTask`]: a server running in the test's runtime, shut down on [`ServerTask::stop`]
//!   or drop.
//! - [`Api`]: a token-authenticated JSON client for one user.
//!
//! ```no_run
//! use axum_drf::testing::{ServerTask, TestDatabase};
//! # async fn demo() {
//! let db = TestDatabase::new("myapp_test").await;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
//! let addr = listener.local_addr().unwrap();
//! let router = axum::Router::new();
//! let server = ServerTask::spawn(addr, |shutdown| async move {
//!     axum::serve(listener, router).with_graceful_shutdown(shutdown).await
//! });
//! let answer = reqwest::get(server.url("/")).await.unwrap();
//! assert_eq!(answer.status(), 404);
//! # let _ = db.url();
//! # }
//! ```

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;

use tokio::sync::oneshot;

/// `DATABASE_URL` when it names a PostgreSQL server (tests then run there), else `None`.
pub fn postgres_url() -> Option<String> {
    std::env::var("DATABASE_URL")
        .ok()
        .filter(|u| u.starts_with("postgres://") || u.starts_with("postgresql://"))
}

/// A database of one's own for a test: a SQLite file in a temp directory, or a fresh
/// database on the PostgreSQL server of `DATABASE_URL`, dropped (`WITH (FORCE)`) when this
/// value is. It is empty: apply the app's migrations (e.g. by starting the app on it).
pub struct TestDatabase {
    url: String,
    dir: Option<tempfile::TempDir>,
    pg: Option<(String, String)>,
}

impl TestDatabase {
    /// A fresh database in a temp directory of its own; `prefix` starts the PostgreSQL
    /// database's name (a random suffix follows).
    pub async fn new(prefix: &str) -> TestDatabase {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut db = TestDatabase::new_in(dir.path(), prefix).await;
        db.dir = Some(dir);
        db
    }

    /// A fresh database whose SQLite file (when not on PostgreSQL) is `test.sqlite3` in
    /// `dir`, which the caller keeps alive.
    pub async fn new_in(dir: &Path, prefix: &str) -> TestDatabase {
        let (url, pg) = match postgres_url() {
            Some(admin) => {
                let (url, name) = fresh_postgres(&admin, prefix).await;
                (url, Some((admin, name)))
            }
            None => (
                format!("sqlite://{}", dir.join("test.sqlite3").display()),
                None,
            ),
        };
        TestDatabase { url, dir: None, pg }
    }

    /// The database URL (`sqlite://...` or `postgres://...`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The temp directory of [`TestDatabase::new`] (`None` for [`TestDatabase::new_in`]).
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_ref().map(|d| d.path())
    }
}

/// Creates a database named `<prefix>_<random>` on the server of `admin_url`; returns its
/// URL and name.
async fn fresh_postgres(admin_url: &str, prefix: &str) -> (String, String) {
    let name = format!("{prefix}_{}", hex::encode(rand::random::<[u8; 6]>()));
    let (client, conn) = tokio_postgres::connect(admin_url, tokio_postgres::NoTls)
        .await
        .expect("connect to DATABASE_URL");
    tokio::spawn(conn);
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create test database");
    let mut config: tokio_postgres::Config = admin_url.parse().expect("valid DATABASE_URL");
    config.dbname(&name);
    let host = match &config.get_hosts()[0] {
        tokio_postgres::config::Host::Tcp(h) => h.clone(),
        #[cfg(unix)]
        tokio_postgres::config::Host::Unix(p) => p.display().to_string(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let user = config.get_user().unwrap_or("postgres");
    let password = config
        .get_password()
        .map(|p| format!(":{}", String::from_utf8_lossy(p)))
        .unwrap_or_default();
    (
        format!("postgres://{user}{password}@{host}:{port}/{name}"),
        name,
    )
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Some((admin, name)) = self.pg.take() else {
            return;
        };
        // Dropped from a thread of our own: Drop cannot await, and the test's runtime may
        // be ending.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                if let Ok((client, conn)) =
                    tokio_postgres::connect(&admin, tokio_postgres::NoTls).await
                {
                    tokio::spawn(conn);
                    let _ = client
                        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .await;
                }
            });
        })
        .join();
    }
}

/// A server running as a task of the test's runtime, listening at `addr`.
pub struct ServerTask {
    /// `http://<addr>`.
    pub base: String,
    /// The bound address.
    pub addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl ServerTask {
    /// Spawns `run(shutdown)`, the server already bound to `addr`; `shutdown` completes
    /// when the test stops the server (or drops this value).
    pub fn spawn<F, Fut>(addr: SocketAddr, run: F) -> ServerTask
    where
        F: FnOnce(std::pin::Pin<Box<dyn Future<Output = ()> + Send>>) -> Fut,
        Fut: Future<Output = std::io::Result<()>> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(run(Box::pin(async {
            let _ = rx.await;
        })));
        ServerTask {
            base: format!("http://{addr}"),
            addr,
            shutdown: Some(tx),
            task: Some(task),
        }
    }

    /// `base + path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Shuts the server down as SIGTERM does and waits until it has finished.
    pub async fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("server task").expect("server ran");
        }
    }
}

impl Drop for ServerTask {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// A running app that [`Api`] can talk to: where it listens, and how a test gets a user
/// with a token on it (registration differs between apps).
pub trait TestServer {
    /// `http://127.0.0.1:PORT`.
    fn base(&self) -> &str;
    /// Creates `username` and logs in with a token; returns (user id, token).
    fn user_with_token(&self, username: &str) -> impl Future<Output = (i64, String)> + Send;
}

impl TestServer for ServerTask {
    fn base(&self) -> &str {
        &self.base
    }
    /// A bare server has no way to create users: give the app's own [`TestServer`].
    async fn user_with_token(&self, _username: &str) -> (i64, String) {
        panic!("ServerTask cannot create users; implement TestServer for the app's test harness")
    }
}

/// POSTs `body` as JSON to `url` (no credentials) and returns the JSON answer.
pub async fn post_json(url: &str, body: &serde_json::Value) -> serde_json::Value {
    let response = reqwest::Client::new().post(url).json(body).send().await;
    let answer = response.expect("request").json().await;
    answer.expect("a JSON answer")
}

/// Logs `username` in through the dual login at `base` + `/api/login/`
/// ([`dual_login`](crate::auth::views::dual_login)); returns the token.
pub async fn login(base: &str, username: &str, password: &str) -> String {
    let body = serde_json::json!({"username": username, "password": password});
    let login = post_json(&format!("{base}/api/login/"), &body).await;
    login["token"].as_str().expect("token").to_owned()
}

/// The `Set-Cookie` headers of a response, as text.
pub fn set_cookies(response: &reqwest::Response) -> Vec<String> {
    let values = response.headers().get_all(reqwest::header::SET_COOKIE);
    values
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_owned))
        .collect()
}

/// A token-authenticated JSON client for one user (or anonymous).
pub struct Api {
    client: reqwest::Client,
    base: String,
    token: Option<String>,
}

impl Api {
    /// Creates and logs in `username` on `app`; returns the client and the user's id.
    pub async fn user(app: &impl TestServer, username: &str) -> (Api, i64) {
        let (id, token) = app.user_with_token(username).await;
        (Api::at(app.base(), Some(&token)), id)
    }

    /// A client that sends `token` (e.g. one issued by another server).
    pub fn with_token(app: &impl TestServer, token: &str) -> Api {
        Api::at(app.base(), Some(token))
    }

    /// A client of any server at `base`, with an optional token.
    pub fn at(base: &str, token: Option<&str>) -> Api {
        Api {
            client: reqwest::Client::new(),
            base: base.to_owned(),
            token: token.map(str::to_owned),
        }
    }

    /// An anonymous client.
    pub fn anonymous(app: &impl TestServer) -> Api {
        Api::at(app.base(), None)
    }

    /// Sends a request with an optional JSON body; returns status and JSON (`Null` if none).
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let mut req = self
            .client
            .request(method, format!("{}{}", self.base, path));
        if let Some(t) = &self.token {
            req = req.header("Authorization", format!("Token {t}"));
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        (
            status,
            serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
        )
    }

    /// `GET path`.
    pub async fn get(&self, path: &str) -> (u16, serde_json::Value) {
        self.send(reqwest::Method::GET, path, None).await
    }

    /// `POST path` with a JSON body.
    pub async fn post(&self, path: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
        self.send(reqwest::Method::POST, path, Some(body)).await
    }

    /// `PATCH path` with a JSON body.
    pub async fn patch(&self, path: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
        self.send(reqwest::Method::PATCH, path, Some(body)).await
    }

    /// `PUT path` with a JSON body.
    pub async fn put(&self, path: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
        self.send(reqwest::Method::PUT, path, Some(body)).await
    }

    /// `DELETE path`.
    pub async fn delete(&self, path: &str) -> (u16, serde_json::Value) {
        self.send(reqwest::Method::DELETE, path, None).await
    }

    /// The token this client sends.
    pub fn token(&self) -> &str {
        self.token.as_deref().unwrap_or_default()
    }

    /// Creates a row (expects 201) and returns its id.
    pub async fn create(&self, path: &str, body: serde_json::Value) -> i64 {
        let (status, json) = self.post(path, body).await;
        assert_eq!(status, 201, "create {path}: {json}");
        json["id"].as_i64().expect("id")
    }
}
