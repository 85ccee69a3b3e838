//! The few CPython 3.11 string semantics that DRF and Django lean on, implemented once for
//! every caller: `str.isspace()`/`str.strip()` (CharField trimming, header and cookie
//! parsing, password lists), and `int(str)` (URL primary keys, `PrimaryKeyRelatedField`,
//! pagination parameters). Hand-written because no crate reproduces Python's exact rules
//! (Unicode decimal digits, `_` separators, the 4300-digit limit) and the results are
//! compared byte for byte with DRF by the differential oracles in `crate::oracle`.

use std::fmt;

/// Python's `str.isspace()` for one character: Unicode `White_Space` plus the information
/// separators U+001C..U+001F, which Python counts and Rust's `char::is_whitespace` does not.
///
/// ```
/// assert!(axum_drf::python::isspace('\u{1f}'));
/// assert!(!axum_drf::python::isspace('\u{200b}'));
/// ```
pub fn isspace(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Python's `str.strip()` without arguments.
///
/// ```
/// assert_eq!(axum_drf::python::strip("\u{1c} \u{3000}x\u{85}\u{1f}"), "x");
/// ```
pub fn strip(s: &str) -> &str {
    s.trim_matches(isspace)
}

/// CPython's `sys.int_info.default_max_str_digits`: longer decimal strings are a
/// `ValueError` in `int()`.
const MAX_STR_DIGITS: usize = 4300;

/// The value of a Unicode `Nd` character: what `int()` accepts as a digit.
///
/// ```
/// assert_eq!(axum_drf::python::decimal('٣'), Some(3));
/// assert_eq!(axum_drf::python::decimal('²'), None);
/// ```
pub fn decimal(c: char) -> Option<u8> {
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
    (cp - zero < 10).then(|| (cp - zero) as u8)
}

/// A Python integer as `int(str)` returns it: any size, kept as its decimal digits so that
/// values beyond 64 bits still print (DRF puts them into pagination links) and compare.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PyInt {
    negative: bool,
    /// ASCII digits without leading zeros; `"0"` for zero (never negative).
    digits: String,
}

impl PyInt {
    /// Python's `int(text)`: surrounding whitespace (Unicode `White_Space`: unlike
    /// `strip()`, not U+001C..U+001F), one sign, `_` between digits, any
    /// Unicode decimal digits, at most 4300 of them. `None` is Python's `ValueError`.
    ///
    /// ```
    /// use axum_drf::python::PyInt;
    /// assert_eq!(PyInt::parse(" +0_7\n").unwrap().to_i64(), Some(7));
    /// assert_eq!(PyInt::parse("٨٩").unwrap().to_i64(), Some(89));
    /// assert_eq!(PyInt::parse("99999999999999999999").unwrap().to_i64(), None);
    /// assert!(PyInt::parse("1e3").is_none() && PyInt::parse("1__0").is_none());
    /// ```
    pub fn parse(text: &str) -> Option<PyInt> {
        let t = text.trim_matches(char::is_whitespace);
        let (negative, body) = match t.as_bytes().first()? {
            b'-' => (true, &t[1..]),
            b'+' => (false, &t[1..]),
            _ => (false, t),
        };
        let mut digits = String::with_capacity(body.len());
        let mut count = 0usize;
        let mut after_digit = false;
        for c in body.chars() {
            if c == '_' {
                if !after_digit {
                    return None;
                }
                after_digit = false;
                continue;
            }
            let d = decimal(c)?;
            count += 1;
            after_digit = true;
            if d != 0 || !digits.is_empty() {
                digits.push(char::from(b'0' + d));
            }
        }
        if !after_digit || count > MAX_STR_DIGITS {
            return None;
        }
        if digits.is_empty() {
            digits.push('0');
        }
        Some(PyInt {
            negative: negative && digits != "0",
            digits,
        })
    }

    /// A value that fits 64 bits.
    pub fn from_i64(n: i64) -> PyInt {
        PyInt {
            negative: n < 0,
            digits: n.unsigned_abs().to_string(),
        }
    }

    /// The value when it fits in an `i64`.
    pub fn to_i64(&self) -> Option<i64> {
        if self.digits.len() > 19 {
            return None;
        }
        let magnitude: i128 = self.digits.parse().ok()?;
        i64::try_from(if self.negative { -magnitude } else { magnitude }).ok()
    }

    /// `self < 0`.
    pub fn is_negative(&self) -> bool {
        self.negative
    }

    /// `self == 0`.
    pub fn is_zero(&self) -> bool {
        self.digits == "0"
    }

    fn magnitude_cmp(&self, other: &PyInt) -> std::cmp::Ordering {
        self.digits
            .len()
            .cmp(&other.digits.len())
            .then_with(|| self.digits.cmp(&other.digits))
    }

    /// `self - other` for two non-negative values (all pagination needs).
    ///
    /// ```
    /// use axum_drf::python::PyInt;
    /// let big = PyInt::parse("100000000000000000000").unwrap();
    /// assert_eq!(big.sub(&PyInt::from_i64(1)).to_string(), "99999999999999999999");
    /// assert_eq!(PyInt::from_i64(3).sub(&big).to_string(), "-99999999999999999997");
    /// ```
    pub fn sub(&self, other: &PyInt) -> PyInt {
        debug_assert!(!self.negative && !other.negative);
        let (big, small, negative) = match self.magnitude_cmp(other) {
            std::cmp::Ordering::Less => (other, self, true),
            _ => (self, other, false),
        };
        let mut out = Vec::with_capacity(big.digits.len());
        let mut borrow = 0i8;
        let b = big.digits.as_bytes();
        let s = small.digits.as_bytes();
        for i in 0..b.len() {
            let x = (b[b.len() - 1 - i] - b'0') as i8;
            let y = if i < s.len() {
                (s[s.len() - 1 - i] - b'0') as i8
            } else {
                0
            };
            let mut d = x - y - borrow;
            borrow = 0;
            if d < 0 {
                d += 10;
                borrow = 1;
            }
            out.push(b'0' + d as u8);
        }
        while out.len() > 1 && out.last() == Some(&b'0') {
            out.pop();
        }
        out.reverse();
        let digits = String::from_utf8(out).unwrap_or_default();
        PyInt {
            negative: negative && digits != "0",
            digits,
        }
    }

    /// `self + other` for two non-negative values.
    ///
    /// ```
    /// use axum_drf::python::PyInt;
    /// assert_eq!(PyInt::from_i64(i64::MAX).add(&PyInt::from_i64(1)).to_string(), "9223372036854775808");
    /// ```
    pub fn add(&self, other: &PyInt) -> PyInt {
        debug_assert!(!self.negative && !other.negative);
        let (a, b) = (self.digits.as_bytes(), other.digits.as_bytes());
        let mut out = Vec::with_capacity(a.len().max(b.len()) + 1);
        let mut carry = 0u8;
        for i in 0..a.len().max(b.len()) {
            let x = if i < a.len() {
                a[a.len() - 1 - i] - b'0'
            } else {
                0
            };
            let y = if i < b.len() {
                b[b.len() - 1 - i] - b'0'
            } else {
                0
            };
            let d = x + y + carry;
            carry = d / 10;
            out.push(b'0' + d % 10);
        }
        if carry > 0 {
            out.push(b'0' + carry);
        }
        out.reverse();
        PyInt {
            negative: false,
            digits: String::from_utf8(out).unwrap_or_default(),
        }
    }

    /// `self > other` (Python's comparison).
    pub fn gt(&self, other: &PyInt) -> bool {
        other.lt(self)
    }

    /// `self < other` (Python's comparison).
    pub fn lt(&self, other: &PyInt) -> bool {
        match (self.negative, other.negative) {
            (true, false) => true,
            (false, true) => false,
            (false, false) => self.magnitude_cmp(other).is_lt(),
            (true, true) => self.magnitude_cmp(other).is_gt(),
        }
    }
}

impl fmt::Display for PyInt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.negative {
            f.write_str("-")?;
        }
        f.write_str(&self.digits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int_like_python() {
        let ok = |s: &str| PyInt::parse(s).map(|n| n.to_string());
        assert_eq!(ok("089").as_deref(), Some("89"));
        assert_eq!(ok("-0").as_deref(), Some("0"));
        assert_eq!(ok(" -1_0 ").as_deref(), Some("-10"));
        assert_eq!(ok("\u{85}5\u{3000}").as_deref(), Some("5"));
        assert_eq!(ok(&"1".repeat(4300)).map(|s| s.len()), Some(4300));
        for bad in [
            "",
            " ",
            "+",
            "-",
            "_1",
            "1_",
            "1__2",
            "1.0",
            "1e2",
            "0x10",
            "²",
            "+-1",
            "- 1",
            "\u{1c}5",
            &"1".repeat(4301),
        ] {
            assert_eq!(ok(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn arithmetic() {
        let n = |s: &str| PyInt::parse(s).unwrap();
        assert_eq!(n("1000").sub(&n("1")).to_string(), "999");
        assert_eq!(n("5").sub(&n("5")).to_string(), "0");
        assert!(n("-5").lt(&n("-4")) && n("4").lt(&n("10")) && !n("10").lt(&n("10")));
        assert_eq!(n("999").add(&n("1")).to_string(), "1000");
    }
}
