//! The permission path over HTTP: a small `/things/` resource built on the framework
//! (view-level check in `View`, scope in the SQL, object check through
//! `check_object_permissions`), with policies parsed from text and grants that take effect
//! on the next request. SQLite, or PostgreSQL with `DATABASE_URL=postgres://...`.

mod common;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use axum::response::Response;
use axum::Router;
use axum_drf::auth::{AuthConfig, AuthService};
use axum_drf::permissions::{
    check_object_permissions, scope_filter, Access, GrantTarget, Model, Object, Perm, Permission,
    PermissionStore, Registry, Scope,
};
use axum_drf::store::{Backend, Value};
use axum_drf::{json, ApiError, ApiRequest, ApiState, View};
use common::TestDb;
use http_body_util::BodyExt;
use serde_json::{json, Value as Json};
use tower::ServiceExt;

struct IsOwner;
impl Permission for IsOwner {
    fn has_object_permission(&self, access: &Access<'_>, obj: &dyn Object) -> bool {
        access.user_id().is_some() && access.user_id() == obj.owner_id()
    }
    fn message(&self) -> Option<&str> {
        Some("Not an owner.")
    }
}

#[derive(Clone)]
struct St {
    auth: AuthService,
    policy: Perm,
    scope: Scope,
    model: Model,
    default: Option<Perm>,
}

impl ApiState for St {
    fn auth(&self) -> &AuthService {
        &self.auth
    }
    fn default_permission(&self) -> Option<&Perm> {
        self.default.as_ref()
    }
}

struct Thing {
    id: i64,
    owner_id: i64,
    name: String,
}
impl Object for Thing {
    fn pk(&self) -> Option<i64> {
        Some(self.id)
    }
    fn owner_id(&self) -> Option<i64> {
        Some(self.owner_id)
    }
}

fn render(t: &Thing) -> Json {
    json!({"id": t.id, "name": t.name})
}

async fn list(s: St, req: ApiRequest) -> Result<Response, ApiError> {
    let f = scope_filter(s.scope, req.identity.user(), &s.model, "owner_id", "id", 1);
    let rows = s
        .auth
        .db()
        .query(
            format!("SELECT id, name FROM things WHERE {} ORDER BY id", f.sql),
            f.params,
        )
        .await?;
    let items: Vec<Json> = rows
        .iter()
        .map(|r| json!({"id": r.int(0).unwrap(), "name": r.text(1).unwrap()}))
        .collect();
    Ok(json(StatusCode::OK, &Json::Array(items)))
}

async fn create(s: St, req: ApiRequest) -> Result<Response, ApiError> {
    let name = req
        .object_data()?
        .get("name")
        .and_then(Json::as_str)
        .unwrap_or("")
        .to_owned();
    let owner = req.user()?.id;
    let row = s
        .auth
        .db()
        .query(
            "INSERT INTO things (owner_id, name) VALUES ($1, $2) RETURNING id",
            vec![owner.into(), name.clone().into()],
        )
        .await?;
    Ok(json(
        StatusCode::CREATED,
        &json!({"id": row[0].int(0)?, "name": name}),
    ))
}

/// DRF's `get_object`: the lookup through the scope (404), then the object permissions.
async fn get_object(s: &St, req: &ApiRequest) -> Result<Thing, ApiError> {
    let not_found = || {
        ApiError::NotFound(format!(
            "No {} matches the given query.",
            s.model.object_name()
        ))
    };
    let id: i64 = req
        .param("id")
        .and_then(|v| v.parse().ok())
        .ok_or_else(not_found)?;
    let f = scope_filter(s.scope, req.identity.user(), &s.model, "owner_id", "id", 2);
    let mut params = vec![Value::Int(id)];
    params.extend(f.params);
    let row = s
        .auth
        .db()
        .query_opt(
            format!(
                "SELECT id, owner_id, name FROM things WHERE id = $1 AND {}",
                f.sql
            ),
            params,
        )
        .await?
        .ok_or_else(not_found)?;
    let thing = Thing {
        id: row.int(0)?,
        owner_id: row.int(1)?,
        name: row.text(2)?,
    };
    check_object_permissions(
        s.auth.db(),
        &s.policy,
        req,
        Some(&s.model),
        &thing,
        s.auth.challenge(),
    )
    .await?;
    Ok(thing)
}

async fn retrieve(s: St, req: ApiRequest) -> Result<Response, ApiError> {
    let thing = get_object(&s, &req).await?;
    Ok(json(StatusCode::OK, &render(&thing)))
}

async fn update(s: St, req: ApiRequest) -> Result<Response, ApiError> {
    let mut thing = get_object(&s, &req).await?;
    thing.name = req
        .object_data()?
        .get("name")
        .and_then(Json::as_str)
        .unwrap_or("")
        .to_owned();
    s.auth
        .db()
        .execute(
            "UPDATE things SET name = $1 WHERE id = $2",
            vec![thing.name.clone().into(), thing.id.into()],
        )
        .await?;
    Ok(json(StatusCode::OK, &render(&thing)))
}

async fn destroy(s: St, req: ApiRequest) -> Result<Response, ApiError> {
    let thing = get_object(&s, &req).await?;
    s.auth
        .db()
        .execute("DELETE FROM things WHERE id = $1", vec![thing.id.into()])
        .await?;
    Ok(axum::response::IntoResponse::into_response(
        StatusCode::NO_CONTENT,
    ))
}

async fn hello(_: St, _: ApiRequest) -> Result<Response, ApiError> {
    Ok(json(StatusCode::OK, &json!({"hello": "world"})))
}

struct Harness {
    t: TestDb,
    auth: AuthService,
    store: PermissionStore,
    model: Model,
}

impl Harness {
    async fn new() -> Harness {
        let t = TestDb::new().await;
        let ddl = match t.db.backend() {
            Backend::Sqlite => {
                "CREATE TABLE things (id INTEGER PRIMARY KEY AUTOINCREMENT, owner_id INTEGER NOT NULL, name TEXT NOT NULL)"
            }
            Backend::Postgres => {
                "CREATE TABLE things (id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, owner_id BIGINT NOT NULL, name TEXT NOT NULL)"
            }
        };
        t.db.execute(ddl, vec![]).await.unwrap();
        let model = Model::new("shop", "Thing");
        let store = PermissionStore::new(t.db.clone());
        store
            .register_models(std::slice::from_ref(&model))
            .await
            .unwrap();
        let auth = AuthService::new(
            t.db.clone(),
            AuthConfig::with_secret(b"test secret".to_vec()),
        );
        Harness {
            t,
            auth,
            store,
            model,
        }
    }

    /// The app under `policy` / `scope`, with `default` as the default policy.
    fn app(&self, policy: &str, scope: Scope, default: Option<&str>) -> Router {
        let mut registry = Registry::with_builtins();
        registry.register("IsOwner", IsOwner);
        let state = St {
            auth: self.auth.clone(),
            policy: registry.parse(policy).unwrap(),
            scope,
            model: self.model.clone(),
            default: default.map(|d| registry.parse(d).unwrap()),
        };
        let policy = state.policy.clone();
        Router::new()
            .route(
                "/things/",
                View::new("Thing List")
                    .model(self.model.clone())
                    .permission(policy.clone())
                    .action_metadata(Method::POST, json!({"name": {"type": "string"}}))
                    .get(list)
                    .post(create)
                    .into_route(),
            )
            .route(
                "/things/{id}/",
                View::new("Thing Instance")
                    .model(self.model.clone())
                    .permission(policy)
                    .get(retrieve)
                    .on(Method::PUT, update)
                    .on(Method::DELETE, destroy)
                    .into_route(),
            )
            .route("/hello/", View::new("Hello").get(hello).into_route())
            .with_state(state)
    }

    /// A user and their token.
    async fn user(&self, name: &str) -> (i64, String) {
        let user = self.t.user(name, true, false, false).await;
        let token = self.auth.issue_token(&user).await.unwrap();
        (user.id, token.expose().to_owned())
    }

    async fn thing(&self, owner: i64, name: &str) -> i64 {
        self.t
            .db
            .query(
                "INSERT INTO things (owner_id, name) VALUES ($1, $2) RETURNING id",
                vec![owner.into(), name.into()],
            )
            .await
            .unwrap()[0]
            .int(0)
            .unwrap()
    }
}

struct Answer {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Json,
}

async fn call(
    app: &Router,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Json>,
) -> Answer {
    let mut req = Request::builder().method(method).uri(path);
    if let Some(t) = token {
        req = req.header("Authorization", format!("Token {t}"));
    }
    let req = match body {
        Some(b) => req
            .header("Content-Type", "application/json")
            .body(Body::from(b.to_string())),
        None => req.body(Body::empty()),
    }
    .unwrap();
    let response = app.clone().oneshot(req).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let body = if bytes.is_empty() {
        Json::Null
    } else {
        serde_json::from_slice(&bytes).unwrap()
    };
    Answer {
        status,
        headers,
        body,
    }
}

fn detail(text: &str) -> Json {
    json!({ "detail": text })
}

#[tokio::test(flavor = "multi_thread")]
async fn owner_policy_answers_like_the_reference() {
    let h = Harness::new().await;
    let (alice, alice_tok) = h.user("alice").await;
    let (bob, bob_tok) = h.user("bob").await;
    let a1 = h.thing(alice, "lamp").await;
    let b1 = h.thing(bob, "drill").await;
    let app = h.app("IsAuthenticated & IsOwner", Scope::Owner, None);

    let r = call(&app, Method::GET, "/things/", None, None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.headers["www-authenticate"], "Token");
    assert_eq!(
        r.body,
        detail("Authentication credentials were not provided.")
    );

    let r = call(&app, Method::GET, "/things/", Some(&alice_tok), None).await;
    assert_eq!(r.body, json!([{"id": a1, "name": "lamp"}]));
    let r = call(
        &app,
        Method::GET,
        &format!("/things/{b1}/"),
        Some(&alice_tok),
        None,
    )
    .await;
    assert_eq!(
        (r.status, r.body),
        (
            StatusCode::NOT_FOUND,
            detail("No Thing matches the given query.")
        )
    );
    let r = call(
        &app,
        Method::POST,
        "/things/",
        Some(&bob_tok),
        Some(json!({"name": "saw"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED);

    // With every object in scope, ownership is decided by the object check: 403.
    let app = h.app("IsAuthenticated & IsOwner", Scope::All, None);
    let r = call(
        &app,
        Method::GET,
        &format!("/things/{b1}/"),
        Some(&alice_tok),
        None,
    )
    .await;
    assert_eq!(
        (r.status, r.body),
        (StatusCode::FORBIDDEN, detail("Not an owner."))
    );
    let r = call(&app, Method::GET, &format!("/things/{b1}/"), None, None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = call(
        &app,
        Method::GET,
        &format!("/things/{b1}/"),
        Some(&bob_tok),
        None,
    )
    .await;
    assert_eq!(r.body, json!({"id": b1, "name": "drill"}));
}

#[tokio::test(flavor = "multi_thread")]
async fn grants_take_effect_on_the_next_request() {
    let h = Harness::new().await;
    let (alice, _) = h.user("alice").await;
    let (bob, bob_tok) = h.user("bob").await;
    let a1 = h.thing(alice, "lamp").await;
    let b1 = h.thing(bob, "drill").await;
    let app = h.app(
        "IsAuthenticated & (IsOwner | DjangoObjectPermissions)",
        Scope::Granted,
        None,
    );
    let m = &h.model;
    let bob_u = GrantTarget::User(bob);
    let path = format!("/things/{a1}/");
    let get = || call(&app, Method::GET, &path, Some(&bob_tok), None);
    let put = || {
        call(
            &app,
            Method::PUT,
            &path,
            Some(&bob_tok),
            Some(json!({"name": "LAMP"})),
        )
    };
    let list = || async {
        let r = call(&app, Method::GET, "/things/", Some(&bob_tok), None).await;
        r.body
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["id"].as_i64().unwrap())
            .collect::<Vec<_>>()
    };

    assert_eq!(list().await, [b1]);
    assert_eq!(get().await.status, StatusCode::NOT_FOUND);

    // A view grant brings the object into bob's scope; reads need nothing more.
    h.store
        .grant(bob_u, "shop.view_thing", Some((m, a1)))
        .await
        .unwrap();
    assert_eq!(list().await, [a1, b1]);
    assert_eq!(get().await.body, json!({"id": a1, "name": "lamp"}));

    // Writing through DjangoObjectPermissions needs the model-level change permission
    // (its has_permission, which `|` re-checks at object level)...
    let r = put().await;
    assert_eq!(
        (r.status, r.body),
        (
            StatusCode::FORBIDDEN,
            detail("You do not have permission to perform this action.")
        )
    );
    h.store
        .grant(bob_u, "shop.change_thing", None)
        .await
        .unwrap();
    // ...and the change grant on this object.
    assert_eq!(put().await.status, StatusCode::FORBIDDEN);
    let editors = h.store.create_group("editors").await.unwrap();
    h.store.add_user_to_group(editors, bob).await.unwrap();
    h.store
        .grant(
            GrantTarget::Group(editors),
            "shop.change_thing",
            Some((m, a1)),
        )
        .await
        .unwrap();
    let r = put().await;
    assert_eq!(
        (r.status, r.body),
        (StatusCode::OK, json!({"id": a1, "name": "LAMP"}))
    );
    // DELETE needs delete permissions he does not have.
    let r = call(&app, Method::DELETE, &path, Some(&bob_tok), None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    // Leaving the group ends the object grant it carried.
    h.store.remove_user_from_group(editors, bob).await.unwrap();
    assert_eq!(put().await.status, StatusCode::FORBIDDEN);
    // Revoking the view grant takes the object out of scope.
    h.store
        .revoke(bob_u, "shop.view_thing", Some((m, a1)))
        .await
        .unwrap();
    assert_eq!(get().await.status, StatusCode::NOT_FOUND);
    assert_eq!(list().await, [b1]);
    // The model-level view permission brings every object into scope.
    h.store.grant(bob_u, "shop.view_thing", None).await.unwrap();
    assert_eq!(list().await, [a1, b1]);
}

#[tokio::test(flavor = "multi_thread")]
async fn object_permissions_hide_objects_with_404() {
    let h = Harness::new().await;
    let (alice, _) = h.user("alice").await;
    let (bob, bob_tok) = h.user("bob").await;
    let a1 = h.thing(alice, "lamp").await;
    let app = h.app(
        "IsAuthenticated & DjangoObjectPermissionsWithView",
        Scope::All,
        None,
    );
    let path = format!("/things/{a1}/");
    let bob_u = GrantTarget::User(bob);
    for perm in ["shop.view_thing", "shop.change_thing"] {
        h.store.grant(bob_u, perm, None).await.unwrap();
    }
    let r = call(&app, Method::GET, &path, Some(&bob_tok), None).await;
    assert_eq!(
        (r.status, r.body),
        (StatusCode::NOT_FOUND, detail("Not found."))
    );
    let r = call(
        &app,
        Method::PUT,
        &path,
        Some(&bob_tok),
        Some(json!({"name": "x"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    h.store
        .grant(bob_u, "shop.view_thing", Some((&h.model, a1)))
        .await
        .unwrap();
    let r = call(&app, Method::GET, &path, Some(&bob_tok), None).await;
    assert_eq!(r.status, StatusCode::OK);
    let r = call(
        &app,
        Method::PUT,
        &path,
        Some(&bob_tok),
        Some(json!({"name": "x"})),
    )
    .await;
    assert_eq!(
        (r.status, r.body),
        (
            StatusCode::FORBIDDEN,
            detail("You do not have permission to perform this action.")
        )
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn model_permissions_decide_writes_options_and_unknown_methods() {
    let h = Harness::new().await;
    let (bob, bob_tok) = h.user("bob").await;
    let app = h.app("DjangoModelPermissions", Scope::Owner, None);
    let post = || {
        call(
            &app,
            Method::POST,
            "/things/",
            Some(&bob_tok),
            Some(json!({"name": "saw"})),
        )
    };
    assert_eq!(post().await.status, StatusCode::FORBIDDEN);

    // OPTIONS lists the POST action only to users who may POST.
    let r = call(&app, Method::OPTIONS, "/things/", Some(&bob_tok), None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.get("actions").is_none(), "{}", r.body);
    h.store
        .grant(GrantTarget::User(bob), "shop.add_thing", None)
        .await
        .unwrap();
    let r = call(&app, Method::OPTIONS, "/things/", Some(&bob_tok), None).await;
    assert_eq!(
        r.body["actions"],
        json!({"POST": {"name": {"type": "string"}}})
    );
    assert_eq!(post().await.status, StatusCode::CREATED);

    // A method outside the perms map: 405 with the Allow header (after authentication).
    let r = call(&app, Method::TRACE, "/things/", Some(&bob_tok), None).await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.body, detail("Method \"TRACE\" not allowed."));
    assert_eq!(r.headers["allow"], "GET, POST, HEAD, OPTIONS");
    let r = call(&app, Method::TRACE, "/things/", None, None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);

    // Anonymous readers with the OrAnonReadOnly variant.
    let app = h.app("DjangoModelPermissionsOrAnonReadOnly", Scope::All, None);
    assert_eq!(
        call(&app, Method::GET, "/things/", None, None).await.status,
        StatusCode::OK
    );
    let r = call(
        &app,
        Method::POST,
        "/things/",
        None,
        Some(json!({"name": "x"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread")]
async fn views_without_a_policy_use_the_default() {
    let h = Harness::new().await;
    let (_, tok) = h.user("alice").await;
    let app = h.app("AllowAny", Scope::All, None);
    assert_eq!(
        call(&app, Method::GET, "/hello/", None, None).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        call(&app, Method::GET, "/hello/", Some(&tok), None)
            .await
            .status,
        StatusCode::OK
    );
    let app = h.app("AllowAny", Scope::All, Some("AllowAny"));
    assert_eq!(
        call(&app, Method::GET, "/hello/", None, None).await.status,
        StatusCode::OK
    );
    let app = h.app("AllowAny", Scope::All, Some("IsAdminUser"));
    let r = call(&app, Method::GET, "/hello/", Some(&tok), None).await;
    assert_eq!(
        (r.status, r.body),
        (
            StatusCode::FORBIDDEN,
            detail("You do not have permission to perform this action.")
        )
    );
}
