//! Django's four default password validators, with Django's exact messages.
//!
//! [`validate_password`] runs, in Django's default order,
//! `UserAttributeSimilarityValidator`, `MinimumLengthValidator` (8),
//! `CommonPasswordValidator` and `NumericPasswordValidator`, and like Django's
//! `validate_password` it collects the messages of *every* failing validator
//! rather than stopping at the first.
//!
//! The behaviour is a port of Django 5.2 (`django.contrib.auth.password_validation`)
//! running on CPython 3.11. Python's string semantics are reproduced where
//! they matter: lengths count code points, `\W`, `str.isdigit` and
//! `str.strip` use Python's Unicode definitions, and the similarity ratio is
//! `difflib.SequenceMatcher.quick_ratio`.

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use regex::Regex;

/// Django's `MinimumLengthValidator` default.
const MIN_LENGTH: usize = 8;
/// Django's `UserAttributeSimilarityValidator` default.
const MAX_SIMILARITY: f64 = 0.7;

/// Django's bundled list (20,000 lowercased common passwords), decompressed.
const COMMON_PASSWORDS: &str = include_str!("../../data/common-passwords.txt");

/// The attributes of the (possibly not yet saved) user that the similarity
/// check compares against.
///
/// Empty attributes are skipped, as Django skips falsy ones, so
/// `UserAttributes::default()` is the equivalent of calling Django's
/// `validate_password` with `user=None`.
#[derive(Debug, Default, Clone, Copy)]
pub struct UserAttributes<'a> {
    /// `User.username`.
    pub username: &'a str,
    /// `User.first_name`.
    pub first_name: &'a str,
    /// `User.last_name`.
    pub last_name: &'a str,
    /// `User.email`.
    pub email: &'a str,
}

impl UserAttributes<'_> {
    /// Pairs each attribute with the `verbose_name` of Django's `User` field,
    /// in `DEFAULT_USER_ATTRIBUTES` order (which decides which message wins).
    fn with_verbose_names(&self) -> [(&str, &'static str); 4] {
        [
            (self.username, "username"),
            (self.first_name, "first name"),
            (self.last_name, "last name"),
            (self.email, "email address"),
        ]
    }
}

/// Validates `password` the way Django's `validate_password` does with the
/// four default `AUTH_PASSWORD_VALIDATORS`.
///
/// Returns `Err` with one message per failing validator, in Django's order:
/// similarity to `user`'s attributes, minimum length 8, common password,
/// entirely numeric.
///
/// ```
/// use axum_drf::auth::validators::{validate_password, UserAttributes};
///
/// let user = UserAttributes {
///     username: "alice_k3j9",
///     ..Default::default()
/// };
/// assert_eq!(
///     validate_password("12345", &user),
///     Err(vec![
///         "This password is too short. It must contain at least 8 characters.".to_string(),
///         "This password is too common.".to_string(),
///         "This password is entirely numeric.".to_string(),
///     ])
/// );
/// assert_eq!(
///     validate_password("alice_k3j9x", &user),
///     Err(vec!["The password is too similar to the username.".to_string()])
/// );
/// assert_eq!(validate_password("correct-Horse-7-battery", &user), Ok(()));
/// ```
pub fn validate_password(password: &str, user: &UserAttributes<'_>) -> Result<(), Vec<String>> {
    let mut errors = Vec::new();
    if let Some(verbose_name) = too_similar_attribute(password, user) {
        errors.push(format!(
            "The password is too similar to the {verbose_name}."
        ));
    }
    if password.chars().count() < MIN_LENGTH {
        errors.push(format!(
            "This password is too short. It must contain at least {MIN_LENGTH} characters."
        ));
    }
    if is_common(password) {
        errors.push("This password is too common.".to_string());
    }
    if is_entirely_numeric(password) {
        errors.push("This password is entirely numeric.".to_string());
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// `UserAttributeSimilarityValidator.validate`: the verbose name of the first
/// attribute (or `\W`-separated part of one) that is too similar.
fn too_similar_attribute(password: &str, user: &UserAttributes<'_>) -> Option<&'static str> {
    // `str::to_lowercase` is the same full mapping as Python's `str.lower`
    // (`İ` becomes two code points, final-sigma rule included); checked
    // against CPython 3.11 for every code point assigned in Unicode 14.
    let password: Vec<char> = password.to_lowercase().chars().collect();
    for (value, verbose_name) in user.with_verbose_names() {
        if value.is_empty() {
            continue;
        }
        let value_lower = value.to_lowercase();
        // `re.split(r"\W+", value_lower) + [value_lower]`; like Python's,
        // the split keeps empty leading/trailing parts, and an empty part
        // does count as "too similar" to an empty password.
        let parts = non_word_regex()
            .split(&value_lower)
            .chain(std::iter::once(value_lower.as_str()));
        for part in parts {
            let part: Vec<char> = part.chars().collect();
            if exceeds_maximum_length_ratio(password.len(), part.len()) {
                continue;
            }
            if quick_ratio(&password, &part) >= MAX_SIMILARITY {
                return Some(verbose_name);
            }
        }
    }
    None
}

/// Python's `\W` for `str` patterns is "not `str.isalnum()` and not `_`",
/// which is exactly the complement of general categories L* and N* plus `_`
/// (checked against CPython 3.11 for every code point). Rust's `\w` is a
/// different, wider set (it includes combining marks), so it is not used.
fn non_word_regex() -> &'static Regex {
    static NON_WORD: OnceLock<Regex> = OnceLock::new();
    NON_WORD.get_or_init(|| Regex::new(r"[^\p{L}\p{N}_]+").expect("the pattern is valid"))
}

/// Django's shortcut: when the password is at least ten times longer than
/// the value, `quick_ratio` cannot reach `MAX_SIMILARITY`, so it is skipped.
/// Kept bit-for-bit (including the float arithmetic) because it also decides
/// the outcome for empty values.
fn exceeds_maximum_length_ratio(password_len: usize, value_len: usize) -> bool {
    let length_bound_similarity = MAX_SIMILARITY / 2.0 * password_len as f64;
    password_len >= 10 * value_len && (value_len as f64) < length_bound_similarity
}

/// `difflib.SequenceMatcher(a=a, b=b).quick_ratio()`: the size of the
/// multiset intersection of the characters, as a ratio of the total length.
/// Junk heuristics do not apply to `quick_ratio`, so none are modelled.
fn quick_ratio(a: &[char], b: &[char]) -> f64 {
    let mut available: HashMap<char, usize> = HashMap::new();
    for &c in b {
        *available.entry(c).or_default() += 1;
    }
    let mut matches = 0usize;
    for c in a {
        if let Some(count) = available.get_mut(c) {
            if *count > 0 {
                *count -= 1;
                matches += 1;
            }
        }
    }
    let length = a.len() + b.len();
    if length == 0 {
        1.0
    } else {
        2.0 * matches as f64 / length as f64
    }
}

/// `CommonPasswordValidator.validate`: `password.lower().strip()` in the list.
fn is_common(password: &str) -> bool {
    static PASSWORDS: OnceLock<HashSet<&'static str>> = OnceLock::new();
    let passwords = PASSWORDS.get_or_init(|| COMMON_PASSWORDS.lines().map(python_strip).collect());
    passwords.contains(python_strip(&password.to_lowercase()))
}

use crate::python::strip as python_strip;

/// `NumericPasswordValidator.validate`: Python's `str.isdigit()`, which is
/// false for the empty string and accepts more than ASCII digits (e.g. `²`,
/// `①`, `٣`) but not other numerics such as `½` or `Ⅻ`.
fn is_entirely_numeric(password: &str) -> bool {
    !password.is_empty() && password.chars().all(is_python_digit)
}

fn is_python_digit(c: char) -> bool {
    PYTHON_DIGITS
        .binary_search_by(|&(start, end)| {
            if end < c {
                std::cmp::Ordering::Less
            } else if start > c {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

/// Inclusive ranges of the characters for which CPython 3.11 (Unicode 14.0)
/// `str.isdigit()` is true, i.e. `Numeric_Type` is `Decimal` or `Digit`.
/// Generated with `[i for i in range(0x110000) if chr(i).isdigit()]`; Rust
/// has no `Numeric_Type` property to compute this from.
const PYTHON_DIGITS: &[(char, char)] = &[
    ('\u{0030}', '\u{0039}'),
    ('\u{00b2}', '\u{00b3}'),
    ('\u{00b9}', '\u{00b9}'),
    ('\u{0660}', '\u{0669}'),
    ('\u{06f0}', '\u{06f9}'),
    ('\u{07c0}', '\u{07c9}'),
    ('\u{0966}', '\u{096f}'),
    ('\u{09e6}', '\u{09ef}'),
    ('\u{0a66}', '\u{0a6f}'),
    ('\u{0ae6}', '\u{0aef}'),
    ('\u{0b66}', '\u{0b6f}'),
    ('\u{0be6}', '\u{0bef}'),
    ('\u{0c66}', '\u{0c6f}'),
    ('\u{0ce6}', '\u{0cef}'),
    ('\u{0d66}', '\u{0d6f}'),
    ('\u{0de6}', '\u{0def}'),
    ('\u{0e50}', '\u{0e59}'),
    ('\u{0ed0}', '\u{0ed9}'),
    ('\u{0f20}', '\u{0f29}'),
    ('\u{1040}', '\u{1049}'),
    ('\u{1090}', '\u{1099}'),
    ('\u{1369}', '\u{1371}'),
    ('\u{17e0}', '\u{17e9}'),
    ('\u{1810}', '\u{1819}'),
    ('\u{1946}', '\u{194f}'),
    ('\u{19d0}', '\u{19da}'),
    ('\u{1a80}', '\u{1a89}'),
    ('\u{1a90}', '\u{1a99}'),
    ('\u{1b50}', '\u{1b59}'),
    ('\u{1bb0}', '\u{1bb9}'),
    ('\u{1c40}', '\u{1c49}'),
    ('\u{1c50}', '\u{1c59}'),
    ('\u{2070}', '\u{2070}'),
    ('\u{2074}', '\u{2079}'),
    ('\u{2080}', '\u{2089}'),
    ('\u{2460}', '\u{2468}'),
    ('\u{2474}', '\u{247c}'),
    ('\u{2488}', '\u{2490}'),
    ('\u{24ea}', '\u{24ea}'),
    ('\u{24f5}', '\u{24fd}'),
    ('\u{24ff}', '\u{24ff}'),
    ('\u{2776}', '\u{277e}'),
    ('\u{2780}', '\u{2788}'),
    ('\u{278a}', '\u{2792}'),
    ('\u{a620}', '\u{a629}'),
    ('\u{a8d0}', '\u{a8d9}'),
    ('\u{a900}', '\u{a909}'),
    ('\u{a9d0}', '\u{a9d9}'),
    ('\u{a9f0}', '\u{a9f9}'),
    ('\u{aa50}', '\u{aa59}'),
    ('\u{abf0}', '\u{abf9}'),
    ('\u{ff10}', '\u{ff19}'),
    ('\u{104a0}', '\u{104a9}'),
    ('\u{10a40}', '\u{10a43}'),
    ('\u{10d30}', '\u{10d39}'),
    ('\u{10e60}', '\u{10e68}'),
    ('\u{11052}', '\u{1105a}'),
    ('\u{11066}', '\u{1106f}'),
    ('\u{110f0}', '\u{110f9}'),
    ('\u{11136}', '\u{1113f}'),
    ('\u{111d0}', '\u{111d9}'),
    ('\u{112f0}', '\u{112f9}'),
    ('\u{11450}', '\u{11459}'),
    ('\u{114d0}', '\u{114d9}'),
    ('\u{11650}', '\u{11659}'),
    ('\u{116c0}', '\u{116c9}'),
    ('\u{11730}', '\u{11739}'),
    ('\u{118e0}', '\u{118e9}'),
    ('\u{11950}', '\u{11959}'),
    ('\u{11c50}', '\u{11c59}'),
    ('\u{11d50}', '\u{11d59}'),
    ('\u{11da0}', '\u{11da9}'),
    ('\u{16a60}', '\u{16a69}'),
    ('\u{16ac0}', '\u{16ac9}'),
    ('\u{16b50}', '\u{16b59}'),
    ('\u{1d7ce}', '\u{1d7ff}'),
    ('\u{1e140}', '\u{1e149}'),
    ('\u{1e2f0}', '\u{1e2f9}'),
    ('\u{1e950}', '\u{1e959}'),
    ('\u{1f100}', '\u{1f10a}'),
    ('\u{1fbf0}', '\u{1fbf9}'),
];

#[cfg(test)]
mod tests {
    use super::*;

    const SIM_USERNAME: &str = "The password is too similar to the username.";
    const SIM_FIRST: &str = "The password is too similar to the first name.";
    const SIM_LAST: &str = "The password is too similar to the last name.";
    const SIM_EMAIL: &str = "The password is too similar to the email address.";
    const SHORT: &str = "This password is too short. It must contain at least 8 characters.";
    const COMMON: &str = "This password is too common.";
    const NUMERIC: &str = "This password is entirely numeric.";

    fn check(password: &str, user: UserAttributes<'_>, expected: &[&str]) {
        let expected = if expected.is_empty() {
            Ok(())
        } else {
            Err(expected.iter().map(|m| m.to_string()).collect())
        };
        assert_eq!(
            validate_password(password, &user),
            expected,
            "password {password:?}, user {user:?}"
        );
    }

    fn username(username: &str) -> UserAttributes<'_> {
        UserAttributes {
            username,
            ..Default::default()
        }
    }

    #[test]
    fn recorded_django_results() {
        check("Ab1!x", username("alice_k3j9"), &[SHORT]);
        check("password", username("alice_k3j9"), &[COMMON]);
        check("48213097756", username("alice_k3j9"), &[NUMERIC]);
        check("12345", username("alice_k3j9"), &[SHORT, COMMON, NUMERIC]);
        check("alice_k3j9x", username("alice_k3j9"), &[SIM_USERNAME]);
        let user = UserAttributes {
            username: "alice_k3j9",
            email: "zq9-mellow-k3j9@example.com",
            ..Default::default()
        };
        check("Zq9-mellow-k3j9", user, &[SIM_EMAIL]);
        let user = UserAttributes {
            username: "alice_k3j9",
            email: "alice_k3j9@example.com",
            ..Default::default()
        };
        check("correct-Horse-7-battery", user, &[]);
    }

    /// Password, username, email, first_name, last_name, expected messages.
    type DjangoRow = (
        &'static str,
        &'static str,
        &'static str,
        &'static str,
        &'static str,
        &'static [&'static str],
    );

    /// Generated by running Django 5.2.19 (CPython 3.11.7)
    /// `password_validation.validate_password(password, user=User(...))`
    /// with the four default validators over each row; the last 30 rows are
    /// seeded random cases.
    #[rustfmt::skip]
    const DJANGO_TABLE: &[DjangoRow] = &[
    ("Ab1!x", "alice_k3j9", "", "", "", &[SHORT]),
    ("password", "alice_k3j9", "", "", "", &[COMMON]),
    ("48213097756", "alice_k3j9", "", "", "", &[NUMERIC]),
    ("12345", "alice_k3j9", "", "", "", &[SHORT, COMMON, NUMERIC]),
    ("alice_k3j9x", "alice_k3j9", "", "", "", &[SIM_USERNAME]),
    ("Zq9-mellow-k3j9", "alice_k3j9", "zq9-mellow-k3j9@example.com", "", "", &[SIM_EMAIL]),
    ("correct-Horse-7-battery", "alice_k3j9", "alice_k3j9@example.com", "", "", &[]),
    ("", "alice_k3j9", "", "", "", &[SHORT]),
    ("", "-x", "", "", "", &[SIM_USERNAME, SHORT]),
    ("", "", "", "", "", &[SHORT]),
    ("PASSWORD", "alice_k3j9", "", "", "", &[COMMON]),
    ("  Password  ", "alice_k3j9", "", "", "", &[COMMON]),
    ("\u{1c}password\u{1f}", "alice_k3j9", "", "", "", &[COMMON]),
    ("\u{a0}qwerty123\u{3000}", "alice_k3j9", "", "", "", &[COMMON]),
    ("²³⁴⁵⁶⁷⁸⁹", "alice_k3j9", "", "", "", &[NUMERIC]),
    ("١٢٣٤٥٦٧٨٩", "alice_k3j9", "", "", "", &[NUMERIC]),
    ("½½½½½½½½", "alice_k3j9", "", "", "", &[]),
    ("①②③④⑤⑥⑦⑧", "alice_k3j9", "", "", "", &[NUMERIC]),
    ("ⅫⅫⅫⅫⅫⅫⅫⅫ", "alice_k3j9", "", "", "", &[]),
    ("1234567", "alice_k3j9", "", "", "", &[SHORT, COMMON, NUMERIC]),
    ("12345678", "alice_k3j9", "", "", "", &[COMMON, NUMERIC]),
    ("١٢٣", "alice_k3j9", "", "", "", &[SHORT, NUMERIC]),
    ("İstanbul-kedi", "istanbul", "", "", "", &[SIM_USERNAME]),
    ("ISTANBUL-KEDI", "i\u{307}stanbul", "", "", "", &[SIM_USERNAME]),
    ("josé-garcía-99", "jose\u{301}", "", "José", "García", &[]),
    ("Garcia-Marquez-7", "alice_k3j9", "", "Gabriel", "García-Márquez", &[SIM_LAST]),
    ("Gabrielito-2024", "alice_k3j9", "", "Gabriel", "Marquez", &[]),
    ("marquez-gabriel", "alice_k3j9", "", "Gabriel", "Marquez", &[]),
    ("qwertyuiopasdfghjklzxcvbnm1234", "ab", "", "", "", &[]),
    ("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "a", "", "", "", &[]),
    ("aaaaaaaaaaaaaaaaaaaa", "aa", "", "", "", &[]),
    ("bob.smith.1990", "bsmith", "bob.smith@example.org", "Bob", "Smith", &[]),
    ("example-org-pw", "bsmith", "bob.smith@example.org", "", "", &[]),
    ("examplepass", "x", "a@example.com", "", "", &[SIM_EMAIL]),
    ("ΣΊΣΥΦΟΣ-λίθος", "σίσυφος", "", "", "", &[SIM_USERNAME]),
    ("Straße-Ωmega-9", "strasse", "", "", "", &[]),
    ("пароль", "alice_k3j9", "", "", "", &[SHORT, COMMON]),
    ("ПАРОЛЬ", "alice_k3j9", "", "", "", &[SHORT, COMMON]),
    ("йцукен", "alice_k3j9", "", "", "", &[SHORT, COMMON]),
    ("密码密码密码密码", "密码", "", "", "", &[]),
    ("🔒🔒🔒🔒🔒🔒🔒🔒", "alice_k3j9", "", "", "", &[]),
    ("k3j9alice", "alice_k3j9", "", "", "", &[SIM_USERNAME]),
    ("9j3k_ecila", "alice_k3j9", "", "", "", &[SIM_USERNAME]),
    ("alice", "alice_k3j9", "", "", "", &[SHORT, COMMON]),
    ("k3j9", "alice_k3j9", "", "", "", &[SHORT]),
    ("trustno1", "alice_k3j9", "", "", "", &[COMMON]),
    ("iloveyou!", "alice_k3j9", "", "", "", &[COMMON]),
    ("letmein", "alice_k3j9", "", "", "", &[SHORT, COMMON]),
    ("00000000", "alice_k3j9", "", "", "", &[COMMON, NUMERIC]),
    ("a1b2c3d4", "alice_k3j9", "", "", "", &[COMMON]),
    ("abcdefgxyz", "abcdefgpqr", "", "", "", &[SIM_USERNAME]),
    ("abcdefxyzw", "abcdefpqrs", "", "", "", &[]),
    ("alice_k3j9!", "alice_k3j9", "alice_k3j9@example.com", "Alice", "K", &[SIM_USERNAME]),
    ("wonderland-K3J9", "alice_k3j9", "alice@wonderland.example", "Alice", "Liddell", &[SIM_EMAIL]),
    ("liddell-alice-77", "alice_k3j9", "", "Alice", "Liddell", &[]),
    ("", "alice_k3j9", "-@example.com", "", "", &[SIM_EMAIL, SHORT]),
    ("        ", "alice_k3j9", "", "", "", &[]),
    ("\u{9}\u{a}", "alice_k3j9", "", "", "", &[SHORT]),
    ("co57hYyB6", "6yY5c7ohB", "", "", "", &[SIM_USERNAME]),
    ("DRjBvPFCg", "W_bXx0", "w_bxx0@example.com", "", "", &[]),
    ("Monkey", "e2", "e2@example.com", "", "", &[SHORT, COMMON]),
    ("477", "MPwSbV", "mpwsbv@example.com", "", "", &[SHORT, NUMERIC]),
    ("eaxAFITn", "wsZ", "", "", "", &[]),
    ("Z7e3N8", "CCC9Xpy7Hp", "", "", "", &[SHORT]),
    ("dxmfUlQ", "ZLD", "x.y-z@mail.example", "", "", &[SHORT]),
    ("zeH", "0fmPGsgf", "", "", "", &[SHORT]),
    ("os_LZYcPw!Nqq", "_NPw!qqscZYo", "", "", "", &[SIM_USERNAME]),
    ("sSimupCf3kEz", "6Pb", "x.y-z@mail.example", "", "", &[]),
    ("", "eUXXB", "euxxb@example.com", "", "", &[SHORT]),
    ("IqoAOU8A", "AOAUI8", "x.y-z@mail.example", "", "", &[SIM_USERNAME]),
    ("poRKBYI-a", "pU8!d", "x.y-z@mail.example", "", "", &[]),
    ("@v1v", "@v1", "@v1@example.com", "", "", &[SIM_USERNAME, SHORT]),
    ("W!zArSxXO@ntUkoYH", "rt@Yo!UnWzAX", "", "", "", &[SIM_USERNAME]),
    ("hF1Cx3V", "6NKi", "x.y-z@mail.example", "", "", &[SHORT]),
    ("zaq12wsx", "XIN.npZFHD", "", "", "", &[COMMON]),
    ("Monkey", "qBdXTr", "qbdxtr@example.com", "", "", &[SHORT, COMMON]),
    ("Ox!yjzaOQD7", "z!jOaDyxQ7", "x.y-z@mail.example", "", "", &[SIM_USERNAME]),
    ("546", "fCzG", "x.y-z@mail.example", "", "", &[SHORT, NUMERIC]),
    ("2itc.y", "ES5isN22", "x.y-z@mail.example", "", "", &[SHORT]),
    ("nkSRc", "ncS", "x.y-z@mail.example", "", "", &[SIM_USERNAME, SHORT]),
    ("dragon", "0", "x.y-z@mail.example", "", "", &[SHORT, COMMON]),
    ("61ssnb3V.Uiw!", "Vw1iUs63s!", "", "", "", &[SIM_USERNAME]),
    ("8069180", "6IlGA7", "", "", "", &[SHORT, NUMERIC]),
    ("41596799", "8m5gDFhnjVb", "x.y-z@mail.example", "", "", &[NUMERIC]),
    ("zaq12wsx", "_05zFKJlA", "x.y-z@mail.example", "", "", &[COMMON]),
    ("TTAv9aG", "G9A", "x.y-z@mail.example", "", "", &[SHORT]),
    ("4GiM0CYd@o50zuA215ko", "XX!u8DJ", "", "", "", &[]),
    ("8968942", "fa4Er1@x", "", "", "", &[SHORT, NUMERIC]),
    ];

    #[test]
    fn matches_django_table() {
        for &(password, username, email, first_name, last_name, expected) in DJANGO_TABLE {
            let user = UserAttributes {
                username,
                first_name,
                last_name,
                email,
            };
            check(password, user, expected);
        }
    }

    #[test]
    fn every_attribute_has_its_verbose_name() {
        let only = |field: &str| {
            let mut user = UserAttributes::default();
            match field {
                "username" => user.username = "zebra-crossing",
                "first_name" => user.first_name = "zebra-crossing",
                "last_name" => user.last_name = "zebra-crossing",
                _ => user.email = "zebra-crossing",
            }
            user
        };
        check("Zebra-Crossing", only("username"), &[SIM_USERNAME]);
        check("Zebra-Crossing", only("first_name"), &[SIM_FIRST]);
        check("Zebra-Crossing", only("last_name"), &[SIM_LAST]);
        check("Zebra-Crossing", only("email"), &[SIM_EMAIL]);
    }

    #[test]
    fn no_user_attributes_skips_similarity() {
        check("", UserAttributes::default(), &[SHORT]);
        check("zebra-crossing", UserAttributes::default(), &[]);
    }

    #[test]
    fn quick_ratio_matches_difflib() {
        let chars = |s: &str| s.chars().collect::<Vec<_>>();
        // Values from difflib.SequenceMatcher(a=..., b=...).quick_ratio().
        assert_eq!(quick_ratio(&chars("abcd"), &chars("bcde")), 0.75);
        assert_eq!(quick_ratio(&chars("aaab"), &chars("ab")), 2.0 / 3.0);
        assert_eq!(
            quick_ratio(&chars("A"), &chars(&"A".repeat(10))),
            2.0 / 11.0
        );
        assert_eq!(quick_ratio(&[], &[]), 1.0);
        assert_eq!(quick_ratio(&chars("é"), &chars("e\u{301}")), 0.0);
    }

    #[test]
    fn python_string_semantics() {
        assert!(is_entirely_numeric("²①٣9"));
        assert!(!is_entirely_numeric("½"));
        assert!(!is_entirely_numeric("Ⅻ"));
        assert!(!is_entirely_numeric(""));
        assert_eq!(python_strip("\u{1c} \u{3000}x\u{85}\u{1f}"), "x");
        assert_eq!(
            non_word_regex().split("a\u{301}b-_c").collect::<Vec<_>>(),
            ["a", "b", "_c"]
        );
    }

    #[test]
    fn common_list_is_loaded() {
        assert!(is_common("password"));
        assert!(is_common(" PaSsWoRd\t"));
        assert!(is_common("пароль"));
        assert!(!is_common("correct-horse-battery-staple"));
        assert!(!is_common(""));
    }

    #[test]
    fn digit_table_is_sorted_and_disjoint() {
        assert!(PYTHON_DIGITS.iter().all(|(start, end)| start <= end));
        assert!(PYTHON_DIGITS.windows(2).all(|w| w[0].1 < w[1].0));
    }
}
