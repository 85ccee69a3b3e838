//! Field rules shared by djoser's serializers: Django's username and email model fields,
//! `current_password`, and the way Django reads a primary key from a URL.

use axum_drf::auth::user::{normalize_username, validate_username};
use axum_drf::auth::User;
use axum_drf::fields::{CharField, EmailField, Errors, REQUIRED};
use axum_drf::python::PyInt;
use serde_json::{Map, Value};

use crate::app::AppState;
use axum_drf::ApiError;

/// Django's `unique` message for `User.username`.
pub const USERNAME_TAKEN: &str = "A user with that username already exists.";
/// djoser's `INVALID_PASSWORD_ERROR`.
pub const INVALID_PASSWORD: &str = "Invalid password.";

/// `User.username` as a serializer field named `field`: required, 150 characters, Django's
/// characters, unique. `normalize` is for registration, where `create_user` applies
/// Django's NFKC `normalize_username` (and look-alike spellings of a taken name are refused
/// as taken); `set_username` and `reset_username_confirm` save the name as given, as
/// Django does.
pub async fn username(
    state: &AppState,
    data: &Map<String, Value>,
    field: &str,
    normalize: bool,
    errors: &mut Errors,
) -> Result<Option<String>, ApiError> {
    let result = match data.get(field) {
        None => Err(vec![REQUIRED.to_owned()]),
        Some(value) => validate_username(value),
    };
    let Some(name) = errors.take(field, result).flatten() else {
        return Ok(None);
    };
    let name = if normalize {
        normalize_username(&name)
    } else {
        name
    };
    if state.auth.users().by_username(&name).await?.is_some() {
        errors.add(field, USERNAME_TAKEN);
        return Ok(None);
    }
    Ok(Some(name))
}

/// `User.email` as a model serializer field: optional, may be blank, 254 characters, Django's
/// `EmailValidator`. `Some("")` clears it; `None`: absent or invalid.
pub fn optional_email(data: &Map<String, Value>, errors: &mut Errors) -> Option<String> {
    let field = EmailField(
        CharField::new()
            .required(false)
            .allow_blank(true)
            .max_length(254),
    );
    errors
        .take("email", field.validate(data, "email"))
        .flatten()
}

/// DRF's `serializers.EmailField()`: required, not blank, a valid address.
pub fn required_email(data: &Map<String, Value>, errors: &mut Errors) -> Option<String> {
    errors
        .take(
            "email",
            EmailField(CharField::new()).validate(data, "email"),
        )
        .flatten()
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

/// Python's `int(text)`, as Django applies it to a URL's primary key (see
/// [`PyInt::parse`]).
pub fn path_id(text: &str) -> PathId {
    match PyInt::parse(text) {
        None => PathId::Malformed,
        Some(n) => n.to_i64().map_or(PathId::OutOfRange, PathId::Id),
    }
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
