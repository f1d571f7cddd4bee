//! Queue depths for ops: messages waiting (and consumers) per module queue, and dead letters.
//! Read per request on a short-lived connection: an admin page asks rarely, and a broker that
//! is down must give a clear 503, not a hung request or a 500.

use super::error::ApiError;
use super::AdminState;
use avni_int_shared::broker::depth::{self, QueueDepth};
use avni_int_shared::JobKind;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use serde_json::json;
use std::time::Duration;

/// How long the page waits for the broker (connect and every passive declare together).
const BROKER_TIMEOUT: Duration = Duration::from_secs(5);

pub fn routes() -> Router<AdminState> {
    Router::new().route("/queues", get(queues))
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct QueueJson {
    queue: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    module: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    kind: Option<&'static str>,
    /// Ready messages; 0 for a queue not declared yet (see `exists`).
    messages: u32,
    consumers: Option<u32>,
    dead_letter: bool,
    exists: bool,
}

async fn queues(State(state): State<AdminState>) -> Result<Response, ApiError> {
    // Every module queue of the catalog (shared by all tenants), then the dead-letter queue.
    let mut described: Vec<(Option<String>, Option<&'static str>)> = Vec::new();
    let mut names = Vec::new();
    for spec in state.catalog.iter() {
        for kind in JobKind::ALL {
            names.push(state.topology.queue(&spec.module, *kind));
            described.push((Some(spec.module.as_str().to_owned()), Some(kind.as_str())));
        }
    }
    names.push(state.topology.dead_letter_queue());
    described.push((None, None));
    let read = depth::read_once(
        &state.amqp_url,
        "avni-int-admin-queues",
        &names,
        BROKER_TIMEOUT,
    )
    .await;
    let depths = match read {
        Ok(depths) => depths,
        Err(error) => {
            tracing::warn!(%error, "queue depths unavailable");
            return Ok((
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "error": format!("RabbitMQ unreachable: {error}") })),
            )
                .into_response());
        }
    };
    let rows: Vec<QueueJson> = depths
        .into_iter()
        .zip(described)
        .map(
            |(
                QueueDepth {
                    queue,
                    messages,
                    consumers,
                },
                (module, kind),
            )| QueueJson {
                dead_letter: module.is_none(),
                exists: messages.is_some(),
                messages: messages.unwrap_or(0),
                queue,
                module,
                kind,
                consumers,
            },
        )
        .collect();
    Ok(Json(rows).into_response())
}
