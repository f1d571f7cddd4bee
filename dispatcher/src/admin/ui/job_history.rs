//! The Jobs tab's history: the tenant's jobs, newest first, one page at a time, with what each
//! did (records synced and failed) and why a failed one failed.

use super::failure::UiError;
use super::jobs::kind_label;
use super::layout::empty;
use super::pager;
use crate::admin::extract::QueryParams;
use crate::admin::paging::Page;
use crate::admin::AdminState;
use avni_int_shared::{IntegrationSystemId, JobKind};
use chrono::{DateTime, Utc};
use maud::{html, Markup};

#[derive(sqlx::FromRow)]
struct JobLine {
    id: i64,
    module: String,
    kind: String,
    trigger: String,
    state: String,
    attempt: i32,
    scheduled_at: DateTime<Utc>,
    started_at: Option<DateTime<Utc>>,
    finished_at: Option<DateTime<Utc>>,
    records_synced: i64,
    records_failed: i64,
    last_error: Option<String>,
}

/// One page of the tenant's jobs, newest first. (The JSON API's history query is private to
/// its module; this is the UI's own small read of the same ledger.)
async fn history(
    state: &AdminState,
    tenant: IntegrationSystemId,
    query: &QueryParams,
) -> Result<Page<JobLine>, UiError> {
    let request = pager::request(query);
    let pool = state.store.pool();
    let total: i64 =
        sqlx::query_scalar("SELECT count(*) FROM int_job WHERE integration_system_id = $1")
            .bind(tenant)
            .fetch_one(pool)
            .await?;
    let rows: Vec<JobLine> = sqlx::query_as(
        "SELECT id, module, kind, trigger, state, attempt, scheduled_at, started_at, finished_at,
                records_synced, records_failed, last_error
           FROM int_job WHERE integration_system_id = $1
          ORDER BY id DESC LIMIT $2 OFFSET $3",
    )
    .bind(tenant)
    .bind(request.limit())
    .bind(request.offset())
    .fetch_all(pool)
    .await?;
    Ok(Page::new(rows, total, request))
}

fn state_tag(state: &str) -> Markup {
    let class = match state {
        "succeeded" => "tag good",
        "failed" | "dead" => "tag warn",
        _ => "tag",
    };
    html! { span class=(class) { (state) } }
}

fn took(job: &JobLine) -> String {
    match (job.started_at, job.finished_at) {
        (Some(start), Some(end)) => {
            let secs = (end - start).num_seconds().max(0);
            if secs < 120 {
                format!("{secs} s")
            } else {
                format!("{} min", secs / 60)
            }
        }
        (Some(_), None) => "running".to_owned(),
        _ => "not started".to_owned(),
    }
}

/// The history table with its pager (or what an empty history means).
pub async fn section(
    state: &AdminState,
    tenant: IntegrationSystemId,
    query: &QueryParams,
) -> Result<Markup, UiError> {
    let jobs = history(state, tenant, query).await?;
    if jobs.content.is_empty() && jobs.request.page == 0 {
        return Ok(empty(
            "No job has run for this integration system yet.",
            html! { "Jobs start on their schedule, or now with the buttons above." },
        ));
    }
    Ok(html! {
        table #jobs {
            thead { tr {
                th { "Job" } th { "Module" } th { "What" } th { "Started by" } th { "Scheduled" }
                th { "State" } th { "Took" } th { "Records" }
            } }
            tbody {
                @for job in &jobs.content {
                    tr {
                        td { (job.id) }
                        td { (job.module) }
                        td { (job.kind.parse::<JobKind>().map(kind_label).unwrap_or(job.kind.as_str())) }
                        td { (job.trigger) }
                        td { (job.scheduled_at.format("%Y-%m-%d %H:%M:%S")) }
                        td.msg {
                            (state_tag(&job.state))
                            @if job.attempt > 1 { " " span.muted { "attempt " (job.attempt) } }
                            @if let Some(error) = &job.last_error { div.muted { (error.chars().take(300).collect::<String>()) } }
                        }
                        td { (took(job)) }
                        td { (job.records_synced) " synced" @if job.records_failed > 0 { ", " strong { (job.records_failed) " failed" } } }
                    }
                }
            }
        }
        (pager::nav(&jobs, "/jobs", query))
    })
}
