//! Jobs as ops steer them: history and run now; the tenant's modules and their pauses are in
//! `modules`, queue depths in `queues`.

pub mod modules;

use super::error::{check_len, ApiError};
use super::extract::{JsonBody, QueryParams};
use super::paging::{Page, PageRequest};
use super::session::CurrentUser;
use super::AdminState;
use avni_int_shared::store::ledger::{self, NewJob};
use avni_int_shared::{IntegrationSystemId, JobId, JobKind, JobState, JobTrigger, ModuleName};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

pub fn routes() -> Router<AdminState> {
    Router::new()
        .route("/jobs", get(list))
        .route("/jobs/run", post(run))
        .route("/jobs/{id}", get(one))
        .merge(modules::routes())
        .merge(super::queues::routes())
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

/// A ledger row as the admin app shows it.
#[derive(Debug, Serialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct JobJson {
    pub id: i64,
    pub module: String,
    pub kind: String,
    pub trigger: String,
    pub state: String,
    pub attempt: i32,
    pub parent_job_id: Option<i64>,
    pub scheduled_at: DateTime<Utc>,
    pub queued_at: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub duration_ms: Option<i64>,
    pub records_synced: i64,
    pub records_failed: i64,
    pub last_error: Option<String>,
    pub lease_owner: Option<String>,
}

const JOB_SELECT: &str = "SELECT id, module, kind, trigger, state, attempt, parent_job_id,
        scheduled_at, queued_at, started_at, finished_at,
        (extract(epoch FROM finished_at - started_at) * 1000)::bigint AS duration_ms,
        records_synced, records_failed, last_error, lease_owner
   FROM int_job";

const JOB_FILTER: &str = "integration_system_id = $1
    AND ($2::text IS NULL OR module = $2)
    AND ($3::text IS NULL OR kind = $3)
    AND ($4::text IS NULL OR state = $4)
    AND ($5::timestamptz IS NULL OR scheduled_at >= $5)
    AND ($6::timestamptz IS NULL OR scheduled_at < $6)";

const SORTABLE: &[(&str, &str)] = &[
    ("id", "id"),
    ("scheduledAt", "scheduled_at"),
    ("state", "state"),
];

/// The history filters, each checked against what exists (a typo is a 400, not an empty page).
struct JobFilter {
    module: Option<String>,
    kind: Option<JobKind>,
    state: Option<JobState>,
    from: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
}

impl JobFilter {
    async fn read(
        state: &AdminState,
        tenant: IntegrationSystemId,
        query: &QueryParams,
    ) -> Result<Self, ApiError> {
        let module = match query.get("module") {
            None => None,
            Some(text) => Some(known_module(state, tenant, text.trim()).await?),
        };
        let kind = query
            .get("kind")
            .map(|text| {
                text.trim()
                    .parse::<JobKind>()
                    .map_err(|_| ApiError::bad("kind", "must be regular or error"))
            })
            .transpose()?;
        let job_state = query
            .get("state")
            .map(|text| {
                text.trim().parse::<JobState>().map_err(|_| {
                    ApiError::bad(
                        "state",
                        "must be one of scheduled, queued, running, succeeded, failed, dead",
                    )
                })
            })
            .transpose()?;
        let from = date_param(query, "startDate")?.map(start_of_day);
        // The end date is inclusive: everything before the next midnight.
        let until = date_param(query, "endDate")?
            .and_then(|day| day.succ_opt())
            .map(start_of_day);
        Ok(JobFilter {
            module,
            kind,
            state: job_state,
            from,
            until,
        })
    }
}

/// A module the tenant has: served by it now, or with jobs in its history.
async fn known_module(
    state: &AdminState,
    tenant: IntegrationSystemId,
    text: &str,
) -> Result<String, ApiError> {
    let unknown = || ApiError::bad("module", format!("unknown module {text:?}"));
    let module = ModuleName::new(text).map_err(|_| unknown())?;
    if modules_of(state, tenant).await?.contains(&module) {
        return Ok(module.as_str().to_owned());
    }
    let has_history: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM int_job WHERE integration_system_id = $1 AND module = $2)",
    )
    .bind(tenant)
    .bind(module.as_str())
    .fetch_one(state.store.pool())
    .await?;
    if has_history {
        Ok(module.as_str().to_owned())
    } else {
        Err(unknown())
    }
}

fn date_param(query: &QueryParams, name: &str) -> Result<Option<NaiveDate>, ApiError> {
    query.date(name)
}

fn start_of_day(day: NaiveDate) -> DateTime<Utc> {
    day.and_time(chrono::NaiveTime::MIN).and_utc()
}

async fn list(
    State(state): State<AdminState>,
    user: CurrentUser,
    query: QueryParams,
) -> Result<Json<Page<JobJson>>, ApiError> {
    let paging = PageRequest::from_query(&query)?;
    Ok(Json(list_jobs(&state, user.tenant, &query, paging).await?))
}

/// One page of the tenant's job history, filtered by `module`, `kind`, `state`, `startDate`,
/// `endDate` from `query` (each checked: a typo is a 400, not an empty page). The JSON API and
/// the web UI both read it here.
pub async fn list_jobs(
    state: &AdminState,
    tenant: IntegrationSystemId,
    query: &QueryParams,
    paging: PageRequest,
) -> Result<Page<JobJson>, ApiError> {
    let order = paging.order_by(SORTABLE, "scheduled_at DESC", "id DESC")?;
    let filter = JobFilter::read(state, tenant, query).await?;
    let kind = filter.kind.map(JobKind::as_str);
    let job_state = filter.state.map(JobState::as_str);
    let total: i64 =
        sqlx::query_scalar(&format!("SELECT count(*) FROM int_job WHERE {JOB_FILTER}"))
            .bind(tenant)
            .bind(filter.module.as_deref())
            .bind(kind)
            .bind(job_state)
            .bind(filter.from)
            .bind(filter.until)
            .fetch_one(state.store.pool())
            .await?;
    let rows: Vec<JobJson> = sqlx::query_as(&format!(
        "{JOB_SELECT} WHERE {JOB_FILTER} ORDER BY {order} LIMIT $7 OFFSET $8"
    ))
    .bind(tenant)
    .bind(filter.module.as_deref())
    .bind(kind)
    .bind(job_state)
    .bind(filter.from)
    .bind(filter.until)
    .bind(paging.limit())
    .bind(paging.offset())
    .fetch_all(state.store.pool())
    .await?;
    Ok(Page::new(rows, total, paging))
}

async fn one(
    State(state): State<AdminState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<Json<JobJson>, ApiError> {
    let Ok(id) = id.trim().parse::<i64>() else {
        return Err(ApiError::not_found("job"));
    };
    let row: Option<JobJson> = sqlx::query_as(&format!(
        "{JOB_SELECT} WHERE id = $1 AND integration_system_id = $2"
    ))
    .bind(id)
    .bind(user.tenant)
    .fetch_optional(state.store.pool())
    .await?;
    row.map(Json).ok_or_else(|| ApiError::not_found("job"))
}

#[derive(Deserialize)]
struct RunBody {
    module: String,
    kind: Option<String>,
}

async fn run(
    State(state): State<AdminState>,
    user: CurrentUser,
    JsonBody(body): JsonBody<RunBody>,
) -> Result<Response, ApiError> {
    check_len("module", &body.module, 100)?;
    let module = ModuleName::new(body.module.trim()).ok();
    let served = modules_of(&state, user.tenant).await?;
    let Some(module) = module.filter(|m| served.contains(m)) else {
        return Err(ApiError::bad(
            "module",
            format!(
                "{:?} is not a module of this integration system (its modules: {})",
                body.module,
                served
                    .iter()
                    .map(ModuleName::as_str)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    };
    let kind = match body.kind.as_deref().map(str::trim) {
        None | Some("") => JobKind::Regular,
        Some(text) => text
            .parse::<JobKind>()
            .map_err(|_| ApiError::bad("kind", "must be regular or error"))?,
    };
    match run_now(&state, user.tenant, module.clone(), kind).await? {
        RunNow::Enqueued(id) => {
            tracing::info!(tenant = %user.tenant, %module, %kind, job_id = %id, by = %user.email, "run now");
            Ok((StatusCode::ACCEPTED, Json(json!({ "job": id }))).into_response())
        }
        RunNow::AlreadyLive => {
            let live: Option<i64> = sqlx::query_scalar(
                "SELECT id FROM int_job WHERE integration_system_id = $1 AND module = $2 AND kind = $3
                    AND state IN ('scheduled','queued','running')",
            )
            .bind(user.tenant)
            .bind(module.as_str())
            .bind(kind.as_str())
            .fetch_optional(state.store.pool())
            .await?;
            Ok((
                StatusCode::CONFLICT,
                Json(json!({
                    "error": format!("a {kind} job of {module} is already scheduled/queued/running"),
                    "job": live,
                })),
            )
                .into_response())
        }
    }
}
