//! `application/x-www-form-urlencoded` as Django's `QueryDict(body, encoding)` reads it.
//!
//! Hand-written rather than `form_urlencoded::parse` because Django's result differs from the
//! WHATWG algorithm that crate implements: the body is first decoded as a whole (falling back
//! to Latin-1 when it is not valid in the request charset), and `urllib.parse.unquote` then
//! decodes percent-escapes only inside runs of ASCII, each run on its own, with the request
//! charset and `errors="replace"`.

use serde_json::{Map, Value};

use super::charset::{self, Codec};

/// Django's `DATA_UPLOAD_MAX_NUMBER_FIELDS`.
pub(crate) const MAX_NUMBER_FIELDS: usize = 1000;

/// Django's `TooManyFieldsSent` text. Django answers it with a bare 400 page, not DRF JSON.
pub(crate) const TOO_MANY_FIELDS: &str =
    "The number of GET/POST parameters exceeded settings.DATA_UPLOAD_MAX_NUMBER_FIELDS.";

/// `QueryDict(body, encoding=codec)` reduced to `{key: last value}` in first-seen key order.
pub(crate) fn parse(body: &[u8], codec: Codec) -> Result<Value, &'static str> {
    // "query_string normally contains URL-encoded data, a subset of ASCII" - but some user
    // agents misbehave, so Django falls back to ISO-8859-1 rather than failing.
    let text = charset::decode_strict(codec, body)
        .unwrap_or_else(|| charset::decode_replace(Codec::Latin1, body));
    let mut map = Map::new();
    for (name, value) in parse_qsl(&text, codec)? {
        map.insert(name, Value::String(value));
    }
    Ok(map.into())
}

/// `urllib.parse.parse_qsl(qs, keep_blank_values=True, encoding=..., errors="replace",
/// max_num_fields=1000)`, Python 3.11: only `&` separates, empty pieces are skipped, a piece
/// without `=` is a name with an empty value.
fn parse_qsl(qs: &str, codec: Codec) -> Result<Vec<(String, String)>, &'static str> {
    // Python counts separators before splitting, so empty pieces count too.
    if !qs.is_empty() && 1 + qs.matches('&').count() > MAX_NUMBER_FIELDS {
        return Err(TOO_MANY_FIELDS);
    }
    let mut out = Vec::new();
    for piece in qs.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = piece.split_once('=').unwrap_or((piece, ""));
        out.push((
            unquote(&name.replace('+', " "), codec),
            unquote(&value.replace('+', " "), codec),
        ));
    }
    Ok(out)
}

/// `urllib.parse.unquote(s, encoding, errors="replace")`.
pub(crate) fn unquote(s: &str, codec: Codec) -> String {
    if !s.contains('%') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    // Alternate runs of non-ASCII (kept) and ASCII (percent-decoded, then decoded on its own).
    while !rest.is_empty() {
        let split = rest.find(|c: char| c.is_ascii()).unwrap_or(rest.len());
        out.push_str(&rest[..split]);
        rest = &rest[split..];
        let split = rest.find(|c: char| !c.is_ascii()).unwrap_or(rest.len());
        if split > 0 {
            out.push_str(&charset::decode_replace(
                codec,
                &unquote_to_bytes(&rest.as_bytes()[..split]),
            ));
        }
        rest = &rest[split..];
    }
    out
}

/// `urllib.parse.unquote_to_bytes`: `%XX` with two hex digits becomes a byte, any other `%`
/// stays.
fn unquote_to_bytes(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'%' && i + 2 < s.len() {
            if let (Some(high), Some(low)) = (hex(s[i + 1]), hex(s[i + 2])) {
                out.push(high << 4 | low);
                i += 3;
                continue;
            }
        }
        out.push(s[i]);
        i += 1;
    }
    out
}

fn hex(b: u8) -> Option<u8> {
    char::from(b).to_digit(16).map(|d| d as u8)
}
