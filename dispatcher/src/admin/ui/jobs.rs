//! The Jobs tab: per module, whether its schedule is paused, how many jobs wait in its queues,
//! and "run now"; below, the job history (paged, newest first).

use super::context::Ctx;
use super::csrf::CsrfForm;
use super::failure::UiError;
use super::flash::{redirect, Flash};
use super::job_history;
use super::layout::{empty, page, post_button, Tab};
use crate::admin::error::ApiError;
use crate::admin::extract::QueryParams;
use crate::admin::jobs::{modules_of, run_now, RunNow};
use crate::admin::AdminState;
use avni_int_shared::broker::depth;
use avni_int_shared::store::pauses;
use avni_int_shared::{IntegrationSystemId, JobKind, ModuleName};
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use maud::{html, Markup};
use serde::Deserialize;
use std::collections::HashMap;
use std::time::Duration;

pub fn routes() -> Router<AdminState> {
    Router::new()
        .route("/jobs", get(show))
        .route("/jobs/{module}/run/{kind}", post(run))
        .route("/jobs/{module}/pause", post(pause))
        .route("/jobs/{module}/resume", post(resume))
}

/// How long the page waits for RabbitMQ before showing the rest without queue depths.
const BROKER_TIMEOUT: Duration = Duration::from_secs(3);

/// Ready messages per queue name, or why they are unknown.
async fn queue_depths(
    state: &AdminState,
    modules: &[ModuleName],
) -> Result<HashMap<String, Option<u32>>, String> {
    let names: Vec<String> = modules
        .iter()
        .flat_map(|m| JobKind::ALL.iter().map(|k| state.topology.queue(m, *k)))
        .collect();
    if names.is_empty() {
        return Ok(HashMap::new());
    }
    match depth::read_once(&state.amqp_url, "avni-int-admin-ui", &names, BROKER_TIMEOUT).await {
        Ok(depths) => Ok(depths.into_iter().map(|d| (d.queue, d.messages)).collect()),
        Err(error) => {
            tracing::warn!(%error, "queue depths unavailable for the UI");
            Err(format!(
                "RabbitMQ did not answer ({error}); queue depths are not shown."
            ))
        }
    }
}

async fn show(
    State(state): State<AdminState>,
    ctx: Ctx,
    query: QueryParams,
) -> Result<Markup, UiError> {
    let tenant = ctx.user.tenant;
    let modules = modules_of(&state, tenant).await?;
    let paused: HashMap<String, pauses::Pause> = pauses::of_tenant(state.store.pool(), tenant)
        .await?
        .into_iter()
        .map(|p| (p.module.clone(), p))
        .collect();
    let depths = queue_depths(&state, &modules).await;
    let history = job_history::section(&state, tenant, &query).await?;
    let body = html! {
        h2 { "Modules" }
        @if modules.is_empty() {
            (empty("No module serves this integration system.", html! {
                "Jobs run only for system types a module of this dispatcher serves; ask the integration team."
            }))
        } @else {
            @if let Err(why) = &depths { div.flash.err { (why) } }
            table #modules {
                thead { tr { th { "Module" } th { "Schedule" } th { "Waiting in queue" } th { "Run now" } th { "" } } }
                tbody {
                    @for m in &modules {
                        (module_row(&ctx, &state, m, paused.get(m.as_str()), depths.as_ref().ok()))
                    }
                }
            }
        }
        h2 { "History" }
        (history)
    };
    Ok(page(&ctx, Tab::Jobs, "Jobs", body))
}

fn module_row(
    ctx: &Ctx,
    state: &AdminState,
    module: &ModuleName,
    pause: Option<&pauses::Pause>,
    depths: Option<&HashMap<String, Option<u32>>>,
) -> Markup {
    let name = module.as_str();
    html! {
        tr id=(format!("module-{name}")) {
            td { strong { (name) } }
            td {
                @if let Some(p) = pause {
                    span.tag.warn { "Paused" }
                    div.muted {
                        "since " (p.paused_at.format("%Y-%m-%d %H:%M")) " UTC"
                        @if let Some(by) = &p.paused_by { " by " (by) }
                    }
                } @else {
                    span.tag.good { "Running on schedule" }
                }
            }
            td {
                @for kind in JobKind::ALL {
                    div {
                        (kind_label(*kind)) ": "
                        @match depths.and_then(|d| d.get(&state.topology.queue(module, *kind))) {
                            Some(Some(n)) => strong { (n) },
                            Some(None) => span.muted { "no queue yet" },
                            None => span.muted { "unknown" },
                        }
                    }
                }
            }
            td { div.actions {
                (post_button(ctx, &format!("/jobs/{name}/run/regular"), "Sync now", "secondary", None, &[]))
                (post_button(ctx, &format!("/jobs/{name}/run/error"), "Retry errors now", "secondary", None, &[]))
            } }
            td {
                @if pause.is_some() {
                    (post_button(ctx, &format!("/jobs/{name}/resume"), "Resume schedule", "", None, &[]))
                } @else {
                    (post_button(ctx, &format!("/jobs/{name}/pause"), "Pause schedule", "danger",
                        Some(&format!("Pause {name}'s scheduled jobs? Nothing syncs on schedule until you resume it (Sync now still works).")), &[]))
                }
            }
        }
    }
}

pub fn kind_label(kind: JobKind) -> &'static str {
    match kind {
        JobKind::Regular => "Sync",
        JobKind::Error => "Error retry",
    }
}

/// The tenant's module named in the path; any other is not found.
async fn served_module(
    state: &AdminState,
    tenant: IntegrationSystemId,
    text: &str,
) -> Result<ModuleName, UiError> {
    let served = modules_of(state, tenant).await?;
    ModuleName::new(text)
        .ok()
        .filter(|m| served.contains(m))
        .ok_or_else(|| ApiError::not_found(format!("Module {text:?}")).into())
}

#[derive(Deserialize)]
struct Empty {}

async fn run(
    State(state): State<AdminState>,
    ctx: Ctx,
    Path((module, kind)): Path<(String, String)>,
    CsrfForm(_): CsrfForm<Empty>,
) -> Result<Response, UiError> {
    let module = served_module(&state, ctx.user.tenant, &module).await?;
    let kind: JobKind = kind
        .parse()
        .map_err(|_| ApiError::not_found(format!("Job kind {kind:?}")))?;
    let what = format!("{} job of {module}", kind_label(kind).to_lowercase());
    let flash = match run_now(&state, ctx.user.tenant, module, kind).await? {
        RunNow::Enqueued(id) => Flash::success(format!(
            "Started the {what} (job {id}). It appears in the history below."
        )),
        RunNow::AlreadyLive => Flash::success(format!(
            "A {what} is already waiting or running; no second one was started."
        )),
    };
    Ok(redirect("/jobs", flash))
}

async fn pause(
    State(state): State<AdminState>,
    ctx: Ctx,
    Path(module): Path<String>,
    CsrfForm(_): CsrfForm<Empty>,
) -> Result<Response, UiError> {
    let module = served_module(&state, ctx.user.tenant, &module).await?;
    pauses::pause(
        state.store.pool(),
        ctx.user.tenant,
        &module,
        Some(&ctx.user.email),
    )
    .await?;
    tracing::info!(tenant = %ctx.user.tenant, %module, by = %ctx.user.email, "module paused from the UI");
    Ok(redirect(
        "/jobs",
        Flash::success(format!(
            "Paused {module}: no scheduled jobs until you resume it."
        )),
    ))
}

async fn resume(
    State(state): State<AdminState>,
    ctx: Ctx,
    Path(module): Path<String>,
    CsrfForm(_): CsrfForm<Empty>,
) -> Result<Response, UiError> {
    let module = served_module(&state, ctx.user.tenant, &module).await?;
    if pauses::resume(state.store.pool(), ctx.user.tenant, &module).await? {
        tracing::info!(tenant = %ctx.user.tenant, %module, by = %ctx.user.email, "module resumed from the UI");
    }
    Ok(redirect(
        "/jobs",
        Flash::success(format!("Resumed {module}: it runs on its schedule again.")),
    ))
}
