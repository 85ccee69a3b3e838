//! `&`, `|`, `~` with DRF >= 3.15 semantics, on permissions that need no database.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::http::Method;
use axum_drf::auth::{Credential, Identity, User};
use axum_drf::permissions::{
    Access, DjangoObjectPermissions, Halt, IsAdminUser, IsAuthenticated, Model, Needs, Object,
    Perm, PermSet, Permission, PermsMap, Refusal, Registry,
};

fn user(id: i64, is_staff: bool) -> Identity {
    Identity {
        user: Some(Arc::new(User {
            id,
            username: format!("u{id}"),
            email: String::new(),
            first_name: String::new(),
            last_name: String::new(),
            is_active: true,
            is_staff,
            is_superuser: false,
            last_login: None,
            date_joined: 0,
            password: String::new(),
            token_generation: 0,
        })),
        credential: Credential::Anonymous,
    }
}

struct IsOwner;
impl Permission for IsOwner {
    fn has_object_permission(&self, access: &Access<'_>, obj: &dyn Object) -> bool {
        access.user_id().is_some() && access.user_id() == obj.owner_id()
    }
    fn message(&self) -> Option<&str> {
        Some("Not an owner.")
    }
}

struct Owned(i64);
impl Object for Owned {
    fn owner_id(&self) -> Option<i64> {
        Some(self.0)
    }
    fn pk(&self) -> Option<i64> {
        Some(1)
    }
}

/// Answers fixed values and counts how often it was asked.
#[derive(Default)]
struct Probe {
    view: bool,
    object: bool,
    view_calls: AtomicUsize,
    object_calls: AtomicUsize,
}
impl Probe {
    fn new(view: bool, object: bool) -> Arc<Probe> {
        Arc::new(Probe {
            view,
            object,
            ..Probe::default()
        })
    }
    fn calls(&self) -> (usize, usize) {
        (
            self.view_calls.load(Ordering::SeqCst),
            self.object_calls.load(Ordering::SeqCst),
        )
    }
}
impl Permission for Probe {
    fn has_permission(&self, _: &Access<'_>) -> bool {
        self.view_calls.fetch_add(1, Ordering::SeqCst);
        self.view
    }
    fn has_object_permission(&self, _: &Access<'_>, _: &dyn Object) -> bool {
        self.object_calls.fetch_add(1, Ordering::SeqCst);
        self.object
    }
    fn message(&self) -> Option<&str> {
        Some("probe says no")
    }
}

fn registry() -> Registry {
    let mut r = Registry::with_builtins();
    r.register("IsOwner", IsOwner);
    r
}

#[test]
fn or_object_check_needs_the_same_operand_to_pass_both_levels() {
    // DRF #7117: `IsAdminUser | IsOwner` let any user through at object level because
    // IsAdminUser.has_object_permission is True. Since 3.15 it does not.
    let policy = registry().parse("IsAdminUser | IsOwner").unwrap();
    let bob = user(2, false);
    let access = Access::new(&Method::DELETE, &bob);
    assert_eq!(policy.check(&access), Ok(()), "view level: IsOwner passes");
    assert_eq!(
        policy.check_object(&access, &Owned(1)),
        Err(Refusal::Denied(None))
    );
    assert_eq!(policy.check_object(&access, &Owned(2)), Ok(()));
    let admin = user(3, true);
    let access = Access::new(&Method::DELETE, &admin);
    assert_eq!(policy.check_object(&access, &Owned(1)), Ok(()));
}

#[test]
fn or_evaluates_left_to_right_and_short_circuits() {
    let a = Probe::new(true, false);
    let b = Probe::new(true, true);
    let policy = Perm(a.clone()) | Perm(b.clone());
    let bob = user(2, false);
    let access = Access::new(&Method::GET, &bob);
    assert_eq!(policy.check(&access), Ok(()));
    assert_eq!((a.calls(), b.calls()), ((1, 0), (0, 0)));
    assert_eq!(policy.check_object(&access, &Owned(1)), Ok(()));
    // a: has_permission again, then its object check (false); then b: both.
    assert_eq!((a.calls(), b.calls()), ((2, 1), (1, 1)));
}

#[test]
fn and_object_check_does_not_recheck_has_permission() {
    let a = Probe::new(false, true);
    let b = Probe::new(false, false);
    let policy = Perm(a.clone()) & Perm(b.clone());
    let bob = user(2, false);
    let access = Access::new(&Method::GET, &bob);
    assert_eq!(
        policy.check_object(&access, &Owned(1)),
        Err(Refusal::Denied(Some("probe says no".into())))
    );
    assert_eq!((a.calls(), b.calls()), ((0, 1), (0, 1)));
    // View level: stops at the first denial, with its message.
    assert_eq!(
        policy.check(&access),
        Err(Refusal::Denied(Some("probe says no".into())))
    );
    assert_eq!((a.calls(), b.calls()), ((1, 1), (0, 1)));
}

#[test]
fn not_of_an_object_only_permission_denies_at_view_level() {
    let policy = registry().parse("~IsOwner").unwrap();
    let owner = user(1, false);
    let access = Access::new(&Method::GET, &owner);
    assert_eq!(policy.check(&access), Err(Refusal::Denied(None)));
    // Its object check is the inverse of IsOwner's.
    assert_eq!(
        policy.check_object(&access, &Owned(1)),
        Err(Refusal::Denied(None))
    );
    assert_eq!(policy.check_object(&access, &Owned(2)), Ok(()));

    let anonymous_only = registry().parse("~IsAuthenticated").unwrap();
    let anon = Identity::anonymous();
    assert_eq!(
        anonymous_only.check(&Access::new(&Method::GET, &anon)),
        Ok(())
    );
    assert_eq!(
        anonymous_only.check(&Access::new(&Method::GET, &owner)),
        Err(Refusal::Denied(None))
    );
    let twice = registry().parse("~~IsAuthenticated").unwrap();
    assert_eq!(twice.check(&Access::new(&Method::GET, &owner)), Ok(()));
}

#[test]
fn and_keeps_the_denying_operands_message_or_and_not_use_drfs_default() {
    let r = registry();
    let bob = user(2, false);
    let access = Access::new(&Method::PUT, &bob);
    let denied = |p: &str| r.parse(p).unwrap().check_object(&access, &Owned(1));
    assert_eq!(
        denied("IsAuthenticated & IsOwner"),
        Err(Refusal::Denied(Some("Not an owner.".into())))
    );
    assert_eq!(
        denied("IsAuthenticated & (IsOwner & AllowAny)"),
        Err(Refusal::Denied(Some("Not an owner.".into())))
    );
    assert_eq!(denied("IsOwner | IsOwner"), Err(Refusal::Denied(None)));
    assert_eq!(denied("~~IsOwner"), Err(Refusal::Denied(None)));
}

#[test]
fn a_raised_404_propagates_through_or_unless_short_circuited() {
    let model = Model::new("wiki", "Note");
    let strict = || {
        Perm::new(DjangoObjectPermissions::with_perms_map(
            PermsMap::drf_with_view(),
        ))
    };
    // Holds the model-level view permission, no grant on the object.
    let perms: PermSet = ["wiki.view_note"].into_iter().collect();
    let grants = PermSet::new();
    let bob = user(2, false);
    let access = Access::new(&Method::GET, &bob)
        .with_model(Some(&model))
        .with_perms(Some(&perms))
        .with_object_perms(Some(&grants));
    // Not the owner: IsOwner fails, DjangoObjectPermissions raises Http404.
    let policy = Perm::new(IsOwner) | strict();
    assert_eq!(
        policy.check_object(&access, &Owned(1)),
        Err(Refusal::NotFound)
    );
    // The owner: IsOwner allows, the right side is never evaluated.
    assert_eq!(policy.check_object(&access, &Owned(2)), Ok(()));
    // NOT does not turn a raise into an answer.
    assert_eq!(
        (!strict()).check_object(&access, &Owned(1)),
        Err(Refusal::NotFound)
    );
    assert_eq!(
        strict().try_has_object_permission(&access, &Owned(1)),
        Err(Halt::NotFound)
    );
}

#[test]
fn needs_are_the_union_of_the_operands() {
    let r = registry();
    let needs = |p: &str| r.parse(p).unwrap().needs();
    assert_eq!(needs("IsAuthenticated & IsOwner"), Needs::NONE);
    assert_eq!(
        needs("IsAuthenticated & DjangoModelPermissions"),
        Needs::MODEL_PERMS
    );
    assert_eq!(
        needs("IsOwner | DjangoObjectPermissions"),
        Needs::MODEL_PERMS | Needs::OBJECT_GRANTS
    );
    assert_eq!(
        needs("~DjangoObjectPermissions"),
        Needs::MODEL_PERMS | Needs::OBJECT_GRANTS
    );
    assert_eq!(Perm::new(IsAdminUser).needs(), Needs::NONE);
    let boxed: Box<dyn Permission> = Box::new(DjangoObjectPermissions::new());
    assert!(boxed.needs().object_grants);
    assert!(Arc::new(IsAuthenticated).needs() == Needs::NONE);
}

#[test]
fn unloaded_permissions_count_as_absent() {
    // A class that forgot to declare its needs sees no permissions rather than all.
    let bob = user(2, false);
    let access = Access::new(&Method::POST, &bob);
    assert!(!access.has_perm("wiki.add_note"));
    assert!(!access.has_object_perm("wiki.add_note"));
    assert!(access.has_perms::<&str>(&[]));
    let anon = Identity::anonymous();
    assert!(!Access::new(&Method::POST, &anon).has_perm("wiki.add_note"));
}
