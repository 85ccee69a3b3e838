//! Route table helpers: a router that remembers its patterns, and Django's `APPEND_SLASH`
//! (a path that only misses its trailing slash is redirected with 301, query kept).

use axum::http::{header, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use axum::Router;

use serde_json::Value;

use crate::error::ApiError;
use crate::openapi::{OpenApiInfo, ViewDoc};
use crate::permissions::Perm;
use crate::view::{ApiState, View};

/// A router that also records its path patterns, for the trailing-slash fallback.
///
/// ```
/// use axum_drf::routing::Routes;
/// let routes: Routes<()> = Routes::new().route("/api/public/", axum::routing::get(|| async { "hi" }));
/// assert_eq!(routes.patterns(), vec!["/api/public/".to_owned()]);
/// ```
pub struct Routes<S> {
    router: Router<S>,
    patterns: Vec<String>,
    docs: Vec<(String, ViewDoc)>,
}

/// What [`Routes::route`] accepts: a plain axum route, or a [`View`], which also records
/// its description for the OpenAPI schema ([`Routes::openapi`]).
pub trait IntoRoute<S> {
    /// The axum route and, for views, their description.
    fn into_parts(self) -> (MethodRouter<S>, Option<ViewDoc>);
}

impl<S> IntoRoute<S> for MethodRouter<S> {
    fn into_parts(self) -> (MethodRouter<S>, Option<ViewDoc>) {
        (self, None)
    }
}

/// A composite route (e.g. one that picks between views) with the description to show.
impl<S> IntoRoute<S> for (MethodRouter<S>, ViewDoc) {
    fn into_parts(self) -> (MethodRouter<S>, Option<ViewDoc>) {
        (self.0, Some(self.1))
    }
}

impl<S: ApiState> IntoRoute<S> for View<S> {
    fn into_parts(self) -> (MethodRouter<S>, Option<ViewDoc>) {
        let doc = self.doc();
        (self.into_route(), Some(doc))
    }
}

impl<S: Clone + Send + Sync + 'static> Default for Routes<S> {
    fn default() -> Self {
        Self::new()
    }
}

impl<S: Clone + Send + Sync + 'static> Routes<S> {
    /// No routes yet.
    pub fn new() -> Self {
        Routes {
            router: Router::new(),
            patterns: Vec::new(),
            docs: Vec::new(),
        }
    }

    /// Adds a route.
    pub fn route(mut self, path: &str, route: impl IntoRoute<S>) -> Self {
        let (method_router, doc) = route.into_parts();
        self.router = self.router.route(path, method_router);
        self.patterns.push(path.to_owned());
        if let Some(doc) = doc {
            self.docs.push((path.to_owned(), doc));
        }
        self
    }

    /// The OpenAPI 3 document of the documented routes (see [`crate::openapi`]);
    /// `default_permission` is the policy of views that set none.
    pub fn openapi(&self, info: &OpenApiInfo, default_permission: Option<&Perm>) -> Value {
        crate::openapi::document(info, &self.docs, default_permission)
    }

    /// Adds every route of `other`.
    pub fn merge(mut self, other: Routes<S>) -> Self {
        self.router = self.router.merge(other.router);
        self.patterns.extend(other.patterns);
        self.docs.extend(other.docs);
        self
    }

    /// The recorded patterns.
    pub fn patterns(&self) -> Vec<String> {
        self.patterns.clone()
    }

    /// The axum router.
    pub fn into_router(self) -> Router<S> {
        self.router
    }
}

/// The format a URL suffix asked for (`/api/v1/friends.json` -> `json`), set by
/// [`crate::edge::Edge`] for the view's content negotiation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatSuffix(pub String);

/// `/a/b.json/` -> (`/a/b/`, `json`); `/a/.json` -> (`/a/`, `json`).
pub(crate) fn split_suffix(path: &str) -> Option<(String, String)> {
    let trimmed = path.strip_suffix('/').unwrap_or(path);
    let (dir, last) = trimmed.rsplit_once('/')?;
    let (stem, ext) = last.rsplit_once('.')?;
    if ext.is_empty()
        || !ext
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        || stem.contains('.')
    {
        return None;
    }
    let base = if stem.is_empty() {
        format!("{dir}/")
    } else {
        format!("{dir}/{stem}/")
    };
    Some((base, ext.to_owned()))
}

/// Whether `path` matches an axum-style `pattern` (`{name}` matches one non-empty segment).
pub fn matches(pattern: &str, path: &str) -> bool {
    let mut p = pattern.split('/');
    let mut s = path.split('/');
    loop {
        match (p.next(), s.next()) {
            (None, None) => return true,
            (Some(a), Some(b)) => {
                let param = a.starts_with('{') && a.ends_with('}');
                if !(a == b || param && !b.is_empty()) {
                    return false;
                }
            }
            _ => return false,
        }
    }
}

/// The fallback handler: 301 to `path/` when that route exists, else 404.
pub fn append_slash_fallback(
    patterns: Vec<String>,
) -> impl Fn(Uri) -> std::future::Ready<Response> + Clone + Send + Sync + 'static {
    move |uri: Uri| {
        let path = uri.path();
        let response = if !path.ends_with('/') {
            let with_slash = format!("{path}/");
            if patterns.iter().any(|p| matches(p, &with_slash)) {
                let location = match uri.query() {
                    Some(q) => format!("{with_slash}?{q}"),
                    None => with_slash,
                };
                (
                    StatusCode::MOVED_PERMANENTLY,
                    [(header::LOCATION, location)],
                )
                    .into_response()
            } else {
                ApiError::NotFound("Not found.".into()).into_response()
            }
        } else {
            ApiError::NotFound("Not found.".into()).into_response()
        };
        std::future::ready(response)
    }
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn suffixes_split_like_drf() {
        use super::split_suffix;
        assert_eq!(
            split_suffix("/api/v1/friends.json"),
            Some(("/api/v1/friends/".into(), "json".into()))
        );
        assert_eq!(
            split_suffix("/api/v1/friends/5.json/"),
            Some(("/api/v1/friends/5/".into(), "json".into()))
        );
        assert_eq!(
            split_suffix("/api/v1/.json"),
            Some(("/api/v1/".into(), "json".into()))
        );
        assert_eq!(split_suffix("/api/v1/friends/"), None);
    }

    #[test]
    fn pattern_matching() {
        assert!(matches("/api/v1/friends/{id}/", "/api/v1/friends/12/"));
        assert!(!matches("/api/v1/friends/{id}/", "/api/v1/friends//"));
        assert!(!matches("/api/v1/friends/{id}/", "/api/v1/friends/1/x/"));
        assert!(matches("/api/public/", "/api/public/"));
    }
}
