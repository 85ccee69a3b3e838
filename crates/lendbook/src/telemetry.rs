//! What an operator sees: the log subscriber (text or JSON, colour only on a terminal), the
//! Prometheus recorder and its `/metrics` endpoint, and the start-up summary.

use std::sync::OnceLock;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use axum_drf::logging::{LogGuard, Logging};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use subtle::ConstantTimeEq;

use crate::app::AppState;
use crate::config::{Config, LogFormat};

/// Installs the global log subscriber: `config.log` as the filter (`RUST_LOG` overrides),
/// `config.log_format`, lines written by the framework's batching writer
/// ([`axum_drf::logging`]). Keep the guard until the process ends: dropping it writes the
/// lines still buffered.
pub fn init_logging(config: Option<&Config>) -> LogGuard {
    let filter = config.map(|c| c.log.as_str()).unwrap_or("info");
    let format = config.map(|c| c.log_format).unwrap_or(LogFormat::Text);
    Logging::new(filter).format(format).init()
}

/// Latency buckets in seconds: sub-millisecond reads up to slow logins.
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// The process-wide Prometheus recorder (installed on first call; `None` if another
/// recorder was installed first).
pub fn metrics_handle() -> Option<PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)
                .ok()?
                .build_recorder();
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder).ok()?;
            // Histogram samples wait in per-metric buffers until drained: drain them even if
            // nobody scrapes, so memory stays flat.
            let upkeep = handle.clone();
            let _ = std::thread::Builder::new()
                .name("metrics-upkeep".into())
                .spawn(move || loop {
                    std::thread::sleep(Duration::from_secs(5));
                    upkeep.run_upkeep();
                });
            Some(handle)
        })
        .clone()
}

/// `GET /metrics` (only when `[metrics] enabled`).
pub fn routes() -> Router<AppState> {
    Router::new().route("/metrics", get(render))
}

async fn render(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let response = match metrics_handle() {
        Some(handle) if authorized(&state, &headers) => {
            axum_drf::metrics::pool_status(&state.db.pool_status());
            (
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
                )],
                handle.render(),
            )
                .into_response()
        }
        Some(_) => (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"))],
            "metrics need the bearer token\n",
        )
            .into_response(),
        None => (StatusCode::SERVICE_UNAVAILABLE, "no metrics recorder\n").into_response(),
    };
    crate::health::served(response, "/metrics")
}

/// `[metrics] token`, if set, must arrive as `Authorization: Bearer <token>`; compared in
/// constant time so the answer's timing does not reveal a prefix.
fn authorized(state: &AppState, headers: &HeaderMap) -> bool {
    let Some(token) = &state.config.metrics.token else {
        return true;
    };
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.as_bytes().strip_prefix(b"Bearer "))
        .unwrap_or_default();
    bool::from(presented.ct_eq(token.as_bytes()))
}

/// The start-up summary: one INFO line per fact an operator checks first. No secret: the
/// database password is redacted and SMTP credentials are not shown.
pub fn startup_summary(config: &Config, config_file: Option<&std::path::Path>, bind: &str) {
    let config_file = describe_config_file(config_file);
    tracing::info!(version = env!("CARGO_PKG_VERSION"), "lendbook");
    tracing::info!(config = %config_file, "configuration");
    tracing::info!(database = %config.database_display(), "database");
    tracing::info!(mail = %crate::accounts::emails::describe_backend(config), "mail backend");
    tracing::info!(
        metrics = config.metrics.enabled,
        access_log = config.access_log,
        cors = !config.cors.allowed_origins.is_empty(),
        "observability"
    );
    tracing::info!(addr = %bind, tls = tls_enabled(config), "listening");
}

/// Which file the configuration came from: `--config`, else `./lendbook.toml` if present.
pub fn describe_config_file(config_file: Option<&std::path::Path>) -> String {
    match config_file {
        Some(p) => p.display().to_string(),
        None if std::path::Path::new("lendbook.toml").exists() => "lendbook.toml".into(),
        None => "none (defaults and environment)".into(),
    }
}

/// Whether the listener serves HTTPS (`[tls] cert` and `key`).
fn tls_enabled(config: &Config) -> bool {
    config.tls.enabled()
}
