//! Permissions: small composable checks with DRF's semantics.
//!
//! A [`Permission`] answers two questions: may this request reach the view at all
//! (`has_permission`, every request), and may it act on this one object
//! (`has_object_permission`, only when a single object is fetched, after the 404 check).
//! Both default to "yes". Combine them with `&`, `|` and `!` through [`Perm`].
//!
//! Writing the seed's `IsOwner` takes a few lines:
//!
//! ```
//! use axum_drf::permissions::{Access, Object, Permission};
//!
//! struct IsOwner;
//! impl Permission for IsOwner {
//!     fn has_object_permission(&self, access: &Access<'_>, obj: &dyn Object) -> bool {
//!         access.user_id().is_some() && access.user_id() == obj.owner_id()
//!     }
//!     fn message(&self) -> Option<&str> {
//!         Some("Not an owner.")
//!     }
//! }
//! ```

mod builtins;
mod compose;

use std::sync::Arc;

use axum::http::Method;

pub use builtins::{AllowAny, IsAdminUser, IsAuthenticated, IsAuthenticatedOrReadOnly};
pub use compose::{And, Not, Or, Perm};

use crate::auth::{Identity, User};

/// What a permission sees of the request.
#[derive(Clone, Copy, Debug)]
pub struct Access<'a> {
    /// The HTTP method.
    pub method: &'a Method,
    /// Who is asking.
    pub identity: &'a Identity,
}

impl Access<'_> {
    /// The authenticated user, if any.
    pub fn user(&self) -> Option<&User> {
        self.identity.user()
    }

    /// The authenticated user's id, if any.
    pub fn user_id(&self) -> Option<i64> {
        self.user().map(|u| u.id)
    }

    /// GET, HEAD or OPTIONS (DRF's `SAFE_METHODS`).
    pub fn is_safe_method(&self) -> bool {
        is_safe(self.method)
    }
}

/// DRF's `SAFE_METHODS`: GET, HEAD, OPTIONS.
pub fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// An object a permission can be asked about.
pub trait Object: Send + Sync {
    /// The id of the user who owns it, for ownership checks.
    fn owner_id(&self) -> Option<i64> {
        None
    }
}

/// A permission check. Both methods default to allowing.
pub trait Permission: Send + Sync + 'static {
    /// Checked on every request before the handler runs.
    fn has_permission(&self, _access: &Access<'_>) -> bool {
        true
    }

    /// Checked when a single object is fetched, after `has_permission` passed.
    fn has_object_permission(&self, _access: &Access<'_>, _obj: &dyn Object) -> bool {
        true
    }

    /// The 403 message when this permission denies an authenticated user; `None` means
    /// DRF's default "You do not have permission to perform this action.".
    fn message(&self) -> Option<&str> {
        None
    }

    /// View-level check with the message to deny with (`Err(None)`: DRF's default text).
    /// Combinators override it so the operand that denied supplies the message, as a DRF
    /// `permission_classes` list does.
    fn check(&self, access: &Access<'_>) -> Result<(), Option<String>> {
        if self.has_permission(access) {
            Ok(())
        } else {
            Err(self.message().map(str::to_owned))
        }
    }

    /// Object-level counterpart of [`Permission::check`].
    fn check_object(&self, access: &Access<'_>, obj: &dyn Object) -> Result<(), Option<String>> {
        if self.has_object_permission(access, obj) {
            Ok(())
        } else {
            Err(self.message().map(str::to_owned))
        }
    }
}

impl<P: Permission + ?Sized> Permission for Arc<P> {
    fn has_permission(&self, access: &Access<'_>) -> bool {
        (**self).has_permission(access)
    }
    fn has_object_permission(&self, access: &Access<'_>, obj: &dyn Object) -> bool {
        (**self).has_object_permission(access, obj)
    }
    fn message(&self) -> Option<&str> {
        (**self).message()
    }
    fn check(&self, access: &Access<'_>) -> Result<(), Option<String>> {
        (**self).check(access)
    }
    fn check_object(&self, access: &Access<'_>, obj: &dyn Object) -> Result<(), Option<String>> {
        (**self).check_object(access, obj)
    }
}

impl<P: Permission + ?Sized> Permission for Box<P> {
    fn has_permission(&self, access: &Access<'_>) -> bool {
        (**self).has_permission(access)
    }
    fn has_object_permission(&self, access: &Access<'_>, obj: &dyn Object) -> bool {
        (**self).has_object_permission(access, obj)
    }
    fn message(&self) -> Option<&str> {
        (**self).message()
    }
    fn check(&self, access: &Access<'_>) -> Result<(), Option<String>> {
        (**self).check(access)
    }
    fn check_object(&self, access: &Access<'_>, obj: &dyn Object) -> Result<(), Option<String>> {
        (**self).check_object(access, obj)
    }
}

/// DRF's `permission_denied`: anonymous requests get 401 "not authenticated" (with the
/// first authenticator's challenge), authenticated ones 403 with the permission's message.
pub fn denied(
    identity: &Identity,
    message: Option<&str>,
    challenge: Option<&'static str>,
) -> crate::error::ApiError {
    if !identity.is_authenticated() {
        return crate::error::ApiError::not_authenticated(challenge);
    }
    crate::error::ApiError::PermissionDenied(
        message
            .unwrap_or(crate::error::PERMISSION_DENIED)
            .to_owned(),
    )
}
