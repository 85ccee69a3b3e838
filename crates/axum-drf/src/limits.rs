//! Request limits the server enforces before any view runs.

use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;
use serde_json::json;

use crate::error::json_response;

/// Rejects requests whose headers add up to more than `max_bytes` with 431 and a DRF-shaped
/// body (hyper alone would accept up to ~400 KiB of headers per request).
///
/// ```
/// let limit = |req, next| axum_drf::limits::header_limit(16 * 1024, req, next);
/// let app: axum::Router = axum::Router::new().layer(axum::middleware::from_fn(limit));
/// # let _ = app;
/// ```
pub async fn header_limit(max_bytes: usize, req: Request, next: Next) -> Response {
    let total: usize = req
        .headers()
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len() + 4)
        .sum();
    if total > max_bytes {
        return json_response(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            &json!({"detail": "Request header fields too large."}),
        );
    }
    next.run(req).await
}
