//! What the admin API answers when a request cannot be served: Spring's shapes (400 with
//! `{field: message}`, 403 for no session, 401 for a bad login), never a 500 for bad input.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Bad input, naming the field (or `body` when the whole body is unreadable).
    #[error("{field}: {message}")]
    BadRequest { field: String, message: String },
    #[error("{0} not found")]
    NotFound(String),
    /// No session, an expired one, or a cross-site request.
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    #[error("bad credentials")]
    BadCredentials,
    #[error("too many failed logins; retry in {retry_after_secs} s")]
    Throttled { retry_after_secs: u64 },
    /// The request is valid but the current state refuses it (a job already live, a duplicate).
    #[error("{0}")]
    Conflict(String),
    /// A failure of ours or of the database: logged here, once, and answered without detail.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    pub fn bad(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::BadRequest {
            field: field.into(),
            message: message.into(),
        }
    }

    pub fn not_found(what: impl Into<String>) -> Self {
        ApiError::NotFound(what.into())
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> Self {
        ApiError::Internal(error.to_string())
    }
}

impl From<avni_int_shared::store::StoreError> for ApiError {
    fn from(error: avni_int_shared::store::StoreError) -> Self {
        ApiError::Internal(error.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::BadRequest { field, message } => {
                let mut body = serde_json::Map::new();
                body.insert(field, serde_json::Value::String(message));
                (
                    StatusCode::BAD_REQUEST,
                    Json(serde_json::Value::Object(body)),
                )
                    .into_response()
            }
            ApiError::NotFound(what) => (
                StatusCode::NOT_FOUND,
                Json(json!({ "error": format!("{what} not found") })),
            )
                .into_response(),
            ApiError::Forbidden(why) => {
                (StatusCode::FORBIDDEN, Json(json!({ "error": why }))).into_response()
            }
            ApiError::BadCredentials => (
                StatusCode::UNAUTHORIZED,
                Json(json!({ "error": "bad credentials" })),
            )
                .into_response(),
            ApiError::Throttled { retry_after_secs } => {
                let mut response = (
                    StatusCode::TOO_MANY_REQUESTS,
                    Json(json!({
                        "error": format!("too many failed logins; retry in {retry_after_secs} s")
                    })),
                )
                    .into_response();
                response.headers_mut().insert(
                    header::RETRY_AFTER,
                    HeaderValue::from(retry_after_secs.max(1)),
                );
                response
            }
            ApiError::Conflict(message) => {
                (StatusCode::CONFLICT, Json(json!({ "error": message }))).into_response()
            }
            ApiError::Internal(detail) => {
                tracing::error!(error = %detail, "admin request failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    Json(json!({ "error": "internal error; see the dispatcher log" })),
                )
                    .into_response()
            }
        }
    }
}

/// axum's own rejections (a path segment that is not UTF-8, a form without its content type, an
/// unknown route or method) are plain text or empty; the API answers every 4xx with JSON, and a
/// 400 names the field where axum's message does (``… in `id` ``).
pub async fn json_client_errors(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let path = request.uri().path();
    let api = path == "/int" || path.starts_with("/int/") || path.starts_with("/goonj");
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !api || !status.is_client_error() || is_json {
        return response;
    }
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, 64 * 1024)
        .await
        .unwrap_or_default();
    let mut text = String::from_utf8_lossy(&bytes).trim().to_owned();
    if text.is_empty() {
        text = status
            .canonical_reason()
            .unwrap_or("client error")
            .to_owned();
    }
    let key = match status {
        StatusCode::BAD_REQUEST => text
            .split('`')
            .nth(1)
            .filter(|field| !field.is_empty())
            .unwrap_or("request")
            .to_owned(),
        _ => "error".to_owned(),
    };
    let mut map = serde_json::Map::new();
    map.insert(key, serde_json::Value::String(text));
    let mut answer = (status, Json(serde_json::Value::Object(map))).into_response();
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            answer.headers_mut().insert(name.clone(), value.clone());
        }
    }
    answer
}

/// Rejects a string longer than its column allows, naming the field.
pub fn check_len(field: &str, value: &str, max: usize) -> Result<(), ApiError> {
    let chars = value.chars().count();
    if chars > max {
        return Err(ApiError::bad(
            field,
            format!("must be at most {max} characters (got {chars})"),
        ));
    }
    Ok(())
}

/// Rejects an empty or blank required string, naming the field.
pub fn check_present(field: &str, value: &str) -> Result<(), ApiError> {
    if value.trim().is_empty() {
        return Err(ApiError::bad(field, "must not be blank"));
    }
    Ok(())
}
