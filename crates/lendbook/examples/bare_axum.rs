//! The baseline of the benchmark's `/api/public/` goal: a bare axum server answering the
//! same JSON with no middleware, no authentication and no database.
//!
//! `cargo run --release -p lendbook --example bare_axum -- 127.0.0.1:8099`

use axum::routing::get;
use axum::{Json, Router};

#[tokio::main]
async fn main() {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8099".into());
    let app = Router::new().route(
        "/api/public/",
        get(|| async { Json(serde_json::json!({"message": "Public access allowed!"})) }),
    );
    let listener = tokio::net::TcpListener::bind(&addr).await.expect("bind");
    axum::serve(listener, app).await.expect("serve");
}
