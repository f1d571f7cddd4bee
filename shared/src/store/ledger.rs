//! The job ledger (`int_job`): creating jobs with their outbox message, claiming and leasing them,
//! recording outcomes, and returning abandoned ones to the queue.

use super::outbox;
use super::StoreError;
use crate::ids::{IntegrationSystemId, JobId, ModuleName, WorkerId};
use crate::job::{JobKind, JobState, JobTrigger};
use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool, Row};
use std::time::Duration;

/// A job to create.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub integration_system_id: IntegrationSystemId,
    pub module: ModuleName,
    pub kind: JobKind,
    pub trigger: JobTrigger,
    pub parent: Option<JobId>,
    pub resume_step: Option<String>,
}

/// Creates the job and its outbox message in the caller's transaction. Returns `None` when a
/// live job already exists for the same (tenant, module, kind): the partial unique index
/// `int_job_one_live` decides, so two dispatchers can never both create one.
pub async fn enqueue(conn: &mut PgConnection, job: &NewJob) -> Result<Option<JobId>, StoreError> {
    insert_job(conn, job, None).await
}

/// Creates the `regular` job that runs the Goonj ad-hoc task `task_id` (`goonj_adhoc_task.id`),
/// with its outbox message, in the caller's transaction. Ad-hoc jobs do not count against the
/// tenant's one live regular job; `None` when the task already has a live job.
pub async fn enqueue_adhoc(
    conn: &mut PgConnection,
    tenant: IntegrationSystemId,
    module: &ModuleName,
    task_id: i32,
) -> Result<Option<JobId>, StoreError> {
    let job = NewJob {
        integration_system_id: tenant,
        module: module.clone(),
        kind: JobKind::Regular,
        trigger: JobTrigger::Manual,
        parent: None,
        resume_step: None,
    };
    insert_job(conn, &job, Some(task_id)).await
}

async fn insert_job(
    conn: &mut PgConnection,
    job: &NewJob,
    adhoc_task_id: Option<i32>,
) -> Result<Option<JobId>, StoreError> {
    // Each kind of job has its own partial unique index (migration 0009).
    let conflict = if adhoc_task_id.is_some() {
        "(adhoc_task_id) WHERE state IN ('scheduled','queued','running') AND adhoc_task_id IS NOT NULL"
    } else {
        "(integration_system_id, module, kind)
               WHERE state IN ('scheduled','queued','running') AND adhoc_task_id IS NULL"
    };
    // One statement: the job row and its message, built from the row, so the two can never
    // disagree. The outbox trigger wakes the relay.
    let id: Option<i64> = sqlx::query_scalar(&format!(
        "WITH job AS (
             INSERT INTO int_job (integration_system_id, module, kind, trigger, state, parent_job_id, resume_step, adhoc_task_id)
             VALUES ($1, $2, $3, $4, 'scheduled', $5, $6, $7)
             ON CONFLICT {conflict} DO NOTHING
             RETURNING *),
         message AS (
             INSERT INTO int_outbox (job_id, routing_key, payload)
             SELECT id, module || '.' || kind, {} FROM job)
         SELECT id FROM job",
        outbox::PAYLOAD_SQL
    ))
    .bind(job.integration_system_id)
    .bind(job.module.as_str())
    .bind(job.kind.as_str())
    .bind(job.trigger.as_str())
    .bind(job.parent)
    .bind(job.resume_step.as_deref())
    .bind(adhoc_task_id)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(id.map(JobId))
}

/// A job a worker holds the lease on.
#[derive(Debug, Clone)]
pub struct ClaimedJob {
    pub id: JobId,
    pub integration_system_id: IntegrationSystemId,
    pub module: ModuleName,
    pub kind: JobKind,
    pub trigger: JobTrigger,
    /// This attempt's number, from 1.
    pub attempt: i32,
    pub scheduled_at: DateTime<Utc>,
    pub started_at: DateTime<Utc>,
    pub resume_step: Option<String>,
    /// The Goonj ad-hoc task (`goonj_adhoc_task.id`) this job runs instead of its module's
    /// regular steps.
    pub adhoc_task_id: Option<i32>,
}

/// Takes the lease on a job that is waiting, or whose previous holder's lease expired. `None`
/// means someone else holds it or it already finished: the message was a duplicate.
pub async fn claim(
    pool: &PgPool,
    job: JobId,
    owner: &WorkerId,
    lease: Duration,
) -> Result<Option<ClaimedJob>, StoreError> {
    let row = sqlx::query(
        "UPDATE int_job
            SET state = 'running', attempt = attempt + 1, lease_owner = $2,
                lease_expires_at = now() + make_interval(secs => $3),
                heartbeat_at = now(), started_at = now()
          WHERE id = $1
            AND (state IN ('scheduled','queued') OR (state = 'running' AND lease_expires_at < now()))
      RETURNING integration_system_id, module, kind, trigger, attempt, scheduled_at, started_at, resume_step,
                adhoc_task_id",
    )
    .bind(job)
    .bind(&owner.0)
    .bind(lease.as_secs_f64())
    .fetch_optional(pool)
    .await?;
    let Some(row) = row else { return Ok(None) };
    Ok(Some(ClaimedJob {
        id: job,
        integration_system_id: row.try_get("integration_system_id")?,
        module: parse_text(&row, "module")?,
        kind: parse_text(&row, "kind")?,
        trigger: parse_text(&row, "trigger")?,
        attempt: row.try_get("attempt")?,
        scheduled_at: row.try_get("scheduled_at")?,
        started_at: row.try_get("started_at")?,
        resume_step: row.try_get("resume_step")?,
        adhoc_task_id: row.try_get("adhoc_task_id")?,
    }))
}

fn parse_text<T>(row: &sqlx::postgres::PgRow, column: &str) -> Result<T, StoreError>
where
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    let text: String = row.try_get(column)?;
    text.parse()
        .map_err(|error: T::Err| StoreError::Corrupt(format!("int_job.{column}: {error}")))
}

/// Extends the lease. `false` means the lease is gone (expired and taken over, or the job was
/// finished elsewhere): the holder must stop and not record an outcome.
pub async fn heartbeat(
    pool: &PgPool,
    job: JobId,
    owner: &WorkerId,
    lease: Duration,
) -> Result<bool, StoreError> {
    let updated = sqlx::query(
        "UPDATE int_job SET lease_expires_at = now() + make_interval(secs => $3), heartbeat_at = now()
          WHERE id = $1 AND lease_owner = $2 AND state = 'running'",
    )
    .bind(job)
    .bind(&owner.0)
    .bind(lease.as_secs_f64())
    .execute(pool)
    .await?;
    Ok(updated.rows_affected() == 1)
}

/// How a job ended on its worker.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub failed: bool,
    pub records_synced: i64,
    pub records_failed: i64,
    pub last_error: Option<String>,
    /// `Some(step)` when the job ran out of time: a continuation starting at `step` is created
    /// in the same transaction.
    pub continue_at: Option<String>,
}

/// What `finish` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finished {
    /// The outcome is recorded; the continuation, if one was asked for, is enqueued.
    Recorded { continuation: Option<JobId> },
    /// Another worker took the job over after this lease expired: nothing was written.
    LeaseLost,
}

/// Records the outcome if `owner` still holds the lease, and creates the continuation if any,
/// in one transaction.
pub async fn finish(
    pool: &PgPool,
    job: &ClaimedJob,
    owner: &WorkerId,
    outcome: &Outcome,
) -> Result<Finished, StoreError> {
    let state = if outcome.failed {
        JobState::Failed
    } else {
        JobState::Succeeded
    };
    let continues = outcome.continue_at.is_some() && !outcome.failed;
    // Without a continuation the outcome is one statement; no transaction round trips.
    let mut tx = if continues {
        Some(pool.begin().await?)
    } else {
        None
    };
    let update = sqlx::query(
        "UPDATE int_job
            SET state = $3, finished_at = now(), lease_owner = NULL, lease_expires_at = NULL,
                records_synced = records_synced + $4, records_failed = records_failed + $5,
                last_error = $6
          WHERE id = $1 AND lease_owner = $2 AND state = 'running'",
    )
    .bind(job.id)
    .bind(&owner.0)
    .bind(state.as_str())
    .bind(outcome.records_synced)
    .bind(outcome.records_failed)
    .bind(outcome.last_error.as_deref());
    let updated = match tx.as_mut() {
        Some(tx) => update.execute(&mut **tx).await?,
        None => update.execute(pool).await?,
    };
    if updated.rows_affected() != 1 {
        return Ok(Finished::LeaseLost);
    }
    let (Some(mut tx), Some(step)) = (tx, outcome.continue_at.as_ref()) else {
        return Ok(Finished::Recorded { continuation: None });
    };
    let next = NewJob {
        integration_system_id: job.integration_system_id,
        module: job.module.clone(),
        kind: job.kind,
        trigger: JobTrigger::Continuation,
        parent: Some(job.id),
        resume_step: Some(step.clone()),
    };
    // A continuation keeps running the same ad-hoc task, if any.
    let continuation = insert_job(&mut tx, &next, job.adhoc_task_id).await?;
    tx.commit().await?;
    Ok(Finished::Recorded { continuation })
}

/// Gives a job back without an outcome (a worker shutting down with the job unfinished): it
/// returns to `queued` with a fresh outbox message. `false` when the lease was already lost.
pub async fn release(pool: &PgPool, job: JobId, owner: &WorkerId) -> Result<bool, StoreError> {
    let mut tx = pool.begin().await?;
    let row = sqlx::query(
        "UPDATE int_job
            SET state = 'queued', lease_owner = NULL, lease_expires_at = NULL, queued_at = now(),
                last_error = 'released by a worker shutting down'
          WHERE id = $1 AND lease_owner = $2 AND state = 'running'
      RETURNING id",
    )
    .bind(job)
    .bind(&owner.0)
    .fetch_optional(&mut *tx)
    .await?;
    if row.is_none() {
        return Ok(false);
    }
    outbox::add_for_jobs(&mut tx, &[job]).await?;
    tx.commit().await?;
    Ok(true)
}

/// What the rescuer did in one pass.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Rescued {
    /// Jobs whose lease expired, returned to the queue.
    pub requeued: Vec<JobId>,
    /// Jobs whose lease expired once too often: marked `dead`.
    pub dead: Vec<JobId>,
    /// Waiting jobs with no message in flight for too long, published again.
    pub republished: Vec<JobId>,
}

/// Returns jobs whose lease expired to the queue (or marks them `dead` after `max_attempts`),
/// and re-publishes waiting jobs whose message has been gone for `stale_after`. Safe to run
/// from several dispatchers at once (`SKIP LOCKED`).
pub async fn rescue(
    pool: &PgPool,
    max_attempts: i32,
    stale_after: Duration,
    limit: i64,
) -> Result<Rescued, StoreError> {
    let mut tx = pool.begin().await?;
    let expired = sqlx::query(
        "WITH expired AS (
             SELECT id FROM int_job
              WHERE state = 'running' AND lease_expires_at < now()
              ORDER BY lease_expires_at LIMIT $2 FOR UPDATE SKIP LOCKED)
         UPDATE int_job j
            SET state = CASE WHEN j.attempt >= $1 THEN 'dead' ELSE 'queued' END,
                finished_at = CASE WHEN j.attempt >= $1 THEN now() END,
                queued_at = now(),
                last_error = CASE WHEN j.attempt >= $1
                    THEN format('lease of %s expired on attempt %s of %s: given up', j.lease_owner, j.attempt, $1)
                    ELSE format('lease of %s expired on attempt %s: requeued', j.lease_owner, j.attempt) END,
                lease_owner = NULL, lease_expires_at = NULL
           FROM expired WHERE j.id = expired.id
      RETURNING j.id, j.state",
    )
    .bind(max_attempts)
    .bind(limit)
    .fetch_all(&mut *tx)
    .await?;
    let mut rescued = Rescued::default();
    for row in expired {
        let id = JobId(row.try_get("id")?);
        let state: String = row.try_get("state")?;
        if state == JobState::Dead.as_str() {
            rescued.dead.push(id);
        } else {
            rescued.requeued.push(id);
        }
    }
    let stale: Vec<i64> = sqlx::query_scalar(
        "WITH stale AS (
             SELECT j.id FROM int_job j
              WHERE j.state IN ('scheduled','queued')
                AND coalesce(j.queued_at, j.scheduled_at) < now() - make_interval(secs => $1)
                AND NOT EXISTS (SELECT 1 FROM int_outbox o WHERE o.job_id = j.id)
              LIMIT $2 FOR UPDATE SKIP LOCKED)
         UPDATE int_job j SET queued_at = now() FROM stale WHERE j.id = stale.id RETURNING j.id",
    )
    .bind(stale_after.as_secs_f64())
    .bind(limit)
    .fetch_all(&mut *tx)
    .await?;
    rescued.republished = stale.into_iter().map(JobId).collect();
    let to_publish: Vec<JobId> = rescued
        .requeued
        .iter()
        .chain(&rescued.republished)
        .copied()
        .collect();
    outbox::add_for_jobs(&mut tx, &to_publish).await?;
    tx.commit().await?;
    Ok(rescued)
}

/// A ledger row as ops and tests see it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct JobRow {
    pub id: i64,
    pub integration_system_id: i32,
    pub module: String,
    pub kind: String,
    pub trigger: String,
    pub state: String,
    pub attempt: i32,
    pub parent_job_id: Option<i64>,
    pub lease_owner: Option<String>,
    pub scheduled_at: DateTime<Utc>,
    pub queued_at: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub records_synced: i64,
    pub records_failed: i64,
    pub last_error: Option<String>,
    pub resume_step: Option<String>,
}

const JOB_COLUMNS: &str =
    "id, integration_system_id, module, kind, trigger, state, attempt, parent_job_id,
    lease_owner, scheduled_at, queued_at, started_at, finished_at, records_synced, records_failed,
    last_error, resume_step";

pub async fn get(pool: &PgPool, job: JobId) -> Result<Option<JobRow>, StoreError> {
    Ok(
        sqlx::query_as(&format!("SELECT {JOB_COLUMNS} FROM int_job WHERE id = $1"))
            .bind(job)
            .fetch_optional(pool)
            .await?,
    )
}

/// A tenant's jobs, newest first.
pub async fn list_for_tenant(
    pool: &PgPool,
    tenant: IntegrationSystemId,
    limit: i64,
) -> Result<Vec<JobRow>, StoreError> {
    Ok(sqlx::query_as(&format!(
        "SELECT {JOB_COLUMNS} FROM int_job WHERE integration_system_id = $1 ORDER BY id DESC LIMIT $2"
    ))
    .bind(tenant)
    .bind(limit)
    .fetch_all(pool)
    .await?)
}
