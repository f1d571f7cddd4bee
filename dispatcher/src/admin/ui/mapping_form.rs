//! Adding and editing one metadata mapping. A refused form comes back filled in, with what to
//! fix, instead of losing what was typed.

use super::context::Ctx;
use super::csrf::{self, CsrfForm};
use super::failure::UiError;
use super::flash::{redirect, Flash};
use super::layout::{empty, page, Tab};
use super::mappings::subnav;
use crate::admin::error::ApiError;
use crate::admin::extract::path_id;
use crate::admin::mapping::metadata::{
    create_mapping, get_mapping, update_mapping, MappingInput, MappingJson, DATA_TYPE_HINTS,
};
use crate::admin::mapping::named::{list_groups, list_types, NamedJson};
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
        .route("/mappings/new", get(new).post(create))
        .route("/mappings/{id}/edit", get(edit))
        .route("/mappings/{id}", post(update))
}

/// The form as posted (and as shown again): every field text, ids still unparsed.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct MappingForm {
    mapping_group: Option<String>,
    mapping_type: Option<String>,
    int_system_value: Option<String>,
    avni_value: Option<String>,
    data_type_hint: Option<String>,
    about: Option<String>,
}

impl MappingForm {
    fn from_mapping(m: &MappingJson) -> Self {
        MappingForm {
            mapping_group: m.mapping_group.map(|id| id.to_string()),
            mapping_type: m.mapping_type.map(|id| id.to_string()),
            int_system_value: m.int_system_value.clone(),
            avni_value: m.avni_value.clone(),
            data_type_hint: m.data_type_hint.clone(),
            about: m.about.clone(),
        }
    }

    fn input(&self) -> MappingInput {
        let id = |v: &Option<String>| v.as_deref().and_then(|t| t.trim().parse().ok());
        let text = |v: &Option<String>| v.as_deref().map(str::trim).map(str::to_owned);
        MappingInput {
            mapping_group: id(&self.mapping_group),
            mapping_type: id(&self.mapping_type),
            int_system_value: text(&self.int_system_value),
            avni_value: text(&self.avni_value),
            data_type_hint: text(&self.data_type_hint).filter(|h| !h.is_empty()),
            about: text(&self.about).filter(|a| !a.is_empty()),
            ..MappingInput::default()
        }
    }
}

/// The form's words for the API's field names.
fn label_of(field: &str) -> &str {
    match field {
        "mappingGroup" => "Group",
        "mappingType" => "Type",
        "intSystemValue" => "Partner value",
        "avniValue" => "Avni value",
        "dataTypeHint" => "Data type",
        "about" => "About",
        other => other,
    }
}

struct Choices {
    groups: Vec<NamedJson>,
    types: Vec<NamedJson>,
}

async fn choices(state: &AdminState, ctx: &Ctx) -> Result<Choices, UiError> {
    let pool = state.store.pool();
    Ok(Choices {
        groups: list_groups(pool, ctx.user.tenant).await?,
        types: list_types(pool, ctx.user.tenant).await?,
    })
}

fn select(label: &str, name: &str, options: &[NamedJson], selected: Option<&str>) -> Markup {
    html! {
        label { (label)
            select name=(name) required {
                option value="" { "Choose…" }
                @for o in options {
                    option value=(o.id) selected[selected == Some(o.id.to_string().as_str())] { (o.name) }
                }
            }
        }
    }
}

/// The whole page with the form; `id` is `None` for a new mapping.
fn form_page(ctx: &Ctx, choices: &Choices, form: &MappingForm, id: Option<i32>) -> Markup {
    let (title, action, submit) = match id {
        None => ("Add a mapping", "/mappings/new".to_owned(), "Add mapping"),
        Some(id) => ("Edit mapping", format!("/mappings/{id}"), "Save changes"),
    };
    let body = if choices.groups.is_empty() || choices.types.is_empty() {
        empty(
            "A mapping needs a group and a type, and there are none yet.",
            html! {
                "Add a " a href="/mappings/groups" { "group" } " (for example “Demand”) and a "
                a href="/mappings/types" { "type" } " (for example “Observations”) first."
            },
        )
    } else {
        html! {
            form.panel #mapping-form method="post" action=(action) {
                (csrf::field(&ctx.user))
                div.grid {
                    (select("Group", "mappingGroup", &choices.groups, form.mapping_group.as_deref()))
                    (select("Type", "mappingType", &choices.types, form.mapping_type.as_deref()))
                    label { "Partner value (as the partner system sends it)"
                        input type="text" name="intSystemValue" maxlength="250" required
                            value=[form.int_system_value.as_deref()];
                    }
                    label { "Avni value (exactly as in Avni)"
                        input type="text" name="avniValue" maxlength="250" required
                            value=[form.avni_value.as_deref()];
                    }
                    label { "Data type"
                        select name="dataTypeHint" {
                            option value="" { "None" }
                            @for hint in DATA_TYPE_HINTS {
                                option value=(hint) selected[form.data_type_hint.as_deref() == Some(*hint)] { (hint) }
                            }
                        }
                    }
                }
                label { "About (optional note)"
                    textarea name="about" rows="2" maxlength="1000" { (form.about.as_deref().unwrap_or("")) }
                }
                p.actions {
                    button type="submit" { (submit) }
                    a.button.secondary href="/mappings" { "Cancel" }
                }
            }
        }
    };
    page(ctx, Tab::Mappings, title, html! { (subnav("")) (body) })
}

/// Shows the form again with what was refused; other failures are pages of their own.
async fn refused(
    state: &AdminState,
    mut ctx: Ctx,
    form: &MappingForm,
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
    let choices = choices(state, &ctx).await?;
    Ok((StatusCode::BAD_REQUEST, form_page(&ctx, &choices, form, id)).into_response())
}

fn saved(verb: &str, m: &MappingJson) -> Response {
    let partner = m.int_system_value.clone().unwrap_or_default();
    let flash = Flash::success(format!(
        "Mapping {verb}: {partner} → {} (group {}).",
        m.avni_value.as_deref().unwrap_or(""),
        m.group_name.as_deref().unwrap_or("?")
    ));
    let query = serde_urlencoded::to_string([("q", partner.as_str())]).unwrap_or_default();
    redirect(&format!("/mappings?{query}"), flash)
}

async fn new(State(state): State<AdminState>, ctx: Ctx) -> Result<Markup, UiError> {
    let choices = choices(&state, &ctx).await?;
    Ok(form_page(&ctx, &choices, &MappingForm::default(), None))
}

async fn create(
    State(state): State<AdminState>,
    ctx: Ctx,
    CsrfForm(form): CsrfForm<MappingForm>,
) -> Result<Response, UiError> {
    match create_mapping(state.store.pool(), ctx.user.tenant, &form.input()).await {
        Ok(m) => Ok(saved("added", &m)),
        Err(error) => refused(&state, ctx, &form, None, error).await,
    }
}

async fn edit(
    State(state): State<AdminState>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> Result<Markup, UiError> {
    let id = path_id(&id, "mapping")?;
    let mapping = get_mapping(state.store.pool(), ctx.user.tenant, id).await?;
    if mapping.voided {
        return Err(ApiError::not_found(format!("mapping {id}")).into());
    }
    let choices = choices(&state, &ctx).await?;
    Ok(form_page(
        &ctx,
        &choices,
        &MappingForm::from_mapping(&mapping),
        Some(id),
    ))
}

async fn update(
    State(state): State<AdminState>,
    ctx: Ctx,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<MappingForm>,
) -> Result<Response, UiError> {
    let id = path_id(&id, "mapping")?;
    match update_mapping(state.store.pool(), ctx.user.tenant, id, &form.input()).await {
        Ok(m) => Ok(saved("saved", &m)),
        Err(error) => refused(&state, ctx, &form, Some(id), error).await,
    }
}
