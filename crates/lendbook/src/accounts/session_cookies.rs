//! The cookies a session login sets and a logout clears, formatted as Django does.

use axum::http::{header, HeaderValue};
use axum::response::Response;
use axum_drf::auth::service::{CSRF_COOKIE, SESSION_COOKIE};
use axum_drf::auth::SessionStart;
use axum_drf::cookies::{deletion, SetCookie};

use crate::app::AppState;

/// Django's `CSRF_COOKIE_AGE`: one year.
const CSRF_COOKIE_AGE: i64 = 31_449_600;

/// Adds `csrftoken` and `sessionid` to a login response.
pub fn set_session_cookies(state: &AppState, start: &SessionStart, response: &mut Response) {
    let auth = &state.config.auth;
    let csrf = SetCookie {
        name: CSRF_COOKIE,
        value: &start.csrf_secret,
        max_age: Some(CSRF_COOKIE_AGE),
        http_only: auth.csrf_cookie_httponly,
        secure: state.config.cookie_secure(),
        same_site: Some("Lax"),
        path: "/",
        domain: None,
    };
    let session = SetCookie {
        name: SESSION_COOKIE,
        value: &start.session_key,
        max_age: Some(auth.session_age),
        http_only: true,
        secure: state.config.cookie_secure(),
        same_site: Some("Lax"),
        path: "/",
        domain: None,
    };
    for cookie in [csrf, session] {
        if let Ok(v) = HeaderValue::from_str(&cookie.to_header_value()) {
            response.headers_mut().append(header::SET_COOKIE, v);
        }
    }
}

/// Expires the `sessionid` cookie.
pub fn clear_session_cookie(response: &mut Response) {
    if let Ok(v) = HeaderValue::from_str(&deletion(SESSION_COOKIE, "/", None)) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
}
