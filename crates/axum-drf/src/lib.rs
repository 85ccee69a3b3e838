//! # axum-drf
//!
//! Django REST Framework's authentication and permission model for axum: token and
//! session authentication with Django-compatible CSRF, composable permission classes,
//! DRF-shaped errors and parsers, and a storage layer that runs the same SQL on SQLite and
//! PostgreSQL. It knows nothing about any particular application.

pub mod auth;
pub mod cookies;
pub mod datetime;
pub mod error;
pub mod fields;
pub mod mail;
pub mod pagination;
pub mod parsers;
pub mod permissions;
pub mod request;
pub mod resource;
pub mod routing;
pub mod store;
pub mod view;

pub use error::{json_response as json, ApiError};
pub use request::ApiRequest;
pub use view::{ApiState, View};
