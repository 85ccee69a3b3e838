//! The browser's side of the API: DRF's `rest_framework.urls` (`/api-auth/login/`,
//! `/api-auth/logout/`) and the browsable API's static assets. The pages themselves are the
//! framework's (`axum_drf::browsable`); this module only wires them to lendbook's sessions.
//!
//! These are Django views, not API views (as in DRF): they answer HTML, protect every POST
//! with Django's CSRF check (`csrf_protect`) whoever asks, and redirect after a login or a
//! logout only to a local path (`?next=` pointing elsewhere is ignored).

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum_drf::auth::service::{cookie_header, RequestHead, SESSION_COOKIE};
use axum_drf::auth::token::hash_secret;
use axum_drf::auth::{ClientInfo, Credential};
use axum_drf::browsable::{render_login, safe_next, Browsable, LoginPage};
use axum_drf::client::{client_ip, peer_addr};
use axum_drf::routing::Routes;
use axum_drf::ApiState;
use serde_json::Value;

use crate::accounts::{clear_session_cookie, set_session_cookies};
use crate::app::AppState;

/// The login page.
pub const LOGIN_URL: &str = "/api-auth/login/";
/// The logout endpoint (POST, as Django 5's `LogoutView`).
pub const LOGOUT_URL: &str = "/api-auth/logout/";
/// Where the assets are served.
pub const STATIC_URL: &str = "/static/api/";
/// Where a login without `?next=` lands. Django's default (`/accounts/profile/`) does not
/// exist here, so the API root it is.
pub const HOME_URL: &str = "/api/v1/";

/// Django's `AuthenticationForm` message for a wrong username or password.
const INVALID_LOGIN: &str =
    "Please enter a correct username and password. Note that both fields may be case-sensitive.";
const CSRF_FAILED: &str = "CSRF verification failed. Request aborted.";

/// The browsable API's settings for `config`.
pub fn browsable(config: &crate::config::Config) -> Browsable {
    Browsable::new("lendbook")
        .login(LOGIN_URL, LOGOUT_URL)
        .static_url(STATIC_URL)
        .home_url(HOME_URL)
        .csrf_cookie(config.cookie_secure(), config.auth.csrf_cookie_httponly)
}

/// The login, logout and asset routes.
pub fn routes() -> Routes<AppState> {
    Routes::new()
        .route(
            LOGIN_URL,
            axum::routing::get(login_form)
                .post(login)
                .fallback(not_allowed),
        )
        .route(
            LOGOUT_URL,
            axum::routing::post(logout).fallback(not_allowed),
        )
        .route(
            &format!("{STATIC_URL}{{file}}"),
            axum::routing::get(axum_drf::browsable::asset_handler),
        )
}

/// Django's `HttpResponseRedirect` (302) to a checked `next`, else the API root.
fn redirect(next: &str) -> Response {
    let target = if next.is_empty() { HOME_URL } else { next };
    (StatusCode::FOUND, [(header::LOCATION, target.to_owned())]).into_response()
}

async fn not_allowed() -> Response {
    StatusCode::METHOD_NOT_ALLOWED.into_response()
}

fn config(state: &AppState) -> &Browsable {
    state
        .browsable()
        .expect("the login routes are only mounted with the browsable API")
}

fn next_param(query: Option<&str>, body: Option<&Value>) -> String {
    let from_body = body
        .and_then(|b| b.get("next"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let from_query = || {
        form_urlencoded::parse(query.unwrap_or("").as_bytes())
            .filter(|(k, _)| k == "next")
            .last()
            .map(|(_, v)| v.into_owned())
    };
    from_body
        .or_else(from_query)
        .filter(|n| safe_next(n).is_some())
        .unwrap_or_default()
}

async fn login_form(State(state): State<AppState>, request: Request) -> Response {
    let next = next_param(request.uri().query(), None);
    render_login(
        config(&state),
        request.headers(),
        StatusCode::OK,
        LoginPage {
            action: LOGIN_URL,
            next: &next,
            ..LoginPage::default()
        },
    )
}

async fn read_form(
    state: &AppState,
    request: Request,
) -> (Method, HeaderMap, axum::body::Bytes, ClientInfo) {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, state.body_limit())
        .await
        .unwrap_or_default();
    let ip = client_ip(
        &parts.headers,
        peer_addr(&parts.extensions).map(|a| a.ip()),
        state.trusted_proxies(),
    );
    let user_agent = parts
        .headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok());
    let client = ClientInfo::new(ip, user_agent);
    (parts.method, parts.headers, body, client)
}

async fn login(State(state): State<AppState>, request: Request) -> Response {
    let query = request.uri().query().map(str::to_owned);
    let (method, headers, body, client) = read_form(&state, request).await;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let data = axum_drf::parsers::parse_body(content_type, &body).ok();
    let next = next_param(query.as_deref(), data.as_ref());
    let field = |name: &str| {
        data.as_ref()
            .and_then(|d| d.get(name))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    let username = field("username");
    let page = |status, error: &str| {
        render_login(
            config(&state),
            &headers,
            status,
            LoginPage {
                action: LOGIN_URL,
                next: &next,
                username: &username,
                errors: vec![error.to_owned()],
            },
        )
    };
    let head = RequestHead {
        method: &method,
        headers: &headers,
        extensions: None,
        body: &body,
    };
    if state.auth.check_csrf(head).is_err() {
        return page(StatusCode::FORBIDDEN, CSRF_FAILED);
    }
    let password = field("password");
    // The auth service's login: the same checks, timing and audit record as /api/login/.
    let user = match state.auth.login(&username, &password, &client).await {
        Ok(Some(user)) if !username.is_empty() => user,
        Ok(_) => return page(StatusCode::OK, INVALID_LOGIN),
        Err(e) => return e.into_response(),
    };
    // The session the browser came with (if any) ends: a fresh key, no fixation.
    let replaces =
        axum_drf::cookies::get_cookie(&cookie_header(&headers), SESSION_COOKIE).map(hash_secret);
    let session = match state.auth.start_session(&user, replaces.as_deref()).await {
        Ok(s) => s,
        Err(e) => return e.into_response(),
    };
    let mut response = redirect(&next);
    set_session_cookies(&state, &session, &mut response);
    response
}

async fn logout(State(state): State<AppState>, request: Request) -> Response {
    let query = request.uri().query().map(str::to_owned);
    let (method, headers, body, client) = read_form(&state, request).await;
    let head = RequestHead {
        method: &method,
        headers: &headers,
        extensions: None,
        body: &body,
    };
    if state.auth.check_csrf(head).is_err() {
        return render_login(
            config(&state),
            &headers,
            StatusCode::FORBIDDEN,
            LoginPage {
                action: LOGIN_URL,
                errors: vec![CSRF_FAILED.to_owned()],
                ..LoginPage::default()
            },
        );
    }
    let identity = state.auth.authenticate(head).await;
    if let Ok(axum_drf::auth::Identity {
        user: Some(user),
        credential: credential @ Credential::Session { key_hash },
    }) = &identity
    {
        // Recorded in the audit log as /api/logout/ does; a session revokes no token.
        let ended = match state.auth.logout(user, credential, &client).await {
            Ok(()) => state.auth.end_session(key_hash).await,
            Err(e) => Err(e),
        };
        if let Err(e) = ended {
            return e.into_response();
        }
    }
    let next = next_param(query.as_deref(), None);
    let mut response = redirect(&next);
    clear_session_cookie(&mut response);
    response
}
