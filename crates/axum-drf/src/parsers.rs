//! Request body parsing and content negotiation that answer exactly like Django REST
//! Framework 3.18 on Django 5.2 and CPython 3.11 (the reference server).
//!
//! * [`parse_body`] is `request.data` with DRF's default parsers (JSON, form, multipart), its
//!   415 and 400 texts, and Python's own JSON error messages and positions.
//! * [`negotiate`] / [`select_renderer`] are DRF's `DefaultContentNegotiation` for the
//!   default renderers (JSON and the browsable API).
//!
//! Where DRF itself fails with a 500 or Django with a bare HTML 400 page, we return a 400
//! with a DRF-shaped detail instead; each such place says so.

mod charset;
#[cfg(test)]
mod differential;
mod form;
mod header;
mod json;
mod multipart;
mod negotiation;
#[cfg(test)]
mod tests;

use serde_json::{Map, Value};

pub use negotiation::{
    negotiate, select_renderer, select_renderer_from, Negotiated, NegotiationError, Renderer,
};

/// Django's `DATA_UPLOAD_MAX_MEMORY_SIZE` (2.5 MiB): larger JSON and form bodies are refused.
pub const DATA_UPLOAD_MAX_MEMORY_SIZE: usize = 2_621_440;

/// Django's `RequestDataTooBig` text.
const REQUEST_TOO_BIG: &str = "Request body exceeded settings.DATA_UPLOAD_MAX_MEMORY_SIZE.";

/// A body DRF would refuse.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// 415: detail text is `Unsupported media type "<full Content-Type header as sent, or
    /// empty>" in request.`
    #[error("Unsupported media type \"{0}\" in request.")]
    UnsupportedMediaType(String),
    /// 400: the full DRF detail, e.g.
    /// `JSON parse error - Expecting value: line 1 column 1 (char 0)`.
    #[error("{0}")]
    Malformed(String),
}

/// The parsers DRF tries, in `DEFAULT_PARSER_CLASSES` order.
#[derive(Clone, Copy)]
enum Parser {
    Json,
    Form,
    MultiPart,
}

/// Parsed request data, like DRF's `request.data`: a JSON value for JSON bodies; for form and
/// multipart bodies an object mapping each key to its last value as a string (Django
/// `QueryDict.__getitem__`), keys in first-seen order. A body-less request (empty body)
/// yields an empty object whatever the content type, as DRF does when there is no stream.
///
/// `content_type` is the Content-Type header as sent (`None` when absent); a header that is
/// not ASCII should be passed decoded as Latin-1, as WSGI hands it to Django.
///
/// DRF's behaviour, reproduced here:
/// * Parser choice: the media type (case-insensitive, parameters ignored, wildcards allowed:
///   `*/*` and `application/*` pick JSON) decides; anything else, a missing header, or a
///   header over 256 characters is a 415 quoting the header.
/// * `charset`: honoured for every parser (`utf-8`, `utf-8-sig`, `utf-16`, `utf-32` and their
///   `-le`/`-be` forms, `ascii`, `latin-1`, with Python's aliases and error texts; other names
///   decode as UTF-8, which is also what Django does with a name Python does not know).
///   Codecs that are not text, like `bz2_codec` or `rot13`, are a 400
///   `Unsupported charset "..." in request Content-Type header.`
/// * JSON: Python's `json.loads` messages and positions (characters, not bytes); a UTF-8 BOM
///   is an error unless the charset is `utf-8-sig`; an incomplete UTF-8 sequence at the very
///   end of the body is silently dropped (Python's stream reader does that); NaN and the
///   infinities are refused; duplicate keys keep the last value; floats are rounded
///   correctly, as Python does (serde_json's own parser is only best-effort there).
/// * Numbers Python holds but serde_json cannot are passed on as the text Python's `str()`
///   gives them: integers beyond i64/u64 as their digits, floats overflowing to infinity as
///   `"inf"` / `"-inf"`. Integers of more than 4300 digits are refused as Python does.
/// * A lone UTF-16 surrogate from a `\uD800`-style escape is kept, shifted into private-use
///   plane 16; see [`lone_surrogate`].
/// * Forms: Django's `QueryDict`: `&` separates, `+` is a space, percent-escapes decode with
///   the charset and replacement characters; a body that is not valid in the charset is read
///   as Latin-1.
/// * Multipart: Django's parser, text fields as strings; a file part becomes
///   `{"filename": ..., "content_type": ..., "size": ...}` and wins over a text field of the
///   same name, so a serializer sees a non-string there just as DRF's CharField sees an
///   `UploadedFile` ("Not a valid string."). Like Django, a file is only kept when another
///   part follows it (normally the closing delimiter).
///
/// Deliberate differences from the reference:
/// * Nesting deeper than 946 containers is a 400
///   `JSON parse error - maximum recursion depth exceeded while decoding a JSON array from a
///   unicode string`; DRF lets the RecursionError become a 500.
/// * Bodies over [`DATA_UPLOAD_MAX_MEMORY_SIZE`], more than 1000 form fields, and more than
///   100 files are Django `SuspiciousOperation`s, which Django answers with an HTML
///   "Bad Request (400)" page; here they are a 400 with Django's message as the detail.
/// * A Content-Type with an RFC 2231 parameter naming an unknown charset
///   (`charset*=nope''x`) makes Django fail with a 500 before DRF runs; here it matches no
///   parser and is a 415.
/// * An uploaded file's name goes through Django's sanitising with simplified HTML-entity
///   and printable-character rules (the name is informational only).
///
/// DRF treats a request without a `Content-Length` (chunked) as having no body; callers that
/// want that exactness pass an empty body for such requests.
///
/// ```
/// use axum_drf::parsers::{parse_body, ParseError};
/// use serde_json::json;
///
/// let data = parse_body(Some("application/json"), br#"{"name": "Ann"}"#).unwrap();
/// assert_eq!(data, json!({"name": "Ann"}));
///
/// let data = parse_body(Some("application/x-www-form-urlencoded"), b"a=1&a=2&b=x+y").unwrap();
/// assert_eq!(data, json!({"a": "2", "b": "x y"}));
///
/// assert_eq!(parse_body(None, b"").unwrap(), json!({}));
///
/// assert_eq!(
///     parse_body(Some("application/json"), br#"{"username": "a",}"#),
///     Err(ParseError::Malformed(
///         "JSON parse error - Expecting property name enclosed in double quotes: \
///          line 1 column 18 (char 17)"
///             .into()
///     ))
/// );
/// assert_eq!(
///     parse_body(Some("text/plain"), b"hi").unwrap_err().to_string(),
///     "Unsupported media type \"text/plain\" in request."
/// );
/// ```
pub fn parse_body(content_type: Option<&str>, body: &[u8]) -> Result<Value, ParseError> {
    if body.is_empty() {
        return Ok(Value::Object(Map::new()));
    }
    let raw = content_type.unwrap_or("");
    let unsupported = || ParseError::UnsupportedMediaType(raw.to_owned());
    if raw.chars().count() > negotiation::MAX_MEDIA_TYPE_LENGTH {
        return Err(unsupported());
    }
    let media = negotiation::MediaType::parse(raw);
    let parser = [
        (Parser::Json, "application/json"),
        (Parser::Form, "application/x-www-form-urlencoded"),
        (Parser::MultiPart, "multipart/form-data"),
    ]
    .into_iter()
    .find(|(_, own)| negotiation::MediaType::parse(own).matches(&media))
    .map(|(p, _)| p)
    .ok_or_else(unsupported)?;

    // Django reads request.body for JSON and forms (multipart streams instead), and that is
    // where the size limit bites, before the charset is looked at.
    if matches!(parser, Parser::Json | Parser::Form) && body.len() > DATA_UPLOAD_MAX_MEMORY_SIZE {
        return Err(ParseError::Malformed(REQUEST_TOO_BIG.into()));
    }
    let codec = request_codec(raw)?;
    match parser {
        Parser::Json => {
            let text = charset::decode_stream(codec, body)
                .map_err(|e| ParseError::Malformed(format!("JSON parse error - {e}")))?;
            json::loads(&text).map_err(|e| ParseError::Malformed(format!("JSON parse error - {e}")))
        }
        Parser::Form => form::parse(body, codec).map_err(|e| ParseError::Malformed(e.into())),
        Parser::MultiPart => multipart::parse(raw, body, codec).map_err(|e| match e {
            multipart::Refusal::Parser(m) => {
                ParseError::Malformed(format!("Multipart form parse error - {m}"))
            }
            multipart::Refusal::Django(m) => ParseError::Malformed(m.into()),
        }),
    }
}

/// The codec for the request: Django's `request.encoding` (the `charset` parameter when
/// Python knows the name, else UTF-8) passed through DRF's `get_encoding()` check.
fn request_codec(content_type: &str) -> Result<charset::Codec, ParseError> {
    let Some(name) = header::parse_header_parameters(content_type)
        .ok()
        .and_then(|h| h.get("charset").map(str::to_owned))
    else {
        return Ok(charset::Codec::Utf8);
    };
    match charset::lookup(&name) {
        Some(charset::Charset::Text(codec)) => Ok(codec),
        Some(charset::Charset::NotText) => Err(ParseError::Malformed(format!(
            "Unsupported charset \"{name}\" in request Content-Type header."
        ))),
        None => Ok(charset::Codec::Utf8),
    }
}

/// If `c` stands for a lone UTF-16 surrogate, returns the surrogate's code unit.
///
/// Python keeps a lone surrogate from a JSON escape such as `"\ud800"` in the string, and
/// DRF's CharField then refuses it with `Surrogate characters are not allowed: U+D800.`.
/// A Rust `String` cannot hold surrogates, so [`parse_body`] stores U+D800..U+DFFF shifted
/// by 0x100000, at U+10D800..U+10DFFF (private use, plane 16), and this function maps them
/// back so a CharField can give DRF's answer. A client that sends those private-use
/// characters literally is indistinguishable; that trade is taken because the refusal of
/// surrogates is observable DRF behaviour and literal plane-16 private-use text is not
/// something this API's clients send.
///
/// ```
/// use axum_drf::parsers::{lone_surrogate, parse_body};
/// let data = parse_body(Some("application/json"), br#"{"name": "a\ud800"}"#).unwrap();
/// let name = data["name"].as_str().unwrap();
/// let bad = name.chars().find_map(lone_surrogate);
/// assert_eq!(bad, Some(0xd800));
/// assert_eq!(format!("U+{:04X}", bad.unwrap()), "U+D800");
/// ```
pub fn lone_surrogate(c: char) -> Option<u16> {
    let cp = u32::from(c).checked_sub(json::SURROGATE_SHIFT)?;
    if (0xd800..=0xdfff).contains(&cp) {
        u16::try_from(cp).ok()
    } else {
        None
    }
}
