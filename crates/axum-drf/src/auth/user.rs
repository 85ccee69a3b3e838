//! The user record (Django's `auth_user` fields) and its queries.

use std::fmt;

use super::activation::Activations;
use crate::store::{now_micros, Database, Row, Statement, StoreError, Value};

/// A user account with Django's `auth_user` fields.
#[derive(Clone, PartialEq, Eq)]
pub struct User {
    /// Primary key.
    pub id: i64,
    /// Unique login name.
    pub username: String,
    /// Email address, may be empty.
    pub email: String,
    /// Given name, may be empty.
    pub first_name: String,
    /// Family name, may be empty.
    pub last_name: String,
    /// Inactive users cannot log in and authenticate nowhere.
    pub is_active: bool,
    /// Staff users pass `IsAdminUser`.
    pub is_staff: bool,
    /// Superusers hold every permission while active.
    pub is_superuser: bool,
    /// Last successful login, microseconds since the epoch.
    pub last_login: Option<i64>,
    /// Account creation, microseconds since the epoch.
    pub date_joined: i64,
    /// Encoded password hash (argon2id PHC, or a legacy Django hash until next login).
    pub password: String,
    /// Bumped on token logout so the next login derives a fresh token.
    pub token_generation: i64,
}

impl fmt::Debug for User {
    // The password hash stays out of logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("is_active", &self.is_active)
            .field("is_staff", &self.is_staff)
            .field("is_superuser", &self.is_superuser)
            .finish_non_exhaustive()
    }
}

/// The columns of a [`User`] in [`User::from_row`] order, as a literal for `concat!`.
#[macro_export]
macro_rules! user_columns {
    () => {
        "id, username, email, first_name, last_name, is_active, is_staff, is_superuser, \
         last_login, date_joined, password, token_generation"
    };
    ($alias:literal) => {
        concat!(
            $alias,
            ".id, ",
            $alias,
            ".username, ",
            $alias,
            ".email, ",
            $alias,
            ".first_name, ",
            $alias,
            ".last_name, ",
            $alias,
            ".is_active, ",
            $alias,
            ".is_staff, ",
            $alias,
            ".is_superuser, ",
            $alias,
            ".last_login, ",
            $alias,
            ".date_joined, ",
            $alias,
            ".password, ",
            $alias,
            ".token_generation"
        )
    };
}

impl User {
    /// Decodes the first 12 columns of a row selected with [`user_columns!`](crate::user_columns).
    pub fn from_row(row: &Row) -> Result<Self, StoreError> {
        Ok(User {
            id: row.int(0)?,
            username: row.text(1)?,
            email: row.text(2)?,
            first_name: row.text(3)?,
            last_name: row.text(4)?,
            is_active: row.bool(5)?,
            is_staff: row.bool(6)?,
            is_superuser: row.bool(7)?,
            last_login: row.opt_int(8)?,
            date_joined: row.int(9)?,
            password: row.text(10)?,
            token_generation: row.int(11)?,
        })
    }

    /// Django's `has_usable_password`: unusable passwords are stored starting with `!`.
    pub fn has_usable_password(&self) -> bool {
        !self.password.is_empty() && !self.password.starts_with('!')
    }
}

/// What a new account starts with; the password must already be hashed.
#[derive(Debug, Clone, Default)]
pub struct NewUser {
    /// Unique login name.
    pub username: String,
    /// Email, may be empty.
    pub email: String,
    /// Encoded password hash.
    pub password_hash: String,
    /// Staff flag.
    pub is_staff: bool,
    /// Superuser flag.
    pub is_superuser: bool,
    /// Active flag.
    pub is_active: bool,
}

/// User queries, written once for both engines.
#[derive(Clone, Debug)]
pub struct Users {
    db: Database,
}

impl Users {
    /// Queries over `db`.
    pub fn new(db: Database) -> Self {
        Users { db }
    }

    /// The user with this id.
    pub async fn by_id(&self, id: i64) -> Result<Option<User>, StoreError> {
        const SQL: &str = concat!("SELECT ", user_columns!(), " FROM auth_user WHERE id = $1");
        self.db
            .query_opt(SQL, vec![Value::Int(id)])
            .await?
            .map(|r| User::from_row(&r))
            .transpose()
    }

    /// The user with this username (exact, case-sensitive like Django's default backend).
    pub async fn by_username(&self, username: &str) -> Result<Option<User>, StoreError> {
        const SQL: &str = concat!(
            "SELECT ",
            user_columns!(),
            " FROM auth_user WHERE username = $1"
        );
        self.db
            .query_opt(SQL, vec![username.into()])
            .await?
            .map(|r| User::from_row(&r))
            .transpose()
    }

    /// Inserts a user; a taken username is [`StoreError::UniqueViolation`].
    pub async fn create(&self, new: &NewUser) -> Result<User, StoreError> {
        let stmt = Self::insert_statement(new);
        let row = self
            .db
            .query(stmt.sql, stmt.params)
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| StoreError::Decode("INSERT returned no row".into()))?;
        User::from_row(&row)
    }

    /// The `INSERT ... RETURNING` of [`Users::create`], for use inside a transaction.
    pub(crate) fn insert_statement(new: &NewUser) -> Statement {
        Statement::new(
            concat!(
                "INSERT INTO auth_user (username, email, password, is_staff, is_superuser, \
                 is_active, first_name, last_name, date_joined, token_generation) \
                 VALUES ($1, $2, $3, $4, $5, $6, '', '', $7, 0) RETURNING ",
                user_columns!()
            ),
            vec![
                new.username.as_str().into(),
                new.email.as_str().into(),
                new.password_hash.as_str().into(),
                new.is_staff.into(),
                new.is_superuser.into(),
                new.is_active.into(),
                now_micros().into(),
            ],
        )
    }

    /// Replaces the stored password hash and nothing else: for re-hashing the same password
    /// (a legacy hash upgraded at login). A password *change* goes through
    /// [`AuthService::change_password`](crate::auth::AuthService::change_password), which
    /// also ends the user's sessions and token.
    pub async fn set_password_hash(&self, id: i64, hash: &str) -> Result<(), StoreError> {
        self.db
            .execute(
                "UPDATE auth_user SET password = $1 WHERE id = $2",
                vec![hash.into(), Value::Int(id)],
            )
            .await?;
        Ok(())
    }

    /// Records a successful login.
    pub async fn touch_last_login(&self, id: i64) -> Result<(), StoreError> {
        self.db
            .execute(
                "UPDATE auth_user SET last_login = $1 WHERE id = $2",
                vec![now_micros().into(), Value::Int(id)],
            )
            .await?;
        Ok(())
    }

    /// The users with this email (case-insensitive, as Django's password reset form matches)
    /// and active flag, oldest first.
    pub async fn by_email(&self, email: &str, is_active: bool) -> Result<Vec<User>, StoreError> {
        const SQL: &str = concat!(
            "SELECT ",
            user_columns!(),
            " FROM auth_user WHERE LOWER(email) = LOWER($1) AND is_active = $2 ORDER BY id"
        );
        self.db
            .query(SQL, vec![email.into(), is_active.into()])
            .await?
            .iter()
            .map(User::from_row)
            .collect()
    }

    /// Replaces the email address (stored as given: Django normalises only at creation).
    pub async fn set_email(&self, id: i64, email: &str) -> Result<(), StoreError> {
        self.db
            .execute(
                "UPDATE auth_user SET email = $1 WHERE id = $2",
                vec![email.into(), Value::Int(id)],
            )
            .await?;
        Ok(())
    }

    /// Renames a user; a taken name is [`StoreError::UniqueViolation`].
    pub async fn set_username(&self, id: i64, username: &str) -> Result<(), StoreError> {
        self.db
            .execute(
                "UPDATE auth_user SET username = $1 WHERE id = $2",
                vec![username.into(), Value::Int(id)],
            )
            .await?;
        Ok(())
    }

    /// Sets the active flag (an administrator's decision): an open activation period
    /// closes, so no emailed activation link can override it.
    pub async fn set_active(&self, id: i64, is_active: bool) -> Result<(), StoreError> {
        self.db
            .transaction(vec![
                Statement::new(
                    "UPDATE auth_user SET is_active = $1 WHERE id = $2",
                    vec![is_active.into(), Value::Int(id)],
                ),
                Activations::close(id),
            ])
            .await?;
        Ok(())
    }

    /// Deletes a user; their tokens, sessions and everything else referencing them with
    /// `ON DELETE CASCADE` go too. Returns whether a row was deleted.
    pub async fn delete(&self, id: i64) -> Result<bool, StoreError> {
        let n = self
            .db
            .execute("DELETE FROM auth_user WHERE id = $1", vec![Value::Int(id)])
            .await?;
        Ok(n > 0)
    }

    /// Sets the staff / superuser / active flags (closing any open activation period, as
    /// [`Users::set_active`]).
    pub async fn set_flags(
        &self,
        id: i64,
        is_staff: bool,
        is_superuser: bool,
        is_active: bool,
    ) -> Result<(), StoreError> {
        self.db
            .transaction(vec![
                Statement::new(
                    "UPDATE auth_user SET is_staff = $1, is_superuser = $2, is_active = $3 WHERE id = $4",
                    vec![is_staff.into(), is_superuser.into(), is_active.into(), Value::Int(id)],
                ),
                Activations::close(id),
            ])
            .await?;
        Ok(())
    }
}

/// Django's `AbstractBaseUser.normalize_username`: NFKC, so look-alike forms of a name
/// (e.g. the `ﬀ` ligature) cannot register twice.
pub fn normalize_username(username: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    username.nfkc().collect()
}

/// Django's `BaseUserManager.normalize_email`: the domain part is lower-cased.
pub fn normalize_email(email: &str) -> String {
    match email.trim().rsplit_once('@') {
        Some((name, domain)) => format!("{name}@{}", domain.to_lowercase()),
        None => email.to_owned(),
    }
}

/// Django's `UnicodeUsernameValidator`: letters, digits and `@ . + - _` only.
pub fn is_valid_username(username: &str) -> bool {
    !username.is_empty()
        && username
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '@' | '.' | '+' | '-' | '_'))
}
