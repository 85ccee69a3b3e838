//! AND / OR / NOT with DRF >= 3.15 semantics.
//!
//! The `try_` forms carry the logic so that a class raising (404, 405) stops the
//! evaluation exactly where Python's short-circuiting `and` / `or` would have.

use std::ops::{BitAnd, BitOr, Not as NotOp};
use std::sync::Arc;

use super::{Access, Halt, Needs, Object, Permission, Refusal};

/// Both must allow. Stands for DRF's `permission_classes` list `[A, B]`: the message is
/// the first denying operand's. The object check does not re-run `has_permission` (the
/// view-level check already passed both).
pub struct And(pub Arc<dyn Permission>, pub Arc<dyn Permission>);
/// Either may allow. For objects, an operand counts only if it passes both its view-level
/// and object-level checks (DRF >= 3.15, the fix for DRF #6402/#7117). Denies with DRF's
/// default message, as DRF's `OR` has none.
pub struct Or(pub Arc<dyn Permission>, pub Arc<dyn Permission>);
/// Inverts a permission. `~` of an object-only permission denies at view level, since its
/// `has_permission` is `true`. Denies with DRF's default message.
pub struct Not(pub Arc<dyn Permission>);

impl Permission for And {
    fn has_permission(&self, a: &Access<'_>) -> bool {
        self.try_has_permission(a).unwrap_or(false)
    }
    fn has_object_permission(&self, a: &Access<'_>, o: &dyn Object) -> bool {
        self.try_has_object_permission(a, o).unwrap_or(false)
    }
    fn needs(&self) -> Needs {
        self.0.needs() | self.1.needs()
    }
    fn try_has_permission(&self, a: &Access<'_>) -> Result<bool, Halt> {
        Ok(self.0.try_has_permission(a)? && self.1.try_has_permission(a)?)
    }
    fn try_has_object_permission(&self, a: &Access<'_>, o: &dyn Object) -> Result<bool, Halt> {
        Ok(self.0.try_has_object_permission(a, o)? && self.1.try_has_object_permission(a, o)?)
    }
    fn check(&self, a: &Access<'_>) -> Result<(), Refusal> {
        self.0.check(a)?;
        self.1.check(a)
    }
    fn check_object(&self, a: &Access<'_>, o: &dyn Object) -> Result<(), Refusal> {
        self.0.check_object(a, o)?;
        self.1.check_object(a, o)
    }
}

impl Permission for Or {
    fn has_permission(&self, a: &Access<'_>) -> bool {
        self.try_has_permission(a).unwrap_or(false)
    }
    fn has_object_permission(&self, a: &Access<'_>, o: &dyn Object) -> bool {
        self.try_has_object_permission(a, o).unwrap_or(false)
    }
    fn needs(&self) -> Needs {
        self.0.needs() | self.1.needs()
    }
    fn try_has_permission(&self, a: &Access<'_>) -> Result<bool, Halt> {
        Ok(self.0.try_has_permission(a)? || self.1.try_has_permission(a)?)
    }
    fn try_has_object_permission(&self, a: &Access<'_>, o: &dyn Object) -> Result<bool, Halt> {
        Ok(
            (self.0.try_has_permission(a)? && self.0.try_has_object_permission(a, o)?)
                || (self.1.try_has_permission(a)? && self.1.try_has_object_permission(a, o)?),
        )
    }
}

impl Permission for Not {
    fn has_permission(&self, a: &Access<'_>) -> bool {
        self.try_has_permission(a).unwrap_or(false)
    }
    fn has_object_permission(&self, a: &Access<'_>, o: &dyn Object) -> bool {
        self.try_has_object_permission(a, o).unwrap_or(false)
    }
    fn needs(&self) -> Needs {
        self.0.needs()
    }
    fn try_has_permission(&self, a: &Access<'_>) -> Result<bool, Halt> {
        Ok(!self.0.try_has_permission(a)?)
    }
    fn try_has_object_permission(&self, a: &Access<'_>, o: &dyn Object) -> Result<bool, Halt> {
        Ok(!self.0.try_has_object_permission(a, o)?)
    }
}

/// A shareable permission that composes with `&`, `|` and `!` (DRF's `&`, `|`, `~`).
///
/// ```
/// use axum_drf::permissions::{IsAdminUser, IsAuthenticated, IsAuthenticatedOrReadOnly, Perm, Permission};
/// let policy = Perm::new(IsAuthenticated) & (Perm::new(IsAdminUser) | !Perm::new(IsAuthenticatedOrReadOnly));
/// assert!(!policy.needs().model_perms);
/// ```
#[derive(Clone)]
pub struct Perm(pub Arc<dyn Permission>);

impl std::fmt::Debug for Perm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Perm(..)")
    }
}

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
    fn needs(&self) -> Needs {
        self.0.needs()
    }
    fn try_has_permission(&self, a: &Access<'_>) -> Result<bool, Halt> {
        self.0.try_has_permission(a)
    }
    fn try_has_object_permission(&self, a: &Access<'_>, o: &dyn Object) -> Result<bool, Halt> {
        self.0.try_has_object_permission(a, o)
    }
    fn check(&self, a: &Access<'_>) -> Result<(), Refusal> {
        self.0.check(a)
    }
    fn check_object(&self, a: &Access<'_>, o: &dyn Object) -> Result<(), Refusal> {
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
