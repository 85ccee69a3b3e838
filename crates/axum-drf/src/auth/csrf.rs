//! STUB
pub struct CsrfRequest<'a> { pub method: &'a str, pub is_secure: bool, pub host: Option<&'a str>, pub origin: Option<&'a str>, pub referer: Option<&'a str>, pub cookie_token: Option<&'a str>, pub header_token: Option<&'a str>, pub form_token: Option<&'a str>, pub trusted_origins: &'a [String] }
pub fn check(req: &CsrfRequest<'_>) -> Result<(), String> { if req.cookie_token.is_none() { return Err("CSRF cookie not set.".into()) } if req.header_token.or(req.form_token).is_none() { return Err("CSRF token missing.".into()) } if req.header_token != req.cookie_token { return Err("CSRF token from the 'X-Csrftoken' HTTP header incorrect.".into()) } Ok(()) }
pub fn new_secret() -> String { "A".repeat(32) }
pub fn mask(secret: &str) -> String { secret.into() }
