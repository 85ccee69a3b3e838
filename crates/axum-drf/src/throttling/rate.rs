//! DRF's rate syntax: `"<requests>/<period>"`, read exactly as `SimpleRateThrottle.parse_rate`
//! reads it — only the period's first letter counts (`s`, `m`, `h`, `d`), so `"5/min"`,
//! `"5/m"` and `"5/minute"` are the same rate.

use std::fmt;
use std::str::FromStr;

/// A number of requests per period.
///
/// ```
/// use axum_drf::throttling::Rate;
/// let rate: Rate = "5/min".parse().unwrap();
/// assert_eq!((rate.requests, rate.period_secs), (5, 60));
/// assert_eq!("100/day".parse::<Rate>().unwrap().period_secs, 86_400);
/// assert!("5/week".parse::<Rate>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Requests allowed in one period.
    pub requests: u32,
    /// The period in seconds (1, 60, 3600 or 86400).
    pub period_secs: u32,
}

impl Rate {
    /// The period in microseconds, the unit counters store.
    pub fn period_micros(self) -> i64 {
        i64::from(self.period_secs) * 1_000_000
    }
}

/// A rate that DRF's `parse_rate` would refuse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid throttle rate {0:?}: expected \"<requests>/<s|m|h|d>\", e.g. \"10/min\"")]
pub struct InvalidRate(pub String);

impl FromStr for Rate {
    type Err = InvalidRate;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || InvalidRate(s.to_owned());
        // Python's `rate.split('/')` into exactly two parts, `int(num)` (which allows
        // surrounding whitespace and a `+`), then `period[0]` in the table. DRF also takes a
        // negative count (a view that always answers 429); that can only be a typo, so it is
        // refused at start-up instead.
        let (num, period) = s.split_once('/').ok_or_else(bad)?;
        if period.contains('/') {
            return Err(bad());
        }
        let num = num.trim();
        let num = num.strip_prefix('+').unwrap_or(num);
        let requests = num.parse::<u32>().map_err(|_| bad())?;
        let period_secs = match period.chars().next() {
            Some('s') => 1,
            Some('m') => 60,
            Some('h') => 3600,
            Some('d') => 86_400,
            _ => return Err(bad()),
        };
        Ok(Rate {
            requests,
            period_secs,
        })
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let period = match self.period_secs {
            1 => "s",
            60 => "min",
            3600 => "hour",
            _ => "day",
        };
        write!(f, "{}/{period}", self.requests)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Option<(u32, u32)> {
        s.parse::<Rate>().ok().map(|r| (r.requests, r.period_secs))
    }

    #[test]
    fn only_the_first_letter_of_the_period_counts() {
        assert_eq!(parse("5/s"), Some((5, 1)));
        assert_eq!(parse("5/sec"), Some((5, 1)));
        assert_eq!(parse("5/second"), Some((5, 1)));
        assert_eq!(parse("10/m"), Some((10, 60)));
        assert_eq!(parse("10/min"), Some((10, 60)));
        assert_eq!(parse("10/mississippi"), Some((10, 60)));
        assert_eq!(parse("1000/hour"), Some((1000, 3600)));
        assert_eq!(parse("3/d"), Some((3, 86_400)));
        assert_eq!(parse(" 7 /h"), Some((7, 3600)));
        assert_eq!(parse("0/min"), Some((0, 60)));
    }

    #[test]
    fn what_drf_refuses() {
        for bad in [
            "", "5", "5/", "/min", "x/min", "5/Min", "5/w", "5/min/x", "-1/min", "5 /",
        ] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }
}
