//! Probes for orchestrators and load balancers: `GET /healthz` (the process answers; touches
//! nothing) and `GET /readyz` (the database answers and every migration this binary knows is
//! applied; 503 otherwise). Plain routes outside the view path: no authentication, no
//! throttling, no content negotiation, so a probe never depends on a credential or a rate.

use std::collections::HashSet;
use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use axum_drf::metrics::Served;
use serde_json::json;

use crate::app::{all_migrations, AppState};

/// The probe routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

/// Labels a plain route's response for the access log and metrics, as the view path does.
pub fn served(mut response: Response, route: &str) -> Response {
    response.extensions_mut().insert(Served {
        route: Arc::from(route),
        user_id: None,
    });
    response
}

async fn healthz() -> Response {
    served(
        axum_drf::json(StatusCode::OK, &json!({"status": "ok"})),
        "/healthz",
    )
}

async fn readyz(axum::extract::State(state): axum::extract::State<AppState>) -> Response {
    let (status, body) = match pending_migrations(&state).await {
        Ok(pending) if pending.is_empty() => (StatusCode::OK, json!({"status": "ready"})),
        Ok(pending) => (
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"status": "unavailable", "reason": "migrations pending", "pending": pending}),
        ),
        Err(e) => {
            // The cause goes to the log, not to whoever can reach the probe.
            tracing::warn!(error = %e, "readiness: database unavailable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                json!({"status": "unavailable", "reason": "database unavailable"}),
            )
        }
    };
    served(axum_drf::json(status, &body), "/readyz")
}

/// Migrations this binary has that the database has not recorded.
pub async fn pending_migrations(
    state: &AppState,
) -> Result<Vec<&'static str>, axum_drf::store::StoreError> {
    let rows = state
        .db
        .query("SELECT name FROM _migrations", Vec::new())
        .await?;
    let applied = rows
        .iter()
        .map(|r| r.text(0))
        .collect::<Result<HashSet<String>, _>>()?;
    Ok(all_migrations()
        .iter()
        .map(|m| m.name)
        .filter(|name| !applied.contains(*name))
        .collect())
}
