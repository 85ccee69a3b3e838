//! Spawning the real server for tests: a random port, an isolated database (a temp SQLite
//! file, or a fresh PostgreSQL database when `DATABASE_URL` is set), HTTP from the outside.
#![allow(dead_code)]

pub mod mail;
pub mod net;
pub mod raw_http;

use std::net::SocketAddr;

#[allow(unused_imports)] // not every test file uses both
pub use axum_drf::testing::{postgres_url, Api};
use axum_drf::testing::{ServerTask, TestDatabase, TestServer};
use lendbook::app::{AppState, Application};
use lendbook::config::Config;

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
    server: ServerTask,
    _dir: tempfile::TempDir,
    // Declared after `server`: the database is dropped once the server was told to stop.
    _database: Option<TestDatabase>,
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
        let database = TestDatabase::new_in(dir.path(), "lendbook_test").await;
        config.database_url = database.url().to_owned();
        // Refusals answered at once: tests count many of them (tests/throttling.rs checks
        // the default hold).
        config.throttle.refusal_delay = 0.0;
        adjust(&mut config);
        Self::start(config, dir, Some(database)).await
    }

    /// A second server on the same database and secret (multi-instance tests).
    pub async fn another_instance(&self) -> TestApp {
        let mut config = self.config.clone();
        config.bind = "127.0.0.1:0".into();
        Self::start(config, tempfile::tempdir().expect("temp dir"), None).await
    }

    async fn start(
        config: Config,
        dir: tempfile::TempDir,
        database: Option<TestDatabase>,
    ) -> TestApp {
        let app = Application::build(config.clone())
            .await
            .expect("application starts");
        let addr = app.local_addr();
        let state = app.state().clone();
        let server = ServerTask::spawn(addr, |shutdown| app.run_until(shutdown));
        TestApp {
            base: server.base.clone(),
            addr,
            state,
            config,
            server,
            _dir: dir,
            _database: database,
        }
    }

    /// `base + path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Shuts the server down as SIGTERM does and waits until it has finished; the database
    /// stays (until the `TestApp` is dropped).
    pub async fn stop(&mut self) {
        self.server.stop().await;
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
        axum_drf::testing::login(&self.base, username, password).await
    }
}

impl TestServer for TestApp {
    fn base(&self) -> &str {
        &self.base
    }
    async fn user_with_token(&self, username: &str) -> (i64, String) {
        TestApp::user_with_token(self, username).await
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

    /// The address it listens on.
    pub fn addr(&self) -> std::net::SocketAddr {
        self.base
            .trim_start_matches("http://")
            .parse()
            .expect("base is http://IP:PORT")
    }

    /// The process's resident memory in KiB (`VmRSS`).
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("read /proc/PID/status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS in kB")
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
