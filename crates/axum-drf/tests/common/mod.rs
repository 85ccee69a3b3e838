//! A migrated, throw-away database for framework tests: a temp SQLite file, or a fresh
//! PostgreSQL database when `DATABASE_URL=postgres://...` is set (dropped afterwards).
#![allow(dead_code)]

use std::sync::Arc;

use axum_drf::auth::{Credential, Identity, NewUser, User, Users};
use axum_drf::store::Database;
use axum_drf::testing::TestDatabase;

/// A test database.
pub struct TestDb {
    /// The handle.
    pub db: Database,
    _database: TestDatabase,
}

impl TestDb {
    /// A fresh database with the framework's migrations applied.
    pub async fn new() -> TestDb {
        let database = TestDatabase::new("axum_drf_test").await;
        let db = Database::connect(database.url()).await.expect("connect");
        db.migrate(axum_drf::auth::schema::MIGRATIONS)
            .await
            .expect("migrate");
        TestDb {
            db,
            _database: database,
        }
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
