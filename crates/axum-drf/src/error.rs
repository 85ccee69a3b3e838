//! Every failure a request can meet, answered in DRF's shapes: `{"detail": "..."}` or a
//! field-error object, with DRF's status codes and headers. Internal errors are logged with
//! their cause and answered with a generic 500 that leaks nothing.

use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use crate::store::StoreError;

/// DRF's text for an anonymous request that needs a user.
pub const NOT_AUTHENTICATED: &str = "Authentication credentials were not provided.";
/// DRF's default permission-denied text.
pub const PERMISSION_DENIED: &str = "You do not have permission to perform this action.";

/// A request failure that renders as DRF would render it.
///
/// ```
/// use axum::response::IntoResponse;
/// use axum_drf::error::ApiError;
/// let response = ApiError::NotFound("Not found.".into()).into_response();
/// assert_eq!(response.status(), 404);
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// 401 with a `WWW-Authenticate` challenge, or 403 when the first authenticator has no
    /// challenge to offer (DRF's `NotAuthenticated` / `AuthenticationFailed`).
    #[error("{detail}")]
    Unauthenticated {
        /// The `detail` text.
        detail: String,
        /// `WWW-Authenticate` value of the first authenticator, if it has one.
        challenge: Option<&'static str>,
    },
    /// 403 `{"detail": ...}`.
    #[error("{0}")]
    PermissionDenied(String),
    /// 404 `{"detail": ...}`.
    #[error("{0}")]
    NotFound(String),
    /// 405 with DRF's message; the view adds the `Allow` header.
    #[error("Method \"{0}\" not allowed.")]
    MethodNotAllowed(Method),
    /// 406.
    #[error("Could not satisfy the request Accept header.")]
    NotAcceptable,
    /// 413: the body exceeded the configured limit.
    #[error("Request body is too large.")]
    PayloadTooLarge,
    /// 408: the body did not arrive within the server's body-read timeout (no DRF
    /// counterpart: Django's servers cut such a client off without an answer).
    #[error("Request body not received in time.")]
    RequestTimeout,
    /// 415 with the Content-Type as sent.
    #[error("Unsupported media type \"{0}\" in request.")]
    UnsupportedMediaType(String),
    /// 400 `{"detail": ...}` (parse errors and view-specific refusals).
    #[error("{0}")]
    BadRequest(String),
    /// 400 with a field-error object such as `{"name": ["This field is required."]}`.
    #[error("validation failed: {0}")]
    Validation(Value),
    /// 429 (DRF's `Throttled`): `Request was throttled.`, then `Expected available in N
    /// seconds.` and `Retry-After: N` when a wait is known (N is DRF's `math.ceil`).
    #[error("{}", throttled_detail(*wait))]
    Throttled {
        /// Seconds until a request would be allowed, rounded up.
        wait: Option<u64>,
    },
    /// 500; the cause is logged, never sent.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    /// DRF's `NotAuthenticated` for the given challenge.
    pub fn not_authenticated(challenge: Option<&'static str>) -> Self {
        ApiError::Unauthenticated {
            detail: NOT_AUTHENTICATED.to_owned(),
            challenge,
        }
    }

    /// A single-field validation error: `{field: [message]}`.
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        ApiError::Validation(json!({ field: [message.into()] }))
    }

    /// `{"non_field_errors": [message]}`.
    pub fn non_field(message: impl Into<String>) -> Self {
        Self::field("non_field_errors", message)
    }

    /// The HTTP status DRF uses for this error.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Unauthenticated {
                challenge: Some(_), ..
            } => StatusCode::UNAUTHORIZED,
            ApiError::Unauthenticated {
                challenge: None, ..
            }
            | ApiError::PermissionDenied(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::NotAcceptable => StatusCode::NOT_ACCEPTABLE,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::BadRequest(_) | ApiError::Validation(_) => StatusCode::BAD_REQUEST,
            ApiError::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// DRF's `Throttled` text, with its `ngettext` singular for one second.
///
/// ```
/// use axum_drf::error::throttled_detail;
/// assert_eq!(throttled_detail(Some(1)), "Request was throttled. Expected available in 1 second.");
/// assert_eq!(throttled_detail(Some(60)), "Request was throttled. Expected available in 60 seconds.");
/// assert_eq!(throttled_detail(None), "Request was throttled.");
/// ```
pub fn throttled_detail(wait: Option<u64>) -> String {
    match wait {
        None => "Request was throttled.".to_owned(),
        Some(1) => "Request was throttled. Expected available in 1 second.".to_owned(),
        Some(n) => format!("Request was throttled. Expected available in {n} seconds."),
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError::Internal(e.to_string())
    }
}

impl From<crate::parsers::ParseError> for ApiError {
    fn from(e: crate::parsers::ParseError) -> Self {
        match e {
            crate::parsers::ParseError::UnsupportedMediaType(t) => {
                ApiError::UnsupportedMediaType(t)
            }
            crate::parsers::ParseError::Malformed(t) => ApiError::BadRequest(t),
        }
    }
}

/// A JSON response rendered as DRF's JSONRenderer does (compact, UTF-8), from a
/// `serde_json::Value` or any serialisable type (a struct skips building the `Value`).
///
/// ```
/// use axum::http::StatusCode;
/// #[derive(serde::Serialize)]
/// struct Message<'a> {
///     message: &'a str,
/// }
/// let r = axum_drf::json(StatusCode::OK, &Message { message: "hi" });
/// assert_eq!(r.headers()["content-type"], "application/json");
/// ```
pub fn json_response<T: serde::Serialize + ?Sized>(status: StatusCode, body: &T) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec());
    json_bytes_response(status, bytes)
}

/// A response whose body is JSON already serialised.
///
/// ```
/// use axum::http::StatusCode;
/// let r = axum_drf::error::json_bytes_response(StatusCode::OK, bytes::Bytes::from_static(b"{}"));
/// assert_eq!(r.headers()["content-type"], "application/json");
/// ```
pub fn json_bytes_response(status: StatusCode, bytes: impl Into<bytes::Bytes>) -> Response {
    let mut response = Response::new(axum::body::Body::from(bytes.into()));
    *response.status_mut() = status;
    // Room for what the view and the edge add (Allow, Vary, the request id, the security and
    // CORS headers, Content-Length): a map grown on the way there rehashes (1.5% of a read).
    let mut headers = axum::http::HeaderMap::with_capacity(16);
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    *response.headers_mut() = headers;
    response
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = match &self {
            ApiError::Validation(v) => v.clone(),
            ApiError::Internal(cause) => {
                tracing::error!(%cause, "internal error");
                json!({ "detail": "A server error occurred." })
            }
            other => json!({ "detail": other.to_string() }),
        };
        let mut response = json_response(status, &body);
        // DRF sends Retry-After only for a truthy wait (not for 0).
        if let ApiError::Throttled { wait: Some(n) } = self {
            if n > 0 {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(n));
            }
        }
        if let ApiError::Unauthenticated {
            challenge: Some(c), ..
        } = self
        {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(c));
        }
        response
    }
}
