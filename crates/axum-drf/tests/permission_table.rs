//! Every built-in permission class × every method × every kind of user, through the real
//! request path (`check_permissions` then `check_object_permissions`) over a real database,
//! so the stored-permission queries are exercised too. Runs on SQLite, or on PostgreSQL
//! when `DATABASE_URL=postgres://...` is set.

mod common;

use std::collections::BTreeMap;

use axum::http::{HeaderMap, Method, StatusCode};
use axum_drf::auth::Identity;
use axum_drf::permissions::{
    check_object_permissions, check_permissions, Access, GrantTarget, Model, Object, Permission,
    PermissionStore, Registry,
};
use axum_drf::{ApiError, ApiRequest};
use common::{identity, TestDb};

/// The methods of every row, in column order.
const METHODS: [Method; 7] = [
    Method::GET,
    Method::HEAD,
    Method::OPTIONS,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
];

/// The user kinds (see `setup` for what each holds).
const KINDS: [&str; 12] = [
    "anon",
    "active",
    "inactive",
    "staff",
    "superuser",
    "owner",
    "nonowner",
    "modelperm",
    "groupperm",
    "objgrant",
    "objgrant+model",
    "viewgrant",
];

/// Outcome per method, columns GET HEAD OPTIONS POST PUT PATCH DELETE:
/// `a` allowed, `1` 401, `3` 403, `4` 404, `5` 405.
/// `view` is a list route (view-level check only); `detail` a detail route on thing #1
/// (view-level check, then the object-level check).
const TABLE: &str = "
# policy                 kind             view      detail
AllowAny                 anon             aaaaaaa   aaaaaaa
AllowAny                 active           aaaaaaa   aaaaaaa
AllowAny                 inactive         aaaaaaa   aaaaaaa
AllowAny                 staff            aaaaaaa   aaaaaaa
AllowAny                 superuser        aaaaaaa   aaaaaaa
AllowAny                 owner            aaaaaaa   aaaaaaa
AllowAny                 nonowner         aaaaaaa   aaaaaaa
AllowAny                 modelperm        aaaaaaa   aaaaaaa
AllowAny                 groupperm        aaaaaaa   aaaaaaa
AllowAny                 objgrant         aaaaaaa   aaaaaaa
AllowAny                 objgrant+model   aaaaaaa   aaaaaaa
AllowAny                 viewgrant        aaaaaaa   aaaaaaa

IsAuthenticated          anon             1111111   1111111
IsAuthenticated          active           aaaaaaa   aaaaaaa
IsAuthenticated          inactive         aaaaaaa   aaaaaaa
IsAuthenticated          staff            aaaaaaa   aaaaaaa
IsAuthenticated          superuser        aaaaaaa   aaaaaaa
IsAuthenticated          owner            aaaaaaa   aaaaaaa
IsAuthenticated          nonowner         aaaaaaa   aaaaaaa
IsAuthenticated          modelperm        aaaaaaa   aaaaaaa
IsAuthenticated          groupperm        aaaaaaa   aaaaaaa
IsAuthenticated          objgrant         aaaaaaa   aaaaaaa
IsAuthenticated          objgrant+model   aaaaaaa   aaaaaaa
IsAuthenticated          viewgrant        aaaaaaa   aaaaaaa

IsAuthenticatedOrReadOnly anon            aaa1111   aaa1111
IsAuthenticatedOrReadOnly active          aaaaaaa   aaaaaaa
IsAuthenticatedOrReadOnly inactive        aaaaaaa   aaaaaaa
IsAuthenticatedOrReadOnly staff           aaaaaaa   aaaaaaa
IsAuthenticatedOrReadOnly superuser       aaaaaaa   aaaaaaa
IsAuthenticatedOrReadOnly owner           aaaaaaa   aaaaaaa
IsAuthenticatedOrReadOnly nonowner        aaaaaaa   aaaaaaa
IsAuthenticatedOrReadOnly modelperm       aaaaaaa   aaaaaaa
IsAuthenticatedOrReadOnly groupperm       aaaaaaa   aaaaaaa
IsAuthenticatedOrReadOnly objgrant        aaaaaaa   aaaaaaa
IsAuthenticatedOrReadOnly objgrant+model  aaaaaaa   aaaaaaa
IsAuthenticatedOrReadOnly viewgrant       aaaaaaa   aaaaaaa

# is_staff decides, not is_superuser (the superuser here is also staff)
IsAdminUser              anon             1111111   1111111
IsAdminUser              active           3333333   3333333
IsAdminUser              inactive         3333333   3333333
IsAdminUser              staff            aaaaaaa   aaaaaaa
IsAdminUser              superuser        aaaaaaa   aaaaaaa
IsAdminUser              owner            3333333   3333333
IsAdminUser              nonowner         3333333   3333333
IsAdminUser              modelperm        3333333   3333333
IsAdminUser              groupperm        3333333   3333333
IsAdminUser              objgrant         3333333   3333333
IsAdminUser              objgrant+model   3333333   3333333
IsAdminUser              viewgrant        3333333   3333333

# reads need nothing; POST add, PUT/PATCH change, DELETE delete (user or group grants)
DjangoModelPermissions   anon             1111111   1111111
DjangoModelPermissions   active           aaa3333   aaa3333
DjangoModelPermissions   inactive         aaa3333   aaa3333
DjangoModelPermissions   staff            aaa3333   aaa3333
DjangoModelPermissions   superuser        aaaaaaa   aaaaaaa
DjangoModelPermissions   owner            aaa3333   aaa3333
DjangoModelPermissions   nonowner         aaa3333   aaa3333
DjangoModelPermissions   modelperm        aaaaaa3   aaaaaa3
DjangoModelPermissions   groupperm        aaa3aaa   aaa3aaa
DjangoModelPermissions   objgrant         aaa3333   aaa3333
DjangoModelPermissions   objgrant+model   aaa3aaa   aaa3aaa
DjangoModelPermissions   viewgrant        aaa3aaa   aaa3aaa

DjangoModelPermissionsOrAnonReadOnly anon            aaa1111   aaa1111
DjangoModelPermissionsOrAnonReadOnly active          aaa3333   aaa3333
DjangoModelPermissionsOrAnonReadOnly inactive        aaa3333   aaa3333
DjangoModelPermissionsOrAnonReadOnly staff           aaa3333   aaa3333
DjangoModelPermissionsOrAnonReadOnly superuser       aaaaaaa   aaaaaaa
DjangoModelPermissionsOrAnonReadOnly owner           aaa3333   aaa3333
DjangoModelPermissionsOrAnonReadOnly nonowner        aaa3333   aaa3333
DjangoModelPermissionsOrAnonReadOnly modelperm       aaaaaa3   aaaaaa3
DjangoModelPermissionsOrAnonReadOnly groupperm       aaa3aaa   aaa3aaa
DjangoModelPermissionsOrAnonReadOnly objgrant        aaa3333   aaa3333
DjangoModelPermissionsOrAnonReadOnly objgrant+model  aaa3aaa   aaa3aaa
DjangoModelPermissionsOrAnonReadOnly viewgrant       aaa3aaa   aaa3aaa

# view level as DjangoModelPermissions; then the grant on the object is needed too.
# With DRF's map reads need nothing, so a missing write grant is always 403, never 404.
DjangoObjectPermissions  anon             1111111   1111111
DjangoObjectPermissions  active           aaa3333   aaa3333
DjangoObjectPermissions  inactive         aaa3333   aaa3333
DjangoObjectPermissions  staff            aaa3333   aaa3333
DjangoObjectPermissions  superuser        aaaaaaa   aaaaaaa
DjangoObjectPermissions  owner            aaa3333   aaa3333
DjangoObjectPermissions  nonowner         aaa3333   aaa3333
DjangoObjectPermissions  modelperm        aaaaaa3   aaa3333
DjangoObjectPermissions  groupperm        aaa3aaa   aaa3333
DjangoObjectPermissions  objgrant         aaa3333   aaa3333
DjangoObjectPermissions  objgrant+model   aaa3aaa   aaa3aa3
DjangoObjectPermissions  viewgrant        aaa3aaa   aaa3333

# GET/HEAD need view_thing: without it on the object, 404; a write without the object
# grant is 404 unless the user may view the object (then 403).
DjangoObjectPermissionsWithView anon            1111111   1111111
DjangoObjectPermissionsWithView active          33a3333   33a3333
DjangoObjectPermissionsWithView inactive        33a3333   33a3333
DjangoObjectPermissionsWithView staff           33a3333   33a3333
DjangoObjectPermissionsWithView superuser       aaaaaaa   aaaaaaa
DjangoObjectPermissionsWithView owner           33a3333   33a3333
DjangoObjectPermissionsWithView nonowner        33a3333   33a3333
DjangoObjectPermissionsWithView modelperm       33aaaa3   33a4443
DjangoObjectPermissionsWithView groupperm       aaa3aaa   44a3444
DjangoObjectPermissionsWithView objgrant        33a3333   33a3333
DjangoObjectPermissionsWithView objgrant+model  33a3aaa   33a3aa3
DjangoObjectPermissionsWithView viewgrant       33a3aaa   33a3333

DjangoModelPermissionsWithView anon             1111111   1111111
DjangoModelPermissionsWithView active           33a3333   33a3333
DjangoModelPermissionsWithView inactive         33a3333   33a3333
DjangoModelPermissionsWithView staff            33a3333   33a3333
DjangoModelPermissionsWithView superuser        aaaaaaa   aaaaaaa
DjangoModelPermissionsWithView owner            33a3333   33a3333
DjangoModelPermissionsWithView nonowner         33a3333   33a3333
DjangoModelPermissionsWithView modelperm        33aaaa3   33aaaa3
DjangoModelPermissionsWithView groupperm        aaa3aaa   aaa3aaa
DjangoModelPermissionsWithView objgrant         33a3333   33a3333
DjangoModelPermissionsWithView objgrant+model   33a3aaa   33a3aaa
DjangoModelPermissionsWithView viewgrant        33a3aaa   33a3aaa

# The seed's IsOwner (object level only): ownership alone decides, superusers included.
IsOwner                  anon             aaaaaaa   1111111
IsOwner                  active           aaaaaaa   3333333
IsOwner                  inactive         aaaaaaa   3333333
IsOwner                  staff            aaaaaaa   3333333
IsOwner                  superuser        aaaaaaa   3333333
IsOwner                  owner            aaaaaaa   aaaaaaa
IsOwner                  nonowner         aaaaaaa   3333333
IsOwner                  modelperm        aaaaaaa   3333333
IsOwner                  groupperm        aaaaaaa   3333333
IsOwner                  objgrant         aaaaaaa   3333333
IsOwner                  objgrant+model   aaaaaaa   3333333
IsOwner                  viewgrant        aaaaaaa   3333333

# The configuration example: owners, or holders of the object grant (and, DRF-style, the
# model permission the method needs).
IsAuthenticated&(IsOwner|DjangoObjectPermissions) anon            1111111   1111111
IsAuthenticated&(IsOwner|DjangoObjectPermissions) active          aaaaaaa   aaa3333
IsAuthenticated&(IsOwner|DjangoObjectPermissions) inactive        aaaaaaa   aaa3333
IsAuthenticated&(IsOwner|DjangoObjectPermissions) staff           aaaaaaa   aaa3333
IsAuthenticated&(IsOwner|DjangoObjectPermissions) superuser       aaaaaaa   aaaaaaa
IsAuthenticated&(IsOwner|DjangoObjectPermissions) owner           aaaaaaa   aaaaaaa
IsAuthenticated&(IsOwner|DjangoObjectPermissions) nonowner        aaaaaaa   aaa3333
IsAuthenticated&(IsOwner|DjangoObjectPermissions) modelperm       aaaaaaa   aaa3333
IsAuthenticated&(IsOwner|DjangoObjectPermissions) groupperm       aaaaaaa   aaa3333
IsAuthenticated&(IsOwner|DjangoObjectPermissions) objgrant        aaaaaaa   aaa3333
IsAuthenticated&(IsOwner|DjangoObjectPermissions) objgrant+model  aaaaaaa   aaa3aa3
IsAuthenticated&(IsOwner|DjangoObjectPermissions) viewgrant       aaaaaaa   aaa3333
";

struct IsOwner;
impl Permission for IsOwner {
    fn has_object_permission(&self, access: &Access<'_>, obj: &dyn Object) -> bool {
        access.user_id().is_some() && access.user_id() == obj.owner_id()
    }
    fn message(&self) -> Option<&str> {
        Some("Not an owner.")
    }
}

struct Thing {
    id: i64,
    owner_id: i64,
}
impl Object for Thing {
    fn pk(&self) -> Option<i64> {
        Some(self.id)
    }
    fn owner_id(&self) -> Option<i64> {
        Some(self.owner_id)
    }
}

fn code(e: &ApiError) -> char {
    match e.status() {
        StatusCode::UNAUTHORIZED => '1',
        StatusCode::FORBIDDEN => '3',
        StatusCode::NOT_FOUND => '4',
        StatusCode::METHOD_NOT_ALLOWED => '5',
        other => panic!("unexpected status {other}: {e}"),
    }
}

struct World {
    t: TestDb,
    model: Model,
    users: BTreeMap<&'static str, Identity>,
    thing: Thing,
}

/// Users of every kind, with their grants:
/// - `inactive` holds every model permission and every grant on thing #1 (none counts);
/// - `modelperm`: model `add_thing`, `change_thing` (direct);
/// - `groupperm`: model `change_thing`, `delete_thing`, `view_thing` through a group;
/// - `objgrant`: `view_`, `change_`, `delete_thing` on thing #1 only, no model permission;
/// - `objgrant+model`: model `change_`/`delete_thing` (direct) and, through a group,
///   `view_`/`change_thing` on thing #1;
/// - `viewgrant`: `view_thing` on thing #1 (direct), model `change_`/`delete_thing` through
///   a group;
/// - `nonowner` holds every grant on thing #2 and every permission of another model,
///   which must not leak to thing #1.
async fn setup() -> World {
    let t = TestDb::new().await;
    let store = PermissionStore::new(t.db.clone());
    let model = Model::new("shop", "Thing");
    let other = Model::new("shop", "Other");
    store
        .register_models(&[model.clone(), other.clone()])
        .await
        .unwrap();
    let mut users = BTreeMap::new();
    users.insert("anon", Identity::anonymous());
    let mut ids = BTreeMap::new();
    for kind in KINDS.iter().skip(1) {
        let (active, staff, superuser) = match *kind {
            "inactive" => (false, false, false),
            "staff" => (true, true, false),
            "superuser" => (true, true, true),
            _ => (true, false, false),
        };
        let user = t.user(kind, active, staff, superuser).await;
        ids.insert(*kind, user.id);
        users.insert(*kind, identity(&user));
    }
    let u = |k: &str| GrantTarget::User(ids[k]);
    let thing1 = Some((&model, 1));
    for action in ["add", "change", "delete", "view"] {
        let perm = model.perm(action);
        store.grant(u("inactive"), &perm, None).await.unwrap();
        store.grant(u("inactive"), &perm, thing1).await.unwrap();
        store
            .grant(u("nonowner"), &perm, Some((&model, 2)))
            .await
            .unwrap();
        store
            .grant(u("nonowner"), &other.perm(action), None)
            .await
            .unwrap();
    }
    for action in ["add", "change"] {
        store
            .grant(u("modelperm"), &model.perm(action), None)
            .await
            .unwrap();
    }
    let editors = store.create_group("editors").await.unwrap();
    store
        .add_user_to_group(editors, ids["groupperm"])
        .await
        .unwrap();
    for action in ["change", "delete", "view"] {
        store
            .grant(GrantTarget::Group(editors), &model.perm(action), None)
            .await
            .unwrap();
    }
    for action in ["view", "change", "delete"] {
        store
            .grant(u("objgrant"), &model.perm(action), thing1)
            .await
            .unwrap();
    }
    let thing_editors = store.create_group("thing-editors").await.unwrap();
    store
        .add_user_to_group(thing_editors, ids["objgrant+model"])
        .await
        .unwrap();
    for action in ["change", "delete"] {
        store
            .grant(u("objgrant+model"), &model.perm(action), None)
            .await
            .unwrap();
    }
    for action in ["view", "change"] {
        store
            .grant(
                GrantTarget::Group(thing_editors),
                &model.perm(action),
                thing1,
            )
            .await
            .unwrap();
    }
    store
        .grant(u("viewgrant"), &model.perm("view"), thing1)
        .await
        .unwrap();
    let writers = store.create_group("writers").await.unwrap();
    store
        .add_user_to_group(writers, ids["viewgrant"])
        .await
        .unwrap();
    for action in ["change", "delete"] {
        store
            .grant(GrantTarget::Group(writers), &model.perm(action), None)
            .await
            .unwrap();
    }
    World {
        thing: Thing {
            id: 1,
            owner_id: ids["owner"],
        },
        t,
        model,
        users,
    }
}

/// Runs one request through both steps; returns (view outcome, detail outcome).
async fn outcome(
    w: &World,
    policy: &dyn Permission,
    method: &Method,
    identity: &Identity,
) -> (char, char) {
    let db = &w.t.db;
    let perms = match check_permissions(db, policy, method, identity, Some(&w.model), Some("Token"))
        .await
    {
        Ok(perms) => perms,
        Err(e) => return (code(&e), code(&e)),
    };
    let request = ApiRequest {
        method: method.clone(),
        uri: "/things/1/".parse().unwrap(),
        headers: HeaderMap::new(),
        body: Default::default(),
        identity: identity.clone(),
        params: vec![],
        perms,
        format_suffix: None,
        secure: false,
        client_ip: None,
        host: None,
    };
    let detail = check_object_permissions(
        db,
        policy,
        &request,
        Some(&w.model),
        &w.thing,
        Some("Token"),
    )
    .await;
    ('a', detail.map_or_else(|e| code(&e), |()| 'a'))
}

fn registry() -> Registry {
    let mut r = Registry::with_builtins();
    r.register("IsOwner", IsOwner);
    r
}

#[tokio::test(flavor = "multi_thread")]
async fn every_builtin_by_method_and_user_kind() {
    let w = setup().await;
    let registry = registry();
    let mut failures = Vec::new();
    let mut seen: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in TABLE.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let cols: Vec<&str> = line.split_whitespace().collect();
        let [policy, kind, view, detail] = cols[..] else {
            panic!("bad table line {line:?}");
        };
        seen.entry(policy.to_owned())
            .or_default()
            .push(kind.to_owned());
        let perm = registry.parse(policy).expect("policy parses");
        let identity = w.users.get(kind).unwrap_or_else(|| panic!("kind {kind}"));
        let (mut got_view, mut got_detail) = (String::new(), String::new());
        for method in &METHODS {
            let (v, d) = outcome(&w, &perm, method, identity).await;
            got_view.push(v);
            got_detail.push(d);
        }
        if (got_view.as_str(), got_detail.as_str()) != (view, detail) {
            failures.push(format!(
                "{policy} / {kind}: expected {view} {detail}, got {got_view} {got_detail}"
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
    // Every registered built-in is covered, each for every kind of user.
    for name in Registry::with_builtins().names() {
        let kinds = seen
            .get(name)
            .unwrap_or_else(|| panic!("{name} not in table"));
        assert_eq!(kinds, &KINDS.to_vec(), "{name} rows");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn methods_outside_the_perms_map_are_405_after_authentication() {
    let w = setup().await;
    let r = registry();
    let trace = Method::TRACE;
    let cases = [
        ("DjangoModelPermissions", "anon", '1'),
        ("DjangoModelPermissions", "active", '5'),
        ("DjangoModelPermissions", "superuser", '5'),
        ("DjangoModelPermissionsOrAnonReadOnly", "anon", '5'),
        ("DjangoObjectPermissions", "objgrant", '5'),
        // Python's `or` never evaluates the right side when the left allows...
        ("AllowAny | DjangoModelPermissions", "active", 'a'),
        // ...and a raise on the left propagates through it.
        ("DjangoModelPermissions | AllowAny", "active", '5'),
        ("~DjangoModelPermissions", "active", '5'),
        ("IsAdminUser & DjangoModelPermissions", "active", '3'),
    ];
    for (policy, kind, want) in cases {
        let got = outcome(&w, &r.parse(policy).unwrap(), &trace, &w.users[kind])
            .await
            .0;
        assert_eq!(got, want, "{policy} / {kind}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn model_permission_classes_need_a_model() {
    let w = setup().await;
    let policy = registry().parse("DjangoModelPermissions").unwrap();
    let user = &w.users["active"];
    let err = check_permissions(&w.t.db, &policy, &Method::GET, user, None, Some("Token"))
        .await
        .unwrap_err();
    assert_eq!(err.status(), StatusCode::INTERNAL_SERVER_ERROR);
    // Anonymous requests are refused before the model is looked at, as in DRF.
    let err = check_permissions(
        &w.t.db,
        &policy,
        &Method::GET,
        &Identity::anonymous(),
        None,
        Some("Token"),
    )
    .await
    .unwrap_err();
    assert_eq!(err.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread")]
async fn messages_and_challenges_follow_drf() {
    let w = setup().await;
    let r = registry();
    let detail = |policy: &str, kind: &'static str, method: Method| {
        let perm = r.parse(policy).unwrap();
        let w = &w;
        async move {
            let identity = &w.users[kind];
            let perms = check_permissions(
                &w.t.db,
                &perm,
                &method,
                identity,
                Some(&w.model),
                Some("Token"),
            )
            .await?;
            let request = ApiRequest {
                method,
                uri: "/".parse().unwrap(),
                headers: HeaderMap::new(),
                body: Default::default(),
                identity: identity.clone(),
                params: vec![],
                perms,
                format_suffix: None,
                secure: false,
                client_ip: None,
                host: None,
            };
            check_object_permissions(
                &w.t.db,
                &perm,
                &request,
                Some(&w.model),
                &w.thing,
                Some("Token"),
            )
            .await
        }
    };
    let text = |r: Result<(), ApiError>| r.unwrap_err().to_string();
    // `&` is DRF's list: the denying class's message.
    assert_eq!(
        text(detail("IsAuthenticated & IsOwner", "nonowner", Method::GET).await),
        "Not an owner."
    );
    // A composed `|` or `~` has no message: DRF's default.
    assert_eq!(
        text(detail("IsAdminUser | IsOwner", "nonowner", Method::GET).await),
        "You do not have permission to perform this action."
    );
    assert_eq!(
        text(detail("~IsAuthenticated", "nonowner", Method::GET).await),
        "You do not have permission to perform this action."
    );
    // Anonymous: "not authenticated" with the challenge, never the custom message.
    let anon = detail("IsOwner", "anon", Method::GET).await.unwrap_err();
    assert_eq!(
        anon.to_string(),
        "Authentication credentials were not provided."
    );
    let response = axum::response::IntoResponse::into_response(anon);
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(response.headers()["www-authenticate"], "Token");
    // The 404 a permission raises is DRF's bare Http404.
    assert_eq!(
        text(detail("DjangoObjectPermissionsWithView", "groupperm", Method::GET).await),
        "Not found."
    );
    // Without a challenge (no authenticator offers one), anonymous is 403.
    let err = check_permissions(
        &w.t.db,
        &IsOwner,
        &Method::GET,
        &Identity::anonymous(),
        None,
        None,
    )
    .await;
    assert!(err.is_ok());
    let err = check_permissions(
        &w.t.db,
        &axum_drf::permissions::IsAuthenticated,
        &Method::GET,
        &Identity::anonymous(),
        None,
        None,
    )
    .await
    .unwrap_err();
    assert_eq!(err.status(), StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_object_check_reuses_the_model_permissions_the_view_check_loaded() {
    let w = setup().await;
    // `|` re-checks DjangoObjectPermissions' model-level has_permission at object level.
    let policy = registry()
        .parse("IsOwner | DjangoObjectPermissions")
        .unwrap();
    // objgrant+model holds change_thing on the model and on thing #1 in the database; a
    // request carrying an (empty) permission set from its view-level step is judged by
    // that set, not by a second read.
    let identity = &w.users["objgrant+model"];
    let request = |perms| ApiRequest {
        method: Method::PUT,
        uri: "/things/1/".parse().unwrap(),
        headers: HeaderMap::new(),
        body: Default::default(),
        identity: identity.clone(),
        params: vec![],
        perms,
        format_suffix: None,
        secure: false,
        client_ip: None,
        host: None,
    };
    let (w, policy) = (&w, &policy);
    let check = |req: ApiRequest| async move {
        check_object_permissions(
            &w.t.db,
            policy,
            &req,
            Some(&w.model),
            &w.thing,
            Some("Token"),
        )
        .await
    };
    assert!(
        check(request(None)).await.is_ok(),
        "loaded when not carried"
    );
    let carried = Some(std::sync::Arc::new(axum_drf::permissions::PermSet::new()));
    assert_eq!(
        check(request(carried)).await.unwrap_err().status(),
        StatusCode::FORBIDDEN
    );
}
