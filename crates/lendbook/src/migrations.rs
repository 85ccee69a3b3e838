//! The lending app's schema, one script per engine.

use axum_drf::store::Migration;

/// The app's migrations, applied after the framework's.
pub const MIGRATIONS: &[Migration] = &[];
