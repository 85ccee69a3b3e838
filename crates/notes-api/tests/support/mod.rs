//! The real notes-api server on a random port over an isolated database (the framework's
//! `testing` support), and users made for tests.
#![allow(dead_code)]

pub use axum_drf::testing::Api;
use axum_drf::testing::{ServerTask, TestDatabase, TestServer};
use notes_api::app::{AppState, Application};
use notes_api::config::Config;

/// The password of every test user.
pub const PASSWORD: &str = "correct-Horse-7-battery";

/// A running server.
pub struct TestApp {
    /// Where it listens.
    pub server: ServerTask,
    /// Its state (the database, the auth service).
    pub state: AppState,
    _database: TestDatabase,
}

impl TestApp {
    /// A server with the default configuration.
    pub async fn spawn() -> TestApp {
        Self::spawn_with(|_| {}).await
    }

    /// A server whose configuration `adjust` may change first.
    pub async fn spawn_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
        let database = TestDatabase::new("notes_test").await;
        let mut config = Config {
            bind: "127.0.0.1:0".into(),
            database_url: database.url().to_owned(),
            secret_key: Some(hex::encode(rand::random::<[u8; 32]>())),
            ..Config::default()
        };
        adjust(&mut config);
        let app = Application::build(&config).await.expect("app starts");
        let state = app.state.clone();
        let addr = app.listener.local_addr().expect("bound");
        let server = ServerTask::spawn(addr, |shutdown| app.run_until(shutdown));
        TestApp {
            server,
            state,
            _database: database,
        }
    }

    /// `base + path`.
    pub fn url(&self, path: &str) -> String {
        self.server.url(path)
    }

    /// A user with `email` (may be empty); returns its id.
    pub async fn user(&self, username: &str, email: &str) -> i64 {
        self.state
            .create_user(username, email, PASSWORD)
            .await
            .expect("create user")
            .id
    }

    /// Logs `username` in through the dual login; returns the token.
    pub async fn token(&self, username: &str) -> String {
        axum_drf::testing::login(&self.server.base, username, PASSWORD).await
    }
}

impl TestServer for TestApp {
    fn base(&self) -> &str {
        &self.server.base
    }
    async fn user_with_token(&self, username: &str) -> (i64, String) {
        let id = self
            .user(username, &format!("{username}@example.com"))
            .await;
        (id, self.token(username).await)
    }
}
