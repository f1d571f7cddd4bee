//! Per-tenant module pauses (`int_module_pause`): ops stop a tenant's module from being
//! scheduled without touching its crons; "run now" still works. The scheduler reads the whole
//! set once per reload and checks the one schedule again when it fires.

use super::StoreError;
use crate::ids::{IntegrationSystemId, ModuleName};
use chrono::{DateTime, Utc};
use sqlx::{PgExecutor, PgPool};
use std::collections::HashSet;

/// A pause as ops see it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Pause {
    pub module: String,
    pub paused_at: DateTime<Utc>,
    pub paused_by: Option<String>,
}

/// Pauses `module` for `tenant`. Pausing a paused module keeps the first pause's time and
/// author (the pause began then).
pub async fn pause(
    pool: &PgPool,
    tenant: IntegrationSystemId,
    module: &ModuleName,
    by: Option<&str>,
) -> Result<Pause, StoreError> {
    sqlx::query(
        "INSERT INTO int_module_pause (integration_system_id, module, paused_by)
         VALUES ($1, $2, $3)
         ON CONFLICT (integration_system_id, module) DO NOTHING",
    )
    .bind(tenant)
    .bind(module.as_str())
    .bind(by)
    .execute(pool)
    .await?;
    let pause = get(pool, tenant, module).await?;
    pause.ok_or_else(|| StoreError::Corrupt(format!("pause of {module} vanished after insert")))
}

/// Ends the pause; true if there was one.
pub async fn resume(
    pool: &PgPool,
    tenant: IntegrationSystemId,
    module: &ModuleName,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "DELETE FROM int_module_pause WHERE integration_system_id = $1 AND module = $2",
    )
    .bind(tenant)
    .bind(module.as_str())
    .execute(pool)
    .await?;
    Ok(done.rows_affected() > 0)
}

pub async fn get(
    pool: &PgPool,
    tenant: IntegrationSystemId,
    module: &ModuleName,
) -> Result<Option<Pause>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT module, paused_at, paused_by FROM int_module_pause
          WHERE integration_system_id = $1 AND module = $2",
    )
    .bind(tenant)
    .bind(module.as_str())
    .fetch_optional(pool)
    .await?)
}

/// The tenant's pauses.
pub async fn of_tenant(
    pool: &PgPool,
    tenant: IntegrationSystemId,
) -> Result<Vec<Pause>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT module, paused_at, paused_by FROM int_module_pause
          WHERE integration_system_id = $1 ORDER BY module",
    )
    .bind(tenant)
    .fetch_all(pool)
    .await?)
}

/// Every paused (tenant, module): one query for the scheduler's reload.
pub async fn paused_set(
    pool: &PgPool,
) -> Result<HashSet<(IntegrationSystemId, String)>, StoreError> {
    let rows: Vec<(IntegrationSystemId, String)> =
        sqlx::query_as("SELECT integration_system_id, module FROM int_module_pause")
            .fetch_all(pool)
            .await?;
    Ok(rows.into_iter().collect())
}

/// Whether `module` is paused for `tenant` now (one primary-key lookup; usable inside the
/// transaction that fires a tick).
pub async fn is_paused<'c>(
    executor: impl PgExecutor<'c>,
    tenant: IntegrationSystemId,
    module: &ModuleName,
) -> Result<bool, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM int_module_pause WHERE integration_system_id = $1 AND module = $2)",
    )
    .bind(tenant)
    .bind(module.as_str())
    .fetch_one(executor)
    .await?)
}
