//! Django's `ALLOWED_HOSTS`: the `Host` header must name this site, or the request gets
//! Django's plain 400 page before anything else looks at it. Absolute links (pagination,
//! API roots) are built from the checked host only, so a forged `Host` cannot end up in them.
//!
//! The matching is Django's (`split_domain_port`, `validate_host`, `is_same_domain`),
//! hand-written for byte-identical verdicts: lower-cased, port stripped, one trailing dot
//! removed, `.example.com` matching the domain and its subdomains, `*` matching anything.
//! The patterns are normalised once, at start-up, so the per-request check is a few string
//! comparisons.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// The hosts this site answers to (Django's `ALLOWED_HOSTS`), precomputed for the edge.
///
/// ```
/// use axum_drf::hosts::AllowedHosts;
/// let hosts = AllowedHosts::new(["example.com", ".example.org"]);
/// assert!(hosts.allows("Example.COM:8000"));
/// assert!(hosts.allows("api.example.org."));
/// assert!(hosts.allows("example.org"));
/// assert!(!hosts.allows("evil.com"));
/// assert!(!hosts.allows("example.com.evil.com"));
/// assert!(AllowedHosts::new(["*"]).allows("anything.test"));
/// assert!(!AllowedHosts::new(["*"]).allows("not a host"));
/// ```
#[derive(Clone, Debug)]
pub struct AllowedHosts {
    any: bool,
    exact: Vec<String>,
    // Patterns that began with a dot, kept with the dot (`.example.com`).
    suffixes: Vec<String>,
}

impl AllowedHosts {
    /// Hosts from patterns written as in Django's setting.
    pub fn new<I, P>(patterns: I) -> Self
    where
        I: IntoIterator<Item = P>,
        P: AsRef<str>,
    {
        let mut hosts = AllowedHosts {
            any: false,
            exact: Vec::new(),
            suffixes: Vec::new(),
        };
        for pattern in patterns {
            let pattern = pattern.as_ref().to_ascii_lowercase();
            if pattern == "*" {
                hosts.any = true;
            } else if pattern.starts_with('.') {
                hosts.suffixes.push(pattern);
            } else if !pattern.is_empty() {
                hosts.exact.push(pattern);
            }
        }
        hosts
    }

    /// The default for local use: `localhost`, `127.0.0.1`, `[::1]`, plus `extra` (the host
    /// the server is bound to).
    ///
    /// ```
    /// use axum_drf::hosts::AllowedHosts;
    /// let hosts = AllowedHosts::local(Some("192.0.2.7"));
    /// assert!(hosts.allows("localhost:8000") && hosts.allows("[::1]:8000"));
    /// assert!(hosts.allows("192.0.2.7:8000") && !hosts.allows("example.com"));
    /// ```
    pub fn local(extra: Option<&str>) -> Self {
        let mut patterns = vec!["localhost", "127.0.0.1", "[::1]"];
        patterns.extend(extra);
        Self::new(patterns)
    }

    /// Whether a `Host` header value names this site (Django's `get_host()` not raising).
    pub fn allows(&self, host: &str) -> bool {
        // Lower-cased only when it has to be: clients send lower case, and the check then
        // allocates nothing.
        if host.bytes().any(|b| b.is_ascii_uppercase()) {
            return self.allows_lowercase(&host.to_ascii_lowercase());
        }
        self.allows_lowercase(host)
    }

    fn allows_lowercase(&self, host: &str) -> bool {
        let Some(domain) = split_domain(host) else {
            return false;
        };
        if self.any {
            return true;
        }
        self.exact.iter().any(|p| p == domain)
            || self
                .suffixes
                .iter()
                .any(|p| domain.ends_with(p.as_str()) || domain == &p[1..])
    }

    /// The request's `Host` if it may be used (for absolute links), else
    /// [`DisallowedHost`] (answer it with [`bad_request`]). A request without `Host`
    /// (HTTP/1.0) is let through with `None`: links then name `localhost`, never something
    /// a client chose.
    pub fn check(&self, host: Option<&HeaderValue>) -> Result<Option<HeaderValue>, DisallowedHost> {
        match host {
            None => Ok(None),
            Some(value) => match value.to_str() {
                Ok(text) if self.allows(text) => Ok(Some(value.clone())),
                _ => Err(DisallowedHost),
            },
        }
    }
}

/// Django's `split_domain_port` then trailing-dot removal on a lower-cased value: the
/// domain, or `None` when the value is not `domain[:port]` / `[ipv6][:port]`.
fn split_domain(host: &str) -> Option<&str> {
    let (domain, port) = if host.starts_with('[') {
        let end = host.find(']')?;
        let (domain, rest) = host.split_at(end + 1);
        // `\[[a-f0-9]*:[a-f0-9.:]+\]`
        let (head, tail) = domain[1..end].split_once(':')?;
        let hex = |b: u8| b.is_ascii_hexdigit() && !b.is_ascii_uppercase();
        if !head.bytes().all(hex)
            || tail.is_empty()
            || !tail.bytes().all(|b| hex(b) || b == b'.' || b == b':')
        {
            return None;
        }
        match rest {
            "" => (domain, None),
            _ => (domain, Some(rest.strip_prefix(':')?)),
        }
    } else {
        let (domain, port) = match host.split_once(':') {
            Some((d, p)) => (d, Some(p)),
            None => (host, None),
        };
        let valid = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-';
        if domain.is_empty() || !domain.bytes().all(valid) {
            return None;
        }
        (domain, port)
    };
    if port.is_some_and(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit())) {
        return None;
    }
    let domain = domain.strip_suffix('.').unwrap_or(domain);
    (!domain.is_empty()).then_some(domain)
}

/// A `Host` header this site does not answer to (Django's `DisallowedHost`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DisallowedHost;

/// Django's `bad_request` page (`DEBUG = False`), byte for byte.
pub fn bad_request() -> Response {
    const BODY: &str = "\n<!doctype html>\n<html lang=\"en\">\n<head>\n  <title>Bad Request (400)</title>\n</head>\n<body>\n  <h1>Bad Request (400)</h1><p></p>\n</body>\n</html>\n";
    let mut response = (StatusCode::BAD_REQUEST, BODY).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
}

/// The `Host` the edge checked, as a request extension; absent when the request had none.
#[derive(Clone, Debug)]
pub struct CheckedHost(pub HeaderValue);

#[cfg(test)]
mod tests {
    use super::*;

    // Verdicts from Django 5.2's `split_domain_port` + `validate_host`.
    #[test]
    fn matches_django() {
        let hosts = AllowedHosts::new(["127.0.0.1", "localhost", ".example.com", "[::1]"]);
        for (host, ok) in [
            ("localhost", true),
            ("LOCALHOST.", true),
            ("localhost.:80", true),
            ("localhost:", false),
            ("localhost:8x", false),
            ("127.0.0.1:1", true),
            ("[::1]", true),
            ("[::1]:8000", true),
            ("[::1]x", false),
            ("[::2]", false),
            ("example.com", true),
            ("a.b.example.com", true),
            ("badexample.com", false),
            ("evil.com", false),
            ("bad host", false),
            ("", false),
            (".", false),
            ("localhost..", false),
            ("[zz::1]", false),
            ("localhost/x", false),
            ("ünïcode", false),
        ] {
            assert_eq!(hosts.allows(host), ok, "{host:?}");
        }
    }
}
