//! STUB
pub struct SetCookie<'a> { pub name: &'a str, pub value: &'a str, pub max_age: Option<i64>, pub http_only: bool, pub secure: bool, pub same_site: Option<&'a str>, pub path: &'a str, pub domain: Option<&'a str> }
impl SetCookie<'_> { pub fn to_header_value(&self) -> String { let mut s = format!("{}={}; Path={}", self.name, self.value, self.path); if self.http_only { s.push_str("; HttpOnly"); } if let Some(m) = self.max_age { s.push_str(&format!("; Max-Age={m}")); } if let Some(ss) = self.same_site { s.push_str(&format!("; SameSite={ss}")); } s } }
pub fn deletion(name: &str, path: &str, _domain: Option<&str>) -> String { format!("{name}=\"\"; expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path={path}") }
pub fn get_cookie<'a>(cookie_header: &'a str, name: &str) -> Option<&'a str> { cookie_header.split(';').filter_map(|p| p.trim().split_once('=')).filter(|(k, _)| *k == name).map(|(_, v)| v).last() }
