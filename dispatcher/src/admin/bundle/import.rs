//! Importing a bundle: every file parsed and checked first, then one transaction that upserts
//! by uuid (types and groups also by name, configs also by key), so a bad file writes nothing.

use super::{
    ConfigRow, ErrorTypeRow, MetadataRow, NamedRow, CONFIGS_FILE, ERROR_TYPES_FILE, GROUPS_FILE,
    MAX_BUNDLE_BYTES, METADATA_FILE, TYPES_FILE,
};
use crate::admin::error::{check_len, check_present, ApiError};
use crate::admin::extract::parse_json;
use crate::admin::session::CurrentUser;
use crate::admin::AdminState;
use avni_int_shared::classify::{ComparisonOperator, FollowUpStep};
use avni_int_shared::IntegrationSystemId;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, State};
use axum::Json;
use serde_json::json;
use sqlx::PgConnection;
use std::collections::HashMap;
use std::io::{Cursor, Read};

/// The bundle as read from the upload: every file parsed and checked before anything is written.
#[derive(Default)]
struct Bundle {
    types: Vec<NamedRow>,
    groups: Vec<NamedRow>,
    metadata: Vec<MetadataRow>,
    error_types: Vec<ErrorTypeRow>,
    configs: Vec<ConfigRow>,
}

pub(super) async fn import(
    State(state): State<AdminState>,
    user: CurrentUser,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let upload = read_upload(multipart).await?;
    let bundle = read_bundle(&upload)?;
    let mut tx = state.store.pool().begin().await?;
    let counts = write_bundle(&mut tx, user.tenant, &bundle).await?;
    tx.commit().await?;
    tracing::info!(tenant = %user.tenant, by = %user.email, ?counts, "bundle imported");
    Ok(Json(counts))
}

async fn read_upload(
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Vec<u8>, ApiError> {
    let bad =
        |e: &dyn std::fmt::Display| ApiError::bad("bundleZip", format!("unreadable upload: {e}"));
    let mut multipart = multipart.map_err(|e| bad(&e))?;
    while let Some(field) = multipart.next_field().await.map_err(|e| bad(&e))? {
        if field.name() == Some("bundleZip") {
            return Ok(field.bytes().await.map_err(|e| bad(&e))?.to_vec());
        }
    }
    Err(ApiError::bad(
        "bundleZip",
        "missing: upload the zip as multipart field bundleZip",
    ))
}

fn read_bundle(upload: &[u8]) -> Result<Bundle, ApiError> {
    let mut archive = zip::ZipArchive::new(Cursor::new(upload))
        .map_err(|e| ApiError::bad("bundleZip", format!("not a zip file: {e}")))?;
    let bundle = Bundle {
        types: read_entry(&mut archive, TYPES_FILE)?,
        groups: read_entry(&mut archive, GROUPS_FILE)?,
        metadata: read_entry(&mut archive, METADATA_FILE)?,
        error_types: read_entry(&mut archive, ERROR_TYPES_FILE)?,
        configs: read_entry(&mut archive, CONFIGS_FILE)?,
    };
    for (file, rows) in [(TYPES_FILE, &bundle.types), (GROUPS_FILE, &bundle.groups)] {
        for (i, row) in rows.iter().enumerate() {
            check_uuid(file, i, &row.uuid)?;
            check_len(&at(file, i, "name"), row.name.as_deref().unwrap_or(""), 250)?;
        }
    }
    for (i, row) in bundle.metadata.iter().enumerate() {
        let f = METADATA_FILE;
        check_uuid(f, i, &row.uuid)?;
        for (field, value, max) in [
            ("intSystemValue", &row.int_system_value, 250),
            ("avniValue", &row.avni_value, 250),
            ("about", &row.about, 1000),
            ("dataTypeHint", &row.data_type_hint, 100),
        ] {
            check_len(&at(f, i, field), value.as_deref().unwrap_or(""), max)?;
        }
    }
    for (i, row) in bundle.error_types.iter().enumerate() {
        check_uuid(ERROR_TYPES_FILE, i, &row.uuid)?;
        check_len(
            &at(ERROR_TYPES_FILE, i, "name"),
            row.name.as_deref().unwrap_or(""),
            250,
        )?;
        operator_of(i, row)?;
        follow_up_of(i, row)?;
    }
    for (i, row) in bundle.configs.iter().enumerate() {
        check_uuid(CONFIGS_FILE, i, &row.uuid)?;
        check_present(&at(CONFIGS_FILE, i, "key"), &row.key)?;
        check_len(&at(CONFIGS_FILE, i, "key"), &row.key, 255)?;
        check_len(
            &at(CONFIGS_FILE, i, "value"),
            row.value.as_deref().unwrap_or(""),
            10000,
        )?;
    }
    Ok(bundle)
}

/// One file of the zip as a JSON array; a missing file is an empty one (a partial bundle).
fn read_entry<T: serde::de::DeserializeOwned>(
    archive: &mut zip::ZipArchive<Cursor<&[u8]>>,
    file: &str,
) -> Result<Vec<T>, ApiError> {
    let mut entry = match archive.by_name(file) {
        Ok(entry) => entry,
        Err(zip::result::ZipError::FileNotFound) => return Ok(Vec::new()),
        Err(e) => return Err(ApiError::bad(file, format!("unreadable in the zip: {e}"))),
    };
    let mut bytes = Vec::new();
    // Bounded, so a small zip cannot inflate into gigabytes.
    (&mut entry)
        .take(MAX_BUNDLE_BYTES as u64 * 4 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| ApiError::bad(file, format!("unreadable in the zip: {e}")))?;
    if bytes.len() > MAX_BUNDLE_BYTES * 4 {
        return Err(ApiError::bad(file, "too large"));
    }
    parse_json(&bytes).map_err(|error| match error {
        ApiError::BadRequest { field, message } => {
            let field = match field.as_str() {
                "body" => file.to_owned(),
                path if path.starts_with('[') => format!("{file}{path}"),
                path => format!("{file}.{path}"),
            };
            ApiError::bad(field, message)
        }
        other => other,
    })
}

fn at(file: &str, index: usize, field: &str) -> String {
    format!("{file}[{index}].{field}")
}

fn check_uuid(file: &str, index: usize, uuid: &str) -> Result<(), ApiError> {
    check_present(&at(file, index, "uuid"), uuid)?;
    check_len(&at(file, index, "uuid"), uuid, 255)
}

fn operator_of(i: usize, row: &ErrorTypeRow) -> Result<Option<&'static str>, ApiError> {
    match row.comparison_operator.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(text) => text
            .parse::<ComparisonOperator>()
            .map(|op| Some(op.ordinal()))
            .map_err(|e| {
                ApiError::bad(at(ERROR_TYPES_FILE, i, "comparisonOperator"), e.to_string())
            }),
    }
}

fn follow_up_of(i: usize, row: &ErrorTypeRow) -> Result<&'static str, ApiError> {
    match row.follow_up_step.as_deref().map(str::trim) {
        None | Some("") => Ok(FollowUpStep::Process.ordinal()),
        Some(text) => text
            .parse::<FollowUpStep>()
            .map(FollowUpStep::ordinal)
            .map_err(|e| ApiError::bad(at(ERROR_TYPES_FILE, i, "followUpStep"), e.to_string())),
    }
}

/// A database refusal of one row (a duplicate key) is the bundle's fault: 400 naming the row.
fn row_error(field: String) -> impl FnOnce(sqlx::Error) -> ApiError {
    move |error| match &error {
        sqlx::Error::Database(db) if db.code().as_deref() == Some("23505") => ApiError::bad(
            field,
            format!("conflicts with an existing row: {}", db.message()),
        ),
        _ => ApiError::from(error),
    }
}

/// Finds the tenant's row by uuid, else (for tables with a natural name) by name.
async fn existing(
    conn: &mut PgConnection,
    table: &str,
    tenant: IntegrationSystemId,
    uuid: &str,
    name_column: Option<(&str, Option<&str>)>,
) -> Result<Option<i32>, sqlx::Error> {
    let by_uuid: Option<i32> = sqlx::query_scalar(&format!(
        "SELECT id FROM {table} WHERE integration_system_id = $1 AND uuid = $2"
    ))
    .bind(tenant)
    .bind(uuid)
    .fetch_optional(&mut *conn)
    .await?;
    if by_uuid.is_some() {
        return Ok(by_uuid);
    }
    let Some((column, Some(name))) = name_column else {
        return Ok(None);
    };
    // A config key is unique per tenant even when voided; a name only among live rows.
    let live = if column == "key" {
        ""
    } else {
        "AND NOT coalesce(is_voided, false)"
    };
    sqlx::query_scalar(&format!(
        "SELECT min(id) FROM {table} WHERE integration_system_id = $1 AND {column} = $2 {live}"
    ))
    .bind(tenant)
    .bind(name)
    .fetch_one(&mut *conn)
    .await
}

async fn write_bundle(
    tx: &mut PgConnection,
    tenant: IntegrationSystemId,
    bundle: &Bundle,
) -> Result<serde_json::Value, ApiError> {
    let types = upsert_named(tx, "mapping_type", TYPES_FILE, tenant, &bundle.types).await?;
    let groups = upsert_named(tx, "mapping_group", GROUPS_FILE, tenant, &bundle.groups).await?;
    for (i, row) in bundle.metadata.iter().enumerate() {
        let group = resolve(
            tx,
            "mapping_group",
            tenant,
            &groups,
            row.mapping_group_uuid.as_deref(),
            row.mapping_group,
        )
        .await?
        .map_err(|why| ApiError::bad(at(METADATA_FILE, i, "mappingGroup"), why))?;
        let mapping_type = resolve(
            tx,
            "mapping_type",
            tenant,
            &types,
            row.mapping_type_uuid.as_deref(),
            row.mapping_type,
        )
        .await?
        .map_err(|why| ApiError::bad(at(METADATA_FILE, i, "mappingType"), why))?;
        let field = at(METADATA_FILE, i, "uuid");
        let id = existing(tx, "mapping_metadata", tenant, &row.uuid, None).await?;
        sqlx::query(match id {
            Some(_) => "UPDATE mapping_metadata SET int_system_value = $3, avni_value = $4, about = $5,
                               data_type_hint = $6, mapping_group_id = $7, mapping_type_id = $8, is_voided = false
                         WHERE integration_system_id = $1 AND id = $9",
            None => "INSERT INTO mapping_metadata (integration_system_id, uuid, int_system_value, avni_value,
                               about, data_type_hint, mapping_group_id, mapping_type_id, is_voided)
                      VALUES ($1, $2, $3, $4, $5, $6, $7, $8, false)",
        })
        .bind(tenant)
        .bind(&row.uuid)
        .bind(&row.int_system_value)
        .bind(&row.avni_value)
        .bind(&row.about)
        .bind(&row.data_type_hint)
        .bind(group)
        .bind(mapping_type)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(row_error(field))?;
    }
    for (i, row) in bundle.error_types.iter().enumerate() {
        let id = existing(
            tx,
            "error_type",
            tenant,
            &row.uuid,
            Some(("name", row.name.as_deref())),
        )
        .await?;
        sqlx::query(match id {
            Some(_) => "UPDATE error_type SET name = $3, comparison_operator = $4, comparison_value = $5,
                               follow_up_step = $6, required_action = coalesce($7, required_action), is_voided = false
                         WHERE integration_system_id = $1 AND id = $8",
            None => "INSERT INTO error_type (integration_system_id, uuid, name, comparison_operator,
                               comparison_value, follow_up_step, required_action, is_voided)
                      VALUES ($1, $2, $3, $4, $5, $6, $7, false)",
        })
        .bind(tenant)
        .bind(&row.uuid)
        .bind(&row.name)
        .bind(operator_of(i, row)?)
        .bind(&row.comparison_value)
        .bind(follow_up_of(i, row)?)
        .bind(&row.required_action)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(row_error(at(ERROR_TYPES_FILE, i, "uuid")))?;
    }
    let (configs, secrets_kept) = upsert_configs(tx, tenant, &bundle.configs).await?;
    Ok(json!({
        "mappingTypes": bundle.types.len(),
        "mappingGroups": bundle.groups.len(),
        "mappingMetadata": bundle.metadata.len(),
        "errorTypes": bundle.error_types.len(),
        "integrationSystemConfigs": configs,
        "secretsKept": secrets_kept,
    }))
}

/// Where the bundle's rows of a type or group table went: by bundle uuid and by bundle id.
#[derive(Default)]
struct Placed {
    by_uuid: HashMap<String, i32>,
    by_bundle_id: HashMap<i32, i32>,
}

async fn upsert_named(
    tx: &mut PgConnection,
    table: &str,
    file: &str,
    tenant: IntegrationSystemId,
    rows: &[NamedRow],
) -> Result<Placed, ApiError> {
    let mut placed = Placed::default();
    for (i, row) in rows.iter().enumerate() {
        let id = existing(
            tx,
            table,
            tenant,
            &row.uuid,
            Some(("name", row.name.as_deref())),
        )
        .await?;
        let id: i32 = match id {
            Some(id) => sqlx::query_scalar(&format!(
                "UPDATE {table} SET name = $2, is_voided = false WHERE id = $1 RETURNING id"
            ))
            .bind(id)
            .bind(&row.name)
            .fetch_one(&mut *tx)
            .await
            .map_err(row_error(at(file, i, "uuid")))?,
            None => sqlx::query_scalar(&format!(
                "INSERT INTO {table} (integration_system_id, uuid, name, is_voided)
                 VALUES ($1, $2, $3, false) RETURNING id"
            ))
            .bind(tenant)
            .bind(&row.uuid)
            .bind(&row.name)
            .fetch_one(&mut *tx)
            .await
            .map_err(row_error(at(file, i, "uuid")))?,
        };
        placed.by_uuid.insert(row.uuid.clone(), id);
        if let Some(bundle_id) = row.id {
            placed.by_bundle_id.insert(bundle_id, id);
        }
    }
    Ok(placed)
}

/// The tenant's id of a metadata row's group or type: by uuid (in the bundle or already in
/// the tenant), else by the bundle's id. The inner error says why it could not be found.
async fn resolve(
    tx: &mut PgConnection,
    table: &str,
    tenant: IntegrationSystemId,
    placed: &Placed,
    uuid: Option<&str>,
    bundle_id: Option<i32>,
) -> Result<Result<Option<i32>, String>, ApiError> {
    if let Some(uuid) = uuid.filter(|u| !u.trim().is_empty()) {
        if let Some(id) = placed.by_uuid.get(uuid) {
            return Ok(Ok(Some(*id)));
        }
        return Ok(existing(tx, table, tenant, uuid, None)
            .await?
            .map(Some)
            .ok_or_else(|| format!("no row with uuid {uuid:?} in the bundle or this system")));
    }
    match bundle_id {
        None => Ok(Ok(None)),
        Some(id) => Ok(placed
            .by_bundle_id
            .get(&id)
            .map(|id| Some(*id))
            .ok_or_else(|| format!("no row with id {id} in the bundle"))),
    }
}

/// Configs by uuid, else by key. A secret already set is never overwritten; a blank secret
/// (as exported) is never imported. Returns (rows written, secrets left as they were).
async fn upsert_configs(
    tx: &mut PgConnection,
    tenant: IntegrationSystemId,
    rows: &[ConfigRow],
) -> Result<(usize, usize), ApiError> {
    let (mut written, mut kept) = (0, 0);
    for (i, row) in rows.iter().enumerate() {
        let id = existing(
            tx,
            "integration_system_config",
            tenant,
            &row.uuid,
            Some(("key", Some(&row.key))),
        )
        .await?;
        let existing_secret: bool = match id {
            Some(id) => sqlx::query_scalar(
                "SELECT coalesce(is_secret, false) FROM integration_system_config WHERE id = $1",
            )
            .bind(id)
            .fetch_one(&mut *tx)
            .await?,
            None => false,
        };
        let blank_secret = row.secret && row.value.as_deref().unwrap_or("").trim().is_empty();
        if existing_secret || blank_secret {
            kept += 1;
            continue;
        }
        sqlx::query(match id {
            Some(_) => "UPDATE integration_system_config SET key = $3, value = $4, is_secret = $5, is_voided = false
                         WHERE integration_system_id = $1 AND id = $6",
            None => "INSERT INTO integration_system_config (integration_system_id, uuid, key, value, is_secret, is_voided)
                      VALUES ($1, $2, $3, $4, $5, false)",
        })
        .bind(tenant)
        .bind(&row.uuid)
        .bind(&row.key)
        .bind(&row.value)
        .bind(row.secret)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(row_error(at(CONFIGS_FILE, i, "key")))?;
        written += 1;
    }
    Ok((written, kept))
}
