//! Field rules shared by djoser's serializers: Django's username and email model fields,
//! `current_password`, and the way Django reads a primary key from a URL.

use axum_drf::auth::user::{is_valid_username, normalize_username};
use axum_drf::auth::User;
use axum_drf::fields::{is_valid_email, max_length_message, CharField, Errors};
use serde_json::{Map, Value};

use crate::app::AppState;
use axum_drf::ApiError;

/// Django's `unique` message for `User.username`.
pub const USERNAME_TAKEN: &str = "A user with that username already exists.";
/// Django's `UnicodeUsernameValidator` message.
pub const USERNAME_INVALID: &str =
    "Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters.";
/// djoser's `INVALID_PASSWORD_ERROR`.
pub const INVALID_PASSWORD: &str = "Invalid password.";
/// Django's `EmailValidator` message.
pub const INVALID_EMAIL: &str = "Enter a valid email address.";

/// `User.username` as a serializer field named `field`: required, 150 characters, Django's
/// characters, unique. Returns the NFKC-normalised name, so look-alike spellings of a taken
/// name are refused as taken.
pub async fn username(
    state: &AppState,
    data: &Map<String, Value>,
    field: &str,
    errors: &mut Errors,
) -> Result<Option<String>, ApiError> {
    let Some(name) = errors
        .take(field, CharField::new().validate(data, field))
        .flatten()
    else {
        return Ok(None);
    };
    let mut messages = Vec::new();
    if !is_valid_username(&name) {
        messages.push(USERNAME_INVALID.to_owned());
    }
    if name.chars().count() > 150 {
        messages.push(max_length_message(150));
    }
    let normalized = normalize_username(&name);
    if messages.is_empty() && state.auth.users().by_username(&normalized).await?.is_some() {
        messages.push(USERNAME_TAKEN.to_owned());
    }
    if messages.is_empty() {
        Ok(Some(normalized))
    } else {
        errors.extend(field, messages);
        Ok(None)
    }
}

/// `User.email` as a model serializer field: optional, may be blank, 254 characters, Django's
/// `EmailValidator`. `Some("")` clears it; `None`: absent or invalid.
pub fn optional_email(data: &Map<String, Value>, errors: &mut Errors) -> Option<String> {
    let field = CharField::new().required(false).allow_blank(true);
    let email = errors
        .take("email", email_messages(field.validate(data, "email")))
        .flatten()?;
    if email.is_empty() {
        return Some(email);
    }
    let mut messages = Vec::new();
    if email.chars().count() > 254 {
        messages.push(max_length_message(254));
    }
    if !is_valid_email(&email) {
        messages.push(INVALID_EMAIL.to_owned());
    }
    if messages.is_empty() {
        Some(email)
    } else {
        errors.extend("email", messages);
        None
    }
}

/// DRF's `EmailField` overrides the `invalid` message its `CharField` base uses for values
/// that are not strings.
fn email_messages<T>(result: Result<T, Vec<String>>) -> Result<T, Vec<String>> {
    result.map_err(|messages| {
        messages
            .into_iter()
            .map(|m| {
                if m == "Not a valid string." {
                    INVALID_EMAIL.to_owned()
                } else {
                    m
                }
            })
            .collect()
    })
}

/// DRF's `serializers.EmailField()`: required, not blank, a valid address.
pub fn required_email(data: &Map<String, Value>, errors: &mut Errors) -> Option<String> {
    let email = errors
        .take(
            "email",
            email_messages(CharField::new().validate(data, "email")),
        )
        .flatten()?;
    if is_valid_email(&email) {
        Some(email)
    } else {
        errors.add("email", INVALID_EMAIL);
        None
    }
}

/// djoser's `CurrentPasswordSerializer.current_password`: required, checked against `user`.
pub async fn current_password(
    state: &AppState,
    user: &User,
    data: &Map<String, Value>,
    errors: &mut Errors,
) -> Result<(), ApiError> {
    if let Some(password) = errors
        .take(
            "current_password",
            CharField::new().validate(data, "current_password"),
        )
        .flatten()
    {
        if !state.auth.check_password(user, &password).await? {
            errors.add("current_password", INVALID_PASSWORD);
        }
    }
    Ok(())
}

/// What a URL's `{id}` means to Django's integer primary key lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathId {
    /// Not an integer at all: DRF answers a bare `Not found.`.
    Malformed,
    /// An integer no row can have (beyond 64 bits).
    OutOfRange,
    /// A usable id.
    Id(i64),
}

/// Python's `int(text)`, as Django applies it to a URL's primary key: surrounding whitespace,
/// a sign, `_` between digits and any Unicode decimal digits are accepted.
pub fn path_id(text: &str) -> PathId {
    let t = text.trim();
    let (negative, body) = match t.chars().next() {
        Some('-') => (true, &t[1..]),
        Some('+') => (false, &t[1..]),
        _ => (false, t),
    };
    if body.is_empty() || body.starts_with('_') || body.ends_with('_') || body.contains("__") {
        return PathId::Malformed;
    }
    let mut value: i128 = 0;
    let mut overflow = false;
    for c in body.chars().filter(|c| *c != '_') {
        let Some(d) = decimal_digit(c) else {
            return PathId::Malformed;
        };
        value = value * 10 + i128::from(d);
        if value > i128::from(i64::MAX) + 1 {
            overflow = true;
            value = 0;
        }
    }
    let value = if negative { -value } else { value };
    match i64::try_from(value) {
        Ok(v) if !overflow => PathId::Id(v),
        _ => PathId::OutOfRange,
    }
}

/// The value of a Unicode `Nd` character (what Python's `int()` accepts as a digit).
fn decimal_digit(c: char) -> Option<u32> {
    // The first code point of every run of ten Nd digits (Unicode 14, as CPython 3.11).
    const ZEROS: [u32; 66] = [
        0x30, 0x660, 0x6F0, 0x7C0, 0x966, 0x9E6, 0xA66, 0xAE6, 0xB66, 0xBE6, 0xC66, 0xCE6, 0xD66,
        0xDE6, 0xE50, 0xED0, 0xF20, 0x1040, 0x1090, 0x17E0, 0x1810, 0x1946, 0x19D0, 0x1A80, 0x1A90,
        0x1B50, 0x1BB0, 0x1C40, 0x1C50, 0xA620, 0xA8D0, 0xA900, 0xA9D0, 0xA9F0, 0xAA50, 0xABF0,
        0xFF10, 0x104A0, 0x10D30, 0x11066, 0x110F0, 0x11136, 0x111D0, 0x112F0, 0x11450, 0x114D0,
        0x11650, 0x116C0, 0x11730, 0x118E0, 0x11950, 0x11C50, 0x11D50, 0x11DA0, 0x16A60, 0x16AC0,
        0x16B50, 0x1D7CE, 0x1D7D8, 0x1D7E2, 0x1D7EC, 0x1D7F6, 0x1E140, 0x1E2F0, 0x1E950, 0x1FBF0,
    ];
    let cp = c as u32;
    let i = ZEROS.partition_point(|z| *z <= cp);
    let zero = ZEROS[i.checked_sub(1)?];
    (cp - zero < 10).then_some(cp - zero)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_ids_parse_like_python_int() {
        assert_eq!(path_id("89"), PathId::Id(89));
        assert_eq!(path_id("089"), PathId::Id(89));
        assert_eq!(path_id("+89"), PathId::Id(89));
        assert_eq!(path_id("8_9"), PathId::Id(89));
        assert_eq!(path_id(" 89"), PathId::Id(89));
        assert_eq!(path_id("٨٩"), PathId::Id(89));
        assert_eq!(path_id("-1"), PathId::Id(-1));
        assert_eq!(path_id("99999999999999999999"), PathId::OutOfRange);
        assert_eq!(path_id("9223372036854775807"), PathId::Id(i64::MAX));
        for bad in ["abc", "1e2", "", "_1", "1_", "1__2", "me", "+", "1.0"] {
            assert_eq!(path_id(bad), PathId::Malformed, "{bad}");
        }
    }
}
