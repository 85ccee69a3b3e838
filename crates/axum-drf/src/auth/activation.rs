//! Account activation periods (table `auth_activation`): tells an account that was never
//! activated — or is waiting to confirm a new email address — from one an administrator
//! deactivated. Only the first may be activated by an emailed link, and only by a link
//! issued for its current period: the period's start is bound into the link's signature
//! ([`Activations::purpose`]), so a link from an earlier period (e.g. before an email
//! change and back) is void, and an administrator's deactivation ends the period, so
//! neither an old link nor a new one (`resend_activation`) undoes it.
//!
//! ```
//! use axum_drf::auth::activation::Activations;
//! assert_eq!(Activations::purpose("activation", 1_700_000_000_000_000), "activation@1700000000000000");
//! ```

use super::user::{NewUser, User, Users};
use crate::store::{now_micros, Database, Statement, StoreError};

/// A user's latest activation period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActivationPeriod {
    /// When it began (microseconds since the epoch); bound into its links.
    pub since: i64,
    /// Still open: a link of this period may activate the account. Closed by the
    /// activation itself or by any administrative change of the active flag.
    pub pending: bool,
}

/// Queries and statements over `auth_activation`.
#[derive(Clone, Debug)]
pub struct Activations {
    db: Database,
}

impl Activations {
    /// Over `db`.
    pub fn new(db: Database) -> Self {
        Activations { db }
    }

    /// The link purpose for `base` (e.g. `"activation"`) in the period that began `since`.
    pub fn purpose(base: &str, since: i64) -> String {
        format!("{base}@{since}")
    }

    /// The user's latest period, if they ever had one.
    pub async fn period(&self, user_id: i64) -> Result<Option<ActivationPeriod>, StoreError> {
        let row = self
            .db
            .query_opt(
                "SELECT since, pending FROM auth_activation WHERE user_id = $1",
                vec![user_id.into()],
            )
            .await?;
        row.map(|r| {
            Ok(ActivationPeriod {
                since: r.int(0)?,
                pending: r.bool(1)?,
            })
        })
        .transpose()
    }

    /// Creates `new` inactive, waiting for activation, in one transaction (registration
    /// with activation on). A taken username is [`StoreError::UniqueViolation`].
    pub async fn create_pending_user(&self, new: &NewUser) -> Result<User, StoreError> {
        let new = NewUser {
            is_active: false,
            ..new.clone()
        };
        let rows = self
            .db
            .transaction(vec![
                Users::insert_statement(&new),
                Statement::new(
                    "INSERT INTO auth_activation (user_id, since, pending) \
                     SELECT id, $2, TRUE FROM auth_user WHERE username = $1",
                    vec![new.username.as_str().into(), now_micros().into()],
                ),
            ])
            .await?;
        let row = rows
            .first()
            .and_then(|r| r.first())
            .ok_or_else(|| StoreError::Decode("INSERT returned no row".into()))?;
        User::from_row(row)
    }

    /// Statements that deactivate `user_id` and open a new period (an email change that
    /// must be confirmed), to run with the change.
    pub fn begin(user_id: i64) -> Vec<Statement> {
        vec![
            Statement::new(
                "UPDATE auth_user SET is_active = FALSE WHERE id = $1",
                vec![user_id.into()],
            ),
            Statement::new(
                "INSERT INTO auth_activation (user_id, since, pending) VALUES ($1, $2, TRUE) \
                 ON CONFLICT (user_id) DO UPDATE SET since = excluded.since, pending = TRUE",
                vec![user_id.into(), now_micros().into()],
            ),
        ]
    }

    /// Statements that activate `user_id` by a link of the period `since` and close it.
    pub fn complete(user_id: i64, since: i64) -> Vec<Statement> {
        vec![
            // Only while the period is still open: an administrator's change made since the
            // link was checked wins.
            Statement::new(
                "UPDATE auth_user SET is_active = TRUE WHERE id = $1 AND EXISTS \
                 (SELECT 1 FROM auth_activation WHERE user_id = $1 AND since = $2 AND pending)",
                vec![user_id.into(), since.into()],
            ),
            Statement::new(
                "UPDATE auth_activation SET pending = FALSE WHERE user_id = $1 AND since = $2",
                vec![user_id.into(), since.into()],
            ),
        ]
    }

    /// The statement that closes `user_id`'s open period: an administrator set the active
    /// flag, which no link may override afterwards.
    pub fn close(user_id: i64) -> Statement {
        Statement::new(
            "UPDATE auth_activation SET pending = FALSE WHERE user_id = $1",
            vec![user_id.into()],
        )
    }
}
