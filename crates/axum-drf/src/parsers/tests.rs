//! Table tests. Every expectation was produced by the reference's own code: DRF 3.18.3's
//! parsers on Django 5.2 and CPython 3.11.7, run in-process on the same bytes, and the
//! negotiation and parse-error rows were also replayed against the reference server over
//! HTTP. The generated differential test (`differential.rs`, ~33,000 cases per seed at full
//! scale) agreed on every case but the deliberate differences noted in `parsers.rs`.

use super::*;
use serde_json::json;

/// The expected outcome of `parse_body`.
enum Want {
    /// The parsed data, as JSON text (Python's `json.dumps` of DRF's `request.data`).
    Data(&'static str),
    /// A 400 with this detail.
    Bad(&'static str),
    /// A 415 with this detail.
    Unsupported(&'static str),
}
use Want::{Bad, Data, Unsupported};

/// `a == b` with object keys also in the same order (serde_json's own equality ignores
/// order, but DRF's dicts keep insertion order and so must we).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y.iter())
                    .all(|((k1, v1), (k2, v2))| k1 == k2 && same(v1, v2))
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(v1, v2)| same(v1, v2))
        }
        _ => a == b,
    }
}

fn check(content_type: Option<&str>, body: &[u8], want: &Want) {
    let got = parse_body(content_type, body);
    let shown = String::from_utf8_lossy(body);
    match (want, got) {
        (Data(json), Ok(value)) => {
            let want: Value = serde_json::from_str(json).expect("fixture is JSON");
            assert!(
                same(&value, &want),
                "{content_type:?} {shown:?}: {value} != {want}"
            );
        }
        (Bad(detail), Err(ParseError::Malformed(got))) => {
            assert_eq!(&got, detail, "{content_type:?} {shown:?}")
        }
        (Unsupported(detail), Err(e @ ParseError::UnsupportedMediaType(_))) => {
            assert_eq!(&e.to_string(), detail, "{content_type:?} {shown:?}")
        }
        (_, got) => panic!("{content_type:?} {shown:?}: unexpected {got:?}"),
    }
}

/// One row per Python/DRF error kind and per decoding path.
#[test]
fn json_error_kinds() {
    let rows: &[(&str, &[u8], Want)] = &[
    ("application/json", b" ", Bad("JSON parse error - Expecting value: line 1 column 2 (char 1)")),
    ("application/json", b"{\"username\": \"a\",}", Bad("JSON parse error - Expecting property name enclosed in double quotes: line 1 column 18 (char 17)")),
    ("application/json", b"{\"a\": 1} x", Bad("JSON parse error - Extra data: line 1 column 10 (char 9)")),
    ("application/json", b"{\"a\" 1}", Bad("JSON parse error - Expecting ':' delimiter: line 1 column 6 (char 5)")),
    ("application/json", b"{\"a\": 1 \"b\": 2}", Bad("JSON parse error - Expecting ',' delimiter: line 1 column 9 (char 8)")),
    ("application/json", b"[1 2]", Bad("JSON parse error - Expecting ',' delimiter: line 1 column 4 (char 3)")),
    ("application/json", b"[1,]", Bad("JSON parse error - Expecting value: line 1 column 4 (char 3)")),
    ("application/json", b"{\"a\": }", Bad("JSON parse error - Expecting value: line 1 column 7 (char 6)")),
    ("application/json", b"\"abc", Bad("JSON parse error - Unterminated string starting at: line 1 column 1 (char 0)")),
    ("application/json", b"\"a\\", Bad("JSON parse error - Unterminated string starting at: line 1 column 1 (char 0)")),
    ("application/json", b"\"a\x01b\"", Bad("JSON parse error - Invalid control character at: line 1 column 3 (char 2)")),
    ("application/json", b"\"a\nb\"", Bad("JSON parse error - Invalid control character at: line 1 column 3 (char 2)")),
    ("application/json", b"\"\\x\"", Bad("JSON parse error - Invalid \\escape: line 1 column 2 (char 1)")),
    ("application/json", b"\"\\u12x4\"", Bad("JSON parse error - Invalid \\uXXXX escape: line 1 column 3 (char 2)")),
    ("application/json", b"\"\\u123\"", Bad("JSON parse error - Invalid \\uXXXX escape: line 1 column 3 (char 2)")),
    ("application/json", b"\"\\u1234", Bad("JSON parse error - Invalid \\uXXXX escape: line 1 column 3 (char 2)")),
    ("application/json", b"\"\\ud800\\u12\"", Bad("JSON parse error - Invalid \\uXXXX escape: line 1 column 9 (char 8)")),
    ("application/json", b"NaN", Bad("JSON parse error - Out of range float values are not JSON compliant: 'NaN'")),
    ("application/json", b"Infinity", Bad("JSON parse error - Out of range float values are not JSON compliant: 'Infinity'")),
    ("application/json", b"-Infinity", Bad("JSON parse error - Out of range float values are not JSON compliant: '-Infinity'")),
    ("application/json", b"[1, NaN]", Bad("JSON parse error - Out of range float values are not JSON compliant: 'NaN'")),
    ("application/json", b"[1 NaN]", Bad("JSON parse error - Expecting ',' delimiter: line 1 column 4 (char 3)")),
    ("application/json", b"-", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("application/json", b"01", Bad("JSON parse error - Extra data: line 1 column 2 (char 1)")),
    ("application/json", b"1.", Bad("JSON parse error - Extra data: line 1 column 2 (char 1)")),
    ("application/json", b"1e", Bad("JSON parse error - Extra data: line 1 column 2 (char 1)")),
    ("application/json", b"1e+", Bad("JSON parse error - Extra data: line 1 column 2 (char 1)")),
    ("application/json", b"tru", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("application/json", b"nul", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("application/json", b"{'a': 1}", Bad("JSON parse error - Expecting property name enclosed in double quotes: line 1 column 2 (char 1)")),
    ("application/json", b"\xc2\xa0{}", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("application/json", b"{\n  \"a\": 1,\n  \"b\": \n}", Bad("JSON parse error - Expecting value: line 4 column 1 (char 20)")),
    ("application/json", b"[\r\n1,\r\n2\r\n", Bad("JSON parse error - Expecting ',' delimiter: line 4 column 1 (char 10)")),
    ("application/json", b"{\"\xc3\xa9\": 1,}", Bad("JSON parse error - Expecting property name enclosed in double quotes: line 1 column 9 (char 8)")),
    ("application/json", b"[\"\xf0\x9f\x98\x80\", x]", Bad("JSON parse error - Expecting value: line 1 column 7 (char 6)")),
    ("application/json", b"\xef\xbb\xbf{}", Bad("JSON parse error - Unexpected UTF-8 BOM (decode using utf-8-sig): line 1 column 1 (char 0)")),
    ("application/json", b"\xff", Bad("JSON parse error - 'utf-8' codec can't decode byte 0xff in position 0: invalid start byte")),
    ("application/json", b"{\"a\": \"\xc3x\"}", Bad("JSON parse error - 'utf-8' codec can't decode byte 0xc3 in position 7: invalid continuation byte")),
    ("application/json", b"{\"a\": \"\xe2\x82x\"}", Bad("JSON parse error - 'utf-8' codec can't decode bytes in position 7-8: invalid continuation byte")),
    ("application/json", b"{\"a\": \"\xed\xa0\x80\"}", Bad("JSON parse error - 'utf-8' codec can't decode byte 0xed in position 7: invalid continuation byte")),
    ("application/json", b"{\"a\": \"\xf0\x9f\x98\"}", Bad("JSON parse error - 'utf-8' codec can't decode bytes in position 7-9: invalid continuation byte")),
    ("application/json", b"{}\xe2\x82", Data("{}")),
    ("application/json", b"\xe2\x82", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("application/json; charset=utf-8-sig", b"\xef\xbb\xbf{\"a\": 1}", Data("{\"a\":1}")),
    ("application/json; charset=utf-8-sig", b"\xef\xbb\xbf{\"a\": \"\xff\"}", Bad("JSON parse error - 'utf-8' codec can't decode byte 0xff in position 7: invalid start byte")),
    ("application/json; charset=ascii", b"{\"a\": \"\xc3\xa9\"}", Bad("JSON parse error - 'ascii' codec can't decode byte 0xc3 in position 7: ordinal not in range(128)")),
    ("application/json; charset=latin-1", b"{\"a\": \"\xe9\"}", Data("{\"a\":\"\u{e9}\"}")),
    ("application/json; charset=utf-16", b"{\x00}\x00", Bad("JSON parse error - UTF-16 stream does not start with BOM")),
    ("application/json; charset=utf-16", b"\xff\xfe{\x00}\x00", Data("{}")),
    ("application/json; charset=utf-16", b"\xff\xfe{\x00\x00\xdc}\x00", Bad("JSON parse error - 'utf-16-le' codec can't decode bytes in position 4-5: illegal encoding")),
    ("application/json; charset=utf-16-le", b"\xff\xfe{\x00}\x00", Bad("JSON parse error - Unexpected UTF-8 BOM (decode using utf-8-sig): line 1 column 1 (char 0)")),
    ("application/json; charset=utf-32", b"\xff\xfe\x00\x00[\x00\x00\x00]\x00\x00\x00", Data("[]")),
    ("application/json; charset=bz2_codec", b"{}", Bad("Unsupported charset \"bz2_codec\" in request Content-Type header.")),
    ("application/json; charset=nonexistent", b"{\"a\": 1}", Data("{\"a\":1}")),
    ("application/json", b"[1e400, -1e400, 1e-400, 12345678901234567890123, -9223372036854775809, 18446744073709551615]", Data("[\"inf\",\"-inf\",0.0,\"12345678901234567890123\",\"-9223372036854775809\",18446744073709551615]")),
    ("application/json", b"{\"a\": 1, \"b\": 2, \"a\": 3}", Data("{\"a\":3,\"b\":2}")),
    ("application/json", b"\"\\ud83d\\ude00 \\ud800 \\udc00x \\ud800\\u0041\"", Data("\"\u{1f600} \u{10d800} \u{10dc00}x \u{10d800}A\"")),
    ("application/json", b"  {\"a\": [true, false, null, -0, 0.5, \"\\/\\b\\f\\n\\r\\t\"]}  \n", Data("{\"a\":[true,false,null,0,0.5,\"/\\b\\f\\n\\r\\t\"]}")),
    ];
    for (content_type, body, want) in rows {
        check(Some(content_type), body, want);
    }
}

/// Python's int-to-str limit (4300 digits) applies to JSON integers, not to floats.
#[test]
fn integer_digit_limit() {
    let limit = |n: usize| {
        format!(
            "JSON parse error - Exceeds the limit (4300 digits) for integer string conversion: \
             value has {n} digits; use sys.set_int_max_str_digits() to increase the limit"
        )
    };
    let digits = "1".repeat(4301);
    for body in [
        digits.clone(),
        format!("-{digits}"),
        format!("[0, {digits}]"),
    ] {
        assert_eq!(
            parse_body(Some("application/json"), body.as_bytes()),
            Err(ParseError::Malformed(limit(4301)))
        );
    }
    let ok = "9".repeat(4300);
    assert_eq!(
        parse_body(Some("application/json"), ok.as_bytes()).unwrap(),
        Value::String(ok)
    );
    // A float that long is fine for Python (it overflows to inf).
    let float = format!("{digits}.5");
    assert_eq!(
        parse_body(Some("application/json"), float.as_bytes()).unwrap(),
        "inf"
    );
}

/// 320 short strings: the first 160 random over `{}[]":,0-9a-z \n\\tnulfrse.`, the rest
/// mutations of small valid documents, with DRF's answer for each.
#[test]
fn random_short_strings_match_python() {
    let rows: &[(&str, Want)] = &[
    ("4tuc5tju", Bad("JSON parse error - Extra data: line 1 column 2 (char 1)")),
    ("r8xsn", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("fjqtw6cr", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("q\"tl6\n", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("\\ey2r6j]", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("xjm0tn", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("udh", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("ff5dkj", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("t6j76[", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("u}9.", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("dltr\\jw0e", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("l78mg15gov", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("9hw", Bad("JSON parse error - Extra data: line 1 column 2 (char 1)")),
    ("e\\\\m3 ", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("e6u", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    (",e", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("{2l", Bad("JSON parse error - Expecting property name enclosed in double quotes: line 1 column 2 (char 1)")),
    ("f7:5", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("8\nmv9", Bad("JSON parse error - Extra data: line 2 column 1 (char 2)")),
    ("qkzj5e\"c", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("a1tzt", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("q,o65", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("4p.7dfu", Bad("JSON parse error - Extra data: line 1 column 2 (char 1)")),
    ("u", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("hntx\"07]q", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("e6x", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    (":p48ourt33", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("1w", Bad("JSON parse error - Extra data: line 1 column 2 (char 1)")),
    ("rv", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("rvx}v,s4r", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("{0a}4]", Bad("JSON parse error - Expecting property name enclosed in double quotes: line 1 column 2 (char 1)")),
    ("x.", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    (" wt6u6y5m4", Bad("JSON parse error - Expecting value: line 1 column 2 (char 1)")),
    ("datmxle\\", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("iulj", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("\n163ci5u4f", Bad("JSON parse error - Extra data: line 2 column 4 (char 4)")),
    (" {0e {l7", Bad("JSON parse error - Expecting property name enclosed in double quotes: line 1 column 3 (char 2)")),
    ("jz[6vmsos", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("k", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("{pes9z", Bad("JSON parse error - Expecting property name enclosed in double quotes: line 1 column 2 (char 1)")),
    ("7v,", Bad("JSON parse error - Extra data: line 1 column 2 (char 1)")),
    ("\"14}ec9", Bad("JSON parse error - Unterminated string starting at: line 1 column 1 (char 0)")),
    ("3gemkowd", Bad("JSON parse error - Extra data: line 1 column 2 (char 1)")),
    ("[l0", Bad("JSON parse error - Expecting value: line 1 column 2 (char 1)")),
    ("gk", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("p\\,", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("z", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("}ra70dr", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("16tu,k,v\\\n", Bad("JSON parse error - Extra data: line 1 column 3 (char 2)")),
    ("ks3u7", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("p", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("5h", Bad("JSON parse error - Extra data: line 1 column 2 (char 1)")),
    ("tjltf4ey8", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("ubsauflx0", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("iubdpq7", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("slrf", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("jfmt", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("b  5m", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("]9hsy69jq", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("ydb", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("r1u:p7mva", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("8yqhn", Bad("JSON parse error - Extra data: line 1 column 2 (char 1)")),
    ("4nrg}", Bad("JSON parse error - Extra data: line 1 column 2 (char 1)")),
    ("yh\n\"ut1,kw", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("5l\"uu9", Bad("JSON parse error - Extra data: line 1 column 2 (char 1)")),
    ("r", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("z.q5.", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("35\\nsa\"", Bad("JSON parse error - Extra data: line 1 column 3 (char 2)")),
    ("0,ua1nhf", Bad("JSON parse error - Extra data: line 1 column 2 (char 1)")),
    ("ey,7uu83by", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("s\nr", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    (" ,1ejex", Bad("JSON parse error - Expecting value: line 1 column 2 (char 1)")),
    ("ssu8}v", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("h1ta3", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("r96s1\nknr", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("1s1 ", Bad("JSON parse error - Extra data: line 1 column 2 (char 1)")),
    ("9}xw", Bad("JSON parse error - Extra data: line 1 column 2 (char 1)")),
    ("kq", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("[n2a\\gm", Bad("JSON parse error - Expecting value: line 1 column 2 (char 1)")),
    ("bn uls", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    (" ", Bad("JSON parse error - Expecting value: line 1 column 2 (char 1)")),
    ("4hyox", Bad("JSON parse error - Extra data: line 1 column 2 (char 1)")),
    ("pog3\"p", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("a54lmdw{2", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("k]", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("uzn:\\", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("zn", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("6qp n.7z", Bad("JSON parse error - Extra data: line 1 column 2 (char 1)")),
    ("ypxcob", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("] 6 trn\\8c", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("9e[1wr", Bad("JSON parse error - Extra data: line 1 column 2 (char 1)")),
    ("9ff2]f{wd", Bad("JSON parse error - Extra data: line 1 column 2 (char 1)")),
    ("54brmq", Bad("JSON parse error - Extra data: line 1 column 3 (char 2)")),
    ("3", Data("3")),
    ("fn", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("i]j5 ", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("1g{", Bad("JSON parse error - Extra data: line 1 column 2 (char 1)")),
    ("guj80e.w", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("d{n verq", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("\\xll51e", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("p ", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("oiolt7[", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("ezxqs\"ar", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("gx", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    (".g\"dfnvun", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("yjtsh", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("x90}8.q\\\\", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("3u25{r{", Bad("JSON parse error - Extra data: line 1 column 2 (char 1)")),
    ("],e37", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("qal\"", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("ee[", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("sf:qg", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("3,g9f{rrt", Bad("JSON parse error - Extra data: line 1 column 2 (char 1)")),
    ("urklwu8f[", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("ufa", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("{m8gl]26e", Bad("JSON parse error - Expecting property name enclosed in double quotes: line 1 column 2 (char 1)")),
    ("ul", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("m:", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("7{", Bad("JSON parse error - Extra data: line 1 column 2 (char 1)")),
    ("s3", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("6\n57nejw", Bad("JSON parse error - Extra data: line 2 column 1 (char 2)")),
    (":lyjuquhqa", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("8gn", Bad("JSON parse error - Extra data: line 1 column 2 (char 1)")),
    ("2n}\n", Bad("JSON parse error - Extra data: line 1 column 2 (char 1)")),
    ("aj ", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    (" kie", Bad("JSON parse error - Expecting value: line 1 column 2 (char 1)")),
    ("hhl", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("x0tar9w2d0", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    (":fo0u5", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("q1r", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    (",vvimtlt", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("jnlodtdewq", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("e47w", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("}pmnpg[", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("n3\nta", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("7ty ", Bad("JSON parse error - Extra data: line 1 column 2 (char 1)")),
    ("kxffmfq\n:m", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("ce}w5nn6y", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("lkp:2", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("ysjcapte", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("25", Data("25")),
    ("rx", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("[u o 6.ry", Bad("JSON parse error - Expecting value: line 1 column 2 (char 1)")),
    ("3:9", Bad("JSON parse error - Extra data: line 1 column 2 (char 1)")),
    ("2urdcf.", Bad("JSON parse error - Extra data: line 1 column 2 (char 1)")),
    ("z\\eo4l", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("uhl:", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("tu[[jb3 6", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("e", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("u1", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    (":sf4", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("t", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("s7", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("vpm5n5{cte", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("hla}\".", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("e\nulgdjr5", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("2:bnez03", Bad("JSON parse error - Extra data: line 1 column 2 (char 1)")),
    ("wglq", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("i3fu", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("1hz\\", Bad("JSON parse error - Extra data: line 1 column 2 (char 1)")),
    ("{", Bad("JSON parse error - Expecting property name enclosed in double quotes: line 1 column 2 (char 1)")),
    ("\n[]\\ud800", Bad("JSON parse error - Extra data: line 2 column 3 (char 3)")),
    (",-0.5", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    (" ull", Bad("JSON parse error - Expecting value: line 1 column 2 (char 1)")),
    ("{null}", Bad("JSON parse error - Expecting property name enclosed in double quotes: line 1 column 2 (char 1)")),
    ("[]\"k\":[", Bad("JSON parse error - Extra data: line 1 column 3 (char 2)")),
    ("{\"k\": 2e3\t", Bad("JSON parse error - Expecting ',' delimiter: line 1 column 11 (char 10)")),
    ("{\"k\":null, \"a\":\u{1}{\"a\": true, \"a\": 1}}", Bad("JSON parse error - Expecting value: line 1 column 16 (char 15)")),
    ("}{\"k\": {\"b\": \n[]}}", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("[", Bad("JSON parse error - Expecting value: line 1 column 2 (char 1)")),
    ("\"\\1e00e9", Bad("JSON parse error - Invalid \\escape: line 1 column 2 (char 1)")),
    ("a\\nb\"", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("}\\u12]", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("[0.5", Bad("JSON parse error - Expecting ',' delimiter: line 1 column 5 (char 4)")),
    ("{\"b\": \"a\\nb\"-Infinity", Bad("JSON parse error - Expecting ',' delimiter: line 1 column 13 (char 12)")),
    ("\"\\u00e9true\"", Data("\"\u{e9}true\"")),
    ("{\"k\": \"a\": \n[]}}", Bad("JSON parse error - Expecting ',' delimiter: line 1 column 10 (char 9)")),
    ("{b\": [], 1e\"b\": []}", Bad("JSON parse error - Expecting property name enclosed in double quotes: line 1 column 2 (char 1)")),
    ("null", Data("null")),
    ("\n[,", Bad("JSON parse error - Expecting value: line 2 column 2 (char 2)")),
    ("\\u120.5", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("\"\\u12\"", Bad("JSON parse error - Invalid \\uXXXX escape: line 1 column 3 (char 2)")),
    ("[{\"b\": 1, \"k\": null}\\n[],{\"a\": \"x\"}]", Bad("JSON parse error - Expecting ',' delimiter: line 1 column 21 (char 20)")),
    ("[\u{1}2e3,[[],2e3]", Bad("JSON parse error - Expecting value: line 1 column 2 (char 1)")),
    ("{\"\": [], \"a\": {\"k\": -0.5}}", Data("{\"\":[],\"a\":{\"k\":-0.5}}")),
    ("{k\": true}", Bad("JSON parse error - Expecting property name enclosed in double quotes: line 1 column 2 (char 1)")),
    ("{\"a\\nb\"", Bad("JSON parse error - Expecting ':' delimiter: line 1 column 8 (char 7)")),
    ("-0501", Bad("JSON parse error - Extra data: line 1 column 3 (char 2)")),
    ("\"\\u009\u{1}\"", Bad("JSON parse error - Invalid \\uXXXX escape: line 1 column 3 (char 2)")),
    ("\"a\\ud800nb\",[],[]]", Bad("JSON parse error - Extra data: line 1 column 12 (char 11)")),
    ("}{}", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("{\"b\": {\"a\": \"x\", \"b\": true}, \"b\": {\"a\"null: false, \"k\": \"x\"}}", Bad("JSON parse error - Expecting ':' delimiter: line 1 column 39 (char 38)")),
    ("{\"b\": \"\\009\"}", Bad("JSON parse error - Invalid \\escape: line 1 column 8 (char 7)")),
    ("{\"\": \"\\u00e9\"}true", Bad("JSON parse error - Extra data: line 1 column 15 (char 14)")),
    ("]fase", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("{\"k\":", Bad("JSON parse error - Expecting value: line 1 column 6 (char 5)")),
    ("fa\\u12lse", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("[true,\"a\\nb,false]", Bad("JSON parse error - Unterminated string starting at: line 1 column 7 (char 6)")),
    ("tnule", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    (",-05", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("t\"k\":rue", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("[[1,-0.5,\"x\"],[\n[]],[1true]]", Bad("JSON parse error - Expecting ',' delimiter: line 2 column 7 (char 22)")),
    ("][]", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("{\"k\"\\u12 [true,false,\n[]]}", Bad("JSON parse error - Expecting ':' delimiter: line 1 column 5 (char 4)")),
    ("\"a\\nb", Bad("JSON parse error - Unterminated string starting at: line 1 column 1 (char 0)")),
    ("{\"a\": {\\ud800a\": 2e3}, \"k\": \"a\\nb\"", Bad("JSON parse error - Expecting property name enclosed in double quotes: line 1 column 8 (char 7)")),
    ("[\"x\"{}]", Bad("JSON parse error - Expecting ',' delimiter: line 1 column 5 (char 4)")),
    ("{\"\": -0.5\\ud800, \"k\": {\"a\": 1}}", Bad("JSON parse error - Expecting ',' delimiter: line 1 column 10 (char 9)")),
    ("{ase", Bad("JSON parse error - Expecting property name enclosed in double quotes: line 1 column 2 (char 1)")),
    ("2e", Bad("JSON parse error - Extra data: line 1 column 2 (char 1)")),
    ("}2e3", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("[-0.5,tr]", Bad("JSON parse error - Expecting value: line 1 column 7 (char 6)")),
    ("\\u12[\t", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("[\"\\u00e9\",{\"a\": \"a\\nb\"},{\"b\": \"\\u00e9\", \"b\": x\"}]", Bad("JSON parse error - Expecting value: line 1 column 46 (char 45)")),
    ("\u{e9}e", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("[false-Infinity", Bad("JSON parse error - Expecting ',' delimiter: line 1 column 7 (char 6)")),
    ("\n]", Bad("JSON parse error - Expecting value: line 2 column 1 (char 1)")),
    ("", Data("{}")),
    ("2e3\n", Data("2000.0")),
    ("{\"a\\ud800: nul}", Bad("JSON parse error - Unterminated string starting at: line 1 column 2 (char 1)")),
    ("ru", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("nul\\n", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("\\u00e9{}", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("\"-Infinitya\\nb\"", Data("\"-Infinitya\\nb\"")),
    ("-0,", Bad("JSON parse error - Extra data: line 1 column 3 (char 2)")),
    ("[{\"b\":true, }a\": \"x\"},null,{\"a\": \"\\u00e9\"}]", Bad("JSON parse error - Expecting property name enclosed in double quotes: line 1 column 13 (char 12)")),
    ("\"-Infinityx\"", Data("\"-Infinityx\"")),
    ("NaN}1e", Bad("JSON parse error - Out of range float values are not JSON compliant: 'NaN'")),
    ("[\"a\\nb\",]\\u00e9\"]", Bad("JSON parse error - Expecting value: line 1 column 9 (char 8)")),
    ("[{\"k\": \"\\u00e9\", \"b\": 1},\"\\u00e9\",[\"x\",\"a\\nb\",-.5]]", Bad("JSON parse error - Expecting value: line 1 column 47 (char 46)")),
    ("[[x\"]", Bad("JSON parse error - Expecting value: line 1 column 3 (char 2)")),
    ("\"\\nb\"", Data("\"\\nb\"")),
    ("\"x-2.5e3", Bad("JSON parse error - Unterminated string starting at: line 1 column 1 (char 0)")),
    ("alse\u{1}", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("{\"a\": \"\\u00e9\", \"k\": {\"a\": null, \"\": \n[]}}", Data("{\"a\":\"\u{e9}\",\"k\":{\"a\":null,\"\":[]}}")),
    ("\"\\\"ab\"u00e9\"", Bad("JSON parse error - Extra data: line 1 column 7 (char 6)")),
    ("[-0.5,\"x\"", Bad("JSON parse error - Expecting ',' delimiter: line 1 column 10 (char 9)")),
    ("0.", Bad("JSON parse error - Extra data: line 1 column 2 (char 1)")),
    ("{]", Bad("JSON parse error - Expecting property name enclosed in double quotes: line 1 column 2 (char 1)")),
    ("{\"b\" \n[]}", Bad("JSON parse error - Expecting ':' delimiter: line 2 column 1 (char 6)")),
    ("\n[", Bad("JSON parse error - Expecting value: line 2 column 2 (char 2)")),
    ("fal\u{e9}se", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("01als", Bad("JSON parse error - Extra data: line 1 column 2 (char 1)")),
    ("n\nl", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("n l", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("\\x\"a\\nb\",{,{\"b\": \"a\\nb\"}]", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("true{\"a\": null", Bad("JSON parse error - Extra data: line 1 column 5 (char 4)")),
    ("-0.", Bad("JSON parse error - Extra data: line 1 column 3 (char 2)")),
    ("\n\na\\nb\"", Bad("JSON parse error - Expecting value: line 3 column 1 (char 2)")),
    ("\\u12{", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("[\"\\u00e9\"nul{\"k\": 2e3, \"a\": false}]", Bad("JSON parse error - Expecting ',' delimiter: line 1 column 10 (char 9)")),
    ("nu", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("{\"\": \"\\u0\u{1}0e9\", \"a\": {\"a\": 1, \"k\": null}}", Bad("JSON parse error - Invalid \\uXXXX escape: line 1 column 8 (char 7)")),
    ("[1", Bad("JSON parse error - Expecting ',' delimiter: line 1 column 3 (char 2)")),
    ("nulx\"", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("[t-2.5e3ue]", Bad("JSON parse error - Expecting value: line 1 column 2 (char 1)")),
    ("[}\"a\": \"x-Infinity, \"k\": 1},\"\\u00e9\",{\"k\": \"a\\nb\", \"b\": 1}]", Bad("JSON parse error - Expecting value: line 1 column 2 (char 1)")),
    ("[t-Infinitye]", Bad("JSON parse error - Expecting value: line 1 column 2 (char 1)")),
    ("\"a\\nb\"-2.5e3,", Bad("JSON parse error - Extra data: line 1 column 7 (char 6)")),
    ("{\"a\": 2e3, \"k: \"\\\\n00e9\"}", Bad("JSON parse error - Expecting ':' delimiter: line 1 column 17 (char 16)")),
    ("\\n\\n}", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("{\"k\": [true,\"\\u00e9\",\"x\"], \"k\": {\"k\"-2.5e3: \"a\\nb\", \"k\": \"a\\nb\"}}", Bad("JSON parse error - Expecting ':' delimiter: line 1 column 37 (char 36)")),
    ("{\"b\": -\\u00e9.5}", Bad("JSON parse error - Expecting value: line 1 column 7 (char 6)")),
    ("[[\"a\\nb\",\"\\n\",true],[2e3],[]]", Data("[[\"a\\nb\",\"\\n\",true],[2000.0],[]]")),
    ("{\"k\": \"k\": false, \"b\": 2e3}}", Bad("JSON parse error - Expecting ',' delimiter: line 1 column 10 (char 9)")),
    ("1e\"xtrue\"", Bad("JSON parse error - Extra data: line 1 column 2 (char 1)")),
    ("nl", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("[ []]", Data("[[]]")),
    ("nul\t", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("ftruels\u{1}", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("\"\\u009\"", Bad("JSON parse error - Invalid \\uXXXX escape: line 1 column 3 (char 2)")),
    ("1e\"a[\\nb\"", Bad("JSON parse error - Extra data: line 1 column 2 (char 1)")),
    ("\"a\\nb]\"", Data("\"a\\nb]\"")),
    ("[-0.5,[null],\"\\u00e9\"]", Data("[-0.5,[null],\"\u{e9}\"]")),
    ("{\"b\": -2.5e3ul\\x}", Bad("JSON parse error - Expecting ',' delimiter: line 1 column 13 (char 12)")),
    ("{\"\": \"\\u0.0e9\", \"b\": 1}", Bad("JSON parse error - Invalid \\uXXXX escape: line 1 column 8 (char 7)")),
    ("{\"b\"nul [\"a\\nb\",1],}", Bad("JSON parse error - Expecting ':' delimiter: line 1 column 5 (char 4)")),
    ("fa[se", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("{\"a\": {\"b\" nul01}, \"k\": \n[]}", Bad("JSON parse error - Expecting ':' delimiter: line 1 column 12 (char 11)")),
    ("{\"a\": {\"b\":\\x2e3}, \"k\": false}", Bad("JSON parse error - Expecting value: line 1 column 12 (char 11)")),
    ("nul[", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("{\"k\": null, \"a\": [{\"a\": false, \"a\": \"\\u00e9\"{}}", Bad("JSON parse error - Expecting ',' delimiter: line 1 column 45 (char 44)")),
    ("t\u{1}re", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("ale", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("1", Data("1")),
    ("nul[]", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("{\"truea\": -0.5, \"b\": {\"a\": ull}}", Bad("JSON parse error - Expecting value: line 1 column 28 (char 27)")),
    ("{\"b\": \"x\" \"b\"\"k\":: false}", Bad("JSON parse error - Expecting ',' delimiter: line 1 column 11 (char 10)")),
    ("falseNaN", Bad("JSON parse error - Extra data: line 1 column 6 (char 5)")),
    ("{\"a\": {\"a\": \"\"k\":u00e9\"}, \"k\": {}}", Bad("JSON parse error - Expecting ',' delimiter: line 1 column 15 (char 14)")),
    ("-.", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("null\u{1}", Bad("JSON parse error - Extra data: line 1 column 5 (char 4)")),
    ("{\"a\": {, \"a\": [2e3,null]}", Bad("JSON parse error - Expecting property name enclosed in double quotes: line 1 column 8 (char 7)")),
    ("0.5", Data("0.5")),
    ("}}", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("tre", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("-0.0.0.5", Bad("JSON parse error - Extra data: line 1 column 5 (char 4)")),
    ("\\ud800[]", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("\\u00e9\"", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("{\"k\u{1}\": {}, \tb\": true}", Bad("JSON parse error - Invalid control character at: line 1 column 4 (char 3)")),
    ("{\"k\": true, \"k\": {\"a\": true}}-Infinity", Bad("JSON parse error - Extra data: line 1 column 30 (char 29)")),
    ("{\"k\": \"\\u00e9\", \"b\": [e3,1,\"a\\nb\"]}", Bad("JSON parse error - Expecting value: line 1 column 23 (char 22)")),
    ("\"a\\:b\"", Bad("JSON parse error - Invalid \\escape: line 1 column 3 (char 2)")),
    ("ase", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("\"\\u0\\xe9\"", Bad("JSON parse error - Invalid \\uXXXX escape: line 1 column 3 (char 2)")),
    ("{\"\": null, \"a\": t-Infinityue}", Bad("JSON parse error - Expecting value: line 1 column 17 (char 16)")),
    ("fa1else", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("[true\\n", Bad("JSON parse error - Expecting ',' delimiter: line 1 column 6 (char 5)")),
    ("}", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("t\\n\\u00e9e", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("2", Data("2")),
    ("2NaNe01", Bad("JSON parse error - Extra data: line 1 column 2 (char 1)")),
    ("{{", Bad("JSON parse error - Expecting property name enclosed in double quotes: line 1 column 2 (char 1)")),
    ("\"anb\"", Data("\"anb\"")),
    ("\"\\u01e]e9\"", Bad("JSON parse error - Invalid \\uXXXX escape: line 1 column 3 (char 2)")),
    ("2e3\"ab\"", Bad("JSON parse error - Extra data: line 1 column 4 (char 3)")),
    (" true}", Bad("JSON parse error - Extra data: line 1 column 6 (char 5)")),
    ("-.5", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ("\"0.5", Bad("JSON parse error - Unterminated string starting at: line 1 column 1 (char 0)")),
    ("\\x0.nul5", Bad("JSON parse error - Expecting value: line 1 column 1 (char 0)")),
    ];
    assert_eq!(rows.len(), 320);
    for (body, want) in rows {
        check(Some("application/json"), body.as_bytes(), want);
    }
}

/// Forms, multipart, content types and empty bodies.
#[test]
fn bodies() {
    let rows: &[(Option<&str>, &[u8], Want)] = &[
    (Some("application/x-www-form-urlencoded"), b"a=1&a=2&b=x+y", Data("{\"a\":\"2\",\"b\":\"x y\"}")),
    (Some("application/x-www-form-urlencoded"), b"name=a+b%20c&name=last", Data("{\"name\":\"last\"}")),
    (Some("application/x-www-form-urlencoded"), b"name=%FF%FE", Data("{\"name\":\"\u{fffd}\u{fffd}\"}")),
    (Some("application/x-www-form-urlencoded"), b"name=\xe9t\xe9", Data("{\"name\":\"\u{e9}t\u{e9}\"}")),
    (Some("application/x-www-form-urlencoded"), b"a&b=&=c&&d=1=2", Data("{\"a\":\"\",\"b\":\"\",\"\":\"c\",\"d\":\"1=2\"}")),
    (Some("application/x-www-form-urlencoded"), b"%41%2=%zz+%2B", Data("{\"A%2\":\"%zz +\"}")),
    (Some("application/x-www-form-urlencoded"), b"name=x;y", Data("{\"name\":\"x;y\"}")),
    (Some("application/x-www-form-urlencoded"), b"a=%C3%A9&b=%E2%82&c=%e2%82%ac", Data("{\"a\":\"\u{e9}\",\"b\":\"\u{fffd}\",\"c\":\"\u{20ac}\"}")),
    (Some("application/x-www-form-urlencoded"), b"\xc3\xa9=%C3%A9\xc3\xa9%C3", Data("{\"\u{e9}\":\"\u{e9}\u{e9}\u{fffd}\"}")),
    (Some("application/x-www-form-urlencoded; charset=latin-1"), b"a=%E9&b=\xe9", Data("{\"a\":\"\u{e9}\",\"b\":\"\u{e9}\"}")),
    (Some("application/x-www-form-urlencoded; charset=ascii"), b"a=%E9", Data("{\"a\":\"\u{fffd}\"}")),
    (Some("application/x-www-form-urlencoded; charset=rot13"), b"a=1", Bad("Unsupported charset \"rot13\" in request Content-Type header.")),
    (Some("multipart/form-data; boundary=XyZ"), b"--XyZ\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nAnn\r\n--XyZ\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\ncaf\xc3\xa9\r\n--XyZ--\r\n", Data("{\"name\":\"Ann\",\"other\":\"caf\u{e9}\"}")),
    (Some("multipart/form-data; boundary=XyZ"), b"--XyZ\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\none\r\n--XyZ\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\ntwo\r\n--XyZ--\r\n", Data("{\"name\":\"two\"}")),
    (Some("multipart/form-data; boundary=XyZ"), b"--XyZ\r\nContent-Disposition: form-data; name=\"name\"; filename=\"f.txt\"\r\nContent-Type: text/plain\r\n\r\nabc\r\n--XyZ\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\ntext\r\n--XyZ--\r\n", Data("{\"name\":{\"filename\":\"f.txt\",\"content_type\":\"text/plain\",\"size\":3}}")),
    (Some("multipart/form-data; boundary=XyZ"), b"--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--XyZ\r\nContent-Disposition: form-data; name=\"up\"; filename=\"../x/y.txt\"\r\n\r\nabc\r\n--XyZ", Data("{\"a\":\"1\"}")),
    (Some("multipart/form-data; boundary=XyZ"), b"--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--XyZ\r\nContent-Disposition: form-data; name=\"up\"; filename=\"y.txt\"\r\n\r\nabc\r\n--XyZ--\r\n", Data("{\"a\":\"1\",\"up\":{\"filename\":\"y.txt\",\"content_type\":\"\",\"size\":3}}")),
    (Some("multipart/form-data; boundary=XyZ"), b"--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\nContent-Transfer-Encoding: base64\r\n\r\naGVsbG8=\r\n--XyZ--\r\n", Data("{\"a\":\"hello\"}")),
    (Some("multipart/form-data; boundary=XyZ"), b"--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a\"\r\nContent-Transfer-Encoding: base64\r\n\r\naGVsbG8\r\n--XyZ--\r\n", Bad("Multipart form parse error - Could not decode base64 data.")),
    (Some("multipart/form-data; boundary=XyZ"), b"--XyZ\r\nX-Other: 1\r\n\r\n1\r\n--XyZ\r\nContent-Disposition: form-data; name=\"b\"\r\n\r\n2\r\n--XyZ--\r\n", Data("{\"b\":\"2\"}")),
    (Some("multipart/form-data; boundary=XyZ"), b"--XyZ\nContent-Disposition: form-data; name=\"a\"\n\n1\n--XyZ--\n", Data("{}")),
    (Some("multipart/form-data; boundary=\"a b\""), b"--a b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--a b--\r\n", Data("{\"a\":\"1\"}")),
    (Some("multipart/form-data; boundary=XyZ; charset=latin-1"), b"--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\ncaf\xe9\r\n--XyZ--\r\n", Data("{\"a\":\"caf\u{e9}\"}")),
    (Some("multipart/form-data; boundary=XyZ; charset=rot13"), b"--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--XyZ--\r\n", Bad("Unsupported charset \"rot13\" in request Content-Type header.")),
    (Some("multipart/form-data"), b"--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--XyZ--\r\n", Bad("Multipart form parse error - Invalid boundary in multipart: None")),
    (Some("multipart/form-data; boundary="), b"--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--XyZ--\r\n", Bad("Multipart form parse error - Invalid boundary in multipart: ")),
    (Some("Multipart/Form-Data; boundary=XyZ"), b"--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--XyZ--\r\n", Bad("Multipart form parse error - Invalid Content-Type: Multipart/Form-Data; boundary=XyZ")),
    (Some("multipart/form-data; boundary=XyZ"), b"no boundary here", Data("{}")),
    (None, b"{\"a\": 1}", Unsupported("Unsupported media type \"\" in request.")),
    (Some(""), b"{\"a\": 1}", Unsupported("Unsupported media type \"\" in request.")),
    (Some("text/plain"), b"{\"a\": 1}", Unsupported("Unsupported media type \"text/plain\" in request.")),
    (Some("application/jsonx"), b"{\"a\": 1}", Unsupported("Unsupported media type \"application/jsonx\" in request.")),
    (Some("application/json-patch+json"), b"{\"a\": 1}", Unsupported("Unsupported media type \"application/json-patch+json\" in request.")),
    (Some("multipart/mixed; boundary=XyZ"), b"x", Unsupported("Unsupported media type \"multipart/mixed; boundary=XyZ\" in request.")),
    (Some("*"), b"{\"a\": 1}", Unsupported("Unsupported media type \"*\" in request.")),
    (Some("application /json"), b"{\"a\": 1}", Unsupported("Unsupported media type \"application /json\" in request.")),
    (Some("application/json; charset=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"), b"{\"a\": 1}", Unsupported("Unsupported media type \"application/json; charset=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\" in request.")),
    (Some("application/json; charset=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"), b"{\"a\": 1}", Data("{\"a\":1}")),
    (Some("Application/JSON"), b"{\"a\": 1}", Data("{\"a\":1}")),
    (Some("application/json;"), b"{\"a\": 1}", Data("{\"a\":1}")),
    (Some("*/*"), b"{\"a\": 1}", Data("{\"a\":1}")),
    (Some("application/*"), b"{\"a\": 1}", Data("{\"a\":1}")),
    (Some("*/json"), b"{\"a\": 1}", Data("{\"a\":1}")),
    (Some("*/x-www-form-urlencoded"), b"a=1", Data("{\"a\":\"1\"}")),
    (Some("text/plain"), b"", Data("{}")),
    (None, b"", Data("{}")),
    (Some("application/json"), b"", Data("{}")),
    ];
    for (content_type, body, want) in rows {
        check(*content_type, body, want);
    }
}

#[test]
fn form_field_limit() {
    let form = Some("application/x-www-form-urlencoded");
    let fields = |n: usize| vec!["a=1"; n].join("&");
    assert_eq!(
        parse_body(form, fields(1000).as_bytes()).unwrap(),
        json!({"a": "1"})
    );
    // Django's TooManyFieldsSent (a bare 400 page on the reference).
    assert_eq!(
        parse_body(form, fields(1001).as_bytes()),
        Err(ParseError::Malformed(
            "The number of GET/POST parameters exceeded settings.DATA_UPLOAD_MAX_NUMBER_FIELDS."
                .into()
        ))
    );
    // Empty pieces count too, as Python counts separators.
    assert!(parse_body(form, "&".repeat(1000).as_bytes()).is_err());
}

#[test]
fn body_size_limit() {
    let too_big = Err(ParseError::Malformed(
        "Request body exceeded settings.DATA_UPLOAD_MAX_MEMORY_SIZE.".into(),
    ));
    let fits = format!("\"{}\"", "x".repeat(DATA_UPLOAD_MAX_MEMORY_SIZE - 2));
    assert!(parse_body(Some("application/json"), fits.as_bytes()).is_ok());
    let over = format!("\"{}\"", "x".repeat(DATA_UPLOAD_MAX_MEMORY_SIZE - 1));
    assert_eq!(
        parse_body(Some("application/json"), over.as_bytes()),
        too_big
    );
    assert_eq!(
        parse_body(Some("application/x-www-form-urlencoded"), over.as_bytes()),
        too_big
    );
    // An unsupported type is refused before the body is read.
    assert!(matches!(
        parse_body(Some("text/plain"), over.as_bytes()),
        Err(ParseError::UnsupportedMediaType(_))
    ));
}

#[test]
fn multipart_limits() {
    let ct = Some("multipart/form-data; boundary=XyZ");
    let part = |name: &str| {
        format!("--XyZ\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\nv\r\n")
    };
    // Headers must end within a part's first 1024 bytes.
    let long_header = format!(
        "--XyZ\r\nX-Junk: {}\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--XyZ--\r\n",
        "j".repeat(1100)
    );
    assert_eq!(
        parse_body(ct, long_header.as_bytes()),
        Err(ParseError::Malformed(
            "Multipart form parse error - Request max total header size exceeded.".into()
        ))
    );
    // 1000 fields plus the two raw parts around them are allowed, one more is not.
    let body = |n: usize| (0..n).map(|i| part(&i.to_string())).collect::<String>() + "--XyZ--\r\n";
    assert!(parse_body(ct, body(1000).as_bytes()).is_ok());
    assert_eq!(
        parse_body(ct, body(1001).as_bytes()),
        Err(ParseError::Malformed(
            "The number of GET/POST parameters exceeded settings.DATA_UPLOAD_MAX_NUMBER_FIELDS."
                .into()
        ))
    );
}

/// The reference parses 946 nested containers; the 947th is a RecursionError there (a 500)
/// and a DRF-shaped 400 here. Hostile depth must not overflow the stack.
#[test]
fn nesting_depth() {
    let json = Some("application/json");
    let nested = |open: &str, close: &str, n: usize| open.repeat(n) + "1" + &close.repeat(n);
    assert!(parse_body(json, nested("[", "]", 946).as_bytes()).is_ok());
    assert!(parse_body(json, nested("{\"a\":", "}", 946).as_bytes()).is_ok());
    // Unclosed at the limit: the reference's own message.
    assert_eq!(
        parse_body(json, "[".repeat(946).as_bytes()),
        Err(ParseError::Malformed(
            "JSON parse error - Expecting value: line 1 column 947 (char 946)".into()
        ))
    );
    let deep = |body: String, kind: &str| {
        assert_eq!(
            parse_body(json, body.as_bytes()),
            Err(ParseError::Malformed(format!(
                "JSON parse error - maximum recursion depth exceeded while decoding a JSON {kind} \
                 from a unicode string"
            )))
        )
    };
    deep(nested("[", "]", 947), "array");
    deep("[".repeat(946) + "{}", "object");
    deep("[".repeat(100_000), "array");
    deep("{\"a\":".repeat(100_000), "object");
}

#[test]
fn numbers_python_holds_but_serde_json_cannot() {
    let data = parse_body(
        Some("application/json"),
        b"{\"name\": 1e400, \"n\": -1E400, \"big\": 123456789012345678901234567890, \"f\": 1E5}",
    )
    .unwrap();
    assert_eq!(data["name"], "inf");
    assert_eq!(data["n"], "-inf");
    assert_eq!(data["big"], "123456789012345678901234567890");
    assert_eq!(data["f"].as_f64(), Some(100000.0));
    assert!(data["f"].is_f64(), "1E5 is a Python float");
}

#[test]
fn lone_surrogates_survive_for_the_serializer() {
    let data = parse_body(
        Some("application/json"),
        br#"["\ud800", "\udfff", "\ud83d\ude00", "\ud800\u0041", "\u00e9"]"#,
    )
    .unwrap();
    let firsts: Vec<Option<u16>> = data
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().chars().find_map(lone_surrogate))
        .collect();
    assert_eq!(
        firsts,
        [Some(0xd800), Some(0xdfff), None, Some(0xd800), None]
    );
    assert_eq!(data[2], "\u{1f600}");
    assert_eq!(lone_surrogate('\u{10ffff}'), None);
    assert_eq!(lone_surrogate('a'), None);
}

#[test]
fn charset_names_resolve_like_python() {
    use charset::{lookup, Charset, Codec, Endian};
    let text = |c| Some(Charset::Text(c));
    for (name, want) in [
        ("utf-8", text(Codec::Utf8)),
        ("UTF8", text(Codec::Utf8)),
        (" utf 8 ", text(Codec::Utf8)),
        ("utf-8-sig", text(Codec::Utf8Sig)),
        ("US-ASCII", text(Codec::Ascii)),
        ("ISO_8859-1:1987", text(Codec::Latin1)),
        ("latin1", text(Codec::Latin1)),
        ("UTF-16", text(Codec::Utf16(Endian::Detect))),
        ("utf_32_be", text(Codec::Utf32(Endian::Be))),
        ("bz2_codec", Some(Charset::NotText)),
        ("ROT13", Some(Charset::NotText)),
        ("quoted-printable", Some(Charset::NotText)),
        ("nonexistent", None),
        ("", None),
    ] {
        assert_eq!(lookup(name), want, "{name:?}");
    }
}

/// Negotiation with DRF's default renderers; every row also checked over HTTP against the
/// reference's `/api/public/` (status, and the JSON indentation where it applies).
#[test]
fn negotiation() {
    type Row = (
        Option<&'static str>,
        Option<&'static str>,
        Result<(Renderer, &'static str, Option<usize>), NegotiationError>,
    );
    let rows: &[Row] = &[
        (None, None, Ok((Renderer::Json, "application/json", None))),
        (
            Some("application/json"),
            None,
            Ok((Renderer::Json, "application/json", None)),
        ),
        (
            Some("application/xml"),
            None,
            Err(NegotiationError::NotAcceptable),
        ),
        (
            Some("application/*"),
            None,
            Ok((Renderer::Json, "application/json", None)),
        ),
        (
            Some("*/*"),
            None,
            Ok((Renderer::Json, "application/json", None)),
        ),
        (
            Some("text/html"),
            None,
            Ok((Renderer::BrowsableApi, "text/html", None)),
        ),
        (
            Some("text/*"),
            None,
            Ok((Renderer::BrowsableApi, "text/html", None)),
        ),
        (
            Some("application/json; q=0.5, text/plain"),
            None,
            Ok((Renderer::Json, "application/json; q=0.5", None)),
        ),
        (
            Some("application/json; indent=4"),
            None,
            Ok((Renderer::Json, "application/json; indent=4", Some(4))),
        ),
        (
            Some("text/plain"),
            None,
            Err(NegotiationError::NotAcceptable),
        ),
        (
            Some("application/json; q=0"),
            None,
            Ok((Renderer::Json, "application/json; q=0", None)),
        ),
        (
            Some("text/html; q=0.1, application/json"),
            None,
            Ok((Renderer::Json, "application/json", None)),
        ),
        (
            Some("text/html, application/json"),
            None,
            Ok((Renderer::Json, "application/json", None)),
        ),
        (
            Some("Application/JSON"),
            None,
            Ok((Renderer::Json, "Application/JSON", None)),
        ),
        (Some("*"), None, Err(NegotiationError::NotAcceptable)),
        (
            Some("application"),
            None,
            Err(NegotiationError::NotAcceptable),
        ),
        (
            Some("application/json;indent=4;q=0.1"),
            None,
            Ok((Renderer::Json, "application/json;indent=4;q=0.1", Some(4))),
        ),
        (
            Some("text/html;foo=bar"),
            None,
            Ok((Renderer::BrowsableApi, "text/html;foo=bar", None)),
        ),
        (
            Some("text/html;foo=bar, application/json;indent=3"),
            None,
            Ok((Renderer::Json, "application/json;indent=3", Some(3))),
        ),
        (
            Some("*/*; q=0"),
            None,
            Ok((Renderer::Json, "application/json;q=0", None)),
        ),
        (Some(",,,"), None, Err(NegotiationError::NotAcceptable)),
        (Some(""), None, Err(NegotiationError::NotAcceptable)),
        (
            Some("image/png, */*;q=0.1"),
            None,
            Ok((Renderer::Json, "application/json;q=0.1", None)),
        ),
        (
            Some("application/vnd.api+json"),
            None,
            Err(NegotiationError::NotAcceptable),
        ),
        (
            Some("*/json"),
            None,
            Ok((Renderer::Json, "application/json", None)),
        ),
        (
            Some("*/*;indent=2"),
            None,
            Ok((Renderer::Json, "application/json;indent=2", Some(2))),
        ),
        (
            Some("application/json;indent=0"),
            None,
            Ok((Renderer::Json, "application/json;indent=0", None)),
        ),
        (
            Some("application/json;indent=20"),
            None,
            Ok((Renderer::Json, "application/json;indent=20", Some(8))),
        ),
        (
            Some("application/json;indent=abc"),
            None,
            Ok((Renderer::Json, "application/json;indent=abc", None)),
        ),
        (
            Some("application/json;indent=\" 3\""),
            None,
            Ok((Renderer::Json, "application/json;indent=\" 3\"", Some(3))),
        ),
        (
            Some("application/json;INDENT=3"),
            None,
            Ok((Renderer::Json, "application/json;INDENT=3", Some(3))),
        ),
        (
            Some("application/json"),
            Some("json"),
            Ok((Renderer::Json, "application/json", None)),
        ),
        (
            Some("application/xml"),
            Some("json"),
            Err(NegotiationError::NotAcceptable),
        ),
        (
            Some("text/html"),
            Some("json"),
            Err(NegotiationError::NotAcceptable),
        ),
        (
            Some("application/json"),
            Some("xml"),
            Err(NegotiationError::NotFound),
        ),
        (None, Some("xml"), Err(NegotiationError::NotFound)),
        (
            Some("application/json"),
            Some("api"),
            Err(NegotiationError::NotAcceptable),
        ),
        (
            Some("text/html"),
            Some("api"),
            Ok((Renderer::BrowsableApi, "text/html", None)),
        ),
        (
            Some("application/json"),
            Some(""),
            Ok((Renderer::Json, "application/json", None)),
        ),
        (
            Some("text/html"),
            Some(""),
            Ok((Renderer::BrowsableApi, "text/html", None)),
        ),
        (
            Some("application/json"),
            Some("JSON"),
            Err(NegotiationError::NotFound),
        ),
        (
            Some("text/html, */*;indent=1"),
            Some("json"),
            Ok((Renderer::Json, "application/json;indent=1", Some(1))),
        ),
    ];
    for (accept, format, want) in rows {
        let got = select_renderer(*accept, *format)
            .map(|n| (n.renderer, n.media_type.clone(), n.json_indent()));
        let want = want.map(|(r, m, i)| (r, m.to_owned(), i));
        assert_eq!(got, want, "{accept:?} {format:?}");
        assert_eq!(negotiate(*accept, *format), want.map(|_| ()));
    }
}

#[test]
fn negotiation_header_limits() {
    // Cut at the last comma within 8192 characters: the trailing JSON entry is lost.
    let long = "application/xml,".repeat(1000) + "application/json";
    assert_eq!(
        negotiate(Some(&long), None),
        Err(NegotiationError::NotAcceptable)
    );
    // Only the first 64 tokens count.
    let many = vec!["text/plain"; 64].join(",") + ",application/json";
    assert_eq!(
        negotiate(Some(&many), None),
        Err(NegotiationError::NotAcceptable)
    );
    // An over-long token is skipped, not fatal.
    let skip = "a".repeat(300) + ", application/json";
    assert_eq!(negotiate(Some(&skip), None), Ok(()));
}
