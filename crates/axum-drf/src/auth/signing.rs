//! One-time links for email flows (password reset, activation, username reset): Django's
//! `PasswordResetTokenGenerator` idea, made stricter.
//!
//! A link carries `uid` (the user id, base64url like Django's `urlsafe_base64_encode`) and a
//! `token` of the form `<issued, base36 seconds>-<HMAC>`. The HMAC is keyed by the server
//! secret and covers the purpose, the user id, the issue time and the user's current
//! password hash, last login, username and email, so
//!
//! * a token made for one purpose is worthless for another (djoser shares one generator),
//! * changing the password (or logging in, or changing the email) kills every outstanding
//!   link of that user at once, with no table to clean,
//! * a token older than the caller's `max_age` is refused,
//!
//! and [`UsedLinks`] records each use per (user, purpose, issue time) until the link would
//! have expired anyway, inserted in the transaction of the change the link authorises, so a
//! link works once even when sent many times at once.
//!
//! Exactly one spelling of a link is accepted: the one issued (`uid` unpadded base64 of the
//! decimal id, the time in lower-case base36 without leading zeros, the MAC in lower-case
//! hex). Django also accepts padded uids and upper-case times; each alias would be another
//! string naming the same link.
//!
//! ```
//! use axum_drf::auth::signing::{decode_uid, encode_uid, LinkCheck, LinkSigner};
//! # let user = axum_drf::auth::User {
//! #     id: 7, username: "alice".into(), email: "a@example.com".into(), first_name: String::new(),
//! #     last_name: String::new(), is_active: true, is_staff: false, is_superuser: false,
//! #     last_login: None, date_joined: 0, password: "$argon2id$...".into(), token_generation: 0,
//! # };
//! assert_eq!(encode_uid(7), "Nw");
//! assert_eq!(decode_uid("Nw"), Some(7));
//!
//! let signer = LinkSigner::new(b"server secret");
//! let token = signer.make_at("password_reset", &user, 1_700_000_000);
//! let check = |purpose, now| signer.check_at(purpose, &user, &token, 3600, now);
//! assert_eq!(check("password_reset", 1_700_000_100), LinkCheck::Valid);
//! assert_eq!(check("password_reset", 1_700_003_600), LinkCheck::Expired);
//! assert_eq!(check("activation", 1_700_000_100), LinkCheck::Invalid);
//!
//! let changed = axum_drf::auth::User { password: "$argon2id$other".into(), ..user.clone() };
//! assert_eq!(signer.check_at("password_reset", &changed, &token, 3600, 1_700_000_100), LinkCheck::Invalid);
//! ```

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::user::User;
use crate::store::{now_micros, Database, Statement, StoreError};

/// Django's `urlsafe_base64_encode(force_bytes(pk))`: base64url of the decimal id, unpadded.
pub fn encode_uid(id: i64) -> String {
    URL_SAFE_NO_PAD.encode(id.to_string())
}

/// Inverse of [`encode_uid`]; `None` for anything that is not exactly what [`encode_uid`]
/// writes. Unlike Django's `urlsafe_base64_decode`, padding and zero-padded ids are refused:
/// one link, one spelling.
///
/// ```
/// use axum_drf::auth::signing::decode_uid;
/// assert_eq!(decode_uid("MTI"), Some(12));
/// assert_eq!(decode_uid("MTI="), None); // padded
/// assert_eq!(decode_uid("MDEy"), None); // "012"
/// assert_eq!(decode_uid("eHg"), None); // "xx"
/// assert_eq!(decode_uid("!!"), None);
/// ```
pub fn decode_uid(uid: &str) -> Option<i64> {
    let bytes = URL_SAFE_NO_PAD.decode(uid).ok()?;
    let text = std::str::from_utf8(&bytes).ok()?;
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let id: i64 = text.parse().ok()?;
    (encode_uid(id) == uid).then_some(id)
}

/// The verdict on a presented token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkCheck {
    /// Signed by us, for this purpose and user state, and young enough.
    Valid,
    /// Correctly signed for this user state but older than `max_age`.
    Expired,
    /// Malformed, forged, for another purpose, or the user changed since it was issued.
    Invalid,
}

/// Makes and checks link tokens; cheap to clone.
#[derive(Clone)]
pub struct LinkSigner {
    key: Vec<u8>,
}

impl std::fmt::Debug for LinkSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkSigner(<redacted>)")
    }
}

/// Hex characters of the MAC kept in a token (128 bits).
const MAC_HEX_LEN: usize = 32;

impl LinkSigner {
    /// A signer keyed by the server secret.
    pub fn new(secret: &[u8]) -> Self {
        // A key of its own, so a link MAC can never be confused with an API token derivation.
        let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
        mac.update(b"axum-drf link key v1");
        LinkSigner {
            key: mac.finalize().into_bytes().to_vec(),
        }
    }

    /// A token for `user` and `purpose`, issued now.
    pub fn make(&self, purpose: &str, user: &User) -> String {
        self.make_at(purpose, user, now_secs())
    }

    /// A token issued at `issued` (Unix seconds).
    pub fn make_at(&self, purpose: &str, user: &User, issued: i64) -> String {
        let issued = issued.max(0);
        format!("{}-{}", to_base36(issued), self.mac(purpose, user, issued))
    }

    /// Checks `token` against `user`'s current state; `max_age` in seconds (0: every token
    /// is expired).
    pub fn check(&self, purpose: &str, user: &User, token: &str, max_age: i64) -> LinkCheck {
        self.check_at(purpose, user, token, max_age, now_secs())
    }

    /// [`LinkSigner::check`] at time `now` (Unix seconds).
    pub fn check_at(
        &self,
        purpose: &str,
        user: &User,
        token: &str,
        max_age: i64,
        now: i64,
    ) -> LinkCheck {
        let Some((ts, mac)) = token.split_once('-') else {
            return LinkCheck::Invalid;
        };
        let Some(issued) = from_base36(ts) else {
            return LinkCheck::Invalid;
        };
        let expected = self.mac(purpose, user, issued);
        if mac.len() != expected.len() || !bool::from(mac.as_bytes().ct_eq(expected.as_bytes())) {
            return LinkCheck::Invalid;
        }
        // Only a genuine token gets here, so `issued` is one we wrote.
        if now.saturating_sub(issued) >= max_age || issued > now.saturating_add(60) {
            return LinkCheck::Expired;
        }
        LinkCheck::Valid
    }

    fn mac(&self, purpose: &str, user: &User, issued: i64) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key length");
        // Length-prefixed fields: no two different states can serialise alike.
        for part in [
            purpose.as_bytes(),
            &user.id.to_be_bytes(),
            &issued.to_be_bytes(),
            user.password.as_bytes(),
            &user.last_login.unwrap_or(-1).to_be_bytes(),
            user.username.as_bytes(),
            user.email.as_bytes(),
        ] {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part);
        }
        let digest = mac.finalize().into_bytes();
        let mut text = super::token::lower_hex(&digest);
        text.truncate(MAC_HEX_LEN);
        text
    }
}

fn now_secs() -> i64 {
    now_micros() / 1_000_000
}

fn to_base36(mut n: i64) -> String {
    const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    if n <= 0 {
        return "0".into();
    }
    let mut out = Vec::new();
    while n > 0 {
        out.push(DIGITS[(n % 36) as usize]);
        n /= 36;
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// Only the canonical spelling [`to_base36`] writes: lower case, no leading zeros.
fn from_base36(s: &str) -> Option<i64> {
    if s.is_empty()
        || s.len() > 12
        || !s
            .bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase())
        || (s.len() > 1 && s.starts_with('0'))
    {
        return None;
    }
    i64::from_str_radix(s, 36).ok()
}

/// One issued link: whose, what for, when (Unix seconds), and the digest of its MAC. A
/// use is recorded by this, never by the text sent, so every spelling of a link names the
/// same use. The MAC digest tells apart two links of one purpose issued in the same second
/// for different states of the user (e.g. a reset, then a new reset link at once).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkUse {
    /// The user the link is for.
    pub user_id: i64,
    /// Its purpose (e.g. `"password_reset"`).
    pub purpose: String,
    /// Its issue time, Unix seconds.
    pub issued: i64,
    /// SHA-256 hex of the link's (canonical) MAC; the MAC itself is never stored.
    pub mac_digest: String,
}

impl LinkUse {
    /// The use of `token` (checked [`LinkCheck::Valid`] first, so its spelling is the one
    /// issued) for `user_id` and `purpose`; `None` if it is malformed.
    pub fn of(user_id: i64, purpose: &str, token: &str) -> Option<LinkUse> {
        let (ts, mac) = token.split_once('-')?;
        Some(LinkUse {
            user_id,
            purpose: purpose.to_owned(),
            issued: from_base36(ts)?,
            mac_digest: hex::encode(Sha256::digest(mac.as_bytes())),
        })
    }
}

/// The record of used links (table `auth_used_link`), so each works once. Rows name the
/// link by [`LinkUse`] (no secret is stored) and are swept once it would have expired.
#[derive(Clone, Debug)]
pub struct UsedLinks {
    db: Database,
}

impl UsedLinks {
    /// The record in `db`.
    pub fn new(db: Database) -> Self {
        UsedLinks { db }
    }

    /// Whether the link was used already.
    pub async fn is_used(&self, link: &LinkUse) -> Result<bool, StoreError> {
        Ok(self
            .db
            .query_opt(
                "SELECT 1 FROM auth_used_link \
                 WHERE user_id = $1 AND purpose = $2 AND issued = $3 AND mac_digest = $4",
                vec![
                    link.user_id.into(),
                    link.purpose.as_str().into(),
                    link.issued.into(),
                    link.mac_digest.as_str().into(),
                ],
            )
            .await?
            .is_some())
    }

    /// Statements that mark the link used (its record kept until `expire_at`, Unix
    /// seconds), to run in the same transaction as the change the link authorises: the
    /// primary key makes a second use — concurrent or not, in any spelling — fail that
    /// transaction with [`StoreError::UniqueViolation`], on SQLite and PostgreSQL alike.
    pub fn consume(&self, link: &LinkUse, expire_at: i64) -> Vec<Statement> {
        // Stored in microseconds, like every timestamp in the schema.
        let expire_at = expire_at.saturating_mul(1_000_000);
        vec![
            Statement::new(
                "DELETE FROM auth_used_link WHERE expire_at < $1",
                vec![now_micros().into()],
            ),
            Statement::new(
                "INSERT INTO auth_used_link (user_id, purpose, issued, mac_digest, expire_at) \
                 VALUES ($1, $2, $3, $4, $5)",
                vec![
                    link.user_id.into(),
                    link.purpose.as_str().into(),
                    link.issued.into(),
                    link.mac_digest.as_str().into(),
                    expire_at.into(),
                ],
            ),
        ]
    }
}

/// The issue time (Unix seconds) written in a token, for computing when its record in
/// [`UsedLinks`] can go; `None` if malformed.
pub fn issued_at(token: &str) -> Option<i64> {
    from_base36(token.split_once('-')?.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user() -> User {
        User {
            id: 42,
            username: "bob".into(),
            email: "bob@example.com".into(),
            first_name: String::new(),
            last_name: String::new(),
            is_active: true,
            is_staff: false,
            is_superuser: false,
            last_login: Some(1),
            date_joined: 0,
            password: "hash".into(),
            token_generation: 0,
        }
    }

    #[test]
    fn uid_round_trip_matches_django() {
        // Django: urlsafe_base64_encode(b"1") == "MQ", b"42" == "NDI".
        assert_eq!(encode_uid(1), "MQ");
        assert_eq!(encode_uid(42), "NDI");
        assert_eq!(decode_uid("NDI"), Some(42));
        assert_eq!(decode_uid(""), None);
        assert_eq!(decode_uid("LTE"), None); // "-1"
    }

    #[test]
    fn tokens_bind_state_purpose_and_time() {
        let s = LinkSigner::new(b"k");
        let u = user();
        let t = s.make_at("reset", &u, 1000);
        assert_eq!(s.check_at("reset", &u, &t, 10, 1005), LinkCheck::Valid);
        assert_eq!(s.check_at("reset", &u, &t, 10, 1010), LinkCheck::Expired);
        assert_eq!(s.check_at("reset", &u, &t, 0, 1000), LinkCheck::Expired);
        assert_eq!(issued_at(&t), Some(1000));
        for changed in [
            User {
                last_login: Some(2),
                ..u.clone()
            },
            User {
                email: "x@example.com".into(),
                ..u.clone()
            },
            User {
                username: "bobby".into(),
                ..u.clone()
            },
            User {
                id: 43,
                ..u.clone()
            },
        ] {
            assert_eq!(
                s.check_at("reset", &changed, &t, 10, 1005),
                LinkCheck::Invalid
            );
        }
        assert_eq!(
            LinkSigner::new(b"other").check_at("reset", &u, &t, 10, 1005),
            LinkCheck::Invalid
        );
        // Tampering with the time invalidates the MAC.
        let forged = format!("{}{}", to_base36(1004), &t[t.find('-').unwrap()..]);
        assert_eq!(
            s.check_at("reset", &u, &forged, 10, 1005),
            LinkCheck::Invalid
        );
        for bad in ["", "-", "abc", "zz-", "1-xyz", "!!-00"] {
            assert_eq!(s.check_at("reset", &u, bad, 10, 1005), LinkCheck::Invalid);
        }
        // Other spellings of the genuine token: upper case, zero-padded time, upper-case MAC.
        let (ts, mac) = t.split_once('-').unwrap();
        for alias in [
            format!("{}-{mac}", ts.to_ascii_uppercase()),
            format!("0{ts}-{mac}"),
            format!("00{ts}-{mac}"),
            format!("{ts}-{}", mac.to_ascii_uppercase()),
            format!("{ts}-{mac} "),
        ] {
            assert_ne!(alias, t);
            assert_eq!(
                s.check_at("reset", &u, &alias, 10, 1005),
                LinkCheck::Invalid,
                "{alias}"
            );
        }
    }

    #[tokio::test]
    async fn a_token_is_consumed_once() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::connect(&format!("sqlite://{}", dir.path().join("t.db").display()))
            .await
            .unwrap();
        db.migrate(crate::auth::schema::MIGRATIONS).await.unwrap();
        let users = crate::auth::Users::new(db.clone());
        let user = users
            .create(&crate::auth::NewUser {
                username: "u".into(),
                password_hash: "h".into(),
                is_active: true,
                ..Default::default()
            })
            .await
            .unwrap();
        let used = UsedLinks::new(db.clone());
        let link = |purpose: &str, issued: i64| {
            LinkUse::of(user.id, purpose, &format!("{}-abc", to_base36(issued))).unwrap()
        };
        assert!(!used.is_used(&link("reset", 1)).await.unwrap());
        let far = now_secs() + 3600;
        db.transaction(used.consume(&link("reset", 1), far))
            .await
            .unwrap();
        assert!(used.is_used(&link("reset", 1)).await.unwrap());
        assert!(!used.is_used(&link("activation", 1)).await.unwrap());
        let again = db.transaction(used.consume(&link("reset", 1), far)).await;
        assert!(matches!(again, Err(StoreError::UniqueViolation(_))));
        // Expired records are swept by the next consumption; deleting the user drops theirs.
        db.transaction(used.consume(&link("reset", 2), 0))
            .await
            .unwrap();
        db.transaction(used.consume(&link("reset", 3), far))
            .await
            .unwrap();
        assert!(!used.is_used(&link("reset", 2)).await.unwrap());
        users.delete(user.id).await.unwrap();
        assert!(!used.is_used(&link("reset", 3)).await.unwrap());
    }

    #[test]
    fn base36() {
        for n in [0, 1, 35, 36, 1_700_000_000] {
            assert_eq!(from_base36(&to_base36(n)), Some(n));
        }
        for alias in ["00", "01", "A", "0a", "1Z"] {
            assert_eq!(from_base36(alias), None, "{alias}");
        }
    }
}
