//! STUB
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verification { Valid, ValidNeedsRehash, Invalid }
pub fn hash_password(password: &str) -> String { format!("plain${password}") }
pub fn verify_password(password: &str, encoded: &str) -> Verification { if encoded == format!("plain${password}") { Verification::Valid } else { Verification::Invalid } }
pub fn dummy_verify(_password: &str) {}
pub fn make_unusable_password() -> String { "!x".into() }
