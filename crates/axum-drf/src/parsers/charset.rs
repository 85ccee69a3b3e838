//! The request charset, resolved and applied the way Django and DRF do it.
//!
//! Django takes `charset` from the Content-Type only if Python's `codecs.lookup()` knows the
//! name (otherwise it silently keeps UTF-8); DRF then refuses codecs that are not text
//! encodings (`bz2_codec`, `rot13`, ...) with a 400. We implement the Unicode codecs and the
//! two ASCII-family ones (UTF-8, UTF-8 with BOM, UTF-16, UTF-32, ASCII, Latin-1) exactly,
//! including Python's error texts. Any other name Python would know (cp1252, koi8-r, ...)
//! decodes as UTF-8: porting Python's whole codec registry is out of proportion for an API
//! whose clients send UTF-8, and UTF-8 is what an unknown name gets anyway.

/// A text codec this module can decode with, or the verdict for a name it cannot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Codec {
    Utf8,
    /// `utf-8-sig`: a leading BOM is dropped, the rest is UTF-8.
    Utf8Sig,
    Ascii,
    Latin1,
    /// UTF-16 (`Detect`: Python's `utf-16`, which reads a BOM and otherwise assumes
    /// little-endian; the stream reader then insists on the BOM).
    Utf16(Endian),
    /// UTF-32, like UTF-16.
    Utf32(Endian),
}

/// Byte order of a UTF-16/32 codec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endian {
    Le,
    Be,
    /// Taken from a BOM, which is then skipped; little-endian without one.
    Detect,
}

/// What the `charset` parameter of a Content-Type resolves to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Charset {
    /// Decode with this codec.
    Text(Codec),
    /// A codec Python knows but that is not a text encoding: DRF answers
    /// `Unsupported charset "<name>" in request Content-Type header.`
    NotText,
}

/// Python's `encodings.normalize_encoding` after the ASCII lower-casing `codecs.lookup` does:
/// runs of characters other than ASCII letters, digits and `.` become one `_`, with none
/// at either end. Non-ASCII alphanumerics are dropped without acting as separators, as
/// Python does.
fn normalize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut punct = false;
    for c in name.chars().map(|c| c.to_ascii_lowercase()) {
        if c.is_alphanumeric() || c == '.' {
            if punct && !out.is_empty() {
                out.push('_');
            }
            if c.is_ascii() {
                out.push(c);
            }
            punct = false;
        } else {
            punct = true;
        }
    }
    out
}

/// Resolves a charset name like Python's `codecs.lookup` followed by DRF's text-codec check.
/// `None` means Python would not know the name (Django then keeps its default, UTF-8) or
/// that it names a text codec we do not implement (see the module docs).
pub(crate) fn lookup(name: &str) -> Option<Charset> {
    let norm = normalize(name);
    // Python tries the alias table with the name as is and with '.' turned into '_',
    // then the name itself as a module; a module name never contains '.'.
    let candidates = [norm.clone(), norm.replace('.', "_")];
    for candidate in candidates.iter() {
        if let Some(found) = by_alias(candidate) {
            return Some(found);
        }
    }
    None
}

/// Python's alias table (`encodings.aliases`) and module names, for the codecs we decide on.
fn by_alias(name: &str) -> Option<Charset> {
    use Charset::{NotText, Text};
    Some(match name {
        "utf_8" | "cp65001" | "u8" | "utf" | "utf8" | "utf8_ucs2" | "utf8_ucs4" => {
            Text(Codec::Utf8)
        }
        "utf_8_sig" => Text(Codec::Utf8Sig),
        "ascii" | "646" | "ansi_x3.4_1968" | "ansi_x3.4_1986" | "ansi_x3_4_1968" | "cp367"
        | "csascii" | "ibm367" | "iso646_us" | "iso_646.irv_1991" | "iso_ir_6" | "us"
        | "us_ascii" => Text(Codec::Ascii),
        "utf_16" | "u16" | "utf16" => Text(Codec::Utf16(Endian::Detect)),
        "utf_16_le" | "unicodelittleunmarked" | "utf_16le" => Text(Codec::Utf16(Endian::Le)),
        "utf_16_be" | "unicodebigunmarked" | "utf_16be" => Text(Codec::Utf16(Endian::Be)),
        "utf_32" | "u32" | "utf32" => Text(Codec::Utf32(Endian::Detect)),
        "utf_32_le" | "utf_32le" => Text(Codec::Utf32(Endian::Le)),
        "utf_32_be" | "utf_32be" => Text(Codec::Utf32(Endian::Be)),
        "latin_1" | "8859" | "cp819" | "csisolatin1" | "ibm819" | "iso8859" | "iso8859_1"
        | "iso_8859_1" | "iso_8859_1_1987" | "iso_ir_100" | "l1" | "latin" | "latin1" => {
            Text(Codec::Latin1)
        }
        // `''.encode(name)` fails for these, so DRF's get_encoding() refuses them.
        "base64_codec" | "base64" | "base_64" | "bz2_codec" | "bz2" | "hex_codec" | "hex"
        | "quopri_codec" | "quopri" | "quoted_printable" | "quotedprintable" | "rot_13"
        | "rot13" | "undefined" | "uu_codec" | "uu" | "zlib_codec" | "zip" | "zlib" => NotText,
        _ => return None,
    })
}

/// Decodes a request body as DRF's JSONParser reads it: `codecs.getreader(enc)(stream).read()`.
///
/// That reader decodes with `final=False`, so an incomplete multi-byte sequence at the very
/// end is not an error: it stays in the reader's buffer and is silently dropped. Errors carry
/// Python's exact `UnicodeDecodeError` text.
pub(crate) fn decode_stream(codec: Codec, body: &[u8]) -> Result<String, String> {
    match codec {
        Codec::Utf8 => decode_utf8_partial(body, 0),
        Codec::Utf8Sig => {
            const BOM: &[u8] = b"\xef\xbb\xbf";
            if body.len() < 3 && BOM.starts_with(body) {
                // Too short to tell whether it is a BOM: Python waits for more data, which
                // never comes, and returns nothing.
                Ok(String::new())
            } else if let Some(rest) = body.strip_prefix(BOM) {
                // Python decodes `input[3:]`, so error positions are counted after the BOM.
                decode_utf8_partial(rest, 0)
            } else {
                decode_utf8_partial(body, 0)
            }
        }
        Codec::Ascii => match body.iter().position(|b| !b.is_ascii()) {
            Some(pos) => Err(format!(
                "'ascii' codec can't decode byte 0x{:02x} in position {pos}: ordinal not in range(128)",
                body[pos]
            )),
            // All ASCII, so this cannot fail.
            None => Ok(String::from_utf8_lossy(body).into_owned()),
        },
        Codec::Latin1 => Ok(body.iter().map(|&b| char::from(b)).collect()),
        Codec::Utf16(endian) | Codec::Utf32(endian) => {
            let width = if matches!(codec, Codec::Utf16(_)) { 2 } else { 4 };
            let (big, skip) = detect_bom(body, width, endian);
            let (text, consumed) = decode_units(body, skip, width, big, Mode::Stream)?;
            if endian == Endian::Detect && skip == 0 && consumed >= width {
                // The `utf-16` / `utf-32` stream readers refuse data without a BOM, once
                // they have decoded a whole unit (after any decoding error).
                return Err(format!(
                    "UTF-{} stream does not start with BOM",
                    width * 8
                ));
            }
            Ok(text)
        }
    }
}

/// Byte order and BOM length for a UTF-16 (`width` 2) or UTF-32 (`width` 4) codec.
fn detect_bom(bytes: &[u8], width: usize, endian: Endian) -> (bool, usize) {
    match endian {
        Endian::Le => (false, 0),
        Endian::Be => (true, 0),
        Endian::Detect => {
            let (le, be): (&[u8], &[u8]) = if width == 2 {
                (b"\xff\xfe", b"\xfe\xff")
            } else {
                (b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")
            };
            if bytes.starts_with(le) {
                (false, width)
            } else if bytes.starts_with(be) {
                (true, width)
            } else {
                (false, 0)
            }
        }
    }
}

/// How a UTF-16/32 decode treats its input.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// A stream reader's `final=False`: an incomplete unit at the end is left undecoded.
    Stream,
    /// `bytes.decode(..., "strict")`: any fault is an error.
    Strict,
    /// `bytes.decode(..., "replace")`: each fault becomes U+FFFD.
    Replace,
}

/// Decodes UTF-16 or UTF-32 units from `bytes[start..]` as CPython does, returning the text
/// and the bytes consumed (including `start`). Errors carry Python's message.
fn decode_units(
    bytes: &[u8],
    start: usize,
    width: usize,
    big: bool,
    mode: Mode,
) -> Result<(String, usize), String> {
    let name = match (width, big) {
        (2, false) => "utf-16-le",
        (2, true) => "utf-16-be",
        (_, false) => "utf-32-le",
        (_, true) => "utf-32-be",
    };
    let unit = |i: usize| -> u32 {
        let b = &bytes[i..i + width];
        if big {
            b.iter().fold(0, |acc, &x| acc << 8 | u32::from(x))
        } else {
            b.iter().rev().fold(0, |acc, &x| acc << 8 | u32::from(x))
        }
    };
    let mut out = String::new();
    let mut i = start;
    let n = bytes.len();
    // Reports a fault over bytes[from..to]; Ok(()) means "replaced, go on".
    let fault = |out: &mut String, from: usize, to: usize, reason: &str| {
        if mode == Mode::Replace {
            out.push('\u{fffd}');
            return Ok(());
        }
        Err(if to - from == 1 {
            format!(
                "'{name}' codec can't decode byte 0x{:02x} in position {from}: {reason}",
                bytes[from]
            )
        } else {
            format!(
                "'{name}' codec can't decode bytes in position {from}-{}: {reason}",
                to - 1
            )
        })
    };
    while i < n {
        if n - i < width {
            if mode == Mode::Stream {
                break;
            }
            fault(&mut out, i, n, "truncated data")?;
            i = n;
            break;
        }
        let u = unit(i);
        if width == 4 {
            match char::from_u32(u) {
                Some(c) => out.push(c),
                None if u > 0x10_ffff => {
                    fault(&mut out, i, i + 4, "code point not in range(0x110000)")?
                }
                None => fault(
                    &mut out,
                    i,
                    i + 4,
                    "code point in surrogate code point range(0xd800, 0xe000)",
                )?,
            }
            i += 4;
            continue;
        }
        if !(0xd800..=0xdfff).contains(&u) {
            out.push(char::from_u32(u).expect("not a surrogate"));
            i += 2;
        } else if u >= 0xdc00 {
            fault(&mut out, i, i + 2, "illegal encoding")?;
            i += 2;
        } else if n - i < 4 {
            if mode == Mode::Stream {
                break;
            }
            fault(&mut out, i, n, "unexpected end of data")?;
            i = n;
        } else if (0xdc00..=0xdfff).contains(&unit(i + 2)) {
            let c = 0x10000 + ((u - 0xd800) << 10) + (unit(i + 2) - 0xdc00);
            out.push(char::from_u32(c).expect("a surrogate pair is a valid character"));
            i += 4;
        } else {
            fault(&mut out, i, i + 2, "illegal UTF-16 surrogate")?;
            i += 2;
        }
    }
    Ok((out, i))
}

/// UTF-8 decoding with Python's `final=False` semantics and error messages.
/// `offset` is added to reported positions.
fn decode_utf8_partial(bytes: &[u8], offset: usize) -> Result<String, String> {
    match std::str::from_utf8(bytes) {
        Ok(s) => Ok(s.to_owned()),
        Err(e) => {
            let start = e.valid_up_to();
            match e.error_len() {
                // Incomplete sequence at the end: dropped, as Python's stream reader does.
                None => Ok(String::from_utf8_lossy(&bytes[..start]).into_owned()),
                Some(len) => Err(utf8_error_message(bytes, start, len, offset)),
            }
        }
    }
}

/// Python's `UnicodeDecodeError` text for an invalid UTF-8 sequence of `len` bytes at `start`.
/// Rust's `error_len` and CPython's error range both follow the Unicode "maximal subpart"
/// practice, so the ranges agree.
fn utf8_error_message(bytes: &[u8], start: usize, len: usize, offset: usize) -> String {
    let first = bytes[start];
    // A byte that can never begin a sequence; anything else failed on a later byte.
    let reason = if (0x80..=0xc1).contains(&first) || first >= 0xf5 {
        "invalid start byte"
    } else {
        "invalid continuation byte"
    };
    let pos = start + offset;
    if len == 1 {
        format!("'utf-8' codec can't decode byte 0x{first:02x} in position {pos}: {reason}")
    } else {
        format!(
            "'utf-8' codec can't decode bytes in position {pos}-{}: {reason}",
            pos + len - 1
        )
    }
}

/// `bytes.decode(enc, "replace")`: used for form values, multipart fields and names.
pub(crate) fn decode_replace(codec: Codec, bytes: &[u8]) -> String {
    match codec {
        Codec::Utf8 => String::from_utf8_lossy(bytes).into_owned(),
        Codec::Utf8Sig => {
            String::from_utf8_lossy(bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes))
                .into_owned()
        }
        Codec::Ascii => bytes
            .iter()
            .map(|&b| {
                if b.is_ascii() {
                    char::from(b)
                } else {
                    '\u{fffd}'
                }
            })
            .collect(),
        Codec::Latin1 => bytes.iter().map(|&b| char::from(b)).collect(),
        Codec::Utf16(endian) | Codec::Utf32(endian) => {
            let width = if matches!(codec, Codec::Utf16(_)) {
                2
            } else {
                4
            };
            let (big, skip) = detect_bom(bytes, width, endian);
            decode_units(bytes, skip, width, big, Mode::Replace)
                .map(|(text, _)| text)
                .unwrap_or_default()
        }
    }
}

/// `bytes.decode(enc)` (strict, final): `None` when it would raise.
pub(crate) fn decode_strict(codec: Codec, bytes: &[u8]) -> Option<String> {
    match codec {
        Codec::Utf8 => std::str::from_utf8(bytes).ok().map(str::to_owned),
        Codec::Utf8Sig => std::str::from_utf8(bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes))
            .ok()
            .map(str::to_owned),
        Codec::Ascii => bytes
            .is_ascii()
            .then(|| String::from_utf8_lossy(bytes).into_owned()),
        Codec::Latin1 => Some(bytes.iter().map(|&b| char::from(b)).collect()),
        Codec::Utf16(endian) | Codec::Utf32(endian) => {
            let width = if matches!(codec, Codec::Utf16(_)) {
                2
            } else {
                4
            };
            let (big, skip) = detect_bom(bytes, width, endian);
            decode_units(bytes, skip, width, big, Mode::Strict)
                .ok()
                .map(|(text, _)| text)
        }
    }
}
