//! Builds the application — state, routes, middleware — in one function that `serve` and
//! the tests both call.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum_drf::auth::{AuthConfig, AuthService};
use axum_drf::browsable::Browsable;
use axum_drf::client::TrustedProxies;
use axum_drf::edge::{Edge, Observe};
use axum_drf::server::tls::TlsCertificates;
use axum_drf::server::Server;
use axum_drf::store::{Database, Migration, StoreError};
use axum_drf::throttling::{CounterError, Throttling};
use axum_drf::ApiState;
use tokio::net::TcpListener;

use crate::config::{Config, ConfigError};
use crate::permissions::{Policies, PolicyConfigError};
use crate::{accounts, lending, migrations};

/// Shared state of every request.
#[derive(Clone)]
pub struct AppState {
    /// Authentication service (users, tokens, sessions).
    pub auth: AuthService,
    /// The database.
    pub db: Database,
    /// The loaded configuration.
    pub config: Arc<Config>,
    /// Permission policies from the configuration, checked at start-up.
    pub policies: Arc<Policies>,
    /// `[server] trusted_proxies`, parsed.
    pub trusted_proxies: Arc<TrustedProxies>,
    /// The browsable API's settings (`[docs] browsable_api`).
    pub browsable: Option<Arc<Browsable>>,
    /// `[throttle]`: rates and counters.
    pub throttling: Arc<Throttling>,
}

impl ApiState for AppState {
    fn auth(&self) -> &AuthService {
        &self.auth
    }
    fn body_limit(&self) -> usize {
        self.config.body_limit
    }
    fn default_permission(&self) -> Option<&axum_drf::permissions::Perm> {
        Some(&self.policies.default)
    }
    fn trusted_proxies(&self) -> &TrustedProxies {
        &self.trusted_proxies
    }
    fn browsable(&self) -> Option<&Browsable> {
        self.browsable.as_deref()
    }
    fn throttling(&self) -> Option<&Throttling> {
        Some(&self.throttling)
    }
}

/// A start-up failure.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Bad configuration.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The database could not be opened or migrated.
    #[error("database: {0}")]
    Database(#[from] StoreError),
    /// The database at `at` (a path or a redacted URL) could not be opened or migrated.
    #[error("database {at}: {source}")]
    DatabaseAt {
        /// The SQLite file or the URL without its password.
        at: String,
        /// The cause.
        source: StoreError,
    },
    /// A setting that loaded but cannot be used (CORS, mail).
    #[error("configuration: {0}")]
    Invalid(String),
    /// A permission policy in the configuration is invalid.
    #[error("configuration: {0}")]
    Policy(#[from] PolicyConfigError),
    /// The throttle counter store cannot be used (a malformed `redis_url`).
    #[error("configuration: {0}")]
    Throttle(#[from] CounterError),
    /// The TLS certificate or key could not be loaded.
    #[error("tls: {0}")]
    Tls(#[from] axum_drf::server::tls::TlsError),
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: String,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// Every migration, framework first.
pub fn all_migrations() -> Vec<Migration> {
    let mut all = axum_drf::auth::schema::MIGRATIONS.to_vec();
    all.push(axum_drf::throttling::postgres::MIGRATION);
    all.extend_from_slice(migrations::MIGRATIONS);
    all
}

/// Opens the database, applying pending migrations. Errors name the file (SQLite) or the
/// URL without its password.
pub async fn open_database(config: &Config) -> Result<Database, StartError> {
    let (db, applied) = migrate_database(config).await?;
    if !applied.is_empty() {
        tracing::info!(?applied, "applied migrations");
    }
    Ok(db)
}

/// Opens the database and applies pending migrations; returns the names applied.
pub async fn migrate_database(
    config: &Config,
) -> Result<(Database, Vec<&'static str>), StartError> {
    let at = |source| StartError::DatabaseAt {
        at: match config.sqlite_path() {
            Some(path) => path.display().to_string(),
            None => config.database_display(),
        },
        source,
    };
    let db = Database::connect(&config.database_url).await.map_err(at)?;
    let applied = db.migrate(&all_migrations()).await.map_err(at)?;
    register_permissions(&db).await.map_err(at)?;
    Ok((db, applied))
}

/// Checks the settings that load but may still be unusable (CORS, mail TLS), so start-up
/// and `lendbook check` refuse them instead of the first request or email failing.
pub fn check_settings(config: &Config) -> Result<(), StartError> {
    crate::cors::layer(&config.cors).map_err(StartError::Invalid)?;
    accounts::emails::smtp_settings(config).map_err(|e| StartError::Invalid(e.to_string()))?;
    Ok(())
}

/// Creates the add/change/delete/view permissions of lendbook's models that are missing
/// (Django's `post_migrate`); idempotent.
pub async fn register_permissions(db: &Database) -> Result<(), StoreError> {
    axum_drf::permissions::PermissionStore::new(db.clone())
        .register_models(&crate::permissions::models())
        .await
}

/// Builds the state for `config` over an open database.
pub fn build_state(config: Config, db: Database) -> Result<AppState, StartError> {
    let secret = config.resolve_secret()?;
    let a = &config.auth;
    // Field by field: `AuthConfig` is non-exhaustive, so it grows without breaking this.
    let mut auth_config = AuthConfig::with_secret(secret);
    auth_config.session_age = a.session_age;
    auth_config.cookie_secure = config.cookie_secure();
    auth_config.csrf_trusted_origins = a.csrf_trusted_origins.clone();
    auth_config.trust_forwarded_proto = a.trust_forwarded_proto;
    auth_config.cache_capacity = a.cache_capacity;
    auth_config.cache_ttl = Duration::from_secs(a.cache_ttl_secs);
    auth_config.revoke_tokens_on_password_change = a.revoke_tokens_on_password_change;
    auth_config.token_ttl = a.token_ttl.map(Duration::from_secs);
    auth_config.token_mode = a.token_mode;
    auth_config.csrf_cookie_httponly = a.csrf_cookie_httponly;
    auth_config.audit_retention = match config.audit.retention_days {
        0 => None,
        days => Some(Duration::from_secs(days.saturating_mul(86_400))),
    };
    if let Some(n) = a.hashing_concurrency {
        auth_config.hashing_concurrency = n;
    }
    let policies = Policies::from_config(&config)?;
    // Checked when the configuration was loaded.
    let trusted_proxies = TrustedProxies::new(&config.server.trusted_proxies)
        .map_err(|e| StartError::Config(ConfigError::Proxy(e)))?;
    let throttling = crate::throttling::build(&config.throttle, &db)?;
    let auth = AuthService::new(db.clone(), auth_config);
    let browsable = config
        .docs
        .browsable_api
        .then(|| Arc::new(crate::browser::browsable(&config)));
    Ok(AppState {
        browsable,
        throttling: Arc::new(throttling),
        auth,
        db,
        trusted_proxies: Arc::new(trusted_proxies),
        config: Arc::new(config),
        policies: Arc::new(policies),
    })
}

/// Total size of request headers accepted (gunicorn allows 8 KiB per field, ~100 fields).
const MAX_HEADER_BYTES: usize = 64 * 1024;

/// The application as one service: the edge (header limit, format suffixes, request id,
/// access log and metrics, security headers) around the router (CORS when configured,
/// routes, probes, trailing-slash fallback).
pub type AppService = Edge<Router>;

/// The full application service.
pub fn router(mut state: AppState) -> AppService {
    let config = state.config.clone();
    let hosts = config.allowed_hosts();
    let mut routes =
        accounts::routes(&config).merge(lending::routes(&config.lending, &state.policies));
    if config.docs.enabled {
        let docs = crate::docs::routes(&routes, &state.policies.default, &state.policies.docs);
        routes = routes.merge(docs);
    }
    if state.browsable.is_some() {
        routes = routes.merge(crate::browser::routes());
    }
    let patterns = routes.patterns();
    // Breadcrumbs link the prefixes of a path that are routes.
    state.browsable = state.browsable.map(|b| {
        Arc::new(
            (*b).clone()
                .patterns(patterns.iter().map(|p| p.path.clone()).collect()),
        )
    });
    // Probes and metrics are not DRF routes: no format suffixes, no slash redirects.
    let mut router = routes.into_router().merge(crate::health::routes());
    if config.metrics.enabled {
        crate::telemetry::metrics_handle();
        router = router.merge(crate::telemetry::routes());
    }
    router = router.fallback(axum_drf::routing::append_slash_fallback(patterns.clone()));
    let mut observe = Observe::default();
    observe.access_log = config.access_log;
    observe.metrics = config.metrics.enabled;
    let body_limit = state.config.body_limit;
    let hsts = state.config.tls.hsts_max_age;
    let edge = Edge::new(router.with_state(state), patterns, MAX_HEADER_BYTES)
        .allowed_hosts(hosts)
        .observe(observe)
        .with_body_limit(body_limit)
        .with_hsts(hsts);
    // Checked at start-up (`check_settings`); a config built in code that is wrong
    // leaves CORS off, loudly.
    match crate::cors::layer(&config.cors) {
        Ok(Some(cors)) => edge.cors(cors),
        Ok(None) => edge,
        Err(e) => {
            tracing::error!(error = %e, "CORS disabled");
            edge
        }
    }
}

/// A bound, ready-to-run server.
pub struct Application {
    listener: TcpListener,
    router: AppService,
    state: AppState,
    tls: Option<Arc<TlsCertificates>>,
}

impl Application {
    /// Opens the database, migrates, builds the state and binds `config.bind`
    /// (port 0 picks a free port).
    pub async fn build(config: Config) -> Result<Self, StartError> {
        // Bad settings and a taken port stop start-up before anything is created or
        // migrated (no database file, no secret file).
        Policies::from_config(&config)?;
        check_settings(&config)?;
        // A bad certificate stops start-up before the database is touched, too.
        let tls = match (&config.tls.cert, &config.tls.key) {
            (Some(cert), Some(key)) => Some(TlsCertificates::load(cert, key)?),
            _ => None,
        };
        axum_drf::server::raise_fd_limit();
        let bind = config.bind.clone();
        let listener = TcpListener::bind(&bind)
            .await
            .map_err(|source| StartError::Bind { addr: bind, source })?;
        let db = open_database(&config).await?;
        let state = build_state(config, db)?;
        state.auth.spawn_invalidation_listener();
        state.auth.audit_log().start();
        let router = router(state.clone());
        Ok(Application {
            listener,
            router,
            state,
            tls,
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// The application state (tests use it to reach the database).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` completes, then finishes in-flight requests. Peer addresses
    /// reach views as `ConnectInfo` (client address, throttling, logs); with `[tls]`, SIGHUP
    /// reloads the certificate.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        if let Some(tls) = &self.tls {
            tls.reload_on_sighup()?;
        }
        let served = Server::new(self.listener, self.state.config.server.server_config())
            .tls(self.tls)
            .serve(self.router, shutdown)
            .await;
        // Audit events of the last requests are queued, not yet written: write them.
        self.state.auth.audit_log().flush().await;
        served
    }
}
