//! `/metrics` (Prometheus text), `/healthz` (alive) and `/readyz` (reaches Postgres and holds a
//! RabbitMQ connection) on the dispatcher's HTTP port. Open: they carry no tenant data.

use super::AdminState;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use std::time::Duration;

pub fn routes() -> Router<AdminState> {
    Router::new()
        .route("/metrics", get(metrics_text))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
}

async fn metrics_text(State(state): State<AdminState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
}

async fn ready(State(state): State<AdminState>) -> impl IntoResponse {
    let postgres = state.store.ping(Duration::from_secs(2)).await;
    let rabbitmq = state
        .metrics
        .broker_connected
        .with_label_values(&["relay"])
        .get()
        == 1;
    let status = if postgres && rabbitmq {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let word = |ok: bool| if ok { "ok" } else { "unreachable" };
    (
        status,
        Json(serde_json::json!({ "postgres": word(postgres), "rabbitmq": word(rabbitmq) })),
    )
}
