//! DRF's `DefaultContentNegotiation.select_renderer` for the default renderer pair
//! `[JSONRenderer, BrowsableAPIRenderer]`, including its Accept-header limits and its
//! precedence rules (which ignore `q` values entirely).

use super::header::{parse_header_parameters, py_strip};

/// A renderer DRF could pick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Renderer {
    /// `JSONRenderer`: `application/json`, format `json`.
    Json,
    /// `BrowsableAPIRenderer`: `text/html`, format `api`. The view path renders its answer
    /// as the browsable page ([`crate::browsable`]) when the state enables it, else as JSON.
    BrowsableApi,
}

impl Renderer {
    /// The renderer's `media_type`.
    pub fn media_type(self) -> &'static str {
        match self {
            Renderer::Json => "application/json",
            Renderer::BrowsableApi => "text/html",
        }
    }

    /// The renderer's `format`, as matched by `?format=` or a URL suffix.
    pub fn format(self) -> &'static str {
        match self {
            Renderer::Json => "json",
            Renderer::BrowsableApi => "api",
        }
    }
}

/// The outcome of content negotiation: DRF's `(accepted_renderer, accepted_media_type)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    /// The renderer DRF would use.
    pub renderer: Renderer,
    /// DRF's `request.accepted_media_type`, e.g. `application/json; indent=4`, or
    /// `application/json;indent=2` when the client sent `*/*;indent=2`.
    pub media_type: String,
}

impl Negotiated {
    /// The indentation DRF's JSONRenderer uses: the `indent` parameter of the accepted media
    /// type, clamped to 0..=8, with 0 (or none, or not an integer) meaning compact output.
    /// Always `None` where DRF would have rendered the browsable HTML page.
    ///
    /// ```
    /// use axum_drf::parsers::select_renderer;
    /// let n = select_renderer(Some("application/json; indent=4"), None).unwrap();
    /// assert_eq!(n.json_indent(), Some(4));
    /// ```
    pub fn json_indent(&self) -> Option<usize> {
        if self.renderer != Renderer::Json {
            return None;
        }
        let params = parse_header_parameters(&self.media_type).ok()?;
        let indent = crate::python::PyInt::parse(params.get("indent")?)?;
        // Clamped to 0..=8 as DRF does, so any size saturates.
        let indent = if indent.is_negative() {
            0
        } else {
            indent.to_i64().unwrap_or(i64::MAX)
        };
        match indent.clamp(0, 8) {
            0 => None,
            n => Some(n as usize),
        }
    }
}

/// Why negotiation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NegotiationError {
    /// 406 `{"detail": "Could not satisfy the request Accept header."}`.
    #[error("Could not satisfy the request Accept header.")]
    NotAcceptable,
    /// 404 `{"detail": "Not found."}`: a `?format=` or URL suffix no renderer has.
    #[error("Not found.")]
    NotFound,
}

/// DRF's limits on the Accept header (`DefaultContentNegotiation` class attributes).
const MAX_ACCEPT_HEADER_LENGTH: usize = 8192;
const MAX_ACCEPT_TOKENS: usize = 64;
pub(crate) const MAX_MEDIA_TYPE_LENGTH: usize = 256;

/// DRF's `_MediaType`.
pub(crate) struct MediaType {
    orig: String,
    main_type: String,
    sub_type: String,
    params: Vec<(String, String)>,
}

impl MediaType {
    pub(crate) fn parse(s: &str) -> MediaType {
        // Django's ValueError (bad RFC 2231 charset) degrades to a type that matches nothing.
        let parsed = parse_header_parameters(s).unwrap_or_default();
        let (main_type, sub_type) = match parsed.main.split_once('/') {
            Some((m, s)) => (m.to_owned(), s.to_owned()),
            None => (parsed.main.clone(), String::new()),
        };
        MediaType {
            orig: s.to_owned(),
            main_type,
            sub_type,
            params: parsed.params,
        }
    }

    /// `self.match(other)`: every parameter of self except q must be equal in other, and
    /// type and subtype must be equal unless either side is `*`.
    pub(crate) fn matches(&self, other: &MediaType) -> bool {
        let param = |m: &MediaType, k: &str| {
            m.params
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.clone())
        };
        self.params
            .iter()
            .all(|(k, _)| k == "q" || param(other, k) == param(self, k))
            && (self.sub_type == "*" || other.sub_type == "*" || other.sub_type == self.sub_type)
            && (self.main_type == "*"
                || other.main_type == "*"
                || other.main_type == self.main_type)
    }

    /// 3 for `type/subtype; param=val`, 2 for `type/subtype` (a lone `q` does not count),
    /// 1 for `type/*`, 0 for `*/*`.
    fn precedence(&self) -> u8 {
        if self.main_type == "*" {
            0
        } else if self.sub_type == "*" {
            1
        } else if self.params.is_empty() || (self.params.len() == 1 && self.params[0].0 == "q") {
            2
        } else {
            3
        }
    }
}

/// `get_accept_list`: the header (default `*/*`) cut to 8192 characters at a comma, split on
/// commas, stripped, empty and over-long (>256) tokens skipped, at most 64 kept.
fn accept_tokens(header: Option<&str>) -> Vec<String> {
    let header = header.unwrap_or("*/*");
    let header: String = if header.chars().count() > MAX_ACCEPT_HEADER_LENGTH {
        let head: String = header.chars().take(MAX_ACCEPT_HEADER_LENGTH).collect();
        match head.rfind(',') {
            Some(cut) => head[..=cut].to_owned(),
            None => String::new(),
        }
    } else {
        header.to_owned()
    };
    let mut tokens = Vec::new();
    for token in header.split(',') {
        let token = py_strip(token);
        if token.is_empty() || token.chars().count() > MAX_MEDIA_TYPE_LENGTH {
            continue;
        }
        tokens.push(token.to_owned());
        if tokens.len() >= MAX_ACCEPT_TOKENS {
            break;
        }
    }
    tokens
}

/// DRF's `DefaultContentNegotiation.select_renderer` with renderers `[JSON, BrowsableAPI]`.
///
/// `format` is the URL format suffix (`.json`) if the route has one, else the `?format=`
/// query parameter; DRF prefers the suffix. An empty format is ignored, as in DRF. The most
/// specific Accept entries are tried first, JSON before HTML among equally specific ones;
/// `q` values are never compared (`application/json; q=0` still selects JSON).
///
/// ```
/// use axum_drf::parsers::{select_renderer, NegotiationError, Renderer};
/// assert_eq!(select_renderer(None, None).unwrap().renderer, Renderer::Json);
/// assert_eq!(
///     select_renderer(Some("text/html"), None).unwrap().renderer,
///     Renderer::BrowsableApi
/// );
/// assert_eq!(select_renderer(Some("text/html"), Some("json")), Err(NegotiationError::NotAcceptable));
/// assert_eq!(select_renderer(None, Some("xml")), Err(NegotiationError::NotFound));
/// ```
pub fn select_renderer(
    accept: Option<&str>,
    format: Option<&str>,
) -> Result<Negotiated, NegotiationError> {
    select_renderer_from(accept, format, &[Renderer::Json, Renderer::BrowsableApi])
}

/// [`select_renderer`] for a view with its own renderer list, e.g. DRF's `ObtainAuthToken`,
/// which renders JSON only and so answers `Accept: text/html` with 406.
///
/// ```
/// use axum_drf::parsers::{select_renderer_from, NegotiationError, Renderer};
/// let json_only = [Renderer::Json];
/// assert_eq!(select_renderer_from(Some("text/html"), None, &json_only), Err(NegotiationError::NotAcceptable));
/// assert!(select_renderer_from(Some("text/html, */*"), None, &json_only).is_ok());
/// ```
pub fn select_renderer_from(
    accept: Option<&str>,
    format: Option<&str>,
    available: &[Renderer],
) -> Result<Negotiated, NegotiationError> {
    let mut renderers = available.to_vec();
    if let Some(format) = format.filter(|f| !f.is_empty()) {
        renderers.retain(|r| r.format() == format);
        if renderers.is_empty() {
            return Err(NegotiationError::NotFound);
        }
    }
    let accepts: Vec<MediaType> = accept_tokens(accept)
        .iter()
        .map(|t| MediaType::parse(t))
        .collect();
    for precedence in (0..=3).rev() {
        // DRF groups equally specific entries in a set (arbitrary order); header order here.
        let level: Vec<&MediaType> = accepts
            .iter()
            .filter(|m| m.precedence() == precedence)
            .collect();
        for &renderer in &renderers {
            let own = MediaType::parse(renderer.media_type());
            if let Some(wanted) = level.iter().find(|m| own.matches(m)) {
                let media_type = if own.precedence() > wanted.precedence() {
                    // `*/*;indent=2` accepts as `application/json;indent=2`.
                    std::iter::once(renderer.media_type().to_owned())
                        .chain(wanted.params.iter().map(|(k, v)| format!("{k}={v}")))
                        .collect::<Vec<_>>()
                        .join(";")
                } else {
                    wanted.orig.clone()
                };
                return Ok(Negotiated {
                    renderer,
                    media_type,
                });
            }
        }
    }
    Err(NegotiationError::NotAcceptable)
}

/// DRF's DefaultContentNegotiation over `[JSON ("application/json", format "json"),
/// BrowsableAPI ("text/html", format "api")]`: `Ok(())` when the request can be answered,
/// [`NegotiationError::NotAcceptable`] for a 406 and [`NegotiationError::NotFound`] for a
/// 404 (unknown format). DRF negotiates before authenticating, so these win over a 401.
///
/// Where DRF would pick the browsable HTML page (an Accept preferring `text/html`, or
/// `?format=api`), this says `Ok` too: the view path then renders the browsable page
/// ([`crate::browsable`]), or JSON when the application turned it off. Note that
/// `?format=json` is not a free pass: with `Accept: text/html` DRF answers 406, and so
/// does this. Use [`select_renderer`] for the accepted media type and its `indent`.
///
/// ```
/// use axum_drf::parsers::{negotiate, NegotiationError};
/// assert_eq!(negotiate(None, None), Ok(()));
/// assert_eq!(negotiate(Some("application/json; indent=4"), None), Ok(()));
/// assert_eq!(negotiate(Some("text/html"), None), Ok(()));
/// assert_eq!(negotiate(Some("application/xml"), None), Err(NegotiationError::NotAcceptable));
/// assert_eq!(negotiate(Some("application/json"), Some("xml")), Err(NegotiationError::NotFound));
/// ```
pub fn negotiate(accept: Option<&str>, format: Option<&str>) -> Result<(), NegotiationError> {
    select_renderer(accept, format).map(|_| ())
}
