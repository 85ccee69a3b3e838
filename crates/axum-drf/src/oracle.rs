//! Differential oracles for field cleaning, Python's `int()`/`strip()`, datetimes, primary
//! keys, usernames and pagination parameters. `oracle/fields.py` generates cases and answers
//! each with DRF's and Django's own code, run in-process; the answers are recorded in
//! `oracle/fields.jsonl`, which `cargo test` replays without Python. To ask the reference
//! again (after changing a rule, or upgrading DRF), with its virtualenv:
//!
//! ```text
//! DRF_ORACLE_PYTHON=~/.cache/lending-reference-venv/bin/python \
//!     cargo test -p axum-drf oracle::live -- --ignored --nocapture
//! ```
//!
//! `DRF_ORACLE_SEED` / `DRF_ORACLE_SCALE` vary the live run; `DRF_ORACLE_RECORD=1` rewrites
//! the recorded corpus from it (seed 1, scale 0.3 is what is committed).

use serde_json::{json, Value};

use crate::auth::user::{normalize_username, validate_username};
use crate::datetime::{format_datetime, validate_datetime, INVALID_DATETIME};
use crate::fields::{CharField, EmailField, NULL};
use crate::pagination::LimitOffset;
use crate::python::{strip, PyInt};
use crate::resource::field::{parse_pk, Parsed};

const SCRIPT: &str = include_str!("../oracle/fields.py");
const CORPUS: &str = include_str!("../oracle/fields.jsonl");

fn outcome(r: Result<Option<String>, Vec<String>>) -> Value {
    match r {
        Ok(v) => json!({ "ok": v }),
        Err(errors) => json!({ "errors": errors }),
    }
}

fn char_field(opts: &Value) -> CharField {
    let flag = |k: &str, default: bool| opts.get(k).and_then(Value::as_bool).unwrap_or(default);
    let mut f = CharField::new()
        .allow_blank(flag("allow_blank", false))
        .allow_null(flag("allow_null", false))
        .trim_whitespace(flag("trim_whitespace", true));
    if let Some(n) = opts.get("max_length").and_then(Value::as_u64) {
        f = f.max_length(n as usize);
    }
    f
}

/// The rows 1, 2 and 3 exist, as in the oracle's database.
fn pk_answer(value: &Value) -> Value {
    match parse_pk(value) {
        Ok(Parsed::Reference { id: Some(id), .. }) if (1..=3).contains(&id) => json!({"ok": id}),
        Ok(Parsed::Reference { shown, .. }) => {
            json!({"errors": [format!("Invalid pk \"{shown}\" - object does not exist.")]})
        }
        Ok(Parsed::Value(_)) => unreachable!("a related field yields references"),
        Err(errors) => json!({ "errors": errors }),
    }
}

fn page_answer(case: &Value) -> Value {
    let query = case["query"].as_str().expect("query");
    let param = |name: &str| {
        form_urlencoded::parse(query.as_bytes())
            .filter(|(k, _)| k == name)
            .last()
            .map(|(_, v)| v.into_owned())
    };
    let count = case["count"].as_i64().expect("count");
    let page = LimitOffset::parse(
        param("limit").as_deref(),
        param("offset").as_deref(),
        100,
        None,
    );
    let base = format!("http://testserver{}", case["path"].as_str().expect("path"));
    let (next, previous) = page.links(&base, query, count);
    let n = if page.offset >= count {
        0
    } else {
        page.limit.min(count - page.offset)
    };
    let first = (n > 0).then_some(page.offset);
    json!({"next": next, "previous": previous, "n": n, "first": first})
}

/// Our answer to one case, in the oracle's shape.
fn answer(case: &Value) -> Value {
    let value = &case["value"];
    match case["kind"].as_str().expect("kind") {
        "strip" => json!({"ok": strip(value.as_str().expect("text"))}),
        "int" => match PyInt::parse(value.as_str().expect("text")) {
            Some(n) => json!({"ok": n.to_string()}),
            None => json!({"error": true}),
        },
        "char" => outcome(char_field(&case["opts"]).validate_value(value)),
        "email" => outcome(EmailField(char_field(&case["opts"])).validate_value(value)),
        "datetime" => match value {
            Value::Null => json!({"errors": [NULL]}),
            Value::String(s) => match validate_datetime(s) {
                Ok(t) => json!({"ok": format_datetime(t)}),
                Err(message) => json!({"errors": [message]}),
            },
            _ => json!({"errors": [INVALID_DATETIME]}),
        },
        "pk" => pk_answer(value),
        "username" => outcome(validate_username(value).map(|v| v.map(|n| normalize_username(&n)))),
        "page" => page_answer(case),
        other => panic!("unknown case kind {other}"),
    }
}

/// Compares every line of an oracle output; returns the failures.
fn compare(text: &str) -> (usize, Vec<String>) {
    let mut passed = 0;
    let mut failed = Vec::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        let row: Value = serde_json::from_str(line).expect("oracle line");
        let got = answer(&row["case"]);
        if got == row["want"] {
            passed += 1;
        } else {
            failed.push(format!(
                "{}\n  want {}\n  got  {got}",
                row["case"], row["want"]
            ));
        }
    }
    (passed, failed)
}

fn report(passed: usize, failed: &[String]) {
    for f in failed.iter().take(30) {
        eprintln!("{f}");
    }
    println!("{passed} passed, {} failed", failed.len());
    assert!(failed.is_empty());
}

#[test]
fn recorded_corpus() {
    let (passed, failed) = compare(CORPUS);
    assert!(passed > 5000, "the corpus holds thousands of cases");
    report(passed, &failed);
}

#[test]
#[ignore = "needs the reference virtualenv: set DRF_ORACLE_PYTHON"]
fn live() {
    let Ok(python) = std::env::var("DRF_ORACLE_PYTHON") else {
        eprintln!("DRF_ORACLE_PYTHON is not set; nothing to compare against");
        return;
    };
    let seed = std::env::var("DRF_ORACLE_SEED").unwrap_or_else(|_| "1".into());
    let scale = std::env::var("DRF_ORACLE_SCALE").unwrap_or_else(|_| "0.3".into());
    let dir = std::env::temp_dir().join(format!("drf-fields-oracle-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let script = dir.join("fields.py");
    let cases = dir.join("cases.jsonl");
    std::fs::write(&script, SCRIPT).expect("write oracle");
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
    if std::env::var_os("DRF_ORACLE_RECORD").is_some() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/oracle/fields.jsonl");
        std::fs::write(path, &text).expect("record the corpus");
    }
    let (passed, failed) = compare(&text);
    report(passed, &failed);
}
