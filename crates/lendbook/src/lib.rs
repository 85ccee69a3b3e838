//! lendbook: a REST API for tracking the things you lend to friends, built on `axum-drf`.

pub mod accounts;
pub mod app;
pub mod cli;
pub mod config;
pub mod import_django;
pub mod lending;
pub mod migrations;
pub mod permissions;
