//! Configuration: built-in defaults < `lendbook.toml` (or `--config FILE`) < environment
//! (`LENDBOOK_*`, with `__` between section and key, plus `DATABASE_URL`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use axum_drf::client::TrustedProxies;
use axum_drf::permissions::Scope;

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

/// Everything lendbook can be told.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address `serve` listens on.
    pub bind: String,
    /// `sqlite://PATH` (default `lendbook.sqlite3`) or `postgres://...`.
    pub database_url: String,
    /// Server secret (tokens, signed links). Unset: generated once and kept in a file beside
    /// the SQLite database (or in the working directory for PostgreSQL).
    pub secret_key: Option<String>,
    /// Largest request body in bytes; larger ones get 413.
    pub body_limit: usize,
    /// `tracing` filter, e.g. `info` or `lendbook=debug,access=off`.
    pub log: String,
    /// `text` (colour only on a terminal) or `json` (one object per line).
    pub log_format: LogFormat,
    /// One INFO line per request on the `access` target.
    pub access_log: bool,
    /// `[metrics]`: the Prometheus endpoint.
    pub metrics: MetricsSettings,
    /// `[cors]`: cross-origin requests (off unless origins are listed).
    pub cors: CorsSettings,
    /// `[server]`: the listener and the network in front of it.
    pub server: ServerSettings,
    /// `[tls]`: HTTPS.
    pub tls: TlsSettings,
    /// Authentication settings.
    pub auth: AuthSettings,
    /// The lending app's settings.
    pub lending: LendingSettings,
    /// `[audit]`: the audit log.
    pub audit: AuditSettings,
    /// Outgoing email.
    pub email: EmailSettings,
    /// djoser's account flows (activation, reset links).
    pub accounts: AccountsSettings,
    /// `[permissions]`: policy defaults.
    pub permissions: PermissionSettings,
    /// `[resources.<name>]`: per-resource access rules (`friends`, `belongings`,
    /// `borrowings`).
    pub resources: BTreeMap<String, ResourceSettings>,
    /// `[docs]`: the browsable API, the OpenAPI schema and its docs page.
    pub docs: DocsSettings,
    /// `[throttle]`: DRF's throttle rates and where their counters live.
    pub throttle: ThrottleSettings,
}

/// `[docs]` section.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DocsSettings {
    /// Serve `/api/schema/` and `/api/schema/swagger-ui/`.
    pub enabled: bool,
    /// Policy expression for the schema and its docs page (default `AllowAny`).
    pub permission: String,
    /// Answer browsers (`Accept: text/html`, `?format=api`, `.api`) with DRF's browsable
    /// API pages, and serve `/api-auth/login/` and `/api-auth/logout/`.
    pub browsable_api: bool,
}

impl Default for DocsSettings {
    fn default() -> Self {
        DocsSettings {
            enabled: true,
            permission: "AllowAny".into(),
            browsable_api: true,
        }
    }
}

/// `[throttle]` section: DRF's `DEFAULT_THROTTLE_RATES` and the counter store.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ThrottleSettings {
    /// DRF's `AnonRateThrottle` on every view, e.g. `"1000/hour"`; unset (default): off.
    #[serde(deserialize_with = "optional_rate")]
    pub anon: Option<String>,
    /// DRF's `UserRateThrottle` on every view; unset (default): off.
    #[serde(deserialize_with = "optional_rate")]
    pub user: Option<String>,
    /// Rates per scope: a resource's name (`friends`, ...), a view's scope, or a credential
    /// endpoint's `<scope>` (per client) and `<scope>_account` (per account). `"off"` turns
    /// a default off. Merged over the defaults in `crate::throttling::DEFAULT_SCOPES`.
    #[serde(deserialize_with = "scope_rates")]
    pub scopes: BTreeMap<String, String>,
    /// `redis://host:port/db`: counters shared by every instance through Redis. Unset: in
    /// the PostgreSQL database when that is the database, else in memory.
    pub redis_url: Option<String>,
    /// Prefix of every Redis key (several deployments can share one Redis).
    pub redis_prefix: String,
    /// Seconds a refused request is held before its 429 (never longer than its wait), so
    /// that a client flooding over a few connections gets one refusal a second on each
    /// instead of as many as the server can answer. `0`: answer at once, as DRF does.
    #[serde(deserialize_with = "non_negative_secs")]
    pub refusal_delay: f64,
    /// Histories the in-memory counters hold at most (the store without Redis or
    /// PostgreSQL); when full, the expired go, then those nearest their end.
    pub memory_max_keys: usize,
}

impl Default for ThrottleSettings {
    fn default() -> Self {
        ThrottleSettings {
            anon: None,
            user: None,
            scopes: crate::throttling::DEFAULT_SCOPES
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            redis_url: None,
            redis_prefix: "lendbook:".into(),
            refusal_delay: 1.0,
            memory_max_keys: axum_drf::throttling::MemoryCounters::DEFAULT_MAX_KEYS,
        }
    }
}

fn optional_rate<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let rate = Option::<String>::deserialize(d)?.filter(|r| !r.trim().is_empty());
    if let Some(r) = &rate {
        r.parse::<axum_drf::throttling::Rate>()
            .map_err(serde::de::Error::custom)?;
    }
    Ok(rate)
}

fn scope_rates<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<String, String>, D::Error> {
    let rates = BTreeMap::<String, String>::deserialize(d)?;
    for rate in rates.values().filter(|r| *r != "off") {
        rate.parse::<axum_drf::throttling::Rate>()
            .map_err(serde::de::Error::custom)?;
    }
    Ok(rates)
}

/// `[permissions]` section.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PermissionSettings {
    /// Policy of views that set none (DRF's `DEFAULT_PERMISSION_CLASSES`), e.g.
    /// `"IsAuthenticated"`.
    pub default: String,
}

impl Default for PermissionSettings {
    fn default() -> Self {
        PermissionSettings {
            default: "IsAuthenticated".into(),
        }
    }
}

/// `[resources.<name>]` section.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ResourceSettings {
    /// Policy expression, e.g. `"IsAuthenticated & (IsOwner | DjangoObjectPermissions)"`;
    /// unset: `"IsAuthenticated & IsOwner"`.
    pub permission: Option<String>,
    /// `owner` (default), `granted` or `all`.
    pub scope: Option<Scope>,
}

/// `log_format`: `text` or `json`.
pub use axum_drf::logging::LogFormat;

/// `[metrics]` section.
#[derive(Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsSettings {
    /// Serve Prometheus text at `/metrics` and record the metrics.
    pub enabled: bool,
    /// If set, `/metrics` requires `Authorization: Bearer <token>` (compared in constant
    /// time).
    pub token: Option<String>,
}

impl Default for MetricsSettings {
    fn default() -> Self {
        MetricsSettings {
            enabled: true,
            token: None,
        }
    }
}

impl std::fmt::Debug for MetricsSettings {
    // The token stays out of logs and error messages.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsSettings")
            .field("enabled", &self.enabled)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// `[cors]` section, with tower-http's `CorsLayer` semantics. Off while `allowed_origins`
/// is empty.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CorsSettings {
    /// Exact origins (`https://app.example.com`), or `["*"]` for any (not with
    /// credentials).
    pub allowed_origins: Vec<String>,
    /// Methods a preflight may ask for.
    pub allowed_methods: Vec<String>,
    /// Request headers a preflight may ask for.
    pub allowed_headers: Vec<String>,
    /// Send `Access-Control-Allow-Credentials: true` (cookies and Authorization).
    pub allow_credentials: bool,
    /// How long (seconds) a browser may cache a preflight answer.
    pub max_age: u64,
}

impl Default for CorsSettings {
    fn default() -> Self {
        CorsSettings {
            allowed_origins: Vec::new(),
            allowed_methods: ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
                .map(String::from)
                .to_vec(),
            allowed_headers: ["authorization", "content-type", "x-csrftoken"]
                .map(String::from)
                .to_vec(),
            allow_credentials: false,
            max_age: 600,
        }
    }
}

/// `[server]` section.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerSettings {
    /// Reverse proxies (addresses or networks, e.g. `["10.0.0.0/8"]`) whose
    /// `X-Forwarded-For` names the client; from any other peer the header is ignored.
    #[serde(deserialize_with = "trusted_proxies")]
    pub trusted_proxies: Vec<String>,
    /// Seconds from connect (TLS handshake included) to the end of the first request's
    /// headers, and from the first byte of each later request to the end of its headers.
    #[serde(deserialize_with = "positive_secs")]
    pub header_read_timeout: f64,
    /// Seconds a connection with no request in flight is kept open.
    #[serde(deserialize_with = "positive_secs")]
    pub idle_timeout: f64,
    /// Seconds from the end of a request's headers to the end of its body (408 past it).
    #[serde(deserialize_with = "positive_secs")]
    pub body_read_timeout: f64,
    /// Connections held at once (lowered at start to fit the open-file limit).
    pub max_connections: usize,
    /// Connections held at once from one client address (IPv6: one /64).
    pub max_connections_per_ip: usize,
    /// Hosts this server answers to (Django's `ALLOWED_HOSTS`): `example.com`, `.example.com`
    /// (the domain and its subdomains) or `*` (any). Unset: `localhost`, `127.0.0.1`, `[::1]`
    /// and the host of `bind`. Any other `Host` header gets Django's 400.
    pub allowed_hosts: Option<Vec<String>>,
}

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings {
            trusted_proxies: Vec::new(),
            header_read_timeout: 10.0,
            idle_timeout: 60.0,
            body_read_timeout: 30.0,
            max_connections: 10_000,
            max_connections_per_ip: 256,
            allowed_hosts: None,
        }
    }
}

impl ServerSettings {
    /// The connection layer's limits.
    pub fn server_config(&self) -> axum_drf::server::ServerConfig {
        let secs = std::time::Duration::from_secs_f64;
        let mut config = axum_drf::server::ServerConfig::default();
        config.header_read_timeout = secs(self.header_read_timeout);
        config.idle_timeout = secs(self.idle_timeout);
        config.body_read_timeout = secs(self.body_read_timeout);
        config.max_connections = self.max_connections;
        config.max_connections_per_ip = self.max_connections_per_ip;
        config
    }
}

fn positive_secs<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    secs(d, "positive", |s| s > 0.0)
}

fn non_negative_secs<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    secs(d, "non-negative", |s| s >= 0.0)
}

/// Seconds that `Duration` can hold (up to 1e9), with `low` as the lower bound.
fn secs<'de, D: serde::Deserializer<'de>>(
    d: D,
    what: &str,
    low: impl Fn(f64) -> bool,
) -> Result<f64, D::Error> {
    let secs = f64::deserialize(d)?;
    if !(low(secs) && secs <= 1e9) {
        return Err(serde::de::Error::custom(format!(
            "{secs} is not a {what} number of seconds"
        )));
    }
    Ok(secs)
}

/// `[tls]` section: HTTPS when `cert` and `key` are set.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsSettings {
    /// PEM file with the certificate chain, leaf first.
    pub cert: Option<PathBuf>,
    /// PEM file with the private key.
    pub key: Option<PathBuf>,
    /// `Strict-Transport-Security: max-age=N` on HTTPS responses; unset: no header.
    pub hsts_max_age: Option<u64>,
}

impl TlsSettings {
    /// Whether HTTPS is on.
    pub fn enabled(&self) -> bool {
        self.cert.is_some() && self.key.is_some()
    }
}

impl Config {
    /// `[server] allowed_hosts`, or the local default plus the bind address's host.
    pub fn allowed_hosts(&self) -> axum_drf::hosts::AllowedHosts {
        match &self.server.allowed_hosts {
            Some(hosts) => axum_drf::hosts::AllowedHosts::new(hosts),
            None => {
                let bind_host = self
                    .bind
                    .parse::<std::net::SocketAddr>()
                    .map(|a| match a.ip() {
                        std::net::IpAddr::V6(ip) => format!("[{ip}]"),
                        ip => ip.to_string(),
                    })
                    .unwrap_or_else(|_| {
                        let host = self.bind.rsplit_once(':').map_or(&*self.bind, |(h, _)| h);
                        host.to_owned()
                    });
                axum_drf::hosts::AllowedHosts::local(Some(&bind_host))
            }
        }
    }
}

fn trusted_proxies<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let entries = Vec::<String>::deserialize(d)?;
    TrustedProxies::new(&entries).map_err(serde::de::Error::custom)?;
    Ok(entries)
}

/// `[auth]` section.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthSettings {
    /// Session lifetime in seconds.
    pub session_age: i64,
    /// Send cookies with `Secure`; unset: when `[tls]` is on (see
    /// [`Config::cookie_secure`]).
    pub cookie_secure: Option<bool>,
    /// Mark the `csrftoken` cookie HttpOnly. Off by default, as in Django: single-page apps
    /// read it to send `X-CSRFToken`.
    pub csrf_cookie_httponly: bool,
    /// Extra origins trusted for CSRF, e.g. `["https://app.example.com"]`.
    pub csrf_trusted_origins: Vec<String>,
    /// Trust `X-Forwarded-Proto: https` from the reverse proxy.
    pub trust_forwarded_proto: bool,
    /// Verified credentials kept in memory; 0 turns the cache off.
    pub cache_capacity: u64,
    /// Longest time in seconds a cached credential is trusted without a database read.
    pub cache_ttl_secs: u64,
    /// Concurrent password hashes (default: number of CPUs).
    pub hashing_concurrency: Option<usize>,
    /// A password change or reset also revokes the user's API token (sessions always
    /// end). `false` restores DRF/djoser's behaviour, where the token survives.
    pub revoke_tokens_on_password_change: bool,
    /// Token lifetime in seconds (unset: until revoked, as in DRF). An expired token answers
    /// 401 `Invalid token.`; the next login issues a new one.
    pub token_ttl: Option<u64>,
    /// `single` (DRF's one token per user, default) or `per_login` (knox: a new token per
    /// login, logout revokes only that one; `token/logoutall/` and `tokens/` endpoints).
    pub token_mode: axum_drf::auth::TokenMode,
}

/// `[audit]` section: the `auth_event` table.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuditSettings {
    /// Days an event is kept; older ones are pruned hourly. 0 keeps them forever.
    pub retention_days: u64,
}

impl Default for AuditSettings {
    fn default() -> Self {
        AuditSettings { retention_days: 90 }
    }
}

/// `[lending]` section.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LendingSettings {
    /// A loan is overdue this many calendar months after it was made.
    pub overdue_months: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            bind: "127.0.0.1:8000".into(),
            database_url: "sqlite://lendbook.sqlite3".into(),
            secret_key: None,
            body_limit: 1024 * 1024,
            log: "info".into(),
            log_format: LogFormat::Text,
            access_log: true,
            metrics: MetricsSettings::default(),
            cors: CorsSettings::default(),
            server: ServerSettings::default(),
            tls: TlsSettings::default(),
            auth: AuthSettings::default(),
            audit: AuditSettings::default(),
            lending: LendingSettings::default(),
            email: EmailSettings::default(),
            accounts: AccountsSettings::default(),
            permissions: PermissionSettings::default(),
            resources: BTreeMap::new(),
            docs: DocsSettings::default(),
            throttle: ThrottleSettings::default(),
        }
    }
}

impl Default for AuthSettings {
    fn default() -> Self {
        AuthSettings {
            session_age: 1_209_600,
            cookie_secure: None,
            csrf_cookie_httponly: false,
            csrf_trusted_origins: Vec::new(),
            trust_forwarded_proto: false,
            cache_capacity: 100_000,
            cache_ttl_secs: 300,
            hashing_concurrency: None,
            revoke_tokens_on_password_change: true,
            token_ttl: None,
            token_mode: axum_drf::auth::TokenMode::Single,
        }
    }
}

impl Default for LendingSettings {
    fn default() -> Self {
        LendingSettings { overdue_months: 2 }
    }
}

/// `[email]` section: like Django's email backends, SMTP when `smtp_url` is set, else every
/// message is written as an `.eml` file into `file_dir`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmailSettings {
    /// `smtp://[user[:password]@]host[:port][?tls=required|opportunistic]` (STARTTLS) or
    /// `smtps://…` (TLS from the first byte, port 465); checked at load.
    #[serde(deserialize_with = "smtp_url")]
    pub smtp_url: Option<String>,
    /// PEM file of extra CA certificates trusted for SMTP TLS (beside the built-in web
    /// roots), e.g. a private relay's CA.
    pub ca_file: Option<PathBuf>,
    /// File backend directory (default: `mail/` beside the SQLite database, or in the working
    /// directory for PostgreSQL).
    pub file_dir: Option<PathBuf>,
    /// `From:` of every message (Django's `DEFAULT_FROM_EMAIL`).
    pub from_email: String,
    /// SMTP connect/command timeout in seconds.
    pub timeout_secs: u64,
}

/// `[accounts]` section: djoser's settings for the email flows.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AccountsSettings {
    /// Anyone may register (`POST /api/auth/users/`); `false` answers 403.
    pub allow_registration: bool,
    /// New users are inactive until they follow the emailed activation link (djoser's
    /// `SEND_ACTIVATION_EMAIL`; off, as in the reference).
    pub send_activation_email: bool,
    /// Scheme and host the frontend links start with. Links never use the request's `Host`
    /// header, so a forged header cannot redirect a reset link.
    pub site_url: String,
    /// Site name in email texts.
    pub site_name: String,
    /// Path after `site_url/` of the password reset page; `{uid}` and `{token}` are filled in.
    pub password_reset_confirm_url: String,
    /// Same for the username reset page.
    pub username_reset_confirm_url: String,
    /// Same for the activation page.
    pub activation_url: String,
    /// Lifetime of password and username reset links, seconds.
    pub password_reset_timeout_secs: i64,
    /// Lifetime of activation links, seconds.
    pub activation_timeout_secs: i64,
}

impl Default for EmailSettings {
    fn default() -> Self {
        EmailSettings {
            smtp_url: None,
            ca_file: None,
            file_dir: None,
            from_email: "webmaster@localhost".into(),
            timeout_secs: 30,
        }
    }
}

impl Default for AccountsSettings {
    fn default() -> Self {
        AccountsSettings {
            allow_registration: true,
            send_activation_email: false,
            site_url: "http://localhost:8000".into(),
            site_name: "lendbook".into(),
            password_reset_confirm_url: "#/password/reset/confirm/{uid}/{token}".into(),
            username_reset_confirm_url: "#/username/reset/confirm/{uid}/{token}".into(),
            activation_url: "#/activate/{uid}/{token}".into(),
            password_reset_timeout_secs: 3600,
            activation_timeout_secs: 3 * 24 * 3600,
        }
    }
}

fn smtp_url<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let url = Option::<String>::deserialize(d)?.filter(|u| !u.trim().is_empty());
    if let Some(u) = &url {
        axum_drf::mail::SmtpSettings::from_url(u).map_err(serde::de::Error::custom)?;
    }
    Ok(url)
}

impl Config {
    /// Whether cookies carry `Secure`: `[auth] cookie_secure`, or by default whether this
    /// server speaks HTTPS itself.
    pub fn cookie_secure(&self) -> bool {
        self.auth.cookie_secure.unwrap_or(self.tls.enabled())
    }

    /// Where the file email backend writes.
    pub fn mail_dir(&self) -> PathBuf {
        if let Some(dir) = &self.email.file_dir {
            return dir.clone();
        }
        match self.sqlite_path() {
            Some(db) => db.with_file_name("mail"),
            None => PathBuf::from("mail"),
        }
    }
}

/// A configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file or environment has a bad value.
    #[error("configuration: {0}")]
    Invalid(#[from] Box<figment::Error>),
    /// A `trusted_proxies` entry is not an address or network.
    #[error("configuration: {0}")]
    Proxy(#[from] axum_drf::client::InvalidProxy),
    /// `[tls]` has a certificate without a key or the other way round.
    #[error("configuration: [tls] needs both cert and key")]
    TlsIncomplete,
    /// `--config FILE` names a file that does not exist.
    #[error("configuration file {0} not found")]
    MissingFile(PathBuf),
    /// The secret key file could not be read or written.
    #[error("secret key file {path}: {source}")]
    SecretFile {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

impl Config {
    /// Loads defaults < file < environment. `file` is `--config`; without it
    /// `lendbook.toml` in the working directory is used if present.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        match file {
            Some(path) if !path.exists() => return Err(ConfigError::MissingFile(path.into())),
            Some(path) => figment = figment.merge(Toml::file(path)),
            None => figment = figment.merge(Toml::file("lendbook.toml")),
        }
        // Only `LENDBOOK_*` variables that name a configuration key are configuration: others
        // (LENDBOOK_SUPERUSER_PASSWORD, a wrapper script's own) must not make every command
        // fail with "unknown field". A misspelt key inside a known section
        // (LENDBOOK_AUTH__TYPO) is still refused.
        let keys = top_level_keys();
        figment = figment
            .merge(
                Env::prefixed("LENDBOOK_")
                    .filter(move |k| {
                        let top = k.as_str().split("__").next().unwrap_or_default();
                        keys.iter().any(|key| key.eq_ignore_ascii_case(top))
                    })
                    .split("__"),
            )
            .merge(Env::raw().only(&["DATABASE_URL"]));
        let config: Config = figment
            .extract()
            .map_err(|e| ConfigError::Invalid(Box::new(e)))?;
        if config.tls.cert.is_some() != config.tls.key.is_some() {
            return Err(ConfigError::TlsIncomplete);
        }
        Ok(config)
    }

    /// The database URL with any password replaced by `***`, for logs and messages.
    pub fn database_display(&self) -> String {
        redact_url(&self.database_url)
    }

    /// The SQLite file path, if the database is SQLite.
    pub fn sqlite_path(&self) -> Option<PathBuf> {
        let url = &self.database_url;
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return None;
        }
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .unwrap_or(url);
        Some(PathBuf::from(path))
    }

    /// The configured secret, or the one generated on first start and kept in a file
    /// (mode 0600) beside the SQLite database — never in the database, so a dump of it
    /// cannot be used to derive tokens.
    pub fn resolve_secret(&self) -> Result<Vec<u8>, ConfigError> {
        if let Some(secret) = &self.secret_key {
            return Ok(secret.as_bytes().to_vec());
        }
        let path = match self.sqlite_path() {
            Some(db) => {
                let mut name = db.file_name().unwrap_or_default().to_os_string();
                name.push(".secret");
                db.with_file_name(name)
            }
            None => PathBuf::from("lendbook.secret"),
        };
        let err = |source| ConfigError::SecretFile {
            path: path.clone(),
            source,
        };
        match std::fs::read_to_string(&path) {
            Ok(s) if !s.trim().is_empty() => return Ok(s.trim().as_bytes().to_vec()),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(err(e)),
        }
        let secret = hex::encode(rand::random::<[u8; 32]>());
        write_private(&path, &secret).map_err(err)?;
        // Re-read: a concurrent first start may have written its secret before ours.
        let stored = std::fs::read_to_string(&path).map_err(err)?;
        Ok(stored.trim().as_bytes().to_vec())
    }
}

/// Every top-level key `Config` has (the field names, as serialized).
fn top_level_keys() -> Vec<String> {
    match serde_json::to_value(Config::default()) {
        Ok(serde_json::Value::Object(map)) => map.keys().cloned().collect(),
        _ => Vec::new(),
    }
}

/// `scheme://user:password@host/…` → `scheme://user:***@host/…`; anything else unchanged.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(mut f) => f.write_all(contents.as_bytes()),
        // Another process created it first: theirs wins, and we must use it.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}
