//! Differential test against the reference's own code, for when the parsers change or DRF is
//! upgraded. The embedded Python script generates ~10,000 cases (random and mutated JSON,
//! raw bytes in many charsets, UTF-16/32 documents, numbers, content types, forms, multipart
//! bodies, Accept headers, header parameters) and answers each with DRF's parsers, Django's
//! `parse_header_parameters` and DRF's content negotiation run in-process. Run it with the
//! reference virtualenv (created by `shared/reference/serve.sh setup`):
//!
//! ```text
//! DRF_ORACLE_PYTHON=~/.cache/lending-reference-venv/bin/python \
//!     cargo test -p axum-drf differential -- --ignored --nocapture
//! ```
//!
//! `DRF_ORACLE_SEED` (default 1) and `DRF_ORACLE_SCALE` (default 0.3, 1.0 is ~33,000 cases)
//! vary the run. Cases where the reference itself fails with a 500 are skipped; DRF's
//! arbitrary order among equally specific Accept entries is pinned to header order.

use serde_json::{json, Value};

use super::*;

/// The oracle: DRF/Django setup, case generators and expectations.
const ORACLE: &str = r###""""Differential oracle: generates cases and answers each with the reference's own code
(DRF + Django + CPython in-process). Usage: python differential.py OUT.jsonl SEED SCALE"""
import io
import json
import math
import random
import sys

import django
from django.conf import settings

settings.configure(
    DEBUG=False,
    SECRET_KEY="x",
    ALLOWED_HOSTS=["*"],
    INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "rest_framework"],
)
django.setup()

from django.core.exceptions import SuspiciousOperation  # noqa: E402
from django.core.handlers.wsgi import WSGIRequest  # noqa: E402
from django.http import Http404  # noqa: E402
from django.utils.http import parse_header_parameters  # noqa: E402
from rest_framework import exceptions  # noqa: E402
from rest_framework.negotiation import DefaultContentNegotiation  # noqa: E402
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser  # noqa: E402
from rest_framework.renderers import BrowsableAPIRenderer, JSONRenderer  # noqa: E402
from rest_framework.request import Request  # noqa: E402


def shift(s):
    return "".join(chr(ord(c) + 0x100000) if 0xD800 <= ord(c) <= 0xDFFF else c for c in s)


def conv(v):
    if v is None or isinstance(v, bool):
        return v
    if isinstance(v, int):
        return v if -(2**63) <= v < 2**64 else str(v)
    if isinstance(v, float):
        # Exact: serde_json's default float parsing is not correctly rounded.
        return {"__float__": repr(v)} if math.isfinite(v) else str(v)
    if isinstance(v, str):
        return shift(v)
    if isinstance(v, list):
        return [conv(x) for x in v]
    if isinstance(v, dict):
        return {shift(k): conv(x) for k, x in v.items()}
    if hasattr(v, "getlist"):  # QueryDict
        return {k: conv(v[k]) for k in v.keys()}
    if hasattr(v, "size") and hasattr(v, "name"):  # UploadedFile
        return {"filename": v.name, "content_type": v.content_type, "size": v.size}
    raise TypeError(type(v))


def environ(body=b"", ct=None, accept=None):
    env = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/",
        "SERVER_NAME": "x",
        "SERVER_PORT": "80",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "CONTENT_LENGTH": str(len(body)),
    }
    if ct is not None:
        env["CONTENT_TYPE"] = ct
    if accept is not None:
        env["HTTP_ACCEPT"] = accept
    return env


def body_case(case):
    body = bytes.fromhex(case["body"])
    try:
        wsgi = WSGIRequest(environ(body, case["ct"]))
    except ValueError as e:  # Django itself fails: a 500 on the reference
        return {"status": 500, "detail": str(e)}
    req = Request(wsgi, parsers=[JSONParser(), FormParser(), MultiPartParser()])
    try:
        return {"status": 200, "data": conv(req.data)}
    except exceptions.APIException as e:
        return {"status": e.status_code, "detail": str(e.detail)}
    except SuspiciousOperation as e:
        return {"status": 400, "detail": str(e)}
    except RecursionError as e:
        return {"status": 500, "detail": str(e)}


def _ordered_by_precedence(media_types):
    # DRF groups equally specific entries in sets, whose order changes with the hash seed;
    # pin header order (what the Rust side documents) so the media type is comparable.
    ret = [[], [], [], []]
    for media_type in media_types:
        if media_type not in ret[3 - media_type.precedence]:
            ret[3 - media_type.precedence].append(media_type)
    return [bucket for bucket in ret if bucket]


import rest_framework.negotiation as _neg  # noqa: E402

_neg.order_parsed_by_precedence = _ordered_by_precedence


def neg_case(case):
    req = Request(WSGIRequest(environ(accept=case["accept"])))
    renderers = [JSONRenderer(), BrowsableAPIRenderer()]
    try:
        renderer, media_type = DefaultContentNegotiation().select_renderer(
            req, renderers, case["format"]
        )
    except exceptions.NotAcceptable:
        return {"status": 406}
    except Http404:
        return {"status": 404}
    indent = None
    if isinstance(renderer, JSONRenderer):
        indent = renderer.get_indent(media_type, {}) or None
    return {"status": 200, "renderer": renderer.format, "media_type": media_type, "indent": indent}


def header_case(case):
    try:
        main, params = parse_header_parameters(case["line"])
    except ValueError:
        return {"error": True}
    return {"main": main, "params": [[k, v] for k, v in params.items()]}


def expect(case):
    return {"body": body_case, "neg": neg_case, "header": header_case}[case["kind"]](case)



rng = random.Random(int(sys.argv[2]))
SCALE = float(sys.argv[3])
out = open(sys.argv[1], "w")


def N(n):
    return max(1, int(n * SCALE))


def emit(**case):
    out.write(json.dumps({"case": case, "want": expect(case)}) + "\n")


def body(ct, b):
    if isinstance(b, str):
        b = b.encode("utf-8", "surrogatepass")
    emit(kind="body", ct=ct, body=b.hex())


JSON = "application/json"
FORMCT = "application/x-www-form-urlencoded"

# 1. Short random strings over a JSON-ish alphabet.
alphabet = list('{}[]":,0123456789abcdefghijklmnopqrstuvwxyz \n\\tnulfrse.') + [
    "\t", "\r", "-", "+", "E", "e", "u", "NaN", "Infinity", "-Infinity", "null", "true",
    "false", '"a"', '"\\u', "\\ud83d", "\\ude00", "\\ud800", "é", "😀", "\x01", "\x1f", "\u2028",
    "\ufeff", "\xa0", "0.", "1e", "1e+", "-0", "01", '{"k":', "[1,", "\\/", "\\x", "'",
]
for _ in range(N(6000)):
    n = rng.randint(1, 12)
    s = "".join(rng.choice(alphabet) for _ in range(n))
    body(JSON, s)

# 1b. Longer strings, structure-heavy.
struct = list('{}[]":, ') + ['"ab"', "1", "-2.5e3", "true", "null", "\\n", "\\u00e9", "\n", "  "]
for _ in range(N(4000)):
    s = "".join(rng.choice(struct if rng.random() < 0.7 else alphabet)
                for _ in range(rng.randint(10, 40)))
    body(JSON, s)

# 2. Mutations of valid documents.
docs = [
    '{"username": "a", "password": "b"}',
    '[1, 2.5, -3e2, true, false, null, "x\\n\\u00e9\\ud83d\\ude00"]',
    '{"a": {"b": [1, {"c": "d"}]}, "e": []}',
    '\n{\n  "name": "Ann",\n  "n": 12345678901234567890123\n}\n',
    '"\\ud800\\udc00\\udbff\\u0041"',
    '{"x": 1.0E+2, "y": -0, "z": 0.5e-3}',
    '{"é": "ü", "k": "😀"}',
]
for _ in range(N(4000)):
    d = list(rng.choice(docs))
    for _ in range(rng.randint(1, 3)):
        op = rng.randint(0, 2)
        i = rng.randrange(len(d) + 1)
        if op == 0 and d:
            del d[min(i, len(d) - 1)]
        elif op == 1:
            d.insert(i, rng.choice(alphabet))
        elif d:
            d[min(i, len(d) - 1)] = rng.choice(alphabet)
    body(JSON, "".join(d))

# 3. Raw bytes (UTF-8 decoding) inside and around JSON strings, several charsets.
charsets = [None, "utf-8", "UTF8", "utf-8-sig", "ascii", "latin-1", "ISO-8859-1", "us-ascii",
            "nonexistent", "bz2_codec", "rot13", "base64", "undefined", "utf_8", "L1", "",
            '"utf-8"', "utf-16", "UTF-16LE", "utf_16_be", "utf-32", "utf-32-be", "u16"]
pieces = [b'"', b"a", b"\xc3\xa9", b"\xe2\x82\xac", b"\xf0\x9f\x98\x80", b"\xff", b"\xc3",
          b"\xe2\x82", b"\xf0\x9f\x98", b"\xed\xa0\x80", b"\xc0\xaf", b"\xf5", b"\x80",
          b"\xef\xbb\xbf", b"{", b"}", b":", b" ", b"1", b"\xe2", b"\xa9", b"\xf4\x90\x80\x80"]
for _ in range(N(3000)):
    b = b"".join(rng.choice(pieces) for _ in range(rng.randint(1, 8)))
    cs = rng.choice(charsets)
    ct = JSON if cs is None else f"{JSON}; charset={cs}"
    body(ct, b)
for _ in range(N(500)):
    b = b'{"k": "' + b"".join(rng.choice(pieces[1:]) for _ in range(rng.randint(1, 4))) + b'"}'
    body(rng.choice([JSON, JSON + "; charset=utf-8-sig", JSON + "; charset=latin1"]), b)

# 3b. UTF-16/32 encoded documents, with and without BOM, mutated at the byte level.
for _ in range(N(3000)):
    doc = rng.choice(docs)
    enc = rng.choice(["utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be"])
    b = bytearray(doc.encode(enc, "surrogatepass"))
    for _ in range(rng.randint(0, 3)):
        i = rng.randrange(len(b) + 1)
        op = rng.randint(0, 3)
        if op == 0 and b:
            del b[min(i, len(b) - 1)]
        elif op == 1:
            b[i:i] = rng.choice([b"\x00", b"\xd8", b"\xdc", b"\x00\xd8", b"\x00\xdc", b"\xff\xfe",
                                 b"\xfe\xff", b"\x11\x00", b"A"])
        elif op == 2:
            del b[i:]
        elif b:
            b[min(i, len(b) - 1)] = rng.randrange(256)
    cs = rng.choice(["utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be",
                     "UTF16", "utf_32le"])
    body(rng.choice([f"{JSON}; charset={cs}", f"{FORMCT}; charset={cs}"]), bytes(b))

# 4. Numbers.
nums = ["0", "-0", "1", "-1", "9223372036854775807", "9223372036854775808",
        "-9223372036854775808", "-9223372036854775809", "18446744073709551615",
        "18446744073709551616", "1" * 4300, "1" * 4301, "-" + "2" * 4301, "1e400", "-1e400",
        "1e-400", "1.5", "1E5", "2.5e+3", "-0.0", "1" * 400 + ".5", "123.456e-7", "0e0"]
for n in nums:
    body(JSON, n)
    body(JSON, '{"n": %s}' % n)

# 5. Content types.
cts = [None, "", JSON, "Application/JSON", "application/json;", "application/json ; charset=utf-8",
       "*/*", "application/*", "*/json", "text/plain", "application/jsonx", "json",
       "application/json-patch+json", "application/x-www-form-urlencoded",
       "APPLICATION/X-WWW-FORM-URLENCODED; charset=latin-1", "multipart/form-data",
       "text/*", "*", "application /json", "application/json/x", "a" * 300,
       "application/json; charset*=nope''x", "application/json; q=0.1",
       "application/json; charset=bz2", "*/x-www-form-urlencoded"]
for ct in cts:
    for b in ['{"a": 1}', "a=1&b=2", "", " "]:
        body(ct, b)

# 6. Forms.
FORM = "application/x-www-form-urlencoded"
fpieces = ["a", "b", "=", "&", "+", "%", "%2", "%2B", "%41", "%zz", "%C3%A9", "%C3", "%E2%82",
           "%FF", "é", "\xff", ";", "&&", "==", " ", "%e2%82%ac", "%00", "ä%", "%EF%BB%BF"]
for _ in range(N(3000)):
    s = "".join(rng.choice(fpieces) for _ in range(rng.randint(1, 10)))
    b = s.encode("utf-8") if rng.random() < 0.6 else s.encode("latin-1")
    cs = rng.choice([None, None, "latin-1", "ascii", "utf-8-sig", "utf-8"])
    body(FORM if cs is None else f"{FORM}; charset={cs}", b)
body(FORM, "&".join(["a=1"] * 1000))
body(FORM, "&".join(["a=1"] * 1001))
body(FORM, "&" * 1000)
body(FORM, "a=" + "x" * 2621440)
body(JSON, '"' + "x" * 2621438 + '"')
body(JSON, '"' + "x" * 2621439 + '"')

# 7. Multipart.
def mp(parts, boundary="XyZ", pre=b"", post=b"--\r\n", crlf=b"\r\n"):
    out = pre
    for headers, value in parts:
        out += b"--" + boundary.encode() + crlf
        for h in headers:
            out += h.encode("utf-8") + crlf
        out += crlf + value + crlf
    out += b"--" + boundary.encode() + post
    return out


hdrs = [
    'Content-Disposition: form-data; name="name"',
    'Content-Disposition: form-data; name="other"',
    "content-disposition: form-data; name=plain",
    'Content-Disposition: form-data; name="name"; filename="f.txt"',
    'Content-Disposition: form-data; name="name"; filename=""',
    'Content-Disposition: form-data; name="up"; filename="../a/b\\\\c.txt"',
    "Content-Disposition: form-data; name*=UTF-8''%C3%A9",
    'Content-Disposition: form-data; name="f"; filename*=UTF-8\'\'%E2%82%AC.txt',
    'Content-Disposition: form-data; filename="x"',
    "Content-Disposition: form-data",
    'Content-Disposition: attachment; name=" sp "',
    "Content-Type: text/plain; charset=utf-8",
    "Content-Type: image/png",
    "Content-Transfer-Encoding: base64",
    "Content-Transfer-Encoding: BASE64",
    "X-Other: 1",
    "NoColon",
    'Content-Disposition: form-data; name="é"',
]
values = [b"hello", b"", b"caf\xc3\xa9", b"\xff\xfe", b"aGVsbG8=", b"aGVsbG8", b"a b\r\nc",
          b"--XyZ inside", b"x" * 1100, b"!!!!", b"Zm9v\nYmFy", b"=", b"aGk=aGk=", b"hello",
          b"world", b"a\x00b", b"A\x00B\x00", b"\r\n\r\n", b"aGk=\r\n", b"YQ==", b"YWI="]
boundaries = ["XyZ", "----WebKitFormBoundary7MA4YWxkTrZu0gW", "a b", "b"]
for _ in range(N(3000)):
    parts = []
    for _ in range(rng.randint(0, 4)):
        hs = rng.sample(hdrs, rng.randint(0, 3))
        parts.append((hs, rng.choice(values)))
    bd = rng.choice(boundaries)
    b = mp(parts, bd, pre=rng.choice([b"", b"", b"", b"", b"preamble\r\n", b"x" * 1030]),
           post=rng.choice([b"--\r\n", b"--", b"", b"\r\n", b"--\r\nepilogue"]),
           crlf=rng.choice([b"\r\n"] * 5 + [b"\n"]))
    ct = rng.choice([
        f"multipart/form-data; boundary={bd}", f'multipart/form-data; boundary="{bd}"',
        f"multipart/form-data; boundary={bd}; charset=latin-1", "multipart/form-data",

        f"Multipart/form-data; boundary={bd}", "multipart/form-data; boundary=",
        f"multipart/mixed; boundary={bd}", f"multipart/form-data; charset=rot13; boundary={bd}",
        "multipart/form-data; boundary=" + "b" * 202,
    ] + [f"multipart/form-data; boundary={bd}"] * 6)
    body(ct, b)

# 8. Content negotiation.
accepts = ["application/json", "application/xml", "application/*", "*/*", "text/html", "text/*",
           "text/plain", "*", "application", "Application/JSON", "*/json", "image/png",
           "application/vnd.api+json", "", " ", "text/html;foo=bar", "*/*;q=0"]
params = ["", "; q=0.5", "; q=0", "; indent=4", ";indent=2", "; indent=0", "; indent=20",
          "; indent=abc", "; indent= 3", "; charset=utf-8", "; INDENT=3", '; indent="5"',
          "; indent=-1", "; indent=1_0", "; indent=+7"]
formats = [None, None, None, "json", "api", "xml", "", "JSON"]
for _ in range(N(3000)):
    toks = [rng.choice(accepts) + rng.choice(params) for _ in range(rng.randint(1, 3))]
    emit(kind="neg", accept=rng.choice([", ".join(toks), ",".join(toks), None]),
         format=rng.choice(formats))
emit(kind="neg", accept="application/xml," * 1000 + "application/json", format=None)
emit(kind="neg", accept="application/json" + " " * 9000, format=None)
emit(kind="neg", accept=",".join(["text/plain"] * 64 + ["application/json"]), format=None)
emit(kind="neg", accept="a" * 300 + ", application/json", format=None)

# 9. Header parameter parsing.
hchars = list('ab/;="\\ *\'%0123xX,<>é') + ["; ", "=", "name", "filename*", "*0", "*1*",
                                            "utf-8''", "%E2%82%AC", "charset=", "\t"]
for _ in range(N(4000)):
    emit(kind="header", line="".join(rng.choice(hchars) for _ in range(rng.randint(0, 14))))
"###;

/// `a == b` with object keys in the same order, where `b` may hold Python floats as
/// `{"__float__": repr}` (parsed here with Rust's correctly rounded parser).
fn same(a: &Value, b: &Value) -> bool {
    if let Some(repr) = b.get("__float__").and_then(Value::as_str) {
        return a.is_f64() && a.as_f64() == repr.parse::<f64>().ok();
    }
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

/// Our answer to one case, in the oracle's shape.
fn answer(case: &Value) -> Value {
    match case["kind"].as_str().expect("kind") {
        "body" => {
            let hex = case["body"].as_str().expect("hex body");
            let body: Vec<u8> = (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
                .collect();
            match parse_body(case["ct"].as_str(), &body) {
                Ok(data) => json!({"status": 200, "data": data}),
                Err(e @ ParseError::UnsupportedMediaType(_)) => {
                    json!({"status": 415, "detail": e.to_string()})
                }
                Err(ParseError::Malformed(detail)) => json!({"status": 400, "detail": detail}),
            }
        }
        "neg" => match select_renderer(case["accept"].as_str(), case["format"].as_str()) {
            Ok(n) => json!({
                "status": 200,
                "renderer": n.renderer.format(),
                "media_type": n.media_type,
                "indent": n.json_indent(),
            }),
            Err(NegotiationError::NotAcceptable) => json!({"status": 406}),
            Err(NegotiationError::NotFound) => json!({"status": 404}),
        },
        "header" => match header::parse_header_parameters(case["line"].as_str().expect("line")) {
            Ok(h) => json!({"main": h.main, "params": h.params}),
            Err(()) => json!({"error": true}),
        },
        other => panic!("unknown case kind {other}"),
    }
}

#[test]
#[ignore = "needs the reference virtualenv: set DRF_ORACLE_PYTHON"]
fn differential_against_drf() {
    let Ok(python) = std::env::var("DRF_ORACLE_PYTHON") else {
        eprintln!("DRF_ORACLE_PYTHON is not set; nothing to compare against");
        return;
    };
    let seed = std::env::var("DRF_ORACLE_SEED").unwrap_or_else(|_| "1".into());
    let scale = std::env::var("DRF_ORACLE_SCALE").unwrap_or_else(|_| "0.3".into());
    let dir = std::env::temp_dir().join(format!("drf-oracle-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let script = dir.join("oracle.py");
    let cases = dir.join("cases.jsonl");
    std::fs::write(&script, ORACLE).expect("write oracle");
    let status = std::process::Command::new(&python)
        .arg(&script)
        .arg(&cases)
        .arg(&seed)
        .arg(&scale)
        .status()
        .expect("run the oracle");
    assert!(status.success(), "the oracle failed");
    let text = std::fs::read_to_string(&cases).expect("oracle output");
    let _ = std::fs::remove_dir_all(&dir);

    let (mut passed, mut skipped, mut failed) = (0, 0, Vec::new());
    for line in text.lines() {
        let row: Value = serde_json::from_str(line).expect("oracle line");
        let want = &row["want"];
        if want["status"] == 500 {
            skipped += 1;
            continue;
        }
        let got = answer(&row["case"]);
        if same(&got, want) {
            passed += 1;
        } else {
            failed.push(format!("{}\n  want {want}\n  got  {got}", row["case"]));
        }
    }
    for f in failed.iter().take(20) {
        eprintln!("{f}");
    }
    println!(
        "{passed} passed, {} failed, {skipped} skipped (500 on the reference)",
        failed.len()
    );
    assert!(failed.is_empty());
}
