//! Route table helpers: a router that remembers its patterns, Django's path decoding (the
//! URL resolver sees the percent-decoded path), and Django's `APPEND_SLASH` (a path that
//! only misses its trailing slash is redirected with 301, query kept), with Django's 404
//! page for a path that matches no route.

use std::borrow::Cow;

use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use axum::http::{header, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use axum::Router;

use serde_json::Value;

use crate::openapi::{OpenApiInfo, ViewDoc};
use crate::permissions::Perm;
use crate::view::{ApiState, View};

/// The page Django (`DEBUG = False`, no `404.html` template) answers for a path that
/// matches no route, as `text/html; charset=utf-8`.
pub const DJANGO_NOT_FOUND_PAGE: &str = "\n<!doctype html>\n<html lang=\"en\">\n<head>\n  <title>Not Found</title>\n</head>\n<body>\n  <h1>Not Found</h1><p>The requested resource was not found on this server.</p>\n</body>\n</html>\n";

/// How Django resolves a route's path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RouteKind {
    /// A plain `path()` entry: no format suffix; `{param}` matches any segment.
    Plain,
    /// A DRF router route: `{param}` matches `[^/.]+` and the route also answers
    /// `<path without its slash>.<format>` with or without a trailing slash.
    Router,
    /// A DRF router's API root: the suffix follows the slash (`/api/v1/.json`).
    RouterRoot,
}

/// A route's path pattern and how it resolves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutePattern {
    /// axum-style path, `{name}` for a parameter.
    pub path: String,
    /// Resolution rules.
    pub kind: RouteKind,
}

/// A router that also records its path patterns, for format suffixes, Django's converters
/// and the trailing-slash fallback.
///
/// ```
/// use axum_drf::routing::{RouteKind, Routes};
/// let routes: Routes<()> = Routes::new().route("/api/public/", axum::routing::get(|| async { "hi" }));
/// assert_eq!(routes.patterns()[0].path, "/api/public/");
/// assert_eq!(routes.patterns()[0].kind, RouteKind::Plain);
/// ```
pub struct Routes<S> {
    router: Router<S>,
    patterns: Vec<RoutePattern>,
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

    /// Adds a plain route (Django's `path()`: no format suffix): an axum route, or a
    /// [`View`], whose description also goes into the OpenAPI schema.
    pub fn route(self, path: &str, route: impl IntoRoute<S>) -> Self {
        self.route_as(path, RouteKind::Plain, route)
    }

    /// Adds a route resolved as `kind`.
    pub fn route_as(mut self, path: &str, kind: RouteKind, route: impl IntoRoute<S>) -> Self {
        let (method_router, doc) = route.into_parts();
        self.router = self.router.route(path, method_router);
        self.patterns.push(RoutePattern {
            path: path.to_owned(),
            kind,
        });
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
    pub fn patterns(&self) -> Vec<RoutePattern> {
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

/// How a path resolves against the route table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved {
    /// A route matches the path itself.
    Direct,
    /// A router route matches with a format suffix: the route's path and the format.
    Suffix {
        /// The path without the suffix, as the route matches it.
        path: String,
        /// The format (`json`).
        format: String,
    },
    /// No route.
    NoRoute,
}

/// Resolves `path` as Django would against these patterns: router parameters match
/// `[^/.]+`, router routes also match with a `.<format>` suffix (`[a-z0-9]+`).
///
/// ```
/// use axum_drf::routing::{resolve, Resolved, RouteKind, RoutePattern};
/// let table = [
///     RoutePattern { path: "/api/v1/".into(), kind: RouteKind::RouterRoot },
///     RoutePattern { path: "/api/v1/friends/{pk}/".into(), kind: RouteKind::Router },
/// ];
/// assert_eq!(resolve(&table, "/api/v1/friends/5/"), Resolved::Direct);
/// assert_eq!(
///     resolve(&table, "/api/v1/friends/5.json"),
///     Resolved::Suffix { path: "/api/v1/friends/5/".into(), format: "json".into() }
/// );
/// assert_eq!(resolve(&table, "/api/v1/friends/5.0.1/"), Resolved::NoRoute);
/// assert_eq!(
///     resolve(&table, "/api/v1/.api"),
///     Resolved::Suffix { path: "/api/v1/".into(), format: "api".into() }
/// );
/// ```
pub fn resolve(patterns: &[RoutePattern], path: &str) -> Resolved {
    if patterns.iter().any(|p| matches_as(p, path)) {
        return Resolved::Direct;
    }
    let unslashed = path.strip_suffix('/').unwrap_or(path);
    let Some((stem, format)) = unslashed.rsplit_once('.') else {
        return Resolved::NoRoute;
    };
    if format.is_empty()
        || !format
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    {
        return Resolved::NoRoute;
    }
    for p in patterns {
        let base = match p.kind {
            RouteKind::Plain => continue,
            RouteKind::Router => p.path.strip_suffix('/').unwrap_or(&p.path),
            RouteKind::RouterRoot => &p.path,
        };
        if segments_match(base, stem, true) {
            let path = if p.kind == RouteKind::RouterRoot {
                stem.to_owned()
            } else {
                format!("{stem}/")
            };
            return Resolved::Suffix {
                path,
                format: format.to_owned(),
            };
        }
    }
    Resolved::NoRoute
}

fn matches_as(p: &RoutePattern, path: &str) -> bool {
    segments_match(&p.path, path, p.kind != RouteKind::Plain)
}

/// Whether `path` matches an axum-style `pattern` (`{name}` matches one non-empty segment).
pub fn matches(pattern: &str, path: &str) -> bool {
    segments_match(pattern, path, false)
}

fn segments_match(pattern: &str, path: &str, dotless: bool) -> bool {
    let mut p = pattern.split('/');
    let mut s = path.split('/');
    loop {
        match (p.next(), s.next()) {
            (None, None) => return true,
            (Some(a), Some(b)) => {
                let param = a.starts_with('{') && a.ends_with('}');
                let ok = if param {
                    !(b.is_empty() || dotless && b.contains('.'))
                } else {
                    a == b
                };
                if !ok {
                    return false;
                }
            }
            _ => return false,
        }
    }
}

/// What Django's `escape_uri_path` leaves as it is (besides ASCII letters and digits).
const ESCAPE_URI_PATH: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'/')
    .remove(b':')
    .remove(b'@')
    .remove(b'&')
    .remove(b'+')
    .remove(b'$')
    .remove(b',')
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'!')
    .remove(b'~')
    .remove(b'*')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')');

fn escaped_as_is(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"/:@&+$,-_.!~*'()".contains(&b)
}

/// The path as Django routes and re-emits it: percent-decoded (`%2F` is a separator, as
/// in the WSGI `PATH_INFO`), invalid UTF-8 re-escaped (`repercent_broken_unicode`), then
/// escaped again with `escape_uri_path`. `None` when that is the path itself (the common
/// case, checked without allocating).
///
/// ```
/// use axum_drf::routing::canonical_path;
/// assert_eq!(canonical_path("/api/v1/fri%65nds/").as_deref(), Some("/api/v1/friends/"));
/// assert_eq!(canonical_path("/a%2Bb/%FF/é").as_deref(), Some("/a+b/%25FF/%C3%A9"));
/// assert_eq!(canonical_path("/api/v1/friends/"), None);
/// ```
pub fn canonical_path(path: &str) -> Option<String> {
    if path.bytes().all(escaped_as_is) {
        return None;
    }
    let decoded: Cow<'_, [u8]> = percent_decode_str(path).into();
    let text = repercent_broken_unicode(&decoded);
    let escaped = utf8_percent_encode(&text, ESCAPE_URI_PATH).to_string();
    (escaped != path).then_some(escaped)
}

/// Django's `repercent_broken_unicode`: each invalid UTF-8 sequence becomes `%XX` escapes.
fn repercent_broken_unicode(mut bytes: &[u8]) -> Cow<'_, str> {
    let mut out = String::new();
    loop {
        match std::str::from_utf8(bytes) {
            Ok(rest) if out.is_empty() => return Cow::Borrowed(rest),
            Ok(rest) => {
                out.push_str(rest);
                return Cow::Owned(out);
            }
            Err(e) => {
                let (valid, after) = bytes.split_at(e.valid_up_to());
                out.push_str(std::str::from_utf8(valid).unwrap_or_default());
                let bad = e.error_len().unwrap_or(after.len());
                for b in &after[..bad] {
                    out.push_str(&format!("%{b:02X}"));
                }
                bytes = &after[bad..];
            }
        }
    }
}

/// Django's 404 page as a response.
pub fn not_found_page() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        DJANGO_NOT_FOUND_PAGE,
    )
        .into_response()
}

/// Django's answer for a path no route takes: `APPEND_SLASH`'s 301 to `path/` (an empty
/// HTML body, query kept) when that path resolves, else its 404 page.
pub fn no_route(patterns: &[RoutePattern], uri: &Uri) -> Response {
    let path = uri.path();
    let with_slash = format!("{path}/");
    if path.ends_with('/') || resolve(patterns, &with_slash) == Resolved::NoRoute {
        return not_found_page();
    }
    // Django's escape_leading_slashes: never a scheme-relative `//host` redirect.
    let with_slash = match with_slash.strip_prefix("//") {
        Some(rest) => format!("/%2F{rest}"),
        None => with_slash,
    };
    let location = match uri.query() {
        Some(q) => format!("{with_slash}?{q}"),
        None => with_slash,
    };
    (
        StatusCode::MOVED_PERMANENTLY,
        [
            (header::LOCATION, location),
            (header::CONTENT_TYPE, "text/html; charset=utf-8".to_owned()),
        ],
    )
        .into_response()
}

/// The router's fallback handler: [`no_route`].
pub fn append_slash_fallback(
    patterns: Vec<RoutePattern>,
) -> impl Fn(Uri) -> std::future::Ready<Response> + Clone + Send + Sync + 'static {
    move |uri: Uri| std::future::ready(no_route(&patterns, &uri))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pattern_matching() {
        assert!(matches("/api/v1/friends/{id}/", "/api/v1/friends/12/"));
        assert!(!matches("/api/v1/friends/{id}/", "/api/v1/friends//"));
        assert!(!matches("/api/v1/friends/{id}/", "/api/v1/friends/1/x/"));
        assert!(matches("/api/public/", "/api/public/"));
    }

    #[test]
    fn suffixes_only_on_router_routes() {
        let table = [
            RoutePattern {
                path: "/api/public/".into(),
                kind: RouteKind::Plain,
            },
            RoutePattern {
                path: "/api/v1/friends/".into(),
                kind: RouteKind::Router,
            },
        ];
        assert_eq!(resolve(&table, "/api/public.json"), Resolved::NoRoute);
        assert_eq!(resolve(&table, "/api/v1/friends/.json"), Resolved::NoRoute);
        assert_eq!(resolve(&table, "/api/v1/friends.JSON"), Resolved::NoRoute);
        assert_eq!(
            resolve(&table, "/api/v1/friends.json/"),
            Resolved::Suffix {
                path: "/api/v1/friends/".into(),
                format: "json".into()
            }
        );
    }
}
