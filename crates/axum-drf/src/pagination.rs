//! DRF's `LimitOffsetPagination`: `{"count", "next", "previous", "results"}` with absolute
//! links whose query keys are sorted, as DRF's `replace_query_param` writes them.

use serde_json::{json, Value};

use crate::python::PyInt;
use crate::request::ApiRequest;

/// A page request parsed from `?limit=&offset=`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitOffset {
    /// Rows per page, for SQL (saturated at `i64::MAX`).
    pub limit: i64,
    /// Rows skipped, for SQL (saturated at `i64::MAX`).
    pub offset: i64,
    // The exact Python integers, which the links carry even beyond 64 bits.
    exact_limit: PyInt,
    exact_offset: PyInt,
}

impl LimitOffset {
    /// Parses the query as DRF's `_positive_int` does (Python's `int()`): a missing,
    /// invalid, zero or negative limit falls back to `default_limit`; a bad or negative
    /// offset to 0; `max_limit` caps the limit. Values of any size are kept exactly.
    ///
    /// ```
    /// use axum_drf::pagination::LimitOffset;
    /// let page = LimitOffset::parse(Some("-3"), Some(" 5"), 100, None);
    /// assert_eq!((page.limit, page.offset), (100, 5));
    /// let huge = LimitOffset::parse(Some("99999999999999999999"), None, 100, None);
    /// assert_eq!(huge.limit, i64::MAX);
    /// ```
    pub fn parse(
        limit: Option<&str>,
        offset: Option<&str>,
        default_limit: i64,
        max_limit: Option<i64>,
    ) -> Self {
        let exact_limit = limit
            .and_then(PyInt::parse)
            .filter(|n| !n.is_negative() && !n.is_zero())
            .map(|n| match max_limit {
                Some(m) if m > 0 && PyInt::from_i64(m).lt(&n) => PyInt::from_i64(m),
                _ => n,
            })
            .unwrap_or_else(|| PyInt::from_i64(default_limit));
        let exact_offset = offset
            .and_then(PyInt::parse)
            .filter(|n| !n.is_negative())
            .unwrap_or_else(|| PyInt::from_i64(0));
        LimitOffset {
            limit: exact_limit.to_i64().unwrap_or(i64::MAX),
            offset: exact_offset.to_i64().unwrap_or(i64::MAX),
            exact_limit,
            exact_offset,
        }
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
        let (next, previous) = self.request_links(req, count);
        json!({"count": count, "next": next, "previous": previous, "results": results})
    }

    /// [`LimitOffset::page`] around results already rendered as a JSON array.
    pub fn page_bytes(&self, req: &ApiRequest, count: i64, results: &[u8]) -> Vec<u8> {
        let (next, previous) = self.request_links(req, count);
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

    fn request_links(&self, req: &ApiRequest, count: i64) -> (Option<String>, Option<String>) {
        let base = format!("{}{}", req.origin(), req.uri.path());
        self.links(&base, req.uri.query().unwrap_or(""), count)
    }

    /// DRF's `get_next_link` / `get_previous_link` for the page of `base?query` (the
    /// absolute URL as requested, format suffix included).
    ///
    /// ```
    /// use axum_drf::pagination::LimitOffset;
    /// let page = LimitOffset::parse(Some("2"), Some("1"), 100, None);
    /// let (next, previous) = page.links("http://h/x.json", "limit=2&offset=1", 10);
    /// assert_eq!(next.as_deref(), Some("http://h/x.json?limit=2&offset=3"));
    /// assert_eq!(previous.as_deref(), Some("http://h/x.json?limit=2"));
    /// ```
    pub fn links(&self, base: &str, query: &str, count: i64) -> (Option<String>, Option<String>) {
        let limit = self.exact_limit.to_string();
        let end = self.exact_offset.add(&self.exact_limit);
        let next = PyInt::from_i64(count).gt(&end).then(|| {
            let offset = end.to_string();
            link(
                base,
                &replace_query(query, &[("limit", &limit), ("offset", &offset)], &[]),
            )
        });
        let previous = (!self.exact_offset.is_zero()).then(|| {
            let back = self.exact_offset.sub(&self.exact_limit);
            if back.is_negative() || back.is_zero() {
                link(
                    base,
                    &replace_query(query, &[("limit", &limit)], &["offset"]),
                )
            } else {
                let offset = back.to_string();
                link(
                    base,
                    &replace_query(query, &[("limit", &limit), ("offset", &offset)], &[]),
                )
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

/// DRF's `replace_query_param` / `remove_query_param`: parse (keeping blanks), set or drop
/// keys, and re-encode with keys sorted, values in `quote_plus` form.
pub fn replace_query(query: &str, set: &[(&str, &str)], remove: &[&str]) -> String {
    let mut pairs: Vec<(String, Vec<String>)> = Vec::new();
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        match pairs.iter_mut().find(|(key, _)| *key == k) {
            Some((_, values)) => values.push(v.into_owned()),
            None => pairs.push((k.into_owned(), vec![v.into_owned()])),
        }
    }
    pairs.retain(|(k, _)| !remove.contains(&k.as_str()));
    for (key, value) in set {
        let value = vec![(*value).to_owned()];
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
        let p = |l, o| {
            let page = LimitOffset::parse(l, o, 100, None);
            (page.limit, page.offset)
        };
        assert_eq!(p(Some("0"), None).0, 100);
        assert_eq!(p(Some("abc"), Some("x")), (100, 0));
        assert_eq!(p(Some(" 7 "), Some("-1")), (7, 0));
        assert_eq!(
            LimitOffset::parse(Some("500"), None, 100, Some(200)).limit,
            200
        );
    }

    #[test]
    fn huge_values_stay_exact_in_links() {
        // Before: the offset overflowed into a negative number in the link.
        let page = LimitOffset::parse(Some("9223372036854775807"), Some("5"), 100, None);
        assert_eq!(page.links("http://h/x/", "", 10).0, None);
        let page = LimitOffset::parse(Some("2"), Some("99999999999999999999"), 100, None);
        assert_eq!(
            page.links("http://h/x/", "", 10).1.as_deref(),
            Some("http://h/x/?limit=2&offset=99999999999999999997")
        );
    }

    #[test]
    fn query_is_sorted_and_replaced() {
        assert_eq!(
            replace_query(
                "offset=4&limit=2&a=x+y",
                &[("limit", "2"), ("offset", "6")],
                &[]
            ),
            "a=x+y&limit=2&offset=6"
        );
        assert_eq!(
            replace_query("offset=2&limit=2", &[("limit", "2")], &["offset"]),
            "limit=2"
        );
        assert_eq!(
            replace_query("missing=&limit=1", &[("limit", "1")], &[]),
            "limit=1&missing="
        );
    }
}
