//! DRF's built-in permission classes.
//!
//! The examples build identities with a hidden helper, `user(is_active, is_staff,
//! is_superuser)`, returning an authenticated [`Identity`](crate::auth::Identity).

use axum::http::Method;

use super::{Access, Halt, Model, Needs, Object, Permission};

/// Allows every request (DRF's `AllowAny`); the way a route opts out of authentication.
///
/// ```
/// use axum::http::Method;
/// use axum_drf::{auth::Identity, permissions::{Access, AllowAny, Permission}};
/// let anonymous = Identity::anonymous();
/// assert!(AllowAny.has_permission(&Access::new(&Method::DELETE, &anonymous)));
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct AllowAny;
impl Permission for AllowAny {}

/// Only authenticated users (DRF's `IsAuthenticated`): `request.user.is_authenticated`.
/// Says nothing about objects.
///
/// ```
/// use axum::http::Method;
/// use axum_drf::{auth::Identity, permissions::{Access, IsAuthenticated, Permission}};
/// let anonymous = Identity::anonymous();
/// assert!(!IsAuthenticated.has_permission(&Access::new(&Method::GET, &anonymous)));
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct IsAuthenticated;
impl Permission for IsAuthenticated {
    fn has_permission(&self, access: &Access<'_>) -> bool {
        access.identity.is_authenticated()
    }
}

/// Only the object's owner may touch it (the DRF tutorial's `IsOwner`): object level only,
/// so pair it with [`IsAuthenticated`] for creating; an anonymous user owns nothing.
///
/// ```
/// use axum::http::Method;
/// use axum_drf::{auth::Identity, permissions::{Access, IsOwner, Object, Permission}};
/// struct Note;
/// impl Object for Note { fn owner_id(&self) -> Option<i64> { Some(7) } }
/// let anonymous = Identity::anonymous();
/// assert!(!IsOwner.has_object_permission(&Access::new(&Method::GET, &anonymous), &Note));
/// ```
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

/// Anyone may read an object, only its owner may change it (the DRF tutorial's
/// `IsOwnerOrReadOnly`).
#[derive(Debug, Clone, Copy, Default)]
pub struct IsOwnerOrReadOnly;

impl Permission for IsOwnerOrReadOnly {
    fn has_object_permission(&self, access: &Access<'_>, obj: &dyn Object) -> bool {
        access.is_safe_method() || IsOwner.has_object_permission(access, obj)
    }
    fn message(&self) -> Option<&str> {
        Some("Not an owner.")
    }
}

/// Anyone may read (GET/HEAD/OPTIONS); writes need an authenticated user (DRF's
/// `IsAuthenticatedOrReadOnly`).
///
/// ```
/// use axum::http::Method;
/// use axum_drf::{auth::Identity, permissions::{Access, IsAuthenticatedOrReadOnly, Permission}};
/// let anonymous = Identity::anonymous();
/// assert!(IsAuthenticatedOrReadOnly.has_permission(&Access::new(&Method::HEAD, &anonymous)));
/// assert!(!IsAuthenticatedOrReadOnly.has_permission(&Access::new(&Method::POST, &anonymous)));
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct IsAuthenticatedOrReadOnly;
impl Permission for IsAuthenticatedOrReadOnly {
    fn has_permission(&self, access: &Access<'_>) -> bool {
        access.is_safe_method() || access.identity.is_authenticated()
    }
}

/// Staff only: `is_staff`, not `is_superuser` (DRF's `IsAdminUser`).
///
/// ```
/// # use std::sync::Arc;
/// # use axum_drf::auth::{Credential, Identity, User};
/// # fn user(is_active: bool, is_staff: bool, is_superuser: bool) -> Identity {
/// #     Identity { user: Some(Arc::new(User { id: 1, username: "u".into(), email: String::new(),
/// #         first_name: String::new(), last_name: String::new(), is_active, is_staff,
/// #         is_superuser, last_login: None, date_joined: 0, password: String::new(),
/// #         token_generation: 0 })), credential: Credential::Anonymous }
/// # }
/// use axum::http::Method;
/// use axum_drf::permissions::{Access, IsAdminUser, Permission};
/// let staff = user(true, true, false);
/// let superuser_not_staff = user(true, false, true);
/// assert!(IsAdminUser.has_permission(&Access::new(&Method::GET, &staff)));
/// assert!(!IsAdminUser.has_permission(&Access::new(&Method::GET, &superuser_not_staff)));
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct IsAdminUser;
impl Permission for IsAdminUser {
    fn has_permission(&self, access: &Access<'_>) -> bool {
        access.user().is_some_and(|u| u.is_staff)
    }
}

/// DRF's `perms_map`: the permissions each method requires, as templates over
/// `{app_label}` and `{model_name}` (DRF's `%(app_label)s` / `%(model_name)s`). A method
/// missing from the map is refused with 405 (DRF's `MethodNotAllowed`).
///
/// ```
/// use axum::http::Method;
/// use axum_drf::permissions::{Model, PermsMap};
/// let friend = Model::new("lending", "Friend");
/// let map = PermsMap::drf();
/// assert_eq!(map.required(&Method::GET, &friend).unwrap(), Vec::<String>::new());
/// assert_eq!(map.required(&Method::PATCH, &friend).unwrap(), ["lending.change_friend"]);
/// assert!(map.required(&Method::TRACE, &friend).is_err());
///
/// // The usual DRF recipe to make reads need `view_`:
/// let strict = PermsMap::drf_with_view();
/// assert_eq!(strict.required(&Method::GET, &friend).unwrap(), ["lending.view_friend"]);
/// // or any custom map:
/// let custom = PermsMap::empty().set(Method::POST, ["{app_label}.publish_{model_name}"]);
/// assert_eq!(custom.required(&Method::POST, &friend).unwrap(), ["lending.publish_friend"]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PermsMap {
    entries: Vec<(Method, Vec<String>)>,
}

impl Default for PermsMap {
    fn default() -> Self {
        Self::drf()
    }
}

impl PermsMap {
    /// No method allowed.
    pub fn empty() -> Self {
        PermsMap {
            entries: Vec::new(),
        }
    }

    /// DRF's map: GET/OPTIONS/HEAD need nothing, POST `add`, PUT/PATCH `change`,
    /// DELETE `delete`.
    pub fn drf() -> Self {
        Self::empty()
            .set(Method::GET, None::<&str>)
            .set(Method::OPTIONS, None::<&str>)
            .set(Method::HEAD, None::<&str>)
            .set(Method::POST, ["{app_label}.add_{model_name}"])
            .set(Method::PUT, ["{app_label}.change_{model_name}"])
            .set(Method::PATCH, ["{app_label}.change_{model_name}"])
            .set(Method::DELETE, ["{app_label}.delete_{model_name}"])
    }

    /// DRF's map with GET and HEAD also needing `view` (OPTIONS still needs nothing), the
    /// override DRF's documentation suggests for read permissions.
    pub fn drf_with_view() -> Self {
        Self::drf()
            .set(Method::GET, ["{app_label}.view_{model_name}"])
            .set(Method::HEAD, ["{app_label}.view_{model_name}"])
    }

    /// Sets what `method` requires (replacing an earlier entry).
    pub fn set<S: Into<String>>(
        mut self,
        method: Method,
        templates: impl IntoIterator<Item = S>,
    ) -> Self {
        let templates: Vec<String> = templates.into_iter().map(Into::into).collect();
        match self.entries.iter_mut().find(|(m, _)| *m == method) {
            Some(entry) => entry.1 = templates,
            None => self.entries.push((method, templates)),
        }
        self
    }

    /// DRF's `get_required_permissions(method, model)`.
    pub fn required(&self, method: &Method, model: &Model) -> Result<Vec<String>, Halt> {
        let (_, templates) = self
            .entries
            .iter()
            .find(|(m, _)| m == method)
            .ok_or_else(|| Halt::MethodNotAllowed(method.clone()))?;
        Ok(templates.iter().map(|t| model.expand(t)).collect())
    }
}

fn view_model<'a>(access: &Access<'a>, class: &str) -> Result<&'a Model, Halt> {
    access.model.ok_or_else(|| {
        Halt::Misconfigured(format!(
            "Cannot apply {class} on a view that does not declare a model."
        ))
    })
}

fn model_check(
    access: &Access<'_>,
    map: &PermsMap,
    authenticated_users_only: bool,
    class: &str,
) -> Result<bool, Halt> {
    if authenticated_users_only && !access.identity.is_authenticated() {
        return Ok(false);
    }
    let model = view_model(access, class)?;
    let perms = map.required(access.method, model)?;
    Ok(access.has_perms(&perms))
}

/// Django's model permissions (DRF's `DjangoModelPermissions`): the user must be
/// authenticated and hold the permissions the [`PermsMap`] lists for the method on the
/// view's model — GET/HEAD/OPTIONS none, POST `add_<model>`, PUT/PATCH `change_<model>`,
/// DELETE `delete_<model>`; other methods are answered 405. Permissions count whether
/// granted to the user or to one of their groups; an active superuser has all, an inactive
/// user none. The view must declare its model; objects are not checked.
///
/// ```
/// # use std::sync::Arc;
/// # use axum_drf::auth::{Credential, Identity, User};
/// # fn user(is_active: bool, is_staff: bool, is_superuser: bool) -> Identity {
/// #     Identity { user: Some(Arc::new(User { id: 1, username: "u".into(), email: String::new(),
/// #         first_name: String::new(), last_name: String::new(), is_active, is_staff,
/// #         is_superuser, last_login: None, date_joined: 0, password: String::new(),
/// #         token_generation: 0 })), credential: Credential::Anonymous }
/// # }
/// use axum::http::Method;
/// use axum_drf::permissions::{Access, DjangoModelPermissions, Model, PermSet, Permission, Refusal};
/// let friend = Model::new("lending", "Friend");
/// let perms: PermSet = ["lending.add_friend"].into_iter().collect();
/// let alice = user(true, false, false);
/// let at = |m| Access::new(m, &alice).with_model(Some(&friend)).with_perms(Some(&perms));
/// let p = DjangoModelPermissions::new();
/// assert_eq!(p.check(&at(&Method::GET)), Ok(()));
/// assert_eq!(p.check(&at(&Method::POST)), Ok(()));
/// assert_eq!(p.check(&at(&Method::DELETE)), Err(Refusal::Denied(None)));
/// assert_eq!(p.check(&at(&Method::TRACE)), Err(Refusal::MethodNotAllowed(Method::TRACE)));
/// ```
#[derive(Debug, Clone, Default)]
pub struct DjangoModelPermissions {
    perms_map: PermsMap,
}

impl DjangoModelPermissions {
    /// With DRF's [`PermsMap::drf`].
    pub fn new() -> Self {
        Self::default()
    }

    /// With a custom map (DRF: overriding `perms_map`).
    pub fn with_perms_map(perms_map: PermsMap) -> Self {
        DjangoModelPermissions { perms_map }
    }
}

impl Permission for DjangoModelPermissions {
    fn has_permission(&self, access: &Access<'_>) -> bool {
        self.try_has_permission(access).unwrap_or(false)
    }
    fn needs(&self) -> Needs {
        Needs::MODEL_PERMS
    }
    fn try_has_permission(&self, access: &Access<'_>) -> Result<bool, Halt> {
        model_check(access, &self.perms_map, true, "DjangoModelPermissions")
    }
}

/// [`DjangoModelPermissions`], except that anonymous requests are let through to the
/// model check, where they hold no permission: they may GET/HEAD/OPTIONS and nothing else
/// (DRF's `DjangoModelPermissionsOrAnonReadOnly`).
///
/// ```
/// use axum::http::Method;
/// use axum_drf::auth::Identity;
/// use axum_drf::permissions::{Access, DjangoModelPermissionsOrAnonReadOnly, Model, Permission};
/// let friend = Model::new("lending", "Friend");
/// let anonymous = Identity::anonymous();
/// let p = DjangoModelPermissionsOrAnonReadOnly::new();
/// assert!(p.has_permission(&Access::new(&Method::GET, &anonymous).with_model(Some(&friend))));
/// assert!(!p.has_permission(&Access::new(&Method::POST, &anonymous).with_model(Some(&friend))));
/// ```
#[derive(Debug, Clone, Default)]
pub struct DjangoModelPermissionsOrAnonReadOnly {
    perms_map: PermsMap,
}

impl DjangoModelPermissionsOrAnonReadOnly {
    /// With DRF's [`PermsMap::drf`].
    pub fn new() -> Self {
        Self::default()
    }

    /// With a custom map.
    pub fn with_perms_map(perms_map: PermsMap) -> Self {
        DjangoModelPermissionsOrAnonReadOnly { perms_map }
    }
}

impl Permission for DjangoModelPermissionsOrAnonReadOnly {
    fn has_permission(&self, access: &Access<'_>) -> bool {
        self.try_has_permission(access).unwrap_or(false)
    }
    fn needs(&self) -> Needs {
        Needs::MODEL_PERMS
    }
    fn try_has_permission(&self, access: &Access<'_>) -> Result<bool, Halt> {
        model_check(
            access,
            &self.perms_map,
            false,
            "DjangoModelPermissionsOrAnonReadOnly",
        )
    }
}

/// Per-object permissions (DRF's `DjangoObjectPermissions` over django-guardian).
///
/// View level: exactly [`DjangoModelPermissions`] — an authenticated user holding the
/// method's *model* permissions (so writing needs the model-level `change_`/`delete_` as
/// well as the object grant, as in DRF).
///
/// Object level: the method's permissions must be granted *on this object* to the user or
/// one of their groups (model-level permissions do not count; an active superuser has
/// all). If not:
/// - a safe method (GET/HEAD/OPTIONS) is answered **404** "Not found." — the object's
///   existence is not revealed;
/// - an unsafe method is answered **404** too if the user also lacks the GET permissions on
///   the object, else **403**.
///
/// With DRF's default map reads need nothing, so every object answers reads and the 404
/// branch only matters with a map such as [`PermsMap::drf_with_view`]. Limiting which
/// objects are *listed* is the scope's job ([`Scope::Granted`](super::Scope::Granted)).
///
/// ```
/// # use std::sync::Arc;
/// # use axum_drf::auth::{Credential, Identity, User};
/// # fn user(is_active: bool, is_staff: bool, is_superuser: bool) -> Identity {
/// #     Identity { user: Some(Arc::new(User { id: 1, username: "u".into(), email: String::new(),
/// #         first_name: String::new(), last_name: String::new(), is_active, is_staff,
/// #         is_superuser, last_login: None, date_joined: 0, password: String::new(),
/// #         token_generation: 0 })), credential: Credential::Anonymous }
/// # }
/// use axum::http::Method;
/// use axum_drf::permissions::{
///     Access, DjangoObjectPermissions, Model, Object, PermSet, Permission, PermsMap, Refusal,
/// };
/// struct Note;
/// impl Object for Note {}
/// let note = Model::new("wiki", "Note");
/// let model_perms: PermSet = ["wiki.change_note", "wiki.view_note"].into_iter().collect();
/// let bob = user(true, false, false);
/// let p = DjangoObjectPermissions::with_perms_map(PermsMap::drf_with_view());
/// let check = |method, grants: &PermSet| {
///     let access = Access::new(method, &bob).with_model(Some(&note))
///         .with_perms(Some(&model_perms)).with_object_perms(Some(grants));
///     p.check_object(&access, &Note)
/// };
/// let none = PermSet::new();
/// let view_only: PermSet = ["wiki.view_note"].into_iter().collect();
/// let editor: PermSet = ["wiki.view_note", "wiki.change_note"].into_iter().collect();
/// assert_eq!(check(&Method::GET, &none), Err(Refusal::NotFound));
/// assert_eq!(check(&Method::PUT, &none), Err(Refusal::NotFound));
/// assert_eq!(check(&Method::PUT, &view_only), Err(Refusal::Denied(None)));
/// assert_eq!(check(&Method::PUT, &editor), Ok(()));
/// ```
#[derive(Debug, Clone, Default)]
pub struct DjangoObjectPermissions {
    perms_map: PermsMap,
}

impl DjangoObjectPermissions {
    /// With DRF's [`PermsMap::drf`].
    pub fn new() -> Self {
        Self::default()
    }

    /// With a custom map, used for both the model and the object check (as in DRF, where
    /// overriding `perms_map` changes both).
    pub fn with_perms_map(perms_map: PermsMap) -> Self {
        DjangoObjectPermissions { perms_map }
    }
}

impl Permission for DjangoObjectPermissions {
    fn has_permission(&self, access: &Access<'_>) -> bool {
        self.try_has_permission(access).unwrap_or(false)
    }
    fn has_object_permission(&self, access: &Access<'_>, obj: &dyn Object) -> bool {
        self.try_has_object_permission(access, obj).unwrap_or(false)
    }
    fn needs(&self) -> Needs {
        Needs::MODEL_PERMS | Needs::OBJECT_GRANTS
    }
    fn try_has_permission(&self, access: &Access<'_>) -> Result<bool, Halt> {
        model_check(access, &self.perms_map, true, "DjangoObjectPermissions")
    }
    fn try_has_object_permission(
        &self,
        access: &Access<'_>,
        _obj: &dyn Object,
    ) -> Result<bool, Halt> {
        let model = view_model(access, "DjangoObjectPermissions")?;
        let perms = self.perms_map.required(access.method, model)?;
        if access.has_object_perms(&perms) {
            return Ok(true);
        }
        // Without the right to see the object, its existence is not revealed.
        if access.is_safe_method() {
            return Err(Halt::NotFound);
        }
        let read = self.perms_map.required(&Method::GET, model)?;
        if !access.has_object_perms(&read) {
            return Err(Halt::NotFound);
        }
        Ok(false)
    }
}
