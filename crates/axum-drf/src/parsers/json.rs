//! A port of CPython 3.11's JSON scanner (`Modules/_json.c`, the C accelerator that
//! `json.loads` really runs, plus `json/decoder.py` around it) as DRF calls it: strict
//! strings and `parse_constant` refusing NaN and the infinities.
//!
//! It is a port rather than serde_json with rewritten messages because DRF's 400 body quotes
//! Python's message with Python's position, and those depend on the scanner's exact order of
//! checks (for example `[1,]` is "Expecting value" at the `]`, while `{"a":1,}` is "Expecting
//! property name enclosed in double quotes"). The scanner works on characters, not bytes,
//! because Python positions count code points of the decoded text.
//!
//! It is iterative with an explicit stack so that hostile nesting cannot overflow a thread
//! stack (tokio workers have 2 MiB).

use serde_json::{Map, Number, Value};

/// Deepest nesting the reference server parses. CPython's recursion limit (1000) is shared
/// with the frames Django and DRF already use when the parser runs; measured against the
/// reference (gunicorn, any view): 946 nested containers parse, the 947th raises
/// `RecursionError`.
pub(crate) const MAX_DEPTH: usize = 946;

/// Python 3.11's default `sys.get_int_max_str_digits()`.
const INT_MAX_STR_DIGITS: usize = 4300;

/// Offset added to a lone UTF-16 surrogate from a `\uD800`-style escape so it can live in a
/// Rust string; see [`super::lone_surrogate`].
pub(crate) const SURROGATE_SHIFT: u32 = 0x10_0000;

/// Why scanning stopped.
enum Fail {
    /// `json.JSONDecodeError(msg, doc, pos)`: rendered with line and column.
    Decode(&'static str, usize),
    /// The C scanner's `StopIteration(idx)`: no value starts at idx. `decode()` turns it into
    /// "Expecting value" at idx.
    Stop(usize),
    /// Any other `ValueError`, whose text DRF shows as is.
    Value(String),
}

/// `json.loads(text, parse_constant=strict_constant)`; the error is the text DRF puts after
/// "JSON parse error - ".
pub(crate) fn loads(text: &str) -> Result<Value, String> {
    let chars: Vec<char> = text.chars().collect();
    let scanner = Scanner { s: &chars };
    let fail = if text.starts_with('\u{feff}') {
        Fail::Decode("Unexpected UTF-8 BOM (decode using utf-8-sig)", 0)
    } else {
        match scanner.scan(scanner.skip_ws(0)) {
            Ok((value, end)) => {
                let end = scanner.skip_ws(end);
                if end == chars.len() {
                    return Ok(value);
                }
                Fail::Decode("Extra data", end)
            }
            Err(f) => f,
        }
    };
    Err(match fail {
        Fail::Decode(msg, pos) => decode_error(msg, &chars, pos),
        Fail::Stop(pos) => decode_error("Expecting value", &chars, pos),
        Fail::Value(msg) => msg,
    })
}

/// `JSONDecodeError.__str__`: `'%s: line %d column %d (char %d)'`, where the column is
/// counted from the last newline before pos (Python: `pos - doc.rfind('\n', 0, pos)`).
fn decode_error(msg: &str, doc: &[char], pos: usize) -> String {
    let before = &doc[..pos.min(doc.len())];
    let lineno = before.iter().filter(|&&c| c == '\n').count() + 1;
    let colno = match before.iter().rposition(|&c| c == '\n') {
        Some(nl) => pos - nl,
        None => pos + 1,
    };
    format!("{msg}: line {lineno} column {colno} (char {pos})")
}

/// A container being filled, innermost last.
enum Frame {
    Array(Vec<Value>),
    /// The map so far and the key whose value is being scanned.
    Object(Map<String, Value>, String),
}

struct Scanner<'a> {
    s: &'a [char],
}

impl Scanner<'_> {
    fn at(&self, idx: usize) -> Option<char> {
        self.s.get(idx).copied()
    }

    fn is(&self, idx: usize, c: char) -> bool {
        self.at(idx) == Some(c)
    }

    /// Python skips exactly these four; other Unicode whitespace is an error.
    fn skip_ws(&self, mut idx: usize) -> usize {
        while matches!(self.at(idx), Some(' ' | '\t' | '\n' | '\r')) {
            idx += 1;
        }
        idx
    }

    /// `s[idx..]` starts with `lit` (all ASCII), like the C scanner's char-by-char checks.
    fn has(&self, idx: usize, lit: &str) -> bool {
        let n = lit.len();
        idx + n <= self.s.len() && lit.chars().zip(&self.s[idx..idx + n]).all(|(a, &b)| a == b)
    }

    /// `scan_once_unicode` for the value at idx, with `_parse_object_unicode` and
    /// `_parse_array_unicode` unrolled onto an explicit stack.
    fn scan(&self, mut idx: usize) -> Result<(Value, usize), Fail> {
        let mut stack: Vec<Frame> = Vec::new();
        loop {
            // Scan one term at idx; containers that are not empty push a frame and scan on.
            let (mut value, mut end) = match self.at(idx) {
                None => return Err(Fail::Stop(idx)),
                Some('"') => {
                    let (s, end) = self.scanstring(idx + 1)?;
                    (Value::String(s), end)
                }
                Some(open @ ('{' | '[')) => {
                    if stack.len() >= MAX_DEPTH {
                        return Err(Fail::Value(format!(
                            "maximum recursion depth exceeded while decoding a JSON {} from a unicode string",
                            if open == '{' { "object" } else { "array" }
                        )));
                    }
                    idx = self.skip_ws(idx + 1);
                    if open == '[' {
                        if self.is(idx, ']') {
                            (Value::Array(Vec::new()), idx + 1)
                        } else {
                            stack.push(Frame::Array(Vec::new()));
                            continue;
                        }
                    } else if self.is(idx, '}') {
                        (Value::Object(Map::new()), idx + 1)
                    } else {
                        let (key, next) = self.object_key(idx)?;
                        idx = next;
                        stack.push(Frame::Object(Map::new(), key));
                        continue;
                    }
                }
                Some(_) => self.scan_scalar(idx)?,
            };
            // Hand the finished value to the enclosing containers, closing those that end.
            loop {
                match stack.last_mut() {
                    None => return Ok((value, end)),
                    Some(Frame::Array(items)) => {
                        items.push(value);
                        idx = self.skip_ws(end);
                        if self.is(idx, ']') {
                            let Some(Frame::Array(items)) = stack.pop() else {
                                unreachable!("the last frame is an array")
                            };
                            value = Value::Array(items);
                            end = idx + 1;
                            continue;
                        }
                        if !self.is(idx, ',') {
                            return Err(Fail::Decode("Expecting ',' delimiter", idx));
                        }
                        // Python 3.11 has no trailing-comma check: `[1,]` fails when the
                        // next term does not scan ("Expecting value" at the `]`).
                        idx = self.skip_ws(idx + 1);
                        break;
                    }
                    Some(Frame::Object(map, key)) => {
                        // A repeated key keeps its first position and takes the last value,
                        // like a Python dict.
                        map.insert(std::mem::take(key), value);
                        idx = self.skip_ws(end);
                        if self.is(idx, '}') {
                            let Some(Frame::Object(map, _)) = stack.pop() else {
                                unreachable!("the last frame is an object")
                            };
                            value = Value::Object(map);
                            end = idx + 1;
                            continue;
                        }
                        if !self.is(idx, ',') {
                            return Err(Fail::Decode("Expecting ',' delimiter", idx));
                        }
                        let (next_key, next) = self.object_key(self.skip_ws(idx + 1))?;
                        *key = next_key;
                        idx = next;
                        break;
                    }
                }
            }
        }
    }

    /// Reads `"key" :` at idx (whitespace before idx already skipped) and returns the key and
    /// the index of the value after the whitespace following `:`.
    fn object_key(&self, idx: usize) -> Result<(String, usize), Fail> {
        if !self.is(idx, '"') {
            return Err(Fail::Decode(
                "Expecting property name enclosed in double quotes",
                idx,
            ));
        }
        let (key, next) = self.scanstring(idx + 1)?;
        let idx = self.skip_ws(next);
        if !self.is(idx, ':') {
            return Err(Fail::Decode("Expecting ':' delimiter", idx));
        }
        Ok((key, self.skip_ws(idx + 1)))
    }

    /// Literals, DRF's refused constants, and numbers (the C scanner's order of checks).
    fn scan_scalar(&self, idx: usize) -> Result<(Value, usize), Fail> {
        for (lit, value) in [
            ("null", Value::Null),
            ("true", Value::Bool(true)),
            ("false", Value::Bool(false)),
        ] {
            // The C scanner also requires idx + len(lit) - 1 < length, which `has` implies.
            if self.has(idx, lit) {
                return Ok((value, idx + lit.len()));
            }
        }
        for constant in ["NaN", "Infinity", "-Infinity"] {
            if self.has(idx, constant) {
                // DRF's json.strict_constant: ValueError with repr() of the constant.
                return Err(Fail::Value(format!(
                    "Out of range float values are not JSON compliant: '{constant}'"
                )));
            }
        }
        self.match_number(idx)
    }

    /// `_match_number_unicode`.
    fn match_number(&self, start: usize) -> Result<(Value, usize), Fail> {
        let digit = |i: usize| self.at(i).is_some_and(|c| c.is_ascii_digit());
        let len = self.s.len();
        let mut idx = start;
        if self.is(idx, '-') {
            idx += 1;
            if idx >= len {
                return Err(Fail::Stop(start));
            }
        }
        match self.at(idx) {
            Some('1'..='9') => {
                idx += 1;
                while digit(idx) {
                    idx += 1;
                }
            }
            Some('0') => idx += 1,
            _ => return Err(Fail::Stop(start)),
        }
        let mut is_float = false;
        // A fraction needs a digit after the '.'; otherwise the number ends before it.
        if self.is(idx, '.') && digit(idx + 1) {
            is_float = true;
            idx += 2;
            while digit(idx) {
                idx += 1;
            }
        }
        // The C scanner only looks at an exponent when a character follows the 'e', and only
        // takes a sign when a character follows the sign; with no digits it backtracks.
        if idx + 1 < len && matches!(self.at(idx), Some('e' | 'E')) {
            let e_start = idx;
            idx += 1;
            if idx + 1 < len && matches!(self.at(idx), Some('-' | '+')) {
                idx += 1;
            }
            while digit(idx) {
                idx += 1;
            }
            if digit(idx - 1) {
                is_float = true;
            } else {
                idx = e_start;
            }
        }
        let numstr: String = self.s[start..idx].iter().collect();
        Ok((number_value(&numstr, is_float)?, idx))
    }

    /// `scanstring_unicode` with strict=True. `end` is the index after the opening quote.
    fn scanstring(&self, mut end: usize) -> Result<(String, usize), Fail> {
        let s = self.s;
        let len = s.len();
        let begin = end - 1;
        let mut out = String::new();
        loop {
            // Find the end of the string or the next escape.
            let mut next = end;
            while next < len && s[next] != '"' && s[next] != '\\' {
                if u32::from(s[next]) <= 0x1f {
                    return Err(Fail::Decode("Invalid control character at", next));
                }
                next += 1;
            }
            if next >= len {
                return Err(Fail::Decode("Unterminated string starting at", begin));
            }
            out.extend(&s[end..next]);
            if s[next] == '"' {
                return Ok((out, next + 1));
            }
            // A backslash.
            next += 1;
            if next == len {
                return Err(Fail::Decode("Unterminated string starting at", begin));
            }
            let esc = s[next];
            if esc != 'u' {
                end = next + 1;
                out.push(match esc {
                    '"' => '"',
                    '\\' => '\\',
                    '/' => '/',
                    'b' => '\u{8}',
                    'f' => '\u{c}',
                    'n' => '\n',
                    'r' => '\r',
                    't' => '\t',
                    _ => return Err(Fail::Decode("Invalid \\escape", end - 2)),
                });
                continue;
            }
            next += 1;
            end = next + 4;
            // Python demands a character after the four digits (the closing quote at least).
            if end >= len {
                return Err(Fail::Decode("Invalid \\uXXXX escape", next - 1));
            }
            let mut c =
                hex4(&s[next..end]).ok_or(Fail::Decode("Invalid \\uXXXX escape", end - 5))?;
            // A high surrogate followed by `\u` + low surrogate joins into one character;
            // anything else after it is scanned on its own.
            if (0xd800..=0xdbff).contains(&c)
                && end + 6 < len
                && s[end] == '\\'
                && s[end + 1] == 'u'
            {
                let c2 = hex4(&s[end + 2..end + 6])
                    .ok_or(Fail::Decode("Invalid \\uXXXX escape", end + 1))?;
                if (0xdc00..=0xdfff).contains(&c2) {
                    c = 0x10000 + ((c - 0xd800) << 10) + (c2 - 0xdc00);
                    end += 6;
                }
            }
            out.push(match char::from_u32(c) {
                Some(ch) => ch,
                // A lone surrogate: Python keeps it in the str; see `lone_surrogate`.
                None => char::from_u32(SURROGATE_SHIFT + c).expect("U+10D800..U+10DFFF is valid"),
            });
        }
    }
}

/// Four hex digits, either case.
fn hex4(digits: &[char]) -> Option<u32> {
    digits
        .iter()
        .try_fold(0u32, |acc, d| Some(acc << 4 | d.to_digit(16)?))
}

/// Python's `float(numstr)` / `int(numstr)` mapped onto serde_json values.
///
/// serde_json cannot hold what Python can here, so: integers outside i64/u64 and floats that
/// overflow to ±inf become the string Python's `str()` gives them (the digits, `"inf"`,
/// `"-inf"`). That is what a DRF CharField stores for them, and an IntegerField or
/// PrimaryKeyRelatedField validates those strings the way it validates the Python values.
fn number_value(numstr: &str, is_float: bool) -> Result<Value, Fail> {
    if is_float {
        // Rust's parse is correctly rounded like Python's float(); both give ±inf on overflow.
        let f: f64 = numstr
            .parse()
            .expect("the scanner only passes JSON number syntax");
        return Ok(match Number::from_f64(f) {
            Some(n) => Value::Number(n),
            None => Value::String(if f < 0.0 { "-inf" } else { "inf" }.to_owned()),
        });
    }
    let digits = numstr.trim_start_matches('-').len();
    if digits > INT_MAX_STR_DIGITS {
        return Err(Fail::Value(format!(
            "Exceeds the limit ({INT_MAX_STR_DIGITS} digits) for integer string conversion: \
             value has {digits} digits; use sys.set_int_max_str_digits() to increase the limit"
        )));
    }
    if let Ok(i) = numstr.parse::<i64>() {
        return Ok(Value::from(i));
    }
    if let Ok(u) = numstr.parse::<u64>() {
        return Ok(Value::from(u));
    }
    Ok(Value::String(numstr.to_owned()))
}
