//! `multipart/form-data` as Django's `MultiPartParser` reads it, for a body held in memory.
//!
//! Hand-written instead of using a multipart crate: Django's parser is far more lenient and
//! quirky than RFC 7578 (it splits on every occurrence of `--boundary`, even mid-line and
//! after the closing delimiter; headers must end within the first 1024 bytes of a part; a
//! part without `Content-Disposition` is skipped; a file wins over a text field of the same
//! name), and matching DRF's answers means matching those quirks, which a strict crate would
//! reject or resolve differently. Django reads in 64 KiB chunks, but its boundary search keeps
//! enough look-back that the result equals one search over the whole body, which is what we
//! do.

use serde_json::{Map, Value};

use super::charset::{self, Codec};
use super::header::{parse_header_parameters, HeaderValue};

/// Django's `MAX_TOTAL_HEADER_SIZE`: a part's headers must end within its first 1024 bytes.
const MAX_TOTAL_HEADER_SIZE: usize = 1024;
/// Django's `DATA_UPLOAD_MAX_NUMBER_FILES`.
const MAX_NUMBER_FILES: usize = 100;

/// Why a multipart body was refused: DRF's `Multipart form parse error - ...` texts, or
/// Django's own refusals (which Django answers with a bare 400 page).
#[derive(Debug, PartialEq)]
pub(crate) enum Refusal {
    /// `MultiPartParserError`: DRF says "Multipart form parse error - " + this.
    Parser(String),
    /// A Django `SuspiciousOperation` text (too many fields/files, too much data).
    Django(&'static str),
}

/// What a part turned out to be (Django's RAW / FIELD / FILE item types).
#[derive(PartialEq)]
enum Kind {
    Raw,
    Field,
    File,
}

/// `MultiPartParser(META, stream, handlers, encoding).parse()` reduced to request.data:
/// `{name: last text value}`, with uploaded files (which DRF merges in after the text fields,
/// so they win) as `{"filename": ..., "content_type": ..., "size": ...}` objects.
pub(crate) fn parse(content_type: &str, body: &[u8], codec: Codec) -> Result<Value, Refusal> {
    // Django checks the raw header, case-sensitively, although DRF matched the parser
    // case-insensitively: `Multipart/Form-Data` is accepted by DRF and refused here.
    if !content_type.starts_with("multipart/") {
        return Err(Refusal::Parser(format!(
            "Invalid Content-Type: {content_type}"
        )));
    }
    if !content_type.is_ascii() {
        return Err(Refusal::Parser(format!(
            "Invalid non-ASCII Content-Type in multipart: {content_type}"
        )));
    }
    let boundary = parse_header_parameters(content_type)
        .ok()
        .and_then(|h| h.get("boundary").map(str::to_owned));
    let boundary = match boundary {
        Some(b) if valid_boundary(&b) => b,
        other => {
            return Err(Refusal::Parser(format!(
                "Invalid boundary in multipart: {}",
                other.as_deref().unwrap_or("None")
            )))
        }
    };
    let separator = [b"--", boundary.as_bytes()].concat();

    let mut fields: Map<String, Value> = Map::new();
    let mut files: Vec<(String, Value)> = Vec::new();
    // A file is only recorded when the next part starts (Django completes it then), so a
    // file in the last part of a body without a closing delimiter is lost, as in Django.
    let mut pending_file: Option<(String, Value)> = None;
    let mut num_post_keys = 0usize;
    let mut num_files = 0usize;
    let mut num_bytes_read = 0usize;

    for part in split_parts(body, &separator) {
        if let Some(file) = pending_file.take() {
            files.push(file);
        }
        let (kind, headers, payload) = parse_part(part)?;
        if kind != Kind::File {
            num_post_keys += 1;
            // "2 accounts for empty raw fields before and after the last boundary."
            if super::form::MAX_NUMBER_FIELDS + 2 < num_post_keys {
                return Err(Refusal::Django(super::form::TOO_MANY_FIELDS));
            }
        }
        let Some((_, disposition)) = headers
            .iter()
            .rev()
            .find(|(n, _)| n == "content-disposition")
        else {
            continue;
        };
        let Some(name) = disposition.get("name") else {
            continue;
        };
        let field_name = charset::decode_replace(codec, py_bytes_strip(name.as_bytes()));
        let transfer_encoding = headers
            .iter()
            .rev()
            .find(|(n, _)| n == "content-transfer-encoding")
            .map(|(_, h)| super::header::py_strip(&h.main).to_owned());
        let base64 = transfer_encoding.as_deref() == Some("base64");

        match kind {
            Kind::Field => {
                // Django counts the raw bytes read plus len(name) + 2 ("&=") against
                // DATA_UPLOAD_MAX_MEMORY_SIZE.
                num_bytes_read += payload.len() + field_name.chars().count() + 2;
                if num_bytes_read > super::DATA_UPLOAD_MAX_MEMORY_SIZE {
                    return Err(Refusal::Django(super::REQUEST_TOO_BIG));
                }
                let data = if base64 {
                    a2b_base64(payload).unwrap_or_else(|_| payload.to_vec())
                } else {
                    payload.to_vec()
                };
                fields.insert(
                    field_name,
                    Value::String(charset::decode_replace(codec, &data)),
                );
            }
            Kind::File => {
                num_files += 1;
                if num_files > MAX_NUMBER_FILES {
                    return Err(Refusal::Django(
                        "The number of files exceeded settings.DATA_UPLOAD_MAX_NUMBER_FILES.",
                    ));
                }
                let raw_name = disposition.get("filename").unwrap_or_default();
                let Some(filename) =
                    sanitize_file_name(&charset::decode_replace(codec, raw_name.as_bytes()))
                else {
                    continue;
                };
                let content_type = headers
                    .iter()
                    .rev()
                    .find(|(n, _)| n == "content-type")
                    .map(|(_, h)| super::header::py_strip(&h.main).to_owned())
                    .unwrap_or_default();
                let size = if base64 {
                    file_base64_size(payload)?
                } else {
                    payload.len()
                };
                let mut file = Map::new();
                file.insert("filename".into(), filename.into());
                file.insert("content_type".into(), content_type.into());
                file.insert("size".into(), size.into());
                pending_file = Some((field_name, file.into()));
            }
            Kind::Raw => {}
        }
    }
    // request.data = POST.copy(); data.update(FILES): file keys keep a text field's position
    // and their file becomes the last value.
    for (name, file) in files {
        fields.insert(name, file);
    }
    Ok(fields.into())
}

/// `re.fullmatch(r"[ -~]{0,200}[!-~]", boundary)`: printable ASCII, at most 201 characters,
/// not ending in a space.
fn valid_boundary(b: &str) -> bool {
    let bytes = b.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 201
        && bytes.iter().all(|c| (b' '..=b'~').contains(c))
        && bytes[bytes.len() - 1] != b' '
}

/// The parts Django's `InterBoundaryIter` yields: the data between successive occurrences of
/// the separator, each without the one `\n` and then one `\r` before the separator. The
/// preamble is the first part; whatever follows the last separator (`--\r\n` normally) is
/// the last. An empty remainder after a separator is no part at all.
fn split_parts<'a>(body: &'a [u8], separator: &'a [u8]) -> impl Iterator<Item = &'a [u8]> {
    let mut pos = Some(0usize);
    std::iter::from_fn(move || {
        let start = pos?;
        if start >= body.len() {
            return None;
        }
        let rest = &body[start..];
        match find(rest, separator) {
            Some(at) => {
                let mut end = at;
                if end > 0 && rest[end - 1] == b'\n' {
                    end -= 1;
                }
                if end > 0 && rest[end - 1] == b'\r' {
                    end -= 1;
                }
                pos = Some(start + at + separator.len());
                Some(&rest[..end])
            }
            None => {
                pos = None;
                Some(rest)
            }
        }
    })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A part's headers as `(lower-cased name, parsed value)`, in order.
type Headers = Vec<(String, HeaderValue)>;

/// Django's `parse_boundary_stream`: the kind of part, its headers and the payload.
fn parse_part(part: &[u8]) -> Result<(Kind, Headers, &[u8]), Refusal> {
    let chunk = &part[..part.len().min(MAX_TOTAL_HEADER_SIZE)];
    let Some(header_end) = find(chunk, b"\r\n\r\n") else {
        if chunk.len() < MAX_TOTAL_HEADER_SIZE {
            return Ok((Kind::Raw, Vec::new(), part));
        }
        return Err(Refusal::Parser(
            "Request max total header size exceeded.".into(),
        ));
    };
    let mut kind = Kind::Raw;
    let mut headers = Vec::new();
    for line in split_crlf(&chunk[..header_end]) {
        // Any ValueError (undecodable line, no ':', bad RFC 2231 charset) skips the line.
        let Ok(text) = std::str::from_utf8(line) else {
            continue;
        };
        let Ok(mut parsed) = parse_header_parameters(text) else {
            continue;
        };
        let Some((name, value)) = parsed.main.split_once(':') else {
            continue;
        };
        let name = name.to_owned();
        parsed.main = value.to_owned();
        if name == "content-disposition" {
            // Every Content-Disposition line decides anew, as in Django.
            kind = if parsed.get("filename").is_some_and(|f| !f.is_empty()) {
                Kind::File
            } else {
                Kind::Field
            };
        }
        headers.push((name, parsed));
    }
    if kind == Kind::Raw {
        // Django pushes the whole chunk back: a raw part's payload includes its "headers".
        return Ok((Kind::Raw, headers, part));
    }
    Ok((kind, headers, &part[header_end + 4..]))
}

/// `bytes.split(b"\r\n")`.
fn split_crlf(mut s: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    while let Some(i) = find(s, b"\r\n") {
        out.push(&s[..i]);
        s = &s[i + 2..];
    }
    out.push(s);
    out
}

/// Python's `bytes.strip()`: ASCII whitespace including vertical tab and form feed.
fn py_bytes_strip(mut s: &[u8]) -> &[u8] {
    let ws = |b: &u8| matches!(b, b' ' | b'\t' | b'\n' | b'\r' | b'\x0b' | b'\x0c');
    while s.first().is_some_and(ws) {
        s = &s[1..];
    }
    while s.last().is_some_and(ws) {
        s = &s[..s.len() - 1];
    }
    s
}

/// Django's `sanitize_file_name`: unescape HTML entities, keep what follows the last `/` and
/// `\`, drop non-printable characters, refuse "", "." and "..". `html.unescape` is reduced to
/// numeric references and the five XML entities, and `str.isprintable` to the character
/// classes that can be told apart without Unicode tables; the name only labels the file.
fn sanitize_file_name(name: &str) -> Option<String> {
    let name = html_unescape(name);
    let name = name.rsplit('/').next().unwrap_or_default();
    let name = name.rsplit('\\').next().unwrap_or_default();
    let name: String = name.chars().filter(|&c| py_isprintable(c)).collect();
    match name.as_str() {
        "" | "." | ".." => None,
        _ => Some(name),
    }
}

fn py_isprintable(c: char) -> bool {
    let cp = u32::from(c);
    c == ' '
        || !(c.is_control()
            || c.is_whitespace()
            // Format characters (Cf) in common use, and the private-use areas (Co).
            || matches!(cp, 0xad | 0x600..=0x605 | 0x61c | 0x6dd | 0x70f | 0x180e
                | 0x200b..=0x200f | 0x202a..=0x202e | 0x2060..=0x2064 | 0x2066..=0x206f
                | 0xfeff | 0xfff9..=0xfffb | 0xe000..=0xf8ff | 0xf0000..)
            || ('\u{1c}'..='\u{1f}').contains(&c))
}

fn html_unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let entity_end = rest.find(';');
        let decoded = entity_end.and_then(|end| {
            let body = &rest[1..end];
            let c = match body {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                _ => body.strip_prefix('#').and_then(|num| {
                    let code = match num.strip_prefix(['x', 'X']) {
                        Some(hex) => u32::from_str_radix(hex, 16).ok(),
                        None => num.parse().ok(),
                    }?;
                    Some(char::from_u32(code).unwrap_or('\u{fffd}'))
                }),
            }?;
            Some((c, end + 1))
        });
        match decoded {
            Some((c, len)) => {
                out.push(c);
                rest = &rest[len..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Size of a base64 file part as Django decodes it: whitespace removed, decoded in blocks of
/// four, a leftover of 1-3 characters or undecodable data is "Could not decode base64 data.".
fn file_base64_size(payload: &[u8]) -> Result<usize, Refusal> {
    let stripped: Vec<u8> = payload
        .iter()
        .copied()
        .filter(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r' | b'\x0b' | b'\x0c'))
        .collect();
    let aligned = stripped.len() / 4 * 4;
    let refuse = || Refusal::Parser("Could not decode base64 data.".into());
    if aligned != stripped.len() {
        return Err(refuse());
    }
    a2b_base64(&stripped).map(|d| d.len()).map_err(|_| refuse())
}

/// `binascii.a2b_base64(data)` in Python's default non-strict mode: characters outside the
/// alphabet are skipped, decoding stops at a complete pad sequence, and a leftover that is
/// not whole bytes is an error ("Incorrect padding" and friends; the text is not shown).
fn a2b_base64(data: &[u8]) -> Result<Vec<u8>, ()> {
    let mut out = Vec::with_capacity(data.len() / 4 * 3);
    let mut quad_pos = 0u8;
    let mut left = 0u8;
    let mut pads = 0u8;
    for &ch in data {
        if ch == b'=' {
            // CPython only counts pads once two characters of the quad are in.
            if quad_pos >= 2 {
                pads += 1;
                if quad_pos + pads >= 4 {
                    return Ok(out);
                }
            }
            continue;
        }
        let v = match ch {
            b'A'..=b'Z' => ch - b'A',
            b'a'..=b'z' => ch - b'a' + 26,
            b'0'..=b'9' => ch - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => continue,
        };
        pads = 0;
        match quad_pos {
            0 => {
                quad_pos = 1;
                left = v;
            }
            1 => {
                quad_pos = 2;
                out.push(left << 2 | v >> 4);
                left = v & 0x0f;
            }
            2 => {
                quad_pos = 3;
                out.push(left << 4 | v >> 2);
                left = v & 0x03;
            }
            _ => {
                quad_pos = 0;
                out.push(left << 6 | v);
                left = 0;
            }
        }
    }
    if quad_pos == 0 {
        Ok(out)
    } else {
        Err(())
    }
}
