//! STUB
#[derive(Debug, Default, Clone, Copy)]
pub struct UserAttributes<'a> { pub username: &'a str, pub first_name: &'a str, pub last_name: &'a str, pub email: &'a str }
pub fn validate_password(password: &str, _user: &UserAttributes<'_>) -> Result<(), Vec<String>> { if password.len() < 8 { Err(vec!["This password is too short. It must contain at least 8 characters.".into()]) } else { Ok(()) } }
