//! `[cors]`: cross-origin access with tower-http's `CorsLayer` semantics (preflight answers,
//! `Access-Control-Allow-*` headers, `Vary`). Off while `allowed_origins` is empty: then no
//! CORS header is ever sent and `OPTIONS` keeps DRF's metadata answer.

use std::time::Duration;

use axum::http::{HeaderName, HeaderValue, Method};
use tower_http::cors::{AllowHeaders, AllowMethods, AllowOrigin, CorsLayer};

use crate::config::CorsSettings;

/// The layer for `settings`, `Ok(None)` when CORS is off, or why the settings are unusable
/// (checked at start-up and by `lendbook check`, as tower-http would panic on some).
pub fn layer(settings: &CorsSettings) -> Result<Option<CorsLayer>, String> {
    if settings.allowed_origins.is_empty() {
        return Ok(None);
    }
    let any_origin = settings.allowed_origins.iter().any(|o| o == "*");
    let origin = if any_origin {
        if settings.allowed_origins.len() > 1 {
            return Err("[cors] allowed_origins: \"*\" cannot be combined with origins".into());
        }
        if settings.allow_credentials {
            // Browsers refuse the combination; tower-http panics on it.
            return Err(
                "[cors] allow_credentials = true needs explicit allowed_origins, not \"*\"".into(),
            );
        }
        AllowOrigin::any()
    } else {
        let origins = settings
            .allowed_origins
            .iter()
            .map(|o| {
                let trimmed = o.trim_end_matches('/');
                let valid = (trimmed.starts_with("http://") || trimmed.starts_with("https://"))
                    && !trimmed["https://".len().min(trimmed.len())..].contains('/');
                match HeaderValue::from_str(trimmed) {
                    Ok(v) if valid => Ok(v),
                    _ => Err(format!(
                        "[cors] allowed_origins: {o:?} is not an origin like https://app.example.com"
                    )),
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        AllowOrigin::list(origins)
    };
    let methods = settings
        .allowed_methods
        .iter()
        .map(|m| {
            Method::from_bytes(m.to_ascii_uppercase().as_bytes())
                .map_err(|_| format!("[cors] allowed_methods: {m:?} is not a method"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let headers = settings
        .allowed_headers
        .iter()
        .map(|h| {
            HeaderName::from_bytes(h.as_bytes())
                .map_err(|_| format!("[cors] allowed_headers: {h:?} is not a header name"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(
        CorsLayer::new()
            .allow_origin(origin)
            .allow_methods(AllowMethods::list(methods))
            .allow_headers(AllowHeaders::list(headers))
            .allow_credentials(settings.allow_credentials)
            .max_age(Duration::from_secs(settings.max_age)),
    ))
}
