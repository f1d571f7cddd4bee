//! Goonj ad-hoc tasks (`goonj_adhoc_task`, contracts/goonj.md §7): stored so they survive a
//! restart, voided to cancel, fired once by the leader as a job of the ledger, and given their
//! final status by the worker that ran them. Times are IST wall clocks, as the original stores them.

use super::ledger;
use super::StoreError;
use crate::ids::{IntegrationSystemId, JobId, ModuleName};
use chrono::{DateTime, FixedOffset, NaiveDateTime, Offset, TimeDelta, Utc};
use serde_json::Value;
use sqlx::{PgConnection, PgPool};

/// A task's lifecycle: `CREATED` until its job ends, then `COMPLETED` or `ERROR`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskStatus {
    Created,
    Completed,
    Error,
}

impl TaskStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Created => "CREATED",
            TaskStatus::Completed => "COMPLETED",
            TaskStatus::Error => "ERROR",
        }
    }
}

/// A task whose trigger is further in the past than this is never fired: the original lost
/// such tasks on a restart, and a database it leaves behind still holds them as `CREATED`.
pub const CATCH_UP: TimeDelta = TimeDelta::days(2);

/// India Standard Time, in which trigger and cut-off are entered and stored.
pub fn ist() -> FixedOffset {
    FixedOffset::east_opt(5 * 3600 + 30 * 60).unwrap_or_else(|| Utc.fix())
}

/// The IST wall clock of an instant.
pub fn ist_wall_clock(at: DateTime<Utc>) -> NaiveDateTime {
    at.with_timezone(&ist()).naive_local()
}

/// A stored task.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct AdhocTask {
    pub id: i32,
    pub uuid: String,
    pub integration_system_id: IntegrationSystemId,
    /// NULL in rows the original wrote without it: read as `false`.
    pub is_voided: Option<bool>,
    pub integration_task: String,
    pub task_config: Option<Value>,
    pub trigger_date_time: NaiveDateTime,
    pub cut_off_date_time: NaiveDateTime,
    pub status: String,
    pub created_date_time: NaiveDateTime,
    pub last_modified_date_time: NaiveDateTime,
    /// The job that runs it, once fired.
    pub job_id: Option<i64>,
}

impl AdhocTask {
    pub fn voided(&self) -> bool {
        self.is_voided.unwrap_or(false)
    }
}

/// A task to store.
#[derive(Debug, Clone)]
pub struct NewAdhocTask {
    pub tenant: IntegrationSystemId,
    pub task: String,
    pub task_config: Option<Value>,
    pub trigger: NaiveDateTime,
    pub cut_off: NaiveDateTime,
}

const COLUMNS: &str = "id, uuid, integration_system_id, is_voided, integration_task, task_config,
    trigger_date_time, cut_off_date_time, status, created_date_time, last_modified_date_time, job_id";

/// The IST wall clock of the database's now, for the audit columns.
const NOW_IST: &str = "(now() AT TIME ZONE 'Asia/Kolkata')";

/// Stores a new task as `CREATED`, not voided, with a fresh uuid.
pub async fn insert(pool: &PgPool, task: &NewAdhocTask) -> Result<AdhocTask, StoreError> {
    Ok(sqlx::query_as(&format!(
        "INSERT INTO goonj_adhoc_task (uuid, integration_system_id, is_voided, integration_task,
             task_config, trigger_date_time, cut_off_date_time, status, created_date_time,
             last_modified_date_time)
         VALUES (gen_random_uuid()::text, $1, false, $2, $3, $4, $5, 'CREATED', {NOW_IST}, {NOW_IST})
         RETURNING {COLUMNS}"
    ))
    .bind(task.tenant)
    .bind(&task.task)
    .bind(&task.task_config)
    .bind(task.trigger)
    .bind(task.cut_off)
    .fetch_one(pool)
    .await?)
}

/// The tenant's tasks that are not voided, newest first.
pub async fn list(
    pool: &PgPool,
    tenant: IntegrationSystemId,
) -> Result<Vec<AdhocTask>, StoreError> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM goonj_adhoc_task
          WHERE integration_system_id = $1 AND is_voided IS NOT TRUE
          ORDER BY created_date_time DESC, id DESC"
    ))
    .bind(tenant)
    .fetch_all(pool)
    .await?)
}

/// One of the tenant's tasks by uuid, voided or not.
pub async fn get(
    pool: &PgPool,
    tenant: IntegrationSystemId,
    uuid: &str,
) -> Result<Option<AdhocTask>, StoreError> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM goonj_adhoc_task WHERE integration_system_id = $1 AND uuid = $2
          ORDER BY id LIMIT 1"
    ))
    .bind(tenant)
    .bind(uuid)
    .fetch_optional(pool)
    .await?)
}

/// One of the tenant's tasks by id (what a job carries).
pub async fn get_by_id(
    pool: &PgPool,
    tenant: IntegrationSystemId,
    id: i32,
) -> Result<Option<AdhocTask>, StoreError> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM goonj_adhoc_task WHERE integration_system_id = $1 AND id = $2"
    ))
    .bind(tenant)
    .bind(id)
    .fetch_optional(pool)
    .await?)
}

/// Voids one of the tenant's tasks: it is never fired, and a job already fired for it does not
/// run it. `false` when the tenant has no such task.
pub async fn void(
    pool: &PgPool,
    tenant: IntegrationSystemId,
    uuid: &str,
) -> Result<bool, StoreError> {
    let updated = sqlx::query(&format!(
        "UPDATE goonj_adhoc_task SET is_voided = true, last_modified_date_time = {NOW_IST}
          WHERE integration_system_id = $1 AND uuid = $2"
    ))
    .bind(tenant)
    .bind(uuid)
    .execute(pool)
    .await?;
    Ok(updated.rows_affected() > 0)
}

/// A task whose trigger has come.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct DueTask {
    pub id: i32,
    pub integration_system_id: IntegrationSystemId,
    pub integration_task: String,
}

const DUE_WHERE: &str = "status = 'CREATED' AND is_voided IS NOT TRUE AND job_id IS NULL
    AND trigger_date_time <= $1 AND trigger_date_time > $2";

/// Tasks due at `now`: `CREATED`, not voided, not fired yet, trigger reached (within
/// [`CATCH_UP`]).
pub async fn due(pool: &PgPool, now: DateTime<Utc>) -> Result<Vec<DueTask>, StoreError> {
    let at = ist_wall_clock(now);
    Ok(sqlx::query_as(&format!(
        "SELECT id, integration_system_id, integration_task FROM goonj_adhoc_task
          WHERE {DUE_WHERE} ORDER BY trigger_date_time, id"
    ))
    .bind(at)
    .bind(at - CATCH_UP)
    .fetch_all(pool)
    .await?)
}

/// Locks up to `limit` due tasks for the caller's transaction; other firers skip them.
pub async fn lock_due(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<DueTask>, StoreError> {
    let at = ist_wall_clock(now);
    Ok(sqlx::query_as(&format!(
        "SELECT id, integration_system_id, integration_task FROM goonj_adhoc_task
          WHERE {DUE_WHERE} ORDER BY trigger_date_time, id LIMIT $3 FOR UPDATE SKIP LOCKED"
    ))
    .bind(at)
    .bind(at - CATCH_UP)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?)
}

/// Fires a locked due task in the caller's transaction: enqueues the `regular` job of `module`
/// carrying it and records the job on the task, so it is never fired again. `None` when a live
/// job for the task already exists (it is recorded instead).
pub async fn fire(
    conn: &mut PgConnection,
    task: &DueTask,
    module: &ModuleName,
) -> Result<Option<JobId>, StoreError> {
    let job = ledger::enqueue_adhoc(conn, task.integration_system_id, module, task.id).await?;
    let recorded = match job {
        Some(job) => Some(job.0),
        None => {
            sqlx::query_scalar(
                "SELECT id FROM int_job WHERE adhoc_task_id = $1
                  AND state IN ('scheduled','queued','running') ORDER BY id DESC LIMIT 1",
            )
            .bind(task.id)
            .fetch_optional(&mut *conn)
            .await?
        }
    };
    sqlx::query(&format!(
        "UPDATE goonj_adhoc_task SET job_id = $2, last_modified_date_time = {NOW_IST} WHERE id = $1"
    ))
    .bind(task.id)
    .bind(recorded)
    .execute(&mut *conn)
    .await?;
    Ok(job)
}

/// Gives a fired task its final status. Only a `CREATED` task changes: a final status stays.
/// `false` when nothing changed.
pub async fn mark(pool: &PgPool, id: i32, status: TaskStatus) -> Result<bool, StoreError> {
    let mut conn = pool.acquire().await?;
    mark_in(&mut conn, id, status).await
}

/// [`mark`] in the caller's transaction.
pub async fn mark_in(
    conn: &mut PgConnection,
    id: i32,
    status: TaskStatus,
) -> Result<bool, StoreError> {
    let updated = sqlx::query(&format!(
        "UPDATE goonj_adhoc_task SET status = $2, last_modified_date_time = {NOW_IST}
          WHERE id = $1 AND status = 'CREATED'"
    ))
    .bind(id)
    .bind(status.as_str())
    .execute(&mut *conn)
    .await?;
    Ok(updated.rows_affected() > 0)
}

/// Marks `ERROR` the fired tasks whose last job ended without giving them a status (it failed
/// before its steps ran, or was given up on as dead). Returns how many.
pub async fn settle_abandoned(pool: &PgPool) -> Result<u64, StoreError> {
    let updated = sqlx::query(&format!(
        "UPDATE goonj_adhoc_task t SET status = 'ERROR', last_modified_date_time = {NOW_IST}
          WHERE t.status = 'CREATED' AND t.job_id IS NOT NULL
            AND NOT EXISTS (SELECT 1 FROM int_job j WHERE j.adhoc_task_id = t.id
                              AND j.state IN ('scheduled','queued','running','succeeded'))"
    ))
    .execute(pool)
    .await?;
    Ok(updated.rows_affected())
}
