//! A migrated, throw-away database for framework tests: a temp SQLite file, or a fresh
//! PostgreSQL database when `DATABASE_URL=postgres://...` is set (dropped afterwards).
#![allow(dead_code)]

use std::sync::Arc;

use axum_drf::auth::{Credential, Identity, NewUser, User, Users};
use axum_drf::store::Database;

/// A test database.
pub struct TestDb {
    /// The handle.
    pub db: Database,
    _dir: tempfile::TempDir,
    pg: Option<(String, String)>,
}

fn postgres_url() -> Option<String> {
    std::env::var("DATABASE_URL")
        .ok()
        .filter(|u| u.starts_with("postgres://") || u.starts_with("postgresql://"))
}

impl TestDb {
    /// A fresh database with the framework's migrations applied.
    pub async fn new() -> TestDb {
        let dir = tempfile::tempdir().expect("temp dir");
        let (url, pg) = match postgres_url() {
            Some(admin) => {
                let name = format!("axum_drf_test_{}", hex::encode(rand::random::<[u8; 6]>()));
                let (client, conn) = tokio_postgres::connect(&admin, tokio_postgres::NoTls)
                    .await
                    .expect("connect to DATABASE_URL");
                tokio::spawn(conn);
                client
                    .batch_execute(&format!("CREATE DATABASE {name}"))
                    .await
                    .expect("create test database");
                let mut config: tokio_postgres::Config = admin.parse().expect("valid url");
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
                    Some((admin, name)),
                )
            }
            None => (
                format!("sqlite://{}", dir.path().join("test.sqlite3").display()),
                None,
            ),
        };
        let db = Database::connect(&url).await.expect("connect");
        db.migrate(axum_drf::auth::schema::MIGRATIONS)
            .await
            .expect("migrate");
        TestDb { db, _dir: dir, pg }
    }

    /// Creates a user with these flags; returns it.
    pub async fn user(&self, name: &str, active: bool, staff: bool, superuser: bool) -> User {
        Users::new(self.db.clone())
            .create(&NewUser {
                username: name.into(),
                email: String::new(),
                // Never a valid hash: these users log in through issued tokens only.
                password_hash: "!".into(),
                is_staff: staff,
                is_superuser: superuser,
                is_active: active,
            })
            .await
            .expect("create user")
    }
}

/// An authenticated identity for `user`.
pub fn identity(user: &User) -> Identity {
    Identity {
        user: Some(Arc::new(user.clone())),
        credential: Credential::Token {
            key_hash: "test".into(),
        },
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some((admin, name)) = self.pg.take() else {
            return;
        };
        // Drop cannot await and the test's runtime may be ending: use a thread of our own.
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
