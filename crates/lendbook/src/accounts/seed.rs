//! The seed tutorial's endpoints: dual login (session + token), logout, public, private.

use axum::http::StatusCode;
use axum::response::Response;
use axum_drf::auth::service::{cookie_header, SESSION_COOKIE};
use axum_drf::auth::token::hash_secret;
use axum_drf::auth::{ClientInfo, Credential};
use axum_drf::fields::{CharField, Errors};
use axum_drf::permissions::AllowAny;
use axum_drf::routing::Routes;
use axum_drf::{json, ApiError, ApiRequest, View};
use serde_json::json;

use super::session_cookies::{clear_session_cookie, set_session_cookies};
use crate::app::AppState;

/// DRF's `AuthTokenSerializer` failure text.
pub const BAD_CREDENTIALS: &str = "Unable to log in with provided credentials.";

pub fn routes() -> Routes<AppState> {
    Routes::new()
        .route(
            "/api/login/",
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
                    axum::http::Method::POST,
                    json!({
                        "username": {"type": "string", "required": true, "read_only": false, "label": "Username"},
                        "password": {"type": "string", "required": true, "read_only": false, "label": "Password"},
                        "token": {"type": "string", "required": false, "read_only": true, "label": "Token"}
                    }),
                )
                .credential_throttle(super::throttles::login())
                .post(login)
                ,
        )
        .route("/api/logout/", View::new("Logout").post(logout))
        .route(
            "/api/public/",
            View::new("Public")
                .permission(AllowAny)
                .get(public)
                ,
        )
        .route("/api/private/", View::new("Private").get(private))
}

/// `POST /api/login/`: checks the credentials, opens a session (cookies) and returns the
/// user's token — the same one on every login until logout.
async fn login(state: AppState, req: ApiRequest) -> Result<Response, ApiError> {
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
    let client = ClientInfo::of(&req);
    let user = state
        .auth
        .login(&username, &password, &client)
        .await?
        .ok_or_else(|| ApiError::non_field(BAD_CREDENTIALS))?;
    let replaces = match &req.identity.credential {
        Credential::Session { key_hash } => Some(key_hash.as_str()),
        _ => None,
    };
    let session = state.auth.start_session(&user, replaces).await?;
    let token = state.auth.issue_login_token(&user, &client).await?;
    let mut response = json(
        StatusCode::OK,
        &json!({"token": token.expose(), "user_id": user.id, "email": user.email}),
    );
    set_session_cookies(&state, &session, &mut response);
    Ok(response)
}

/// `POST /api/logout/`: deletes the token the request used and ends the session.
async fn logout(state: AppState, req: ApiRequest) -> Result<Response, ApiError> {
    let user = req.user()?;
    state
        .auth
        .logout(user, &req.identity.credential, &ClientInfo::of(&req))
        .await?;
    let cookies = cookie_header(&req.headers);
    let session = axum_drf::cookies::get_cookie(&cookies, SESSION_COOKIE);
    let mut response = json(
        StatusCode::OK,
        &json!({"message": "Logged out successfully."}),
    );
    if let Some(key) = session {
        state.auth.end_session(&hash_secret(key)).await?;
        clear_session_cookie(&mut response);
    }
    Ok(response)
}

async fn public(_: AppState, _: ApiRequest) -> Result<Response, ApiError> {
    // A constant answer, serialised once (DRF's compact JSON).
    const PUBLIC: &[u8] = br#"{"message":"Public access allowed!"}"#;
    Ok(axum_drf::error::json_bytes_response(
        StatusCode::OK,
        axum::body::Bytes::from_static(PUBLIC),
    ))
}

async fn private(_: AppState, req: ApiRequest) -> Result<Response, ApiError> {
    let user = req.user()?;
    Ok(json(
        StatusCode::OK,
        &json!({"message": format!("Hello {}, this is private!", user.username)}),
    ))
}
