//! Mapping groups and mapping types: the two small named lists a mapping points at (for
//! example group `Demand`, type `Observations`). Both tables have the same shape, so one set of
//! queries serves both, chosen by `NamedKind`.

use crate::admin::error::{check_len, check_present, ApiError};
use crate::admin::extract::{path_id, JsonBody, QueryParams};
use crate::admin::paging::{Page, PageRequest};
use crate::admin::session::CurrentUser;
use crate::admin::AdminState;
use avni_int_shared::IntegrationSystemId;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use sqlx::PgPool;

/// Which of the two tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NamedKind {
    Group,
    Type,
}

impl NamedKind {
    pub(crate) fn table(self) -> &'static str {
        match self {
            NamedKind::Group => "mapping_group",
            NamedKind::Type => "mapping_type",
        }
    }

    /// The API's name of the resource (also the field naming it in a mapping's body).
    pub fn label(self) -> &'static str {
        match self {
            NamedKind::Group => "mappingGroup",
            NamedKind::Type => "mappingType",
        }
    }

    fn from_const(kind: u8) -> Self {
        if kind == GROUP {
            NamedKind::Group
        } else {
            NamedKind::Type
        }
    }
}

/// Route parameter values selecting the kind (axum handlers cannot capture it otherwise).
pub const GROUP: u8 = 0;
pub const TYPE: u8 = 1;

/// A group or type as the admin app reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct NamedJson {
    pub id: i32,
    pub uuid: String,
    pub name: String,
    pub voided: bool,
    pub integration_system_id: i32,
}

/// What POST and PUT accept. Other fields (`voided`, `integrationSystemId`) are ignored, so
/// the app can send back a whole record as read.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NamedInput {
    pub id: Option<i32>,
    pub name: Option<String>,
    pub uuid: Option<String>,
}

const COLUMNS: &str =
    "id, uuid, coalesce(name, '') AS name, coalesce(is_voided, false) AS voided, \
     integration_system_id";
const SORTABLE: &[(&str, &str)] = &[("id", "id"), ("name", "name")];

/// One page of the tenant's non-voided rows.
pub async fn list_named(
    pool: &PgPool,
    tenant: IntegrationSystemId,
    kind: NamedKind,
    page: &PageRequest,
) -> Result<Page<NamedJson>, ApiError> {
    let order = page.order_by(SORTABLE, "id", "id")?;
    let table = kind.table();
    let rows: Vec<NamedJson> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM {table}
          WHERE integration_system_id = $1 AND NOT coalesce(is_voided, false)
          ORDER BY {order} LIMIT $2 OFFSET $3"
    ))
    .bind(tenant)
    .bind(page.limit())
    .bind(page.offset())
    .fetch_all(pool)
    .await?;
    let total: i64 = sqlx::query_scalar(&format!(
        "SELECT count(*) FROM {table}
          WHERE integration_system_id = $1 AND NOT coalesce(is_voided, false)"
    ))
    .bind(tenant)
    .fetch_one(pool)
    .await?;
    Ok(Page::new(rows, total, page.clone()))
}

/// Every non-voided row of the tenant in the requested order (the bare-array answer).
pub async fn all_named(
    pool: &PgPool,
    tenant: IntegrationSystemId,
    kind: NamedKind,
    page: &PageRequest,
) -> Result<Vec<NamedJson>, ApiError> {
    let order = page.order_by(SORTABLE, "id", "id")?;
    let table = kind.table();
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM {table}
          WHERE integration_system_id = $1 AND NOT coalesce(is_voided, false)
          ORDER BY {order}"
    ))
    .bind(tenant)
    .fetch_all(pool)
    .await?)
}

/// The tenant's groups in name order, for choice lists.
pub async fn list_groups(
    pool: &PgPool,
    tenant: IntegrationSystemId,
) -> Result<Vec<NamedJson>, ApiError> {
    all_named(pool, tenant, NamedKind::Group, &by_name()).await
}

/// The tenant's types in name order, for choice lists.
pub async fn list_types(
    pool: &PgPool,
    tenant: IntegrationSystemId,
) -> Result<Vec<NamedJson>, ApiError> {
    all_named(pool, tenant, NamedKind::Type, &by_name()).await
}

fn by_name() -> PageRequest {
    PageRequest {
        page: 0,
        size: 1,
        sort: vec![crate::admin::paging::SortOrder {
            field: "name".to_owned(),
            descending: false,
        }],
    }
}

/// The rows among `ids` that belong to the tenant, voided ones included so that a mapping
/// still pointing at a voided group shows its name.
pub async fn named_by_ids(
    pool: &PgPool,
    tenant: IntegrationSystemId,
    kind: NamedKind,
    ids: &[i32],
) -> Result<Vec<NamedJson>, ApiError> {
    let table = kind.table();
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM {table}
          WHERE integration_system_id = $1 AND id = ANY($2) ORDER BY id"
    ))
    .bind(tenant)
    .bind(ids)
    .fetch_all(pool)
    .await?)
}

/// One row of the tenant (voided or not); 404 for another tenant's or an unknown id.
pub async fn get_named(
    pool: &PgPool,
    tenant: IntegrationSystemId,
    kind: NamedKind,
    id: i32,
) -> Result<NamedJson, ApiError> {
    let table = kind.table();
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM {table} WHERE integration_system_id = $1 AND id = $2"
    ))
    .bind(tenant)
    .bind(id)
    .fetch_optional(pool)
    .await?
    .ok_or_else(|| ApiError::not_found(format!("{} {id}", kind.label())))
}

/// Creates a row, or renames the tenant's non-voided row `id`. Names are unique per tenant
/// among non-voided rows; the check and the write hold a per-tenant lock so two concurrent
/// creates cannot both pass it.
pub async fn save_named(
    pool: &PgPool,
    tenant: IntegrationSystemId,
    kind: NamedKind,
    id: Option<i32>,
    input: &NamedInput,
) -> Result<NamedJson, ApiError> {
    let name = input.name.as_deref().unwrap_or("");
    check_present("name", name)?;
    check_len("name", name, 250)?;
    let table = kind.table();
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1), $2)")
        .bind(table)
        .bind(tenant)
        .execute(&mut *tx)
        .await?;
    if let Some(id) = id {
        let live: Option<bool> = sqlx::query_scalar(&format!(
            "SELECT NOT coalesce(is_voided, false) FROM {table}
              WHERE integration_system_id = $1 AND id = $2 FOR UPDATE"
        ))
        .bind(tenant)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        if live != Some(true) {
            return Err(ApiError::not_found(format!("{} {id}", kind.label())));
        }
    }
    let taken: Option<i32> = sqlx::query_scalar(&format!(
        "SELECT id FROM {table}
          WHERE integration_system_id = $1 AND name = $2 AND NOT coalesce(is_voided, false)
            AND id IS DISTINCT FROM $3
          LIMIT 1"
    ))
    .bind(tenant)
    .bind(name)
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(other) = taken {
        return Err(ApiError::bad(
            "name",
            format!("{} {other} already has this name", kind.label()),
        ));
    }
    let saved: Option<NamedJson> = match id {
        Some(id) => {
            sqlx::query_as(&format!(
                "UPDATE {table} SET name = $3
                  WHERE integration_system_id = $1 AND id = $2 AND NOT coalesce(is_voided, false)
                  RETURNING {COLUMNS}"
            ))
            .bind(tenant)
            .bind(id)
            .bind(name)
            .fetch_optional(&mut *tx)
            .await?
        }
        None => {
            let uuid = new_uuid(input.uuid.as_deref())?;
            let inserted = sqlx::query_as(&format!(
                "INSERT INTO {table} (name, integration_system_id, uuid, is_voided)
                 VALUES ($1, $2, $3, false) RETURNING {COLUMNS}"
            ))
            .bind(name)
            .bind(tenant)
            .bind(&uuid)
            .fetch_one(&mut *tx)
            .await;
            Some(inserted.map_err(uuid_conflict)?)
        }
    };
    let saved = saved.ok_or_else(|| {
        ApiError::not_found(format!("{} {}", kind.label(), id.unwrap_or_default()))
    })?;
    tx.commit().await?;
    Ok(saved)
}

/// Voids the tenant's row; a voided row leaves every list (and the worker's lookups).
pub async fn void_named(
    pool: &PgPool,
    tenant: IntegrationSystemId,
    kind: NamedKind,
    id: i32,
) -> Result<NamedJson, ApiError> {
    let table = kind.table();
    sqlx::query_as(&format!(
        "UPDATE {table} SET is_voided = true
          WHERE integration_system_id = $1 AND id = $2 AND NOT coalesce(is_voided, false)
          RETURNING {COLUMNS}"
    ))
    .bind(tenant)
    .bind(id)
    .fetch_optional(pool)
    .await?
    .ok_or_else(|| ApiError::not_found(format!("{} {id}", kind.label())))
}

/// The uuid a new row gets: the client's (checked) or a fresh one.
pub(crate) fn new_uuid(given: Option<&str>) -> Result<String, ApiError> {
    match given.map(str::trim).filter(|u| !u.is_empty()) {
        Some(uuid) => {
            check_len("uuid", uuid, 255)?;
            Ok(uuid.to_owned())
        }
        None => Ok(uuid::Uuid::new_v4().to_string()),
    }
}

/// A unique violation on insert can only be the (tenant, uuid) key: name the field.
pub(crate) fn uuid_conflict(error: sqlx::Error) -> ApiError {
    match error.as_database_error() {
        Some(db) if db.is_unique_violation() => ApiError::bad("uuid", "is already used"),
        _ => ApiError::from(error),
    }
}

pub async fn list<const K: u8>(
    State(state): State<AdminState>,
    user: CurrentUser,
    query: QueryParams,
) -> Result<Response, ApiError> {
    let kind = NamedKind::from_const(K);
    let pool = state.store.pool();
    let page = PageRequest::from_query(&query)?;
    if let Some(ids) = query.ids()? {
        return Ok(Json(named_by_ids(pool, user.tenant, kind, &ids).await?).into_response());
    }
    if PageRequest::requested(&query) {
        Ok(Json(list_named(pool, user.tenant, kind, &page).await?).into_response())
    } else {
        Ok(Json(all_named(pool, user.tenant, kind, &page).await?).into_response())
    }
}

pub async fn get_one<const K: u8>(
    State(state): State<AdminState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<Json<NamedJson>, ApiError> {
    let kind = NamedKind::from_const(K);
    let id = path_id(&id, kind.label())?;
    Ok(Json(
        get_named(state.store.pool(), user.tenant, kind, id).await?,
    ))
}

/// POST: creates, or updates when the body carries the id of an existing row.
pub async fn create<const K: u8>(
    State(state): State<AdminState>,
    user: CurrentUser,
    JsonBody(input): JsonBody<NamedInput>,
) -> Result<Json<NamedJson>, ApiError> {
    let kind = NamedKind::from_const(K);
    let pool = state.store.pool();
    let id = match input.id.filter(|id| *id != 0) {
        None => None,
        Some(id) => {
            let existing = get_named(pool, user.tenant, kind, id).await;
            match existing {
                Ok(row) if !row.voided => Some(id),
                Ok(_) | Err(ApiError::NotFound(_)) => {
                    return Err(ApiError::bad(
                        "id",
                        format!("no {} {id} to update", kind.label()),
                    ))
                }
                Err(other) => return Err(other),
            }
        }
    };
    Ok(Json(save_named(pool, user.tenant, kind, id, &input).await?))
}

pub async fn update<const K: u8>(
    State(state): State<AdminState>,
    user: CurrentUser,
    Path(id): Path<String>,
    JsonBody(input): JsonBody<NamedInput>,
) -> Result<Json<NamedJson>, ApiError> {
    let kind = NamedKind::from_const(K);
    let id = path_id(&id, kind.label())?;
    Ok(Json(
        save_named(state.store.pool(), user.tenant, kind, Some(id), &input).await?,
    ))
}

pub async fn delete<const K: u8>(
    State(state): State<AdminState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<Json<NamedJson>, ApiError> {
    let kind = NamedKind::from_const(K);
    let id = path_id(&id, kind.label())?;
    Ok(Json(
        void_named(state.store.pool(), user.tenant, kind, id).await?,
    ))
}
