//! The worker's own small HTTP server (`WORKER_HTTP_PORT`, default 6014): `/metrics` for
//! Prometheus, `/healthz` (the process is alive) and `/readyz` (it can reach Postgres and holds
//! a RabbitMQ connection), for Kubernetes probes and load balancers.

use avni_int_shared::metrics::Metrics;
use avni_int_shared::readiness::Readiness;
use avni_int_shared::store::Store;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use tokio_util::sync::CancellationToken;

#[derive(Clone)]
struct Probes {
    store: Store,
    metrics: Metrics,
}

pub fn router(store: Store, metrics: Metrics) -> Router {
    Router::new()
        .route("/metrics", get(metrics_text))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .with_state(Probes { store, metrics })
}

async fn metrics_text(State(probes): State<Probes>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        probes.metrics.render(),
    )
}

async fn ready(State(probes): State<Probes>) -> impl IntoResponse {
    let readiness = Readiness::check(&probes.store, &probes.metrics, "worker").await;
    let status = if readiness.is_ready() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(readiness.to_json()))
}

/// Serves on `listener` until `shutdown`.
pub async fn serve(
    listener: std::net::TcpListener,
    store: Store,
    metrics: Metrics,
    shutdown: CancellationToken,
) {
    let listener = match tokio::net::TcpListener::from_std(listener) {
        Ok(listener) => listener,
        Err(error) => {
            tracing::error!(%error, "cannot serve the worker's HTTP endpoints");
            return;
        }
    };
    let result = axum::serve(listener, router(store, metrics))
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await;
    if let Err(error) = result {
        tracing::error!(%error, "worker HTTP server stopped");
    }
}
