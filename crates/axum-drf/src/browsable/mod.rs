//! DRF's `BrowsableAPIRenderer`: the HTML page a browser gets for every API answer, and the
//! login page of DRF's `rest_framework.urls`.
//!
//! The view path picks this renderer by content negotiation (`Accept: text/html`,
//! `?format=api`, the `.api` suffix) and then renders its normal answer — success or error,
//! same status — through [`render_page`] as its last step; a JSON client never reaches this
//! module. The page shows the request line, the status, the `Allow` / `Content-Type` /
//! `Vary` headers, the pretty-printed JSON with its links made clickable, breadcrumbs,
//! pagination links, and forms built from the view's field metadata (the same declarations
//! OPTIONS describes) for the methods the user's permissions allow, with field errors beside
//! the fields. Templates are minijinja with HTML auto-escaping; CSS and JS are compiled into
//! the binary ([`asset`]) so the pages work offline.
//!
//! ```
//! use axum_drf::browsable::Browsable;
//! let browsable = Browsable::new("lendbook")
//!     .login("/api-auth/login/", "/api-auth/logout/")
//!     .static_url("/static/api/");
//! assert_eq!(browsable.login_url(), Some("/api-auth/login/"));
//! ```

mod forms;

use std::sync::OnceLock;

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use minijinja::{context, Environment, Value as Tpl};
use serde::Serialize;
use serde_json::Value;

use crate::auth::csrf;
use crate::auth::Identity;
use crate::cookies::{get_cookie_decoded, SetCookie};
use crate::routing::matches;

pub use forms::FormSpec;

/// Settings of the browsable API, from the application (`ApiState::browsable`).
#[derive(Debug, Clone)]
pub struct Browsable {
    title: String,
    login_url: Option<String>,
    logout_url: Option<String>,
    static_url: String,
    home_url: String,
    patterns: Vec<String>,
    cookie_secure: bool,
    csrf_cookie_httponly: bool,
}

impl Browsable {
    /// Pages titled `title`, assets under `/static/api/`, no login links.
    pub fn new(title: impl Into<String>) -> Self {
        Browsable {
            title: title.into(),
            login_url: None,
            logout_url: None,
            static_url: "/static/api/".into(),
            home_url: "/".into(),
            patterns: Vec::new(),
            cookie_secure: false,
            csrf_cookie_httponly: false,
        }
    }

    /// The login page (linked with `?next=`) and the logout endpoint (a POST form).
    pub fn login(mut self, login_url: &str, logout_url: &str) -> Self {
        self.login_url = Some(login_url.to_owned());
        self.logout_url = Some(logout_url.to_owned());
        self
    }

    /// Where [`asset`] is served (with a trailing slash).
    pub fn static_url(mut self, url: &str) -> Self {
        self.static_url = url.to_owned();
        self
    }

    /// The link of the title in the navigation bar.
    pub fn home_url(mut self, url: &str) -> Self {
        self.home_url = url.to_owned();
        self
    }

    /// The route table's patterns: breadcrumbs link the prefixes of a path that are routes.
    pub fn patterns(mut self, patterns: Vec<String>) -> Self {
        self.patterns = patterns;
        self
    }

    /// Attributes of the `csrftoken` cookie set when a page needs a CSRF token and the
    /// browser has none (Django's `get_token`).
    pub fn csrf_cookie(mut self, secure: bool, http_only: bool) -> Self {
        self.cookie_secure = secure;
        self.csrf_cookie_httponly = http_only;
        self
    }

    /// The login page, if any.
    pub fn login_url(&self) -> Option<&str> {
        self.login_url.as_deref()
    }
}

/// A static asset of the pages by file name (`api.css`, `api.js`): its bytes and media type.
///
/// ```
/// let (bytes, media_type) = axum_drf::browsable::asset("api.css").unwrap();
/// assert_eq!(media_type, "text/css; charset=utf-8");
/// assert!(!bytes.is_empty());
/// assert!(axum_drf::browsable::asset("../secret").is_none());
/// ```
pub fn asset(name: &str) -> Option<(&'static [u8], &'static str)> {
    match name {
        "api.css" => Some((
            include_bytes!("static/api.css").as_slice(),
            "text/css; charset=utf-8",
        )),
        "api.js" => Some((
            include_bytes!("static/api.js").as_slice(),
            "text/javascript; charset=utf-8",
        )),
        _ => None,
    }
}

/// An axum handler serving [`asset`]s by the last path segment, cached for a day.
pub async fn asset_handler(uri: Uri) -> Response {
    let name = uri.path().rsplit('/').next().unwrap_or("");
    match asset(name) {
        Some((bytes, media_type)) => (
            [
                (header::CONTENT_TYPE, media_type),
                (header::CACHE_CONTROL, "public, max-age=86400"),
            ],
            bytes,
        )
            .into_response(),
        None => crate::error::ApiError::NotFound("Not found.".into()).into_response(),
    }
}

fn templates() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        // `.html` names turn HTML auto-escaping on for every `{{ }}`.
        for (name, source) in [
            ("base.html", include_str!("templates/base.html")),
            ("api.html", include_str!("templates/api.html")),
            ("login.html", include_str!("templates/login.html")),
        ] {
            env.add_template(name, source)
                .expect("the bundled templates compile");
        }
        env
    })
}

fn render_template(name: &str, ctx: Tpl) -> String {
    match templates().get_template(name).and_then(|t| t.render(ctx)) {
        Ok(html) => html,
        Err(e) => {
            tracing::error!(error = %e, template = name, "template rendering failed");
            "<!DOCTYPE html><title>Server Error</title><h1>Server Error (500)</h1>".into()
        }
    }
}

/// What the view path keeps of a request whose answer becomes an HTML page; only built
/// when negotiation picked this renderer.
#[derive(Debug)]
pub struct PageRequest {
    /// The method.
    pub method: Method,
    /// Path and query.
    pub uri: Uri,
    /// The request headers (cookies, Host).
    pub headers: HeaderMap,
    /// The request body, to refill a form that failed validation.
    pub body: Bytes,
    /// Who asked (anonymous until authentication succeeded).
    pub identity: Identity,
    /// Methods the user's permissions allow here (for forms and buttons).
    pub permitted: Vec<Method>,
}

/// The view's side of a page: its name, description, `Allow` header and forms.
#[derive(Debug)]
pub struct PageView<'a> {
    /// DRF's view name (`Friend List`).
    pub name: &'a str,
    /// The view's description.
    pub description: &'a str,
    /// The `Allow` header value.
    pub allow: &'a str,
    /// Field metadata per method, as OPTIONS shows it.
    pub actions: &'a [(Method, Value)],
}

#[derive(Serialize)]
struct Crumb {
    label: String,
    url: String,
}

/// Renders `response` (the JSON answer of the view path) as the browsable API page.
pub async fn render_page(
    config: &Browsable,
    view: PageView<'_>,
    request: PageRequest,
    response: Response,
) -> Response {
    let (mut parts, body) = response.into_parts();
    // Our own answer, already bounded by what the view produced.
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let data: Option<Value> = serde_json::from_slice(&bytes).ok();
    let content = match &data {
        Some(v) => linkify(&html_escape(&pretty_json(v))),
        None => html_escape(&String::from_utf8_lossy(&bytes)),
    };
    let status = parts.status;

    let (csrf_secret, new_cookie) = csrf_secret(&request.headers);
    let path = request.uri.path().to_owned();
    let full_path = request
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| path.clone());

    let mut shown: Vec<(String, String)> = vec![
        ("Allow".into(), view.allow.to_owned()),
        (
            "Content-Type".into(),
            header_text(&parts.headers, header::CONTENT_TYPE)
                .unwrap_or_else(|| "application/json".into()),
        ),
        ("Vary".into(), "Accept".into()),
    ];
    for (name, shown_as) in [
        (header::LOCATION, "Location"),
        (header::WWW_AUTHENTICATE, "WWW-Authenticate"),
    ] {
        if let Some(v) = header_text(&parts.headers, name) {
            shown.push((shown_as.into(), v));
        }
    }
    if status == StatusCode::NO_CONTENT {
        shown.retain(|(n, _)| n != "Content-Type");
    }

    let forms = forms::build(&view, &request, status, data.as_ref());
    let permitted = |m: &Method| request.permitted.contains(m);
    let (next_url, previous_url) = page_links(data.as_ref());
    let ctx = context! {
        title => &config.title,
        static_url => &config.static_url,
        home_url => &config.home_url,
        name => view.name,
        description => view.description,
        user => request.identity.user().map(|u| u.username.clone()),
        login_url => config.login_url.as_ref().map(|u| login_link(u, &full_path)),
        logout_url => config.logout_url.as_ref().map(|u| login_link(u, &path)),
        csrf_token => csrf::mask(&csrf_secret),
        breadcrumbs => Tpl::from(minijinja::value::Serde(breadcrumbs(&config.patterns, &path, view.name))),
        path => &path,
        parent_url => parent(&path),
        json_url => format!("{path}?format=json"),
        method => request.method.as_str(),
        status => status.as_u16(),
        reason => status.canonical_reason().unwrap_or(""),
        headers => shown,
        content => Tpl::from_safe_string(content),
        forms => Tpl::from(minijinja::value::Serde(&forms)),
        delete_allowed => permitted(&Method::DELETE) && request.method != Method::DELETE,
        next_url => next_url,
        previous_url => previous_url,
    };
    let html = render_template("api.html", ctx);
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    if new_cookie {
        set_csrf_cookie(config, &csrf_secret, &mut parts.headers);
    }
    Response::from_parts(parts, Body::from(html))
}

/// The values of the login page.
#[derive(Debug, Default)]
pub struct LoginPage<'a> {
    /// Where the form posts.
    pub action: &'a str,
    /// The `next` path carried through the form.
    pub next: &'a str,
    /// The username typed last time.
    pub username: &'a str,
    /// Errors to show above the form.
    pub errors: Vec<String>,
}

/// Renders the login page of DRF's `rest_framework.urls` (`text/html; charset=utf-8`), with
/// a CSRF token from the request's `csrftoken` cookie (set when missing).
pub fn render_login(
    config: &Browsable,
    headers: &HeaderMap,
    status: StatusCode,
    page: LoginPage<'_>,
) -> Response {
    let (secret, new_cookie) = csrf_secret(headers);
    let html = render_template(
        "login.html",
        context! {
            title => &config.title,
            static_url => &config.static_url,
            home_url => &config.home_url,
            action => page.action,
            next => page.next,
            username => page.username,
            errors => page.errors,
            csrf_token => csrf::mask(&secret),
        },
    );
    let mut response = (status, html).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    if new_cookie {
        set_csrf_cookie(config, &secret, response.headers_mut());
    }
    response
}

/// Django's `url_has_allowed_host_and_scheme` for a `?next=` target, reduced to what is
/// always safe: a local absolute path (`/x`), never `//host`, `/\host`, a scheme, or control
/// characters — so a login link cannot send the user to another site.
///
/// ```
/// use axum_drf::browsable::safe_next;
/// assert_eq!(safe_next("/api/v1/friends/?limit=2"), Some("/api/v1/friends/?limit=2"));
/// assert_eq!(safe_next("//evil.example/"), None);
/// assert_eq!(safe_next("/\\evil.example/"), None);
/// assert_eq!(safe_next("https://evil.example/"), None);
/// assert_eq!(safe_next(""), None);
/// ```
pub fn safe_next(next: &str) -> Option<&str> {
    let bytes = next.as_bytes();
    let local = bytes.first() == Some(&b'/')
        && !matches!(bytes.get(1), Some(b'/' | b'\\'))
        && !next.chars().any(|c| c.is_control() || c == '\\');
    local.then_some(next)
}

fn csrf_secret(headers: &HeaderMap) -> (String, bool) {
    let cookies = crate::cookies::cookie_header(headers);
    match get_cookie_decoded(&cookies, csrf::COOKIE_NAME) {
        Some(secret)
            if secret.len() == csrf::SECRET_LENGTH
                && secret.bytes().all(|b| b.is_ascii_alphanumeric()) =>
        {
            (secret.into_owned(), false)
        }
        _ => (csrf::new_secret(), true),
    }
}

fn set_csrf_cookie(config: &Browsable, secret: &str, headers: &mut HeaderMap) {
    let cookie = SetCookie {
        name: csrf::COOKIE_NAME,
        value: secret,
        // Django's CSRF_COOKIE_AGE: one year.
        max_age: Some(31_449_600),
        http_only: config.csrf_cookie_httponly,
        secure: config.cookie_secure,
        same_site: Some("Lax"),
        path: "/",
        domain: None,
    };
    if let Ok(v) = HeaderValue::from_str(&cookie.to_header_value()) {
        headers.append(header::SET_COOKIE, v);
    }
}

fn login_link(url: &str, next: &str) -> String {
    let next: String = form_urlencoded::byte_serialize(next.as_bytes()).collect();
    format!("{url}?next={next}")
}

fn header_text(headers: &HeaderMap, name: header::HeaderName) -> Option<String> {
    headers
        .get(name)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
}

/// DRF's browsable API indents JSON by four spaces.
fn pretty_json(v: &Value) -> String {
    let mut out = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, formatter);
    if v.serialize(&mut ser).is_err() {
        return String::new();
    }
    String::from_utf8(out).unwrap_or_default()
}

/// Escapes text for HTML element content and attribute values.
fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            _ => out.push(c),
        }
    }
    out
}

/// Makes the http(s) URLs inside quoted JSON strings clickable (DRF's `urlize_quoted_links`).
/// Runs on already-escaped text, so the link text and `href` stay escaped.
fn linkify(escaped: &str) -> String {
    static LINK: OnceLock<regex::Regex> = OnceLock::new();
    let re = LINK.get_or_init(|| {
        regex::Regex::new(r"&quot;(https?://(?:[^&<>\s]|&amp;)+?)&quot;").expect("valid regex")
    });
    re.replace_all(escaped, r#"&quot;<a href="$1" rel="nofollow">$1</a>&quot;"#)
        .into_owned()
}

fn page_links(data: Option<&Value>) -> (Option<String>, Option<String>) {
    let link = |key: &str| {
        data.and_then(|d| d.get(key))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    (link("next"), link("previous"))
}

/// Each prefix of `path` that is a route, labelled by its last segment; the page itself by
/// the view's name.
fn breadcrumbs(patterns: &[String], path: &str, name: &str) -> Vec<Crumb> {
    let mut crumbs = Vec::new();
    let mut prefix = String::from("/");
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    for (i, segment) in segments.iter().enumerate() {
        prefix.push_str(segment);
        prefix.push('/');
        let last = i + 1 == segments.len();
        if last {
            crumbs.push(Crumb {
                label: name.to_owned(),
                url: prefix.clone(),
            });
        } else if patterns.iter().any(|p| matches(p, &prefix)) {
            crumbs.push(Crumb {
                label: (*segment).to_owned(),
                url: prefix.clone(),
            });
        }
    }
    crumbs
}

fn parent(path: &str) -> String {
    let trimmed = path.trim_end_matches('/');
    match trimmed.rsplit_once('/') {
        Some((head, _)) => format!("{head}/"),
        None => "/".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_made_clickable_after_escaping() {
        let text = html_escape(r#"{"next": "http://h/api/?limit=1&offset=2", "name": "<b>"}"#);
        let html = linkify(&text);
        assert!(html.contains(r#"<a href="http://h/api/?limit=1&amp;offset=2" rel="nofollow">"#));
        assert!(html.contains("&lt;b&gt;"));
        assert!(!html.contains("<b>"));
    }

    #[test]
    fn breadcrumbs_follow_routes() {
        let patterns = vec!["/api/v1/".to_owned(), "/api/v1/friends/".to_owned()];
        let crumbs = breadcrumbs(&patterns, "/api/v1/friends/5/", "Friend Instance");
        let labels: Vec<_> = crumbs.iter().map(|c| c.label.as_str()).collect();
        assert_eq!(labels, ["v1", "friends", "Friend Instance"]);
        assert_eq!(parent("/api/v1/friends/5/"), "/api/v1/friends/");
    }
}
