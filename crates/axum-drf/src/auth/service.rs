//! The authentication service: verifies credentials, issues and revokes tokens and
//! sessions, and authenticates requests through the credential cache.

use std::sync::Arc;
use std::time::Duration;

use axum::http::{header, Extensions, HeaderMap, Method};
use rand::Rng;

use super::audit::{AuditLog, AuthEvent, AuthEventKind, ClientInfo, LoginFailure};
use super::cache::{AuthCache, CachedCredential, INVALIDATION_CHANNEL};
use super::password::{self, Verification};
use super::token::{hash_secret, parse_authorization, TokenKey};
use super::user::{User, Users};
use super::{csrf, Credential, Identity};
use crate::cookies;
use crate::error::ApiError;
use crate::store::{now_micros, Database, Statement, StoreError};

/// Settings of the authentication service. Start from [`AuthConfig::default`] (or
/// [`AuthConfig::with_secret`]) and set fields: more will come.
///
/// ```
/// let mut config = axum_drf::auth::AuthConfig::with_secret(b"from your settings".to_vec());
/// config.session_age = 3600;
/// # assert!(!config.cookie_secure);
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct AuthConfig {
    /// Server secret: keys token derivation and signed links. Keep it out of logs.
    pub secret: Vec<u8>,
    /// Session lifetime in seconds (Django's `SESSION_COOKIE_AGE`, two weeks).
    pub session_age: i64,
    /// Mark cookies `Secure` (serve over HTTPS).
    pub cookie_secure: bool,
    /// Origins trusted for CSRF besides the request's own (Django's `CSRF_TRUSTED_ORIGINS`).
    pub csrf_trusted_origins: Vec<String>,
    /// Trust `X-Forwarded-Proto: https` from a reverse proxy to mean the request is secure.
    pub trust_forwarded_proto: bool,
    /// Credential cache size; 0 disables the cache.
    pub cache_capacity: u64,
    /// Longest time a cached credential is trusted without re-reading the database.
    pub cache_ttl: Duration,
    /// Password hashes computed at once (each takes ~19 MiB and a core for ~30 ms).
    pub hashing_concurrency: usize,
    /// A password change also revokes the user's API token, not only their sessions
    /// (default). DRF keeps the token, so whoever stole it keeps access after the owner
    /// recovered the account; `false` restores that.
    pub revoke_tokens_on_password_change: bool,
    /// Token lifetime; `None`: tokens last until revoked (DRF).
    pub token_ttl: Option<Duration>,
    /// One token per user (DRF) or one per login (knox).
    pub token_mode: super::TokenMode,
    /// How long audit events are kept; `None`: forever.
    pub audit_retention: Option<Duration>,
    /// Mark the `csrftoken` cookie `HttpOnly` (Django's `CSRF_COOKIE_HTTPONLY`, off).
    pub csrf_cookie_httponly: bool,
}

impl AuthConfig {
    /// The defaults with `secret`.
    pub fn with_secret(secret: Vec<u8>) -> Self {
        AuthConfig {
            secret,
            ..AuthConfig::default()
        }
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            secret: Vec::new(),
            session_age: 1_209_600,
            cookie_secure: false,
            csrf_trusted_origins: Vec::new(),
            trust_forwarded_proto: false,
            cache_capacity: 100_000,
            cache_ttl: Duration::from_secs(300),
            hashing_concurrency: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
            revoke_tokens_on_password_change: true,
            token_ttl: None,
            token_mode: super::TokenMode::Single,
            audit_retention: None,
            csrf_cookie_httponly: false,
        }
    }
}

/// A session opened at login: the cookie values to set.
#[derive(Clone)]
pub struct SessionStart {
    /// Value of the `sessionid` cookie (only its hash is stored).
    pub session_key: String,
    /// New value of the `csrftoken` cookie (Django rotates it at login).
    pub csrf_secret: String,
}

impl std::fmt::Debug for SessionStart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionStart(<redacted>)")
    }
}

/// The parts of a request authentication looks at.
#[derive(Debug, Clone, Copy)]
pub struct RequestHead<'a> {
    /// HTTP method.
    pub method: &'a Method,
    /// Request headers.
    pub headers: &'a HeaderMap,
    /// Request extensions, when at hand: over TLS they carry
    /// [`SecureTransport`](crate::server::SecureTransport), which the CSRF check needs.
    pub extensions: Option<&'a Extensions>,
    /// The raw body (CSRF reads `csrfmiddlewaretoken` from form posts).
    pub body: &'a [u8],
}

/// Authentication service; cheap to clone.
#[derive(Clone)]
pub struct AuthService {
    inner: Arc<Inner>,
}

struct Inner {
    db: Database,
    users: Users,
    config: AuthConfig,
    cache: AuthCache,
    hashing: super::hashing::HashingPool,
    // Every notification this instance's listener has applied, so a writer can wait until
    // its own invalidation has made the round trip through PostgreSQL.
    applied: tokio::sync::broadcast::Sender<String>,
    // Whether this process's own listener is up (and so receives acknowledgements).
    listening: std::sync::atomic::AtomicBool,
    audit: AuditLog,
    // Random tokens whose "last used" was written within the last minute.
    touched: moka::sync::Cache<i64, ()>,
}

/// Channel on which instances acknowledge applied invalidations (PostgreSQL).
pub const ACK_CHANNEL: &str = "axum_drf_auth_ack";
/// Longest a writer waits for every instance's acknowledgement.
const ACK_TIMEOUT: Duration = Duration::from_secs(1);

/// How often a SQLite server applies invalidations written by other processes.
pub const SQLITE_POLL: Duration = Duration::from_millis(200);

/// Session cookie name (Django's default).
pub const SESSION_COOKIE: &str = "sessionid";
/// CSRF cookie name (Django's default).
pub const CSRF_COOKIE: &str = "csrftoken";

const SESSION_LOOKUP: &str = concat!(
    "SELECT ",
    crate::user_columns!("u"),
    ", s.expire_at FROM auth_session s JOIN auth_user u ON u.id = s.user_id \
     WHERE s.key_hash = $1 AND s.expire_at > $2"
);

impl AuthService {
    /// A service over `db`. On PostgreSQL the cache stays off until
    /// [`AuthService::spawn_invalidation_listener`] has subscribed to invalidations.
    pub fn new(db: Database, config: AuthConfig) -> Self {
        let cache_on = config.cache_capacity > 0 && db.backend() == crate::store::Backend::Sqlite;
        let cache = AuthCache::new(config.cache_capacity.max(1), config.cache_ttl, cache_on);
        let hashing = super::hashing::HashingPool::new(config.hashing_concurrency.max(1));
        let (db_for_audit, config_retention) = (db.clone(), config.audit_retention);
        AuthService {
            inner: Arc::new(Inner {
                users: Users::new(db.clone()),
                db,
                cache,
                hashing,
                config,
                applied: tokio::sync::broadcast::channel(256).0,
                listening: std::sync::atomic::AtomicBool::new(false),
                audit: AuditLog::new(db_for_audit, config_retention),
                touched: moka::sync::Cache::builder()
                    .max_capacity(100_000)
                    .time_to_live(super::tokens::LAST_USED_EVERY)
                    .build(),
            }),
        }
    }

    /// The user queries.
    pub fn users(&self) -> &Users {
        &self.inner.users
    }

    /// The database.
    pub fn db(&self) -> &Database {
        &self.inner.db
    }

    /// The settings.
    pub fn config(&self) -> &AuthConfig {
        &self.inner.config
    }

    /// The `WWW-Authenticate` challenge of the first authenticator (Token).
    pub fn challenge(&self) -> Option<&'static str> {
        Some("Token")
    }

    /// Runs CPU-heavy password work on the hashing threads (`hashing_concurrency` of
    /// them), so logins never block the async workers nor grow memory without bound.
    pub async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        self.inner
            .hashing
            .run(f)
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))
    }

    /// argon2id hash of `password`, computed on the blocking pool.
    pub async fn hash_password(&self, password: &str) -> Result<String, ApiError> {
        let password = password.to_owned();
        self.blocking(move || password::hash_password(&password))
            .await
    }

    /// Django's `authenticate(username, password)`: the active user whose password matches,
    /// else `None`. An unknown username costs one dummy hash, so timing tells nothing; legacy
    /// hashes are upgraded to argon2id on success.
    pub async fn verify_credentials(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Option<User>, ApiError> {
        Ok(self.check_credentials(username, password).await?.ok())
    }

    /// [`AuthService::verify_credentials`] with the reason of a failure.
    async fn check_credentials(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Result<User, LoginFailure>, ApiError> {
        let user = self.inner.users.by_username(username).await?;
        let stored = user.as_ref().map(|u| u.password.clone());
        let pw = password.to_owned();
        let verdict = self
            .blocking(move || match stored {
                Some(encoded) => password::verify_password(&pw, &encoded),
                None => {
                    password::dummy_verify(&pw);
                    Verification::Invalid
                }
            })
            .await?;
        let Some(user) = user else {
            return Ok(Err(LoginFailure::UnknownUser));
        };
        match verdict {
            Verification::Invalid => Ok(Err(LoginFailure::BadPassword)),
            _ if !user.is_active => Ok(Err(LoginFailure::Inactive)),
            Verification::Valid => Ok(Ok(user)),
            Verification::ValidNeedsRehash => {
                let hash = self.hash_password(password).await?;
                self.inner.users.set_password_hash(user.id, &hash).await?;
                Ok(Ok(User {
                    password: hash,
                    ..user
                }))
            }
        }
    }

    /// A login with username and password: [`AuthService::verify_credentials`], recorded in
    /// the audit log (a failure with its reason category, also logged at INFO).
    pub async fn login(
        &self,
        username: &str,
        password: &str,
        client: &ClientInfo,
    ) -> Result<Option<User>, ApiError> {
        let (user, failure) = match self.check_credentials(username, password).await? {
            Ok(user) => (Some(user), None),
            Err(failure) => (None, Some(failure)),
        };
        let event = match (&user, failure) {
            (Some(user), _) => AuthEvent::new(AuthEventKind::Login).with_user(user),
            (None, failure) => {
                let reason = failure.map_or("", LoginFailure::as_str);
                tracing::info!(
                    username,
                    reason,
                    client_ip = ?client.ip,
                    "login failed"
                );
                AuthEvent::new(AuthEventKind::LoginFailed)
                    .with_username(username)
                    .with_reason(reason)
            }
        };
        self.audit(event.with_client(client));
        Ok(user)
    }

    /// Queues an event for the audit log (`auth_event`); returns at once, the write happens
    /// in the background (see [`super::audit`]). For events the service does not record
    /// itself — password, email and username changes, (de)activation, permission and group
    /// changes, throttling:
    ///
    /// ```no_run
    /// # async fn f(auth: axum_drf::auth::AuthService, req: axum_drf::ApiRequest) {
    /// use axum_drf::auth::{AuthEvent, AuthEventKind, ClientInfo};
    /// auth.audit(
    ///     AuthEvent::new(AuthEventKind::Throttled)
    ///         .with_username("alice")
    ///         .with_detail("scope login")
    ///         .with_client(&ClientInfo::of(&req)),
    /// );
    /// # }
    /// ```
    pub fn audit(&self, event: AuthEvent) {
        self.inner.audit.record(event);
    }

    /// The audit log (start it, flush it on shutdown, prune it).
    pub fn audit_log(&self) -> &AuditLog {
        &self.inner.audit
    }

    pub(super) fn touched(&self) -> &moka::sync::Cache<i64, ()> {
        &self.inner.touched
    }

    /// Checks `password` against `user`'s hash (e.g. `current_password` fields).
    pub async fn check_password(&self, user: &User, password: &str) -> Result<bool, ApiError> {
        let (pw, encoded) = (password.to_owned(), user.password.clone());
        let verdict = self
            .blocking(move || password::verify_password(&pw, &encoded))
            .await?;
        Ok(verdict != Verification::Invalid)
    }

    /// DRF's `Token.objects.get_or_create(user=user)`: the user's current token, the same on
    /// every call until [`AuthService::revoke_token`].
    pub async fn issue_token(&self, user: &User) -> Result<TokenKey, ApiError> {
        let key = TokenKey::derive(&self.inner.config.secret, user.id, user.token_generation);
        let hash = key.hash();
        let inserted = self
            .inner
            .db
            .execute(
                "INSERT INTO authtoken_token (key_hash, user_id, created) VALUES ($1, $2, $3) \
                 ON CONFLICT (user_id) DO NOTHING",
                vec![hash.clone().into(), user.id.into(), now_micros().into()],
            )
            .await?;
        if inserted == 0 {
            // A row from before a secret change cannot be shown again: replace it.
            let replaced = self
                .inner
                .db
                .execute(
                    "UPDATE authtoken_token SET key_hash = $1 WHERE user_id = $2 AND key_hash <> $1",
                    vec![hash.into(), user.id.into()],
                )
                .await?;
            if replaced > 0 {
                self.user_changed(user.id).await;
            }
        }
        Ok(key)
    }

    /// Deletes every token of the user (DRF's single token, and per-login or imported
    /// ones); the next login derives a new one.
    pub async fn revoke_token(&self, user_id: i64) -> Result<(), ApiError> {
        let rows = self
            .inner
            .db
            .transaction(vec![
                Statement::new(
                    "DELETE FROM authtoken_token WHERE user_id = $1 RETURNING key_hash",
                    vec![user_id.into()],
                ),
                Statement::new(
                    "UPDATE auth_user SET token_generation = token_generation + 1 WHERE id = $1",
                    vec![user_id.into()],
                ),
                // Random tokens (per-login, imported) are the user's tokens too.
                Statement::new(
                    "DELETE FROM auth_token WHERE user_id = $1 RETURNING key_hash",
                    vec![user_id.into()],
                ),
            ])
            .await?;
        // The key hashes the two DELETEs returned (statements 0 and 2).
        let mut hashes = Vec::new();
        for statement in [0, 2] {
            for row in rows.get(statement).into_iter().flatten() {
                hashes.push(row.text(0)?);
            }
        }
        for hash in hashes {
            self.forget_key(&hash).await;
        }
        Ok(())
    }

    /// Django's `login()` for sessions: a fresh session key (never the old one: no
    /// fixation) and a rotated CSRF secret. `replaces` is the hash of the session the
    /// request came with, which ends.
    pub async fn start_session(
        &self,
        user: &User,
        replaces: Option<&str>,
    ) -> Result<SessionStart, ApiError> {
        let session_key = new_session_key();
        let expire_at = now_micros() + self.inner.config.session_age * 1_000_000;
        let mut stmts = Vec::with_capacity(3);
        if let Some(old) = replaces {
            stmts.push(Statement::new(
                "DELETE FROM auth_session WHERE key_hash = $1",
                vec![old.into()],
            ));
        }
        stmts.push(Statement::new(
            "INSERT INTO auth_session (key_hash, user_id, expire_at) VALUES ($1, $2, $3)",
            vec![
                hash_secret(&session_key).into(),
                user.id.into(),
                expire_at.into(),
            ],
        ));
        // Expired rows are swept here, on a write we do anyway, instead of by a timer.
        stmts.push(Statement::new(
            "DELETE FROM auth_session WHERE user_id = $1 AND expire_at <= $2",
            vec![user.id.into(), now_micros().into()],
        ));
        self.inner.db.transaction(stmts).await?;
        self.inner.users.touch_last_login(user.id).await?;
        if let Some(old) = replaces {
            self.forget_key(old).await;
        }
        Ok(SessionStart {
            session_key,
            csrf_secret: csrf::new_secret(),
        })
    }

    /// Ends one session (Django's `logout()`).
    pub async fn end_session(&self, key_hash: &str) -> Result<(), ApiError> {
        self.inner
            .db
            .execute(
                "DELETE FROM auth_session WHERE key_hash = $1",
                vec![key_hash.into()],
            )
            .await?;
        self.forget_key(key_hash).await;
        Ok(())
    }

    /// Stores a new password hash for `user_id` and, in the same transaction, ends what a
    /// password change ends ([`AuthService::password_change_statements`]); every instance
    /// forgets the user's cached credentials before this returns. Every path that sets a
    /// password (API, reset link, CLI, admin) goes through here or those statements.
    pub async fn change_password(&self, user_id: i64, hash: &str) -> Result<(), ApiError> {
        let mut stmts = vec![Statement::new(
            "UPDATE auth_user SET password = $1 WHERE id = $2",
            vec![hash.into(), user_id.into()],
        )];
        stmts.extend(self.password_change_statements(user_id));
        self.inner.db.transaction(stmts).await?;
        self.user_changed(user_id).await;
        Ok(())
    }

    /// The statements that end a user's credentials when their password changes, to run
    /// in the transaction that changes it (then call [`AuthService::user_changed`]): every
    /// session (Django's session hash) and, with `revoke_tokens_on_password_change` (the
    /// default), the API token, whose next login derives a fresh one.
    pub fn password_change_statements(&self, user_id: i64) -> Vec<Statement> {
        let mut stmts = vec![Statement::new(
            "DELETE FROM auth_session WHERE user_id = $1",
            vec![user_id.into()],
        )];
        if self.inner.config.revoke_tokens_on_password_change {
            stmts.push(Statement::new(
                "DELETE FROM authtoken_token WHERE user_id = $1",
                vec![user_id.into()],
            ));
            stmts.push(Statement::new(
                "UPDATE auth_user SET token_generation = token_generation + 1 WHERE id = $1",
                vec![user_id.into()],
            ));
            // Random tokens (per-login, imported) are the user's tokens too.
            stmts.push(Statement::new(
                "DELETE FROM auth_token WHERE user_id = $1",
                vec![user_id.into()],
            ));
        }
        stmts
    }

    /// Ends every session of a user.
    pub async fn end_user_sessions(&self, user_id: i64) -> Result<(), ApiError> {
        self.inner
            .db
            .execute(
                "DELETE FROM auth_session WHERE user_id = $1",
                vec![user_id.into()],
            )
            .await?;
        self.user_changed(user_id).await;
        Ok(())
    }

    /// Drops every cached credential of a user, here and on every other instance; call after
    /// any change to the user (flags, password, deletion).
    pub async fn user_changed(&self, user_id: i64) {
        self.inner.cache.invalidate_user(user_id);
        self.broadcast(format!("user:{user_id}")).await;
    }

    pub(super) async fn forget_key(&self, key_hash: &str) {
        self.inner.cache.invalidate_key(key_hash);
        self.broadcast(format!("key:{key_hash}")).await;
    }

    async fn broadcast(&self, payload: String) {
        let sent = match self.inner.db.backend() {
            crate::store::Backend::Postgres => self.broadcast_and_wait(payload).await,
            // Other processes on the same file (the CLI, a second server) read the log.
            crate::store::Backend::Sqlite => self
                .inner
                .db
                .execute(
                    "INSERT INTO auth_invalidation (payload, created) VALUES ($1, $2)",
                    vec![payload.into(), now_micros().into()],
                )
                .await
                .map(drop),
        };
        if let Err(e) = sent {
            // Other instances may now hold a stale entry: they cannot be told, so the
            // failure must be loud. Their listener reconnect empties their caches.
            tracing::error!(error = %e, "could not broadcast credential invalidation");
        }
    }

    /// PostgreSQL: every running instance acknowledges each invalidation after applying
    /// it; the writer waits for as many acknowledgements as there are listening instances
    /// (bounded), so when a logout's response leaves, no instance still trusts the
    /// credential. An instance whose listener is down has its cache off.
    async fn broadcast_and_wait(&self, payload: String) -> Result<(), StoreError> {
        let crate::store::Engine::Postgres(pg) = &self.inner.db.0 else {
            return Ok(());
        };
        let nonce = format!("{payload}#{:016x}", rand::random::<u64>());
        let listeners = pg.count_listeners().await.unwrap_or(0);
        if listeners == 0 {
            return pg.notify(INVALIDATION_CHANNEL, nonce).await;
        }
        // A process without its own listener (the CLI) subscribes to acknowledgements just
        // for this wait, under a name writers do not count.
        let mut own = None;
        if !self
            .inner
            .listening
            .load(std::sync::atomic::Ordering::Acquire)
        {
            own = Some(
                pg.listen(&[ACK_CHANNEL], crate::store::ACK_WAITER_APPLICATION_NAME)
                    .await?,
            );
        }
        let mut acks = self.inner.applied.subscribe();
        pg.notify(INVALIDATION_CHANNEL, nonce.clone()).await?;
        let wait = async {
            let mut seen = 0;
            loop {
                let ack = match own.as_mut() {
                    Some(listener) => match listener.recv().await {
                        Some(note) => note.payload,
                        None => break,
                    },
                    None => match acks.recv().await {
                        Ok(ack) => ack,
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                        Err(_) => break,
                    },
                };
                if ack == nonce {
                    seen += 1;
                    if seen >= listeners {
                        break;
                    }
                }
            }
        };
        if tokio::time::timeout(ACK_TIMEOUT, wait).await.is_err() {
            tracing::warn!(
                listeners,
                "not every instance acknowledged an invalidation in time"
            );
        }
        Ok(())
    }

    /// Keeps the cache in step with changes made by other processes. PostgreSQL: a
    /// `LISTEN` subscription, immediate, with the cache on only while subscribed. SQLite: the
    /// `auth_invalidation` log written by other processes on the same file (e.g. the CLI's
    /// `changepassword`) is applied every [`SQLITE_POLL`]; changes made through this
    /// server's own API apply at once. Returns immediately.
    pub fn spawn_invalidation_listener(&self) {
        let crate::store::Engine::Postgres(pg) = &self.inner.db.0 else {
            self.spawn_sqlite_log_poller();
            return;
        };
        if self.inner.config.cache_capacity == 0 {
            return;
        }
        let pg = pg.clone();
        let this = self.clone();
        tokio::spawn(async move {
            loop {
                let listening = pg
                    .listen(
                        &[INVALIDATION_CHANNEL, ACK_CHANNEL],
                        crate::store::LISTENER_APPLICATION_NAME,
                    )
                    .await;
                match listening {
                    Ok(mut listener) => {
                        this.inner.cache.set_enabled(true);
                        this.inner
                            .listening
                            .store(true, std::sync::atomic::Ordering::Release);
                        while let Some(note) = listener.recv().await {
                            if note.channel == ACK_CHANNEL {
                                let _ = this.inner.applied.send(note.payload);
                                continue;
                            }
                            this.inner.cache.apply_message(&note.payload);
                            let pg = pg.clone();
                            tokio::spawn(async move {
                                if let Err(e) = pg.notify(ACK_CHANNEL, note.payload).await {
                                    tracing::warn!(error = %e, "cannot acknowledge an invalidation");
                                }
                            });
                        }
                        this.inner
                            .listening
                            .store(false, std::sync::atomic::Ordering::Release);
                        this.inner.cache.set_enabled(false);
                    }
                    Err(e) => {
                        this.inner.cache.set_enabled(false);
                        tracing::warn!(error = %e, "cannot listen for invalidations; cache off");
                    }
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
    }

    fn spawn_sqlite_log_poller(&self) {
        if self.inner.config.cache_capacity == 0 {
            return;
        }
        let this = self.clone();
        tokio::spawn(async move {
            let mut last_seen: Option<i64> = None;
            let mut interval = tokio::time::interval(SQLITE_POLL);
            for tick in 0u64.. {
                interval.tick().await;
                // Every ~10 minutes the log is trimmed; pollers are never that far behind.
                if tick % 3000 == 2999 {
                    if let Err(e) = this.prune_invalidation_log().await {
                        tracing::warn!(error = %e, "cannot prune the invalidation log");
                    }
                }
                let polled = match last_seen {
                    None => this
                        .inner
                        .db
                        .query("SELECT COALESCE(MAX(seq), 0), '' FROM auth_invalidation", vec![])
                        .await,
                    Some(seen) => this
                        .inner
                        .db
                        .query(
                            "SELECT seq, payload FROM auth_invalidation WHERE seq > $1 ORDER BY seq",
                            vec![seen.into()],
                        )
                        .await,
                };
                match polled {
                    Ok(rows) => {
                        for row in &rows {
                            if last_seen.is_some() {
                                if let Ok(payload) = row.text(1) {
                                    this.inner.cache.apply_message(&payload);
                                }
                            }
                            if let Ok(seq) = row.int(0) {
                                last_seen = Some(last_seen.map_or(seq, |s| s.max(seq)));
                            }
                        }
                        if last_seen.is_none() {
                            last_seen = Some(0);
                        }
                    }
                    Err(e) => {
                        // Unknown state: trust nothing cached until the log is readable.
                        this.inner.cache.set_enabled(false);
                        tracing::warn!(error = %e, "cannot read the invalidation log; cache off");
                        continue;
                    }
                }
                this.inner.cache.set_enabled(true);
            }
        });
    }

    /// Deletes invalidation log entries older than an hour (no process polls that slowly).
    pub async fn prune_invalidation_log(&self) -> Result<(), ApiError> {
        if self.inner.db.backend() == crate::store::Backend::Sqlite {
            self.inner
                .db
                .execute(
                    "DELETE FROM auth_invalidation WHERE created < $1",
                    vec![(now_micros() - 3_600_000_000).into()],
                )
                .await?;
        }
        Ok(())
    }

    /// Whether the request carries a `sessionid` cookie that authenticated nobody (the session
    /// ended elsewhere, or never existed) while session authentication was consulted: Django's
    /// `SessionMiddleware` then deletes the cookie in the response.
    pub fn session_ended(&self, headers: &HeaderMap, identity: &Identity) -> bool {
        identity.user.is_none()
            && headers.get(header::AUTHORIZATION).is_none()
            && cookies::get_cookie(&cookie_header(headers), SESSION_COOKIE).is_some()
    }

    /// DRF's authentication step: Token first, then Session (with CSRF on unsafe methods).
    pub async fn authenticate(&self, req: RequestHead<'_>) -> Result<Identity, ApiError> {
        let header = req.headers.get(header::AUTHORIZATION).map(|v| v.as_bytes());
        if let Some(key) = parse_authorization(header)? {
            return self.authenticate_token(&key).await;
        }
        let cookie_header = cookie_header(req.headers);
        let Some(session_key) = cookies::get_cookie(&cookie_header, SESSION_COOKIE) else {
            return Ok(Identity::anonymous());
        };
        let key_hash = hash_secret(session_key);
        let Some(user) = self.session_user(&key_hash).await? else {
            return Ok(Identity::anonymous());
        };
        self.enforce_csrf(req, &cookie_header)?;
        Ok(Identity {
            user: Some(user),
            credential: Credential::Session { key_hash },
        })
    }

    async fn authenticate_token(&self, key: &str) -> Result<Identity, ApiError> {
        let key_hash = hash_secret(key);
        self.let_invalidations_land().await;
        let credential = match self.inner.cache.get(&key_hash) {
            Some(hit) => hit,
            None => {
                // The derived token, else a random (per-login or imported) one; the ticket
                // is taken before the read (see `cache`).
                let ticket = self.inner.cache.ticket();
                let Some(found) = self.find_token(&key_hash).await? else {
                    return Err(self.failed("Invalid token."));
                };
                self.inner
                    .cache
                    .insert(key_hash.clone(), found.clone(), ticket);
                found
            }
        };
        // Only tokens under `token_ttl` carry an expiry: the default path reads no clock.
        if credential.expire_at != i64::MAX && credential.expire_at <= now_micros() {
            return Err(self.failed("Invalid token."));
        }
        let user = credential.user;
        if !user.is_active {
            return Err(self.failed("User inactive or deleted."));
        }
        if let Some(id) = credential.token_id {
            self.touch_token(id);
        }
        Ok(Identity {
            user: Some(user),
            credential: Credential::Token { key_hash },
        })
    }

    /// On PostgreSQL, gives an already-woken listener task the chance to apply pending
    /// invalidations before the cache is trusted (a scheduler hop, no I/O).
    async fn let_invalidations_land(&self) {
        if self.inner.db.backend() == crate::store::Backend::Postgres {
            tokio::task::yield_now().await;
        }
    }

    async fn session_user(&self, key_hash: &str) -> Result<Option<Arc<User>>, StoreError> {
        let now = now_micros();
        self.let_invalidations_land().await;
        if let Some(hit) = self.inner.cache.get(key_hash) {
            if hit.expire_at > now {
                return Ok(hit.user.is_active.then_some(hit.user));
            }
        }
        let ticket = self.inner.cache.ticket();
        let Some(row) = self
            .inner
            .db
            .query_opt(SESSION_LOOKUP, vec![key_hash.into(), now.into()])
            .await?
        else {
            return Ok(None);
        };
        let user = Arc::new(User::from_row(&row)?);
        let expire_at = row.int(12)?;
        self.inner.cache.insert(
            key_hash.to_owned(),
            CachedCredential {
                user: user.clone(),
                expire_at,
                token_id: None,
            },
            ticket,
        );
        // Django's SessionAuthentication ignores inactive users: the request is anonymous.
        Ok(user.is_active.then_some(user))
    }

    /// Django's `csrf_protect` for plain (non-API) views such as a login form: the same
    /// check session-authenticated API requests get, whoever is asking.
    pub fn check_csrf(&self, req: RequestHead<'_>) -> Result<(), ApiError> {
        self.enforce_csrf(req, &cookie_header(req.headers))
    }

    fn enforce_csrf(&self, req: RequestHead<'_>, cookie_header: &str) -> Result<(), ApiError> {
        if matches!(
            *req.method,
            Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
        ) {
            return Ok(());
        }
        // Django reads headers as Latin-1 and joins repeats; so do we, for identical verdicts.
        let origin = csrf::wsgi_header(req.headers, "origin");
        let referer = csrf::wsgi_header(req.headers, "referer");
        let header_token = csrf::wsgi_header(req.headers, "x-csrftoken");
        let host = csrf::wsgi_header(req.headers, "host");
        let h = |name: &str| req.headers.get(name).and_then(|v| v.to_str().ok());
        let content_type = h("content-type");
        let form_token = if *req.method == Method::POST && content_type.is_some_and(is_form) {
            crate::parsers::parse_body(content_type, req.body)
                .ok()
                .and_then(|v| v.get("csrfmiddlewaretoken")?.as_str().map(str::to_owned))
        } else {
            None
        };
        let is_secure = match req.extensions {
            Some(extensions) => self.is_secure(req.headers, extensions),
            None => self.is_secure(req.headers, &Extensions::new()),
        };
        let request = csrf::CsrfRequest {
            method: req.method.as_str(),
            is_secure,
            host: host.as_deref(),
            origin: origin.as_deref(),
            referer: referer.as_deref(),
            cookie_token: cookies::get_cookie(cookie_header, CSRF_COOKIE),
            header_token: header_token.as_deref(),
            form_token: form_token.as_deref(),
            trusted_origins: &self.inner.config.csrf_trusted_origins,
        };
        csrf::check(&request)
            .map_err(|reason| ApiError::PermissionDenied(format!("CSRF Failed: {reason}")))
    }

    /// Django's `request.is_secure()`: the request came over TLS
    /// ([`SecureTransport`](crate::server::SecureTransport)), or, behind a proxy,
    /// `X-Forwarded-Proto: https`, trusted only when configured (`trust_forwarded_proto`),
    /// since clients can send it too.
    pub fn is_secure(&self, headers: &HeaderMap, extensions: &Extensions) -> bool {
        extensions.get::<crate::server::SecureTransport>().is_some()
            || self.inner.config.trust_forwarded_proto
                && headers
                    .get("x-forwarded-proto")
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|p| p.eq_ignore_ascii_case("https"))
    }

    fn failed(&self, detail: &str) -> ApiError {
        ApiError::Unauthenticated {
            detail: detail.to_owned(),
            challenge: self.challenge(),
        }
    }
}

fn is_form(content_type: &str) -> bool {
    let media = content_type.split(';').next().unwrap_or("").trim();
    media.eq_ignore_ascii_case("application/x-www-form-urlencoded")
        || media.eq_ignore_ascii_case("multipart/form-data")
}

pub use crate::cookies::cookie_header;

/// 32 characters of `[a-z0-9]`, Django's session key alphabet (~165 bits).
fn new_session_key() -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::thread_rng();
    (0..32)
        .map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]))
        .collect()
}
