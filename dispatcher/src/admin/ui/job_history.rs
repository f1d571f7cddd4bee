//! The Jobs tab's history: the tenant's jobs, newest first, one page at a time, with what each
//! did (records synced and failed) and why a failed one failed.

use super::failure::UiError;
use super::jobs::kind_label;
use super::layout::empty;
use super::pager;
use crate::admin::extract::QueryParams;
use crate::admin::jobs::{list_jobs, JobJson};
use crate::admin::paging::Page;
use crate::admin::AdminState;
use avni_int_shared::{IntegrationSystemId, JobKind};
use maud::{html, Markup};

/// One page of the tenant's jobs, newest first (the JSON API's own history query).
async fn history(
    state: &AdminState,
    tenant: IntegrationSystemId,
    query: &QueryParams,
) -> Result<Page<JobJson>, UiError> {
    let request = pager::request(query);
    Ok(list_jobs(state, tenant, &QueryParams::default(), request).await?)
}

fn state_tag(state: &str) -> Markup {
    let class = match state {
        "succeeded" => "tag good",
        "failed" | "dead" => "tag warn",
        _ => "tag",
    };
    html! { span class=(class) { (state) } }
}

fn took(job: &JobJson) -> String {
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
