//! The tenant's modules as ops see them: crons as the scheduler reads them, the pause, and
//! the schedule's ticks; pausing and resuming a module's schedules (run now still works).

use super::modules_of;
use crate::admin::error::ApiError;
use crate::admin::session::CurrentUser;
use crate::admin::AdminState;
use crate::catalog::CronSource;
use avni_int_shared::store::{pauses, schedule_state, tenants};
use avni_int_shared::{IntegrationSystemId, JobKind, ModuleName};
use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Serialize;

pub fn routes() -> Router<AdminState> {
    Router::new()
        .route("/modules", get(modules))
        .route("/modules/{module}/pause", post(pause))
        .route("/modules/{module}/resume", post(resume))
}

/// A module of the tenant: its crons as the scheduler reads them, its pause, and its ticks.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ModuleJson {
    pub module: String,
    pub paused: bool,
    pub paused_at: Option<DateTime<Utc>>,
    pub paused_by: Option<String>,
    pub regular_cron: Option<String>,
    pub error_cron: Option<String>,
    /// The last tick handled (fired, or skipped as overlapping or paused).
    pub regular_last_fired_at: Option<DateTime<Utc>>,
    pub error_last_fired_at: Option<DateTime<Utc>>,
    pub regular_skipped_count: i64,
    pub error_skipped_count: i64,
    pub regular_last_skipped_at: Option<DateTime<Utc>>,
    pub error_last_skipped_at: Option<DateTime<Utc>>,
    /// Why ticks are being skipped now: `paused` while paused.
    pub skip_reason: Option<&'static str>,
}

async fn module_state(
    state: &AdminState,
    tenant: IntegrationSystemId,
    module: &ModuleName,
    config: &Option<tenants::Tenant>,
) -> Result<ModuleJson, ApiError> {
    let (regular_cron, error_cron) = match state
        .catalog
        .iter()
        .find(|spec| spec.module == *module)
        .map(|spec| &spec.crons)
    {
        Some(CronSource::Env { main, error }) => (main.clone(), error.clone()),
        Some(CronSource::TenantConfig) => {
            let read = |key: &str| {
                config
                    .as_ref()
                    .and_then(|t| t.config(key))
                    .map(str::to_owned)
            };
            (read(tenants::MAIN_CRON_KEY), read(tenants::ERROR_CRON_KEY))
        }
        None => (None, None),
    };
    let pool = state.store.pool();
    let pause = pauses::get(pool, tenant, module).await?;
    let regular = schedule_state::get(pool, tenant, module, JobKind::Regular)
        .await?
        .unwrap_or_default();
    let error = schedule_state::get(pool, tenant, module, JobKind::Error)
        .await?
        .unwrap_or_default();
    Ok(ModuleJson {
        module: module.as_str().to_owned(),
        paused: pause.is_some(),
        paused_at: pause.as_ref().map(|p| p.paused_at),
        paused_by: pause.as_ref().and_then(|p| p.paused_by.clone()),
        skip_reason: pause.as_ref().map(|_| "paused"),
        regular_cron,
        error_cron,
        regular_last_fired_at: regular.last_fired_at,
        error_last_fired_at: error.last_fired_at,
        regular_skipped_count: regular.skipped_count,
        error_skipped_count: error.skipped_count,
        regular_last_skipped_at: regular.last_skipped_at,
        error_last_skipped_at: error.last_skipped_at,
    })
}

async fn modules(
    State(state): State<AdminState>,
    user: CurrentUser,
) -> Result<Json<Vec<ModuleJson>>, ApiError> {
    let config = tenants::load(state.store.pool(), user.tenant).await?;
    let mut out = Vec::new();
    for module in modules_of(&state, user.tenant).await? {
        out.push(module_state(&state, user.tenant, &module, &config).await?);
    }
    Ok(Json(out))
}

/// The tenant's module named in the path; another tenant's (or an unknown) module is a 404.
async fn tenant_module(
    state: &AdminState,
    tenant: IntegrationSystemId,
    text: &str,
) -> Result<ModuleName, ApiError> {
    let served = modules_of(state, tenant).await?;
    ModuleName::new(text)
        .ok()
        .filter(|m| served.contains(m))
        .ok_or_else(|| ApiError::not_found(format!("module {text:?}")))
}

async fn pause(
    State(state): State<AdminState>,
    user: CurrentUser,
    Path(module): Path<String>,
) -> Result<Json<ModuleJson>, ApiError> {
    let module = tenant_module(&state, user.tenant, &module).await?;
    pauses::pause(state.store.pool(), user.tenant, &module, Some(&user.email)).await?;
    tracing::info!(tenant = %user.tenant, %module, by = %user.email, "module paused");
    let config = tenants::load(state.store.pool(), user.tenant).await?;
    Ok(Json(
        module_state(&state, user.tenant, &module, &config).await?,
    ))
}

async fn resume(
    State(state): State<AdminState>,
    user: CurrentUser,
    Path(module): Path<String>,
) -> Result<Json<ModuleJson>, ApiError> {
    let module = tenant_module(&state, user.tenant, &module).await?;
    if pauses::resume(state.store.pool(), user.tenant, &module).await? {
        tracing::info!(tenant = %user.tenant, %module, by = %user.email, "module resumed");
    }
    let config = tenants::load(state.store.pool(), user.tenant).await?;
    Ok(Json(
        module_state(&state, user.tenant, &module, &config).await?,
    ))
}
