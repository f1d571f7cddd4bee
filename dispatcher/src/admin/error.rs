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
