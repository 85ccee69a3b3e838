//! DRF's built-in permission classes.

use super::{Access, Permission};

/// Allows every request (DRF's `AllowAny`); the way a route opts out of authentication.
#[derive(Debug, Clone, Copy, Default)]
pub struct AllowAny;
impl Permission for AllowAny {}

/// Only authenticated users (DRF's `IsAuthenticated`).
#[derive(Debug, Clone, Copy, Default)]
pub struct IsAuthenticated;
impl Permission for IsAuthenticated {
    fn has_permission(&self, access: &Access<'_>) -> bool {
        access.identity.is_authenticated()
    }
}

/// Anyone may read (GET/HEAD/OPTIONS); writes need a user (DRF's
/// `IsAuthenticatedOrReadOnly`).
#[derive(Debug, Clone, Copy, Default)]
pub struct IsAuthenticatedOrReadOnly;
impl Permission for IsAuthenticatedOrReadOnly {
    fn has_permission(&self, access: &Access<'_>) -> bool {
        access.is_safe_method() || access.identity.is_authenticated()
    }
}

/// Staff only: `is_staff`, not `is_superuser` (DRF's `IsAdminUser`).
#[derive(Debug, Clone, Copy, Default)]
pub struct IsAdminUser;
impl Permission for IsAdminUser {
    fn has_permission(&self, access: &Access<'_>) -> bool {
        access.user().is_some_and(|u| u.is_staff)
    }
}
