//! Adding and editing one error type: its name, the message rule, the follow-up step and the
//! required action. A refused form comes back filled in with what to fix.

use super::context::Ctx;
use super::csrf::{self, CsrfForm};
use super::error_types::follow_up_meaning;
use super::failure::UiError;
use super::flash::{redirect, Flash};
use super::layout::{page, Tab};
use crate::admin::error::ApiError;
use crate::admin::error_type::{
    create_error_type, get_error_type, update_error_type, ErrorTypeBody, ErrorTypeJson,
};
use crate::admin::extract::path_id;
use crate::admin::AdminState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use maud::{html, Markup};
use serde::Deserialize;

pub fn routes() -> Router<AdminState> {
    Router::new()
        .route("/error-types/new", get(new).post(create))
        .route("/error-types/{id}/edit", get(edit))
        .route("/error-types/{id}", post(update))
}

const OPERATORS: [(&str, &str); 3] = [
    ("CONTAINS", "contains"),
    ("EQUALS", "is exactly"),
    ("MATCHES", "matches the regular expression"),
];
const STEPS: [&str; 4] = ["Process", "Terminal", "Internal", "External"];

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TypeForm {
    name: Option<String>,
    comparison_operator: Option<String>,
    comparison_value: Option<String>,
    follow_up_step: Option<String>,
    required_action: Option<String>,
}

impl TypeForm {
    fn from_type(t: &ErrorTypeJson) -> Self {
        TypeForm {
            name: t.name.clone(),
            comparison_operator: t.comparison_operator.clone(),
            comparison_value: t.comparison_value.clone(),
            follow_up_step: t.follow_up_step.clone(),
            required_action: t.required_action.clone(),
        }
    }

    fn body(&self) -> ErrorTypeBody {
        let text = |v: &Option<String>| v.as_deref().map(str::trim).map(str::to_owned);
        ErrorTypeBody {
            name: text(&self.name).unwrap_or_default(),
            comparison_operator: text(&self.comparison_operator),
            comparison_value: self.comparison_value.clone(),
            follow_up_step: text(&self.follow_up_step),
            required_action: text(&self.required_action),
        }
    }
}

fn label_of(field: &str) -> &str {
    match field {
        "name" => "Name",
        "comparisonOperator" => "How to compare",
        "comparisonValue" => "Message text",
        "followUpStep" => "Follow-up",
        "requiredAction" => "What to do",
        other => other,
    }
}

fn form_page(ctx: &Ctx, form: &TypeForm, id: Option<i32>) -> Markup {
    let (title, action, submit) = match id {
        None => (
            "Add an error type",
            "/error-types/new".to_owned(),
            "Add error type",
        ),
        Some(id) => (
            "Edit error type",
            format!("/error-types/{id}"),
            "Save changes",
        ),
    };
    let operator = form.comparison_operator.as_deref();
    let step = form.follow_up_step.as_deref().unwrap_or("Process");
    let body = html! {
        form.panel #error-type-form method="post" action=(action) {
            (csrf::field(&ctx.user))
            div.grid {
                label { "Name"
                    input type="text" name="name" maxlength="250" required value=[form.name.as_deref()];
                }
                label { "Recognise an error when its message…"
                    select name="comparisonOperator" {
                        option value="" { "(no rule: set by the integration)" }
                        @for (op, words) in OPERATORS {
                            option value=(op) selected[operator == Some(op)] { (words) }
                        }
                    }
                }
                label { "Message text"
                    input type="text" name="comparisonValue" value=[form.comparison_value.as_deref()];
                }
                label { "Follow-up"
                    select name="followUpStep" {
                        @for s in STEPS {
                            option value=(s) selected[step == s] { (s) ": " (follow_up_meaning(s)) }
                        }
                    }
                }
            }
            label { "What to do (shown beside every error of this type)"
                textarea name="requiredAction" rows="3" { (form.required_action.as_deref().unwrap_or("")) }
            }
            p.actions {
                button type="submit" { (submit) }
                a.button.secondary href="/error-types" { "Cancel" }
            }
        }
    };
    page(ctx, Tab::ErrorTypes, title, body)
}

fn refused(
    mut ctx: Ctx,
    form: &TypeForm,
    id: Option<i32>,
    error: ApiError,
) -> Result<Response, UiError> {
    let ApiError::BadRequest { field, message } = error else {
        return Err(error.into());
    };
    ctx.flash = Some(Flash::error(format!(
        "Not saved: {} {message}.",
        label_of(&field)
    )));
    Ok((StatusCode::BAD_REQUEST, form_page(&ctx, form, id)).into_response())
}

fn saved(verb: &str, t: &ErrorTypeJson) -> Response {
    redirect(
        "/error-types",
        Flash::success(format!(
            "Error type {} {verb}.",
            t.name.as_deref().unwrap_or("")
        )),
    )
}

async fn new(ctx: Ctx) -> Markup {
    form_page(&ctx, &TypeForm::default(), None)
}

async fn create(
    State(state): State<AdminState>,
    ctx: Ctx,
    CsrfForm(form): CsrfForm<TypeForm>,
) -> Result<Response, UiError> {
    match create_error_type(state.store.pool(), ctx.user.tenant, form.body()).await {
        Ok(t) => Ok(saved("added", &t)),
        Err(error) => refused(ctx, &form, None, error),
    }
}

async fn edit(
    State(state): State<AdminState>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> Result<Markup, UiError> {
    let id = path_id(&id, "error type")?;
    let t = get_error_type(state.store.pool(), ctx.user.tenant, id).await?;
    if t.voided {
        return Err(ApiError::not_found(format!("error type {id}")).into());
    }
    Ok(form_page(&ctx, &TypeForm::from_type(&t), Some(id)))
}

async fn update(
    State(state): State<AdminState>,
    ctx: Ctx,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<TypeForm>,
) -> Result<Response, UiError> {
    let id = path_id(&id, "error type")?;
    match update_error_type(state.store.pool(), ctx.user.tenant, id, form.body()).await {
        Ok(t) => Ok(saved("saved", &t)),
        Err(error) => refused(ctx, &form, Some(id), error),
    }
}
