//! notes-api: notebooks and notes, each owned by the user who created it — a second app
//! built on `axum-drf` alone, to show the framework is general. Everything it has, it
//! declares: its tables, its resources and their policies, one custom permission, one
//! custom action, its throttle rates and its login routes.

pub mod app;
pub mod config;
pub mod notes;
pub mod permissions;
