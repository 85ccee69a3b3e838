//! The application: state, routes and the server, built in one place that `serve` and the
//! tests both use.

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum_drf::auth::{views, AuthConfig, AuthService};
use axum_drf::edge::{Edge, Observe};
use axum_drf::hosts::AllowedHosts;
use axum_drf::permissions::PermissionStore;
use axum_drf::routing::{append_slash_fallback, Routes};
use axum_drf::server::{Server, ServerConfig};
use axum_drf::store::{Database, Migration, StoreError};
use axum_drf::throttling::{InvalidRate, MemoryCounters, Rate, Throttling};
use axum_drf::ApiState;
use tokio::net::TcpListener;

use crate::config::Config;
use crate::notes;
use crate::permissions::{policies, PolicyConfigError};

/// Shared state of every request.
#[derive(Clone)]
pub struct AppState {
    /// Users, tokens, sessions.
    pub auth: AuthService,
    /// The configured rates, counted in memory (one process).
    pub throttling: Arc<Throttling>,
}

impl ApiState for AppState {
    fn auth(&self) -> &AuthService {
        &self.auth
    }
    fn throttling(&self) -> Option<&Throttling> {
        Some(&self.throttling)
    }
}

/// Why the app did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A policy in `[permissions]`.
    #[error(transparent)]
    Policy(#[from] PolicyConfigError),
    /// A rate in `[throttle]`.
    #[error("[throttle] {scope}: {source}")]
    Rate {
        /// The scope.
        scope: String,
        /// Why the rate does not parse.
        source: InvalidRate,
    },
    /// The database could not be opened or migrated.
    #[error("database: {0}")]
    Database(#[from] StoreError),
    /// The address could not be bound.
    #[error("cannot listen: {0}")]
    Bind(#[from] std::io::Error),
}

/// Every migration: the framework's, then the app's.
pub fn migrations() -> Vec<Migration> {
    let mut all = axum_drf::auth::schema::MIGRATIONS.to_vec();
    all.extend_from_slice(notes::MIGRATIONS);
    all
}

/// Opens and migrates the database of `config`, and registers the models' permissions.
pub async fn open_database(config: &Config) -> Result<Database, StartError> {
    let db = Database::connect(&config.database_url).await?;
    db.migrate(&migrations()).await?;
    PermissionStore::new(db.clone())
        .register_models(&notes::models())
        .await?;
    Ok(db)
}

/// The state for `config` over an open database.
pub fn build_state(config: &Config, db: Database) -> Result<AppState, StartError> {
    let mut throttling = Throttling::new(Arc::new(MemoryCounters::new()));
    for (scope, rate) in config.throttle.iter().filter(|(_, r)| *r != "off") {
        let rate: Rate = rate.parse().map_err(|source| StartError::Rate {
            scope: scope.clone(),
            source,
        })?;
        throttling = throttling.scope(scope.clone(), rate);
    }
    let secret = match &config.secret_key {
        Some(key) => key.as_bytes().to_vec(),
        None => {
            tracing::warn!("no secret_key: tokens and sessions end with this process");
            rand::random::<[u8; 32]>().to_vec()
        }
    };
    let mut auth = AuthConfig::default();
    auth.secret = secret;
    Ok(AppState {
        auth: AuthService::new(db, auth),
        throttling: Arc::new(throttling),
    })
}

/// The login routes: the dual login (session and token at once) and djoser's token login.
fn login_routes() -> Routes<AppState> {
    Routes::new()
        .route("/api/login/", views::dual_login())
        .route("/api/logout/", views::logout())
        .route("/api/auth/token/login/", views::token_login())
        .route("/api/auth/token/logout/", views::token_logout())
}

/// The whole service: the framework's edge around the routes.
pub fn service(config: &Config, state: AppState) -> Result<Edge<Router>, StartError> {
    let policies = policies(&config.permissions)?;
    let routes = login_routes().merge(notes::routes(&policies));
    let patterns = routes.patterns();
    let router = routes
        .into_router()
        .fallback(append_slash_fallback(patterns.clone()))
        .with_state(state);
    let mut observe = Observe::default();
    observe.access_log = config.access_log;
    observe.metrics = false;
    Ok(Edge::new(router, patterns, 64 * 1024)
        .allowed_hosts(AllowedHosts::local(None))
        .observe(observe))
}

/// A bound, ready-to-run server.
pub struct Application {
    /// Bound to `config.bind` (port 0: a free port; ask it for the address).
    pub listener: TcpListener,
    /// What answers the requests.
    pub service: Edge<Router>,
    /// The state (tests reach the database through it).
    pub state: AppState,
}

impl Application {
    /// Checks the policies, binds `config.bind`, opens and migrates the database.
    pub async fn build(config: &Config) -> Result<Application, StartError> {
        // A bad policy stops start-up before anything is created.
        policies(&config.permissions)?;
        let listener = TcpListener::bind(&config.bind).await?;
        let db = open_database(config).await?;
        let state = build_state(config, db)?;
        state.auth.audit_log().start();
        let service = service(config, state.clone())?;
        Ok(Application {
            listener,
            service,
            state,
        })
    }

    /// Serves until `shutdown` completes, then finishes the requests in flight.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let served = Server::new(self.listener, ServerConfig::default())
            .serve(self.service, shutdown)
            .await;
        self.state.auth.audit_log().flush().await;
        served
    }
}

impl AppState {
    /// Creates an active user with `password` (hashed as every login will check it).
    pub async fn create_user(
        &self,
        username: &str,
        email: &str,
        password: &str,
    ) -> Result<axum_drf::auth::User, axum_drf::ApiError> {
        let password_hash = self.auth.hash_password(password).await?;
        Ok(self
            .auth
            .users()
            .create(&axum_drf::auth::NewUser {
                username: username.into(),
                email: email.into(),
                password_hash,
                is_staff: false,
                is_superuser: false,
                is_active: true,
            })
            .await?)
    }
}
