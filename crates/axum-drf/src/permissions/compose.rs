//! AND / OR / NOT with DRF >= 3.15 semantics.

use std::ops::{BitAnd, BitOr, Not as NotOp};
use std::sync::Arc;

use super::{Access, Object, Permission};

/// Both must allow. The message is the first denying operand's.
pub struct And(pub Arc<dyn Permission>, pub Arc<dyn Permission>);
/// Either may allow. For objects, an operand counts only if it passes both its view-level
/// and object-level checks (the fix for DRF #6402/#7720).
pub struct Or(pub Arc<dyn Permission>, pub Arc<dyn Permission>);
/// Inverts a permission. `!` of an object-only permission denies at view level, since its
/// `has_permission` is `true`.
pub struct Not(pub Arc<dyn Permission>);

impl Permission for And {
    fn has_permission(&self, a: &Access<'_>) -> bool {
        self.0.has_permission(a) && self.1.has_permission(a)
    }
    fn has_object_permission(&self, a: &Access<'_>, o: &dyn Object) -> bool {
        self.0.has_object_permission(a, o) && self.1.has_object_permission(a, o)
    }
    fn check(&self, a: &Access<'_>) -> Result<(), Option<String>> {
        self.0.check(a)?;
        self.1.check(a)
    }
    fn check_object(&self, a: &Access<'_>, o: &dyn Object) -> Result<(), Option<String>> {
        self.0.check_object(a, o)?;
        self.1.check_object(a, o)
    }
}

impl Permission for Or {
    fn has_permission(&self, a: &Access<'_>) -> bool {
        self.0.has_permission(a) || self.1.has_permission(a)
    }
    fn has_object_permission(&self, a: &Access<'_>, o: &dyn Object) -> bool {
        (self.0.has_permission(a) && self.0.has_object_permission(a, o))
            || (self.1.has_permission(a) && self.1.has_object_permission(a, o))
    }
}

impl Permission for Not {
    fn has_permission(&self, a: &Access<'_>) -> bool {
        !self.0.has_permission(a)
    }
    fn has_object_permission(&self, a: &Access<'_>, o: &dyn Object) -> bool {
        !self.0.has_object_permission(a, o)
    }
}

/// A shareable permission that composes with `&`, `|` and `!`.
///
/// ```
/// use axum_drf::permissions::{IsAdminUser, IsAuthenticated, IsAuthenticatedOrReadOnly, Perm};
/// let policy = Perm::new(IsAuthenticated) & (Perm::new(IsAdminUser) | !Perm::new(IsAuthenticatedOrReadOnly));
/// # let _ = policy;
/// ```
#[derive(Clone)]
pub struct Perm(pub Arc<dyn Permission>);

impl Perm {
    /// Wraps a permission.
    pub fn new(p: impl Permission) -> Self {
        Perm(Arc::new(p))
    }
}

impl Permission for Perm {
    fn has_permission(&self, a: &Access<'_>) -> bool {
        self.0.has_permission(a)
    }
    fn has_object_permission(&self, a: &Access<'_>, o: &dyn Object) -> bool {
        self.0.has_object_permission(a, o)
    }
    fn message(&self) -> Option<&str> {
        self.0.message()
    }
    fn check(&self, a: &Access<'_>) -> Result<(), Option<String>> {
        self.0.check(a)
    }
    fn check_object(&self, a: &Access<'_>, o: &dyn Object) -> Result<(), Option<String>> {
        self.0.check_object(a, o)
    }
}

impl BitAnd for Perm {
    type Output = Perm;
    fn bitand(self, rhs: Perm) -> Perm {
        Perm(Arc::new(And(self.0, rhs.0)))
    }
}

impl BitOr for Perm {
    type Output = Perm;
    fn bitor(self, rhs: Perm) -> Perm {
        Perm(Arc::new(Or(self.0, rhs.0)))
    }
}

impl NotOp for Perm {
    type Output = Perm;
    fn not(self) -> Perm {
        Perm(Arc::new(Not(self.0)))
    }
}
