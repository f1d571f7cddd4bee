//! The original's bundle: `GET /int/export` zips the tenant's mapping types, groups, metadata,
//! error types and configs (secret values blanked); `POST /int/import` upserts such a zip by
//! uuid in one transaction (all or nothing), never overwriting a secret or importing a blank
//! one, and never touching another tenant's rows.

mod import;

use super::error::ApiError;
use super::session::CurrentUser;
use super::AdminState;
use avni_int_shared::classify::{ComparisonOperator, FollowUpStep};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::{Deserialize, Serialize};
use std::io::{Cursor, Read, Write};

/// Largest upload accepted (a bundle of a big tenant is a few hundred kB).
pub const MAX_BUNDLE_BYTES: usize = 20 * 1024 * 1024;

pub const TYPES_FILE: &str = "mappingTypes.json";
pub const GROUPS_FILE: &str = "mappingGroups.json";
pub const METADATA_FILE: &str = "mappingMetadata.json";
pub const ERROR_TYPES_FILE: &str = "errorTypes.json";
pub const CONFIGS_FILE: &str = "integrationSystemConfigs.json";

pub fn routes() -> Router<AdminState> {
    Router::new().route("/export", get(export)).route(
        "/import",
        post(import::import).layer(DefaultBodyLimit::max(MAX_BUNDLE_BYTES)),
    )
}

/// A mapping type or group.
#[derive(Debug, Serialize, Deserialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
struct NamedRow {
    #[serde(default)]
    id: Option<i32>,
    uuid: String,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
struct MetadataRow {
    #[serde(default)]
    id: Option<i32>,
    uuid: String,
    #[serde(default)]
    int_system_value: Option<String>,
    #[serde(default)]
    avni_value: Option<String>,
    #[serde(default)]
    about: Option<String>,
    #[serde(default)]
    data_type_hint: Option<String>,
    /// The group's id in the exporting system; `mappingGroupUuid` is what import resolves.
    #[serde(default)]
    mapping_group: Option<i32>,
    #[serde(default)]
    mapping_group_uuid: Option<String>,
    #[serde(default)]
    mapping_type: Option<i32>,
    #[serde(default)]
    mapping_type_uuid: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
struct ErrorTypeRow {
    #[serde(default)]
    id: Option<i32>,
    uuid: String,
    #[serde(default)]
    name: Option<String>,
    /// Enum name (`EQUALS`…) on export; an ordinal is accepted on import.
    #[serde(default)]
    comparison_operator: Option<String>,
    #[serde(default)]
    comparison_value: Option<String>,
    #[serde(default)]
    follow_up_step: Option<String>,
    #[serde(default)]
    required_action: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
struct ConfigRow {
    #[serde(default)]
    id: Option<i32>,
    uuid: String,
    key: String,
    #[serde(default)]
    value: Option<String>,
    #[serde(default)]
    secret: bool,
}

/// Zips `(name, content)` entries with deflate. Public so tests can build bundles.
pub fn zip_files(entries: &[(&str, Vec<u8>)]) -> Result<Vec<u8>, zip::result::ZipError> {
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, content) in entries {
        writer.start_file(*name, options)?;
        writer.write_all(content)?;
    }
    Ok(writer.finish()?.into_inner())
}

/// The entries of a zip as `(name, content)`, in order. Public so tests can read bundles.
pub fn unzip_files(bytes: &[u8]) -> Result<Vec<(String, Vec<u8>)>, zip::result::ZipError> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes))?;
    let mut entries = Vec::with_capacity(archive.len());
    for index in 0..archive.len() {
        let mut entry = archive.by_index(index)?;
        let mut content = Vec::new();
        entry.read_to_end(&mut content)?;
        entries.push((entry.name().to_owned(), content));
    }
    Ok(entries)
}

async fn export(State(state): State<AdminState>, user: CurrentUser) -> Result<Response, ApiError> {
    let pool = state.store.pool();
    let tenant = user.tenant;
    let name: Option<Option<String>> =
        sqlx::query_scalar("SELECT name FROM integration_system WHERE id = $1")
            .bind(tenant)
            .fetch_optional(pool)
            .await?;
    let name = name
        .ok_or_else(|| ApiError::not_found("integration system"))?
        .unwrap_or_default();
    let live = "integration_system_id = $1 AND NOT coalesce(is_voided, false) ORDER BY id";
    let types: Vec<NamedRow> = sqlx::query_as(&format!(
        "SELECT id, uuid, name FROM mapping_type WHERE {live}"
    ))
    .bind(tenant)
    .fetch_all(pool)
    .await?;
    let groups: Vec<NamedRow> = sqlx::query_as(&format!(
        "SELECT id, uuid, name FROM mapping_group WHERE {live}"
    ))
    .bind(tenant)
    .fetch_all(pool)
    .await?;
    let metadata: Vec<MetadataRow> = sqlx::query_as(
        "SELECT m.id, m.uuid, m.int_system_value, m.avni_value, m.about, m.data_type_hint,
                m.mapping_group_id AS mapping_group, g.uuid AS mapping_group_uuid,
                m.mapping_type_id AS mapping_type, t.uuid AS mapping_type_uuid
           FROM mapping_metadata m
           LEFT JOIN mapping_group g ON g.id = m.mapping_group_id AND g.integration_system_id = m.integration_system_id
           LEFT JOIN mapping_type t ON t.id = m.mapping_type_id AND t.integration_system_id = m.integration_system_id
          WHERE m.integration_system_id = $1 AND NOT coalesce(m.is_voided, false)
          ORDER BY m.id",
    )
    .bind(tenant)
    .fetch_all(pool)
    .await?;
    let mut error_types: Vec<ErrorTypeRow> = sqlx::query_as(&format!(
        "SELECT id, uuid, name, comparison_operator, comparison_value, follow_up_step, required_action
           FROM error_type WHERE {live}"
    ))
    .bind(tenant)
    .fetch_all(pool)
    .await?;
    // Stored as ordinals; exported as the names the API speaks (unreadable values as stored).
    for row in &mut error_types {
        if let Some(op) = &row.comparison_operator {
            if let Ok(parsed) = op.parse::<ComparisonOperator>() {
                row.comparison_operator = Some(parsed.name().to_owned());
            }
        }
        if let Some(step) = &row.follow_up_step {
            if let Ok(parsed) = step.parse::<FollowUpStep>() {
                row.follow_up_step = Some(parsed.name().to_owned());
            }
        }
    }
    let configs: Vec<ConfigRow> = sqlx::query_as(&format!(
        "SELECT id, uuid, coalesce(key, '') AS key,
                CASE WHEN coalesce(is_secret, false) THEN '' ELSE value END AS value,
                coalesce(is_secret, false) AS secret
           FROM integration_system_config WHERE {live}"
    ))
    .bind(tenant)
    .fetch_all(pool)
    .await?;
    let json = |value: serde_json::Result<Vec<u8>>| {
        value.map_err(|e| ApiError::Internal(format!("serialising the bundle: {e}")))
    };
    let zipped = zip_files(&[
        (TYPES_FILE, json(serde_json::to_vec_pretty(&types))?),
        (GROUPS_FILE, json(serde_json::to_vec_pretty(&groups))?),
        (METADATA_FILE, json(serde_json::to_vec_pretty(&metadata))?),
        (
            ERROR_TYPES_FILE,
            json(serde_json::to_vec_pretty(&error_types))?,
        ),
        (CONFIGS_FILE, json(serde_json::to_vec_pretty(&configs))?),
    ])
    .map_err(|e| ApiError::Internal(format!("zipping the bundle: {e}")))?;
    let file_name: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let file_name = if file_name.trim().is_empty() {
        "bundle".to_owned()
    } else {
        file_name
    };
    Ok((
        [
            (header::CONTENT_TYPE, "application/zip".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file_name}.zip\""),
            ),
        ],
        zipped,
    )
        .into_response())
}
