//! Port of Django's `parse_header_parameters()`, which DRF uses for Content-Type, Accept
//! tokens and multipart part headers. Django hands the value to `email.message.Message` and
//! takes its `get_params()`, so the quirks of the email package's parameter splitter come
//! along: quote counting to find `;`, `\"` unescaping, RFC 2231 `name*=` values and
//! continuations. Ported literally, because the main type decides 415s and the parameters
//! decide charset, boundary and indent.

use super::charset;

/// A parsed `type/subtype; name=value` header: the lower-cased main value and the
/// parameters in Python dict order (a repeated name keeps its first position, last value).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct HeaderValue {
    pub main: String,
    pub params: Vec<(String, String)>,
}

impl HeaderValue {
    /// The value of parameter `name` (names are lower-cased by the parser).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn insert(&mut self, name: String, value: String) {
        match self.params.iter_mut().find(|(k, _)| *k == name) {
            Some(slot) => slot.1 = value,
            None => self.params.push((name, value)),
        }
    }
}

pub(crate) use crate::python::strip as py_strip;

/// Django's `parse_header_parameters(line)`. `Err(())` is Django's `ValueError` for an
/// RFC 2231 value naming an unknown charset.
pub(crate) fn parse_header_parameters(line: &str) -> Result<HeaderValue, ()> {
    if line.is_empty() {
        return Ok(HeaderValue::default());
    }
    if !line.contains(';') {
        // Django's fast path.
        return Ok(HeaderValue {
            main: py_strip(line).to_lowercase(),
            params: Vec::new(),
        });
    }
    let raw = get_params_preserve(line);
    let mut out = HeaderValue {
        main: raw[0].0.to_lowercase(),
        params: Vec::new(),
    };
    for (name, value) in decode_params(&raw[1..]) {
        if name.is_empty() {
            continue;
        }
        let value = match value {
            ParamValue::Plain(v) => email_unquote(&v).into_owned(),
            ParamValue::Rfc2231 {
                charset,
                text_quoted,
            } => {
                // Django rejects an unknown charset instead of letting the email package fall
                // back to us-ascii. An empty charset skips that check and falls back below.
                if let Some(cs) = &charset {
                    if !cs.is_empty() && charset::lookup(cs).is_none() {
                        return Err(());
                    }
                }
                collapse_rfc2231_value(charset.as_deref(), email_unquote(&text_quoted))
            }
        };
        out.insert(name, value);
    }
    Ok(out)
}

/// `email.message._parseparam` + `Message._get_params_preserve`: split on `;` outside quoted
/// strings, then split each piece at its first `=`.
fn get_params_preserve(line: &str) -> Vec<(String, String)> {
    let mut s = String::with_capacity(line.len() + 1);
    s.push(';');
    s.push_str(line);
    let mut s: &str = &s;
    let mut plist: Vec<String> = Vec::new();
    while let Some(rest) = s.strip_prefix(';') {
        s = rest;
        let mut end = s.find(';');
        // A `;` inside an odd number of quotes (not counting `\"`) does not end the piece.
        // Python checks this only for end > 0, so a piece that starts with `;` ends at once.
        while let Some(e) = end {
            if e == 0 || (count(&s[..e], "\"") - count(&s[..e], "\\\"")) % 2 == 0 {
                break;
            }
            end = s[e + 1..].find(';').map(|i| i + e + 1);
        }
        let end = end.unwrap_or(s.len());
        let f = &s[..end];
        let piece = match f.find('=') {
            Some(i) => format!(
                "{}={}",
                py_strip(&f[..i]).to_lowercase(),
                py_strip(&f[i + 1..])
            ),
            None => f.to_owned(),
        };
        plist.push(py_strip(&piece).to_owned());
        s = &s[end..];
    }
    plist
        .into_iter()
        .map(|p| match p.split_once('=') {
            Some((name, val)) => (py_strip(name).to_owned(), py_strip(val).to_owned()),
            None => (py_strip(&p).to_owned(), String::new()),
        })
        .collect()
}

/// Python's non-overlapping `str.count`.
fn count(haystack: &str, needle: &str) -> i64 {
    haystack.matches(needle).count() as i64
}

/// A parameter value after `email.utils.decode_params`.
enum ParamValue {
    /// Still quoted as `"..."` (decode_params re-quotes every value).
    Plain(String),
    /// An RFC 2231 extended value: `charset'language'text`.
    Rfc2231 {
        charset: Option<String>,
        text_quoted: String,
    },
}

/// One piece of an RFC 2231 value: continuation number, text, percent-encoded or not.
type Continuation = (Option<u64>, String, bool);

/// `email.utils.decode_params` for the parameters after the main value.
fn decode_params(params: &[(String, String)]) -> Vec<(String, ParamValue)> {
    let mut out = Vec::new();
    // name -> its pieces, in first-seen order.
    let mut rfc2231: Vec<(String, Vec<Continuation>)> = Vec::new();
    for (name, value) in params {
        let encoded = name.ends_with('*');
        let value = email_unquote(value).into_owned();
        match rfc2231_continuation(name) {
            Some((base, num)) => match rfc2231.iter_mut().find(|(n, _)| *n == base) {
                Some((_, list)) => list.push((num, value, encoded)),
                None => rfc2231.push((base, vec![(num, value, encoded)])),
            },
            None => out.push((name.clone(), ParamValue::Plain(quoted(&value)))),
        }
    }
    for (name, mut continuations) in rfc2231 {
        // Python sorts the (num, value, encoded) tuples; a bare `name*` (no number) next to
        // numbered ones makes Python raise TypeError, we just put it first.
        continuations.sort();
        let mut joined = String::new();
        let mut extended = false;
        for (_, s, encoded) in continuations {
            if encoded {
                joined.push_str(&unquote_latin1(&s));
                extended = true;
            } else {
                joined.push_str(&s);
            }
        }
        let value = email_quote(&joined);
        if extended {
            // decode_rfc2231: `charset'language'text`, or no charset with fewer than 2 ticks.
            let parts: Vec<&str> = value.splitn(3, '\'').collect();
            let (charset, text) = if parts.len() <= 2 {
                (None, value.as_str())
            } else {
                (Some(parts[0].to_owned()), parts[2])
            };
            out.push((
                name,
                ParamValue::Rfc2231 {
                    charset,
                    text_quoted: format!("\"{text}\""),
                },
            ));
        } else {
            out.push((name, ParamValue::Plain(format!("\"{value}\""))));
        }
    }
    out
}

/// `re.match(r'^(?P<name>\w+)\*((?P<num>[0-9]+)\*?)?$', name, re.ASCII)`.
fn rfc2231_continuation(name: &str) -> Option<(String, Option<u64>)> {
    let star = name.find('*')?;
    let base = &name[..star];
    if base.is_empty() || !base.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return None;
    }
    let rest = &name[star + 1..];
    if rest.is_empty() {
        return Some((base.to_owned(), None));
    }
    let digits = rest.strip_suffix('*').unwrap_or(rest);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // Python's int() has no overflow; a continuation number this large is nonsense anyway.
    Some((base.to_owned(), Some(digits.parse().unwrap_or(u64::MAX))))
}

/// `'"%s"' % email.utils.quote(value)`.
fn quoted(value: &str) -> String {
    format!("\"{}\"", email_quote(value))
}

/// `email.utils.quote`.
fn email_quote(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// `email.utils.unquote`: strips one level of `"..."` (unescaping `\\` and `\"`) or `<...>`.
pub(crate) fn email_unquote(s: &str) -> std::borrow::Cow<'_, str> {
    if s.chars().count() > 1 {
        if s.starts_with('"') && s.ends_with('"') {
            return s[1..s.len() - 1]
                .replace("\\\\", "\\")
                .replace("\\\"", "\"")
                .into();
        }
        if s.starts_with('<') && s.ends_with('>') {
            return s[1..s.len() - 1].into();
        }
    }
    s.into()
}

/// `urllib.parse.unquote(s, encoding="latin-1")`: every `%XX` becomes the character U+00XX.
fn unquote_latin1(s: &str) -> String {
    super::form::unquote(s, charset::Codec::Latin1)
}

/// `email.utils.collapse_rfc2231_value` for an extended value whose charset Django accepted.
fn collapse_rfc2231_value(charset: Option<&str>, text: std::borrow::Cow<'_, str>) -> String {
    // The text holds one character per octet (it was percent-decoded as Latin-1); Python
    // re-encodes it with raw-unicode-escape, which for characters above U+00FF writes
    // `\uXXXX` escapes.
    let mut raw = Vec::with_capacity(text.len());
    for c in text.chars() {
        match u8::try_from(u32::from(c)) {
            Ok(b) => raw.push(b),
            Err(_) if u32::from(c) <= 0xffff => {
                raw.extend_from_slice(format!("\\u{:04x}", u32::from(c)).as_bytes())
            }
            Err(_) => raw.extend_from_slice(format!("\\U{:08x}", u32::from(c)).as_bytes()),
        }
    }
    let name = charset.unwrap_or("us-ascii");
    match charset::lookup(name) {
        Some(charset::Charset::Text(codec)) => charset::decode_replace(codec, &raw),
        // A non-text codec raises something other than LookupError in Python; there is no
        // sensible text for it, so keep the raw text as Python does on LookupError.
        Some(charset::Charset::NotText) => email_unquote(&text).into_owned(),
        // An empty charset is a LookupError in Python: the text is kept as it is.
        None if name.is_empty() => email_unquote(&text).into_owned(),
        // A codec Python knows that we do not implement (see charset.rs): UTF-8.
        None => String::from_utf8_lossy(&raw).into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> (String, Vec<(String, String)>) {
        let h = parse_header_parameters(line).expect("parses");
        (h.main, h.params)
    }

    fn p(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    // Expectations produced with django.utils.http.parse_header_parameters (Django 5.2).
    #[test]
    fn matches_django() {
        type Case = (
            &'static str,
            &'static str,
            &'static [(&'static str, &'static str)],
        );
        let cases: &[Case] = &[
            ("", "", &[]),
            ("Application/JSON", "application/json", &[]),
            ("  text/html  ", "text/html", &[]),
            (
                "application/json; charset=UTF-8",
                "application/json",
                &[("charset", "UTF-8")],
            ),
            (
                "multipart/form-data; boundary=\"a;b\"",
                "multipart/form-data",
                &[("boundary", "a;b")],
            ),
            (
                "text/plain; A=\"x\\\"y\"; b",
                "text/plain",
                &[("a", "x\"y"), ("b", "")],
            ),
            (
                "form-data; name=\"f\"; filename*=UTF-8''%E2%82%AC.txt",
                "form-data",
                &[("name", "f"), ("filename", "€.txt")],
            ),
            (
                "form-data; name*0=\"ab\"; name*1=\"cd\"",
                "form-data",
                &[("name", "abcd")],
            ),
            ("a; ; b=1;", "a", &[("b", "1")]),
            ("; charset=utf-8", "", &[("charset", "utf-8")]),
            ("x; q=<v>", "x", &[("q", "v")]),
            ("x; a=1; a=2", "x", &[("a", "2")]),
        ];
        for (line, main, params) in cases {
            assert_eq!(parse(line), (main.to_string(), p(params)), "{line:?}");
        }
        assert!(parse_header_parameters("a; n*=nope''x").is_err());
    }
}
