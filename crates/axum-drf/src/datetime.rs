//! DRF's `DateTimeField` with `USE_TZ = True` and `TIME_ZONE = "UTC"`: ISO 8601 input as
//! Django's `parse_datetime` accepts it (Python's `fromisoformat`, then Django's regex),
//! naive values taken as UTC, output in UTC with `Z` and microseconds only when non-zero.

use chrono::{Datelike, NaiveDate, TimeZone, Utc};

/// DRF's message for an unparseable datetime.
pub const INVALID_DATETIME: &str = "Datetime has wrong format. Use one of these formats instead: \
     YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z].";

/// Renders microseconds since the epoch as DRF does: `2024-01-02T03:04:05Z`, or
/// `2024-01-02T03:04:05.123000Z` when there are microseconds.
///
/// ```
/// use axum_drf::datetime::format_datetime;
/// assert_eq!(format_datetime(1_704_164_645_123_000), "2024-01-02T03:04:05.123000Z");
/// assert_eq!(format_datetime(1_704_164_645_000_000), "2024-01-02T03:04:05Z");
/// ```
pub fn format_datetime(micros: i64) -> String {
    let mut out = Vec::with_capacity(27);
    write_datetime(micros, &mut out);
    String::from_utf8(out).unwrap_or_default()
}

/// [`format_datetime`] appended to a buffer, without allocating: list rendering calls it
/// for every timestamp of every row (chrono's `format` re-parses its pattern each call).
pub fn write_datetime(micros: i64, out: &mut Vec<u8>) {
    fn digits(out: &mut Vec<u8>, mut v: u64, width: usize) {
        let mut buf = [b'0'; 8];
        for slot in buf[..width].iter_mut().rev() {
            *slot = b'0' + (v % 10) as u8;
            v /= 10;
        }
        out.extend_from_slice(&buf[..width]);
    }
    let secs = micros.div_euclid(1_000_000);
    let sub = micros.rem_euclid(1_000_000) as u64;
    let tod = secs.rem_euclid(86_400) as u64;
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    digits(out, y.clamp(0, 9999) as u64, 4);
    for (sep, value) in [
        (b'-', m as u64),
        (b'-', d as u64),
        (b'T', tod / 3600),
        (b':', tod / 60 % 60),
        (b':', tod % 60),
    ] {
        out.push(sep);
        digits(out, value, 2);
    }
    if sub != 0 {
        out.push(b'.');
        digits(out, sub, 6);
    }
    out.push(b'Z');
}

/// Howard Hinnant's days-to-civil: (year, month, day) of a day count since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// DRF's message when the value, converted to UTC, leaves Python's calendar (years 1-9999).
pub const DATETIME_OVERFLOW: &str = "Datetime value out of range.";

/// Parses an ISO 8601 datetime (or date, meaning midnight) into UTC microseconds.
///
/// ```
/// use axum_drf::datetime::{format_datetime, parse_datetime};
/// let t = parse_datetime("2024-01-02T03:04:05+02:00").unwrap();
/// assert_eq!(format_datetime(t), "2024-01-02T01:04:05Z");
/// assert_eq!(parse_datetime("2024-02-30T00:00:00Z"), None);
/// ```
pub fn parse_datetime(input: &str) -> Option<i64> {
    validate_datetime(input).ok()
}

/// DRF's `DateTimeField.to_internal_value` for a string with `USE_TZ = True`, UTC: Django's
/// `parse_datetime` (CPython 3.11's C `datetime.fromisoformat`, then Django's regex), then
/// the conversion to UTC. `Err` is DRF's message.
///
/// ```
/// use axum_drf::datetime::{validate_datetime, DATETIME_OVERFLOW, INVALID_DATETIME};
/// assert!(validate_datetime("2024-01-02T03:04").is_ok());
/// assert_eq!(validate_datetime("0001-01-01T00:00+01:00"), Err(DATETIME_OVERFLOW));
/// assert_eq!(validate_datetime("tomorrow"), Err(INVALID_DATETIME));
/// ```
pub fn validate_datetime(input: &str) -> Result<i64, &'static str> {
    let parsed = from_isoformat(input)
        .or_else(|| django_regex(input))
        .ok_or(INVALID_DATETIME)?;
    let utc = parsed.local - parsed.offset;
    // datetime.astimezone raises OverflowError outside years 1..=9999.
    if !(MIN_MICROS..=MAX_MICROS).contains(&utc) {
        return Err(DATETIME_OVERFLOW);
    }
    Ok(utc)
}

// 0001-01-01T00:00:00 and 9999-12-31T23:59:59.999999 in epoch microseconds.
const MIN_MICROS: i64 = -62_135_596_800_000_000;
const MAX_MICROS: i64 = 253_402_300_799_999_999;

/// A parsed wall-clock time (epoch microseconds as if UTC) and its offset.
struct Parsed {
    local: i64,
    offset: i64,
}

fn datetime_micros(y: i64, mo: i64, d: i64, h: i64, mi: i64, s: i64, us: i64) -> Option<i64> {
    if !(1..=9999).contains(&y) || !(0..24).contains(&h) || !(0..60).contains(&mi) {
        return None;
    }
    if !(0..60).contains(&s) || !(0..1_000_000).contains(&us) {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(y as i32, u32::try_from(mo).ok()?, u32::try_from(d).ok()?)?;
    let days = i64::from(date.num_days_from_ce()) - 719_163;
    Some(((days * 86_400 + h * 3600 + mi * 60 + s) * 1_000_000) + us)
}

/// CPython 3.11's C `datetime.fromisoformat`, which works on the UTF-8 bytes: digits are
/// ASCII, the date/time separator is any single byte, and a lone surrogate in a separator
/// position counts as `T`.
fn from_isoformat(s: &str) -> Option<Parsed> {
    if s.chars().count() < 7 {
        return None;
    }
    let mut bytes = s.as_bytes().to_vec();
    for pos in [7usize, 8, 10] {
        let Some((at, c)) = s.char_indices().nth(pos) else {
            break;
        };
        if crate::parsers::lone_surrogate(c).is_some() {
            bytes.splice(at..at + c.len_utf8(), [b'T']);
            break;
        }
    }
    let b = &bytes[..];
    let sep = find_separator(b)?;
    let (y, mo, d) = iso_date(b, sep)?;
    let (mut h, mut mi, mut sec, mut us, mut offset) = (0, 0, 0, 0, 0);
    if b.len() > sep {
        (h, mi, sec, us, offset) = iso_time(&b[sep + 1..])?;
    }
    Some(Parsed {
        local: datetime_micros(y, mo, d, h, mi, sec, us)?,
        offset,
    })
}

/// The byte at `i`, or NUL past the end (the C code reads the terminator).
fn at(b: &[u8], i: usize) -> u8 {
    b.get(i).copied().unwrap_or(0)
}

fn ascii_digits(b: &[u8], from: usize, n: usize) -> Option<i64> {
    let mut v = 0i64;
    for i in from..from + n {
        let c = at(b, i);
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + i64::from(c - b'0');
    }
    Some(v)
}

fn find_separator(b: &[u8]) -> Option<usize> {
    let len = b.len();
    if len == 7 {
        return Some(7);
    }
    if at(b, 4) == b'-' {
        if at(b, 5) == b'W' {
            if len < 8 {
                return None;
            }
            if len > 8 && at(b, 8) == b'-' {
                if len == 9 {
                    return None;
                }
                if len > 10 && at(b, 10).is_ascii_digit() {
                    return Some(8);
                }
                return Some(10);
            }
            return Some(8);
        }
        return Some(10);
    }
    if at(b, 4) == b'W' {
        let mut idx = 7;
        while idx < len && at(b, idx).is_ascii_digit() {
            idx += 1;
        }
        if idx < 9 {
            return Some(idx);
        }
        return Some(if idx % 2 == 0 { 7 } else { 8 });
    }
    Some(8)
}

fn iso_date(b: &[u8], len: usize) -> Option<(i64, i64, i64)> {
    let year = ascii_digits(b, 0, 4)?;
    let dash = at(b, 4) == b'-';
    let mut p = 4 + usize::from(dash);
    if at(b, p) == b'W' {
        let week = ascii_digits(b, p + 1, 2)?;
        p += 3;
        let mut day = 1;
        if p < len {
            if dash {
                if at(b, p) != b'-' {
                    return None;
                }
                p += 1;
            }
            day = ascii_digits(b, p, 1)?;
        }
        return iso_week_date(year, week, day);
    }
    let month = ascii_digits(b, p, 2)?;
    p += 2;
    if dash {
        if at(b, p) != b'-' {
            return None;
        }
        p += 1;
    }
    let day = ascii_digits(b, p, 2)?;
    Some((year, month, day))
}

/// `date.fromisocalendar` (weeks 1-52, or 53 in long years; weekdays 1-7).
fn iso_week_date(year: i64, week: i64, day: i64) -> Option<(i64, i64, i64)> {
    if !(1..=9999).contains(&year) || !(1..=7).contains(&day) {
        return None;
    }
    let date = NaiveDate::from_isoywd_opt(
        year as i32,
        u32::try_from(week).ok()?,
        chrono::Weekday::try_from(u8::try_from(day - 1).ok()?).ok()?,
    )?;
    if !(1..=9999).contains(&date.year()) {
        return None;
    }
    Some((
        i64::from(date.year()),
        i64::from(date.month()),
        i64::from(date.day()),
    ))
}

/// C `parse_hh_mm_ss_ff` over `b[..end]`: `Some((h, m, s, us, more))`, `more` when the
/// text did not end exactly there.
fn hh_mm_ss_ff(b: &[u8], end: usize) -> Option<(i64, i64, i64, i64, bool)> {
    let mut vals = [0i64; 3];
    let mut p = 0usize;
    let mut has_sep = true;
    for (i, val) in vals.iter_mut().enumerate() {
        *val = ascii_digits(b, p, 2)?;
        p += 2;
        let c = at(b, p);
        p += 1;
        if i == 0 {
            has_sep = c == b':';
        }
        if p >= end {
            return Some((vals[0], vals[1], vals[2], 0, c != 0));
        } else if has_sep && c == b':' {
            continue;
        } else if c == b'.' || c == b',' {
            break;
        } else if !has_sep {
            p -= 1;
        } else {
            return None;
        }
    }
    // After a break, or after three components that did not reach `end`, the C code reads
    // the rest as a fraction.
    let remains = end.saturating_sub(p);
    let n = remains.min(6);
    if n == 0 {
        return None;
    }
    let mut us = ascii_digits(b, p, n)?;
    us *= 10i64.pow(6 - n as u32);
    p += n;
    while at(b, p).is_ascii_digit() {
        p += 1;
    }
    Some((vals[0], vals[1], vals[2], us, at(b, p) != 0))
}

/// C `parse_isoformat_time`: the time, then `Z` or a `±HH[:MM[:SS[.ffffff]]]` offset.
fn iso_time(b: &[u8]) -> Option<(i64, i64, i64, i64, i64)> {
    let tz = b
        .iter()
        .position(|c| matches!(c, b'Z' | b'+' | b'-'))
        .unwrap_or(b.len());
    let (h, m, s, us, more) = hh_mm_ss_ff(b, tz)?;
    if tz == b.len() {
        return (!more).then_some((h, m, s, us, 0));
    }
    if b[tz] == b'Z' {
        return (tz + 1 == b.len()).then_some((h, m, s, us, 0));
    }
    let sign = if b[tz] == b'-' { -1 } else { 1 };
    let rest = &b[tz + 1..];
    let (th, tm, ts, tus, more) = hh_mm_ss_ff(rest, rest.len())?;
    if more {
        return None;
    }
    let seconds = th * 3600 + tm * 60 + ts;
    // CPython takes a zero-second offset as UTC and drops its microseconds.
    let offset = if seconds == 0 {
        0
    } else {
        sign * (seconds * 1_000_000 + tus)
    };
    // datetime.timezone needs an offset strictly within one day.
    (offset.abs() < 86_400_000_000).then_some((h, m, s, us, offset))
}

/// Django's fallback regex (Unicode digits, single-digit fields, space separator), with
/// Python's `\s` (U+001C..U+001F included) and `$` (which also matches before a final
/// newline).
fn django_regex(s: &str) -> Option<Parsed> {
    use std::sync::OnceLock;
    static RE: OnceLock<regex::Regex> = OnceLock::new();
    let re = RE.get_or_init(|| {
        regex::Regex::new(
            r"^(\d{4})-(\d{1,2})-(\d{1,2})[T ](\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:[.,](\d{1,6})\d{0,6})?)?[\s\x1c-\x1f]*(Z|[+-]\d{2}(?::?\d{2})?)?\n?\z",
        )
        .expect("valid regex")
    });
    let c = re.captures(s)?;
    let int = |m: &str| -> Option<i64> {
        m.chars().try_fold(0i64, |acc, ch| {
            Some(acc * 10 + i64::from(crate::python::decimal(ch)?))
        })
    };
    let n = |i: usize| c.get(i).map_or(Some(0), |m| int(m.as_str()));
    let micros = match c.get(7) {
        None => 0,
        Some(m) => int(m.as_str())? * 10i64.pow(6 - m.as_str().chars().count() as u32),
    };
    let local = datetime_micros(n(1)?, n(2)?, n(3)?, n(4)?, n(5)?, n(6)?, micros)?;
    let offset = match c.get(8).map(|m| m.as_str()) {
        None | Some("Z") => 0,
        Some(tz) => {
            let digits: Vec<char> = tz.chars().filter(|c| *c != ':').skip(1).collect();
            let part = |r: std::ops::Range<usize>| {
                digits[r].iter().try_fold(0i64, |acc, ch| {
                    Some(acc * 10 + i64::from(crate::python::decimal(*ch)?))
                })
            };
            let minutes = part(0..2)? * 60 + if digits.len() > 2 { part(2..4)? } else { 0 };
            if minutes >= 1440 {
                return None;
            }
            let sign = if tz.starts_with('-') { -1 } else { 1 };
            sign * minutes * 60_000_000
        }
    };
    Some(Parsed { local, offset })
}

/// The same wall-clock instant `months` calendar months earlier, the day clamped to the
/// target month's length (31 May - 2 months = 31 March; 30 April -> 28/29 February).
///
/// ```
/// use axum_drf::datetime::{months_before, parse_datetime, format_datetime};
/// let t = parse_datetime("2024-04-30T10:00:00Z").unwrap();
/// assert_eq!(format_datetime(months_before(t, 2)), "2024-02-29T10:00:00Z");
/// ```
pub fn months_before(micros: i64, months: u32) -> i64 {
    let Some(now) = Utc.timestamp_micros(micros).single() else {
        return micros;
    };
    let total = now.year() * 12 + now.month0() as i32 - months as i32;
    let (year, month0) = (total.div_euclid(12), total.rem_euclid(12) as u32);
    let mut day = now.day();
    let date = loop {
        if let Some(d) = NaiveDate::from_ymd_opt(year, month0 + 1, day) {
            break d;
        }
        day -= 1;
    };
    Utc.from_utc_datetime(&date.and_time(now.time()))
        .timestamp_micros()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round(s: &str) -> Option<String> {
        parse_datetime(s).map(format_datetime)
    }

    #[test]
    fn fast_formatting_matches_chrono() {
        let mut t: i64 = -86_400_000_000 * 800;
        while t < 4_102_444_800_000_000 {
            let dt = Utc.timestamp_micros(t).single().unwrap();
            let expected = if dt.timestamp_subsec_micros() == 0 {
                dt.format("%Y-%m-%dT%H:%M:%SZ").to_string()
            } else {
                dt.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
            };
            assert_eq!(format_datetime(t), expected);
            t += 7_919_000_123_457;
        }
    }

    #[test]
    fn accepted_forms_match_drf() {
        assert_eq!(
            round("2024-01-02T03:04:05Z").unwrap(),
            "2024-01-02T03:04:05Z"
        );
        assert_eq!(
            round("2024-01-02T03:04:05.123Z").unwrap(),
            "2024-01-02T03:04:05.123000Z"
        );
        assert_eq!(round("2024-01-02").unwrap(), "2024-01-02T00:00:00Z");
        assert_eq!(round("2024-01-02 03:04").unwrap(), "2024-01-02T03:04:00Z");
        assert_eq!(round("2024-1-2 3:04").unwrap(), "2024-01-02T03:04:00Z");
        assert_eq!(round("20240102T030405").unwrap(), "2024-01-02T03:04:05Z");
        assert_eq!(
            round("2024-01-02T03:04:05-0130").unwrap(),
            "2024-01-02T04:34:05Z"
        );
        for bad in [
            "",
            "yesterday",
            "2024-02-30T00:00:00Z",
            "2024-01-02T25:00",
            "5",
            "2024-13-01",
        ] {
            assert_eq!(round(bad), None, "{bad}");
        }
    }
}
