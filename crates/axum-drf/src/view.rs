//! Views: the one path every request takes, written once.
//!
//! ```text
//! body (bounded) -> content negotiation (406) -> authenticate (401/403)
//!   -> view permission (401/403) -> method (405, HEAD = GET, OPTIONS = metadata) -> handler
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
use axum::extract::{RawPathParams, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use serde_json::{json, Value};

use crate::auth::service::RequestHead;
use crate::auth::AuthService;
use crate::client::{client_ip, peer_addr, TrustedProxies, NO_PROXIES};
use crate::error::{json_response, ApiError};
use crate::parsers::{self, NegotiationError, Renderer};
use crate::permissions::{
    check_permissions, load_model_perms, Access, IsAuthenticated, Model, Needs, Perm, Permission,
};
use crate::request::ApiRequest;
use crate::routing::FormatSuffix;

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
        }
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
        axum::routing::any(
            move |State(state): State<S>, params: RawPathParams, req: Request| {
                let view = view.clone();
                let allow = allow.clone();
                async move {
                    let params = params
                        .iter()
                        .map(|(k, v)| (k.to_owned(), v.to_owned()))
                        .collect();
                    let mut response = match view.dispatch(state, params, req).await {
                        Ok(r) => r,
                        Err(e) => e.into_response(),
                    };
                    let headers = response.headers_mut();
                    headers.insert(header::ALLOW, allow);
                    headers.append(header::VARY, HeaderValue::from_static("Accept"));
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
        // Most clients send no Accept (or */*) and no format: nothing to negotiate.
        let trivial = format.is_none() && matches!(accept, None | Some("*/*"));
        if !trivial {
            let renderers: &[Renderer] = if self.renders.contains(&"text/html") {
                &[Renderer::Json, Renderer::BrowsableApi]
            } else {
                &[Renderer::Json]
            };
            parsers::select_renderer_from(accept, format.as_deref(), renderers)
                .map(drop)
                .map_err(|e| match e {
                    NegotiationError::NotAcceptable => ApiError::NotAcceptable,
                    NegotiationError::NotFound => ApiError::NotFound("Not found.".into()),
                })?;
        }

        let auth = state.auth();
        let identity = auth
            .authenticate(RequestHead {
                method: &parts.method,
                headers: &parts.headers,
                extensions: Some(&parts.extensions),
                body: &body,
            })
            .await?;

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

        if parts.method != Method::OPTIONS && route.is_none() {
            return Err(ApiError::MethodNotAllowed(parts.method));
        }
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
            uri: parts.uri,
            headers: parts.headers,
            body,
            identity,
            params,
            format_suffix,
            perms,
            secure,
            client_ip,
        };
        match route {
            Some(route) if request.method != Method::OPTIONS => {
                (route.handler)(state, request).await
            }
            _ => self.metadata(&state, request).await,
        }
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

fn query_format(query: Option<&str>) -> Option<String> {
    form_urlencoded::parse(query?.as_bytes())
        .filter(|(k, _)| k == "format")
        .last()
        .map(|(_, v)| v.into_owned())
}
