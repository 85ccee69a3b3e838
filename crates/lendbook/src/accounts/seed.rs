//! The seed tutorial's endpoints: dual login (session + token), logout, public, private.

use axum::http::StatusCode;
use axum::response::Response;
use axum_drf::auth::views;
use axum_drf::permissions::AllowAny;
use axum_drf::routing::Routes;
use axum_drf::{json, ApiError, ApiRequest, View};
use serde::Serialize;

use crate::app::AppState;

pub fn routes() -> Routes<AppState> {
    Routes::new()
        .route("/api/login/", views::dual_login())
        .route("/api/logout/", views::logout())
        .route(
            "/api/public/",
            View::new("Public").permission(AllowAny).get(public),
        )
        .route("/api/private/", View::new("Private").get(private))
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
    /// The body, serialised straight from the struct (a `serde_json::Value` built first
    /// allocated its map and key on every read).
    #[derive(Serialize)]
    struct Private<'a> {
        message: &'a str,
    }
    let user = req.user()?;
    let message = format!("Hello {}, this is private!", user.username);
    Ok(json(StatusCode::OK, &Private { message: &message }))
}
