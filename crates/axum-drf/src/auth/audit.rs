//! The audit log: who logged in, failed to, logged out, got or lost a token, changed a
//! password, email, username, permission or group, was (de)activated or throttled — with
//! the client's address, a truncated user agent and the time, in the `auth_event` table.
//!
//! Events are recorded by the authentication service ([`AuthService::audit`]) and written
//! off the request path: [`AuditLog::record`] only queues the event, and one writer task
//! inserts queued events in batches (one transaction per batch). Nothing is dropped: a full
//! queue makes the recorder wait in a spawned task rather than lose the event, and
//! [`AuditLog::flush`] (called on clean shutdown and by the CLI before it exits) returns once
//! everything queued before it is in the table. No event carries a password, token or
//! session key: the types here have no field that could hold one.
//!
//! [`AuthService::audit`]: super::AuthService::audit

use std::net::IpAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::{mpsc, oneshot};

use crate::store::{now_micros, Database, Statement, StoreError};

/// What happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthEventKind {
    /// A login with username and password succeeded.
    Login,
    /// A login failed; the event's reason says why ([`LoginFailure`]).
    LoginFailed,
    /// The user logged out.
    Logout,
    /// A token was issued (a new one, not the same DRF token handed out again).
    TokenCreated,
    /// A token was revoked (logout, "log out everywhere", revocation by id).
    TokenRevoked,
    /// The password was changed by its owner (or on the command line).
    PasswordChange,
    /// The password was reset through an emailed link.
    PasswordReset,
    /// The email address changed.
    EmailChange,
    /// The username changed.
    UsernameChange,
    /// The account was activated.
    Activation,
    /// The account was deactivated (or deleted).
    Deactivation,
    /// A permission was granted or revoked (detail: what and how).
    PermissionChange,
    /// A group or its membership changed (detail: what and how).
    GroupChange,
    /// A request was throttled (detail: the throttle scope).
    Throttled,
}

impl AuthEventKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthEventKind::Login => "login",
            AuthEventKind::LoginFailed => "login_failed",
            AuthEventKind::Logout => "logout",
            AuthEventKind::TokenCreated => "token_created",
            AuthEventKind::TokenRevoked => "token_revoked",
            AuthEventKind::PasswordChange => "password_change",
            AuthEventKind::PasswordReset => "password_reset",
            AuthEventKind::EmailChange => "email_change",
            AuthEventKind::UsernameChange => "username_change",
            AuthEventKind::Activation => "activation",
            AuthEventKind::Deactivation => "deactivation",
            AuthEventKind::PermissionChange => "permission_change",
            AuthEventKind::GroupChange => "group_change",
            AuthEventKind::Throttled => "throttled",
        }
    }
}

/// Why a login failed (the reason category; never the password).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LoginFailure {
    /// No user has that username.
    UnknownUser,
    /// The password does not match.
    BadPassword,
    /// The password matches but the account is inactive.
    Inactive,
}

impl LoginFailure {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            LoginFailure::UnknownUser => "unknown_user",
            LoginFailure::BadPassword => "bad_password",
            LoginFailure::Inactive => "inactive",
        }
    }
}

/// Longest user agent kept, in characters.
pub const USER_AGENT_MAX: usize = 200;
/// Longest username kept (attempted usernames are client input), in characters.
const USERNAME_MAX: usize = 150;
/// Longest detail kept, in characters.
const DETAIL_MAX: usize = 300;

/// Where a request came from: its client address and (truncated) user agent.
///
/// ```
/// use axum_drf::auth::audit::ClientInfo;
/// let client = ClientInfo::new(Some("203.0.113.9".parse().unwrap()), Some(&"x".repeat(1000)));
/// assert_eq!(client.user_agent.len(), 200);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientInfo {
    /// The client's address (`ApiRequest::client_ip`).
    pub ip: Option<IpAddr>,
    /// The `User-Agent`, cut to [`USER_AGENT_MAX`] characters.
    pub user_agent: String,
}

impl ClientInfo {
    /// A client from its address and user agent.
    pub fn new(ip: Option<IpAddr>, user_agent: Option<&str>) -> Self {
        ClientInfo {
            ip,
            user_agent: truncate(user_agent.unwrap_or(""), USER_AGENT_MAX),
        }
    }

    /// The client of an API request.
    pub fn of(req: &crate::ApiRequest) -> Self {
        let agent = req
            .headers
            .get(axum::http::header::USER_AGENT)
            .map(|v| String::from_utf8_lossy(v.as_bytes()));
        ClientInfo::new(req.client_ip, agent.as_deref())
    }

    /// The command line (no address; `user_agent` names the tool).
    pub fn command_line() -> Self {
        ClientInfo::new(None, Some("command line"))
    }
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// One audit event, built with the `with_*` methods.
///
/// ```
/// use axum_drf::auth::audit::{AuthEvent, AuthEventKind, ClientInfo};
/// let event = AuthEvent::new(AuthEventKind::Throttled)
///     .with_username("alice")
///     .with_detail("login")
///     .with_client(&ClientInfo::new(Some("203.0.113.9".parse().unwrap()), Some("curl/8")));
/// assert_eq!(event.kind, AuthEventKind::Throttled);
/// ```
#[derive(Clone, Debug)]
pub struct AuthEvent {
    /// What happened.
    pub kind: AuthEventKind,
    /// The user's id, when known.
    pub user_id: Option<i64>,
    /// The username (for failed logins: the one attempted).
    pub username: String,
    /// A reason category (failed logins).
    pub reason: Option<&'static str>,
    /// Free-form detail without secrets (a permission codename, a group, a token id).
    pub detail: String,
    /// Where the request came from.
    pub client: ClientInfo,
    /// When, in microseconds since the epoch.
    pub at: i64,
}

impl AuthEvent {
    /// An event of `kind`, now, with nothing else known yet.
    pub fn new(kind: AuthEventKind) -> Self {
        AuthEvent {
            kind,
            user_id: None,
            username: String::new(),
            reason: None,
            detail: String::new(),
            client: ClientInfo::default(),
            at: now_micros(),
        }
    }

    /// The user the event is about.
    pub fn with_user(mut self, user: &super::User) -> Self {
        self.user_id = Some(user.id);
        self.username = truncate(&user.username, USERNAME_MAX);
        self
    }

    /// A username when no user record applies (e.g. a failed login's attempted name).
    pub fn with_username(mut self, username: &str) -> Self {
        self.username = truncate(username, USERNAME_MAX);
        self
    }

    /// Detail text (never a secret).
    pub fn with_detail(mut self, detail: impl AsRef<str>) -> Self {
        self.detail = truncate(detail.as_ref(), DETAIL_MAX);
        self
    }

    /// The reason category of a failure.
    pub fn with_reason(mut self, reason: &'static str) -> Self {
        self.reason = Some(reason);
        self
    }

    /// The client that caused it.
    pub fn with_client(mut self, client: &ClientInfo) -> Self {
        self.client = client.clone();
        self
    }

    fn insert(&self) -> Statement {
        Statement::new(
            "INSERT INTO auth_event (at, kind, user_id, username, reason, detail, client_ip, user_agent) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            vec![
                self.at.into(),
                self.kind.as_str().into(),
                self.user_id.into(),
                self.username.as_str().into(),
                self.reason.into(),
                self.detail.as_str().into(),
                self.client.ip.map(|ip| ip.to_string()).into(),
                self.client.user_agent.as_str().into(),
            ],
        )
    }
}

enum Message {
    Event(Box<AuthEvent>),
    Flush(oneshot::Sender<()>),
}

/// Queue depth before recorders wait (in spawned tasks, never in the request).
const QUEUE: usize = 4096;
/// Most events written in one transaction.
const BATCH: usize = 512;
/// How often old events are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// The queue in front of the `auth_event` table and its writer task.
#[derive(Clone)]
pub struct AuditLog {
    db: Database,
    retention: Option<Duration>,
    sender: Arc<OnceLock<mpsc::Sender<Message>>>,
}

impl AuditLog {
    /// A log over `db`; events older than `retention` are pruned hourly (`None`: kept).
    pub fn new(db: Database, retention: Option<Duration>) -> Self {
        AuditLog {
            db,
            retention,
            sender: Arc::new(OnceLock::new()),
        }
    }

    /// Starts the writer (and the pruning timer) if it is not running; needs a Tokio runtime.
    pub fn start(&self) {
        self.sender();
    }

    fn sender(&self) -> &mpsc::Sender<Message> {
        self.sender.get_or_init(|| {
            let (tx, rx) = mpsc::channel(QUEUE);
            tokio::spawn(writer(self.db.clone(), self.retention, rx));
            tx
        })
    }

    /// Queues `event`; returns at once.
    pub fn record(&self, event: AuthEvent) {
        let sender = self.sender();
        if let Err(mpsc::error::TrySendError::Full(message)) =
            sender.try_send(Message::Event(Box::new(event)))
        {
            // A burst larger than the queue: wait for room off the request path.
            let sender = sender.clone();
            tokio::spawn(async move {
                let _ = sender.send(message).await;
            });
        }
    }

    /// Waits until every event recorded before this call is written.
    pub async fn flush(&self) {
        let Some(sender) = self.sender.get() else {
            return;
        };
        let (done, wait) = oneshot::channel();
        if sender.send(Message::Flush(done)).await.is_ok() {
            let _ = wait.await;
        }
    }

    /// Deletes events older than the retention period; returns how many.
    pub async fn prune(&self) -> Result<u64, StoreError> {
        prune(&self.db, self.retention).await
    }
}

async fn prune(db: &Database, retention: Option<Duration>) -> Result<u64, StoreError> {
    let Some(retention) = retention else {
        return Ok(0);
    };
    let cutoff = now_micros() - i64::try_from(retention.as_micros()).unwrap_or(i64::MAX);
    db.execute("DELETE FROM auth_event WHERE at < $1", vec![cutoff.into()])
        .await
}

async fn writer(db: Database, retention: Option<Duration>, mut rx: mpsc::Receiver<Message>) {
    let mut prune_timer = tokio::time::interval(PRUNE_EVERY);
    prune_timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let first = tokio::select! {
            message = rx.recv() => match message {
                Some(m) => m,
                None => return,
            },
            _ = prune_timer.tick() => {
                match prune(&db, retention).await {
                    Ok(n) if n > 0 => tracing::info!(pruned = n, "pruned the audit log"),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "cannot prune the audit log"),
                }
                continue;
            }
        };
        let mut events = Vec::new();
        let mut flushes = Vec::new();
        let mut next = Some(first);
        while let Some(message) = next.take() {
            match message {
                Message::Event(e) => events.push(e.insert()),
                Message::Flush(done) => flushes.push(done),
            }
            if events.len() < BATCH {
                next = rx.try_recv().ok();
            }
        }
        if !events.is_empty() {
            let count = events.len();
            // One retry: a transient failure (a pool hiccup) should not lose events.
            let mut result = db.transaction(events.clone()).await;
            if result.is_err() {
                tokio::time::sleep(Duration::from_millis(100)).await;
                result = db.transaction(events).await;
            }
            if let Err(e) = result {
                tracing::error!(error = %e, count, "cannot write audit events");
            }
        }
        for done in flushes {
            let _ = done.send(());
        }
    }
}

/// One stored event, as `lendbook audit` shows it.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct StoredEvent {
    /// Row id.
    pub id: i64,
    /// When (ISO 8601, UTC).
    pub at: String,
    /// What happened ([`AuthEventKind::as_str`]).
    pub kind: String,
    /// The user's id, when known.
    pub user_id: Option<i64>,
    /// The username (attempted, for failed logins).
    pub username: String,
    /// Reason category.
    pub reason: Option<String>,
    /// Detail.
    pub detail: String,
    /// Client address.
    pub client_ip: Option<String>,
    /// Truncated user agent.
    pub user_agent: String,
}

/// Which events to read.
#[derive(Clone, Debug, Default)]
pub struct EventFilter {
    /// Only events of this username (or of the user that has it now).
    pub username: Option<String>,
    /// Only events at or after this time (microseconds since the epoch).
    pub since: Option<i64>,
    /// At most this many, newest first.
    pub limit: i64,
}

/// Reads events, newest first.
pub async fn read_events(
    db: &Database,
    filter: &EventFilter,
) -> Result<Vec<StoredEvent>, StoreError> {
    let rows = db
        .query(
            "SELECT e.id, e.at, e.kind, e.user_id, e.username, e.reason, e.detail, e.client_ip, e.user_agent \
             FROM auth_event e \
             WHERE (CAST($1 AS TEXT) IS NULL OR e.username = $1 \
                    OR e.user_id = (SELECT u.id FROM auth_user u WHERE u.username = $1)) \
               AND e.at >= $2 \
             ORDER BY e.at DESC, e.id DESC LIMIT $3",
            vec![
                filter.username.clone().into(),
                filter.since.unwrap_or(i64::MIN).into(),
                filter.limit.into(),
            ],
        )
        .await?;
    let opt_text = |row: &crate::store::Row, i| match row.0.get(i) {
        Some(crate::store::Value::Text(t)) => Some(t.clone()),
        _ => None,
    };
    rows.iter()
        .map(|row| {
            Ok(StoredEvent {
                id: row.int(0)?,
                at: crate::datetime::format_datetime(row.int(1)?),
                kind: row.text(2)?,
                user_id: row.opt_int(3)?,
                username: row.text(4)?,
                reason: opt_text(row, 5),
                detail: row.text(6)?,
                client_ip: opt_text(row, 7),
                user_agent: row.text(8)?,
            })
        })
        .collect()
}
