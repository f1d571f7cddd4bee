//! `/int/mappingMetadata` as the admin app calls it: thin handlers over `metadata`'s queries.

use super::metadata::{
    create_mapping, get_mapping, list_mappings, mappings_by_ids, update_mapping, void_mapping,
    MappingFilter, MappingInput, MappingJson,
};
use crate::admin::error::ApiError;
use crate::admin::extract::{path_id, JsonBody, QueryParams};
use crate::admin::paging::{Page, PageRequest};
use crate::admin::session::CurrentUser;
use crate::admin::AdminState;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::Json;

/// Reads every filter the list and the search endpoints understand.
fn filter_of(query: &QueryParams) -> Result<MappingFilter, ApiError> {
    Ok(MappingFilter {
        avni_value: query.get("avniValue").map(str::to_owned),
        int_system_value: query.get("intSystemValue").map(str::to_owned),
        text: query.get("q").map(str::to_owned),
        mapping_group: query.parse_opt("mappingGroup", "a mapping group id")?,
        mapping_type: query.parse_opt("mappingType", "a mapping type id")?,
    })
}

/// `GET /int/mappingMetadata`: a page (filters optional), or a bare array for `?ids=`.
pub async fn list(
    State(state): State<AdminState>,
    user: CurrentUser,
    query: QueryParams,
) -> Result<Response, ApiError> {
    let page = PageRequest::from_query(&query)?;
    let filter = filter_of(&query)?;
    let pool = state.store.pool();
    if let Some(ids) = query.ids()? {
        return Ok(Json(mappings_by_ids(pool, user.tenant, &ids).await?).into_response());
    }
    Ok(Json(list_mappings(pool, user.tenant, &filter, &page).await?).into_response())
}

/// `GET /int/mappingMetadata/search/{findByAvniValue|findByIntSystemValue|find}`.
pub async fn search(
    State(state): State<AdminState>,
    user: CurrentUser,
    Path(name): Path<String>,
    query: QueryParams,
) -> Result<Json<Page<MappingJson>>, ApiError> {
    if !matches!(
        name.as_str(),
        "findByAvniValue" | "findByIntSystemValue" | "find"
    ) {
        return Err(ApiError::not_found(format!("search {name:?}")));
    }
    let page = PageRequest::from_query(&query)?;
    let filter = filter_of(&query)?;
    Ok(Json(
        list_mappings(state.store.pool(), user.tenant, &filter, &page).await?,
    ))
}

pub async fn get_one(
    State(state): State<AdminState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<Json<MappingJson>, ApiError> {
    let id = path_id(&id, "mappingMetadata")?;
    Ok(Json(
        get_mapping(state.store.pool(), user.tenant, id).await?,
    ))
}

/// POST: `id` absent or 0 creates; the id of the tenant's live mapping updates it.
pub async fn create(
    State(state): State<AdminState>,
    user: CurrentUser,
    JsonBody(input): JsonBody<MappingInput>,
) -> Result<Json<MappingJson>, ApiError> {
    let pool = state.store.pool();
    let saved = match input.id.filter(|id| *id != 0) {
        None => create_mapping(pool, user.tenant, &input).await?,
        Some(id) => match update_mapping(pool, user.tenant, id, &input).await {
            Err(ApiError::NotFound(_)) => {
                return Err(ApiError::bad(
                    "id",
                    format!("no mappingMetadata {id} to update"),
                ))
            }
            other => other?,
        },
    };
    Ok(Json(saved))
}

pub async fn update(
    State(state): State<AdminState>,
    user: CurrentUser,
    Path(id): Path<String>,
    JsonBody(input): JsonBody<MappingInput>,
) -> Result<Json<MappingJson>, ApiError> {
    let id = path_id(&id, "mappingMetadata")?;
    Ok(Json(
        update_mapping(state.store.pool(), user.tenant, id, &input).await?,
    ))
}

/// DELETE voids and answers the voided record (react-admin expects the record back).
pub async fn delete(
    State(state): State<AdminState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<Json<MappingJson>, ApiError> {
    let id = path_id(&id, "mappingMetadata")?;
    Ok(Json(
        void_mapping(state.store.pool(), user.tenant, id).await?,
    ))
}
