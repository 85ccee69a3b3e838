//! Serializer fields with DRF's validation rules and messages, and the error collector that
//! shapes them as `{"field": ["message", ...]}`.

use serde_json::{Map, Value};

use crate::error::ApiError;

/// DRF's `This field is required.`
pub const REQUIRED: &str = "This field is required.";
/// DRF's `This field may not be null.`
pub const NULL: &str = "This field may not be null.";
/// DRF's `This field may not be blank.`
pub const BLANK: &str = "This field may not be blank.";

/// Field errors in declaration order, rendered as DRF does.
///
/// ```
/// use axum_drf::fields::Errors;
/// let mut errors = Errors::default();
/// errors.add("name", "This field is required.");
/// assert!(errors.into_result().is_err());
/// ```
#[derive(Debug, Default)]
pub struct Errors(Map<String, Value>);

impl Errors {
    /// Records a message for `field`.
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        let entry = self
            .0
            .entry(field.to_owned())
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(list) = entry {
            list.push(Value::String(message.into()));
        }
    }

    /// Records several messages for `field`.
    pub fn extend(&mut self, field: &str, messages: Vec<String>) {
        for m in messages {
            self.add(field, m);
        }
    }

    /// Keeps `Ok(value)`, recording `Err(messages)` under `field`.
    pub fn take<T>(&mut self, field: &str, result: Result<T, Vec<String>>) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(messages) => {
                self.extend(field, messages);
                None
            }
        }
    }

    /// Whether any error was recorded.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok(())` when empty, else a 400 validation error.
    pub fn into_result(self) -> Result<(), ApiError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Validation(Value::Object(self.0)))
        }
    }
}

/// DRF's `CharField`.
///
/// ```
/// use axum_drf::fields::CharField;
/// let data = serde_json::json!({"name": "  Bob "});
/// let name = CharField::new().max_length(100).validate(data.as_object().unwrap(), "name");
/// assert_eq!(name, Ok(Some("Bob".to_owned())));
/// ```
#[derive(Debug, Clone, Copy)]
pub struct CharField {
    /// Missing is an error (else `Ok(None)`).
    pub required: bool,
    /// `""` is accepted.
    pub allow_blank: bool,
    /// `null` is accepted (as `Ok(None)`).
    pub allow_null: bool,
    /// Strip surrounding whitespace (DRF's default).
    pub trim_whitespace: bool,
    /// Upper bound in characters.
    pub max_length: Option<usize>,
}

impl Default for CharField {
    fn default() -> Self {
        Self::new()
    }
}

impl CharField {
    /// Required, not blank, not null, trimmed: DRF's defaults.
    pub const fn new() -> Self {
        CharField {
            required: true,
            allow_blank: false,
            allow_null: false,
            trim_whitespace: true,
            max_length: None,
        }
    }

    /// Sets `required`.
    pub const fn required(mut self, required: bool) -> Self {
        self.required = required;
        self
    }

    /// Sets `allow_blank`.
    pub const fn allow_blank(mut self, allow: bool) -> Self {
        self.allow_blank = allow;
        self
    }

    /// Sets `allow_null`.
    pub const fn allow_null(mut self, allow: bool) -> Self {
        self.allow_null = allow;
        self
    }

    /// Sets `trim_whitespace`.
    pub const fn trim_whitespace(mut self, trim: bool) -> Self {
        self.trim_whitespace = trim;
        self
    }

    /// Sets `max_length`.
    pub const fn max_length(mut self, n: usize) -> Self {
        self.max_length = Some(n);
        self
    }

    /// Validates `data[name]`: `Ok(None)` when absent and optional (or null and allowed).
    pub fn validate(
        &self,
        data: &Map<String, Value>,
        name: &str,
    ) -> Result<Option<String>, Vec<String>> {
        match data.get(name) {
            None if self.required => Err(vec![REQUIRED.into()]),
            None => Ok(None),
            Some(v) => self.validate_value(v),
        }
    }

    /// Validates a present value.
    pub fn validate_value(&self, value: &Value) -> Result<Option<String>, Vec<String>> {
        let text = match value {
            Value::Null if self.allow_null => return Ok(None),
            Value::Null => return Err(vec![NULL.into()]),
            Value::String(s) => s.clone(),
            Value::Number(n) => python_number(n),
            _ => {
                // DRF checks blankness on str(data) before the type check, and no
                // non-string JSON value renders blank, so the type error wins here.
                return Err(vec!["Not a valid string.".into()]);
            }
        };
        let trimmed = if self.trim_whitespace {
            text.trim_matches(char::is_whitespace).to_owned()
        } else {
            text
        };
        if trimmed.is_empty() {
            return if self.allow_blank {
                Ok(Some(String::new()))
            } else {
                Err(vec![BLANK.into()])
            };
        }
        if let Some(max) = self.max_length {
            if trimmed.chars().count() > max {
                return Err(vec![max_length_message(max)]);
            }
        }
        Ok(Some(trimmed))
    }
}

/// DRF's max-length message.
pub fn max_length_message(max: usize) -> String {
    format!("Ensure this field has no more than {max} characters.")
}

/// `str(x)` of a JSON number as Python would print it (DRF coerces numbers to strings).
///
/// ```
/// use axum_drf::fields::python_number;
/// assert_eq!(python_number(&serde_json::Number::from_f64(12.0).unwrap()), "12.0");
/// assert_eq!(python_number(&serde_json::Number::from_f64(1.5e300).unwrap()), "1.5e+300");
/// assert_eq!(python_number(&serde_json::Number::from(7)), "7");
/// ```
pub fn python_number(n: &serde_json::Number) -> String {
    if let Some(i) = n.as_i64() {
        return i.to_string();
    }
    if let Some(u) = n.as_u64() {
        return u.to_string();
    }
    python_float_repr(n.as_f64().unwrap_or(f64::NAN))
}

/// Python's `repr(float)`: shortest round-trip digits, scientific below 1e-4 or from 1e16.
pub fn python_float_repr(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if f == 0.0 {
        return if f.is_sign_negative() {
            "-0.0".into()
        } else {
            "0.0".into()
        };
    }
    // Rust's `{:e}` gives the shortest round-trip digits, like Python's repr.
    let sci = format!("{:e}", f);
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let negative = mantissa.starts_with('-');
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let sign = if negative { "-" } else { "" };
    if !(-4..16).contains(&exp) {
        let mut m = digits[..1].to_owned();
        if digits.len() > 1 {
            m.push('.');
            m.push_str(&digits[1..]);
        }
        let esign = if exp < 0 { '-' } else { '+' };
        return format!("{sign}{m}e{esign}{:02}", exp.abs());
    }
    let point = exp + 1;
    let body = if point <= 0 {
        format!("0.{}{}", "0".repeat((-point) as usize), digits)
    } else if point as usize >= digits.len() {
        format!("{}{}.0", digits, "0".repeat(point as usize - digits.len()))
    } else {
        format!(
            "{}.{}",
            &digits[..point as usize],
            &digits[point as usize..]
        )
    };
    format!("{sign}{body}")
}

/// Django's `EmailValidator`: the same user-part and domain rules, `localhost` allowed,
/// IP literals in brackets.
///
/// ```
/// use axum_drf::fields::is_valid_email;
/// assert!(is_valid_email("alice@example.com"));
/// assert!(!is_valid_email("not-an-email"));
/// ```
pub fn is_valid_email(value: &str) -> bool {
    use std::sync::OnceLock;
    static USER: OnceLock<regex::Regex> = OnceLock::new();
    static DOMAIN: OnceLock<regex::Regex> = OnceLock::new();
    static LITERAL: OnceLock<regex::Regex> = OnceLock::new();
    if value.is_empty() || value.chars().count() > 320 {
        return false;
    }
    let Some((user, domain)) = value.rsplit_once('@') else {
        return false;
    };
    let user_re = USER.get_or_init(|| {
        regex::Regex::new(
            r#"(?i)(^[-!#$%&'*+/=?^_`{}|~0-9A-Z]+(\.[-!#$%&'*+/=?^_`{}|~0-9A-Z]+)*$|^"([\x01-\x08\x0b\x0c\x0e-\x1f!#-\[\]-\x7f]|\\[\x01-\x09\x0b\x0c\x0e-\x7f])*"$)"#,
        )
        .expect("valid regex")
    });
    if !user_re.is_match(user) {
        return false;
    }
    if domain == "localhost" {
        return true;
    }
    let domain_re = DOMAIN.get_or_init(|| {
        regex::Regex::new(r"(?i)^((?:[A-Z0-9](?:[A-Z0-9-]{0,61}[A-Z0-9])?\.)+)(?:[A-Z0-9-]{2,63})$")
            .expect("valid regex")
    });
    // The regex crate has no look-behind; Django's `(?<!-)` is the `ends_with` check.
    if domain_re.is_match(domain) && !domain.ends_with('-') {
        return true;
    }
    let literal_re =
        LITERAL.get_or_init(|| regex::Regex::new(r"(?i)^\[([A-F0-9:.]+)\]$").expect("valid regex"));
    literal_re
        .captures(domain)
        .is_some_and(|c| c[1].parse::<std::net::IpAddr>().is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn float_repr_matches_python() {
        for (f, s) in [
            (12.0, "12.0"),
            (0.1, "0.1"),
            (1e16, "1e+16"),
            (1234567890123456.0, "1234567890123456.0"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (-2.5, "-2.5"),
            (1.5e300, "1.5e+300"),
        ] {
            assert_eq!(python_float_repr(f), s, "{f}");
        }
    }

    #[test]
    fn emails() {
        for ok in [
            "a@b.co",
            "a.b+c@x-y.example.org",
            "\"q\\ t\"@example.com",
            "x@localhost",
            "x@[127.0.0.1]",
        ] {
            assert!(is_valid_email(ok), "{ok}");
        }
        for bad in [
            "",
            "a",
            "a@",
            "@b.com",
            "a@b",
            "a@-b.com",
            "a@b.c",
            "a b@c.com",
            "a@b.com-",
            "a..b@c.com",
            "x@[1.2.3]",
        ] {
            assert!(!is_valid_email(bad), "{bad}");
        }
    }

    #[test]
    fn char_field_rules() {
        let f = CharField::new().max_length(3);
        let d =
            json!({"a": "", "b": null, "c": true, "d": 12, "e": "abcd", "f": "  x  ", "g": [1]});
        let m = d.as_object().unwrap();
        assert_eq!(f.validate(m, "a"), Err(vec![BLANK.to_owned()]));
        assert_eq!(f.validate(m, "b"), Err(vec![NULL.to_owned()]));
        assert_eq!(
            f.validate(m, "c"),
            Err(vec!["Not a valid string.".to_owned()])
        );
        assert_eq!(f.validate(m, "d"), Ok(Some("12".to_owned())));
        assert_eq!(f.validate(m, "e"), Err(vec![max_length_message(3)]));
        assert_eq!(f.validate(m, "f"), Ok(Some("x".to_owned())));
        assert_eq!(
            f.validate(m, "g"),
            Err(vec!["Not a valid string.".to_owned()])
        );
        assert_eq!(f.validate(m, "zz"), Err(vec![REQUIRED.to_owned()]));
        assert_eq!(f.required(false).validate(m, "zz"), Ok(None));
    }
}
