//! The browsable page's forms, built from the view's field metadata (the resource
//! declarations OPTIONS describes): one per write method the user may use, an HTML form
//! and a raw JSON form, refilled with the submitted data and showing field errors beside
//! the fields when that method's request failed validation (DRF's `get_rendered_html_form`).

use axum::http::{header, Method, StatusCode};
use serde::Serialize;
use serde_json::{Map, Value};

use super::{PageRequest, PageView};

/// One form of the page.
#[derive(Debug, Serialize)]
pub struct FormSpec {
    id: String,
    title: String,
    method: String,
    fields: Vec<FormField>,
    non_field_errors: Vec<String>,
    raw: String,
    raw_methods: Vec<String>,
}

#[derive(Debug, Serialize)]
struct FormField {
    name: String,
    label: String,
    input_type: &'static str,
    required: bool,
    max_length: Option<u64>,
    value: String,
    errors: Vec<String>,
}

pub(super) fn build(
    view: &PageView<'_>,
    request: &PageRequest,
    status: StatusCode,
    data: Option<&Value>,
) -> Vec<FormSpec> {
    let permitted = |m: &Method| request.permitted.contains(m);
    let mut forms = Vec::new();
    for (method, fields) in view.actions {
        if !permitted(method) || *method == Method::PATCH {
            continue;
        }
        let Some(fields) = fields.as_object() else {
            continue;
        };
        let answered_this_form = request.method == *method
            || (*method == Method::PUT && request.method == Method::PATCH);
        let failed = answered_this_form && status == StatusCode::BAD_REQUEST;
        let errors = failed.then_some(data).flatten().and_then(Value::as_object);
        // A failed submission is shown again; an object's edit form starts from the object.
        let submitted = failed.then(|| submitted_data(request)).flatten();
        let initial: Option<&Map<String, Value>> = match &submitted {
            Some(s) => Some(s),
            None if *method != Method::POST && status.is_success() => {
                data.and_then(Value::as_object)
            }
            None => None,
        };
        let mut form_fields = Vec::new();
        let mut raw = Map::new();
        for (name, meta) in fields {
            if meta.get("read_only").and_then(Value::as_bool) == Some(true) {
                continue;
            }
            let value = initial.and_then(|i| i.get(name));
            raw.insert(
                name.clone(),
                value.cloned().unwrap_or(Value::String(String::new())),
            );
            form_fields.push(FormField {
                name: name.clone(),
                label: meta
                    .get("label")
                    .and_then(Value::as_str)
                    .unwrap_or(name)
                    .to_owned(),
                input_type: match meta.get("type").and_then(Value::as_str) {
                    Some("integer" | "field") => "number",
                    _ => "text",
                },
                required: meta.get("required").and_then(Value::as_bool) == Some(true),
                max_length: meta.get("max_length").and_then(Value::as_u64),
                value: value.map(display).unwrap_or_default(),
                errors: errors.map(|e| messages(e.get(name))).unwrap_or_default(),
            });
        }
        let non_field_errors = errors
            .map(|e| {
                e.iter()
                    .filter(|(k, _)| !form_fields.iter().any(|f| &f.name == *k))
                    .flat_map(|(k, v)| {
                        let prefix = if k == "non_field_errors" {
                            String::new()
                        } else {
                            format!("{k}: ")
                        };
                        messages(Some(v))
                            .into_iter()
                            .map(move |m| format!("{prefix}{m}"))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let mut raw_methods = vec![method.to_string()];
        if *method == Method::PUT && permitted(&Method::PATCH) {
            raw_methods.push(Method::PATCH.to_string());
        }
        let raw = if failed && is_json(request) {
            String::from_utf8_lossy(&request.body).into_owned()
        } else {
            serde_json::to_string_pretty(&Value::Object(raw)).unwrap_or_default()
        };
        forms.push(FormSpec {
            id: format!("{}-form", method.as_str().to_ascii_lowercase()),
            title: if *method == Method::POST {
                "Create".into()
            } else {
                "Edit".into()
            },
            method: method.to_string(),
            fields: form_fields,
            non_field_errors,
            raw,
            raw_methods,
        });
    }
    forms
}

fn content_type(request: &PageRequest) -> Option<&str> {
    request
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
}

fn is_json(request: &PageRequest) -> bool {
    content_type(request).is_some_and(|ct| ct.trim_start().starts_with("application/json"))
}

fn submitted_data(request: &PageRequest) -> Option<Map<String, Value>> {
    match crate::parsers::parse_body(content_type(request), &request.body).ok()? {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

fn display(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn messages(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(items)) => items.iter().map(display).collect(),
        Some(Value::Null) | None => Vec::new(),
        Some(other) => vec![display(other)],
    }
}
