//! The seed tutorial's object permission.

use axum_drf::permissions::{Access, Object, Permission};

/// Only the owner may touch the object (`request.user == obj.owner`).
#[derive(Debug, Clone, Copy, Default)]
pub struct IsOwner;

impl Permission for IsOwner {
    fn has_object_permission(&self, access: &Access<'_>, obj: &dyn Object) -> bool {
        access.user_id().is_some() && access.user_id() == obj.owner_id()
    }

    fn message(&self) -> Option<&str> {
        Some("Not an owner.")
    }
}
