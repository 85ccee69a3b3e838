//! Django's CSRF check, as DRF's `SessionAuthentication.enforce_csrf` runs it.
//!
//! DRF builds a `CsrfViewMiddleware` subclass whose `_reject` returns the
//! reason, runs `process_request` then `process_view`, and turns a reason into
//! `PermissionDenied("CSRF Failed: <reason>")`. [`check`] reproduces that
//! `process_view` path of Django 5.2 (`django/middleware/csrf.py`) with
//! Django's default CSRF settings, which are the ones the reference server
//! uses: cookie `csrftoken`, header `X-CSRFToken`, `CSRF_USE_SESSIONS = False`,
//! `CSRF_COOKIE_DOMAIN = None`.
//!
//! Strings are compared the way Python compares them after WSGI decoding:
//! header values are Latin-1 text (one `char` per byte, see [`wsgi_header`]),
//! lengths are counted in characters, and URLs are split with an exact port of
//! Python 3.11's `urllib.parse.urlsplit`, because the reason texts echo the
//! re-assembled URL and must match byte for byte.

use std::borrow::Cow;

use rand::Rng;
use subtle::ConstantTimeEq;

/// Length of a CSRF secret (the cookie value), `CSRF_SECRET_LENGTH`.
pub const SECRET_LENGTH: usize = 32;
/// Length of a masked token, `CSRF_TOKEN_LENGTH`.
pub const TOKEN_LENGTH: usize = 2 * SECRET_LENGTH;
/// Django's `CSRF_ALLOWED_CHARS`: `string.ascii_letters + string.digits`, in
/// that order (the order matters: masking adds alphabet indices).
pub const ALLOWED_CHARS: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/// Name of the cookie holding the secret (`CSRF_COOKIE_NAME`).
pub const COOKIE_NAME: &str = "csrftoken";
/// Request header carrying the token (`CSRF_HEADER_NAME = "HTTP_X_CSRFTOKEN"`).
pub const HEADER_NAME: &str = "x-csrftoken";
/// Form field carrying the token in form-encoded and multipart POST bodies.
pub const FORM_FIELD: &str = "csrfmiddlewaretoken";

/// `REASON_NO_REFERER`.
pub const REASON_NO_REFERER: &str = "Referer checking failed - no Referer.";
/// `REASON_MALFORMED_REFERER`.
pub const REASON_MALFORMED_REFERER: &str = "Referer checking failed - Referer is malformed.";
/// `REASON_INSECURE_REFERER`.
pub const REASON_INSECURE_REFERER: &str =
    "Referer checking failed - Referer is insecure while host is secure.";
/// `REASON_NO_CSRF_COOKIE`.
pub const REASON_NO_CSRF_COOKIE: &str = "CSRF cookie not set.";
/// `REASON_CSRF_TOKEN_MISSING`.
pub const REASON_CSRF_TOKEN_MISSING: &str = "CSRF token missing.";

/// How Django's `_bad_token_message` names the header: `CSRF_HEADER_NAME`
/// run through `HttpHeaders.parse_header_name` (`"X-Csrftoken"`) and `repr()`.
const HEADER_SOURCE: &str = "the 'X-Csrftoken' HTTP header";
/// Django's `"GET", "HEAD", "OPTIONS", "TRACE"` – "safe" per RFC 9110.
const SAFE_METHODS: [&str; 4] = ["GET", "HEAD", "OPTIONS", "TRACE"];

/// Inputs of one CSRF check (borrowed from the request).
///
/// Fill the header fields with [`wsgi_header`] so they hold what Django sees
/// in `request.META` (Latin-1 text, repeated headers joined with `,`).
#[derive(Debug, Clone, Copy)]
pub struct CsrfRequest<'a> {
    /// Request method; GET/HEAD/OPTIONS/TRACE always pass. Compared
    /// upper-cased because Django upper-cases `REQUEST_METHOD`.
    pub method: &'a str,
    /// Request came over HTTPS (or a trusted proxy said so):
    /// `request.is_secure()`.
    pub is_secure: bool,
    /// What `request.get_host()` returns: the Host header as sent
    /// (`"127.0.0.1:8000"`), already validated against `ALLOWED_HOSTS` (Django
    /// answers 400 earlier otherwise). `None` behaves like `DisallowedHost`:
    /// the same-origin shortcut is skipped and secure Referer checks fail.
    pub host: Option<&'a str>,
    /// `Origin` header; presence alone triggers origin checking, even if empty.
    pub origin: Option<&'a str>,
    /// `Referer` header; only consulted for secure requests without `Origin`.
    pub referer: Option<&'a str>,
    /// Value of the `csrftoken` cookie, if any, as Django's `parse_cookie`
    /// yields it (use `cookies::get_cookie_decoded`).
    pub cookie_token: Option<&'a str>,
    /// `X-CSRFToken` header.
    pub header_token: Option<&'a str>,
    /// `csrfmiddlewaretoken` field of a form-encoded/multipart POST body
    /// (Django reads `request.POST` only for POST with form content types;
    /// for other methods this field is ignored). If the field repeats, pass
    /// the last value, as `QueryDict.get` does.
    pub form_token: Option<&'a str>,
    /// `CSRF_TRUSTED_ORIGINS`, e.g. `"https://app.example.com"`, may contain
    /// `"https://*.example.com"`.
    pub trusted_origins: &'a [String],
}

/// Runs Django's CSRF check on one request.
///
/// Returns `Ok(())` or `Err(reason)` with Django's exact reason text, e.g.
/// `"CSRF token missing."`; the caller prefixes `"CSRF Failed: "` as DRF does.
/// Order as in `CsrfViewMiddleware.process_view`: safe methods pass; an
/// `Origin` header must be verified; otherwise secure requests need a good
/// `Referer`; then the cookie must exist and be well formed; then the POST
/// field (or, when absent/empty, the header) must be well formed and match.
///
/// ```
/// use axum_drf::auth::csrf::{check, mask, new_secret, CsrfRequest};
///
/// let secret = new_secret();
/// let token = mask(&secret);
/// let mut req = CsrfRequest {
///     method: "POST",
///     is_secure: false,
///     host: Some("127.0.0.1:8000"),
///     origin: None,
///     referer: None,
///     cookie_token: Some(&secret),
///     header_token: Some(&token),
///     form_token: None,
///     trusted_origins: &[],
/// };
/// assert_eq!(check(&req), Ok(()));
///
/// req.origin = Some("http://evil.example.com");
/// assert_eq!(
///     check(&req).unwrap_err(),
///     "Origin checking failed - http://evil.example.com does not match any trusted origins."
/// );
/// ```
pub fn check(req: &CsrfRequest<'_>) -> Result<(), String> {
    let method = req.method.to_ascii_uppercase();
    if SAFE_METHODS.contains(&method.as_str()) {
        return Ok(());
    }
    if let Some(origin) = req.origin {
        if !origin_verified(req, origin) {
            return Err(format!(
                "Origin checking failed - {origin} does not match any trusted origins."
            ));
        }
    } else if req.is_secure {
        // Without Origin, HTTPS requests need a same-site HTTPS Referer so a
        // MITM on plain HTTP cannot forge requests to the HTTPS site.
        check_referer(req)?;
    }
    check_token(req, &method)
}

/// New 32-char secret from Django's alphabet (a-zA-Z0-9), for the csrftoken
/// cookie.
///
/// Drawn uniformly from a CSPRNG, like Django's `get_random_string`.
///
/// ```
/// let secret = axum_drf::auth::csrf::new_secret();
/// assert_eq!(secret.len(), 32);
/// assert!(secret.bytes().all(|b| b.is_ascii_alphanumeric()));
/// ```
pub fn new_secret() -> String {
    random_string(SECRET_LENGTH)
}

/// Django's masked form (64 chars) of a secret, for embedding in pages;
/// [`check`] accepts both forms.
///
/// Port of `_mask_cipher_secret`: a fresh random 32-char mask followed by the
/// secret with each character shifted by the mask's character (alphabet
/// indices, mod 62). The secret must consist of [`ALLOWED_CHARS`]; any other
/// character is treated as `'a'`, which can never verify because [`check`]
/// rejects such a cookie anyway.
///
/// ```
/// use axum_drf::auth::csrf::{mask, new_secret};
///
/// let secret = new_secret();
/// let token = mask(&secret);
/// assert_eq!(token.len(), 64);
/// assert_ne!(mask(&secret), token); // a new mask every time
/// ```
pub fn mask(secret: &str) -> String {
    let mask = random_string(SECRET_LENGTH);
    mask_with(secret, &mask)
}

/// Whether a `csrftoken` cookie is present but malformed (wrong length or
/// characters).
///
/// Django's `CsrfViewMiddleware.process_request` then generates a new secret,
/// so the response to *any* request carrying such a cookie (even a GET, even
/// a 401/403) gets a fresh `csrftoken` `Set-Cookie` (and `Cookie` in `Vary`),
/// as observed on the reference. A valid 64-char legacy cookie is not
/// rewritten.
///
/// ```
/// use axum_drf::auth::csrf::cookie_is_malformed;
///
/// assert!(cookie_is_malformed(Some("bad")));
/// assert!(!cookie_is_malformed(Some("maaJEsu4CwTrGHhBdb2ikcazmaQMy1NC")));
/// assert!(!cookie_is_malformed(None));
/// ```
pub fn cookie_is_malformed(cookie_token: Option<&str>) -> bool {
    cookie_token.is_some_and(|c| token_format_error(c).is_some())
}

/// Returns the header's value the way Django finds it in `request.META`
/// behind gunicorn: bytes decoded as Latin-1 (PEP 3333), repeated headers
/// joined with `","`. `None` if the header is absent.
///
/// Latin-1 matters because Django echoes `Origin` and `Referer` in reasons,
/// and a non-ASCII header must not turn into "absent".
///
/// ```
/// use axum_drf::auth::csrf::wsgi_header;
/// use http::{HeaderMap, HeaderValue};
///
/// let mut headers = HeaderMap::new();
/// headers.append("origin", HeaderValue::from_static("http://a"));
/// headers.append("origin", HeaderValue::from_static("http://b"));
/// assert_eq!(wsgi_header(&headers, "origin").as_deref(), Some("http://a,http://b"));
/// assert_eq!(wsgi_header(&headers, "referer"), None);
/// ```
pub fn wsgi_header<K: http::header::AsHeaderName>(
    headers: &http::HeaderMap,
    name: K,
) -> Option<String> {
    let mut values = headers.get_all(name).iter().peekable();
    values.peek()?;
    let mut out = String::new();
    for (i, value) in values.enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.extend(value.as_bytes().iter().map(|&b| char::from(b)));
    }
    Some(out)
}

fn random_string(len: usize) -> String {
    let chars = ALLOWED_CHARS.as_bytes();
    let mut rng = rand::thread_rng();
    (0..len)
        .map(|_| char::from(chars[rng.gen_range(0..chars.len())]))
        .collect()
}

fn alphabet_index(c: char) -> Option<usize> {
    // ASCII-only alphabet, so the byte position is the character position.
    u8::try_from(c)
        .ok()
        .and_then(|b| ALLOWED_CHARS.bytes().position(|a| a == b))
}

fn alphabet_char(i: usize) -> char {
    char::from(ALLOWED_CHARS.as_bytes()[i % ALLOWED_CHARS.len()])
}

/// `_mask_cipher_secret` with a given mask; `zip` semantics (stops at the
/// shorter input) are kept so odd inputs behave as in Python.
fn mask_with(secret: &str, mask: &str) -> String {
    let cipher: String = secret
        .chars()
        .zip(mask.chars())
        .map(|(s, m)| {
            alphabet_char(alphabet_index(s).unwrap_or(0) + alphabet_index(m).unwrap_or(0))
        })
        .collect();
    format!("{mask}{cipher}")
}

/// `_unmask_cipher_token`; only called on validated 64-char tokens.
fn unmask(token: &str) -> String {
    let (mask, cipher) = token.split_at(SECRET_LENGTH);
    let n = ALLOWED_CHARS.len();
    cipher
        .chars()
        .zip(mask.chars())
        .map(|(c, m)| {
            // Python's `chars[x - y]` wraps negative indices; add n instead.
            alphabet_char(alphabet_index(c).unwrap_or(0) + n - alphabet_index(m).unwrap_or(0))
        })
        .collect()
}

/// `_check_token_format`: the reason phrase if the token is malformed.
fn token_format_error(token: &str) -> Option<&'static str> {
    let len = token.chars().count();
    if len != SECRET_LENGTH && len != TOKEN_LENGTH {
        return Some("has incorrect length");
    }
    if token.chars().any(|c| !c.is_ascii_alphanumeric()) {
        return Some("has invalid characters");
    }
    None
}

/// `_does_token_match` for a validated token and secret; constant time so the
/// comparison does not leak how much of the secret an attacker guessed.
fn token_matches(token: &str, secret: &str) -> bool {
    let token: Cow<'_, str> = if token.len() == TOKEN_LENGTH {
        Cow::Owned(unmask(token))
    } else {
        Cow::Borrowed(token)
    };
    token.as_bytes().ct_eq(secret.as_bytes()).into()
}

fn check_token(req: &CsrfRequest<'_>, method: &str) -> Result<(), String> {
    // `_get_secret`: a malformed cookie is reported before anything else
    // about tokens.
    let secret = match req.cookie_token {
        None => return Err(REASON_NO_CSRF_COOKIE.to_owned()),
        Some(cookie) => {
            if let Some(reason) = token_format_error(cookie) {
                return Err(format!("CSRF cookie {reason}."));
            }
            // Django < 4.0 stored the masked form in the cookie.
            if cookie.len() == TOKEN_LENGTH {
                unmask(cookie)
            } else {
                cookie.to_owned()
            }
        }
    };

    // `request.POST` is only read for POST; an empty field falls back to the
    // header (Django tests `== ""`).
    let form = if method == "POST" {
        req.form_token.unwrap_or("")
    } else {
        ""
    };
    let (token, source) = if form.is_empty() {
        match req.header_token {
            Some(header) => (header, HEADER_SOURCE),
            None => return Err(REASON_CSRF_TOKEN_MISSING.to_owned()),
        }
    } else {
        (form, "POST")
    };

    if let Some(reason) = token_format_error(token) {
        return Err(format!("CSRF token from {source} {reason}."));
    }
    if !token_matches(token, &secret) {
        return Err(format!("CSRF token from {source} incorrect."));
    }
    Ok(())
}

/// `CsrfViewMiddleware._origin_verified`.
fn origin_verified(req: &CsrfRequest<'_>, origin: &str) -> bool {
    if let Some(host) = req.host {
        let scheme = if req.is_secure { "https" } else { "http" };
        // Exact string comparison, as Django does: no case folding, no
        // default-port normalisation.
        if origin
            .strip_prefix(scheme)
            .and_then(|r| r.strip_prefix("://"))
            == Some(host)
        {
            return true;
        }
    }
    if req
        .trusted_origins
        .iter()
        .any(|t| !t.contains('*') && t == origin)
    {
        return true;
    }
    let Ok(parsed) = urlsplit(origin) else {
        return false;
    };
    req.trusted_origins
        .iter()
        .filter(|t| t.contains('*'))
        // Django would fail at startup on an unparsable setting; skip it.
        .filter_map(|t| urlsplit(t).ok())
        .filter(|t| t.scheme == parsed.scheme)
        .any(|t| is_same_domain(&parsed.netloc, t.netloc.trim_start_matches('*')))
}

/// `CsrfViewMiddleware._check_referer` with `CSRF_COOKIE_DOMAIN = None`.
fn check_referer(req: &CsrfRequest<'_>) -> Result<(), String> {
    let referer = req.referer.ok_or(REASON_NO_REFERER)?;
    let referer = urlsplit(referer).map_err(|()| REASON_MALFORMED_REFERER)?;
    if referer.scheme.is_empty() || referer.netloc.is_empty() {
        return Err(REASON_MALFORMED_REFERER.to_owned());
    }
    if referer.scheme != "https" {
        return Err(REASON_INSECURE_REFERER.to_owned());
    }
    // Trusted origins count as hosts here regardless of their scheme.
    let trusted = req
        .trusted_origins
        .iter()
        .filter_map(|t| urlsplit(t).ok())
        .any(|t| is_same_domain(&referer.netloc, t.netloc.trim_start_matches('*')));
    if trusted {
        return Ok(());
    }
    match req.host {
        Some(host) if is_same_domain(&referer.netloc, host) => Ok(()),
        _ => Err(format!(
            "Referer checking failed - {} does not match any trusted origins.",
            referer.geturl()
        )),
    }
}

/// `django.utils.http.is_same_domain`: only the pattern is lower-cased, so
/// an upper-case host never matches (as in Django).
fn is_same_domain(host: &str, pattern: &str) -> bool {
    if pattern.is_empty() {
        return false;
    }
    let pattern = pattern.to_lowercase();
    match pattern.strip_prefix('.') {
        Some(bare) => host.ends_with(&pattern) || host == bare || pattern == host,
        None => pattern == host,
    }
}

/// The parts of Python's `SplitResult` that the checks use.
#[derive(Debug, PartialEq, Eq)]
struct SplitUrl {
    scheme: String,
    netloc: String,
    path: String,
    query: String,
    fragment: String,
}

/// Python's `uses_netloc`; decides whether `geturl` re-adds `//`.
const USES_NETLOC: [&str; 26] = [
    "", "ftp", "http", "gopher", "nntp", "telnet", "imap", "wais", "file", "mms", "https", "shttp",
    "snews", "prospero", "rtsp", "rtsps", "rtspu", "rsync", "svn", "svn+ssh", "sftp", "nfs", "git",
    "git+ssh", "ws", "wss",
];

/// Characters whose NFKC form contains one of `/?#@:` (Unicode 14, Python
/// 3.11's `unicodedata`); `_checknetloc` rejects netlocs containing them.
const NFKC_NETLOC_BREAKERS: [char; 19] = [
    '\u{2047}', '\u{2048}', '\u{2049}', '\u{2100}', '\u{2101}', '\u{2105}', '\u{2106}', '\u{2A74}',
    '\u{FE13}', '\u{FE16}', '\u{FE55}', '\u{FE56}', '\u{FE5F}', '\u{FE6B}', '\u{FF03}', '\u{FF0F}',
    '\u{FF1A}', '\u{FF1F}', '\u{FF20}',
];

impl SplitUrl {
    /// `SplitResult.geturl()` (`urlunsplit`).
    fn geturl(&self) -> String {
        let mut url = self.path.clone();
        if !self.netloc.is_empty()
            || (!self.scheme.is_empty()
                && USES_NETLOC.contains(&self.scheme.as_str())
                && !url.starts_with("//"))
        {
            if !url.is_empty() && !url.starts_with('/') {
                url.insert(0, '/');
            }
            url = format!("//{}{url}", self.netloc);
        }
        if !self.scheme.is_empty() {
            url = format!("{}:{url}", self.scheme);
        }
        if !self.query.is_empty() {
            url.push('?');
            url.push_str(&self.query);
        }
        if !self.fragment.is_empty() {
            url.push('#');
            url.push_str(&self.fragment);
        }
        url
    }
}

/// Port of Python 3.11.7's `urllib.parse.urlsplit` (`allow_fragments=True`);
/// `Err(())` where Python raises `ValueError`.
fn urlsplit(url: &str) -> Result<SplitUrl, ()> {
    // WHATWG: strip leading C0 controls and space, drop tab/CR/LF anywhere.
    let url: String = url
        .trim_start_matches(|c: char| c <= ' ')
        .chars()
        .filter(|c| !matches!(c, '\t' | '\r' | '\n'))
        .collect();
    let mut rest = url.as_str();
    let mut scheme = String::new();
    if let Some(i) = rest.find(':') {
        let candidate = &rest[..i];
        let starts_alpha = candidate
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic());
        if starts_alpha
            && candidate
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        {
            scheme = candidate.to_ascii_lowercase();
            rest = &rest[i + 1..];
        }
    }
    let mut netloc = "";
    if let Some(after) = rest.strip_prefix("//") {
        let end = after.find(['/', '?', '#']).unwrap_or(after.len());
        netloc = &after[..end];
        rest = &after[end..];
        let (open, close) = (netloc.contains('['), netloc.contains(']'));
        if open != close {
            return Err(());
        }
        if open {
            let inside = netloc.split_once('[').map_or("", |(_, r)| r);
            let bracketed = inside.split_once(']').map_or(inside, |(h, _)| h);
            if !bracketed_host_ok(bracketed) {
                return Err(());
            }
        }
    }
    let (rest, fragment) = rest.split_once('#').unwrap_or((rest, ""));
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    if netloc.chars().any(|c| NFKC_NETLOC_BREAKERS.contains(&c)) {
        return Err(());
    }
    Ok(SplitUrl {
        scheme,
        netloc: netloc.to_owned(),
        path: path.to_owned(),
        query: query.to_owned(),
        fragment: fragment.to_owned(),
    })
}

/// `_check_bracketed_host`: IPvFuture (`v<hex>.<anything>`) or an IPv6
/// address as Python's `ipaddress` parses it (IPv4 in brackets is rejected).
fn bracketed_host_ok(host: &str) -> bool {
    if let Some(rest) = host.strip_prefix('v') {
        // `\Av[a-fA-F0-9]+\..+\Z`; `.` excludes only '\n', already removed.
        return match rest.split_once('.') {
            Some((hex, tail)) => {
                !hex.is_empty() && hex.chars().all(|c| c.is_ascii_hexdigit()) && !tail.is_empty()
            }
            None => false,
        };
    }
    parse_ipv4(host).is_none() && is_python_ipv6(host)
}

/// `IPv4Address._ip_int_from_string`: exactly four decimal octets, no
/// leading zeros.
fn parse_ipv4(s: &str) -> Option<u32> {
    let octets: Vec<&str> = s.split('.').collect();
    if octets.len() != 4 {
        return None;
    }
    octets.iter().try_fold(0u32, |acc, o| {
        let valid = !o.is_empty()
            && o.len() <= 3
            && o.bytes().all(|b| b.is_ascii_digit())
            && (*o == "0" || !o.starts_with('0'));
        if !valid {
            return None;
        }
        let value: u32 = o.parse().ok()?;
        (value <= 255).then_some((acc << 8) | value)
    })
}

/// `IPv6Address(str)` succeeds: optional `%scope`, `::` rules and IPv4 tail
/// exactly as in Python's `ipaddress`.
fn is_python_ipv6(s: &str) -> bool {
    if s.contains('/') {
        return false;
    }
    let addr = match s.split_once('%') {
        Some((_, scope)) if scope.is_empty() || scope.contains('%') => return false,
        Some((addr, _)) => addr,
        None => s,
    };
    if addr.is_empty() {
        return false;
    }
    let mut parts: Vec<Cow<'_, str>> = addr.split(':').map(Cow::Borrowed).collect();
    if parts.len() < 3 {
        return false;
    }
    if parts.last().is_some_and(|p| p.contains('.')) {
        let Some(v4) = parts.pop().and_then(|p| parse_ipv4(&p)) else {
            return false;
        };
        parts.push(Cow::Owned(format!("{:x}", v4 >> 16)));
        parts.push(Cow::Owned(format!("{:x}", v4 & 0xFFFF)));
    }
    if parts.len() > 9 {
        return false;
    }
    let mut skip_index = None;
    for (i, part) in parts.iter().enumerate().take(parts.len() - 1).skip(1) {
        if part.is_empty() {
            if skip_index.is_some() {
                return false;
            }
            skip_index = Some(i);
        }
    }
    let (parts_hi, parts_lo) = match skip_index {
        Some(skip) => {
            let mut hi = skip;
            let mut lo = parts.len() - skip - 1;
            if parts[0].is_empty() {
                hi -= 1;
                if hi != 0 {
                    return false;
                }
            }
            if parts[parts.len() - 1].is_empty() {
                lo -= 1;
                if lo != 0 {
                    return false;
                }
            }
            if hi + lo >= 8 {
                return false;
            }
            (hi, lo)
        }
        None => {
            if parts.len() != 8 {
                return false;
            }
            (8, 0)
        }
    };
    let hextet_ok =
        |p: &str| !p.is_empty() && p.len() <= 4 && p.bytes().all(|b| b.is_ascii_hexdigit());
    parts[..parts_hi].iter().all(|p| hextet_ok(p))
        && parts[parts.len() - parts_lo..].iter().all(|p| hextet_ok(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "maaJEsu4CwTrGHhBdb2ikcazmaQMy1NC";
    const OTHER: &str = "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB";

    fn base<'a>() -> CsrfRequest<'a> {
        CsrfRequest {
            method: "POST",
            is_secure: false,
            host: Some("127.0.0.1:8001"),
            origin: None,
            referer: None,
            cookie_token: Some(SECRET),
            header_token: Some(SECRET),
            form_token: None,
            trusted_origins: &[],
        }
    }

    fn secure<'a>() -> CsrfRequest<'a> {
        CsrfRequest {
            is_secure: true,
            referer: Some("https://127.0.0.1:8001/page"),
            ..base()
        }
    }

    /// Every reason below was produced by the reference server (Django 5.2.19
    /// with DRF 3.18.3 behind gunicorn) for `POST /api/v1/belongings/` with a
    /// valid session, the request shaped like the `CsrfRequest` here; "secure"
    /// means `X-Forwarded-Proto: https` sent from localhost, which gunicorn
    /// trusts. `None` means the CSRF check passed.
    #[test]
    fn reasons_confirmed_against_reference() {
        let masked_other = mask_with(OTHER, &"A".repeat(32));
        let masked_ok = mask_with(SECRET, &"x9".repeat(16));
        let legacy_cookie = mask_with(SECRET, &"q".repeat(32));
        let bad_chars_64 = "-".repeat(64);
        let bang_32 = "!".repeat(32);
        let bang_33 = "!".repeat(33);
        let underscores = "_".repeat(32);
        let cases: Vec<(&str, CsrfRequest<'_>, Option<&str>)> = vec![
            ("no token", CsrfRequest { header_token: None, ..base() }, Some("CSRF token missing.")),
            ("no csrf cookie", CsrfRequest { cookie_token: None, ..base() }, Some("CSRF cookie not set.")),
            ("header too short", CsrfRequest { header_token: Some("abc"), ..base() },
                Some("CSRF token from the 'X-Csrftoken' HTTP header has incorrect length.")),
            ("header empty", CsrfRequest { header_token: Some(""), ..base() },
                Some("CSRF token from the 'X-Csrftoken' HTTP header has incorrect length.")),
            ("header bad chars", CsrfRequest { header_token: Some(&bang_32), ..base() },
                Some("CSRF token from the 'X-Csrftoken' HTTP header has invalid characters.")),
            ("header bad chars 64", CsrfRequest { header_token: Some(&bad_chars_64), ..base() },
                Some("CSRF token from the 'X-Csrftoken' HTTP header has invalid characters.")),
            ("length wins over chars", CsrfRequest { header_token: Some(&bang_33), ..base() },
                Some("CSRF token from the 'X-Csrftoken' HTTP header has incorrect length.")),
            ("header wrong secret", CsrfRequest { header_token: Some(OTHER), ..base() },
                Some("CSRF token from the 'X-Csrftoken' HTTP header incorrect.")),
            ("header wrong masked", CsrfRequest { header_token: Some(&masked_other), ..base() },
                Some("CSRF token from the 'X-Csrftoken' HTTP header incorrect.")),
            ("header ok", base(), None),
            ("header ok masked", CsrfRequest { header_token: Some(&masked_ok), ..base() }, None),
            ("joined repeated header", CsrfRequest {
                header_token: Some("maaJEsu4CwTrGHhBdb2ikcazmaQMy1NC,maaJEsu4CwTrGHhBdb2ikcazmaQMy1NC"), ..base() },
                Some("CSRF token from the 'X-Csrftoken' HTTP header has incorrect length.")),
            ("cookie too short", CsrfRequest { cookie_token: Some("abc"), ..base() },
                Some("CSRF cookie has incorrect length.")),
            ("cookie empty", CsrfRequest { cookie_token: Some(""), ..base() },
                Some("CSRF cookie has incorrect length.")),
            ("cookie bad chars", CsrfRequest { cookie_token: Some(&underscores), ..base() },
                Some("CSRF cookie has invalid characters.")),
            ("bad cookie beats missing token", CsrfRequest { cookie_token: Some("abc"), header_token: None, ..base() },
                Some("CSRF cookie has incorrect length.")),
            ("legacy masked cookie", CsrfRequest { cookie_token: Some(&legacy_cookie), ..base() }, None),
            ("origin evil", CsrfRequest { origin: Some("http://evil.example.com"), ..base() },
                Some("Origin checking failed - http://evil.example.com does not match any trusted origins.")),
            ("origin same", CsrfRequest { origin: Some("http://127.0.0.1:8001"), ..base() }, None),
            ("origin https on http", CsrfRequest { origin: Some("https://127.0.0.1:8001"), ..base() },
                Some("Origin checking failed - https://127.0.0.1:8001 does not match any trusted origins.")),
            ("origin empty", CsrfRequest { origin: Some(""), ..base() },
                Some("Origin checking failed -  does not match any trusted origins.")),
            ("origin null", CsrfRequest { origin: Some("null"), header_token: None, ..base() },
                Some("Origin checking failed - null does not match any trusted origins.")),
            ("origin before cookie", CsrfRequest { origin: Some("http://evil.example.com"), cookie_token: None, header_token: None, ..base() },
                Some("Origin checking failed - http://evil.example.com does not match any trusted origins.")),
            ("origin ok then token", CsrfRequest { origin: Some("http://127.0.0.1:8001"), header_token: None, ..base() },
                Some("CSRF token missing.")),
            ("joined repeated origin", CsrfRequest { origin: Some("http://127.0.0.1:8001,http://127.0.0.1:8001"), ..base() },
                Some("Origin checking failed - http://127.0.0.1:8001,http://127.0.0.1:8001 does not match any trusted origins.")),
            ("origin host case", CsrfRequest { host: Some("LOCALHOST:8001"), origin: Some("http://localhost:8001"), ..base() },
                Some("Origin checking failed - http://localhost:8001 does not match any trusted origins.")),
            ("origin no port", CsrfRequest { host: Some("localhost"), origin: Some("http://localhost"), ..base() }, None),
            ("referer ignored on http", CsrfRequest { referer: Some("http://evil.example.com/"), ..base() }, None),
            ("secure no referer", CsrfRequest { referer: None, ..secure() },
                Some("Referer checking failed - no Referer.")),
            ("secure http referer", CsrfRequest { referer: Some("http://127.0.0.1:8001/"), ..secure() },
                Some("Referer checking failed - Referer is insecure while host is secure.")),
            ("secure ftp referer", CsrfRequest { referer: Some("ftp://127.0.0.1:8001/"), ..secure() },
                Some("Referer checking failed - Referer is insecure while host is secure.")),
            ("secure garbage referer", CsrfRequest { referer: Some("garbage"), ..secure() },
                Some("Referer checking failed - Referer is malformed.")),
            ("secure empty referer", CsrfRequest { referer: Some(""), ..secure() },
                Some("Referer checking failed - Referer is malformed.")),
            ("secure schemeless referer", CsrfRequest { referer: Some("//127.0.0.1:8001/"), ..secure() },
                Some("Referer checking failed - Referer is malformed.")),
            ("secure no netloc", CsrfRequest { referer: Some("https:///x"), ..secure() },
                Some("Referer checking failed - Referer is malformed.")),
            ("secure unclosed ipv6", CsrfRequest { referer: Some("https://[::1/"), ..secure() },
                Some("Referer checking failed - Referer is malformed.")),
            ("secure bracketed ipv4", CsrfRequest { referer: Some("https://[1.2.3.4]/"), ..secure() },
                Some("Referer checking failed - Referer is malformed.")),
            ("secure evil, url normalised", CsrfRequest { referer: Some("HTTPS://evil.example.com/x?#"), ..secure() },
                Some("Referer checking failed - https://evil.example.com/x does not match any trusted origins.")),
            ("secure evil, query and fragment", CsrfRequest { referer: Some("https://evil.example.com/a b?q=1#frag"), ..secure() },
                Some("Referer checking failed - https://evil.example.com/a b?q=1#frag does not match any trusted origins.")),
            ("secure tab removed", CsrfRequest { referer: Some("https://evil.exa\tmple.com/p"), ..secure() },
                Some("Referer checking failed - https://evil.example.com/p does not match any trusted origins.")),
            ("secure ipvfuture", CsrfRequest { referer: Some("https://[v1.x]/x"), ..secure() },
                Some("Referer checking failed - https://[v1.x]/x does not match any trusted origins.")),
            ("secure ipv6", CsrfRequest { referer: Some("https://[::1]:8001/x?"), ..secure() },
                Some("Referer checking failed - https://[::1]:8001/x does not match any trusted origins.")),
            ("secure latin-1", CsrfRequest { referer: Some("https://\u{e9}vil.com/\u{bd}"), ..secure() },
                Some("Referer checking failed - https://\u{e9}vil.com/\u{bd} does not match any trusted origins.")),
            ("secure userinfo", CsrfRequest { referer: Some("https://user@127.0.0.1:8001/"), ..secure() },
                Some("Referer checking failed - https://user@127.0.0.1:8001/ does not match any trusted origins.")),
            ("secure host case", CsrfRequest { host: Some("localhost:8001"), referer: Some("https://LOCALHOST:8001/page"), ..secure() },
                Some("Referer checking failed - https://LOCALHOST:8001/page does not match any trusted origins.")),
            ("secure referer ok", secure(), None),
            ("secure referer ok, no token", CsrfRequest { header_token: None, ..secure() },
                Some("CSRF token missing.")),
            ("secure referer ok, bad cookie", CsrfRequest { cookie_token: Some("abc"), header_token: None, ..secure() },
                Some("CSRF cookie has incorrect length.")),
            ("secure origin same", CsrfRequest { referer: None, origin: Some("https://127.0.0.1:8001"), ..secure() }, None),
            ("secure origin http", CsrfRequest { referer: None, origin: Some("http://127.0.0.1:8001"), ..secure() },
                Some("Origin checking failed - http://127.0.0.1:8001 does not match any trusted origins.")),
            ("secure origin evil", CsrfRequest { referer: None, origin: Some("https://evil.com"), ..secure() },
                Some("Origin checking failed - https://evil.com does not match any trusted origins.")),
            ("form wrong", CsrfRequest { header_token: None, form_token: Some(OTHER), ..base() },
                Some("CSRF token from POST incorrect.")),
            ("form too short", CsrfRequest { header_token: None, form_token: Some("abc"), ..base() },
                Some("CSRF token from POST has incorrect length.")),
            ("form bad chars", CsrfRequest { header_token: None, form_token: Some(&bang_32), ..base() },
                Some("CSRF token from POST has invalid characters.")),
            ("empty form falls back to header", CsrfRequest { header_token: Some(OTHER), form_token: Some(""), ..base() },
                Some("CSRF token from the 'X-Csrftoken' HTTP header incorrect.")),
            ("form wins over header", CsrfRequest { header_token: Some(SECRET), form_token: Some(OTHER), ..base() },
                Some("CSRF token from POST incorrect.")),
            ("form ok", CsrfRequest { header_token: None, form_token: Some(SECRET), ..base() }, None),
            ("PUT", CsrfRequest { method: "PUT", header_token: None, ..base() }, Some("CSRF token missing.")),
            ("PATCH", CsrfRequest { method: "PATCH", header_token: None, ..base() }, Some("CSRF token missing.")),
            ("DELETE", CsrfRequest { method: "DELETE", header_token: None, ..base() }, Some("CSRF token missing.")),
            ("unknown method", CsrfRequest { method: "FOO", header_token: None, ..base() }, Some("CSRF token missing.")),
            ("GET", CsrfRequest { method: "GET", header_token: None, ..base() }, None),
            ("HEAD", CsrfRequest { method: "HEAD", header_token: None, ..base() }, None),
            ("OPTIONS", CsrfRequest { method: "OPTIONS", header_token: None, ..base() }, None),
        ];
        for (name, req, want) in cases {
            assert_eq!(check(&req).err().as_deref(), want, "case {name:?}");
        }
    }

    #[test]
    fn malformed_cookie_detection() {
        assert!(cookie_is_malformed(Some("")));
        assert!(cookie_is_malformed(Some(&"_".repeat(32))));
        assert!(!cookie_is_malformed(Some(&mask(SECRET))));
    }

    #[test]
    fn form_token_only_read_for_post() {
        let req = CsrfRequest {
            method: "PUT",
            header_token: None,
            form_token: Some(SECRET),
            ..base()
        };
        assert_eq!(check(&req).unwrap_err(), REASON_CSRF_TOKEN_MISSING);
    }

    #[test]
    fn method_is_upper_cased_like_django() {
        let req = CsrfRequest {
            method: "get",
            header_token: None,
            ..base()
        };
        assert_eq!(check(&req), Ok(()));
    }

    #[test]
    fn mask_round_trips_and_matches_django_vectors() {
        // Vectors from Django's _mask_cipher_secret/_unmask_cipher_token with
        // _get_new_csrf_string patched to return a fixed mask.
        let a32 = "A".repeat(32);
        assert_eq!(mask_with(OTHER, &a32), format!("{a32}{}", "1".repeat(32)));
        assert_eq!(
            mask_with(SECRET, &a32),
            format!("{a32}MAA94SUu2WjR67H1DBsIKCAZMAgcYrd2")
        );
        let x9 = "x9".repeat(16);
        assert_eq!(
            mask_with(SECRET, &x9),
            format!("{x9}J9xI1rR3Zvgq3GEAAaphHbxyJ9dLV0aB")
        );
        // Negative differences wrap around the alphabet, as Python's
        // negative indexing does.
        assert_eq!(
            unmask(&format!("{}{}", "0".repeat(32), "a".repeat(32))),
            "k".repeat(32)
        );
        for _ in 0..50 {
            let secret = new_secret();
            let token = mask(&secret);
            assert_eq!(token.len(), TOKEN_LENGTH);
            assert!(token_format_error(&token).is_none());
            assert_eq!(unmask(&token), secret);
            assert!(token_matches(&token, &secret));
            assert!(token_matches(&secret, &secret));
            let req = CsrfRequest {
                cookie_token: Some(&secret),
                header_token: Some(&token),
                ..base()
            };
            assert_eq!(check(&req), Ok(()));
            // A masked cookie (Django < 4.0) unmasks to the same secret.
            let req = CsrfRequest {
                cookie_token: Some(&token),
                header_token: Some(&secret),
                ..base()
            };
            assert_eq!(check(&req), Ok(()));
        }
    }

    #[test]
    fn new_secret_uses_whole_alphabet() {
        let joined: String = (0..200).map(|_| new_secret()).collect();
        for c in ALLOWED_CHARS.chars() {
            assert!(joined.contains(c), "{c} never drawn");
        }
    }

    #[test]
    fn lengths_count_characters_not_bytes() {
        // 32 Latin-1 characters are 64 UTF-8 bytes; Python sees 32 chars.
        let accented = "\u{e9}".repeat(32);
        let req = CsrfRequest {
            header_token: Some(&accented),
            ..base()
        };
        assert_eq!(
            check(&req).unwrap_err(),
            "CSRF token from the 'X-Csrftoken' HTTP header has invalid characters."
        );
    }

    // Expectations of the trusted-origin tests were checked by running
    // Django's own CsrfViewMiddleware with these settings (the reference
    // server has no CSRF_TRUSTED_ORIGINS, so they cannot be probed there).
    #[test]
    fn wildcard_and_exact_trusted_origins() {
        let trusted = vec![
            "https://app.example.com".to_owned(),
            "https://*.example.org".to_owned(),
            "http://*.dev.test:8080".to_owned(),
        ];
        let cases = [
            ("https://app.example.com", true),
            ("https://APP.example.com", false),
            ("http://app.example.com", false),
            ("https://example.org", true),
            ("https://a.b.example.org", true),
            ("https://a.example.org:443", false),
            ("http://a.example.org", false),
            ("https://badexample.org", false),
            ("https://A.example.org", true),
            ("HTTPS://a.example.org", true),
            ("http://x.dev.test:8080", true),
            ("http://x.dev.test", false),
            ("https://[::1", false),
            ("https://a.example.org/path", true),
        ];
        for (origin, ok) in cases {
            let req = CsrfRequest {
                origin: Some(origin),
                trusted_origins: &trusted,
                ..base()
            };
            let want = if ok {
                Ok(())
            } else {
                Err(format!(
                    "Origin checking failed - {origin} does not match any trusted origins."
                ))
            };
            assert_eq!(check(&req), want, "origin {origin:?}");
        }
    }

    #[test]
    fn secure_referer_against_trusted_origins() {
        let trusted = vec![
            "https://app.example.com".to_owned(),
            "http://*.example.org".to_owned(),
        ];
        let cases = [
            // Trusted hosts match regardless of the trusted origin's scheme.
            ("https://app.example.com/x", None),
            ("https://deep.sub.example.org/", None),
            ("https://example.org/", None),
            ("https://Sub.example.org/", None),
            ("https://SUB.EXAMPLE.ORG/", Some("https://SUB.EXAMPLE.ORG/")),
            (
                "https://app.example.com:444/",
                Some("https://app.example.com:444/"),
            ),
            ("https://other.com/p?q#f", Some("https://other.com/p?q#f")),
        ];
        for (referer, bad) in cases {
            let req = CsrfRequest {
                referer: Some(referer),
                trusted_origins: &trusted,
                ..secure()
            };
            let want = bad.map(|url| {
                format!("Referer checking failed - {url} does not match any trusted origins.")
            });
            assert_eq!(check(&req).err(), want, "referer {referer:?}");
        }
    }

    #[test]
    fn disallowed_host_fails_secure_referer_and_same_origin() {
        let req = CsrfRequest {
            host: None,
            ..secure()
        };
        assert_eq!(
            check(&req).unwrap_err(),
            "Referer checking failed - https://127.0.0.1:8001/page does not match any trusted origins."
        );
        let req = CsrfRequest {
            host: None,
            origin: Some("http://127.0.0.1:8001"),
            ..base()
        };
        assert!(check(&req)
            .unwrap_err()
            .starts_with("Origin checking failed"));
    }

    #[test]
    fn urlsplit_matches_python() {
        let split = |u: &str| urlsplit(u).map(|s| (s.scheme.clone(), s.netloc.clone(), s.geturl()));
        let own = |a: &str, b: &str, c: &str| Ok((a.to_owned(), b.to_owned(), c.to_owned()));
        // Expected values from Python 3.11.7's urlsplit(...) / .geturl().
        assert_eq!(split(" \x01https://h/p"), own("https", "h", "https://h/p"));
        assert_eq!(split("https://h\r\n/p"), own("https", "h", "https://h/p"));
        assert_eq!(split("1http://h/"), own("", "", "1http://h/"));
        assert_eq!(split("ht_tp://h/"), own("", "", "ht_tp://h/"));
        assert_eq!(split("https:h"), own("https", "", "https:///h"));
        assert_eq!(
            split("https://h?a?b#c#d"),
            own("https", "h", "https://h?a?b#c#d")
        );
        assert_eq!(split("https://]h["), Err(()));
        assert_eq!(
            split("https://[::1%eth0]/"),
            own("https", "[::1%eth0]", "https://[::1%eth0]/")
        );
        assert_eq!(
            split("https://[::ffff:1.2.3.4]/"),
            own("https", "[::ffff:1.2.3.4]", "https://[::ffff:1.2.3.4]/")
        );
        assert_eq!(split("https://[::ffff:01.2.3.4]/"), Err(()));
        assert_eq!(split("https://[v1.]/"), Err(()));
        assert_eq!(split("https://[vz.x]/"), Err(()));
        assert_eq!(
            split("https://[1:2:3:4:5:6:7:8]/"),
            own("https", "[1:2:3:4:5:6:7:8]", "https://[1:2:3:4:5:6:7:8]/")
        );
        assert_eq!(split("https://[1:2:3:4:5:6:7::8]/"), Err(()));
        assert_eq!(split("https://[1::2::3]/"), Err(()));
        assert_eq!(
            split("https://[::1:2:3:4:5:6:7]/"),
            own("https", "[::1:2:3:4:5:6:7]", "https://[::1:2:3:4:5:6:7]/")
        );
        assert_eq!(split("https://[:1::2]/"), Err(()));
        assert_eq!(split("https://[12345::]/"), Err(()));
        assert_eq!(split("https://a\u{2100}b/"), Err(()));
        assert_eq!(
            split("https://a\u{ff0e}b/"),
            own("https", "a\u{ff0e}b", "https://a\u{ff0e}b/")
        );
    }

    #[test]
    fn is_same_domain_matches_django() {
        assert!(is_same_domain("example.com", "example.com"));
        assert!(is_same_domain("example.com", "EXAMPLE.com"));
        assert!(!is_same_domain("EXAMPLE.com", "example.com"));
        assert!(is_same_domain("a.example.com", ".example.com"));
        assert!(is_same_domain("example.com", ".example.com"));
        assert!(!is_same_domain("badexample.com", ".example.com"));
        assert!(!is_same_domain("example.com", ""));
    }

    #[test]
    fn wsgi_header_decodes_latin1() {
        let mut headers = http::HeaderMap::new();
        headers.insert(
            "referer",
            http::HeaderValue::from_bytes(b"https://\xe9vil.com/").unwrap(),
        );
        assert_eq!(
            wsgi_header(&headers, "referer").as_deref(),
            Some("https://\u{e9}vil.com/")
        );
        assert_eq!(wsgi_header(&headers, HEADER_NAME), None);
    }
}
