//! Metadata mappings (`mapping_metadata`): one partner value ↔ one Avni value within a group
//! and a type. These are the queries behind `/int/mappingMetadata` and the built-in UI; every
//! one is scoped by the caller's tenant, and a mapping may only point at the tenant's own live
//! group and type.

use super::named::{new_uuid, uuid_conflict, NamedKind};
use crate::admin::error::{check_len, check_present, ApiError};
use crate::admin::paging::{Page, PageRequest};
use avni_int_shared::IntegrationSystemId;
use serde::{Deserialize, Serialize};
use sqlx::{PgPool, Postgres, Transaction};

/// `data_type_hint` values the original stores.
pub const DATA_TYPE_HINTS: &[&str] = &[
    "Coded", "Date", "Numeric", "Text", "Boolean", "NA", "DateTime",
];

/// A mapping as the admin app reads it. `group_name`/`type_name` are for the built-in UI and
/// never serialised, so the JSON stays the original's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct MappingJson {
    pub id: i32,
    pub mapping_group: Option<i32>,
    pub mapping_type: Option<i32>,
    pub int_system_value: Option<String>,
    pub avni_value: Option<String>,
    pub data_type_hint: Option<String>,
    pub about: Option<String>,
    pub uuid: String,
    pub voided: bool,
    pub integration_system_id: i32,
    #[serde(skip)]
    pub group_name: Option<String>,
    #[serde(skip)]
    pub type_name: Option<String>,
}

/// What POST and PUT accept. Unknown fields (`voided`, `integrationSystemId`, …) are ignored so
/// a record can be sent back as read. `coded` is what older admin-app builds send instead of a
/// hint.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MappingInput {
    pub id: Option<i32>,
    pub mapping_group: Option<i32>,
    pub mapping_type: Option<i32>,
    pub int_system_value: Option<String>,
    pub avni_value: Option<String>,
    pub data_type_hint: Option<String>,
    pub about: Option<String>,
    pub uuid: Option<String>,
    pub coded: Option<bool>,
}

/// List filters; every text filter is a case-insensitive substring match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MappingFilter {
    pub avni_value: Option<String>,
    pub int_system_value: Option<String>,
    /// Free text matching either value (the built-in UI's search box, `?q=`).
    pub text: Option<String>,
    pub mapping_group: Option<i32>,
    pub mapping_type: Option<i32>,
}

const SELECT: &str = "SELECT m.id, m.mapping_group_id AS mapping_group, \
     m.mapping_type_id AS mapping_type, m.int_system_value, m.avni_value, m.data_type_hint, \
     m.about, m.uuid, coalesce(m.is_voided, false) AS voided, m.integration_system_id, \
     g.name AS group_name, t.name AS type_name
     FROM mapping_metadata m
     LEFT JOIN mapping_group g ON g.id = m.mapping_group_id
     LEFT JOIN mapping_type t ON t.id = m.mapping_type_id";

const FILTER: &str = "m.integration_system_id = $1 AND NOT coalesce(m.is_voided, false)
     AND ($2::text IS NULL OR strpos(lower(m.avni_value), lower($2)) > 0)
     AND ($3::text IS NULL OR strpos(lower(m.int_system_value), lower($3)) > 0)
     AND ($4::text IS NULL OR strpos(lower(m.avni_value), lower($4)) > 0
                           OR strpos(lower(m.int_system_value), lower($4)) > 0)
     AND ($5::int IS NULL OR m.mapping_group_id = $5)
     AND ($6::int IS NULL OR m.mapping_type_id = $6)";

/// Sortable API fields; group and type sort by their names, which is what a person sees.
pub const SORTABLE: &[(&str, &str)] = &[
    ("id", "m.id"),
    ("avniValue", "m.avni_value"),
    ("intSystemValue", "m.int_system_value"),
    ("mappingGroup", "g.name"),
    ("mappingType", "t.name"),
    ("dataTypeHint", "m.data_type_hint"),
];

/// One page of the tenant's non-voided mappings matching `filter`.
pub async fn list_mappings(
    pool: &PgPool,
    tenant: IntegrationSystemId,
    filter: &MappingFilter,
    page: &PageRequest,
) -> Result<Page<MappingJson>, ApiError> {
    let order = page.order_by(SORTABLE, "m.id", "m.id")?;
    let rows: Vec<MappingJson> = sqlx::query_as(&format!(
        "{SELECT} WHERE {FILTER} ORDER BY {order} LIMIT $7 OFFSET $8"
    ))
    .bind(tenant)
    .bind(&filter.avni_value)
    .bind(&filter.int_system_value)
    .bind(&filter.text)
    .bind(filter.mapping_group)
    .bind(filter.mapping_type)
    .bind(page.limit())
    .bind(page.offset())
    .fetch_all(pool)
    .await?;
    let total: i64 = sqlx::query_scalar(&format!(
        "SELECT count(*) FROM mapping_metadata m WHERE {FILTER}"
    ))
    .bind(tenant)
    .bind(&filter.avni_value)
    .bind(&filter.int_system_value)
    .bind(&filter.text)
    .bind(filter.mapping_group)
    .bind(filter.mapping_type)
    .fetch_one(pool)
    .await?;
    Ok(Page::new(rows, total, page.clone()))
}

/// The tenant's mappings among `ids` (voided ones included: a reference still resolves).
pub async fn mappings_by_ids(
    pool: &PgPool,
    tenant: IntegrationSystemId,
    ids: &[i32],
) -> Result<Vec<MappingJson>, ApiError> {
    Ok(sqlx::query_as(&format!(
        "{SELECT} WHERE m.integration_system_id = $1 AND m.id = ANY($2) ORDER BY m.id"
    ))
    .bind(tenant)
    .bind(ids)
    .fetch_all(pool)
    .await?)
}

/// One mapping of the tenant; 404 for another tenant's or an unknown id.
pub async fn get_mapping(
    pool: &PgPool,
    tenant: IntegrationSystemId,
    id: i32,
) -> Result<MappingJson, ApiError> {
    sqlx::query_as(&format!(
        "{SELECT} WHERE m.integration_system_id = $1 AND m.id = $2"
    ))
    .bind(tenant)
    .bind(id)
    .fetch_optional(pool)
    .await?
    .ok_or_else(|| ApiError::not_found(format!("mappingMetadata {id}")))
}

/// A body that passed every check that needs no database.
struct Valid {
    group: i32,
    mapping_type: i32,
    int_system_value: String,
    avni_value: String,
    hint: Option<String>,
    about: Option<String>,
}

fn validate(input: &MappingInput) -> Result<Valid, ApiError> {
    let group = input
        .mapping_group
        .ok_or_else(|| ApiError::bad("mappingGroup", "must be given (a mapping group id)"))?;
    let mapping_type = input
        .mapping_type
        .ok_or_else(|| ApiError::bad("mappingType", "must be given (a mapping type id)"))?;
    let int_system_value = input.int_system_value.clone().unwrap_or_default();
    check_present("intSystemValue", &int_system_value)?;
    check_len("intSystemValue", &int_system_value, 250)?;
    let avni_value = input.avni_value.clone().unwrap_or_default();
    check_present("avniValue", &avni_value)?;
    check_len("avniValue", &avni_value, 250)?;
    let hint = match input.data_type_hint.as_deref().map(str::trim) {
        Some("") | None => input
            .coded
            .filter(|coded| *coded)
            .map(|_| "Coded".to_owned()),
        Some(hint) if DATA_TYPE_HINTS.contains(&hint) => Some(hint.to_owned()),
        Some(other) => {
            return Err(ApiError::bad(
                "dataTypeHint",
                format!(
                    "must be one of {} or null, got {other:?}",
                    DATA_TYPE_HINTS.join(", ")
                ),
            ))
        }
    };
    if let Some(about) = &input.about {
        check_len("about", about, 1000)?;
    }
    Ok(Valid {
        group,
        mapping_type,
        int_system_value,
        avni_value,
        hint,
        about: input.about.clone(),
    })
}

/// The group or type must be the tenant's and live; held (FOR SHARE) until the write commits
/// so it cannot be voided under the new mapping.
async fn check_reference(
    tx: &mut Transaction<'_, Postgres>,
    tenant: IntegrationSystemId,
    kind: NamedKind,
    id: i32,
) -> Result<(), ApiError> {
    let table = kind.table();
    let live: Option<bool> = sqlx::query_scalar(&format!(
        "SELECT NOT coalesce(is_voided, false) FROM {table}
          WHERE integration_system_id = $1 AND id = $2 FOR SHARE"
    ))
    .bind(tenant)
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    match live {
        Some(true) => Ok(()),
        Some(false) => Err(ApiError::bad(
            kind.label(),
            format!("{id} has been deleted"),
        )),
        None => Err(ApiError::bad(
            kind.label(),
            format!("no {} with id {id}", kind.label()),
        )),
    }
}

/// Creates a mapping (uuid generated unless given).
pub async fn create_mapping(
    pool: &PgPool,
    tenant: IntegrationSystemId,
    input: &MappingInput,
) -> Result<MappingJson, ApiError> {
    let valid = validate(input)?;
    let uuid = new_uuid(input.uuid.as_deref())?;
    let mut tx = pool.begin().await?;
    check_reference(&mut tx, tenant, NamedKind::Group, valid.group).await?;
    check_reference(&mut tx, tenant, NamedKind::Type, valid.mapping_type).await?;
    let id: i32 = sqlx::query_scalar(
        "INSERT INTO mapping_metadata (int_system_value, avni_value, about, data_type_hint,
             integration_system_id, mapping_group_id, mapping_type_id, uuid, is_voided)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, false) RETURNING id",
    )
    .bind(&valid.int_system_value)
    .bind(&valid.avni_value)
    .bind(&valid.about)
    .bind(&valid.hint)
    .bind(tenant)
    .bind(valid.group)
    .bind(valid.mapping_type)
    .bind(&uuid)
    .fetch_one(&mut *tx)
    .await
    .map_err(uuid_conflict)?;
    tx.commit().await?;
    get_mapping(pool, tenant, id).await
}

/// Replaces the tenant's live mapping `id` with `input` (its uuid stays: it is the identity
/// bundles are imported by).
pub async fn update_mapping(
    pool: &PgPool,
    tenant: IntegrationSystemId,
    id: i32,
    input: &MappingInput,
) -> Result<MappingJson, ApiError> {
    let mut tx = pool.begin().await?;
    let live: Option<bool> = sqlx::query_scalar(
        "SELECT NOT coalesce(is_voided, false) FROM mapping_metadata
          WHERE integration_system_id = $1 AND id = $2 FOR UPDATE",
    )
    .bind(tenant)
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    if live != Some(true) {
        return Err(ApiError::not_found(format!("mappingMetadata {id}")));
    }
    let valid = validate(input)?;
    check_reference(&mut tx, tenant, NamedKind::Group, valid.group).await?;
    check_reference(&mut tx, tenant, NamedKind::Type, valid.mapping_type).await?;
    sqlx::query(
        "UPDATE mapping_metadata
            SET int_system_value = $3, avni_value = $4, about = $5, data_type_hint = $6,
                mapping_group_id = $7, mapping_type_id = $8
          WHERE integration_system_id = $1 AND id = $2",
    )
    .bind(tenant)
    .bind(id)
    .bind(&valid.int_system_value)
    .bind(&valid.avni_value)
    .bind(&valid.about)
    .bind(&valid.hint)
    .bind(valid.group)
    .bind(valid.mapping_type)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    get_mapping(pool, tenant, id).await
}

/// Voids the tenant's live mapping `id`: it leaves the lists and the worker's lookups.
pub async fn void_mapping(
    pool: &PgPool,
    tenant: IntegrationSystemId,
    id: i32,
) -> Result<MappingJson, ApiError> {
    let voided = sqlx::query(
        "UPDATE mapping_metadata SET is_voided = true
          WHERE integration_system_id = $1 AND id = $2 AND NOT coalesce(is_voided, false)",
    )
    .bind(tenant)
    .bind(id)
    .execute(pool)
    .await?;
    if voided.rows_affected() == 0 {
        return Err(ApiError::not_found(format!("mappingMetadata {id}")));
    }
    get_mapping(pool, tenant, id).await
}
