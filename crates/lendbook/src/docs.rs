//! `GET /api/schema/` (the OpenAPI 3 schema, as drf-spectacular's `SpectacularAPIView`
//! serves it) and the Swagger UI page at `/api/schema/swagger-ui/`, both behind
//! `[docs] permission`. The schema is generated once at start-up from the route table and
//! the resource declarations (`axum_drf::openapi`); Swagger UI's assets are compiled into
//! the binary, so the page works offline.

use std::sync::Arc;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum_drf::openapi::OpenApiInfo;
use axum_drf::permissions::Perm;
use axum_drf::routing::Routes;
use axum_drf::{ApiError, ApiRequest, View};

use crate::app::AppState;

/// The schema's path.
pub const SCHEMA_URL: &str = "/api/schema/";
/// The docs page.
pub const SWAGGER_URL: &str = "/api/schema/swagger-ui/";

const YAML: &str = "application/vnd.oai.openapi; charset=utf-8";
const JSON: &str = "application/vnd.oai.openapi+json";

/// The schema, rendered once.
struct Rendered {
    yaml: Vec<u8>,
    json: Vec<u8>,
}

/// The schema of `routes` and the routes serving it and its docs page.
pub fn routes(routes: &Routes<AppState>, default: &Perm, docs: &Perm) -> Routes<AppState> {
    let mut info = OpenApiInfo::new("lendbook", env!("CARGO_PKG_VERSION"));
    info.description = "Track the things you lend to friends. Token (`Authorization: Token <key>`) or session authentication (`/api-auth/login/`).".into();
    let document = routes.openapi(&info, Some(default));
    let rendered = Arc::new(Rendered {
        yaml: serde_norway::to_string(&document)
            .unwrap_or_default()
            .into_bytes(),
        json: serde_json::to_vec(&document).unwrap_or_default(),
    });
    let schema_view = View::new("Spectacular Api")
        .description("OpenApi3 schema for this API. Format can be selected via content negotiation.\n\n- YAML: application/vnd.oai.openapi\n- JSON: application/vnd.oai.openapi+json")
        .permission(docs.clone())
        .renders_itself()
        .get(move |_: AppState, req: ApiRequest| {
            let rendered = rendered.clone();
            async move { schema(&rendered, &req) }
        });
    let config = Arc::new(utoipa_swagger_ui::Config::new([format!(
        "{SCHEMA_URL}?format=json"
    )]));
    let ui = |config: Arc<utoipa_swagger_ui::Config<'static>>| {
        View::new("Swagger UI")
            .permission(docs.clone())
            .renders_itself()
            .get(move |_: AppState, req: ApiRequest| {
                let config = config.clone();
                async move { swagger_file(config, &req) }
            })
    };
    Routes::new()
        .route(SCHEMA_URL, schema_view)
        .route(SWAGGER_URL, ui(config.clone()).into_route())
        .route(&format!("{SWAGGER_URL}{{file}}"), ui(config).into_route())
}

/// drf-spectacular's renderers in its order — YAML (`application/vnd.oai.openapi`,
/// `application/yaml`), then JSON (`application/vnd.oai.openapi+json`, `application/json`)
/// — chosen by `?format=` (`yaml` / `json`) or the Accept header.
fn schema(rendered: &Rendered, req: &ApiRequest) -> Result<Response, ApiError> {
    let yaml = || (rendered.yaml.clone(), YAML);
    let json = |media: &'static str| (rendered.json.clone(), media);
    let (body, media) = match req.query_param("format").as_deref() {
        Some("json") => json(JSON),
        Some("yaml") => yaml(),
        Some("") | None => {
            let accept = req
                .headers
                .get(header::ACCEPT)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("*/*");
            let mut chosen = None;
            for token in accept.split(',') {
                let media = token.split(';').next().unwrap_or("").trim();
                chosen = match media.to_ascii_lowercase().as_str() {
                    "application/vnd.oai.openapi" | "*/*" | "application/*" => Some(yaml()),
                    "application/yaml" => {
                        Some((rendered.yaml.clone(), "application/yaml; charset=utf-8"))
                    }
                    "application/vnd.oai.openapi+json" => Some(json(JSON)),
                    "application/json" => Some(json("application/json")),
                    _ => None,
                };
                if chosen.is_some() {
                    break;
                }
            }
            chosen.ok_or(ApiError::NotAcceptable)?
        }
        Some(_) => return Err(ApiError::NotFound("Not found.".into())),
    };
    let mut response = (StatusCode::OK, body).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(media));
    Ok(response)
}

fn swagger_file(
    config: Arc<utoipa_swagger_ui::Config<'static>>,
    req: &ApiRequest,
) -> Result<Response, ApiError> {
    let file = req.param("file").unwrap_or("");
    match utoipa_swagger_ui::serve(file, config) {
        Ok(Some(file)) => {
            let mut response = (StatusCode::OK, file.bytes.into_owned()).into_response();
            let headers = response.headers_mut();
            if let Ok(v) = HeaderValue::from_str(&file.content_type) {
                headers.insert(header::CONTENT_TYPE, v);
            }
            if file.gzpipped {
                headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            }
            Ok(response)
        }
        Ok(None) => Err(ApiError::NotFound("Not found.".into())),
        Err(e) => Err(ApiError::Internal(e.to_string())),
    }
}
