//! The OpenAPI 3 schema, generated from the route table ([`crate::routing::Routes`]) and the
//! declarations views and resources are built from, as drf-spectacular generates it from
//! Django's URLconf: every documented path and method, path and query parameters
//! (`limit`/`offset`, list filters), request and response bodies with types, lengths and
//! read-only fields, DRF's error shapes, and the security schemes (token header, session
//! cookie with CSRF). A route cannot exist without its entry, and a policy change (who may
//! call anonymously) shows in the operation's `security` at the next start.
//!
//! ```
//! use axum_drf::auth::AuthService;
//! use axum_drf::openapi::OpenApiInfo;
//! use axum_drf::permissions::AllowAny;
//! use axum_drf::routing::Routes;
//! use axum_drf::view::{ApiState, View};
//! # #[derive(Clone)] struct State { auth: AuthService }
//! # impl ApiState for State { fn auth(&self) -> &AuthService { &self.auth } }
//! async fn hello(_: State, _: axum_drf::ApiRequest) -> Result<axum::response::Response, axum_drf::ApiError> {
//!     Ok(axum_drf::json(axum::http::StatusCode::OK, &serde_json::json!({})))
//! }
//! let routes: Routes<State> =
//!     Routes::new().route("/api/hello/", View::new("Hello").permission(AllowAny).get(hello));
//! let schema = routes.openapi(&OpenApiInfo::new("demo", "1.0.0"), None);
//! assert_eq!(schema["openapi"], "3.0.3");
//! assert!(schema["paths"]["/api/hello/"]["get"].is_object());
//! ```

use axum::http::Method;
use serde_json::{json, Map, Value};

use crate::auth::Identity;
use crate::permissions::{Access, Perm, Permission};

/// The document's `info`.
#[derive(Debug, Clone)]
pub struct OpenApiInfo {
    /// API title.
    pub title: String,
    /// API version.
    pub version: String,
    /// Longer description (Markdown).
    pub description: String,
}

impl OpenApiInfo {
    /// `title` at `version`, no description.
    pub fn new(title: &str, version: &str) -> Self {
        OpenApiInfo {
            title: title.to_owned(),
            version: version.to_owned(),
            description: String::new(),
        }
    }
}

/// What a view tells the schema about itself (built by the view from its declaration).
#[derive(Clone)]
pub struct ViewDoc {
    /// The view's name (the operation's summary).
    pub name: String,
    /// Its description.
    pub description: String,
    /// Each method (HEAD and OPTIONS aside) with its own policy, if it has one.
    pub methods: Vec<(Method, Option<Perm>)>,
    /// Field metadata per method (as OPTIONS shows it), for request bodies.
    pub actions: Vec<(Method, Value)>,
    /// Set for a resource's routes.
    pub resource: Option<ResourceDoc>,
    /// Statuses the view may answer without a body (and so without a Content-Type).
    pub bodiless: Vec<u16>,
}

/// A resource route's side of the schema.
#[derive(Debug, Clone)]
pub struct ResourceDoc {
    /// Component name, the model's class name (`Friend`).
    pub component: String,
    /// Every field.
    pub fields: Vec<FieldDoc>,
    /// Which of the resource's routes this is.
    pub kind: ResourceRoute,
}

/// The kinds of resource routes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResourceRoute {
    /// `basename/`: list (paginated, with these boolean filters) and create.
    List(Vec<&'static str>),
    /// `basename/{pk}/`.
    Detail,
    /// `basename/{pk}/action/`.
    Action,
}

/// One field of a resource.
#[derive(Debug, Clone)]
pub struct FieldDoc {
    /// JSON name.
    pub name: &'static str,
    /// Its JSON Schema (type, format, length, nullable).
    pub schema: Value,
    /// Server-set.
    pub read_only: bool,
    /// Must be sent on create and PUT.
    pub required: bool,
}

fn error_responses() -> Map<String, Value> {
    let detail = |text: &str| json!({"description": text, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorDetail"}}}});
    let mut r = Map::new();
    r.insert(
        "400".into(),
        json!({"description": "Invalid input: field errors, or a parse error in `detail`.",
               "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ValidationError"}}}}),
    );
    for (code, text) in [
        (
            "401",
            "Missing or invalid credentials (`WWW-Authenticate: Token`).",
        ),
        (
            "403",
            "Permission denied, or a failed CSRF check for session requests.",
        ),
        ("404", "Not found (or not yours)."),
        ("405", "Method not allowed."),
        ("406", "The Accept header cannot be satisfied."),
        ("413", "Request body too large."),
        ("415", "Unsupported media type."),
        ("429", "Throttled."),
    ] {
        r.insert(code.into(), detail(text));
    }
    // A path that no route resolves (a router id with a dot, say) gets Django's HTML 404
    // page, as the reference does.
    r["404"]["content"]["text/html"] = json!({"schema": {"type": "string"}});
    r
}

fn json_content(schema: Value) -> Value {
    json!({"application/json": {"schema": schema}})
}

fn body_content(schema: Value) -> Value {
    json!({
        "application/json": {"schema": schema},
        "application/x-www-form-urlencoded": {"schema": schema},
        "multipart/form-data": {"schema": schema},
    })
}

fn schema_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

/// A JSON Schema for one OPTIONS field description (non-resource views).
fn metadata_schema(meta: &Value) -> Value {
    let mut schema = match meta.get("type").and_then(Value::as_str) {
        Some("integer" | "field") => json!({"type": "integer"}),
        Some("boolean") => json!({"type": "boolean"}),
        Some("email") => json!({"type": "string", "format": "email"}),
        Some("datetime") => json!({"type": "string", "format": "date-time"}),
        _ => json!({"type": "string"}),
    };
    if let Some(n) = meta.get("max_length") {
        schema["maxLength"] = n.clone();
    }
    schema
}

fn metadata_object(fields: &Value, partial: bool) -> Value {
    let mut properties = Map::new();
    let mut required = Vec::new();
    for (name, meta) in fields.as_object().into_iter().flatten() {
        if meta.get("read_only").and_then(Value::as_bool) == Some(true) {
            continue;
        }
        properties.insert(name.clone(), metadata_schema(meta));
        if !partial && meta.get("required").and_then(Value::as_bool) == Some(true) {
            required.push(Value::String(name.clone()));
        }
    }
    let mut object = json!({"type": "object", "properties": properties});
    if !required.is_empty() {
        object["required"] = Value::Array(required);
    }
    object
}

fn resource_components(doc: &ResourceDoc, schemas: &mut Map<String, Value>) {
    let name = &doc.component;
    if schemas.contains_key(name) {
        return;
    }
    let mut all = Map::new();
    let mut writable = Map::new();
    let mut required = Vec::new();
    for f in &doc.fields {
        let mut schema = f.schema.clone();
        if f.read_only {
            schema["readOnly"] = Value::Bool(true);
        } else {
            writable.insert(f.name.to_owned(), f.schema.clone());
            if f.required {
                required.push(json!(f.name));
            }
        }
        all.insert(f.name.to_owned(), schema);
    }
    let every: Vec<Value> = doc.fields.iter().map(|f| json!(f.name)).collect();
    schemas.insert(
        name.clone(),
        json!({"type": "object", "properties": all, "required": every}),
    );
    let mut request = json!({"type": "object", "properties": writable});
    if !required.is_empty() {
        request["required"] = Value::Array(required);
    }
    schemas.insert(format!("{name}Request"), request);
    schemas.insert(
        format!("Patched{name}Request"),
        json!({"type": "object", "properties": writable}),
    );
    schemas.insert(
        format!("Paginated{name}List"),
        json!({
            "type": "object",
            "required": ["count", "next", "previous", "results"],
            "properties": {
                "count": {"type": "integer", "example": 123},
                "next": {"type": "string", "nullable": true, "format": "uri"},
                "previous": {"type": "string", "nullable": true, "format": "uri"},
                "results": {"type": "array", "items": schema_ref(name)},
            }
        }),
    );
}

fn operation_id(path: &str, method: &Method, list: bool) -> String {
    let mut id: String = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| s.trim_matches(|c| c == '{' || c == '}'))
        .collect::<Vec<_>>()
        .join("_")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if !path.ends_with('/') {
        id.push_str("_noslash");
    }
    let action = match *method {
        Method::GET if list => "list",
        Method::GET => "retrieve",
        Method::POST => "create",
        Method::PUT => "update",
        Method::PATCH => "partial_update",
        Method::DELETE => "destroy",
        _ => "call",
    };
    format!("{id}_{action}")
}

/// Axum's `{name}` segments as OpenAPI path parameters; a resource's `{pk}` is its integer
/// `id`, as drf-spectacular names it.
fn path_and_parameters(path: &str, resource: Option<&ResourceDoc>) -> (String, Vec<Value>) {
    let mut params = Vec::new();
    let segments: Vec<String> = path
        .split('/')
        .map(
            |segment| match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(name) => {
                    let (shown, schema, text) = match (name, resource) {
                        ("pk", Some(r)) => (
                            "id",
                            json!({"type": "integer"}),
                            format!(
                                "A unique integer value identifying this {}.",
                                r.component.to_lowercase()
                            ),
                        ),
                        _ => (name, json!({"type": "string"}), String::new()),
                    };
                    let mut param =
                        json!({"name": shown, "in": "path", "required": true, "schema": schema});
                    if !text.is_empty() {
                        param["description"] = Value::String(text);
                    }
                    params.push(param);
                    format!("{{{shown}}}")
                }
                None => segment.to_owned(),
            },
        )
        .collect();
    (segments.join("/"), params)
}

fn anonymous_allowed(perm: &Perm, method: &Method) -> bool {
    let anonymous = Identity::anonymous();
    perm.check(&Access::new(method, &anonymous)).is_ok()
}

/// The document for `docs` (pairs of route pattern and view description).
pub fn document(
    info: &OpenApiInfo,
    docs: &[(String, ViewDoc)],
    default_permission: Option<&Perm>,
) -> Value {
    let mut schemas = Map::new();
    schemas.insert(
        "ErrorDetail".into(),
        json!({"type": "object", "properties": {"detail": {"type": "string"}}, "required": ["detail"]}),
    );
    schemas.insert(
        "ValidationError".into(),
        json!({"type": "object", "description": "Field name -> list of messages (`non_field_errors` for the object), or `detail`.", "additionalProperties": {}}),
    );
    let fallback = Perm::new(crate::permissions::IsAuthenticated);
    let default_permission = default_permission.unwrap_or(&fallback);
    let mut paths = Map::new();
    for (pattern, doc) in docs {
        if let Some(resource) = &doc.resource {
            resource_components(resource, &mut schemas);
        }
        let (path, params) = path_and_parameters(pattern, doc.resource.as_ref());
        let mut item = Map::new();
        if !params.is_empty() {
            item.insert("parameters".into(), Value::Array(params));
        }
        for (method, perm) in &doc.methods {
            let perm = perm.as_ref().unwrap_or(default_permission);
            let op = operation(pattern, doc, method, perm);
            item.insert(method.as_str().to_ascii_lowercase(), op);
        }
        paths.insert(path, Value::Object(item));
    }
    json!({
        "openapi": "3.0.3",
        "info": {"title": info.title, "version": info.version, "description": info.description},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "tokenAuth": {
                    "type": "apiKey", "in": "header", "name": "Authorization",
                    "description": "Token-based authentication with required prefix \"Token\""
                },
                "cookieAuth": {
                    "type": "apiKey", "in": "cookie", "name": "sessionid",
                    "description": "Session cookie; unsafe methods also need the `csrftoken` cookie's value in `X-CSRFToken` (or the `csrfmiddlewaretoken` form field)."
                }
            }
        }
    })
}

fn operation(pattern: &str, doc: &ViewDoc, method: &Method, perm: &Perm) -> Value {
    let resource = doc.resource.as_ref();
    let list = matches!(resource.map(|r| &r.kind), Some(ResourceRoute::List(_)));
    let mut op = Map::new();
    op.insert(
        "operationId".into(),
        json!(operation_id(
            pattern,
            method,
            list && *method == Method::GET
        )),
    );
    op.insert("summary".into(), json!(doc.name));
    if !doc.description.is_empty() {
        op.insert("description".into(), json!(doc.description));
    }
    let tag = match resource {
        Some(r) => r.component.clone(),
        None => pattern
            .split('/')
            .filter(|s| !s.is_empty())
            .nth(1)
            .unwrap_or("api")
            .to_owned(),
    };
    op.insert("tags".into(), json!([tag]));
    let mut security = vec![json!({"tokenAuth": []}), json!({"cookieAuth": []})];
    if anonymous_allowed(perm, method) {
        security.push(json!({}));
    }
    op.insert("security".into(), Value::Array(security));

    let mut responses = error_responses();
    match (resource, &resource.map(|r| r.kind.clone())) {
        (Some(r), Some(kind)) if *kind != ResourceRoute::Action => {
            let name = &r.component;
            if let ResourceRoute::List(filters) = kind {
                if *method == Method::GET {
                    let mut params = vec![
                        json!({"name": "limit", "in": "query", "required": false, "description": "Number of results to return per page.", "schema": {"type": "integer"}}),
                        json!({"name": "offset", "in": "query", "required": false, "description": "The initial index from which to return the results.", "schema": {"type": "integer"}}),
                    ];
                    for f in filters {
                        params.push(json!({"name": f, "in": "query", "required": false, "description": "`true` or `1` keeps only matching rows; other values are ignored.", "schema": {"type": "boolean"}}));
                    }
                    op.insert("parameters".into(), Value::Array(params));
                }
            }
            let (request, status, body) = match *method {
                Method::GET if list => (None, "200", Some(format!("Paginated{name}List"))),
                Method::GET => (None, "200", Some(name.clone())),
                Method::POST => (Some(format!("{name}Request")), "201", Some(name.clone())),
                Method::PUT => (Some(format!("{name}Request")), "200", Some(name.clone())),
                Method::PATCH => (
                    Some(format!("Patched{name}Request")),
                    "200",
                    Some(name.clone()),
                ),
                _ => (None, "204", None),
            };
            if let Some(request) = request {
                op.insert(
                    "requestBody".into(),
                    json!({"content": body_content(schema_ref(&request)), "required": *method != Method::PATCH}),
                );
            }
            let response = match body {
                Some(b) => json!({"description": "", "content": json_content(schema_ref(&b))}),
                None => json!({"description": "No response body"}),
            };
            responses.insert(status.into(), response);
        }
        _ => {
            let fields = doc
                .actions
                .iter()
                .find(|(m, _)| m == method || (*method == Method::PATCH && *m == Method::PUT))
                .map(|(_, f)| f);
            if let Some(fields) = fields {
                op.insert(
                    "requestBody".into(),
                    json!({"content": body_content(metadata_object(fields, *method == Method::PATCH))}),
                );
            }
            // The view's own answers: any JSON object (or none).
            let any = json!({"description": "", "content": json_content(json!({}))});
            responses.insert("200".into(), any.clone());
            if *method == Method::POST {
                responses.insert("201".into(), any);
            }
            if matches!(*method, Method::POST | Method::DELETE) {
                responses.insert("204".into(), json!({"description": "No response body"}));
            }
        }
    }
    for status in &doc.bodiless {
        responses.insert(
            status.to_string(),
            json!({"description": "No response body, or the usual JSON answer"}),
        );
    }
    op.insert("responses".into(), Value::Object(responses));
    Value::Object(op)
}
