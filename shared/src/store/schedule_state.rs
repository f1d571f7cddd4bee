//! Per schedule (tenant, module, kind): the last tick that fired and how many ticks were skipped.
//! Kept in the database so a new leader neither repeats nor forgets a tick.

use super::StoreError;
use crate::ids::{IntegrationSystemId, ModuleName};
use crate::job::JobKind;
use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};

/// Claims `tick` for this schedule: true if no one recorded it (or a later one) before.
pub async fn claim_tick(
    conn: &mut PgConnection,
    tenant: IntegrationSystemId,
    module: &ModuleName,
    kind: JobKind,
    tick: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let claimed = sqlx::query(
        "INSERT INTO int_schedule_state (integration_system_id, module, kind, last_fired_at)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (integration_system_id, module, kind) DO UPDATE SET last_fired_at = EXCLUDED.last_fired_at
          WHERE int_schedule_state.last_fired_at IS NULL OR int_schedule_state.last_fired_at < EXCLUDED.last_fired_at",
    )
    .bind(tenant)
    .bind(module.as_str())
    .bind(kind.as_str())
    .bind(tick)
    .execute(conn)
    .await?;
    Ok(claimed.rows_affected() == 1)
}

pub async fn record_skip(
    conn: &mut PgConnection,
    tenant: IntegrationSystemId,
    module: &ModuleName,
    kind: JobKind,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE int_schedule_state SET skipped_count = skipped_count + 1, last_skipped_at = now()
          WHERE integration_system_id = $1 AND module = $2 AND kind = $3",
    )
    .bind(tenant)
    .bind(module.as_str())
    .bind(kind.as_str())
    .execute(conn)
    .await?;
    Ok(())
}

/// The state of one schedule, as ops and tests read it.
#[derive(Debug, Clone, Default, sqlx::FromRow)]
pub struct ScheduleState {
    pub last_fired_at: Option<DateTime<Utc>>,
    pub skipped_count: i64,
    pub last_skipped_at: Option<DateTime<Utc>>,
}

pub async fn get(
    pool: &PgPool,
    tenant: IntegrationSystemId,
    module: &ModuleName,
    kind: JobKind,
) -> Result<Option<ScheduleState>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT last_fired_at, skipped_count, last_skipped_at FROM int_schedule_state
          WHERE integration_system_id = $1 AND module = $2 AND kind = $3",
    )
    .bind(tenant)
    .bind(module.as_str())
    .bind(kind.as_str())
    .fetch_optional(pool)
    .await?)
}

/// When each schedule last fired (module and kind as stored).
pub async fn last_fired_all(
    pool: &PgPool,
) -> Result<Vec<(IntegrationSystemId, String, String, DateTime<Utc>)>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT integration_system_id, module, kind, last_fired_at FROM int_schedule_state
          WHERE last_fired_at IS NOT NULL",
    )
    .fetch_all(pool)
    .await?)
}
