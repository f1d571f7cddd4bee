//! The Errors tab: the tenant's classified errors, newest first, filtered by error type, entity
//! and date, each with its error type's required action in plain sight; "Retry now" and
//! "Ignore" per error.

use super::context::Ctx;
use super::csrf::CsrfForm;
use super::failure::UiError;
use super::flash::{back_to, redirect, Flash};
use super::layout::{empty, page, post_button, Tab};
use super::pager;
use crate::admin::error::ApiError;
use crate::admin::error_log::{
    list_logs, retry_record, set_processing_disabled, ErrorLogJson, LogFilter, RetryOutcome,
};
use crate::admin::error_type::{all_error_types, ErrorTypeJson};
use crate::admin::extract::{path_id, QueryParams};
use crate::admin::AdminState;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use maud::{html, Markup};
use serde::Deserialize;

pub fn routes() -> Router<AdminState> {
    Router::new()
        .route("/errors", get(list))
        .route("/errors/{id}/retry", post(retry))
        .route("/errors/{id}/ignore", post(ignore))
        .route("/errors/{id}/unignore", post(unignore))
}

/// Characters of a message shown before "more".
const SHORT_MESSAGE: usize = 240;
/// Characters of a payload shown at most.
const SHOWN_PAYLOAD: usize = 4000;

fn short(text: &str, max: usize) -> String {
    if text.chars().count() > max {
        format!("{}…", text.chars().take(max).collect::<String>())
    } else {
        text.to_owned()
    }
}

/// The page's own URL, so a form can send the user back to the same filters and page.
fn here(query: &QueryParams) -> String {
    let encoded = serde_urlencoded::to_string(&query.0).unwrap_or_default();
    if encoded.is_empty() {
        "/errors".to_owned()
    } else {
        format!("/errors?{encoded}")
    }
}

async fn list(
    State(state): State<AdminState>,
    mut ctx: Ctx,
    query: QueryParams,
) -> Result<Markup, UiError> {
    let pool = state.store.pool();
    let filter = match LogFilter::from_query(&query) {
        Ok(filter) => filter,
        Err(ApiError::BadRequest { field, message }) => {
            ctx.flash = Some(Flash::error(format!(
                "The filter was not applied: {field} {message}."
            )));
            LogFilter::default()
        }
        Err(other) => return Err(other.into()),
    };
    let request = pager::request(&query);
    let logs = list_logs(pool, ctx.user.tenant, &filter, &request).await?;
    let types = all_error_types(pool, ctx.user.tenant).await?;
    let filtered = filter != LogFilter::default();
    let back = here(&query);
    let body = html! {
        (filters(&filter, &types))
        @if logs.content.is_empty() && request.page == 0 {
            @if filtered {
                (empty("No errors match these filters.", html! {
                    "Widen the dates or " a href="/errors" { "clear the filters" } " to see every error."
                }))
            } @else {
                (empty("No errors. Every record synced.", html! {
                    "When a record cannot be synced it shows up here with what to do about it."
                }))
            }
        } @else {
            table #errors {
                thead { tr {
                    th { "When" } th { "Record" } th { "Error" } th { "What to do" } th { "Status" } th { "" }
                } }
                tbody {
                    @for log in &logs.content { (row(&ctx, log, &back)) }
                }
            }
            (pager::nav(&logs, Tab::Errors.path(), &query))
        }
    };
    Ok(page(&ctx, Tab::Errors, "Errors", body))
}

fn filters(filter: &LogFilter, types: &[ErrorTypeJson]) -> Markup {
    let date = |d: Option<chrono::NaiveDate>| d.map(|d| d.format("%Y-%m-%d").to_string());
    html! {
        form.filters.panel method="get" action="/errors" {
            label { "Error type"
                select name="errorType" {
                    option value="" { "All error types" }
                    @for t in types {
                        option value=(t.id) selected[filter.error_type == Some(t.id)] {
                            (t.name.as_deref().unwrap_or("(no name)"))
                        }
                    }
                }
            }
            label { "Record (entity id contains)"
                input type="search" name="entityId" value=[filter.entity_id.as_deref()] placeholder="e.g. a0B0000";
            }
            label { "From" input type="date" name="startDate" value=[date(filter.start_date)]; }
            label { "To" input type="date" name="endDate" value=[date(filter.end_date)]; }
            button type="submit" { "Show" }
            a.button.secondary href="/errors" { "Clear" }
        }
    }
}

fn row(ctx: &Ctx, log: &ErrorLogJson, back: &str) -> Markup {
    let message = log.error_msg.as_deref().unwrap_or("");
    let entity_type = log
        .avni_entity_type
        .as_deref()
        .or(log.integrating_entity_type.as_deref())
        .unwrap_or("Record");
    let payload = log
        .error_body
        .as_ref()
        .filter(|b| !b.is_null())
        .map(|b| serde_json::to_string_pretty(b).unwrap_or_default());
    html! {
        tr id=(format!("log-{}", log.id)) data-entity=(log.entity_id) {
            td { (log.logged_at.format("%Y-%m-%d %H:%M")) }
            td { div.muted { (entity_type) } code { (log.entity_id) } }
            td.msg {
                strong { (log.error_type_name.as_deref().unwrap_or("Unknown type")) }
                div { (short(message, SHORT_MESSAGE)) }
                @if message.chars().count() > SHORT_MESSAGE || payload.is_some() {
                    details {
                        summary.muted { "Full message and data" }
                        pre { (message) }
                        @if let Some(payload) = &payload { pre { (short(payload, SHOWN_PAYLOAD)) } }
                    }
                }
            }
            td {
                @match log.required_action.as_deref().filter(|a| !a.trim().is_empty()) {
                    Some(action) => div.action.required-action { (action) },
                    None => div.action.none {
                        "No action written for this error type yet. "
                        a href="/error-types" { "Add one" }
                    },
                }
            }
            td { (status(log)) }
            td {
                div.actions {
                    (post_button(ctx, &format!("/errors/{}/retry", log.id), "Retry now", "retry", None, &[("back", back)]))
                    @if log.processing_disabled {
                        (post_button(ctx, &format!("/errors/{}/unignore", log.id), "Stop ignoring", "secondary", None, &[("back", back)]))
                    } @else {
                        (post_button(ctx, &format!("/errors/{}/ignore", log.id), "Ignore", "danger",
                            Some("Ignore this error? The error job will stop retrying this record until you press Retry now."),
                            &[("back", back)]))
                    }
                }
            }
        }
    }
}

fn status(log: &ErrorLogJson) -> Markup {
    html! {
        @if log.processing_disabled {
            span.tag { "Ignored" }
            div.muted { "Not retried until you press Retry now." }
        } @else if let Some(gave_up) = log.gave_up_at {
            span.tag.warn { "Gave up" }
            div.muted { "after " (log.retry_count) " tries, " (gave_up.format("%Y-%m-%d %H:%M")) }
        } @else if let Some(next) = log.next_retry_at {
            span.tag { "Will retry" }
            div.muted { "next try after " (next.format("%Y-%m-%d %H:%M")) " UTC" }
        } @else {
            span.tag { "Waiting for the error job" }
        }
    }
}

#[derive(Deserialize)]
struct BackForm {
    back: Option<String>,
}

fn retried_message(outcome: &RetryOutcome) -> Flash {
    if outcome.retried == 0 {
        Flash::error("Nothing was retried: the record may already have synced. Reload to check.")
    } else if let Some(job) = outcome.job {
        Flash::success(format!(
            "Retry started (error job {job}). The error disappears from this list once the record syncs; reload in a minute."
        ))
    } else if outcome.already_running {
        Flash::success(
            "The error job is already running and will retry this record. Reload in a minute.",
        )
    } else {
        Flash::error("Marked for retry, but no module serves this integration system, so no error job was started.")
    }
}

async fn retry(
    State(state): State<AdminState>,
    ctx: Ctx,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<BackForm>,
) -> Result<Response, UiError> {
    let back = back_to(form.back.as_deref(), "/errors");
    let id = path_id(&id, "error")?;
    let flash = match retry_record(&state, ctx.user.tenant, id).await {
        Ok(outcome) => retried_message(&outcome),
        Err(ApiError::Conflict(why)) => Flash::error(format!("Not retried: {why}.")),
        Err(ApiError::NotFound(_)) => {
            Flash::error("That error is gone: the record may have synced already.")
        }
        Err(other) => return Err(other.into()),
    };
    Ok(redirect(&back, flash))
}

async fn set_ignored(
    state: &AdminState,
    ctx: &Ctx,
    id: i32,
    ignored: bool,
    back: Option<&str>,
) -> Result<Response, UiError> {
    let back = back_to(back, "/errors");
    let flash =
        match set_processing_disabled(state.store.pool(), ctx.user.tenant, id, ignored).await {
            Ok(log) if ignored => Flash::success(format!(
                "Ignoring the error of {}: the error job will not retry it.",
                log.entity_id
            )),
            Ok(log) => Flash::success(format!(
                "No longer ignoring {}: the error job will retry it.",
                log.entity_id
            )),
            Err(ApiError::NotFound(_)) => {
                Flash::error("That error is gone: the record may have synced already.")
            }
            Err(other) => return Err(other.into()),
        };
    Ok(redirect(&back, flash))
}

async fn ignore(
    State(state): State<AdminState>,
    ctx: Ctx,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<BackForm>,
) -> Result<Response, UiError> {
    set_ignored(
        &state,
        &ctx,
        path_id(&id, "error")?,
        true,
        form.back.as_deref(),
    )
    .await
}

async fn unignore(
    State(state): State<AdminState>,
    ctx: Ctx,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<BackForm>,
) -> Result<Response, UiError> {
    set_ignored(
        &state,
        &ctx,
        path_id(&id, "error")?,
        false,
        form.back.as_deref(),
    )
    .await
}
