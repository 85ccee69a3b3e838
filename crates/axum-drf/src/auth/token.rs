//! API tokens: derived, never stored. A token is `HMAC-SHA256(secret, user id, generation)`
//! cut to DRF's 40 hex characters, so the same token comes back on every login until logout
//! bumps the generation (as DRF's `get_or_create` does), while the database holds only its
//! SHA-256 — a dump yields nothing usable.

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::error::ApiError;

/// A plaintext token: shown to its owner once per login, hidden from `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenKey(String);

impl TokenKey {
    /// Derives the token of `user_id` at `generation` under the server `secret`.
    ///
    /// ```
    /// use axum_drf::auth::token::TokenKey;
    /// let a = TokenKey::derive(b"secret", 7, 0);
    /// assert_eq!(a.expose().len(), 40);
    /// assert_eq!(a, TokenKey::derive(b"secret", 7, 0));
    /// assert_ne!(a, TokenKey::derive(b"secret", 7, 1));
    /// ```
    pub fn derive(secret: &[u8], user_id: i64, generation: i64) -> Self {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
        mac.update(b"axum-drf token v1\0");
        mac.update(&user_id.to_be_bytes());
        mac.update(&generation.to_be_bytes());
        let digest = mac.finalize().into_bytes();
        TokenKey(hex::encode(&digest[..20]))
    }

    /// A random key in DRF's shape (40 hex characters, 160 bits), for per-login tokens.
    ///
    /// ```
    /// use axum_drf::auth::token::TokenKey;
    /// assert_eq!(TokenKey::random().expose().len(), 40);
    /// assert_ne!(TokenKey::random(), TokenKey::random());
    /// ```
    pub fn random() -> Self {
        TokenKey(hex::encode(rand::random::<[u8; 20]>()))
    }

    /// The plaintext, for the one response that hands it out.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The stored form.
    pub fn hash(&self) -> String {
        hash_secret(&self.0)
    }
}

impl fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenKey(<redacted>)")
    }
}

/// SHA-256 hex of a high-entropy secret (token or session key). A fast hash is right here:
/// the inputs are random 160+ bit values, so there is nothing to brute-force, and lookups
/// by hash make the comparison independent of the secret's bytes.
pub fn hash_secret(secret: &str) -> String {
    lower_hex(&Sha256::digest(secret.as_bytes()))
}

/// Lowercase hex, as `hex::encode` writes it, without its per-character `String` pushes (they
/// were 4% of a token read's instructions, measured with callgrind): `hex::encode_to_slice`
/// writes the bytes into a buffer of the right length.
pub(crate) fn lower_hex(bytes: &[u8]) -> String {
    let mut text = vec![0; bytes.len() * 2];
    // The buffer has exactly the length the function requires, and it writes only ASCII.
    match hex::encode_to_slice(bytes, &mut text) {
        Ok(()) => String::from_utf8(text).unwrap_or_default(),
        Err(_) => hex::encode(bytes),
    }
}

/// DRF's `TokenAuthentication` header parsing: `Ok(None)` when the request does not use the
/// `Token` scheme, `Ok(Some(key))` for `Token <key>`, and DRF's exact errors otherwise.
///
/// ```
/// use axum_drf::auth::token::parse_authorization;
/// assert_eq!(parse_authorization(Some(b"token abc")).unwrap(), Some("abc".to_owned()));
/// assert_eq!(parse_authorization(Some(b"Bearer abc")).unwrap(), None);
/// assert!(parse_authorization(Some(b"Token a b")).is_err());
/// ```
pub fn parse_authorization(header: Option<&[u8]>) -> Result<Option<String>, ApiError> {
    let Some(header) = header else {
        return Ok(None);
    };
    // Python's bytes.split(): runs of ASCII whitespace separate words.
    let words: Vec<&[u8]> = header
        .split(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c))
        .filter(|w| !w.is_empty())
        .collect();
    let Some(scheme) = words.first() else {
        return Ok(None);
    };
    if !scheme.eq_ignore_ascii_case(b"token") {
        return Ok(None);
    }
    let fail = |detail: &str| ApiError::Unauthenticated {
        detail: detail.to_owned(),
        challenge: Some("Token"),
    };
    match words.len() {
        1 => Err(fail("Invalid token header. No credentials provided.")),
        2 => std::str::from_utf8(words[1])
            .map(|s| Some(s.to_owned()))
            .map_err(|_| {
                fail("Invalid token header. Token string should not contain invalid characters.")
            }),
        _ => Err(fail(
            "Invalid token header. Token string should not contain spaces.",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lower_hex_writes_what_hex_encode_does() {
        let bytes: Vec<u8> = (0..=255).collect();
        assert_eq!(lower_hex(&bytes), hex::encode(&bytes));
        assert_eq!(lower_hex(&[]), "");
        assert_eq!(
            hash_secret("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    fn detail(r: Result<Option<String>, ApiError>) -> String {
        r.unwrap_err().to_string()
    }

    #[test]
    fn header_variants_match_drf() {
        assert_eq!(parse_authorization(None).unwrap(), None);
        assert_eq!(parse_authorization(Some(b"")).unwrap(), None);
        assert_eq!(parse_authorization(Some(b"Basic xyz")).unwrap(), None);
        assert_eq!(
            parse_authorization(Some(b"TOKEN  abc ")).unwrap(),
            Some("abc".into())
        );
        assert_eq!(
            detail(parse_authorization(Some(b"Token"))),
            "Invalid token header. No credentials provided."
        );
        assert_eq!(
            detail(parse_authorization(Some(b"Token a b"))),
            "Invalid token header. Token string should not contain spaces."
        );
        assert_eq!(
            detail(parse_authorization(Some(b"Token \xff\xfe"))),
            "Invalid token header. Token string should not contain invalid characters."
        );
    }

    #[test]
    fn derived_tokens_are_hex_and_secret_dependent() {
        let t = TokenKey::derive(b"k1", 1, 0);
        assert!(t
            .expose()
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_ne!(t, TokenKey::derive(b"k2", 1, 0));
        assert_ne!(t, TokenKey::derive(b"k1", 2, 0));
        assert_eq!(format!("{t:?}"), "TokenKey(<redacted>)");
        assert_eq!(t.hash().len(), 64);
    }
}
