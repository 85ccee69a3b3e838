//! STUB
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ParseError {
    #[error("Unsupported media type \"{0}\" in request.")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    Malformed(String),
}
pub fn parse_body(
    content_type: Option<&str>,
    body: &[u8],
) -> Result<serde_json::Value, ParseError> {
    if body.is_empty() {
        return Ok(serde_json::json!({}));
    }
    let ct = content_type.unwrap_or("");
    let media = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match media.as_str() {
        "application/json" => serde_json::from_slice(body)
            .map_err(|e| ParseError::Malformed(format!("JSON parse error - {e}"))),
        "application/x-www-form-urlencoded" => Ok(serde_json::Value::Object(
            form_urlencoded::parse(body)
                .map(|(k, v)| (k.into_owned(), serde_json::Value::String(v.into_owned())))
                .collect(),
        )),
        _ => Err(ParseError::UnsupportedMediaType(ct.to_owned())),
    }
}
pub enum NegotiationError {
    NotAcceptable,
    NotFound,
}
pub fn negotiate(accept: Option<&str>, format: Option<&str>) -> Result<(), NegotiationError> {
    if let Some(f) = format {
        return if f == "json" {
            Ok(())
        } else {
            Err(NegotiationError::NotFound)
        };
    }
    match accept {
        None => Ok(()),
        Some(a)
            if a.contains("json")
                || a.contains("*/*")
                || a.contains("text/html")
                || a.contains("application/*") =>
        {
            Ok(())
        }
        _ => Err(NegotiationError::NotAcceptable),
    }
}
