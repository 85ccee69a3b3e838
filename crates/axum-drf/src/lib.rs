//! # axum-drf
//!
//! Django REST Framework's authentication and permission model for axum: token and
//! session authentication with Django-compatible CSRF, composable permission classes,
//! DRF-shaped errors and parsers, and a storage layer that runs the same SQL on SQLite and
//! PostgreSQL. It knows nothing about any particular application.
//!
//! **Start with the [`guide`]**: from an empty `main.rs` to a secured resource, custom and
//! object permissions, scopes, throttling and tests against the real server.
//!
//! ```no_run
//! use axum::http::StatusCode;
//! use axum_drf::auth::{schema, AuthConfig, AuthService};
//! use axum_drf::permissions::{AllowAny, IsAuthenticated, Model, Perm};
//! use axum_drf::resource::{Field, Resource, ResourceRouter};
//! use axum_drf::store::Database;
//! use axum_drf::{json, ApiError, ApiRequest, ApiState, View};
//!
//! #[derive(Clone)]
//! struct State { auth: AuthService }
//! impl ApiState for State {
//!     fn auth(&self) -> &AuthService { &self.auth }
//! }
//!
//! async fn hello(_: State, req: ApiRequest) -> Result<axum::response::Response, ApiError> {
//!     let user = req.user()?; // the view requires authentication by default
//!     Ok(json(StatusCode::OK, &serde_json::json!({ "hello": user.username })))
//! }
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let db = Database::connect("sqlite://app.sqlite3").await?;
//! db.migrate(schema::MIGRATIONS).await?;
//! let auth = AuthService::new(db, AuthConfig::with_secret(b"change me".to_vec()));
//! let notes = Resource::new("notes", Model::new("app", "Note"), "app_note")
//!     .field(Field::id())
//!     .field(Field::char("text", "t.text", 500))
//!     .permission(Perm::new(IsAuthenticated));
//! let routes = ResourceRouter::new("/api")
//!     .register(notes)
//!     .into_routes()
//!     .route("/hello/", View::new("Hello").get(hello).into_route())
//!     .route("/open/", View::new("Open").permission(AllowAny).get(hello).into_route());
//! let app = routes.into_router().with_state(State { auth });
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8000").await?;
//! axum::serve(listener, app).await?;
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

pub mod auth;
pub mod browsable;
pub mod client;
pub mod cookies;
pub mod datetime;
pub mod django;
pub mod edge;
pub mod error;
pub mod fields;
#[doc = include_str!("../docs/guide.md")]
pub mod guide {}
pub mod hosts;
pub mod logging;
pub mod mail;
pub mod metrics;
pub mod openapi;
#[cfg(test)]
mod oracle;
pub mod pagination;
pub mod parsers;
pub mod permissions;
pub mod python;
pub mod request;
pub mod resource;
pub mod routing;
pub mod server;
pub mod store;
#[cfg(feature = "testing")]
pub mod testing;
pub mod throttling;
pub mod view;

pub use error::{json_response as json, ApiError};
pub use request::ApiRequest;
pub use view::{ApiState, View};
