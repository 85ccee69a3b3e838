//! DRF's `DateTimeField` with `USE_TZ = True` and `TIME_ZONE = "UTC"`: ISO 8601 input as
//! Django's `parse_datetime` accepts it (Python's `fromisoformat`, then Django's regex),
//! naive values taken as UTC, output in UTC with `Z` and microseconds only when non-zero.

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};

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

/// Parses an ISO 8601 datetime (or date, meaning midnight) into UTC microseconds.
///
/// ```
/// use axum_drf::datetime::{format_datetime, parse_datetime};
/// let t = parse_datetime("2024-01-02T03:04:05+02:00").unwrap();
/// assert_eq!(format_datetime(t), "2024-01-02T01:04:05Z");
/// assert_eq!(parse_datetime("2024-02-30T00:00:00Z"), None);
/// ```
pub fn parse_datetime(input: &str) -> Option<i64> {
    from_isoformat(input)
        .or_else(|| django_regex(input))
        .map(|dt| dt.with_timezone(&Utc).timestamp_micros())
}

fn digits(s: &str, n: usize) -> Option<u32> {
    (s.len() == n && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

/// Python 3.11 `datetime.fromisoformat` (the common extended and basic forms).
fn from_isoformat(s: &str) -> Option<DateTime<FixedOffset>> {
    if !s.is_ascii() {
        return None;
    }
    let (date_part, rest) = if s.len() >= 10 && s.as_bytes()[4] == b'-' {
        (&s[..10], &s[10..])
    } else if s.len() >= 8 && s.as_bytes()[..8].iter().all(u8::is_ascii_digit) {
        (&s[..8], &s[8..])
    } else {
        return None;
    };
    let date = if date_part.len() == 10 {
        if date_part.as_bytes()[7] != b'-' {
            return None;
        }
        NaiveDate::from_ymd_opt(
            digits(&date_part[..4], 4)? as i32,
            digits(&date_part[5..7], 2)?,
            digits(&date_part[8..10], 2)?,
        )?
    } else {
        NaiveDate::from_ymd_opt(
            digits(&date_part[..4], 4)? as i32,
            digits(&date_part[4..6], 2)?,
            digits(&date_part[6..8], 2)?,
        )?
    };
    if rest.is_empty() {
        return Some(utc(date.and_time(NaiveTime::MIN)));
    }
    // Any single separator character, as Python allows.
    let time_and_tz = &rest[1..];
    let tz_at = time_and_tz
        .find(['Z', 'z', '+', '-'])
        .unwrap_or(time_and_tz.len());
    let (time_part, tz_part) = time_and_tz.split_at(tz_at);
    let time = parse_time(time_part)?;
    let naive = date.and_time(time);
    if tz_part.is_empty() {
        return Some(utc(naive));
    }
    let offset = parse_offset(tz_part)?;
    offset.from_local_datetime(&naive).single()
}

fn parse_time(t: &str) -> Option<NaiveTime> {
    let (main, frac) = match t.find(['.', ',']) {
        Some(i) => (&t[..i], Some(&t[i + 1..])),
        None => (t, None),
    };
    let (h, m, sec) = match main.len() {
        2 => (digits(main, 2)?, 0, 0),
        5 if main.as_bytes()[2] == b':' => (digits(&main[..2], 2)?, digits(&main[3..], 2)?, 0),
        8 if main.as_bytes()[2] == b':' && main.as_bytes()[5] == b':' => (
            digits(&main[..2], 2)?,
            digits(&main[3..5], 2)?,
            digits(&main[6..], 2)?,
        ),
        4 => (digits(&main[..2], 2)?, digits(&main[2..], 2)?, 0),
        6 => (
            digits(&main[..2], 2)?,
            digits(&main[2..4], 2)?,
            digits(&main[4..], 2)?,
        ),
        _ => return None,
    };
    let micros = match frac {
        None => 0,
        Some(f) if !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()) && main.len() >= 6 => {
            let mut padded: String = f.chars().take(6).collect();
            while padded.len() < 6 {
                padded.push('0');
            }
            padded.parse().ok()?
        }
        Some(_) => return None,
    };
    NaiveTime::from_hms_micro_opt(h, m, sec, micros)
}

fn parse_offset(tz: &str) -> Option<FixedOffset> {
    if tz.eq_ignore_ascii_case("z") {
        return FixedOffset::east_opt(0);
    }
    let sign = if tz.starts_with('-') { -1 } else { 1 };
    let body = &tz[1..];
    let compact: String = body.chars().filter(|c| *c != ':').collect();
    let (h, m, s) = match compact.len() {
        2 => (digits(&compact, 2)?, 0, 0),
        4 => (digits(&compact[..2], 2)?, digits(&compact[2..], 2)?, 0),
        6 => (
            digits(&compact[..2], 2)?,
            digits(&compact[2..4], 2)?,
            digits(&compact[4..], 2)?,
        ),
        _ => return None,
    };
    if h > 23 || m > 59 || s > 59 {
        return None;
    }
    FixedOffset::east_opt(sign * (h * 3600 + m * 60 + s) as i32)
}

fn utc(naive: NaiveDateTime) -> DateTime<FixedOffset> {
    Utc.from_utc_datetime(&naive).fixed_offset()
}

/// Django's fallback regex (single-digit month/day/hour allowed, space separator).
fn django_regex(s: &str) -> Option<DateTime<FixedOffset>> {
    use std::sync::OnceLock;
    static RE: OnceLock<regex::Regex> = OnceLock::new();
    let re = RE.get_or_init(|| {
        regex::Regex::new(
            r"^(\d{4})-(\d{1,2})-(\d{1,2})[T ](\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:[.,](\d{1,6})\d{0,6})?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$",
        )
        .expect("valid regex")
    });
    let c = re.captures(s)?;
    let n = |i: usize| c.get(i).and_then(|m| m.as_str().parse::<u32>().ok());
    let date = NaiveDate::from_ymd_opt(n(1)? as i32, n(2)?, n(3)?)?;
    let micros = c.get(7).map_or(Some(0), |m| {
        let mut f = m.as_str().to_owned();
        while f.len() < 6 {
            f.push('0');
        }
        f.parse().ok()
    })?;
    let time = NaiveTime::from_hms_micro_opt(n(4)?, n(5)?, n(6).unwrap_or(0), micros)?;
    let naive = date.and_time(time);
    match c.get(8) {
        None => Some(utc(naive)),
        Some(tz) => parse_offset(tz.as_str())?
            .from_local_datetime(&naive)
            .single(),
    }
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
