//! Password hashing and verification compatible with Django's stored hashes.
//!
//! New passwords are hashed with argon2id in the standard PHC string format.
//! Hashes written by Django's hashers (`pbkdf2_sha256`, `pbkdf2_sha1`, `argon2`,
//! `bcrypt_sha256`, `bcrypt`, `scrypt`) still verify, so users migrated from a
//! Django database can log in; they are reported as
//! [`Verification::ValidNeedsRehash`] so the caller can replace them with a
//! fresh [`hash_password`] result on successful login. The primitives come from
//! the RustCrypto crates (`pbkdf2`, `argon2`, `scrypt`) and `bcrypt`; only
//! Django's encodings around them are written here.
//!
//! Every function here is CPU-heavy and synchronous on purpose: callers on an
//! async runtime should run them on a blocking pool (`spawn_blocking`).

use std::sync::OnceLock;

use argon2::password_hash::{Decimal, PasswordHash};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine as _;
use rand::distributions::{Alphanumeric, DistString};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// OWASP's recommended argon2id configuration (m=19 MiB, t=2, p=1).
const M_COST_KIB: u32 = 19_456;
const T_COST: u32 = 2;
const P_COST: u32 = 1;
const OUTPUT_LEN: usize = 32;

/// Stored hashes come from the database, which we trust only so far: a row
/// with absurd cost parameters must not be able to exhaust memory (an
/// allocation failure aborts the process) or pin a CPU for minutes. The
/// limits are far above anything Django or this module has ever produced
/// (Django 5.2: argon2 m=102400 KiB, t=2, p=8; pbkdf2 1,000,000 iterations).
const MAX_M_COST_KIB: u32 = 1024 * 1024;
const MAX_T_COST: u32 = 64;
const MAX_P_COST: u32 = 64;
const MAX_PBKDF2_ITERATIONS: u32 = 100_000_000;

/// Django's `UNUSABLE_PASSWORD_PREFIX`.
const UNUSABLE_PREFIX: &str = "!";
/// Django's `UNUSABLE_PASSWORD_SUFFIX_LENGTH`.
const UNUSABLE_SUFFIX_LEN: usize = 40;

/// bcrypt's cost is a power of two: 16 (about 5 s of CPU) is far beyond Django's 12.
const MAX_BCRYPT_COST: u32 = 16;
/// scrypt needs `128 * n * r` bytes: 1 GiB at most (Django 5.2: n=2^14, r=8: 16 MiB).
const MAX_SCRYPT_MEMORY: u64 = 1 << 30;
/// And `n * r * p` block mixes of CPU: 2^28 at most (Django 5.2: 2^14 * 8 * 5).
const MAX_SCRYPT_WORK: u64 = 1 << 28;

const PBKDF2_SHA256_PREFIX: &str = "pbkdf2_sha256";
const PBKDF2_SHA1_PREFIX: &str = "pbkdf2_sha1";
const DJANGO_ARGON2_PREFIX: &str = "argon2";
const BCRYPT_SHA256_PREFIX: &str = "bcrypt_sha256$";
const BCRYPT_PREFIX: &str = "bcrypt$";
const SCRYPT_PREFIX: &str = "scrypt$";

/// The Django hashers (by their `algorithm` names) whose encodings [`verify_password`]
/// understands, besides lendbook's own PHC argon2 strings and unusable passwords.
pub const SUPPORTED_DJANGO_HASHERS: &[&str] = &[
    PBKDF2_SHA256_PREFIX,
    PBKDF2_SHA1_PREFIX,
    DJANGO_ARGON2_PREFIX,
    "bcrypt_sha256",
    "bcrypt",
    "scrypt",
];

/// Outcome of [`verify_password`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verification {
    /// The password is correct and the stored hash uses the current scheme.
    Valid,
    /// The password is correct, but the stored hash is a Django pbkdf2 hash, a
    /// Django-format argon2 hash, or an argon2 hash with parameters other than
    /// the current ones; store `hash_password(password)` in its place.
    ValidNeedsRehash,
    /// The password is wrong, the account has an unusable password, or the
    /// stored hash is in an unknown or malformed format.
    Invalid,
}

fn current_params() -> Params {
    Params::new(M_COST_KIB, T_COST, P_COST, Some(OUTPUT_LEN))
        .expect("the OWASP argon2 parameters are within argon2's limits")
}

/// Hashes `password` with argon2id (m=19456 KiB, t=2, p=1) and a random
/// 16-byte salt, returning a PHC string such as
/// `$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`.
///
/// Takes tens of milliseconds of CPU time by design; call it from a blocking
/// thread, not directly on an async executor.
///
/// ```
/// use axum_drf::auth::password::{hash_password, verify_password, Verification};
///
/// let encoded = hash_password("correct horse");
/// assert!(encoded.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
/// assert_eq!(verify_password("correct horse", &encoded), Verification::Valid);
/// ```
pub fn hash_password(password: &str) -> String {
    let salt: [u8; 16] = rand::random();
    let mut out = [0u8; OUTPUT_LEN];
    argon2_into(
        Algorithm::Argon2id,
        Version::V0x13,
        current_params(),
        password.as_bytes(),
        &salt,
        &mut out,
    )
    .expect("argon2id hashing cannot fail with fixed valid parameters and a 16-byte salt");
    let b64 = base64::engine::general_purpose::STANDARD_NO_PAD;
    format!(
        "$argon2id$v=19$m={M_COST_KIB},t={T_COST},p={P_COST}${}${}",
        b64.encode(salt),
        b64.encode(out)
    )
}

thread_local! {
    // argon2's working memory (19 MiB at our parameters), kept per thread and reused: a
    // fresh allocation per hash is not returned to the OS by glibc, and RSS climbed by
    // 19 MiB per login until it plateaued past 120 MiB.
    static MEMORY: std::cell::RefCell<Vec<argon2::Block>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Raw argon2 into `out`, working in the thread's reusable memory.
fn argon2_into(
    algorithm: Algorithm,
    version: Version,
    params: Params,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> Result<(), argon2::Error> {
    let blocks = params.block_count();
    MEMORY.with(|memory| {
        let mut memory = memory.borrow_mut();
        if memory.len() < blocks {
            memory.resize(blocks, argon2::Block::default());
        }
        let result = Argon2::new(algorithm, version, params).hash_password_into_with_memory(
            password,
            salt,
            out,
            &mut memory[..blocks],
        );
        // An imported hash with a huge memory cost must not pin that memory for good.
        if memory.len() > 2 * current_params().block_count() {
            *memory = Vec::new();
        }
        result
    })
}

/// Checks `password` against a stored encoding.
///
/// Understands PHC argon2 strings (`$argon2id$...`, also `argon2i`/`argon2d`),
/// Django's `Argon2PasswordHasher` format (`argon2$argon2id$...`), Django's
/// `pbkdf2_sha256$<iterations>$<salt>$<hash>` and `pbkdf2_sha1$...`,
/// `bcrypt_sha256$$2b$<cost>$...`, `bcrypt$$2b$...` and
/// `scrypt$<n>$<salt>$<r>$<p>$<hash>`. Unusable passwords (Django's
/// `!` prefix), unknown algorithms and malformed encodings are
/// [`Verification::Invalid`]; this function never panics on its input.
///
/// Like [`hash_password`] it is deliberately slow; run it on a blocking thread.
///
/// ```
/// use axum_drf::auth::password::{verify_password, Verification};
///
/// // Django 5.2: PBKDF2PasswordHasher().encode("lètmein", "seasalt", iterations=1000)
/// let django = "pbkdf2_sha256$1000$seasalt$JgZryXe2Ga8ysg6XbzkLpTdyPQrHqsinbL9BnnhgX4A=";
/// assert_eq!(verify_password("lètmein", django), Verification::ValidNeedsRehash);
/// assert_eq!(verify_password("letmein", django), Verification::Invalid);
/// assert_eq!(verify_password("!unusable", "!unusable"), Verification::Invalid);
/// ```
pub fn verify_password(password: &str, encoded: &str) -> Verification {
    if encoded.starts_with(UNUSABLE_PREFIX) {
        return Verification::Invalid;
    }
    if encoded.starts_with("$argon2") {
        return verify_argon2(password, encoded, false);
    }
    if let Some(phc) = encoded.strip_prefix(DJANGO_ARGON2_PREFIX) {
        if phc.starts_with("$argon2") {
            return verify_argon2(password, phc, true);
        }
        return Verification::Invalid;
    }
    if encoded.starts_with(PBKDF2_SHA256_PREFIX) {
        return verify_pbkdf2(password, encoded, PBKDF2_SHA256_PREFIX, pbkdf2_sha256);
    }
    if encoded.starts_with(PBKDF2_SHA1_PREFIX) {
        return verify_pbkdf2(password, encoded, PBKDF2_SHA1_PREFIX, pbkdf2_sha1);
    }
    if let Some(data) = encoded.strip_prefix(BCRYPT_SHA256_PREFIX) {
        // Django's BCryptSHA256PasswordHasher: bcrypt over the hex SHA-256 of the
        // password, which lifts bcrypt's 72-byte limit.
        let digest = hex::encode(<Sha256 as sha2::Digest>::digest(password.as_bytes()));
        return verify_bcrypt(digest.as_bytes(), data);
    }
    if let Some(data) = encoded.strip_prefix(BCRYPT_PREFIX) {
        return verify_bcrypt(password.as_bytes(), data);
    }
    if encoded.starts_with(SCRYPT_PREFIX) {
        return verify_scrypt(password, encoded);
    }
    Verification::Invalid
}

/// The name of the Django hasher that wrote `encoded` when [`verify_password`] cannot
/// verify it (e.g. `md5`, `unsalted_md5`, `sha1`, `crypt`, or an unknown algorithm);
/// `None` for every supported format and for unusable passwords. An import reports
/// these by name: such users can only log in after a password reset.
///
/// ```
/// use axum_drf::auth::password::unsupported_hasher;
/// assert_eq!(unsupported_hasher("md5$salt$0123"), Some("md5"));
/// assert_eq!(unsupported_hasher("5f4dcc3b5aa765d61d8327deb882cf99"), Some("unsalted_md5"));
/// assert_eq!(unsupported_hasher("pbkdf2_sha1$1000$salt$abc="), None);
/// assert_eq!(unsupported_hasher("!unusable"), None);
/// ```
pub fn unsupported_hasher(encoded: &str) -> Option<&str> {
    if encoded.starts_with(UNUSABLE_PREFIX) || encoded.starts_with("$argon2") {
        return None;
    }
    // Django's own identification of the prefix-less legacy formats.
    if encoded.len() == 32 && !encoded.contains('$') {
        return Some("unsalted_md5");
    }
    if encoded.len() == 37 && encoded.starts_with("md5$$") {
        return Some("unsalted_md5");
    }
    if encoded.len() == 46 && encoded.starts_with("sha1$$") {
        return Some("unsalted_sha1");
    }
    let algorithm = encoded.split('$').next().unwrap_or("");
    if SUPPORTED_DJANGO_HASHERS.contains(&algorithm) {
        None
    } else if algorithm.is_empty() {
        Some("(empty)")
    } else {
        Some(algorithm)
    }
}

fn verify_argon2(password: &str, phc: &str, django_format: bool) -> Verification {
    let Ok(hash) = PasswordHash::new(phc) else {
        return Verification::Invalid;
    };
    let (Some(salt), Some(expected)) = (hash.salt, hash.hash) else {
        return Verification::Invalid;
    };
    let Ok(algorithm) = Algorithm::try_from(hash.algorithm) else {
        return Verification::Invalid;
    };
    // The reference implementation (and so argon2-cffi, which Django uses)
    // reads a missing `v=` as version 0x10, whereas the argon2 crate would
    // assume 0x13; old Django hashes without `v=` depend on this.
    let version: Decimal = hash.version.unwrap_or(0x10);
    if Version::try_from(version).is_err() {
        return Verification::Invalid;
    }
    let Ok(params) = Params::try_from(&hash) else {
        return Verification::Invalid;
    };
    if params.m_cost() > MAX_M_COST_KIB
        || params.t_cost() > MAX_T_COST
        || params.p_cost() > MAX_P_COST
    {
        return Verification::Invalid;
    }
    let current = algorithm == Algorithm::Argon2id
        && version == Decimal::from(Version::V0x13)
        && params == current_params();

    let mut salt_buf = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_buf) else {
        return Verification::Invalid;
    };
    let Ok(version) = Version::try_from(version) else {
        return Verification::Invalid;
    };
    let expected = expected.as_bytes();
    let Ok(params) = Params::new(
        params.m_cost(),
        params.t_cost(),
        params.p_cost(),
        Some(expected.len()),
    ) else {
        return Verification::Invalid;
    };
    let mut computed = vec![0u8; expected.len()];
    if argon2_into(
        algorithm,
        version,
        params,
        password.as_bytes(),
        salt,
        &mut computed,
    )
    .is_err()
    {
        return Verification::Invalid;
    }
    if !bool::from(computed.ct_eq(expected)) {
        Verification::Invalid
    } else if current && !django_format {
        Verification::Valid
    } else {
        Verification::ValidNeedsRehash
    }
}

/// PBKDF2-HMAC with Django's dklen: the digest size (32 bytes for SHA-256, 20 for SHA-1).
type Pbkdf2 = fn(&[u8], &[u8], u32) -> Vec<u8>;

fn pbkdf2_sha256(password: &[u8], salt: &[u8], iterations: u32) -> Vec<u8> {
    pbkdf2::pbkdf2_hmac_array::<Sha256, 32>(password, salt, iterations).to_vec()
}

fn pbkdf2_sha1(password: &[u8], salt: &[u8], iterations: u32) -> Vec<u8> {
    pbkdf2::pbkdf2_hmac_array::<sha1::Sha1, 20>(password, salt, iterations).to_vec()
}

/// Mirrors Django's `PBKDF2PasswordHasher.verify` (and its SHA-1 subclass): decode,
/// re-encode with the decoded salt and iterations, then compare the whole encodings.
/// Comparing re-encoded strings (rather than decoded bytes) means non-canonical inputs
/// such as `+1000` iterations or unpadded base64 fail exactly as in Django.
fn verify_pbkdf2(password: &str, encoded: &str, prefix: &str, derive: Pbkdf2) -> Verification {
    let mut parts = encoded.splitn(4, '$');
    let (Some(algorithm), Some(iterations), Some(salt), Some(_hash)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Verification::Invalid;
    };
    if algorithm != prefix {
        return Verification::Invalid;
    }
    let Ok(iterations) = iterations.parse::<u32>() else {
        return Verification::Invalid;
    };
    // Django answers False for zero iterations (hashlib refuses them); the
    // upper bound is ours, see MAX_PBKDF2_ITERATIONS.
    if iterations == 0 || iterations > MAX_PBKDF2_ITERATIONS {
        return Verification::Invalid;
    }
    let derived = derive(password.as_bytes(), salt.as_bytes(), iterations);
    let recomputed = format!(
        "{prefix}${iterations}${salt}${}",
        base64::engine::general_purpose::STANDARD.encode(derived)
    );
    if bool::from(recomputed.as_bytes().ct_eq(encoded.as_bytes())) {
        Verification::ValidNeedsRehash
    } else {
        Verification::Invalid
    }
}

/// `data` is bcrypt's own `$2b$<cost>$<salt><hash>` string (Django stores it after
/// `bcrypt_sha256$` or `bcrypt$`); the cost is bounded before any hashing.
fn verify_bcrypt(password: &[u8], data: &str) -> Verification {
    let mut parts = data.split('$');
    let (Some(""), Some(version), Some(cost), Some(rest), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Verification::Invalid;
    };
    let Ok(cost) = cost.parse::<u32>() else {
        return Verification::Invalid;
    };
    if !matches!(version, "2a" | "2b" | "2y") || cost > MAX_BCRYPT_COST || rest.len() != 53 {
        return Verification::Invalid;
    }
    // Django hands bcrypt the password as is (bcrypt reads at most 72 bytes of it).
    match bcrypt::verify(password, data) {
        Ok(true) => Verification::ValidNeedsRehash,
        _ => Verification::Invalid,
    }
}

/// Mirrors Django's `ScryptPasswordHasher.verify`: `scrypt$<n>$<salt>$<r>$<p>$<hash>`,
/// re-encoded with the decoded parameters (64-byte key) and compared as a whole.
fn verify_scrypt(password: &str, encoded: &str) -> Verification {
    let parts: Vec<&str> = encoded.splitn(6, '$').collect();
    let [_, n, salt, r, p, _hash] = parts[..] else {
        return Verification::Invalid;
    };
    let (Ok(n), Ok(r), Ok(p)) = (n.parse::<u64>(), r.parse::<u32>(), p.parse::<u32>()) else {
        return Verification::Invalid;
    };
    if n < 2 || !n.is_power_of_two() || r == 0 || p == 0 {
        return Verification::Invalid;
    }
    let memory = 128u64.saturating_mul(n).saturating_mul(u64::from(r));
    let work = n.saturating_mul(u64::from(r)).saturating_mul(u64::from(p));
    if memory > MAX_SCRYPT_MEMORY || work > MAX_SCRYPT_WORK {
        return Verification::Invalid;
    }
    let Ok(params) = scrypt::Params::new(n.trailing_zeros() as u8, r, p, 64) else {
        return Verification::Invalid;
    };
    let mut derived = [0u8; 64];
    if scrypt::scrypt(password.as_bytes(), salt.as_bytes(), &params, &mut derived).is_err() {
        return Verification::Invalid;
    }
    let recomputed = format!(
        "scrypt${n}${salt}${r}${p}${}",
        base64::engine::general_purpose::STANDARD.encode(derived)
    );
    if bool::from(recomputed.as_bytes().ct_eq(encoded.as_bytes())) {
        Verification::ValidNeedsRehash
    } else {
        Verification::Invalid
    }
}

/// Burns the same CPU time as [`verify_password`] with a wrong password
/// against a current argon2id hash, and discards the result.
///
/// Call it when the username does not exist, so that the response time of a
/// failed login does not reveal whether an account exists. The dummy hash is
/// computed on first use; call this once at startup to keep that one-off
/// cost out of the first login request.
///
/// ```
/// use axum_drf::auth::password::dummy_verify;
///
/// dummy_verify("whatever the client sent");
/// ```
pub fn dummy_verify(password: &str) {
    static DUMMY_HASH: OnceLock<String> = OnceLock::new();
    let encoded = DUMMY_HASH.get_or_init(|| hash_password("lendbook dummy password"));
    std::hint::black_box(verify_password(password, encoded));
}

/// Returns a Django-style unusable password: `!` followed by 40 random ASCII
/// letters and digits. It never verifies against any password.
///
/// ```
/// use axum_drf::auth::password::{make_unusable_password, verify_password, Verification};
///
/// let marker = make_unusable_password();
/// assert!(marker.starts_with('!'));
/// assert_eq!(marker.len(), 41);
/// assert_eq!(verify_password(&marker, &marker), Verification::Invalid);
/// ```
pub fn make_unusable_password() -> String {
    let mut marker = String::with_capacity(UNUSABLE_PREFIX.len() + UNUSABLE_SUFFIX_LEN);
    marker.push_str(UNUSABLE_PREFIX);
    Alphanumeric.append_string(&mut rand::thread_rng(), &mut marker, UNUSABLE_SUFFIX_LEN);
    marker
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::{PasswordHasher, SaltString};

    /// `make_password("secret-pw-1", hasher="pbkdf2_sha256")` from Django 5.2.19
    /// (1,000,000 iterations; about 8 s to verify in an unoptimised build).
    const DJANGO_PBKDF2_DEFAULT: &str = "pbkdf2_sha256$1000000$e2HPN8ux4T2v8XtrsuHy8f$\
                                         vBsHwJt97v5mMxsuoVfM/oWnTRdLI2OAgI78G3FLKZ4=";
    /// Django 5.2.19 `PBKDF2PasswordHasher().encode("lètmein", "seasalt", iterations=1000)`,
    /// cheap enough for the many negative cases.
    const DJANGO_PBKDF2_1000: &str =
        "pbkdf2_sha256$1000$seasalt$JgZryXe2Ga8ysg6XbzkLpTdyPQrHqsinbL9BnnhgX4A=";
    /// Django 5.2.19 `PBKDF2PasswordHasher().encode("", "abc", iterations=1)`.
    const DJANGO_PBKDF2_EMPTY: &str =
        "pbkdf2_sha256$1$abc$+4ekwDhI5b0Upfxo08lwOCL+829XYFT4pi8TlwakJ/Y=";

    // Argon2PasswordHasher hashes of "secret" from Django's own test suite
    // (tests/auth_tests/test_hashers.py), made with argon2-cffi.
    /// Django's current defaults: argon2id, m=102400, t=2, p=8, 16-byte hash.
    const DJANGO_ARGON2ID: &str =
        "argon2$argon2id$v=19$m=102400,t=2,p=8$Y041dExhNkljRUUy$TMa6A8fPJhCAUXRhJXCXdw";
    /// Old argon2i hash with an explicit version.
    const DJANGO_ARGON2I_V19: &str =
        "argon2$argon2i$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$YC9+jJCrQhs5R6db7LlN8Q";
    /// Old argon2i hash without `v=`, which means version 0x10.
    const DJANGO_ARGON2I_NO_VERSION: &str = "argon2$argon2i$m=8,t=1,p=1$c29tZXNhbHQ$\
        gwQOXSNhxiOxPOA0+PY10P9QFO4NAYysnqRt1GSQLE55m+2GYDt9FEjPMHhP2Cuf0nOEXXMocVrsJAtNSsKyfg";

    fn argon2_phc(password: &str, algorithm: Algorithm, m: u32, t: u32, p: u32) -> String {
        let params = Params::new(m, t, p, Some(OUTPUT_LEN)).unwrap();
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        Argon2::new(algorithm, Version::V0x13, params)
            .hash_password(password.as_bytes(), &salt)
            .unwrap()
            .to_string()
    }

    // Made by Django 5.2.19's own hashers (bcrypt 5, argon2-cffi) for PASSWORD; see
    // crates/lendbook/tests/fixtures/django/gen_hashes.py, which wrote them.
    const PASSWORD: &str = "Pässwörd-7 ☃";
    const DJANGO_FORMATS: &[(&str, &str)] = &[
        ("pbkdf2_sha256", "pbkdf2_sha256$1000$seasalt1$O/3zXw1H60FL5AvoecF1nWDKslQJueLjqlogR4DLltA="),
        ("pbkdf2_sha1", "pbkdf2_sha1$1000$seasalt2$K4Y3QAAEMUr/ds95jpsKtditraY="),
        ("argon2 default", "argon2$argon2id$v=19$m=102400,t=2,p=8$TU9mbmI2aXZMZElCbG5ob2hXOUFKcg$pEveAo2jrFjT72gAN8aWahaPYMgByf5eb7XA3v7eHIY"),
        ("bcrypt_sha256 rounds 4", "bcrypt_sha256$$2b$04$aJxDQFeatGzTOCBDJor57eDTJFHTjCCdppxnVnDNyrF8FlIJeJooG"),
        ("bcrypt rounds 4", "bcrypt$$2b$04$YtEoZT3gM7vM/OOtBWLu2uJ8eQaPVkqHcUPWB/b5.cL7HyJdY.Ef6"),
        ("scrypt default", "scrypt$16384$ubkmGvTQO6T9ozvpbndELF$8$5$Of5t8nft5Z4PW5YlaPBXtl4gQMBS7BYUSCEx1b+yPmid5v0/Qp4J/yx/za6CkHqSec88hjunxMTWcmV3lAsT6w=="),
        ("scrypt n=1024", "scrypt$1024$seasalt3$8$2$JIuYbbi8Q5cR+QFWsKbI7iwSlHynVIM7tADf5fj4iRvpke/TFKkVQeTliadpal3fSu5oslOvJJ1fMG4IzbLOKw=="),
    ];

    #[test]
    fn every_supported_django_hasher_verifies_and_asks_for_a_rehash() {
        for (name, encoded) in DJANGO_FORMATS {
            assert_eq!(unsupported_hasher(encoded), None, "{name}");
            assert_eq!(
                verify_password(PASSWORD, encoded),
                Verification::ValidNeedsRehash,
                "{name}"
            );
            assert_eq!(
                verify_password("Pässwörd-7 ☃ ", encoded),
                Verification::Invalid,
                "{name}"
            );
            assert_eq!(
                verify_password("", encoded),
                Verification::Invalid,
                "{name}"
            );
        }
    }

    #[test]
    fn unsupported_and_unusable_hashes() {
        let md5 = "md5$uRwTzGdTKCdZXKy4v4BqIJ$73fd95c93cb944f2bfac82de3a274cab";
        assert_eq!(unsupported_hasher(md5), Some("md5"));
        assert_eq!(verify_password(PASSWORD, md5), Verification::Invalid);
        let unusable = "!12Or2IEnaWxkLfy0QcSlA7Kq61ku3ZLbIql3d1Yh";
        assert_eq!(unsupported_hasher(unusable), None);
        assert_eq!(verify_password(PASSWORD, unusable), Verification::Invalid);
        assert_eq!(
            unsupported_hasher("sha1$$0123456789012345678901234567890123456789"),
            Some("unsalted_sha1")
        );
        assert_eq!(unsupported_hasher("crypt$$ab1234567890"), Some("crypt"));
        assert_eq!(unsupported_hasher(""), Some("(empty)"));
    }

    #[test]
    fn absurd_bcrypt_and_scrypt_costs_are_refused_at_once() {
        let started = std::time::Instant::now();
        for encoded in [
            "bcrypt_sha256$$2b$31$aJxDQFeatGzTOCBDJor57eDTJFHTjCCdppxnVnDNyrF8FlIJeJooG",
            "bcrypt$$2b$17$YtEoZT3gM7vM/OOtBWLu2uJ8eQaPVkqHcUPWB/b5.cL7HyJdY.Ef6",
            "bcrypt$$2b$04$short",
            "bcrypt$2b$04$YtEoZT3gM7vM/OOtBWLu2uJ8eQaPVkqHcUPWB/b5.cL7HyJdY.Ef6",
            "scrypt$4294967296$salt$8$1$abc=",
            "scrypt$16384$salt$8$4096$abc=",
            "scrypt$1000$salt$8$1$abc=",
            "scrypt$16384$salt$0$1$abc=",
            "scrypt$16384$salt$8$1",
        ] {
            assert_eq!(
                verify_password(PASSWORD, encoded),
                Verification::Invalid,
                "{encoded}"
            );
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
    }

    #[test]
    fn round_trip() {
        let encoded = hash_password("pässwörd ☃");
        assert!(encoded.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        let parsed = PasswordHash::new(&encoded).unwrap();
        assert_eq!(
            parsed.salt.unwrap().decode_b64(&mut [0; 64]).unwrap().len(),
            16
        );
        assert_eq!(parsed.hash.unwrap().len(), 32);
        assert_eq!(verify_password("pässwörd ☃", &encoded), Verification::Valid);
        assert_eq!(
            verify_password("passwörd ☃", &encoded),
            Verification::Invalid
        );
        assert_eq!(verify_password("", &encoded), Verification::Invalid);
    }

    #[test]
    fn salts_are_random() {
        assert_ne!(hash_password("same"), hash_password("same"));
    }

    #[test]
    fn empty_password_round_trip() {
        let encoded = hash_password("");
        assert_eq!(verify_password("", &encoded), Verification::Valid);
        assert_eq!(verify_password(" ", &encoded), Verification::Invalid);
    }

    #[test]
    fn django_pbkdf2_default_iterations() {
        assert_eq!(
            verify_password("secret-pw-1", DJANGO_PBKDF2_DEFAULT),
            Verification::ValidNeedsRehash
        );
    }

    #[test]
    fn django_pbkdf2() {
        use Verification::*;
        assert_eq!(
            verify_password("lètmein", DJANGO_PBKDF2_1000),
            ValidNeedsRehash
        );
        assert_eq!(verify_password("letmein", DJANGO_PBKDF2_1000), Invalid);
        assert_eq!(verify_password("lètmein ", DJANGO_PBKDF2_1000), Invalid);
        assert_eq!(verify_password("", DJANGO_PBKDF2_EMPTY), ValidNeedsRehash);
        assert_eq!(verify_password(" ", DJANGO_PBKDF2_EMPTY), Invalid);
    }

    /// Django compares re-encoded strings, so these all fail there too
    /// (checked with Django 5.2.19's `check_password`).
    #[test]
    fn django_pbkdf2_non_canonical_encodings_are_invalid() {
        let hash = "JgZryXe2Ga8ysg6XbzkLpTdyPQrHqsinbL9BnnhgX4A=";
        for encoded in [
            format!("pbkdf2_sha256$01000$seasalt${hash}"),
            format!("pbkdf2_sha256$+1000$seasalt${hash}"),
            format!("pbkdf2_sha256$ 1000$seasalt${hash}"),
            format!("pbkdf2_sha256$1000$seasalt${}", hash.trim_end_matches('=')),
            format!("pbkdf2_sha256$1000$seasalt${hash}$x"),
            format!("PBKDF2_SHA256$1000$seasalt${hash}"),
        ] {
            assert_eq!(
                verify_password("lètmein", &encoded),
                Verification::Invalid,
                "{encoded}"
            );
        }
    }

    #[test]
    fn django_argon2id_default_params() {
        assert_eq!(
            verify_password("secret", DJANGO_ARGON2ID),
            Verification::ValidNeedsRehash
        );
    }

    #[test]
    fn django_argon2i_old_hashes() {
        use Verification::*;
        assert_eq!(
            verify_password("secret", DJANGO_ARGON2I_V19),
            ValidNeedsRehash
        );
        assert_eq!(verify_password("wrong", DJANGO_ARGON2I_V19), Invalid);
        assert_eq!(
            verify_password("secret", DJANGO_ARGON2I_NO_VERSION),
            ValidNeedsRehash
        );
        assert_eq!(verify_password("wrong", DJANGO_ARGON2I_NO_VERSION), Invalid);
        // Without the prefix these are plain PHC strings with old parameters.
        let phc = DJANGO_ARGON2I_V19.strip_prefix("argon2").unwrap();
        assert_eq!(verify_password("secret", phc), ValidNeedsRehash);
    }

    #[test]
    fn rehash_flags() {
        use Verification::*;
        let current = hash_password("pw");
        assert_eq!(verify_password("pw", &current), Valid);
        assert_eq!(
            verify_password("pw", &format!("argon2{current}")),
            ValidNeedsRehash
        );
        assert_eq!(
            verify_password("nope", &format!("argon2{current}")),
            Invalid
        );

        let weaker = argon2_phc("pw", Algorithm::Argon2id, 64, 1, 1);
        assert_eq!(verify_password("pw", &weaker), ValidNeedsRehash);
        assert_eq!(verify_password("nope", &weaker), Invalid);
        let argon2i = argon2_phc("pw", Algorithm::Argon2i, 64, 1, 1);
        assert_eq!(verify_password("pw", &argon2i), ValidNeedsRehash);
        let argon2d = argon2_phc("pw", Algorithm::Argon2d, 64, 1, 1);
        assert_eq!(verify_password("pw", &argon2d), ValidNeedsRehash);
    }

    #[test]
    fn malformed_and_unknown_encodings_are_invalid() {
        for encoded in [
            "",
            "!",
            "!abc",
            "pbkdf2_sha256",
            "pbkdf2_sha256$x$y",
            "pbkdf2_sha256$1000$seasalt",
            "pbkdf2_sha256$0$salt$hash",
            "pbkdf2_sha256$-1$salt$hash",
            "pbkdf2_sha256$99999999999$salt$hash",
            "pbkdf2_sha256$4294967295$salt$hash",
            "pbkdf2_sha1$1000$seasalt$abc=",
            "md5$$abc",
            "5f4dcc3b5aa765d61d8327deb882cf99",
            "$argon2id$garbage",
            "$argon2id$",
            "$argon2",
            "$argon2x$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$YC9+jJCrQhs5R6db7LlN8Q",
            "$argon2i$v=18$m=8,t=1,p=1$c2FsdHNhbHQ$YC9+jJCrQhs5R6db7LlN8Q",
            "$argon2i$v=19$m=8,t=1,p=1$c2FsdHNhbHQ",
            "$argon2i$v=19$m=8,t=1,p=1,x=3$c2FsdHNhbHQ$YC9+jJCrQhs5R6db7LlN8Q",
            "$argon2i$v=19$m=1,t=1,p=1$c2FsdHNhbHQ$YC9+jJCrQhs5R6db7LlN8Q",
            "$argon2i$v=19$m=8,t=0,p=1$c2FsdHNhbHQ$YC9+jJCrQhs5R6db7LlN8Q",
            "$argon2i$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$YC9+",
            "$argon2i$v=19$m=8,t=1,p=1$!!!$YC9+jJCrQhs5R6db7LlN8Q",
            // Cost parameters beyond the limits are rejected before hashing,
            // so these return at once instead of allocating 4 TiB or spinning.
            "$argon2id$v=19$m=4294967295,t=1,p=1$c2FsdHNhbHQ$YC9+jJCrQhs5R6db7LlN8Q",
            "$argon2id$v=19$m=8,t=4294967295,p=1$c2FsdHNhbHQ$YC9+jJCrQhs5R6db7LlN8Q",
            "$argon2id$v=19$m=800,t=1,p=100$c2FsdHNhbHQ$YC9+jJCrQhs5R6db7LlN8Q",
            "argon2",
            "argon2$",
            "argon2$argon2id$garbage",
            "argon2argon2i$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$YC9+jJCrQhs5R6db7LlN8Q",
            "argon2x$argon2i$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$YC9+jJCrQhs5R6db7LlN8Q",
            "argon2$$argon2i$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$YC9+jJCrQhs5R6db7LlN8Q",
            "!argon2$argon2i$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$YC9+jJCrQhs5R6db7LlN8Q",
            "!pbkdf2_sha256$1000$seasalt$JgZryXe2Ga8ysg6XbzkLpTdyPQrHqsinbL9BnnhgX4A=",
            "☃$argon2id$💥",
        ] {
            assert_eq!(
                verify_password("secret", encoded),
                Verification::Invalid,
                "{encoded:?}"
            );
            assert_eq!(
                verify_password("lètmein", encoded),
                Verification::Invalid,
                "{encoded:?}"
            );
        }
    }

    /// Every truncation and a range of single-character corruptions of the
    /// cheap vectors must come back as a `Verification`, never a panic.
    #[test]
    fn never_panics_on_corrupted_hashes() {
        for vector in [
            DJANGO_PBKDF2_EMPTY,
            DJANGO_ARGON2I_V19,
            DJANGO_ARGON2I_NO_VERSION,
        ] {
            for (i, _) in vector.char_indices() {
                let _ = verify_password("secret", &vector[..i]);
                for replacement in ["$", "0", "9", "=", ",", "", "é", "$$", "A"] {
                    let mut corrupted = vector.to_string();
                    let end = i + vector[i..].chars().next().map_or(0, char::len_utf8);
                    corrupted.replace_range(i..end, replacement);
                    let _ = verify_password("secret", &corrupted);
                }
            }
        }
    }

    #[test]
    fn unusable_password() {
        let marker = make_unusable_password();
        assert_eq!(marker.len(), 41);
        assert!(marker.starts_with('!'));
        assert!(marker[1..].chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(marker, make_unusable_password());
        assert_eq!(verify_password(&marker, &marker), Verification::Invalid);
        assert_eq!(
            verify_password(&marker[1..], &marker),
            Verification::Invalid
        );
    }

    #[test]
    fn dummy_verify_runs_repeatedly() {
        dummy_verify("nobody");
        dummy_verify("");
    }
}
