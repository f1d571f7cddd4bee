//! `/int/errorRecordLog`: the tenant's classified errors as the admin app lists, searches and
//! resolves them (one row per log, newest first), plus "retry now" of a log's record.
//! Handlers are thin; the queries in `query` and `retry` serve the built-in web UI too.

pub mod query;
pub mod retry;

pub use query::{get_log, list_logs, set_processing_disabled, ErrorLogJson, LogFilter};
pub use retry::{retry_error_type, retry_record, RetryOutcome};

use super::error::ApiError;
use super::extract::{path_id, JsonBody, QueryParams};
use super::paging::{Page, PageRequest};
use super::session::CurrentUser;
use super::AdminState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

pub fn routes() -> Router<AdminState> {
    Router::new()
        .route("/errorRecordLog", get(list))
        .route("/errorRecordLog/search/find", get(find))
        .route("/errorRecordLog/search/findByEntity", get(find_by_entity))
        .route(
            "/errorRecordLog/search/findByErrorType",
            get(find_by_error_type),
        )
        .route(
            "/errorRecordLog/search/findByStartDate",
            get(find_by_start_date),
        )
        .route(
            "/errorRecordLog/search/findByEndDate",
            get(find_by_end_date),
        )
        .route("/errorRecordLog/{id}", get(one).put(update))
        .route("/errorRecordLog/{id}/retry", post(retry_now))
}

async fn page_of(
    state: &AdminState,
    user: &CurrentUser,
    query: &QueryParams,
    required: Option<&str>,
) -> Result<Json<Page<ErrorLogJson>>, ApiError> {
    if let Some(name) = required {
        if query.get(name).is_none() {
            return Err(ApiError::bad(name, "is required"));
        }
    }
    let filter = LogFilter::from_query(query)?;
    let page = PageRequest::from_query(query)?;
    Ok(Json(
        list_logs(state.store.pool(), user.tenant, &filter, &page).await?,
    ))
}

async fn list(
    State(state): State<AdminState>,
    user: CurrentUser,
    query: QueryParams,
) -> Result<Json<Page<ErrorLogJson>>, ApiError> {
    page_of(&state, &user, &query, None).await
}

async fn find(
    State(state): State<AdminState>,
    user: CurrentUser,
    query: QueryParams,
) -> Result<Json<Page<ErrorLogJson>>, ApiError> {
    page_of(&state, &user, &query, None).await
}

async fn find_by_entity(
    State(state): State<AdminState>,
    user: CurrentUser,
    query: QueryParams,
) -> Result<Json<Page<ErrorLogJson>>, ApiError> {
    page_of(&state, &user, &query, Some("entityId")).await
}

async fn find_by_error_type(
    State(state): State<AdminState>,
    user: CurrentUser,
    query: QueryParams,
) -> Result<Json<Page<ErrorLogJson>>, ApiError> {
    page_of(&state, &user, &query, Some("errorType")).await
}

async fn find_by_start_date(
    State(state): State<AdminState>,
    user: CurrentUser,
    query: QueryParams,
) -> Result<Json<Page<ErrorLogJson>>, ApiError> {
    page_of(&state, &user, &query, Some("startDate")).await
}

async fn find_by_end_date(
    State(state): State<AdminState>,
    user: CurrentUser,
    query: QueryParams,
) -> Result<Json<Page<ErrorLogJson>>, ApiError> {
    page_of(&state, &user, &query, Some("endDate")).await
}

async fn one(
    State(state): State<AdminState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<Json<ErrorLogJson>, ApiError> {
    let id = path_id(&id, "error record log")?;
    Ok(Json(get_log(state.store.pool(), user.tenant, id).await?))
}

/// The admin app sends the whole record as it read it; only `processingDisabled` is applied.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UpdateBody {
    processing_disabled: bool,
}

async fn update(
    State(state): State<AdminState>,
    user: CurrentUser,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<UpdateBody>,
) -> Result<Json<ErrorLogJson>, ApiError> {
    let id = path_id(&id, "error record log")?;
    Ok(Json(
        set_processing_disabled(
            state.store.pool(),
            user.tenant,
            id,
            body.processing_disabled,
        )
        .await?,
    ))
}

async fn retry_now(
    State(state): State<AdminState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<RetryOutcome>), ApiError> {
    let id = path_id(&id, "error record log")?;
    let outcome = retry_record(&state, user.tenant, id).await?;
    Ok((StatusCode::ACCEPTED, Json(outcome)))
}
