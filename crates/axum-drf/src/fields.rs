//! Serializer fields with DRF's validation rules and messages, and the error collector that
//! shapes them as `{"field": ["message", ...]}`.

use serde_json::{Map, Value};

use crate::error::ApiError;

/// DRF's `This field is required.`
pub const REQUIRED: &str = "This field is required.";
/// DRF's `This field may not be null.`
pub const NULL: &str = "This field may not be null.";
/// DRF's `ProhibitNullCharactersValidator` message.
pub const NUL_CHARACTERS: &str = "Null characters are not allowed.";
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
        self.validate_value_with(value, |_, _| {}, |_, _| {})
    }

    /// [`CharField::validate_value`] with extra validators on the cleaned text, `before` and
    /// `after` the field's own (max length, NUL, surrogates): DRF runs them all, in that
    /// order, and reports every failure.
    ///
    /// ```
    /// use axum_drf::fields::CharField;
    /// let r = CharField::new().max_length(2).validate_value_with(
    ///     &serde_json::json!("abc"),
    ///     |_, errors| errors.push("first".into()),
    ///     |_, _| {},
    /// );
    /// assert_eq!(r.unwrap_err()[0], "first");
    /// ```
    pub fn validate_value_with(
        &self,
        value: &Value,
        before: impl FnOnce(&str, &mut Vec<String>),
        after: impl FnOnce(&str, &mut Vec<String>),
    ) -> Result<Option<String>, Vec<String>> {
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
            let stripped = crate::python::strip(&text);
            if stripped.len() == text.len() {
                text
            } else {
                stripped.to_owned()
            }
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
        let mut errors = Vec::new();
        before(&trimmed, &mut errors);
        if let Some(max) = self.max_length {
            if trimmed.chars().count() > max {
                errors.push(max_length_message(max));
            }
        }
        if trimmed.contains('\0') {
            errors.push(NUL_CHARACTERS.into());
        }
        if let Some(s) = trimmed.chars().find_map(crate::parsers::lone_surrogate) {
            errors.push(format!("Surrogate characters are not allowed: U+{s:X}."));
        }
        after(&trimmed, &mut errors);
        if errors.is_empty() {
            Ok(Some(trimmed))
        } else {
            Err(errors)
        }
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

/// Django's `EmailValidator` message (also DRF's `EmailField` `invalid`).
pub const INVALID_EMAIL: &str = "Enter a valid email address.";

/// DRF's `EmailField`: a [`CharField`] whose type error reads [`INVALID_EMAIL`], followed
/// by Django's `EmailValidator`.
///
/// ```
/// use axum_drf::fields::{CharField, EmailField};
/// let field = EmailField(CharField::new().required(false).allow_blank(true).max_length(254));
/// assert_eq!(field.validate_value(&serde_json::json!(" a@b.co ")), Ok(Some("a@b.co".into())));
/// assert!(field.validate_value(&serde_json::json!("a@b")).is_err());
/// ```
#[derive(Debug, Clone, Copy)]
pub struct EmailField(pub CharField);

impl EmailField {
    /// Validates `data[name]` (see [`CharField::validate`]).
    pub fn validate(
        &self,
        data: &Map<String, Value>,
        name: &str,
    ) -> Result<Option<String>, Vec<String>> {
        match data.get(name) {
            None if self.0.required => Err(vec![REQUIRED.into()]),
            None => Ok(None),
            Some(v) => self.validate_value(v),
        }
    }

    /// Validates a present value.
    pub fn validate_value(&self, value: &Value) -> Result<Option<String>, Vec<String>> {
        let text = match value {
            Value::Null | Value::String(_) | Value::Number(_) => value,
            _ => return Err(vec![INVALID_EMAIL.into()]),
        };
        self.0.validate_value_with(
            text,
            |_, _| {},
            |email, errors| {
                if !is_valid_email(email) {
                    errors.push(INVALID_EMAIL.into());
                }
            },
        )
    }
}

/// Django 5.2's `EmailValidator` (`domain_allowlist = ["localhost"]`), hand-written because
/// its domain pattern needs look-around, which the `regex` crate lacks, and because
/// Python's case-insensitive `[A-Z]` also matches `İ ı ſ K`.
///
/// ```
/// use axum_drf::fields::is_valid_email;
/// assert!(is_valid_email("alice@example.com"));
/// assert!(is_valid_email("alice@bücher.example"));
/// assert!(!is_valid_email("not-an-email"));
/// ```
pub fn is_valid_email(value: &str) -> bool {
    if value.is_empty() || value.chars().count() > 320 {
        return false;
    }
    let Some((user, domain)) = value.rsplit_once('@') else {
        return false;
    };
    email_user_part(user)
        && (domain == "localhost" || email_domain_part(domain) || email_literal(domain))
}

/// Letters as Python's `re.IGNORECASE` `[A-Z]` sees them.
fn ascii_letter_ignorecase(c: char) -> bool {
    c.is_ascii_alphabetic() || matches!(c, '\u{130}' | '\u{131}' | '\u{17f}' | '\u{212a}')
}

fn email_user_part(user: &str) -> bool {
    if let Some(inner) = user
        .strip_prefix('"')
        .and_then(|u| u.strip_suffix('"'))
        .filter(|_| user.len() >= 2)
    {
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            let ok = if c == '\\' {
                chars.next().is_some_and(|e| {
                    matches!(e, '\x01'..='\x09' | '\x0b' | '\x0c' | '\x0e'..='\x7f')
                        || ascii_letter_ignorecase(e)
                })
            } else {
                matches!(c, '\x01'..='\x08' | '\x0b' | '\x0c' | '\x0e'..='\x1f' | '!' | '#'..='[' | ']'..='\x7f')
                    || ascii_letter_ignorecase(c)
            };
            if !ok {
                return false;
            }
        }
        return true;
    }
    !user.is_empty()
        && user.split('.').all(|atom| {
            !atom.is_empty()
                && atom.chars().all(|c| {
                    ascii_letter_ignorecase(c)
                        || c.is_ascii_digit()
                        || "-!#$%&'*+/=?^_`{}|~".contains(c)
                })
        })
}

/// DomainNameValidator's `ul`: U+00A1..U+FFFF (lone surrogates included, as the JSON
/// parser stores them shifted).
fn unicode_letter(c: char) -> bool {
    ('\u{a1}'..='\u{ffff}').contains(&c) || crate::parsers::lone_surrogate(c).is_some()
}

fn email_domain_part(domain: &str) -> bool {
    let labels: Vec<&str> = domain.split('.').collect();
    let Some((tld, rest)) = labels.split_last() else {
        return false;
    };
    if rest.is_empty() {
        return false;
    }
    let label_ok = |label: &str| {
        let n = label.chars().count();
        (1..=63).contains(&n)
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.chars().all(|c| {
                ascii_letter_ignorecase(c) || c.is_ascii_digit() || c == '-' || unicode_letter(c)
            })
    };
    if !rest.iter().all(|l| label_ok(l)) {
        return false;
    }
    let n = tld.chars().count();
    let plain = (2..=63).contains(&n)
        && !tld.starts_with('-')
        && !tld.ends_with('-')
        && tld
            .chars()
            .all(|c| ascii_letter_ignorecase(c) || c == '-' || unicode_letter(c));
    let punycode = tld.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("xn--"))
        && (1..=59).contains(&tld[4..].chars().count())
        && tld[4..]
            .chars()
            .all(|c| ascii_letter_ignorecase(c) || c.is_ascii_digit());
    plain || punycode
}

/// `\[([A-F0-9:.]+)\]` holding an address `validate_ipv46_address` accepts.
fn email_literal(domain: &str) -> bool {
    let Some(ip) = domain.strip_prefix('[').and_then(|d| d.strip_suffix(']')) else {
        return false;
    };
    !ip.is_empty()
        && ip
            .bytes()
            .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
        && (ip.parse::<std::net::Ipv4Addr>().is_ok()
            || (ip.len() <= 39 && ip.parse::<std::net::Ipv6Addr>().is_ok()))
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
