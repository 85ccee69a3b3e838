//! DRF's `LimitOffsetPagination`: `{"count", "next", "previous", "results"}` with absolute
//! links whose query keys are sorted, as DRF's `replace_query_param` writes them.

use serde_json::{json, Value};

use crate::request::ApiRequest;

/// A page request parsed from `?limit=&offset=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitOffset {
    /// Rows per page.
    pub limit: i64,
    /// Rows skipped.
    pub offset: i64,
}

impl LimitOffset {
    /// Parses the query: a missing, invalid, zero or negative limit falls back to
    /// `default_limit`; a bad or negative offset to 0; `max_limit` caps the limit.
    ///
    /// ```
    /// use axum_drf::pagination::LimitOffset;
    /// assert_eq!(LimitOffset::parse(Some("-3"), Some("5"), 100, None), LimitOffset { limit: 100, offset: 5 });
    /// ```
    pub fn parse(
        limit: Option<&str>,
        offset: Option<&str>,
        default_limit: i64,
        max_limit: Option<i64>,
    ) -> Self {
        let limit = limit
            .and_then(python_int)
            .filter(|n| *n > 0)
            .map(|n| max_limit.map_or(n, |m| n.min(m)))
            .unwrap_or(default_limit);
        let offset = offset.and_then(python_int).filter(|n| *n >= 0).unwrap_or(0);
        LimitOffset { limit, offset }
    }

    /// From a request's query string.
    pub fn from_request(req: &ApiRequest, default_limit: i64, max_limit: Option<i64>) -> Self {
        Self::parse(
            req.query_param("limit").as_deref(),
            req.query_param("offset").as_deref(),
            default_limit,
            max_limit,
        )
    }

    /// The paginated body for `count` rows in all and this page's `results`.
    pub fn page(&self, req: &ApiRequest, count: i64, results: Vec<Value>) -> Value {
        let (next, previous) = self.links(req, count);
        json!({"count": count, "next": next, "previous": previous, "results": results})
    }

    /// [`LimitOffset::page`] around results already rendered as a JSON array.
    pub fn page_bytes(&self, req: &ApiRequest, count: i64, results: &[u8]) -> Vec<u8> {
        let (next, previous) = self.links(req, count);
        let mut out = Vec::with_capacity(results.len() + 160);
        out.extend_from_slice(b"{\"count\":");
        out.extend_from_slice(itoa::Buffer::new().format(count).as_bytes());
        for (key, link) in [
            (&b",\"next\":"[..], next),
            (&b",\"previous\":"[..], previous),
        ] {
            out.extend_from_slice(key);
            match link {
                Some(l) => {
                    let _ = serde_json::to_writer(&mut out, &l);
                }
                None => out.extend_from_slice(b"null"),
            }
        }
        out.extend_from_slice(b",\"results\":");
        out.extend_from_slice(results);
        out.push(b'}');
        out
    }

    /// DRF's `get_next_link` / `get_previous_link`.
    fn links(&self, req: &ApiRequest, count: i64) -> (Option<String>, Option<String>) {
        let base = format!("{}{}", req.origin(), req.uri.path());
        let query = req.uri.query().unwrap_or("");
        let next = (self.offset + self.limit < count).then(|| {
            let q = replace_query(
                query,
                &[("limit", self.limit), ("offset", self.offset + self.limit)],
                &[],
            );
            link(&base, &q)
        });
        let previous = (self.offset > 0).then(|| {
            if self.offset - self.limit <= 0 {
                link(
                    &base,
                    &replace_query(query, &[("limit", self.limit)], &["offset"]),
                )
            } else {
                let q = replace_query(
                    query,
                    &[("limit", self.limit), ("offset", self.offset - self.limit)],
                    &[],
                );
                link(&base, &q)
            }
        });
        (next, previous)
    }
}

fn link(base: &str, query: &str) -> String {
    if query.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{query}")
    }
}

/// Python's `int(str)` for the forms a client plausibly sends (sign, surrounding spaces,
/// underscores between digits).
fn python_int(s: &str) -> Option<i64> {
    let t = s.trim();
    let (neg, digits) = match t.as_bytes().first()? {
        b'-' => (true, &t[1..]),
        b'+' => (false, &t[1..]),
        _ => (false, t),
    };
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
    {
        return None;
    }
    let cleaned: String = digits.chars().filter(|c| *c != '_').collect();
    if !cleaned.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let n: i64 = cleaned.parse().ok()?;
    Some(if neg { -n } else { n })
}

/// DRF's `replace_query_param` / `remove_query_param`: parse (keeping blanks), set or drop
/// keys, and re-encode with keys sorted, values in `quote_plus` form.
pub fn replace_query(query: &str, set: &[(&str, i64)], remove: &[&str]) -> String {
    let mut pairs: Vec<(String, Vec<String>)> = Vec::new();
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        match pairs.iter_mut().find(|(key, _)| *key == k) {
            Some((_, values)) => values.push(v.into_owned()),
            None => pairs.push((k.into_owned(), vec![v.into_owned()])),
        }
    }
    pairs.retain(|(k, _)| !remove.contains(&k.as_str()));
    for (key, value) in set {
        let value = vec![value.to_string()];
        match pairs.iter_mut().find(|(k, _)| k == key) {
            Some((_, values)) => *values = value,
            None => pairs.push(((*key).to_owned(), value)),
        }
    }
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out = form_urlencoded::Serializer::new(String::new());
    for (k, values) in &pairs {
        for v in values {
            out.append_pair(k, v);
        }
    }
    out.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_fall_back_like_drf() {
        let p = |l, o| LimitOffset::parse(l, o, 100, None);
        assert_eq!(p(Some("0"), None).limit, 100);
        assert_eq!(
            p(Some("abc"), Some("x")),
            LimitOffset {
                limit: 100,
                offset: 0
            }
        );
        assert_eq!(
            p(Some(" 7 "), Some("-1")),
            LimitOffset {
                limit: 7,
                offset: 0
            }
        );
        assert_eq!(
            LimitOffset::parse(Some("500"), None, 100, Some(200)).limit,
            200
        );
    }

    #[test]
    fn query_is_sorted_and_replaced() {
        assert_eq!(
            replace_query(
                "offset=4&limit=2&a=x+y",
                &[("limit", 2), ("offset", 6)],
                &[]
            ),
            "a=x+y&limit=2&offset=6"
        );
        assert_eq!(
            replace_query("offset=2&limit=2", &[("limit", 2)], &["offset"]),
            "limit=2"
        );
        assert_eq!(
            replace_query("missing=&limit=1", &[("limit", 1)], &[]),
            "limit=1&missing="
        );
    }
}
