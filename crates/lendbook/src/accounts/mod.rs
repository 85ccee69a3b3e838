//! Accounts: the seed tutorial's dual login (`/api/login/`, `/api/logout/`, `/api/public/`,
//! `/api/private/`) and djoser's endpoints under `/api/auth/`.

mod djoser;
pub mod emails;
mod links;
mod seed;
mod session_cookies;
mod users;
mod validation;

use axum_drf::routing::Routes;

use crate::app::AppState;

/// Every accounts route.
pub fn routes() -> Routes<AppState> {
    seed::routes().merge(djoser::routes())
}
