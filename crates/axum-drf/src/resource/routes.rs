//! The routes a resource yields, and the router that collects resources under a prefix with
//! DRF's API root.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::http::{header, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

use super::query::{Loaded, ObjectRef};
use super::Resource;
use crate::error::{json_response, ApiError};
use crate::pagination::LimitOffset;
use crate::permissions::check_object_permissions;
use crate::request::ApiRequest;
use crate::routing::Routes;
use crate::store::StoreError;
use crate::view::{ApiState, View};

type ActionFut = Pin<Box<dyn Future<Output = Result<Response, ApiError>> + Send>>;
type ActionFn<S> = Arc<dyn Fn(S, ApiRequest, ObjectRef) -> ActionFut + Send + Sync>;

/// An extra action on one object, like DRF's `@action(detail=True)`: runs after the scoped
/// lookup (404) and the object permission check.
pub struct DetailAction<S> {
    path: &'static str,
    name: &'static str,
    method: Method,
    handler: ActionFn<S>,
}

impl<S: ApiState> DetailAction<S> {
    /// An action at `{pk}/<path>/`, named `name` in OPTIONS (DRF: the function name, prettified).
    pub fn new<F, Fut>(path: &'static str, name: &'static str, method: Method, handler: F) -> Self
    where
        F: Fn(S, ApiRequest, ObjectRef) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Response, ApiError>> + Send + 'static,
    {
        DetailAction {
            path,
            name,
            method,
            handler: Arc::new(move |s, r, o| Box::pin(handler(s, r, o))),
        }
    }
}

/// Resources under one prefix, with DRF's `DefaultRouter` API root.
pub struct ResourceRouter<S> {
    prefix: &'static str,
    resources: Vec<(Arc<Resource>, Vec<DetailAction<S>>)>,
}

impl<S: ApiState> ResourceRouter<S> {
    /// A router at `prefix` (e.g. `/api/v1`, no trailing slash).
    pub fn new(prefix: &'static str) -> Self {
        ResourceRouter {
            prefix,
            resources: Vec::new(),
        }
    }

    /// Registers a resource.
    pub fn register(self, resource: Resource) -> Self {
        self.register_with_actions(resource, Vec::new())
    }

    /// Registers a resource with extra detail actions.
    pub fn register_with_actions(
        mut self,
        resource: Resource,
        actions: Vec<DetailAction<S>>,
    ) -> Self {
        self.resources.push((Arc::new(resource), actions));
        self
    }

    /// Every route: the API root, and list, detail and action routes per resource.
    pub fn into_routes(self) -> Routes<S> {
        let prefix = self.prefix;
        let names: Vec<&'static str> = self.resources.iter().map(|(r, _)| r.basename).collect();
        let root = View::new("Api Root")
            .description("The default basic root view for DefaultRouter")
            .get(move |_: S, req: ApiRequest| {
                let names = names.clone();
                async move { api_root(prefix, &names, &req) }
            });
        let mut routes = Routes::new().route(&format!("{prefix}/"), root.into_route());
        let targets: Vec<_> = self
            .resources
            .iter()
            .map(|(r, _)| (r.table, r.model.clone(), r.scope))
            .collect();
        for (resource, actions) in self.resources {
            let mut resource = Arc::unwrap_or_clone(resource);
            resource.targets = targets.clone();
            routes = routes.merge(resource_routes(prefix, Arc::new(resource), actions));
        }
        routes
    }
}

fn api_root(prefix: &str, names: &[&str], req: &ApiRequest) -> Result<Response, ApiError> {
    let origin = req.origin();
    let suffix = req
        .format_suffix
        .as_ref()
        .map(|f| format!(".{f}"))
        .unwrap_or_default();
    let links: Map<String, Value> = names
        .iter()
        .map(|n| {
            let link = if suffix.is_empty() {
                format!("{origin}{prefix}/{n}/")
            } else {
                format!("{origin}{prefix}/{n}{suffix}")
            };
            ((*n).to_owned(), Value::String(link))
        })
        .collect();
    Ok(json_response(StatusCode::OK, &Value::Object(links)))
}

fn fields_metadata(resource: &Resource) -> Value {
    let map: Map<String, Value> = resource
        .fields
        .iter()
        .map(|f| (f.name.to_owned(), f.metadata()))
        .collect();
    Value::Object(map)
}

fn resource_routes<S: ApiState>(
    prefix: &str,
    resource: Arc<Resource>,
    actions: Vec<DetailAction<S>>,
) -> Routes<S> {
    let base = format!("{prefix}/{}/", resource.basename);
    let meta = fields_metadata(&resource);
    let r = resource.clone();
    let list = View::new(format!("{} List", resource.model.object_name()))
        .model(resource.model.clone())
        .permission(resource.permission.clone())
        .action_metadata(Method::POST, meta.clone())
        .get({
            let r = r.clone();
            move |s: S, req| list(r.clone(), s, req)
        })
        .post({
            let r = r.clone();
            move |s: S, req| create(r.clone(), s, req)
        });
    let detail = View::new(format!("{} Instance", resource.model.object_name()))
        .model(resource.model.clone())
        .permission(resource.permission.clone())
        .action_metadata(Method::PUT, meta.clone())
        .get({
            let r = r.clone();
            move |s: S, req| retrieve(r.clone(), s, req)
        })
        .on(Method::PUT, {
            let r = r.clone();
            move |s: S, req| update(r.clone(), s, req, false)
        })
        .on(Method::PATCH, {
            let r = r.clone();
            move |s: S, req| update(r.clone(), s, req, true)
        })
        .on(Method::DELETE, {
            let r = r.clone();
            move |s: S, req| destroy(r.clone(), s, req)
        })
        .object_probe({
            let r = r.clone();
            move |s: S, req: ApiRequest| {
                let r = r.clone();
                async move { load(&r, &s, &req).await.is_ok() }
            }
        });
    let mut routes = Routes::new()
        .route(&base, list.into_route())
        .route(&format!("{base}{{pk}}/"), detail.into_route());
    for action in actions {
        let handler = action.handler.clone();
        let r = r.clone();
        let view = View::new(action.name)
            .model(resource.model.clone())
            .permission(resource.permission.clone())
            .action_metadata(action.method.clone(), meta.clone())
            .on(action.method.clone(), move |s: S, req: ApiRequest| {
                let handler = handler.clone();
                let r = r.clone();
                async move {
                    let object = load(&r, &s, &req).await?;
                    let object = ObjectRef {
                        resource: r.clone(),
                        db: s.auth().db().clone(),
                        user: req.identity.user.clone(),
                        object,
                    };
                    handler(s, req, object).await
                }
            });
        routes = routes.route(&format!("{base}{{pk}}/{}/", action.path), view.into_route());
    }
    routes
}

fn is_form(req: &ApiRequest) -> bool {
    req.headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|ct| {
            ct.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .is_some_and(|m| m == "application/x-www-form-urlencoded" || m == "multipart/form-data")
}

async fn list<S: ApiState>(r: Arc<Resource>, s: S, req: ApiRequest) -> Result<Response, ApiError> {
    let page = LimitOffset::from_request(&req, r.page_size, None);
    let filters: Vec<_> = r
        .filters
        .iter()
        .filter(|f| matches!(req.query_param(f.param).as_deref(), Some("true" | "1")))
        .collect();
    let (count, results) = r
        .list(s.auth().db(), req.identity.user(), &filters, page)
        .await?;
    let body = page.page_bytes(&req, count, &results);
    Ok(crate::error::json_bytes_response(StatusCode::OK, body))
}

async fn create<S: ApiState>(
    r: Arc<Resource>,
    s: S,
    req: ApiRequest,
) -> Result<Response, ApiError> {
    // The owner is the authenticated user, never client input.
    let user = req.user()?.clone();
    let data = req.object_data()?;
    let db = s.auth().db();
    let form = is_form(&req);
    let columns = r.validate(db, &user, &data, false, form).await?;
    let id = match r.insert(db, user.id, columns).await {
        Ok(id) => id,
        Err(e @ StoreError::ForeignKeyViolation(_)) => {
            return Err(r.vanished_reference(db, &user, &data, false, form, e).await)
        }
        Err(e) => return Err(e.into()),
    };
    let created = r
        .fetch(db, Some(&user), id)
        .await?
        .ok_or_else(|| r.not_found())?;
    Ok(json_response(StatusCode::CREATED, &created.body))
}

/// DRF's `get_object`: the scoped lookup (404), then the object permission check.
async fn load<S: ApiState>(r: &Resource, s: &S, req: &ApiRequest) -> Result<Loaded, ApiError> {
    let raw = req.param("pk").unwrap_or_default();
    let numeric = {
        let digits = raw.strip_prefix('-').unwrap_or(raw);
        !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
    };
    if !numeric {
        // Django's int() lookup fails before any query: a plain "Not found.".
        return Err(ApiError::NotFound("Not found.".into()));
    }
    let Ok(id) = raw.parse::<i64>() else {
        return Err(r.not_found());
    };
    let object = r
        .fetch(s.auth().db(), req.identity.user(), id)
        .await?
        .ok_or_else(|| r.not_found())?;
    check_object_permissions(
        s.auth().db(),
        &r.permission,
        req,
        Some(&r.model),
        &object,
        s.auth().challenge(),
    )
    .await?;
    Ok(object)
}

async fn retrieve<S: ApiState>(
    r: Arc<Resource>,
    s: S,
    req: ApiRequest,
) -> Result<Response, ApiError> {
    let object = load(&r, &s, &req).await?;
    Ok(json_response(StatusCode::OK, &object.body))
}

async fn update<S: ApiState>(
    r: Arc<Resource>,
    s: S,
    req: ApiRequest,
    partial: bool,
) -> Result<Response, ApiError> {
    let object = load(&r, &s, &req).await?;
    let user = req.user()?.clone();
    let data = req.object_data()?;
    let db = s.auth().db();
    let form = is_form(&req);
    let columns = r.validate(db, &user, &data, partial, form).await?;
    match r.update(db, object.id, columns).await {
        Ok(()) => {}
        Err(e @ StoreError::ForeignKeyViolation(_)) => {
            return Err(r
                .vanished_reference(db, &user, &data, partial, form, e)
                .await)
        }
        Err(e) => return Err(e.into()),
    }
    let updated = r
        .fetch(db, Some(&user), object.id)
        .await?
        .ok_or_else(|| r.not_found())?;
    Ok(json_response(StatusCode::OK, &updated.body))
}

async fn destroy<S: ApiState>(
    r: Arc<Resource>,
    s: S,
    req: ApiRequest,
) -> Result<Response, ApiError> {
    let object = load(&r, &s, &req).await?;
    r.delete(s.auth().db(), object.id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
