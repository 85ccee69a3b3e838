//! Ready-made login views: the dual login (a session for browsers and a token for other
//! clients at once), its logout, and djoser's token login and logout. Every app that logs
//! users in needs them, and each answers on the wire exactly as its DRF counterpart.
//!
//! ```
//! use axum_drf::auth::{views, AuthService};
//! use axum_drf::routing::Routes;
//! use axum_drf::ApiState;
//!
//! #[derive(Clone)]
//! struct State { auth: AuthService }
//! impl ApiState for State {
//!     fn auth(&self) -> &AuthService { &self.auth }
//! }
//!
//! let routes: Routes<State> = Routes::new()
//!     .route("/api/login/", views::dual_login())
//!     .route("/api/logout/", views::logout())
//!     .route("/api/auth/token/login/", views::token_login())
//!     .route("/api/auth/token/logout/", views::token_logout());
//! # let _ = routes;
//! ```

use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::service::{cookie_header, CSRF_COOKIE, SESSION_COOKIE};
use super::token::hash_secret;
use super::{AuthService, ClientInfo, Credential, SessionStart, TokenMode};
use crate::cookies::{deletion, SetCookie};
use crate::fields::{CharField, Errors};
use crate::permissions::AllowAny;
use crate::throttling::{CredentialThrottle, Spend};
use crate::{json as json_response, ApiError, ApiRequest, ApiState, View};

/// DRF's `AuthTokenSerializer` failure text, the same whether or not the username exists.
pub const BAD_CREDENTIALS: &str = "Unable to log in with provided credentials.";

/// Django's `CSRF_COOKIE_AGE`: one year.
const CSRF_COOKIE_AGE: i64 = 31_449_600;

/// The `login` throttle scope of the login views: all attempts per client (`login`), wrong
/// passwords per username (`login_account`); without rates for them, nothing is limited.
pub fn login_throttle() -> CredentialThrottle {
    CredentialThrottle::new(
        "login",
        Spend::Failures,
        CredentialThrottle::field("username"),
    )
}

/// Adds `csrftoken` and `sessionid` to a login response, as Django formats them (ages,
/// `Secure` and `HttpOnly` from the service's [`AuthConfig`](super::AuthConfig)).
pub fn set_session_cookies(auth: &AuthService, start: &SessionStart, response: &mut Response) {
    let config = auth.config();
    let csrf = SetCookie {
        name: CSRF_COOKIE,
        value: &start.csrf_secret,
        max_age: Some(CSRF_COOKIE_AGE),
        http_only: config.csrf_cookie_httponly,
        secure: config.cookie_secure,
        same_site: Some("Lax"),
        path: "/",
        domain: None,
    };
    let session = SetCookie {
        name: SESSION_COOKIE,
        value: &start.session_key,
        max_age: Some(config.session_age),
        http_only: true,
        secure: config.cookie_secure,
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

/// `POST` dual login (`{"username", "password"}`): opens a session (cookies) and answers
/// `{"token", "user_id", "email"}` — the same token on every login until logout (per-login
/// tokens: a new one each time). Open to all, throttled by [`login_throttle`].
pub fn dual_login<S: ApiState>() -> View<S> {
    View::new("Login")
        .permission(AllowAny)
        // ObtainAuthToken renders JSON only and lists form parsers first.
        .media(
            &["application/json"],
            &[
                "application/x-www-form-urlencoded",
                "multipart/form-data",
                "application/json",
            ],
        )
        .action_metadata(
            Method::POST,
            json!({
                "username": {"type": "string", "required": true, "read_only": false, "label": "Username"},
                "password": {"type": "string", "required": true, "read_only": false, "label": "Password"},
                "token": {"type": "string", "required": false, "read_only": true, "label": "Token"}
            }),
        )
        .credential_throttle(login_throttle())
        .post(login)
}

async fn login<S: ApiState>(state: S, req: ApiRequest) -> Result<Response, ApiError> {
    let data = req.object_data()?;
    let mut errors = Errors::default();
    let username = errors.take("username", CharField::new().validate(&data, "username"));
    let password = errors.take(
        "password",
        CharField::new()
            .trim_whitespace(false)
            .validate(&data, "password"),
    );
    errors.into_result()?;
    let (Some(Some(username)), Some(Some(password))) = (username, password) else {
        return Err(ApiError::non_field(
            "Must include \"username\" and \"password\".",
        ));
    };
    let auth = state.auth();
    let client = ClientInfo::of(&req);
    let user = auth
        .login(&username, &password, &client)
        .await?
        .ok_or_else(|| ApiError::non_field(BAD_CREDENTIALS))?;
    let replaces = match &req.identity.credential {
        Credential::Session { key_hash } => Some(key_hash.as_str()),
        _ => None,
    };
    let session = auth.start_session(&user, replaces).await?;
    let token = auth.issue_login_token(&user, &client).await?;
    let mut response = json_response(
        StatusCode::OK,
        &json!({"token": token.expose(), "user_id": user.id, "email": user.email}),
    );
    set_session_cookies(auth, &session, &mut response);
    Ok(response)
}

/// `POST` logout of the dual login: deletes the token the request used and, when the
/// request carries the session cookie, ends that session and expires the cookie.
pub fn logout<S: ApiState>() -> View<S> {
    View::new("Logout").post(logout_handler)
}

async fn logout_handler<S: ApiState>(state: S, req: ApiRequest) -> Result<Response, ApiError> {
    let user = req.user()?;
    let auth = state.auth();
    auth.logout(user, &req.identity.credential, &ClientInfo::of(&req))
        .await?;
    let cookies = cookie_header(&req.headers);
    let session = crate::cookies::get_cookie(&cookies, SESSION_COOKIE);
    let mut response = json_response(
        StatusCode::OK,
        &json!({"message": "Logged out successfully."}),
    );
    if let Some(key) = session {
        auth.end_session(&hash_secret(key)).await?;
        clear_session_cookie(&mut response);
    }
    Ok(response)
}

/// djoser's `POST token/login/`: `{"auth_token": ...}`. Its fields are optional and every
/// failure reads the same, so nothing tells whether the username exists. Open to all,
/// throttled by [`login_throttle`].
pub fn token_login<S: ApiState>() -> View<S> {
    View::new("Token Create")
        .description("Use this endpoint to obtain user authentication token.")
        .permission(AllowAny)
        .action_metadata(
            Method::POST,
            json!({
                "password": {"type": "string", "required": false, "read_only": false, "label": "Password"},
                "username": {"type": "string", "required": false, "read_only": false, "label": "Username"}
            }),
        )
        .credential_throttle(login_throttle())
        .post(token_login_handler)
}

async fn token_login_handler<S: ApiState>(state: S, req: ApiRequest) -> Result<Response, ApiError> {
    let data = req.object_data()?;
    let mut errors = Errors::default();
    let field = CharField::new().required(false);
    let password = errors.take("password", field.validate(&data, "password"));
    let username = errors.take("username", field.validate(&data, "username"));
    errors.into_result()?;
    let auth = state.auth();
    let user = match (username.flatten(), password.flatten()) {
        (Some(u), Some(p)) => auth.login(&u, &p, &ClientInfo::of(&req)).await?,
        _ => None,
    }
    .ok_or_else(|| ApiError::non_field(BAD_CREDENTIALS))?;
    auth.users().touch_last_login(user.id).await?;
    let token = auth.issue_login_token(&user, &ClientInfo::of(&req)).await?;
    Ok(json_response(
        StatusCode::OK,
        &json!({"auth_token": token.expose()}),
    ))
}

/// djoser's `POST token/logout/`: deletes the user's token (per-login tokens: the one the
/// request came with); 204.
pub fn token_logout<S: ApiState>() -> View<S> {
    View::new("Token Destroy")
        .description("Use this endpoint to logout user (remove user authentication token).")
        .post(token_logout_handler)
}

async fn token_logout_handler<S: ApiState>(
    state: S,
    req: ApiRequest,
) -> Result<Response, ApiError> {
    let user = req.user()?;
    let auth = state.auth();
    let credential = &req.identity.credential;
    auth.logout(user, credential, &ClientInfo::of(&req)).await?;
    // djoser deletes the user's token even when the logout came with a session.
    if !matches!(credential, Credential::Token { .. })
        && auth.config().token_mode == TokenMode::Single
    {
        auth.revoke_token(user.id).await?;
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}
