//! Tokens beyond DRF's one per user (opt-in, django-rest-knox's model), and token expiry.
//!
//! - `token_ttl`: every token (the default derived one too) ends that long after it was
//!   created; an expired token answers DRF's 401 `Invalid token.`, and the next login issues
//!   a new one.
//! - [`TokenMode::PerLogin`]: each login returns a new random token (40 hex characters, like
//!   DRF's), logout revokes only the token it came with, "log out everywhere" revokes all,
//!   and a user can list (never see the keys of) and revoke their tokens.
//!
//! Random keys live in `auth_token` — only their SHA-256, with the owner, creation, last use,
//! the client that logged in and the expiry — and are looked up by that hash when a key is
//! not a current derived token; the credential cache sits in front of both lookups, so the
//! hot path costs what it did. Keys imported from another DRF database have the same shape
//! and belong in the same table (`kind = 'imported'`). "Last used" is written at most once
//! per [`LAST_USED_EVERY`] per token, not on every request.

use std::time::Duration;

use serde::Serialize;

use super::audit::{AuthEvent, AuthEventKind, ClientInfo};
use super::cache::CachedCredential;
use super::token::TokenKey;
use super::user::User;
use super::{AuthService, Credential};
use crate::error::ApiError;
use crate::store::{now_micros, Row, Statement, Value};

/// How login hands out tokens.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenMode {
    /// DRF's `Token`: one per user, the same on every login until logout (default).
    #[default]
    Single,
    /// knox's model: a new token per login, each revoked on its own.
    PerLogin,
}

/// Longest interval between two writes of a token's "last used".
pub const LAST_USED_EVERY: Duration = Duration::from_secs(60);
/// Most live per-login tokens a user keeps; a login beyond it revokes the oldest.
pub const MAX_TOKENS_PER_USER: i64 = 100;

const DERIVED_LOOKUP: &str = concat!(
    "SELECT ",
    crate::user_columns!("u"),
    ", t.created FROM authtoken_token t JOIN auth_user u ON u.id = t.user_id WHERE t.key_hash = $1"
);
const RANDOM_LOOKUP: &str = concat!(
    "SELECT ",
    crate::user_columns!("u"),
    ", t.id, t.expire_at FROM auth_token t JOIN auth_user u ON u.id = t.user_id \
     WHERE t.key_hash = $1"
);

const DELETE_BY_ID: &str =
    "DELETE FROM auth_token WHERE id = $1 AND user_id = $2 RETURNING id, key_hash";
const DELETE_BY_HASH: &str =
    "DELETE FROM auth_token WHERE key_hash = $1 AND user_id = $2 RETURNING id, key_hash";

/// A token as its owner sees it in `GET /api/auth/tokens/` (never the key).
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct TokenInfo {
    /// Id, for `DELETE /api/auth/tokens/{id}/`.
    pub id: i64,
    /// When it was issued (ISO 8601).
    pub created: String,
    /// When it last authenticated a request (to the minute), if ever.
    pub last_used: Option<String>,
    /// When it ends, if it does.
    pub expires: Option<String>,
    /// The address that logged in.
    pub client_ip: Option<String>,
    /// The user agent that logged in (truncated).
    pub user_agent: String,
    /// Whether this request came with it.
    pub current: bool,
}

impl AuthService {
    /// The user a token key hash belongs to, with the credential's expiry and, for random
    /// tokens, its id: the derived token first, then `auth_token`.
    pub(super) async fn find_token(
        &self,
        key_hash: &str,
    ) -> Result<Option<CachedCredential>, ApiError> {
        let ttl = self.config().token_ttl.map(micros);
        let db = self.db();
        if let Some(row) = db
            .query_opt(DERIVED_LOOKUP, vec![Value::Text(key_hash.to_owned())])
            .await?
        {
            let created = row.int(12)?;
            return Ok(Some(CachedCredential {
                user: User::from_row(&row)?.into(),
                expire_at: ttl.map_or(i64::MAX, |t| created.saturating_add(t)),
                token_id: None,
            }));
        }
        let Some(row) = db
            .query_opt(RANDOM_LOOKUP, vec![Value::Text(key_hash.to_owned())])
            .await?
        else {
            return Ok(None);
        };
        Ok(Some(CachedCredential {
            user: User::from_row(&row)?.into(),
            token_id: Some(row.int(12)?),
            expire_at: row.opt_int(13)?.unwrap_or(i64::MAX),
        }))
    }

    /// Records that a random token was used, at most once per [`LAST_USED_EVERY`] (the write
    /// happens in the background).
    pub(super) fn touch_token(&self, token_id: i64) {
        if !self.touched().entry(token_id).or_insert(()).is_fresh() {
            return;
        }
        let db = self.db().clone();
        tokio::spawn(async move {
            if let Err(e) = db
                .execute(
                    "UPDATE auth_token SET last_used = $1 WHERE id = $2",
                    vec![now_micros().into(), token_id.into()],
                )
                .await
            {
                tracing::warn!(error = %e, "cannot record a token's last use");
            }
        });
    }

    /// The token a successful login returns, by the configured [`TokenMode`]: DRF's single
    /// token (renewed once `token_ttl` has passed), or a new random one. Records
    /// `token_created` when a token is new.
    pub async fn issue_login_token(
        &self,
        user: &User,
        client: &ClientInfo,
    ) -> Result<TokenKey, ApiError> {
        if self.config().token_mode == TokenMode::PerLogin {
            return self.issue_random_token(user, client).await;
        }
        let mut user = user.clone();
        let existing = self
            .db()
            .query_opt(
                "SELECT created FROM authtoken_token WHERE user_id = $1",
                vec![user.id.into()],
            )
            .await?;
        let expired = match (&existing, self.config().token_ttl) {
            (Some(row), Some(ttl)) => row.int(0)?.saturating_add(micros(ttl)) <= now_micros(),
            _ => false,
        };
        if expired {
            self.revoke_token(user.id).await?;
            user = self
                .users()
                .by_id(user.id)
                .await?
                .ok_or_else(|| ApiError::Internal("user vanished at login".into()))?;
        }
        let key = self.issue_token(&user).await?;
        if existing.is_none() || expired {
            self.audit(
                AuthEvent::new(AuthEventKind::TokenCreated)
                    .with_user(&user)
                    .with_client(client),
            );
        }
        Ok(key)
    }

    async fn issue_random_token(
        &self,
        user: &User,
        client: &ClientInfo,
    ) -> Result<TokenKey, ApiError> {
        let key = TokenKey::random();
        let now = now_micros();
        let expire_at = self
            .config()
            .token_ttl
            .map(|t| now.saturating_add(micros(t)));
        let rows = self
            .db()
            .transaction(vec![
                Statement::new(
                    "INSERT INTO auth_token (key_hash, user_id, created, expire_at, client_ip, user_agent, kind) \
                     VALUES ($1, $2, $3, $4, $5, $6, 'login') RETURNING id",
                    vec![
                        key.hash().into(),
                        user.id.into(),
                        now.into(),
                        expire_at.into(),
                        client.ip.map(|ip| ip.to_string()).into(),
                        client.user_agent.as_str().into(),
                    ],
                ),
                // Expired tokens are swept here, on a write we do anyway; beyond the cap the
                // oldest go, so one account cannot grow the table without bound.
                Statement::new(
                    "DELETE FROM auth_token WHERE user_id = $1 AND (expire_at <= $2 OR id NOT IN \
                     (SELECT id FROM auth_token WHERE user_id = $1 ORDER BY id DESC LIMIT $3)) \
                     RETURNING key_hash",
                    vec![user.id.into(), now.into(), MAX_TOKENS_PER_USER.into()],
                ),
            ])
            .await?;
        for row in rows.get(1).into_iter().flatten() {
            self.forget_key(&row.text(0)?).await;
        }
        let id = rows
            .first()
            .and_then(|r| r.first())
            .map(|r| r.int(0))
            .transpose()?;
        self.audit(
            AuthEvent::new(AuthEventKind::TokenCreated)
                .with_user(user)
                .with_detail(id.map(|id| format!("token {id}")).unwrap_or_default())
                .with_client(client),
        );
        Ok(key)
    }

    /// Logout: records it and revokes the token the request came with — DRF's single token
    /// of the user, or (per-login mode) just that token; a derived token presented in
    /// per-login mode (issued before the mode changed) revokes all of them. A
    /// session-authenticated logout revokes no token here.
    pub async fn logout(
        &self,
        user: &User,
        credential: &Credential,
        client: &ClientInfo,
    ) -> Result<(), ApiError> {
        self.audit(
            AuthEvent::new(AuthEventKind::Logout)
                .with_user(user)
                .with_client(client),
        );
        let Credential::Token { key_hash } = credential else {
            return Ok(());
        };
        let deleted = self
            .delete_random_token(DELETE_BY_HASH, key_hash.clone().into(), user.id)
            .await?;
        if deleted.is_none() || self.config().token_mode == TokenMode::Single {
            self.revoke_token(user.id).await?;
        }
        self.audit(
            AuthEvent::new(AuthEventKind::TokenRevoked)
                .with_user(user)
                .with_detail(deleted.map(|id| format!("token {id}")).unwrap_or_default())
                .with_client(client),
        );
        Ok(())
    }

    /// Revokes every token of `user` (`POST /api/auth/token/logoutall/`).
    pub async fn logout_all(&self, user: &User, client: &ClientInfo) -> Result<(), ApiError> {
        self.revoke_token(user.id).await?;
        self.audit(
            AuthEvent::new(AuthEventKind::TokenRevoked)
                .with_user(user)
                .with_detail("all")
                .with_client(client),
        );
        Ok(())
    }

    /// Revokes `user`'s random token `id`; `false` when they have none by that id.
    pub async fn revoke_token_id(
        &self,
        user: &User,
        id: i64,
        client: &ClientInfo,
    ) -> Result<bool, ApiError> {
        let deleted = self
            .delete_random_token(DELETE_BY_ID, id.into(), user.id)
            .await?;
        if deleted.is_some() {
            self.audit(
                AuthEvent::new(AuthEventKind::TokenRevoked)
                    .with_user(user)
                    .with_detail(format!("token {id}"))
                    .with_client(client),
            );
        }
        Ok(deleted.is_some())
    }

    /// Deletes one of the user's random tokens (`sql`: [`DELETE_BY_ID`] or
    /// [`DELETE_BY_HASH`]) and forgets it everywhere; its id if there was one.
    async fn delete_random_token(
        &self,
        sql: &'static str,
        key: Value,
        user_id: i64,
    ) -> Result<Option<i64>, ApiError> {
        let Some(row) = self.db().query_opt(sql, vec![key, user_id.into()]).await? else {
            return Ok(None);
        };
        self.forget_key(&row.text(1)?).await;
        Ok(Some(row.int(0)?))
    }

    /// `user`'s live random tokens, newest first; `current` is the hash of the request's key.
    pub async fn list_tokens(
        &self,
        user_id: i64,
        current: Option<&str>,
    ) -> Result<Vec<TokenInfo>, ApiError> {
        let rows = self
            .db()
            .query(
                "SELECT id, created, last_used, expire_at, client_ip, user_agent, key_hash \
                 FROM auth_token WHERE user_id = $1 AND (expire_at IS NULL OR expire_at > $2) \
                 ORDER BY id DESC",
                vec![user_id.into(), now_micros().into()],
            )
            .await?;
        rows.iter().map(|row| token_info(row, current)).collect()
    }
}

fn token_info(row: &Row, current: Option<&str>) -> Result<TokenInfo, ApiError> {
    use crate::datetime::format_datetime;
    Ok(TokenInfo {
        id: row.int(0)?,
        created: format_datetime(row.int(1)?),
        last_used: row.opt_int(2)?.map(format_datetime),
        expires: row.opt_int(3)?.map(format_datetime),
        client_ip: match row.0.get(4) {
            Some(Value::Text(ip)) => Some(ip.clone()),
            _ => None,
        },
        user_agent: row.text(5)?,
        current: current.is_some_and(|c| c == row.text(6).unwrap_or_default()),
    })
}

fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}
