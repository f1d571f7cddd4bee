//! The outbox (`int_outbox`): messages committed with their job, waiting for the relay to
//! publish them with a broker confirm. A row is deleted only once the broker confirmed it.

use super::StoreError;
use crate::ids::JobId;
use sqlx::{PgConnection, Postgres, Transaction};

/// The channel the relay listens on; a trigger on `int_outbox` notifies it on every insert.
pub const NOTIFY_CHANNEL: &str = "avni_int_outbox";

/// The job message as SQL over an `int_job` row (`JobMessage`'s JSON, field for field).
pub(crate) const PAYLOAD_SQL: &str = "jsonb_strip_nulls(jsonb_build_object(
    'v', 1, 'job_id', id, 'integration_system_id', integration_system_id,
    'module', module, 'kind', kind, 'trigger', trigger,
    'attempt', attempt, 'resume_step', resume_step))";

/// Adds a message for each job, built from its ledger row (used when re-queueing).
pub async fn add_for_jobs(conn: &mut PgConnection, jobs: &[JobId]) -> Result<(), StoreError> {
    if jobs.is_empty() {
        return Ok(());
    }
    let ids: Vec<i64> = jobs.iter().map(|j| j.0).collect();
    sqlx::query(&format!(
        "INSERT INTO int_outbox (job_id, routing_key, payload)
         SELECT id, module || '.' || kind, {PAYLOAD_SQL} FROM int_job WHERE id = ANY($1) ORDER BY id"
    ))
    .bind(&ids)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// An outbox row the relay is publishing.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Pending {
    pub id: i64,
    pub job_id: i64,
    pub routing_key: String,
    pub payload: serde_json::Value,
}

/// Locks the oldest unpublished rows for this transaction; other relays skip them.
pub async fn lock_batch(
    tx: &mut Transaction<'_, Postgres>,
    limit: i64,
) -> Result<Vec<Pending>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT id, job_id, routing_key, payload FROM int_outbox
          ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED",
    )
    .bind(limit)
    .fetch_all(&mut **tx)
    .await?)
}

/// Deletes confirmed rows and moves their jobs from `scheduled` to `queued`.
pub async fn confirm(
    tx: &mut Transaction<'_, Postgres>,
    confirmed: &[Pending],
) -> Result<(), StoreError> {
    if confirmed.is_empty() {
        return Ok(());
    }
    let ids: Vec<i64> = confirmed.iter().map(|p| p.id).collect();
    let jobs: Vec<i64> = confirmed.iter().map(|p| p.job_id).collect();
    sqlx::query("DELETE FROM int_outbox WHERE id = ANY($1)")
        .bind(&ids)
        .execute(&mut **tx)
        .await?;
    sqlx::query(
        "UPDATE int_job SET state = 'queued', queued_at = now()
          WHERE id = ANY($1) AND state = 'scheduled'",
    )
    .bind(&jobs)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Keeps unconfirmed rows for the next pass and notes why they failed.
pub async fn record_failure(
    tx: &mut Transaction<'_, Postgres>,
    failed: &[Pending],
    error: &str,
) -> Result<(), StoreError> {
    if failed.is_empty() {
        return Ok(());
    }
    let ids: Vec<i64> = failed.iter().map(|p| p.id).collect();
    sqlx::query(
        "UPDATE int_outbox SET publish_attempts = publish_attempts + 1, last_error = $2
          WHERE id = ANY($1)",
    )
    .bind(&ids)
    .bind(error)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Rows waiting to be published (for `/readyz`, metrics and tests).
pub async fn backlog(pool: &sqlx::PgPool) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar("SELECT count(*) FROM int_outbox")
        .fetch_one(pool)
        .await?)
}
