//! Views: the one path every request takes, written once.
//!
//! ```text
//! body (bounded) -> content negotiation (406) -> authenticate (401/403)
//!   -> view permission (401/403) -> throttles (429)
//!   -> method (405, HEAD = GET, OPTIONS = metadata) -> handler
//!   -> renderer: the answer as is (JSON), or as the browsable API page when negotiation
//!      chose `text/html` and the state enables it (errors too, with their status)
//! ```
//! Every response carries DRF's `Allow` and `Vary: Accept` headers. A view is secure by
//! default: without a policy of its own it uses the state's
//! [`default_permission`](ApiState::default_permission) (DRF's
//! `DEFAULT_PERMISSION_CLASSES`), and without that it requires an authenticated user.
//!
//! ```
//! use axum::response::Response;
//! use axum_drf::{auth::AuthService, error::ApiError, request::ApiRequest, view::{ApiState, View}};
//! use axum_drf::permissions::AllowAny;
//!
//! #[derive(Clone)]
//! struct State { auth: AuthService }
//! impl ApiState for State {
//!     fn auth(&self) -> &AuthService { &self.auth }
//! }
//!
//! async fn hello(_: State, _: ApiRequest) -> Result<Response, ApiError> {
//!     Ok(axum_drf::json(axum::http::StatusCode::OK, &serde_json::json!({"message": "hi"})))
//! }
//!
//! let route: axum::routing::MethodRouter<State> =
//!     View::new("Hello").permission(AllowAny).get(hello).into_route();
//! # let _ = route;
//! ```

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{MatchedPath, RawPathParams, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use serde_json::{json, Value};

use crate::auth::service::RequestHead;
use crate::auth::service::SESSION_COOKIE;
use crate::auth::{AuthService, Identity};
use crate::browsable::{render_page, Browsable, PageRequest, PageView};
use crate::client::{client_ip, peer_addr, TrustedProxies, NO_PROXIES};
use crate::error::{json_response, ApiError};
use crate::metrics::Served;
use crate::openapi::{ResourceDoc, ViewDoc};
use crate::parsers::{self, NegotiationError, Renderer};
use crate::permissions::{
    check_permissions, load_model_perms, Access, IsAuthenticated, Model, Needs, Perm, Permission,
};
use crate::request::ApiRequest;
use crate::routing::FormatSuffix;
use crate::throttling::{CredentialThrottle, Throttling};

/// What the framework needs from the application state.
pub trait ApiState: Clone + Send + Sync + 'static {
    /// The authentication service.
    fn auth(&self) -> &AuthService;
    /// Largest accepted request body in bytes (413 above it).
    fn body_limit(&self) -> usize {
        1024 * 1024
    }
    /// The policy of views that set none (DRF's `DEFAULT_PERMISSION_CLASSES`); `None`:
    /// `IsAuthenticated`.
    fn default_permission(&self) -> Option<&Perm> {
        None
    }
    /// Reverse proxies whose `X-Forwarded-For` names the client (none by default).
    fn trusted_proxies(&self) -> &TrustedProxies {
        &NO_PROXIES
    }
    /// The browsable API's settings; `None` (the default) answers JSON where DRF would
    /// render the HTML page.
    fn browsable(&self) -> Option<&Browsable> {
        None
    }

    /// Throttle classes, scope rates and counters ([`Throttling`]); `None`: no throttling.
    fn throttling(&self) -> Option<&Throttling> {
        None
    }
}

type BoxFut = Pin<Box<dyn Future<Output = Result<Response, ApiError>> + Send>>;
type Handler<S> = Arc<dyn Fn(S, ApiRequest) -> BoxFut + Send + Sync>;

struct Route<S> {
    method: Method,
    permission: Option<Perm>,
    handler: Handler<S>,
}

/// Media types a view parses, in DRF's default order.
pub const DEFAULT_PARSES: &[&str] = &[
    "application/json",
    "application/x-www-form-urlencoded",
    "multipart/form-data",
];
/// Media types a view renders by default (DRF's JSON + browsable API).
pub const DEFAULT_RENDERS: &[&str] = &["application/json", "text/html"];

/// A view: handlers per method behind one permission policy.
pub struct View<S> {
    name: String,
    description: String,
    // `None`: the state's default policy, read per request.
    permission: Option<Perm>,
    model: Option<Model>,
    routes: Vec<Route<S>>,
    renders: &'static [&'static str],
    parses: &'static [&'static str],
    actions: Vec<(Method, Value)>,
    object_probe: Option<ObjectProbe<S>>,
    resource_doc: Option<ResourceDoc>,
    renders_itself: bool,
    bodiless: Vec<u16>,
    throttle_scope: Option<String>,
    credential: Option<CredentialThrottle>,
}

type ObjectProbe<S> =
    Arc<dyn Fn(S, ApiRequest) -> Pin<Box<dyn Future<Output = bool> + Send>> + Send + Sync>;

// DRF's `http_method_names` order, which is also the order of the Allow header.
const METHOD_ORDER: [Method; 7] = [
    Method::GET,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
    Method::HEAD,
    Method::OPTIONS,
];

impl<S: ApiState> View<S> {
    /// A view named `name` (shown by OPTIONS), under the default policy until told
    /// otherwise.
    pub fn new(name: impl Into<String>) -> Self {
        View {
            name: name.into(),
            description: String::new(),
            permission: None,
            model: None,
            routes: Vec::new(),
            renders: DEFAULT_RENDERS,
            parses: DEFAULT_PARSES,
            actions: Vec::new(),
            object_probe: None,
            resource_doc: None,
            renders_itself: false,
            bodiless: Vec::new(),
            throttle_scope: None,
            credential: None,
        }
    }

    /// DRF's `throttle_scope`: the view is throttled at the state's rate for `scope`, per
    /// user or client address (`ScopedRateThrottle`); without a rate for it, it is not.
    pub fn throttle_scope(mut self, scope: impl Into<String>) -> Self {
        self.throttle_scope = Some(scope.into());
        self
    }

    /// Limits a credential endpoint per client and per target account
    /// ([`CredentialThrottle`]), on its unsafe methods (the attempts, not GET or OPTIONS).
    pub fn credential_throttle(mut self, throttle: CredentialThrottle) -> Self {
        self.credential = Some(throttle);
        self
    }

    /// Sets the view's permission policy.
    pub fn permission(mut self, permission: impl Permission) -> Self {
        self.permission = Some(Perm::new(permission));
        self
    }

    /// Declares the model the view works on (DRF's `queryset.model`), which
    /// model-permission classes need:
    ///
    /// ```
    /// # use axum_drf::{auth::AuthService, view::{ApiState, View}};
    /// # #[derive(Clone)] struct State { auth: AuthService }
    /// # impl ApiState for State { fn auth(&self) -> &AuthService { &self.auth } }
    /// use axum_drf::permissions::{DjangoModelPermissions, Model};
    /// let view: View<State> = View::new("Friend List")
    ///     .model(Model::new("lending", "Friend"))
    ///     .permission(DjangoModelPermissions::new());
    /// # let _ = view;
    /// ```
    pub fn model(mut self, model: Model) -> Self {
        self.model = Some(model);
        self
    }

    /// Sets the description shown by OPTIONS.
    pub fn description(mut self, text: impl Into<String>) -> Self {
        self.description = text.into();
        self
    }

    /// Overrides the media types listed by OPTIONS (`renders`, `parses`).
    pub fn media(
        mut self,
        renders: &'static [&'static str],
        parses: &'static [&'static str],
    ) -> Self {
        self.renders = renders;
        self.parses = parses;
        self
    }

    /// Field metadata for OPTIONS `actions` under `method` (shown when permitted).
    pub fn action_metadata(mut self, method: Method, fields: Value) -> Self {
        self.actions.push((method, fields));
        self
    }

    /// For detail views: whether the requester reaches the object (the scoped lookup and the
    /// object permission, as for a PUT). OPTIONS lists the `PUT` action only when it does,
    /// as DRF's metadata runs `get_object()` for PUT.
    pub fn object_probe<F, Fut>(mut self, probe: F) -> Self
    where
        F: Fn(S, ApiRequest) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = bool> + Send + 'static,
    {
        self.object_probe = Some(Arc::new(move |s, r| Box::pin(probe(s, r))));
        self
    }

    /// The handlers choose the media type themselves (DRF views with their own renderer
    /// classes, e.g. a schema served as YAML or JSON): the view path skips its JSON / HTML
    /// negotiation.
    pub fn renders_itself(mut self) -> Self {
        self.renders_itself = true;
        self
    }

    /// A status the view may answer with an empty body (DRF's `Response(status=...)` without
    /// data, sent without a Content-Type); the schema documents it so.
    pub fn bodiless(mut self, status: StatusCode) -> Self {
        self.bodiless.push(status.as_u16());
        self
    }

    /// Describes the view as one of a resource's routes in the OpenAPI schema.
    pub fn resource_doc(mut self, doc: ResourceDoc) -> Self {
        self.resource_doc = Some(doc);
        self
    }

    /// What the OpenAPI schema shows of this view.
    pub fn doc(&self) -> ViewDoc {
        let methods = self
            .allowed()
            .into_iter()
            .filter(|m| *m != Method::HEAD && *m != Method::OPTIONS)
            .map(|m| {
                let perm = self
                    .route(&m)
                    .and_then(|r| r.permission.clone())
                    .or_else(|| self.permission.clone());
                (m, perm)
            })
            .collect();
        ViewDoc {
            name: self.name.clone(),
            description: self.description.clone(),
            methods,
            actions: self.actions.clone(),
            resource: self.resource_doc.clone(),
            bodiless: self.bodiless.clone(),
        }
    }

    /// Adds a handler for `method`.
    pub fn on<F, Fut>(self, method: Method, handler: F) -> Self
    where
        F: Fn(S, ApiRequest) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Response, ApiError>> + Send + 'static,
    {
        self.add(method, None, handler)
    }

    /// Adds a handler for `method` with its own permission (like a viewset action's).
    pub fn on_with<F, Fut>(self, method: Method, permission: impl Permission, handler: F) -> Self
    where
        F: Fn(S, ApiRequest) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Response, ApiError>> + Send + 'static,
    {
        self.add(method, Some(Perm::new(permission)), handler)
    }

    fn add<F, Fut>(mut self, method: Method, permission: Option<Perm>, handler: F) -> Self
    where
        F: Fn(S, ApiRequest) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Response, ApiError>> + Send + 'static,
    {
        let handler: Handler<S> = Arc::new(move |s, r| Box::pin(handler(s, r)));
        self.routes.push(Route {
            method,
            permission,
            handler,
        });
        self
    }

    /// GET (and HEAD) handler.
    pub fn get<F, Fut>(self, handler: F) -> Self
    where
        F: Fn(S, ApiRequest) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Response, ApiError>> + Send + 'static,
    {
        self.on(Method::GET, handler)
    }

    /// POST handler.
    pub fn post<F, Fut>(self, handler: F) -> Self
    where
        F: Fn(S, ApiRequest) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Response, ApiError>> + Send + 'static,
    {
        self.on(Method::POST, handler)
    }

    /// The axum route that runs this view for every method.
    pub fn into_route(self) -> MethodRouter<S> {
        let allow = self.allow_header();
        let view = Arc::new(self);
        // The route template as a shared string, made once: the access log and metrics
        // label every response with it without allocating.
        let template: Arc<std::sync::OnceLock<Arc<str>>> = Arc::default();
        axum::routing::any(
            move |State(state): State<S>, params: RawPathParams, req: Request| {
                let view = view.clone();
                let allow = allow.clone();
                let template = template.clone();
                async move {
                    let route = route_template(&template, &req);
                    let params = params
                        .iter()
                        .map(|(k, v)| (k.to_owned(), v.to_owned()))
                        .collect();
                    // Filled only when negotiation picked the browsable API.
                    let mut page = None;
                    let mut user_id = None;
                    let dispatched = view.dispatch(state, params, req, &mut page, &mut user_id);
                    let mut response = match dispatched.await {
                        Ok(r) => r,
                        Err(e) => e.into_response(),
                    };
                    let headers = response.headers_mut();
                    headers.insert(header::ALLOW, allow.clone());
                    headers.append(header::VARY, HeaderValue::from_static("Accept"));
                    let mut response = match page {
                        // The renderer step: the same answer, as the browsable page.
                        Some((page, state)) => match state.browsable() {
                            Some(config) => {
                                let page_view = PageView {
                                    name: &view.name,
                                    description: &view.description,
                                    allow: allow.to_str().unwrap_or(""),
                                    actions: &view.actions,
                                };
                                render_page(config, page_view, page, response).await
                            }
                            None => response,
                        },
                        None => response,
                    };
                    response.extensions_mut().insert(Served { route, user_id });
                    response
                }
            },
        )
    }

    fn allowed(&self) -> Vec<Method> {
        let has = |m: &Method| self.routes.iter().any(|r| r.method == *m);
        METHOD_ORDER
            .iter()
            .filter(|m| match **m {
                Method::HEAD => has(&Method::GET),
                Method::OPTIONS => true,
                _ => has(m),
            })
            .cloned()
            .collect()
    }

    fn allow_header(&self) -> HeaderValue {
        let text = self
            .allowed()
            .iter()
            .map(Method::as_str)
            .collect::<Vec<_>>()
            .join(", ");
        HeaderValue::from_str(&text).unwrap_or(HeaderValue::from_static("OPTIONS"))
    }

    fn route(&self, method: &Method) -> Option<&Route<S>> {
        let wanted = if *method == Method::HEAD {
            &Method::GET
        } else {
            method
        };
        self.routes.iter().find(|r| r.method == *wanted)
    }

    async fn dispatch(
        &self,
        state: S,
        params: Vec<(String, String)>,
        req: Request,
        page: &mut Option<(PageRequest, S)>,
        user_id: &mut Option<i64>,
    ) -> Result<Response, ApiError> {
        let (parts, body) = req.into_parts();
        let body = axum::body::to_bytes(Body::new(body), state.body_limit())
            .await
            .map_err(|e| match crate::server::is_body_timeout(&e) {
                true => ApiError::RequestTimeout,
                false => ApiError::PayloadTooLarge,
            })?;

        let accept = parts
            .headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok());
        let format_suffix = parts.extensions.get::<FormatSuffix>().map(|f| f.0.clone());
        let format = format_suffix
            .clone()
            .or_else(|| query_format(parts.uri.query()));
        // Most clients send no Accept, `*/*` or exactly `application/json`, and no format:
        // JSON, with nothing to negotiate (parsing the header cost ~6% of a request).
        let trivial = self.renders_itself
            || format.is_none() && matches!(accept, None | Some("*/*" | "application/json"));
        if !trivial {
            let renderers: &[Renderer] = if self.renders.contains(&"text/html") {
                &[Renderer::Json, Renderer::BrowsableApi]
            } else {
                &[Renderer::Json]
            };
            let negotiated = parsers::select_renderer_from(accept, format.as_deref(), renderers)
                .map_err(|e| match e {
                    NegotiationError::NotAcceptable => ApiError::NotAcceptable,
                    NegotiationError::NotFound => ApiError::NotFound("Not found.".into()),
                })?;
            if negotiated.renderer == Renderer::BrowsableApi && state.browsable().is_some() {
                *page = Some((
                    PageRequest {
                        method: parts.method.clone(),
                        uri: parts.uri.clone(),
                        headers: parts.headers.clone(),
                        body: body.clone(),
                        identity: Identity::anonymous(),
                        permitted: Vec::new(),
                    },
                    state.clone(),
                ));
            }
        }

        let auth = state.auth();
        let identity = auth
            .authenticate(RequestHead {
                method: &parts.method,
                headers: &parts.headers,
                extensions: Some(&parts.extensions),
                body: &body,
            })
            .await;
        record_authentication(&identity, &parts.headers);
        let identity = identity?;
        *user_id = identity.user.as_ref().map(|u| u.id);
        if let Some((page, _)) = page.as_mut() {
            page.identity = identity.clone();
        }

        let session_ended = auth.session_ended(&parts.headers, &identity);
        let result = async move {
            let auth = state.auth();
            let route = self.route(&parts.method);
            let permission = self.permission_for(&state, &parts.method);
            let perms = check_permissions(
                auth.db(),
                &permission,
                &parts.method,
                &identity,
                self.model.as_ref(),
                auth.challenge(),
            )
            .await?;

            let secure = auth.is_secure(&parts.headers, &parts.extensions);
            let client_ip = client_ip(
                &parts.headers,
                peer_addr(&parts.extensions).map(|a| a.ip()),
                state.trusted_proxies(),
            );
            let host = parts
                .extensions
                .get::<crate::hosts::CheckedHost>()
                .map(|h| h.0.clone());
            let request = ApiRequest {
                host,
                method: parts.method,
                // The path as requested, format suffix included (DRF's `request.path`).
                uri: match parts.extensions.get::<axum::extract::OriginalUri>() {
                    Some(original) if format_suffix.is_some() => original.0.clone(),
                    _ => parts.uri,
                },
                headers: parts.headers,
                body,
                identity,
                params,
                format_suffix,
                perms,
                secure,
                client_ip,
            };
            if let Some((page, _)) = page.as_mut() {
                page.permitted = self.permitted_methods(&state, &request).await;
            }
            // DRF's `initial()`: throttles after permissions, before the method is looked at.
            let pending = match state.throttling() {
                Some(t) => {
                    // Credential limits guard the attempts (POST ...), not reads or metadata.
                    let credential = self
                        .credential
                        .as_ref()
                        .filter(|_| !request.method.is_safe());
                    t.check(&request, self.throttle_scope.as_deref(), credential)
                        .await?
                }
                None => None,
            };
            if request.method != Method::OPTIONS && route.is_none() {
                return Err(ApiError::MethodNotAllowed(request.method));
            }
            let result = match route {
                Some(route) if request.method != Method::OPTIONS => {
                    (route.handler)(state, request).await
                }
                _ => self.metadata(&state, request).await,
            };
            if let Some(pending) = pending {
                let status = match &result {
                    Ok(response) => response.status(),
                    Err(e) => e.status(),
                };
                pending.settle(status).await;
            }
            result
        }
        .await;
        if !session_ended {
            return result;
        }
        let mut response = result.unwrap_or_else(IntoResponse::into_response);
        // A login in this request set a new session: that cookie stands.
        let sets_session = response
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .any(|v| {
                v.as_bytes()
                    .strip_prefix(SESSION_COOKIE.as_bytes())
                    .is_some_and(|rest| rest.starts_with(b"="))
            });
        if !sets_session {
            if let Ok(v) =
                HeaderValue::from_str(&crate::cookies::deletion(SESSION_COOKIE, "/", None))
            {
                response.headers_mut().append(header::SET_COOKIE, v);
            }
        }
        Ok(response)
    }

    /// The policy for `method`: the route's own, else the view's, else the state's default,
    /// else `IsAuthenticated`.
    fn permission_for(&self, state: &S, method: &Method) -> Perm {
        self.route(method)
            .and_then(|r| r.permission.as_ref())
            .or(self.permission.as_ref())
            .or_else(|| state.default_permission())
            .cloned()
            .unwrap_or_else(|| Perm::new(IsAuthenticated))
    }

    /// The write methods the requester may use here (DRF's `show_form_for_method`): the
    /// method's policy, and for detail views the scoped lookup and object permission.
    async fn permitted_methods(&self, state: &S, request: &ApiRequest) -> Vec<Method> {
        let candidates: Vec<Method> = self
            .allowed()
            .into_iter()
            .filter(|m| !matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS))
            .collect();
        let needs = candidates.iter().fold(Needs::NONE, |n, m| {
            n | self.permission_for(state, m).needs()
        });
        let perms = match &request.perms {
            Some(p) => Some(p.clone()),
            None => load_model_perms(state.auth().db(), &request.identity, needs)
                .await
                .ok()
                .flatten(),
        };
        let mut permitted = Vec::new();
        for method in candidates {
            let access = Access::new(&method, &request.identity)
                .with_model(self.model.as_ref())
                .with_perms(perms.as_deref());
            if self.permission_for(state, &method).check(&access).is_err() {
                continue;
            }
            if let Some(probe) = &self.object_probe {
                let mut as_method = request.clone();
                as_method.method = method.clone();
                if !probe(state.clone(), as_method).await {
                    continue;
                }
            }
            permitted.push(method);
        }
        permitted
    }

    async fn metadata(&self, state: &S, request: ApiRequest) -> Result<Response, ApiError> {
        let identity = &request.identity;
        let perms = request.perms.clone();
        // The actions' policies may need model permissions OPTIONS' own did not.
        let needs = self.actions.iter().fold(Needs::NONE, |n, (m, _)| {
            n | self.permission_for(state, m).needs()
        });
        let perms = match perms {
            Some(p) => Some(p),
            None => load_model_perms(state.auth().db(), identity, needs).await?,
        };
        let mut body = json!({
            "name": self.name,
            "description": self.description,
            "renders": self.renders,
            "parses": self.parses,
        });
        let mut actions = serde_json::Map::new();
        for (method, fields) in &self.actions {
            let permission = self.permission_for(state, method);
            let access = Access::new(method, identity)
                .with_model(self.model.as_ref())
                .with_perms(perms.as_deref());
            if permission.check(&access).is_err() {
                continue;
            }
            if *method == Method::PUT {
                if let Some(probe) = &self.object_probe {
                    let mut as_put = request.clone();
                    as_put.method = Method::PUT;
                    if !probe(state.clone(), as_put).await {
                        continue;
                    }
                }
            }
            actions.insert(method.to_string(), fields.clone());
        }
        if !actions.is_empty() {
            body["actions"] = Value::Object(actions);
        }
        Ok(json_response(StatusCode::OK, &body))
    }
}

/// The matched route's template, shared: `cache` holds the view's (a view is normally
/// mounted at one path; another path gets its own string).
fn route_template(cache: &std::sync::OnceLock<Arc<str>>, req: &Request) -> Arc<str> {
    let Some(matched) = req.extensions().get::<MatchedPath>() else {
        return crate::metrics::unmatched();
    };
    let cached = cache.get_or_init(|| Arc::from(matched.as_str()));
    if &**cached == matched.as_str() {
        cached.clone()
    } else {
        Arc::from(matched.as_str())
    }
}

fn record_authentication(
    result: &Result<crate::auth::Identity, ApiError>,
    headers: &axum::http::HeaderMap,
) {
    use crate::auth::Credential;
    let (scheme, outcome) = match result {
        Ok(identity) => match (&identity.credential, identity.user.is_some()) {
            (Credential::Token { .. }, true) => ("token", "success"),
            (Credential::Session { .. }, true) => ("session", "success"),
            _ => ("none", "anonymous"),
        },
        // A failure with an Authorization header is the token's; otherwise the session's
        // (CSRF) failure.
        Err(_) if headers.contains_key(header::AUTHORIZATION) => ("token", "failure"),
        Err(_) => ("session", "failure"),
    };
    crate::metrics::authentication(scheme, outcome);
}

fn query_format(query: Option<&str>) -> Option<String> {
    form_urlencoded::parse(query?.as_bytes())
        .filter(|(k, _)| k == "format")
        .last()
        .map(|(_, v)| v.into_owned())
}
