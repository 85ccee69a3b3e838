//! Per-login tokens (`[auth] token_mode = "per_login"`, django-rest-knox's model): "log out
//! everywhere", and each user's own token list with revocation by id. Routed only in that
//! mode; with DRF's single token these paths do not exist, as in the reference.

use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum_drf::auth::{ClientInfo, Credential};
use axum_drf::routing::Routes;
use axum_drf::{json, ApiError, ApiRequest, View};

use super::validation::{self, PathId};
use crate::app::AppState;

pub fn routes() -> Routes<AppState> {
    Routes::new()
        .route(
            "/api/auth/token/logoutall/",
            View::new("Logout All").post(logout_all).into_route(),
        )
        .route(
            "/api/auth/tokens/",
            View::new("Token List").get(list).into_route(),
        )
        .route(
            "/api/auth/tokens/{id}/",
            View::new("Token Instance")
                .on(Method::DELETE, destroy)
                .into_route(),
        )
}

/// `POST /api/auth/token/logoutall/`: revokes every token of the user (knox); 204.
async fn logout_all(state: AppState, req: ApiRequest) -> Result<Response, ApiError> {
    let user = req.user()?;
    state.auth.logout_all(user, &ClientInfo::of(&req)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /api/auth/tokens/`: the user's live tokens, newest first (never a key).
async fn list(state: AppState, req: ApiRequest) -> Result<Response, ApiError> {
    let user = req.user()?;
    let current = match &req.identity.credential {
        Credential::Token { key_hash } => Some(key_hash.as_str()),
        _ => None,
    };
    let tokens = state.auth.list_tokens(user.id, current).await?;
    let tokens = serde_json::to_value(tokens).map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(json(StatusCode::OK, &tokens))
}

/// `DELETE /api/auth/tokens/{id}/`: revokes one of the user's tokens; another user's token
/// is `Not found.`, like one that does not exist.
async fn destroy(state: AppState, req: ApiRequest) -> Result<Response, ApiError> {
    let user = req.user()?;
    let PathId::Id(id) = validation::path_id(req.param("id").unwrap_or_default()) else {
        return Err(ApiError::NotFound("Not found.".into()));
    };
    if !state
        .auth
        .revoke_token_id(user, id, &ClientInfo::of(&req))
        .await?
    {
        return Err(ApiError::NotFound("Not found.".into()));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}
