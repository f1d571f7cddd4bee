//! The Error Types tab: how errors are recognised, whether the error job retries them, and the
//! required action ops see beside every error of the type. Retry-all and void per type.

use super::context::Ctx;
use super::csrf::CsrfForm;
use super::failure::UiError;
use super::flash::{redirect, Flash};
use super::layout::{empty, page, post_button, Tab};
use super::pager;
use crate::admin::error::ApiError;
use crate::admin::error_log::retry_error_type;
use crate::admin::error_type::{list_error_types, void_error_type, ErrorTypeJson};
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
        .route("/error-types", get(list))
        .route("/error-types/{id}/retry", post(retry))
        .route("/error-types/{id}/void", post(void))
}

/// What a follow-up step means, in ops' words.
pub fn follow_up_meaning(step: &str) -> &'static str {
    match step {
        "Process" => "Retried by the error job",
        "Terminal" => "Never retried",
        "Internal" => "Avni data or setup is wrong: someone must fix it in Avni",
        "External" => "The partner's data is wrong: the partner must fix it",
        _ => "Unknown follow-up step",
    }
}

/// How the rule matches an error message, in words.
pub fn rule(t: &ErrorTypeJson) -> String {
    let value = t.comparison_value.as_deref().unwrap_or("");
    match t.comparison_operator.as_deref() {
        Some("EQUALS") => format!("message is “{value}”"),
        Some("CONTAINS") => format!("message contains “{value}”"),
        Some("MATCHES") => format!("message matches /{value}/"),
        Some(other) => format!("{other} “{value}”"),
        None => "set by the integration (no message rule)".to_owned(),
    }
}

async fn list(
    State(state): State<AdminState>,
    ctx: Ctx,
    query: QueryParams,
) -> Result<Markup, UiError> {
    let request = pager::request(&query);
    let types = list_error_types(state.store.pool(), ctx.user.tenant, &request).await?;
    let body = html! {
        p.actions { a.button href="/error-types/new" { "Add an error type" } }
        @if types.content.is_empty() && request.page == 0 {
            (empty("No error types yet.", html! {
                "Error types recognise failures by their message and say what to do about them. "
                a href="/error-types/new" { "Add the first one" } "."
            }))
        } @else {
            table #error-types {
                thead { tr { th { "Name" } th { "Recognised when" } th { "Retry" } th { "What to do" } th { "" } } }
                tbody { @for t in &types.content { (row(&ctx, t)) } }
            }
            (pager::nav(&types, Tab::ErrorTypes.path(), &query))
        }
    };
    Ok(page(&ctx, Tab::ErrorTypes, "Error types", body))
}

fn row(ctx: &Ctx, t: &ErrorTypeJson) -> Markup {
    let name = t.name.as_deref().unwrap_or("(no name)");
    let step = t.follow_up_step.as_deref().unwrap_or("Process");
    html! {
        tr id=(format!("error-type-{}", t.id)) {
            td { strong { (name) } }
            td.msg { (rule(t)) }
            td { (step) div.muted { (follow_up_meaning(step)) } }
            td {
                @match t.required_action.as_deref().filter(|a| !a.trim().is_empty()) {
                    Some(action) => div.action { (action) },
                    None => div.action.none { "None written yet: edit to add one." },
                }
            }
            td { div.actions {
                a.button.secondary href=(format!("/error-types/{}/edit", t.id)) { "Edit" }
                @if step != "Terminal" {
                    (post_button(ctx, &format!("/error-types/{}/retry", t.id), "Retry all", "secondary",
                        Some(&format!("Retry every record whose latest error is {name:?}?")), &[]))
                }
                (post_button(ctx, &format!("/error-types/{}/void", t.id), "Void", "danger",
                    Some(&format!("Void the error type {name:?}? New errors will no longer be recognised as it.")), &[]))
            } }
        }
    }
}

#[derive(Deserialize)]
struct Empty {}

async fn retry(
    State(state): State<AdminState>,
    ctx: Ctx,
    Path(id): Path<String>,
    CsrfForm(_): CsrfForm<Empty>,
) -> Result<Response, UiError> {
    let id = path_id(&id, "error type")?;
    let flash = match retry_error_type(&state, ctx.user.tenant, id).await {
        Ok(outcome) if outcome.retried == 0 => Flash::success("No error of this type to retry."),
        Ok(outcome) => Flash::success(format!(
            "Retrying {} records{}. Errors disappear from the Errors tab as records sync.",
            outcome.retried,
            if outcome.already_running {
                " (the error job is already running)"
            } else {
                ""
            }
        )),
        Err(ApiError::Conflict(why)) => Flash::error(format!("Not retried: {why}.")),
        Err(other) => return Err(other.into()),
    };
    Ok(redirect("/error-types", flash))
}

async fn void(
    State(state): State<AdminState>,
    ctx: Ctx,
    Path(id): Path<String>,
    CsrfForm(_): CsrfForm<Empty>,
) -> Result<Response, UiError> {
    let id = path_id(&id, "error type")?;
    let t = void_error_type(state.store.pool(), ctx.user.tenant, id).await?;
    Ok(redirect(
        "/error-types",
        Flash::success(format!(
            "Voided the error type {}.",
            t.name.unwrap_or_default()
        )),
    ))
}
