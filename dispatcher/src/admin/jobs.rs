//! Jobs as ops steer them: history, run now, pause and resume, queue depth.

use super::error::ApiError;
use super::AdminState;
use avni_int_shared::store::ledger::{self, NewJob};
use avni_int_shared::{IntegrationSystemId, JobId, JobKind, JobTrigger, ModuleName};
use axum::Router;

pub fn routes() -> Router<AdminState> {
    Router::new()
}

/// The modules (from the dispatcher's catalog) that serve `tenant`'s system type.
pub async fn modules_of(
    state: &AdminState,
    tenant: IntegrationSystemId,
) -> Result<Vec<ModuleName>, ApiError> {
    let system_type: Option<String> =
        sqlx::query_scalar("SELECT system_type FROM integration_system WHERE id = $1")
            .bind(tenant)
            .fetch_optional(state.store.pool())
            .await?;
    let system_type = system_type.ok_or_else(|| ApiError::not_found("integration system"))?;
    Ok(state
        .catalog
        .iter()
        .filter(|spec| spec.system_type == system_type)
        .map(|spec| spec.module.clone())
        .collect())
}

/// What "run now" did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunNow {
    Enqueued(JobId),
    /// A job of this (tenant, module, kind) is already scheduled, queued or running.
    AlreadyLive,
}

/// Enqueues a manual job (the relay publishes it). The admin API never calls partners itself.
pub async fn run_now(
    state: &AdminState,
    tenant: IntegrationSystemId,
    module: ModuleName,
    kind: JobKind,
) -> Result<RunNow, ApiError> {
    let mut tx = state.store.pool().begin().await?;
    let id = ledger::enqueue(
        &mut tx,
        &NewJob {
            integration_system_id: tenant,
            module,
            kind,
            trigger: JobTrigger::Manual,
            parent: None,
            resume_step: None,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(id.map_or(RunNow::AlreadyLive, RunNow::Enqueued))
}
