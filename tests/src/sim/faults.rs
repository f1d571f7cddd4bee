//! Fault injection for simulators: an axum middleware that, per request, may delay, fail with a
//! status, answer 429 with `Retry-After`, hang (a timeout for the client) or truncate the body.
//! Deterministic "next N requests" faults for tests; rates for the demo and benchmarks. The
//! plan can be changed at run time (`Faults::set`, or `POST /_sim/faults` in `avni-int-sim`).

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What to do to requests. Counts (`fail_next`, …) are used up first, in the order listed;
/// rates apply after.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FaultPlan {
    /// Added to every response.
    pub latency_ms: u64,
    /// The next N requests answer `error_status` (default 500).
    pub fail_next: u32,
    pub error_status: Option<u16>,
    /// The next N requests answer 429 with `Retry-After: retry_after_secs` (default 1).
    pub throttle_next: u32,
    pub retry_after_secs: Option<u64>,
    /// The next N requests never answer (the client's timeout fires).
    pub hang_next: u32,
    /// The next N responses are cut in half (truncated JSON).
    pub truncate_next: u32,
    /// The next N responses are 200 with `replacement_body` as their JSON body instead of the
    /// real one (a bad-payload corpus: wrong types, missing keys, huge strings, lying totals).
    pub replace_next: u32,
    pub replacement_body: Option<String>,
    /// Fraction (0..1) of requests that fail with `error_status`.
    pub error_rate: f64,
    /// Fraction of requests answered 429.
    pub throttle_rate: f64,
    /// Only requests whose path contains this are affected (all when unset).
    pub path_contains: Option<String>,
}

#[derive(Clone, Default)]
pub struct Faults(Arc<Mutex<FaultPlan>>);

enum Action {
    Pass,
    Fail(StatusCode),
    Throttle(u64),
    Hang,
    Truncate,
    Replace(String),
}

impl Faults {
    pub fn set(&self, plan: FaultPlan) {
        *self.lock() = plan;
    }

    pub fn clear(&self) {
        self.set(FaultPlan::default());
    }

    pub fn plan(&self) -> FaultPlan {
        self.lock().clone()
    }

    /// Changes part of the plan.
    pub fn update(&self, change: impl FnOnce(&mut FaultPlan)) {
        change(&mut self.lock());
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, FaultPlan> {
        // A panic while holding this lock can only come from a test assertion elsewhere;
        // the plan itself is always valid, so recover it.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn decide(&self, path: &str) -> (Action, Duration) {
        let mut plan = self.lock();
        let latency = Duration::from_millis(plan.latency_ms);
        if plan
            .path_contains
            .as_deref()
            .is_some_and(|needle| !path.contains(needle))
        {
            return (Action::Pass, latency);
        }
        let status = StatusCode::from_u16(plan.error_status.unwrap_or(500))
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let retry_after = plan.retry_after_secs.unwrap_or(1);
        let action = if plan.fail_next > 0 {
            plan.fail_next -= 1;
            Action::Fail(status)
        } else if plan.throttle_next > 0 {
            plan.throttle_next -= 1;
            Action::Throttle(retry_after)
        } else if plan.hang_next > 0 {
            plan.hang_next -= 1;
            Action::Hang
        } else if plan.truncate_next > 0 {
            plan.truncate_next -= 1;
            Action::Truncate
        } else if plan.replace_next > 0 {
            plan.replace_next -= 1;
            Action::Replace(plan.replacement_body.clone().unwrap_or_default())
        } else if plan.error_rate > 0.0 && rand::random::<f64>() < plan.error_rate {
            Action::Fail(status)
        } else if plan.throttle_rate > 0.0 && rand::random::<f64>() < plan.throttle_rate {
            Action::Throttle(retry_after)
        } else {
            Action::Pass
        };
        (action, latency)
    }
}

/// The middleware: `Router::layer(axum::middleware::from_fn_with_state(faults, faults::inject))`.
pub async fn inject(State(faults): State<Faults>, request: Request, next: Next) -> Response {
    let (action, latency) = faults.decide(request.uri().path());
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    match action {
        Action::Pass => next.run(request).await,
        Action::Fail(status) => {
            (status, format!("simulated failure {}", status.as_u16())).into_response()
        }
        Action::Throttle(secs) => {
            let mut response =
                (StatusCode::TOO_MANY_REQUESTS, "simulated throttling").into_response();
            if let Ok(value) = HeaderValue::from_str(&secs.to_string()) {
                response.headers_mut().insert("retry-after", value);
            }
            response
        }
        Action::Hang => {
            std::future::pending::<()>().await;
            StatusCode::GATEWAY_TIMEOUT.into_response()
        }
        Action::Truncate => {
            let response = next.run(request).await;
            let (mut parts, body) = response.into_parts();
            let bytes = axum::body::to_bytes(body, usize::MAX)
                .await
                .unwrap_or_default();
            let cut = bytes.slice(..bytes.len() / 2);
            parts.headers.remove(axum::http::header::CONTENT_LENGTH);
            Response::from_parts(parts, Body::from(cut))
        }
        Action::Replace(body) => {
            // The request still reaches the simulator (a write is recorded as done), as when a
            // real server does the work and its answer is garbled on the way back.
            let _ = next.run(request).await;
            (
                [(axum::http::header::CONTENT_TYPE, "application/json")],
                body,
            )
                .into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counted_faults_are_used_up_in_order_then_requests_pass() {
        let faults = Faults::default();
        faults.set(FaultPlan {
            fail_next: 1,
            throttle_next: 1,
            ..FaultPlan::default()
        });
        assert!(
            matches!(faults.decide("/x").0, Action::Fail(s) if s == StatusCode::INTERNAL_SERVER_ERROR)
        );
        assert!(matches!(faults.decide("/x").0, Action::Throttle(1)));
        assert!(matches!(faults.decide("/x").0, Action::Pass));
    }

    #[test]
    fn path_filter_spares_other_paths() {
        let faults = Faults::default();
        faults.set(FaultPlan {
            fail_next: 5,
            path_contains: Some("/api/subjects".into()),
            ..FaultPlan::default()
        });
        assert!(matches!(faults.decide("/api/encounters").0, Action::Pass));
        assert!(matches!(faults.decide("/api/subjects").0, Action::Fail(_)));
    }
}
