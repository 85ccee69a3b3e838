//! The request as a view sees it: who is asking, the parsed body, path and query values.

use std::net::IpAddr;
use std::sync::Arc;

use axum::http::{HeaderMap, Method, Uri};
use bytes::Bytes;
use serde_json::{Map, Value};

use crate::auth::{Identity, User};
use crate::error::ApiError;
use crate::permissions::PermSet;

/// An authenticated, permission-checked request, handed to view handlers.
#[derive(Debug, Clone)]
pub struct ApiRequest {
    /// HTTP method.
    pub method: Method,
    /// Request URI (path and query).
    pub uri: Uri,
    /// Request headers.
    pub headers: HeaderMap,
    /// Raw body (already bounded by the body limit).
    pub body: Bytes,
    /// The authentication result.
    pub identity: Identity,
    /// Path parameters captured by the route.
    pub params: Vec<(String, String)>,
    /// The URL format suffix the request came with (`/friends.json` -> `json`).
    pub format_suffix: Option<String>,
    /// Whether the request came over HTTPS (TLS here, or as a trusted proxy reports it), for absolute
    /// links (Django's `request.is_secure()`).
    pub secure: bool,
    /// The client's address ([`client_ip`](crate::client::client_ip)): the peer, or what a
    /// trusted proxy reports; `None` when the server did not record peers.
    pub client_ip: Option<IpAddr>,
    /// The `Host` the edge checked against the allowed hosts ([`crate::hosts::CheckedHost`]);
    /// `None` when the request had none or did not pass the edge. Absolute links use only
    /// this, never the raw header.
    pub host: Option<axum::http::HeaderValue>,
    /// The user's model permissions when the view's policy needed them, loaded once by the
    /// view-level check and reused by the object-level one
    /// ([`check_object_permissions`](crate::permissions::check_object_permissions)).
    pub perms: Option<Arc<PermSet>>,
}

impl ApiRequest {
    /// The parsed body, DRF's `request.data`: JSON, form or multipart by Content-Type.
    pub fn data(&self) -> Result<Value, ApiError> {
        let content_type = self
            .headers
            .get(axum::http::header::CONTENT_TYPE)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        Ok(crate::parsers::parse_body(
            content_type.as_deref(),
            &self.body,
        )?)
    }

    /// The body as an object, or DRF's serializer error for any other JSON type.
    ///
    /// ```
    /// # use axum_drf::{auth::Identity, request::ApiRequest};
    /// let mut headers = axum::http::HeaderMap::new();
    /// headers.insert("content-type", "application/json".parse().unwrap());
    /// let req = ApiRequest {
    ///     method: axum::http::Method::POST, uri: "/".parse().unwrap(), headers,
    ///     body: bytes::Bytes::from_static(b"[1]"), identity: Identity::anonymous(), params: vec![],
    ///     format_suffix: None, secure: false, client_ip: None, host: None,
    ///     perms: None,
    /// };
    /// let err = req.object_data().unwrap_err();
    /// assert_eq!(err.to_string(), r#"validation failed: {"non_field_errors":["Invalid data. Expected a dictionary, but got list."]}"#);
    /// ```
    pub fn object_data(&self) -> Result<Map<String, Value>, ApiError> {
        match self.data()? {
            Value::Object(map) => Ok(map),
            // A JSON `null` body is DRF's `data=None`.
            Value::Null => Err(ApiError::non_field("No data provided".to_owned())),
            other => Err(ApiError::non_field(format!(
                "Invalid data. Expected a dictionary, but got {}.",
                python_type_name(&other)
            ))),
        }
    }

    /// The authenticated user; views behind `IsAuthenticated` can rely on it.
    pub fn user(&self) -> Result<&Arc<User>, ApiError> {
        self.identity
            .user
            .as_ref()
            .ok_or_else(|| ApiError::not_authenticated(Some("Token")))
    }

    /// A path parameter by name.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A query parameter; the last one wins when repeated (Django's `QueryDict.get`).
    pub fn query_param(&self, name: &str) -> Option<String> {
        let query = self.uri.query()?;
        form_urlencoded::parse(query.as_bytes())
            .filter(|(k, _)| k == name)
            .last()
            .map(|(_, v)| v.into_owned())
    }

    /// `scheme://host` of the request, for absolute links (DRF's `build_absolute_uri`); the
    /// host is the one the edge checked, else `localhost`.
    pub fn origin(&self) -> String {
        let secure = self.secure;
        let host = self
            .host
            .as_ref()
            .and_then(|h| h.to_str().ok())
            .unwrap_or("localhost");
        format!("{}://{host}", if secure { "https" } else { "http" })
    }
}

/// Python's `type(x).__name__` for a JSON value, as DRF quotes it in messages.
pub fn python_type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}
