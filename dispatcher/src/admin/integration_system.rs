//! `/int/integrationSystem`: the caller's own tenant, as the admin app lists it. Unlike the
//! original, which listed every tenant to every user, only the working tenant is ever visible.

use super::error::ApiError;
use super::extract::{path_id, QueryParams};
use super::paging::{Page, PageRequest};
use super::session::CurrentUser;
use super::AdminState;
use avni_int_shared::IntegrationSystemId;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use sqlx::PgPool;

pub fn routes() -> Router<AdminState> {
    Router::new()
        .route("/integrationSystem", get(list))
        .route("/integrationSystem/{id}", get(get_one))
}

/// A tenant as the admin app shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct IntegrationSystemJson {
    #[serde(rename = "type")]
    pub system_type: String,
    pub id: i32,
    pub instance_name: String,
}

const SORTABLE: &[(&str, &str)] = &[
    ("id", "id"),
    ("instanceName", "name"),
    ("type", "system_type"),
];

/// The caller's tenant if it is among `ids` (all of them when `ids` is `None`).
pub async fn visible_systems(
    pool: &PgPool,
    tenant: IntegrationSystemId,
    ids: Option<&[i32]>,
    page: &PageRequest,
) -> Result<Vec<IntegrationSystemJson>, ApiError> {
    let order = page.order_by(SORTABLE, "id", "id")?;
    Ok(sqlx::query_as(&format!(
        "SELECT system_type, id, coalesce(name, '') AS instance_name FROM integration_system
          WHERE id = $1 AND ($2::int[] IS NULL OR id = ANY($2))
          ORDER BY {order}"
    ))
    .bind(tenant)
    .bind(ids)
    .fetch_all(pool)
    .await?)
}

async fn list(
    State(state): State<AdminState>,
    user: CurrentUser,
    query: QueryParams,
) -> Result<Response, ApiError> {
    let page = PageRequest::from_query(&query)?;
    let ids = query.ids()?;
    let rows = visible_systems(state.store.pool(), user.tenant, ids.as_deref(), &page).await?;
    if ids.is_some() || !PageRequest::requested(&query) {
        return Ok(Json(rows).into_response());
    }
    let total = rows.len() as i64;
    let content = rows
        .into_iter()
        .skip(page.offset() as usize)
        .take(page.limit() as usize)
        .collect();
    Ok(Json(Page::new(content, total, page)).into_response())
}

async fn get_one(
    State(state): State<AdminState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<Json<IntegrationSystemJson>, ApiError> {
    let id = path_id(&id, "integrationSystem")?;
    let page = PageRequest {
        page: 0,
        size: 1,
        sort: Vec::new(),
    };
    visible_systems(state.store.pool(), user.tenant, Some(&[id]), &page)
        .await?
        .into_iter()
        .next()
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("integrationSystem {id}")))
}
