//! Cookie headers exactly as Django writes and reads them.
//!
//! `Set-Cookie` values follow Python's `http.cookies.Morsel.OutputString` as
//! driven by Django's `HttpResponse.set_cookie`/`delete_cookie`: the value is
//! quoted with Python's `_quote`, attributes come in Morsel's sorted key order
//! (`Domain`, `expires`, `HttpOnly`, `Max-Age`, `Path`, `SameSite`, `Secure`)
//! and `expires` is derived from `Max-Age`. Parsing follows Django's
//! `parse_cookie`, including Python's `str.strip` and `_unquote`.
//!
//! Confirmed against the reference server (Django 5.2 behind gunicorn):
//!
//! ```text
//! csrftoken=maaJEsu4CwTrGHhBdb2ikcazmaQMy1NC; expires=Sun, 21 Nov 2027 00:51:37 GMT; Max-Age=31449600; Path=/; SameSite=Lax
//! sessionid=jpvzrq8pjk3rmrzz4b4xxofsxn0pgpcb; expires=Sun, 06 Dec 2026 00:51:37 GMT; HttpOnly; Max-Age=1209600; Path=/; SameSite=Lax
//! sessionid=""; expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/; SameSite=Lax
//! ```

use std::borrow::Cow;
use std::fmt::Write as _;

use chrono::{DateTime, Datelike, Timelike, Utc};

/// `expires` value Django's `delete_cookie` passes verbatim.
const EPOCH_HTTP_DATE: &str = "Thu, 01 Jan 1970 00:00:00 GMT";

/// One `Set-Cookie` header value, with the arguments of Django's
/// `HttpResponse.set_cookie`.
#[derive(Debug, Clone, Copy)]
pub struct SetCookie<'a> {
    /// Cookie name; must be a valid cookie token (Python raises otherwise).
    pub name: &'a str,
    /// Cookie value; quoted like Python's `_quote` when it needs to be.
    pub value: &'a str,
    /// `Max-Age` in seconds; also yields `expires = now + max_age`.
    /// `None` makes a session cookie (neither attribute).
    pub max_age: Option<i64>,
    /// Adds `HttpOnly`.
    pub http_only: bool,
    /// Adds `Secure`.
    pub secure: bool,
    /// `SameSite` value as given (`"Lax"`, `"Strict"`, `"None"`); `None` or
    /// empty omits it.
    pub same_site: Option<&'a str>,
    /// `Path`; Django's default is `"/"`. Empty omits it (as Morsel does).
    pub path: &'a str,
    /// `Domain`; `None` or empty omits it.
    pub domain: Option<&'a str>,
}

impl SetCookie<'_> {
    /// Formats the header value, computing `expires` from the current time.
    ///
    /// ```
    /// use axum_drf::cookies::SetCookie;
    ///
    /// let value = SetCookie {
    ///     name: "sessionid",
    ///     value: "abc",
    ///     max_age: Some(1_209_600),
    ///     http_only: true,
    ///     secure: false,
    ///     same_site: Some("Lax"),
    ///     path: "/",
    ///     domain: None,
    /// }
    /// .to_header_value();
    /// assert!(value.starts_with("sessionid=abc; expires="));
    /// assert!(value.ends_with(" GMT; HttpOnly; Max-Age=1209600; Path=/; SameSite=Lax"));
    /// ```
    pub fn to_header_value(&self) -> String {
        self.to_header_value_at(Utc::now())
    }

    /// Same as [`SetCookie::to_header_value`] with an explicit "now", so
    /// output can be pinned in tests.
    ///
    /// ```
    /// use axum_drf::cookies::SetCookie;
    /// use chrono::DateTime;
    ///
    /// let now = DateTime::from_timestamp(1_795_308_697, 0).unwrap();
    /// let cookie = SetCookie {
    ///     name: "csrftoken",
    ///     value: "maaJEsu4CwTrGHhBdb2ikcazmaQMy1NC",
    ///     max_age: Some(31_449_600),
    ///     http_only: false,
    ///     secure: false,
    ///     same_site: Some("Lax"),
    ///     path: "/",
    ///     domain: None,
    /// };
    /// assert_eq!(
    ///     cookie.to_header_value_at(now),
    ///     "csrftoken=maaJEsu4CwTrGHhBdb2ikcazmaQMy1NC; expires=Sun, 21 Nov 2027 00:51:37 GMT; \
    ///      Max-Age=31449600; Path=/; SameSite=Lax"
    /// );
    /// ```
    pub fn to_header_value_at(&self, now: DateTime<Utc>) -> String {
        // Django: `http_date(time.time() + max_age)`; gmtime truncates the
        // fraction, so whole seconds of now plus max_age is the same instant.
        let expires = self
            .max_age
            .map(|age| http_date(now.timestamp().saturating_add(age)));
        morsel(&MorselParts {
            name: self.name,
            value: self.value,
            domain: self.domain,
            expires: expires.as_deref(),
            http_only: self.http_only,
            max_age: self.max_age,
            path: self.path,
            same_site: self.same_site,
            secure: self.secure,
        })
    }
}

/// `Set-Cookie` value deleting a cookie, exactly as the reference sends it
/// when a session ends: Django's `SessionMiddleware` calls `delete_cookie`
/// with `samesite=SESSION_COOKIE_SAMESITE` (`"Lax"`), so `SameSite=Lax` is
/// included. Use [`deletion_with_same_site`] for other `SameSite` values.
///
/// ```
/// assert_eq!(
///     axum_drf::cookies::deletion("sessionid", "/", None),
///     "sessionid=\"\"; expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/; SameSite=Lax"
/// );
/// ```
pub fn deletion(name: &str, path: &str, domain: Option<&str>) -> String {
    deletion_with_same_site(name, path, domain, Some("Lax"))
}

/// Django's `HttpResponse.delete_cookie(name, path, domain, samesite)`:
/// empty value, fixed 1970 `expires`, `Max-Age=0`; `Secure` is added for
/// `__Secure-`/`__Host-` names and `SameSite=None`, which browsers would
/// otherwise ignore.
///
/// ```
/// use axum_drf::cookies::deletion_with_same_site;
///
/// assert_eq!(
///     deletion_with_same_site("csrftoken", "/", Some("example.com"), None),
///     "csrftoken=\"\"; Domain=example.com; expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/"
/// );
/// ```
pub fn deletion_with_same_site(
    name: &str,
    path: &str,
    domain: Option<&str>,
    same_site: Option<&str>,
) -> String {
    let secure = name.starts_with("__Secure-")
        || name.starts_with("__Host-")
        || same_site.is_some_and(|s| s.eq_ignore_ascii_case("none"));
    morsel(&MorselParts {
        name,
        value: "",
        domain,
        expires: Some(EPOCH_HTTP_DATE),
        http_only: false,
        max_age: Some(0),
        path,
        same_site,
        secure,
    })
}

/// Value of cookie `name` in a `Cookie` header, per Django's `parse_cookie`
/// (split on `;`, strip, first `=` separates, last occurrence wins).
///
/// Surrounding double quotes are removed like Python's `_unquote`. Because
/// the result borrows from the header, backslash escapes inside quotes are
/// left as sent; use [`get_cookie_decoded`] where those must be decoded too.
///
/// ```
/// use axum_drf::cookies::get_cookie;
///
/// let header = "csrftoken=abc; sessionid=xyz; csrftoken=\"def\"";
/// assert_eq!(get_cookie(header, "csrftoken"), Some("def"));
/// assert_eq!(get_cookie(header, "sessionid"), Some("xyz"));
/// assert_eq!(get_cookie(header, "missing"), None);
/// ```
pub fn get_cookie<'a>(cookie_header: &'a str, name: &str) -> Option<&'a str> {
    let value = pairs(cookie_header)
        .filter(|(key, _)| *key == name)
        .last()?
        .1;
    Some(strip_quotes(value).unwrap_or(value))
}

/// Like [`get_cookie`], but fully decoded with Python's `_unquote` (`\"`,
/// `\\` and octal `\ooo` escapes inside quotes), i.e. exactly the value in
/// Django's `request.COOKIES`.
///
/// ```
/// use axum_drf::cookies::get_cookie_decoded;
///
/// let header = r#"a="x\073y\"z"; b=plain"#;
/// assert_eq!(get_cookie_decoded(header, "a").as_deref(), Some("x;y\"z"));
/// assert_eq!(get_cookie_decoded(header, "b").as_deref(), Some("plain"));
/// ```
pub fn get_cookie_decoded<'a>(cookie_header: &'a str, name: &str) -> Option<Cow<'a, str>> {
    let value = pairs(cookie_header)
        .filter(|(key, _)| *key == name)
        .last()?
        .1;
    Some(unquote(value))
}

/// Django's `parse_cookie` as an ordered list: one entry per name in order
/// of first appearance, holding the last value seen (Python dict semantics).
/// Chunks without `=` count as a value with an empty name.
///
/// ```
/// use axum_drf::cookies::parse_cookie;
///
/// let parsed = parse_cookie("a=1; b=2; a=3; lonely");
/// assert_eq!(
///     parsed,
///     vec![("a".into(), "3".into()), ("b".into(), "2".into()), ("".into(), "lonely".into())]
/// );
/// ```
pub fn parse_cookie(cookie_header: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for (key, value) in pairs(cookie_header) {
        let value = unquote(value).into_owned();
        match out.iter_mut().find(|(k, _)| k == key) {
            Some(entry) => entry.1 = value,
            None => out.push((key.to_owned(), value)),
        }
    }
    out
}

/// The `Cookie` header value Django sees (`HTTP_COOKIE`) for a request that
/// may carry several `Cookie` headers: bytes decoded as Latin-1 and repeated
/// headers joined with `","`, because that is what gunicorn (the reference's
/// server) does. A cookie sent in a second header therefore ends up inside
/// the previous header's last value, as it does on the reference. Empty if
/// there is no `Cookie` header (Django's default too).
///
/// ```
/// use axum_drf::cookies::{cookie_header, get_cookie};
/// use http::{HeaderMap, HeaderValue};
///
/// let mut headers = HeaderMap::new();
/// headers.append("cookie", HeaderValue::from_static("sessionid=abc"));
/// headers.append("cookie", HeaderValue::from_static("csrftoken=def"));
/// let joined = cookie_header(&headers);
/// assert_eq!(joined, "sessionid=abc,csrftoken=def");
/// assert_eq!(get_cookie(&joined, "sessionid"), Some("abc,csrftoken=def"));
/// assert_eq!(cookie_header(&HeaderMap::new()), "");
/// ```
pub fn cookie_header(headers: &http::HeaderMap) -> String {
    let mut out = String::new();
    for (i, value) in headers.get_all(http::header::COOKIE).iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.extend(value.as_bytes().iter().map(|&b| char::from(b)));
    }
    out
}

/// Everything Morsel prints, already in Django's terms.
struct MorselParts<'a> {
    name: &'a str,
    value: &'a str,
    domain: Option<&'a str>,
    expires: Option<&'a str>,
    http_only: bool,
    max_age: Option<i64>,
    path: &'a str,
    same_site: Option<&'a str>,
    secure: bool,
}

/// `Morsel.OutputString`: attributes in sorted key order, empty values
/// skipped.
fn morsel(p: &MorselParts<'_>) -> String {
    let mut out = format!("{}={}", p.name, quote(p.value));
    let mut attr = |label: &str, value: Option<&str>| {
        if let Some(value) = value.filter(|v| !v.is_empty()) {
            out.push_str("; ");
            out.push_str(label);
            out.push('=');
            out.push_str(value);
        }
    };
    attr("Domain", p.domain);
    attr("expires", p.expires);
    if p.http_only {
        out.push_str("; HttpOnly");
    }
    if let Some(age) = p.max_age {
        let _ = write!(out, "; Max-Age={age}");
    }
    let mut attr = |label: &str, value: Option<&str>| {
        if let Some(value) = value.filter(|v| !v.is_empty()) {
            let _ = write!(out, "; {label}={value}");
        }
    };
    attr("Path", Some(p.path));
    attr("SameSite", p.same_site);
    if p.secure {
        out.push_str("; Secure");
    }
    out
}

/// `email.utils.formatdate(ts, usegmt=True)`, which Django's `http_date` uses.
fn http_date(timestamp: i64) -> String {
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    // Out-of-range ages cannot be represented; clamp rather than panic.
    let t = DateTime::from_timestamp(timestamp, 0).unwrap_or(if timestamp < 0 {
        DateTime::<Utc>::MIN_UTC
    } else {
        DateTime::<Utc>::MAX_UTC
    });
    format!(
        "{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT",
        DAYS[t.weekday().num_days_from_monday() as usize],
        t.day(),
        MONTHS[t.month0() as usize],
        t.year(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Python's `http.cookies._LegalChars`.
fn is_legal(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~:".contains(c)
}

/// Python's `http.cookies._quote`: legal values stay bare; anything else is
/// double-quoted with `"`/`\` backslash-escaped and other Latin-1 characters
/// outside `_UnescapedChars` written as `\ooo` octal.
fn quote(value: &str) -> Cow<'_, str> {
    if !value.is_empty() && value.chars().all(is_legal) {
        return Cow::Borrowed(value);
    }
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if is_legal(c) || " ()/<=>?@[]{}".contains(c) || u32::from(c) > 0xFF => out.push(c),
            c => {
                let _ = write!(out, "\\{:03o}", u32::from(c));
            }
        }
    }
    out.push('"');
    Cow::Owned(out)
}

/// Stripped `(name, raw value)` chunks in header order, as `parse_cookie`
/// sees them (chunks empty on both sides are dropped).
fn pairs(header: &str) -> impl Iterator<Item = (&str, &str)> {
    header.split(';').filter_map(|chunk| {
        let (key, value) = chunk.split_once('=').unwrap_or(("", chunk));
        let (key, value) = (crate::python::strip(key), crate::python::strip(value));
        (!key.is_empty() || !value.is_empty()).then_some((key, value))
    })
}

/// The text between the quotes if `_unquote` would strip them.
fn strip_quotes(value: &str) -> Option<&str> {
    // `len(str) < 2` in Python counts characters; '"' is one byte, so a
    // quoted value of at least two chars is at least two bytes.
    if value.len() >= 2 && value.starts_with('"') && value.ends_with('"') {
        Some(&value[1..value.len() - 1])
    } else {
        None
    }
}

/// Python's `http.cookies._unquote`.
fn unquote(value: &str) -> Cow<'_, str> {
    let Some(inner) = strip_quotes(value) else {
        return Cow::Borrowed(value);
    };
    if !inner.contains('\\') {
        return Cow::Borrowed(inner);
    }
    let chars: Vec<char> = inner.chars().collect();
    let mut out = String::with_capacity(inner.len());
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '\\' {
            // Both patterns start at a backslash; Python picks the earlier
            // match and prefers the octal one on a tie.
            let octal = chars.get(i + 1..i + 4).filter(|d| {
                ('0'..='3').contains(&d[0])
                    && ('0'..='7').contains(&d[1])
                    && ('0'..='7').contains(&d[2])
            });
            if let Some(d) = octal {
                let code = d
                    .iter()
                    .fold(0, |acc, c| acc * 8 + (*c as u32 - '0' as u32));
                out.extend(char::from_u32(code));
                i += 4;
                continue;
            }
            // `[\\].`: `.` matches anything but a newline.
            if let Some(&next) = chars.get(i + 1).filter(|c| **c != '\n') {
                out.push(next);
                i += 2;
                continue;
            }
        }
        out.push(chars[i]);
        i += 1;
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ts: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(ts, 0).unwrap()
    }

    fn cookie<'a>(name: &'a str, value: &'a str) -> SetCookie<'a> {
        SetCookie {
            name,
            value,
            max_age: None,
            http_only: false,
            secure: false,
            same_site: None,
            path: "/",
            domain: None,
        }
    }

    #[test]
    fn reference_login_cookies() {
        // Captured from the reference's POST /api/login/ at 00:51:37 UTC.
        let now = at(1_795_308_697);
        let csrf = SetCookie {
            max_age: Some(31_449_600),
            same_site: Some("Lax"),
            ..cookie("csrftoken", "maaJEsu4CwTrGHhBdb2ikcazmaQMy1NC")
        };
        assert_eq!(
            csrf.to_header_value_at(now),
            "csrftoken=maaJEsu4CwTrGHhBdb2ikcazmaQMy1NC; expires=Sun, 21 Nov 2027 00:51:37 GMT; Max-Age=31449600; Path=/; SameSite=Lax"
        );
        let session = SetCookie {
            max_age: Some(1_209_600),
            http_only: true,
            same_site: Some("Lax"),
            ..cookie("sessionid", "jpvzrq8pjk3rmrzz4b4xxofsxn0pgpcb")
        };
        assert_eq!(
            session.to_header_value_at(now),
            "sessionid=jpvzrq8pjk3rmrzz4b4xxofsxn0pgpcb; expires=Sun, 06 Dec 2026 00:51:37 GMT; HttpOnly; Max-Age=1209600; Path=/; SameSite=Lax"
        );
    }

    #[test]
    fn reference_logout_deletion() {
        assert_eq!(
            deletion("sessionid", "/", None),
            "sessionid=\"\"; expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/; SameSite=Lax"
        );
    }

    #[test]
    fn deletion_secure_rules() {
        assert_eq!(
            deletion_with_same_site("__Host-x", "/", None, None),
            "__Host-x=\"\"; expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/; Secure"
        );
        assert_eq!(
            deletion_with_same_site("x", "/", None, Some("None")),
            "x=\"\"; expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/; SameSite=None; Secure"
        );
    }

    #[test]
    fn all_attributes_in_morsel_order() {
        // SimpleCookie output for set_cookie("k", "v", max_age=0, path="/p",
        // domain="example.com", secure=True, httponly=True, samesite="Strict").
        let c = SetCookie {
            max_age: Some(0),
            http_only: true,
            secure: true,
            same_site: Some("Strict"),
            path: "/p",
            domain: Some("example.com"),
            ..cookie("k", "v")
        };
        assert_eq!(
            c.to_header_value_at(at(0)),
            "k=v; Domain=example.com; expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; Max-Age=0; Path=/p; SameSite=Strict; Secure"
        );
    }

    #[test]
    fn session_cookie_and_empty_attributes() {
        let c = SetCookie {
            path: "",
            domain: Some(""),
            same_site: Some(""),
            ..cookie("k", "v")
        };
        assert_eq!(c.to_header_value_at(at(0)), "k=v");
        assert_eq!(cookie("k", "v").to_header_value(), "k=v; Path=/");
    }

    #[test]
    fn value_quoting_matches_python() {
        // Expected strings from Python's http.cookies._quote.
        assert_eq!(quote("abc:!#"), "abc:!#");
        assert_eq!(quote(""), "\"\"");
        assert_eq!(quote("a b"), "\"a b\"");
        assert_eq!(quote("a,b;c"), "\"a\\054b\\073c\"");
        assert_eq!(quote("q\"b\\"), "\"q\\\"b\\\\\"");
        assert_eq!(quote("\u{e9}\u{20ac}"), "\"\\351\u{20ac}\"");
        assert_eq!(quote("\n"), "\"\\012\"");
    }

    #[test]
    fn expires_handles_negative_and_huge_ages() {
        let c = SetCookie {
            max_age: Some(-1),
            ..cookie("k", "v")
        };
        assert_eq!(
            c.to_header_value_at(at(0)),
            "k=v; expires=Wed, 31 Dec 1969 23:59:59 GMT; Max-Age=-1; Path=/"
        );
        let c = SetCookie {
            max_age: Some(i64::MAX),
            ..cookie("k", "v")
        };
        assert!(c
            .to_header_value_at(at(0))
            .contains("Max-Age=9223372036854775807"));
    }

    #[test]
    fn parse_cookie_semantics() {
        // Django's parse_cookie results.
        assert_eq!(get_cookie(" a = 1 ;b=2", "a"), Some("1"));
        assert_eq!(get_cookie("a=1=2", "a"), Some("1=2"));
        assert_eq!(get_cookie("a=\"\"", "a"), Some(""));
        assert_eq!(get_cookie("a=\"", "a"), Some("\""));
        assert_eq!(get_cookie("a=1;a=;", "a"), Some(""));
        assert_eq!(get_cookie("\u{1c}a=1\u{a0}", "a"), Some("1"));
        assert_eq!(get_cookie("=x", ""), Some("x"));
        assert_eq!(get_cookie("x", ""), Some("x"));
        assert_eq!(get_cookie("", ""), None);
        assert_eq!(get_cookie(";;", ""), None);
        assert_eq!(
            parse_cookie("a=1; ; =; b=\"2\""),
            vec![("a".into(), "1".into()), ("b".into(), "2".into())]
        );
    }

    #[test]
    fn unquote_matches_python() {
        // Expected values from http.cookies._unquote.
        assert_eq!(unquote("plain"), "plain");
        assert_eq!(unquote("\"a\""), "a");
        assert_eq!(unquote("\"\\101\\102\""), "AB");
        assert_eq!(unquote("\"\\\\101\""), "\\101");
        assert_eq!(unquote("\"\\x\\401\""), "x401");
        assert_eq!(unquote("\"a\\\""), "a\\");
        assert_eq!(unquote("\"a\\\nb\""), "a\\\nb");
        assert_eq!(unquote("\"\\377\""), "\u{ff}");
        assert_eq!(unquote("x\"a\""), "x\"a\"");
        assert_eq!(
            get_cookie_decoded("a=\"\\\"q\\\"\"", "a").as_deref(),
            Some("\"q\"")
        );
        assert_eq!(get_cookie("a=\"\\\"q\\\"\"", "a"), Some("\\\"q\\\""));
    }

    #[test]
    fn repeated_cookie_headers_join_like_gunicorn() {
        let mut headers = http::HeaderMap::new();
        headers.append(http::header::COOKIE, "a=1".parse().unwrap());
        headers.append(
            http::header::COOKIE,
            http::HeaderValue::from_bytes(b"b=\xe9").unwrap(),
        );
        assert_eq!(cookie_header(&headers), "a=1,b=\u{e9}");
    }
}
