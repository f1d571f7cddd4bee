//! Mapping groups and mapping types (both just a name per tenant): list, add, rename, void.

use super::context::Ctx;
use super::csrf::{self, CsrfForm};
use super::failure::UiError;
use super::flash::{redirect, Flash};
use super::layout::{empty, page, post_button, Tab};
use super::mappings::subnav;
use super::pager;
use crate::admin::error::ApiError;
use crate::admin::extract::{path_id, QueryParams};
use crate::admin::mapping::named::{list_named, save_named, void_named, NamedInput, NamedKind};
use crate::admin::AdminState;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use maud::{html, Markup};
use serde::Deserialize;

pub fn routes() -> Router<AdminState> {
    Router::new()
        .route("/mappings/groups", get(list::<GROUP>).post(add::<GROUP>))
        .route("/mappings/groups/{id}", post(rename::<GROUP>))
        .route("/mappings/groups/{id}/void", post(void::<GROUP>))
        .route("/mappings/types", get(list::<TYPE>).post(add::<TYPE>))
        .route("/mappings/types/{id}", post(rename::<TYPE>))
        .route("/mappings/types/{id}/void", post(void::<TYPE>))
}

const GROUP: bool = true;
const TYPE: bool = false;

/// Words and paths of one of the two kinds.
struct Words {
    kind: NamedKind,
    path: &'static str,
    title: &'static str,
    one: &'static str,
    example: &'static str,
}

fn words(group: bool) -> Words {
    if group {
        Words {
            kind: NamedKind::Group,
            path: "/mappings/groups",
            title: "Mapping groups",
            one: "group",
            example: "Demand",
        }
    } else {
        Words {
            kind: NamedKind::Type,
            path: "/mappings/types",
            title: "Mapping types",
            one: "type",
            example: "Observations",
        }
    }
}

async fn list<const K: bool>(
    State(state): State<AdminState>,
    ctx: Ctx,
    query: QueryParams,
) -> Result<Markup, UiError> {
    let w = words(K);
    let request = pager::request(&query);
    let rows = list_named(state.store.pool(), ctx.user.tenant, w.kind, &request).await?;
    let body = html! {
        (subnav(w.path))
        form.filters.panel method="post" action=(w.path) {
            (csrf::field(&ctx.user))
            label { "New " (w.one) " name"
                input type="text" name="name" maxlength="250" required placeholder=(format!("e.g. {}", w.example));
            }
            button type="submit" { "Add " (w.one) }
        }
        @if rows.content.is_empty() && request.page == 0 {
            (empty(&format!("No mapping {}s yet.", w.one), html! {
                "Add one above; mappings are filed under a group and a type."
            }))
        } @else {
            table {
                thead { tr { th { "Name" } th { "Rename" } th { "" } } }
                tbody {
                    @for row in &rows.content {
                        tr {
                            td { strong { (row.name) } }
                            td {
                                form.inline method="post" action=(format!("{}/{}", w.path, row.id)) {
                                    (csrf::field(&ctx.user))
                                    input type="text" name="name" value=(row.name) maxlength="250" required;
                                    " "
                                    button.secondary type="submit" { "Rename" }
                                }
                            }
                            td {
                                (post_button(&ctx, &format!("{}/{}/void", w.path, row.id), "Void", "danger",
                                    Some(&format!("Void the {} {:?}? Its mappings stop being used.", w.one, row.name)), &[]))
                            }
                        }
                    }
                }
            }
            (pager::nav(&rows, w.path, &query))
        }
    };
    Ok(page(&ctx, Tab::Mappings, w.title, body))
}

#[derive(Deserialize)]
struct NameForm {
    name: Option<String>,
}

fn outcome(w: &Words, result: Result<String, ApiError>, verb: &str) -> Result<Response, UiError> {
    let flash = match result {
        Ok(name) => Flash::success(format!("The {} {name} was {verb}.", w.one)),
        Err(ApiError::BadRequest { field, message }) => {
            Flash::error(format!("Not saved: {field} {message}."))
        }
        Err(ApiError::Conflict(message)) => Flash::error(format!("Not saved: {message}.")),
        Err(ApiError::NotFound(_)) => Flash::error(format!("That {} is already gone.", w.one)),
        Err(other) => return Err(other.into()),
    };
    Ok(redirect(w.path, flash))
}

async fn add<const K: bool>(
    State(state): State<AdminState>,
    ctx: Ctx,
    CsrfForm(form): CsrfForm<NameForm>,
) -> Result<Response, UiError> {
    let w = words(K);
    let input = NamedInput {
        name: form.name.map(|n| n.trim().to_owned()),
        ..NamedInput::default()
    };
    let result = save_named(state.store.pool(), ctx.user.tenant, w.kind, None, &input).await;
    outcome(&w, result.map(|n| n.name), "added")
}

async fn rename<const K: bool>(
    State(state): State<AdminState>,
    ctx: Ctx,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<NameForm>,
) -> Result<Response, UiError> {
    let w = words(K);
    let id = path_id(&id, w.one)?;
    let input = NamedInput {
        name: form.name.map(|n| n.trim().to_owned()),
        ..NamedInput::default()
    };
    let result = save_named(
        state.store.pool(),
        ctx.user.tenant,
        w.kind,
        Some(id),
        &input,
    )
    .await;
    outcome(&w, result.map(|n| n.name), "renamed")
}

#[derive(Deserialize)]
struct Empty {}

async fn void<const K: bool>(
    State(state): State<AdminState>,
    ctx: Ctx,
    Path(id): Path<String>,
    CsrfForm(_): CsrfForm<Empty>,
) -> Result<Response, UiError> {
    let w = words(K);
    let id = path_id(&id, w.one)?;
    let result = void_named(state.store.pool(), ctx.user.tenant, w.kind, id).await;
    outcome(&w, result.map(|n| n.name), "voided")
}
