//! PLACEHOLDER: the OpenAPI document of the admin API.

use axum::Json;

pub async fn handler() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "openapi": "3.0.3" }))
}
