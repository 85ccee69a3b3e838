//! Permissions: small composable checks with DRF's semantics.
//!
//! A [`Permission`] answers two questions: may this request reach the view at all
//! (`has_permission`, every request), and may it act on this one object
//! (`has_object_permission`, only when a single object is fetched, after the 404 check).
//! Both default to "yes". Combine them with `&`, `|` and `!` through [`Perm`], or from
//! configuration text with [`Registry::parse`] (`"IsAuthenticated & (IsOwner | ~IsAdminUser)"`,
//! DRF's `&`, `|`, `~`).
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
//!
//! # Built-ins
//!
//! | class | `has_permission` | `has_object_permission` |
//! |---|---|---|
//! | [`AllowAny`] | yes | yes |
//! | [`IsAuthenticated`] | a user is logged in | yes |
//! | [`IsAuthenticatedOrReadOnly`] | safe method, or a user | yes |
//! | [`IsAdminUser`] | `is_staff` (not `is_superuser`) | yes |
//! | [`DjangoModelPermissions`] | a user holding the method's model permissions | yes |
//! | [`DjangoModelPermissionsOrAnonReadOnly`] | same, but anonymous may read | yes |
//! | [`DjangoObjectPermissions`] | as `DjangoModelPermissions` | the method's permissions granted on the object (else 404/403) |
//!
//! # Data and the one request path
//!
//! Checks are synchronous. A permission that needs stored data says so in
//! [`Permission::needs`]; the framework loads it once per request into the [`Access`]
//! before calling the checks: the user's model permissions (direct and through groups,
//! one query, only when some class in the policy needs them) for the view-level check, and
//! the grants on the object (one query) for the object-level check. Nothing is cached
//! across requests, so a grant or revocation takes effect on the next request.
//!
//! [`check_permissions`] runs the view-level step (the [`View`](crate::view::View) calls it)
//! and [`check_object_permissions`] the object-level one (resources call it after loading
//! the object through their [`Scope`]). A [`Refusal`] becomes DRF's answer: 401 for an
//! anonymous request (with the `WWW-Authenticate` challenge), 403 with the denying class's
//! message otherwise, 404 or 405 when a class raised one.
//!
//! # Messages and `&`
//!
//! DRF checks a view's `permission_classes` list in order and denies with the first
//! failing class's `message`; a composed `A | B` or `~A` has no message (DRF's default text
//! is used). Here `A & B` stands for the list `[A, B]`, so the first failing operand's
//! message is used — which is what a policy like `IsAuthenticated & IsOwner` needs to
//! answer "Not an owner." as the reference's `[IsAuthenticated, IsOwner]` does.

mod builtins;
mod compose;
mod model;
mod policy;
mod scope;
mod store;

use std::sync::Arc;

use axum::http::Method;

pub use builtins::{
    AllowAny, DjangoModelPermissions, DjangoModelPermissionsOrAnonReadOnly,
    DjangoObjectPermissions, IsAdminUser, IsAuthenticated, IsAuthenticatedOrReadOnly, IsOwner,
    IsOwnerOrReadOnly, PermsMap,
};
pub use compose::{And, Not, Or, Perm};
pub use model::{parse_perm, Model, NameError, PermSet, DEFAULT_ACTIONS};
pub use policy::{
    parse_expression, Expr, PolicyError, PolicyErrorKind, Registry, Scope, ScopeError,
};
pub use scope::{scope_filter, ScopeFilter};
pub use store::{
    Grant, GrantTarget, GroupGrant, PermissionStore, PermissionStoreError, UserPermissions,
};

use crate::auth::{Identity, User};
use crate::error::ApiError;
use crate::request::ApiRequest;
use crate::store::Database;

/// The data a permission needs loaded before its checks run; see [`Permission::needs`].
///
/// ```
/// use axum_drf::permissions::Needs;
/// let both = Needs::MODEL_PERMS | Needs::OBJECT_GRANTS;
/// assert!(both.model_perms && both.object_grants);
/// assert_eq!(Needs::NONE | Needs::NONE, Needs::NONE);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Needs {
    /// The user's model permissions, direct and through groups ([`Access::perms`]).
    pub model_perms: bool,
    /// The user's grants on the object being checked ([`Access::object_perms`]).
    pub object_grants: bool,
}

impl Needs {
    /// Nothing beyond the request and the user.
    pub const NONE: Needs = Needs {
        model_perms: false,
        object_grants: false,
    };
    /// The user's model permissions.
    pub const MODEL_PERMS: Needs = Needs {
        model_perms: true,
        object_grants: false,
    };
    /// The user's per-object grants.
    pub const OBJECT_GRANTS: Needs = Needs {
        model_perms: false,
        object_grants: true,
    };
}

impl std::ops::BitOr for Needs {
    type Output = Needs;
    fn bitor(self, rhs: Needs) -> Needs {
        Needs {
            model_perms: self.model_perms || rhs.model_perms,
            object_grants: self.object_grants || rhs.object_grants,
        }
    }
}

impl std::ops::BitOrAssign for Needs {
    fn bitor_assign(&mut self, rhs: Needs) {
        *self = *self | rhs;
    }
}

/// What a permission sees of the request. Built with [`Access::new`] and the `with_*`
/// methods (new fields may be added, so it cannot be written as a literal).
///
/// ```
/// use axum::http::Method;
/// use axum_drf::auth::Identity;
/// use axum_drf::permissions::{Access, Model};
/// let identity = Identity::anonymous();
/// let model = Model::new("lending", "Friend");
/// let access = Access::new(&Method::GET, &identity).with_model(Some(&model));
/// assert!(access.is_safe_method());
/// assert_eq!(access.user_id(), None);
/// ```
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct Access<'a> {
    /// The HTTP method.
    pub method: &'a Method,
    /// Who is asking.
    pub identity: &'a Identity,
    /// The model the view works on, if it declared one (DRF's `queryset.model`).
    pub model: Option<&'a Model>,
    /// The user's model permissions, if loaded ([`Needs::model_perms`]); `None` for
    /// anonymous, inactive and superusers, whose answers do not depend on stored rows.
    pub perms: Option<&'a PermSet>,
    /// The user's grants on the object being checked, if loaded ([`Needs::object_grants`]).
    pub object_perms: Option<&'a PermSet>,
}

impl<'a> Access<'a> {
    /// The request's method and identity; nothing loaded.
    pub fn new(method: &'a Method, identity: &'a Identity) -> Self {
        Access {
            method,
            identity,
            model: None,
            perms: None,
            object_perms: None,
        }
    }

    /// Sets the view's model.
    pub fn with_model(mut self, model: Option<&'a Model>) -> Self {
        self.model = model;
        self
    }

    /// Sets the loaded model permissions.
    pub fn with_perms(mut self, perms: Option<&'a PermSet>) -> Self {
        self.perms = perms;
        self
    }

    /// Sets the loaded grants on the object being checked.
    pub fn with_object_perms(mut self, object_perms: Option<&'a PermSet>) -> Self {
        self.object_perms = object_perms;
        self
    }

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

    /// Django's `user.has_perm(perm)`: an active superuser has every permission, an
    /// inactive or anonymous user none, anyone else those granted to them or their groups.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use axum::http::Method;
    /// # use axum_drf::auth::{Credential, Identity, User};
    /// # use axum_drf::permissions::{Access, PermSet};
    /// # fn user(is_active: bool, is_superuser: bool) -> Identity {
    /// #     Identity { user: Some(Arc::new(User { id: 1, username: "u".into(), email: String::new(),
    /// #         first_name: String::new(), last_name: String::new(), is_active, is_staff: false,
    /// #         is_superuser, last_login: None, date_joined: 0, password: String::new(),
    /// #         token_generation: 0 })), credential: Credential::Anonymous }
    /// # }
    /// let perms: PermSet = ["lending.add_friend"].into_iter().collect();
    /// let alice = user(true, false);
    /// let access = Access::new(&Method::POST, &alice).with_perms(Some(&perms));
    /// assert!(access.has_perm("lending.add_friend"));
    /// assert!(!access.has_perm("lending.delete_friend"));
    ///
    /// let root = user(true, true);
    /// assert!(Access::new(&Method::POST, &root).has_perm("lending.delete_friend"));
    /// let retired_root = user(false, true);
    /// assert!(!Access::new(&Method::POST, &retired_root).has_perm("lending.delete_friend"));
    /// ```
    pub fn has_perm(&self, perm: &str) -> bool {
        match self.user() {
            None => false,
            Some(u) if !u.is_active => false,
            Some(u) if u.is_superuser => true,
            Some(_) => self.perms.is_some_and(|p| p.contains(perm)),
        }
    }

    /// Django's `user.has_perms(perms)`: every one of them (so an empty list is `true`).
    pub fn has_perms<S: AsRef<str>>(&self, perms: &[S]) -> bool {
        perms.iter().all(|p| self.has_perm(p.as_ref()))
    }

    /// django-guardian's `user.has_perm(perm, obj)` for the object being checked: granted on
    /// that object to the user or one of their groups. Model-level permissions do not count
    /// (Django's `ModelBackend` answers no for objects); an active superuser has all.
    pub fn has_object_perm(&self, perm: &str) -> bool {
        match self.user() {
            None => false,
            Some(u) if !u.is_active => false,
            Some(u) if u.is_superuser => true,
            Some(_) => self.object_perms.is_some_and(|p| p.contains(perm)),
        }
    }

    /// `user.has_perms(perms, obj)`: every one of them on the object being checked.
    pub fn has_object_perms<S: AsRef<str>>(&self, perms: &[S]) -> bool {
        perms.iter().all(|p| self.has_object_perm(p.as_ref()))
    }
}

/// DRF's `SAFE_METHODS`: GET, HEAD, OPTIONS.
pub fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// An object a permission can be asked about.
///
/// ```
/// use axum_drf::permissions::Object;
/// struct Belonging { id: i64, owner_id: i64 }
/// impl Object for Belonging {
///     fn pk(&self) -> Option<i64> { Some(self.id) }
///     fn owner_id(&self) -> Option<i64> { Some(self.owner_id) }
/// }
/// ```
pub trait Object: Send + Sync {
    /// The id of the user who owns it, for ownership checks.
    fn owner_id(&self) -> Option<i64> {
        None
    }

    /// Its primary key, which per-object grants refer to.
    fn pk(&self) -> Option<i64> {
        None
    }
}

/// A permission check that stops the request instead of answering yes or no — DRF
/// permissions that raise: `Http404` (from [`DjangoObjectPermissions`]) and
/// `MethodNotAllowed` (a method missing from a perms map).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Halt {
    /// 404 "Not found.".
    #[error("not found")]
    NotFound,
    /// 405 for this method.
    #[error("method \"{0}\" not allowed")]
    MethodNotAllowed(Method),
    /// The view cannot use this permission (DRF's `AssertionError`, a 500), e.g.
    /// `DjangoModelPermissions` on a view without a model.
    #[error("{0}")]
    Misconfigured(String),
}

/// Why a check did not allow the request (the `Err` of [`Permission::check`]; `Ok(())` is
/// "allow").
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// A class answered no: 401 for anonymous requests, else 403 with this message
    /// (`None`: DRF's "You do not have permission to perform this action.").
    Denied(Option<String>),
    /// A class raised `Http404`.
    NotFound,
    /// A class raised `MethodNotAllowed`.
    MethodNotAllowed(Method),
    /// The view is misconfigured for a class (500).
    Misconfigured(String),
}

impl From<Halt> for Refusal {
    fn from(h: Halt) -> Self {
        match h {
            Halt::NotFound => Refusal::NotFound,
            Halt::MethodNotAllowed(m) => Refusal::MethodNotAllowed(m),
            Halt::Misconfigured(what) => Refusal::Misconfigured(what),
        }
    }
}

impl Refusal {
    /// DRF's response to this refusal: [`denied`] for a denial (401 for anonymous, 403
    /// otherwise), 404 "Not found.", 405, or a logged 500.
    ///
    /// ```
    /// use axum_drf::auth::Identity;
    /// use axum_drf::permissions::Refusal;
    /// let e = Refusal::Denied(Some("Not an owner.".into())).into_error(&Identity::anonymous(), Some("Token"));
    /// assert_eq!(e.status(), 401);
    /// assert_eq!(e.to_string(), "Authentication credentials were not provided.");
    /// assert_eq!(Refusal::NotFound.into_error(&Identity::anonymous(), None).status(), 404);
    /// ```
    pub fn into_error(self, identity: &Identity, challenge: Option<&'static str>) -> ApiError {
        match self {
            Refusal::Denied(message) => denied(identity, message.as_deref(), challenge),
            Refusal::NotFound => ApiError::NotFound("Not found.".into()),
            Refusal::MethodNotAllowed(m) => ApiError::MethodNotAllowed(m),
            Refusal::Misconfigured(what) => ApiError::Internal(what),
        }
    }
}

/// A permission check. Both questions default to allowing.
///
/// Implement `has_permission` / `has_object_permission` (and `message`); implement the
/// `try_` forms instead only when the check must raise a [`Halt`] like some DRF classes
/// do. Declare stored data the checks read in [`Permission::needs`].
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

    /// Stored data the checks read; the framework loads it before calling them.
    /// Combinators answer the union of their operands'.
    fn needs(&self) -> Needs {
        Needs::NONE
    }

    /// `has_permission` that may raise instead of answering (DRF's exceptions propagate
    /// through `&`, `|` and `~` in evaluation order). Defaults to `has_permission`.
    fn try_has_permission(&self, access: &Access<'_>) -> Result<bool, Halt> {
        Ok(self.has_permission(access))
    }

    /// `has_object_permission` that may raise. Defaults to `has_object_permission`.
    fn try_has_object_permission(
        &self,
        access: &Access<'_>,
        obj: &dyn Object,
    ) -> Result<bool, Halt> {
        Ok(self.has_object_permission(access, obj))
    }

    /// View-level check with the refusal to answer with. `&` overrides it so the operand
    /// that denied supplies the message, as an item of DRF's `permission_classes` does.
    fn check(&self, access: &Access<'_>) -> Result<(), Refusal> {
        if self.try_has_permission(access)? {
            Ok(())
        } else {
            Err(Refusal::Denied(self.message().map(str::to_owned)))
        }
    }

    /// Object-level counterpart of [`Permission::check`].
    fn check_object(&self, access: &Access<'_>, obj: &dyn Object) -> Result<(), Refusal> {
        if self.try_has_object_permission(access, obj)? {
            Ok(())
        } else {
            Err(Refusal::Denied(self.message().map(str::to_owned)))
        }
    }
}

macro_rules! forward_permission {
    ($($ty:ty),*) => {$(
        impl<P: Permission + ?Sized> Permission for $ty {
            fn has_permission(&self, access: &Access<'_>) -> bool {
                (**self).has_permission(access)
            }
            fn has_object_permission(&self, access: &Access<'_>, obj: &dyn Object) -> bool {
                (**self).has_object_permission(access, obj)
            }
            fn message(&self) -> Option<&str> {
                (**self).message()
            }
            fn needs(&self) -> Needs {
                (**self).needs()
            }
            fn try_has_permission(&self, access: &Access<'_>) -> Result<bool, Halt> {
                (**self).try_has_permission(access)
            }
            fn try_has_object_permission(
                &self,
                access: &Access<'_>,
                obj: &dyn Object,
            ) -> Result<bool, Halt> {
                (**self).try_has_object_permission(access, obj)
            }
            fn check(&self, access: &Access<'_>) -> Result<(), Refusal> {
                (**self).check(access)
            }
            fn check_object(&self, access: &Access<'_>, obj: &dyn Object) -> Result<(), Refusal> {
                (**self).check_object(access, obj)
            }
        }
    )*};
}
forward_permission!(Arc<P>, Box<P>);

/// DRF's `permission_denied`: anonymous requests get 401 "not authenticated" (with the
/// first authenticator's challenge; 403 when it has none), authenticated ones 403 with the
/// permission's message.
pub fn denied(
    identity: &Identity,
    message: Option<&str>,
    challenge: Option<&'static str>,
) -> ApiError {
    if !identity.is_authenticated() {
        return ApiError::not_authenticated(challenge);
    }
    ApiError::PermissionDenied(
        message
            .unwrap_or(crate::error::PERMISSION_DENIED)
            .to_owned(),
    )
}

/// The user whose stored permissions decide, if any: anonymous, inactive users and active
/// superusers are answered without reading a row.
fn regular_user(identity: &Identity) -> Option<&User> {
    identity.user().filter(|u| u.is_active && !u.is_superuser)
}

/// Loads the user's model permissions when `needs` asks for them and they can matter
/// (one query; `None` otherwise).
pub async fn load_model_perms(
    db: &Database,
    identity: &Identity,
    needs: Needs,
) -> Result<Option<Arc<PermSet>>, ApiError> {
    match regular_user(identity) {
        Some(user) if needs.model_perms => {
            let perms = PermissionStore::new(db.clone()).user_perms(user.id).await?;
            Ok(Some(Arc::new(perms)))
        }
        _ => Ok(None),
    }
}

/// The view-level step (DRF's `check_permissions`): loads what `permission` needs, runs
/// [`Permission::check`] and answers a refusal as DRF does. Returns the model permissions
/// it loaded, for the request to carry to the object-level check
/// ([`ApiRequest::perms`]), so they are read at most once per request.
///
/// ```no_run
/// # async fn demo(db: axum_drf::store::Database, identity: axum_drf::auth::Identity)
/// # -> Result<(), axum_drf::ApiError> {
/// use axum::http::Method;
/// use axum_drf::permissions::{check_permissions, DjangoModelPermissions, Model};
/// let model = Model::new("lending", "Friend");
/// let perms = check_permissions(&db, &DjangoModelPermissions::new(), &Method::POST, &identity,
///     Some(&model), Some("Token")).await?;
/// # let _ = perms; Ok(()) }
/// ```
pub async fn check_permissions(
    db: &Database,
    permission: &dyn Permission,
    method: &Method,
    identity: &Identity,
    model: Option<&Model>,
    challenge: Option<&'static str>,
) -> Result<Option<Arc<PermSet>>, ApiError> {
    let perms = load_model_perms(db, identity, permission.needs()).await?;
    let access = Access::new(method, identity)
        .with_model(model)
        .with_perms(perms.as_deref());
    permission
        .check(&access)
        .map_err(|r| r.into_error(identity, challenge))?;
    Ok(perms)
}

/// The object-level step (DRF's `check_object_permissions`), for a detail route after the
/// object was loaded through the resource's scope (a miss there is the resource's own
/// "No X matches the given query." 404): loads the grants on `obj` when `permission`
/// needs them (one query; model permissions are reused from `request.perms`), runs
/// [`Permission::check_object`] and answers as DRF: 401 for anonymous, 403 with the
/// denying class's message, 404 "Not found." when a class raised `Http404`.
///
/// `permission` must be the policy the view-level check ran, `model` the view's model.
///
/// ```no_run
/// # async fn demo(db: axum_drf::store::Database, request: axum_drf::ApiRequest)
/// # -> Result<(), axum_drf::ApiError> {
/// use axum_drf::permissions::{check_object_permissions, DjangoObjectPermissions, Model, Object};
/// struct Thing { id: i64, owner_id: i64 }
/// impl Object for Thing {
///     fn pk(&self) -> Option<i64> { Some(self.id) }
///     fn owner_id(&self) -> Option<i64> { Some(self.owner_id) }
/// }
/// let model = Model::new("shop", "Thing");
/// let thing = Thing { id: 7, owner_id: 1 };
/// check_object_permissions(&db, &DjangoObjectPermissions::new(), &request, Some(&model),
///     &thing, Some("Token")).await?;
/// # Ok(()) }
/// ```
pub async fn check_object_permissions(
    db: &Database,
    permission: &dyn Permission,
    request: &ApiRequest,
    model: Option<&Model>,
    obj: &dyn Object,
    challenge: Option<&'static str>,
) -> Result<(), ApiError> {
    let identity = &request.identity;
    let needs = permission.needs();
    let perms = match &request.perms {
        Some(p) => Some(p.clone()),
        // Only when the view-level step did not run through `check_permissions`.
        None => load_model_perms(db, identity, needs).await?,
    };
    let object_perms = match (regular_user(identity), model, obj.pk()) {
        (Some(user), Some(model), Some(pk)) if needs.object_grants => Some(
            PermissionStore::new(db.clone())
                .object_perms(user.id, model, pk)
                .await?,
        ),
        _ => None,
    };
    let access = Access::new(&request.method, identity)
        .with_model(model)
        .with_perms(perms.as_deref())
        .with_object_perms(object_perms.as_ref());
    permission
        .check_object(&access, obj)
        .map_err(|r| r.into_error(identity, challenge))
}
