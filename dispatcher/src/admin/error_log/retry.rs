//! "Retry now": make error records due at once and enqueue the module's error job, instead of
//! waiting out the backoff (or a give-up) of `store::errors::retry_failed`. The job then finds
//! them through `store::errors::due_for_retry`, which needs `gave_up_at` null, `next_retry_at`
//! passed and a newest log of a type that is not Terminal.

use crate::admin::error::ApiError;
use crate::admin::jobs::{self, RunNow};
use crate::admin::AdminState;
use avni_int_shared::classify::FollowUpStep;
use avni_int_shared::{IntegrationSystemId, JobId, JobKind};
use serde::Serialize;

/// What a retry did: how many records were made due and the error job it enqueued (`None`
/// with `already_running` when one is live and will pick them up, or when no module serves
/// the tenant or nothing was made due).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RetryOutcome {
    pub retried: u64,
    pub job: Option<JobId>,
    pub already_running: bool,
}

/// Fields set on a record to make it due now, with a fresh attempt budget.
const MAKE_DUE: &str = "processing_disabled = false, gave_up_at = NULL, retry_count = 0,
                        next_retry_at = now()";

fn parse_follow_up(value: Option<String>) -> FollowUpStep {
    // As the error job reads it: an unreadable step is retried.
    value
        .and_then(|v| v.parse().ok())
        .unwrap_or(FollowUpStep::Process)
}

fn terminal(what: &str) -> ApiError {
    ApiError::Conflict(format!(
        "{what} is of a Terminal error type, which the error job never retries"
    ))
}

/// Retries the record of one log of the tenant. A Terminal newest log is refused (409): the
/// error job would not pick the record up.
pub async fn retry_record(
    state: &AdminState,
    tenant: IntegrationSystemId,
    log_id: i32,
) -> Result<RetryOutcome, ApiError> {
    let pool = state.store.pool();
    let found: Option<(i32, Option<String>)> = sqlx::query_as(
        "SELECT r.id, t.follow_up_step
           FROM error_record_log l
           JOIN error_record r ON r.id = l.error_record_id
           JOIN LATERAL (SELECT n.error_type_id FROM error_record_log n
                          WHERE n.error_record_id = r.id
                          ORDER BY n.logged_at DESC, n.id DESC LIMIT 1) last ON true
           LEFT JOIN error_type t ON t.id = last.error_type_id
          WHERE l.id = $1 AND r.integration_system_id = $2",
    )
    .bind(log_id)
    .bind(tenant)
    .fetch_optional(pool)
    .await?;
    let (record_id, follow_up) =
        found.ok_or_else(|| ApiError::not_found(format!("error record log {log_id}")))?;
    if !parse_follow_up(follow_up).is_retried() {
        return Err(terminal(&format!(
            "the newest error of log {log_id}'s record"
        )));
    }
    let retried = sqlx::query(&format!(
        "UPDATE error_record SET {MAKE_DUE} WHERE id = $1 AND integration_system_id = $2"
    ))
    .bind(record_id)
    .bind(tenant)
    .execute(pool)
    .await?
    .rows_affected();
    enqueue_error_jobs(state, tenant, retried).await
}

/// Retries every record of the tenant whose newest log is of `error_type_id`.
pub async fn retry_error_type(
    state: &AdminState,
    tenant: IntegrationSystemId,
    error_type_id: i32,
) -> Result<RetryOutcome, ApiError> {
    let pool = state.store.pool();
    let follow_up: Option<Option<String>> = sqlx::query_scalar(
        "SELECT follow_up_step FROM error_type WHERE id = $1 AND integration_system_id = $2",
    )
    .bind(error_type_id)
    .bind(tenant)
    .fetch_optional(pool)
    .await?;
    let follow_up =
        follow_up.ok_or_else(|| ApiError::not_found(format!("error type {error_type_id}")))?;
    if !parse_follow_up(follow_up).is_retried() {
        return Err(terminal(&format!("error type {error_type_id}")));
    }
    let retried = sqlx::query(&format!(
        "UPDATE error_record r SET {MAKE_DUE}
          WHERE r.integration_system_id = $1
            AND (SELECT n.error_type_id FROM error_record_log n
                  WHERE n.error_record_id = r.id
                  ORDER BY n.logged_at DESC, n.id DESC LIMIT 1) = $2"
    ))
    .bind(tenant)
    .bind(error_type_id)
    .execute(pool)
    .await?
    .rows_affected();
    enqueue_error_jobs(state, tenant, retried).await
}

/// The error job of each module serving the tenant, when anything was made due.
async fn enqueue_error_jobs(
    state: &AdminState,
    tenant: IntegrationSystemId,
    retried: u64,
) -> Result<RetryOutcome, ApiError> {
    let mut outcome = RetryOutcome {
        retried,
        job: None,
        already_running: false,
    };
    if retried == 0 {
        return Ok(outcome);
    }
    for module in jobs::modules_of(state, tenant).await? {
        match jobs::run_now(state, tenant, module, JobKind::Error).await? {
            RunNow::Enqueued(id) => {
                outcome.job.get_or_insert(id);
            }
            RunNow::AlreadyLive => outcome.already_running = true,
        }
    }
    Ok(outcome)
}
