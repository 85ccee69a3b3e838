//! Spawning the real server for tests: a random port, an isolated database (a temp SQLite
//! file, or a fresh PostgreSQL database when `DATABASE_URL` is set), HTTP from the outside.
#![allow(dead_code)]

pub mod mail;
pub mod net;
pub mod raw_http;

use std::net::SocketAddr;

use lendbook::app::{AppState, Application};
use lendbook::config::Config;
use tokio::sync::oneshot;

/// A running server.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// Bound address.
    pub addr: SocketAddr,
    /// The server's state (direct database access for setup).
    pub state: AppState,
    /// The configuration it runs with (reuse it for a second instance or the CLI).
    pub config: Config,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    _dir: tempfile::TempDir,
    pg_database: Option<String>,
}

/// Which database tests run against.
pub fn postgres_url() -> Option<String> {
    std::env::var("DATABASE_URL")
        .ok()
        .filter(|u| u.starts_with("postgres://") || u.starts_with("postgresql://"))
}

async fn fresh_postgres(admin_url: &str) -> (String, String) {
    let name = format!("lendbook_test_{}", hex::encode(rand::random::<[u8; 6]>()));
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

impl TestApp {
    /// A server with default settings.
    pub async fn spawn() -> TestApp {
        Self::spawn_with(|_| {}).await
    }

    /// A server whose configuration `adjust` may change first.
    pub async fn spawn_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = Config {
            bind: "127.0.0.1:0".into(),
            secret_key: Some(hex::encode(rand::random::<[u8; 32]>())),
            log: "warn".into(),
            ..Config::default()
        };
        let mut pg_database = None;
        config.database_url = match postgres_url() {
            Some(admin) => {
                let (url, name) = fresh_postgres(&admin).await;
                pg_database = Some(name);
                url
            }
            None => format!("sqlite://{}", dir.path().join("test.sqlite3").display()),
        };
        adjust(&mut config);
        Self::start(config, dir, pg_database).await
    }

    /// A second server on the same database and secret (multi-instance tests).
    pub async fn another_instance(&self) -> TestApp {
        let mut config = self.config.clone();
        config.bind = "127.0.0.1:0".into();
        Self::start(config, tempfile::tempdir().expect("temp dir"), None).await
    }

    async fn start(config: Config, dir: tempfile::TempDir, pg_database: Option<String>) -> TestApp {
        let app = Application::build(config.clone())
            .await
            .expect("application starts");
        let addr = app.local_addr();
        let state = app.state().clone();
        let (tx, rx) = oneshot::channel::<()>();
        let server = tokio::spawn(app.run_until(async {
            let _ = rx.await;
        }));
        TestApp {
            base: format!("http://{addr}"),
            addr,
            state,
            config,
            shutdown: Some(tx),
            server: Some(server),
            _dir: dir,
            pg_database,
        }
    }

    /// `base + path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Shuts the server down as SIGTERM does and waits until it has finished; the database
    /// stays (until the `TestApp` is dropped).
    pub async fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.expect("server task").expect("server ran");
        }
    }

    /// Runs the real `lendbook` binary against this server's database.
    pub fn cli(&self, args: &[&str]) -> std::process::Output {
        self.cli_with_env(args, &[])
    }

    /// [`TestApp::cli`] with extra environment (e.g. `LENDBOOK_AUTH__...` settings).
    pub fn cli_with_env(&self, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
        let mut command = self.cli_command(args);
        command.envs(env.iter().copied());
        command.output().expect("run lendbook")
    }

    /// The `lendbook` command against this server's database, to add environment or stdin.
    pub fn cli_command(&self, args: &[&str]) -> std::process::Command {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_lendbook"));
        command
            .args(args)
            .env("DATABASE_URL", &self.config.database_url)
            .env(
                "LENDBOOK_SECRET_KEY",
                self.config.secret_key.clone().unwrap_or_default(),
            )
            .env("LENDBOOK_LOG", "warn")
            .stdin(std::process::Stdio::null())
            .current_dir(self._dir.path());
        command
    }

    /// Runs `lendbook args` with `input` on its standard input.
    pub fn cli_with_stdin(&self, args: &[&str], input: &str) -> std::process::Output {
        run_with_stdin(self.cli_command(args), input)
    }

    /// Registers a user through the API and logs in with a token; returns (id, token).
    pub async fn user_with_token(&self, username: &str) -> (i64, String) {
        let client = reqwest::Client::new();
        let created: serde_json::Value = client
            .post(self.url("/api/auth/users/"))
            .json(&serde_json::json!({"username": username, "password": "correct-Horse-7-battery"}))
            .send()
            .await
            .expect("register")
            .json()
            .await
            .expect("json");
        let id = created["id"].as_i64().expect("user id");
        (id, self.login(username, "correct-Horse-7-battery").await)
    }

    /// Logs in through `/api/login/`; returns the token.
    pub async fn login(&self, username: &str, password: &str) -> String {
        let login: serde_json::Value = reqwest::Client::new()
            .post(self.url("/api/login/"))
            .json(&serde_json::json!({"username": username, "password": password}))
            .send()
            .await
            .expect("login")
            .json()
            .await
            .expect("json");
        login["token"].as_str().expect("token").to_owned()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let (Some(name), Some(admin)) = (self.pg_database.take(), postgres_url()) {
            // Dropped from a plain thread: Drop cannot await, and the runtime may be ending.
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
}

/// Runs `command` with `input` on its standard input and collects its output.
pub fn run_with_stdin(mut command: std::process::Command, input: &str) -> std::process::Output {
    use std::io::Write;
    let mut child = command
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run lendbook");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("lendbook output")
}

/// Stdout and stderr of a finished command, for assertion messages.
pub fn output_text(out: &std::process::Output) -> String {
    format!(
        "status {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A token-authenticated JSON client for one user.
pub struct Api {
    client: reqwest::Client,
    base: String,
    token: Option<String>,
}

impl Api {
    /// Registers and logs in `username` on `app`.
    pub async fn user(app: &TestApp, username: &str) -> (Api, i64) {
        let (id, token) = app.user_with_token(username).await;
        (
            Api {
                client: reqwest::Client::new(),
                base: app.base.clone(),
                token: Some(token),
            },
            id,
        )
    }

    /// A client that sends `token` (e.g. one issued by another server).
    pub fn with_token(app: &TestApp, token: &str) -> Api {
        Api::at(&app.base, Some(token))
    }

    /// A client of any server at `base` (e.g. the DRF reference), with an optional token.
    pub fn at(base: &str, token: Option<&str>) -> Api {
        Api {
            client: reqwest::Client::new(),
            base: base.to_owned(),
            token: token.map(str::to_owned),
        }
    }

    /// An anonymous client.
    pub fn anonymous(app: &TestApp) -> Api {
        Api {
            client: reqwest::Client::new(),
            base: app.base.clone(),
            token: None,
        }
    }

    /// Sends a request with an optional JSON body; returns status and JSON (Null if none).
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

    pub async fn get(&self, path: &str) -> (u16, serde_json::Value) {
        self.send(reqwest::Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
        self.send(reqwest::Method::POST, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
        self.send(reqwest::Method::PATCH, path, Some(body)).await
    }

    pub async fn put(&self, path: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
        self.send(reqwest::Method::PUT, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> (u16, serde_json::Value) {
        self.send(reqwest::Method::DELETE, path, None).await
    }

    /// The token this client sends.
    pub fn token(&self) -> &str {
        self.token.as_deref().unwrap_or_default()
    }

    /// Creates a row and returns its id.
    pub async fn create(&self, path: &str, body: serde_json::Value) -> i64 {
        let (status, json) = self.post(path, body).await;
        assert_eq!(status, 201, "create {path}: {json}");
        json["id"].as_i64().expect("id")
    }
}

/// An HTTP client whose connections come from `ip` (loopback has 127.0.0.0/8: tests play
/// many clients by binding to 127.0.0.2 and up).
pub fn client_from(ip: std::net::IpAddr) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(ip)
        .build()
        .expect("client")
}

/// The loopback address `127.0.0.<n>`.
pub fn loopback(n: u8) -> std::net::IpAddr {
    std::net::IpAddr::from([127, 0, 0, n])
}

/// The real `lendbook serve` binary on a [`TestApp`]'s database, with its log captured
/// (for tests of what reaches the log, and of a clean SIGTERM shutdown).
pub struct ServedBinary {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    child: std::process::Child,
    log: std::sync::Arc<std::sync::Mutex<String>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl TestApp {
    /// Starts `lendbook serve` on this app's database and secret, `env` added (e.g.
    /// `LENDBOOK_LOG=info`); returns once it listens.
    pub fn serve_binary(&self, env: &[(&str, &str)]) -> ServedBinary {
        use std::io::BufRead;
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_lendbook"))
            .args(["serve", "--bind", "127.0.0.1:0"])
            .env("DATABASE_URL", &self.config.database_url)
            .env(
                "LENDBOOK_SECRET_KEY",
                self.config.secret_key.clone().unwrap_or_default(),
            )
            .env("NO_COLOR", "1")
            .envs(env.iter().copied())
            .current_dir(self._dir.path())
            .stderr(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("start lendbook serve");
        let stderr = child.stderr.take().expect("piped stderr");
        let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let sink = log.clone();
        let reader = std::thread::spawn(move || {
            let port = regex::Regex::new(r"listening.*127\.0\.0\.1:(\d+)").expect("regex");
            for line in std::io::BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(c) = port.captures(&line) {
                    let _ = addr_tx.send(c[1].to_owned());
                }
                let mut log = sink.lock().expect("log lock");
                log.push_str(&line);
                log.push('\n');
            }
        });
        let port = addr_rx
            .recv_timeout(std::time::Duration::from_secs(60))
            .expect("lendbook serve reports its address");
        ServedBinary {
            base: format!("http://127.0.0.1:{port}"),
            child,
            log,
            reader: Some(reader),
        }
    }
}

impl ServedBinary {
    /// `base + path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Sends SIGTERM (a clean shutdown), waits for the exit; returns the whole log.
    pub fn stop(mut self) -> String {
        let pid = self.child.id().to_string();
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status();
        let status = self.child.wait().expect("wait for lendbook");
        assert!(status.success(), "lendbook serve exited with {status}");
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
        let log = self.log.lock().expect("log lock").clone();
        log
    }
}

impl Drop for ServedBinary {
    fn drop(&mut self) {
        // Only when a test failed before stop(): do not leave the server running.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
