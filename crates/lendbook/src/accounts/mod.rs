//! Accounts: the seed tutorial's dual login (`/api/login/`, `/api/logout/`, `/api/public/`,
//! `/api/private/`) and djoser's endpoints under `/api/auth/`.

mod djoser;
pub mod emails;
mod links;
mod seed;
mod throttles;
mod tokens;
mod users;
mod validation;

use axum_drf::routing::Routes;

pub use axum_drf::auth::views::clear_session_cookie;

/// Adds `csrftoken` and `sessionid` to a login response (the browsable API's login page).
pub fn set_session_cookies(
    state: &AppState,
    start: &axum_drf::auth::SessionStart,
    response: &mut axum::response::Response,
) {
    axum_drf::auth::views::set_session_cookies(&state.auth, start, response);
}

use axum_drf::auth::{AuthEvent, AuthEventKind, ClientInfo, TokenMode, User};
use axum_drf::ApiRequest;

use crate::app::AppState;
use crate::config::Config;

/// Records an account change in the audit log (written by the auth service, off the
/// request path), with the request's client address and user agent.
fn audit(state: &AppState, req: &ApiRequest, kind: AuthEventKind, user: &User) {
    state.auth.audit(
        AuthEvent::new(kind)
            .with_user(user)
            .with_client(&ClientInfo::of(req)),
    );
}

/// Every accounts route; the token list and "log out everywhere" only with per-login tokens.
pub fn routes(config: &Config) -> Routes<AppState> {
    let routes = seed::routes().merge(djoser::routes());
    match config.auth.token_mode {
        TokenMode::PerLogin => routes.merge(tokens::routes()),
        TokenMode::Single => routes,
    }
}
