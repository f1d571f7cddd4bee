//! The Metadata Mapping tab's list: the tenant's mappings (partner value ↔ Avni value), searched
//! by text and narrowed by group and type, paged, with edit and void per row.

use super::context::Ctx;
use super::csrf::CsrfForm;
use super::failure::UiError;
use super::flash::{back_to, redirect, Flash};
use super::layout::{empty, page, post_button, Tab};
use super::pager;
use crate::admin::error::ApiError;
use crate::admin::extract::{path_id, QueryParams};
use crate::admin::mapping::metadata::{list_mappings, void_mapping, MappingFilter, MappingJson};
use crate::admin::mapping::named::{list_groups, list_types, NamedJson};
use crate::admin::AdminState;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use maud::{html, Markup};
use serde::Deserialize;

pub fn routes() -> Router<AdminState> {
    Router::new()
        .route("/mappings", get(list))
        .route("/mappings/{id}/void", post(void))
}

/// The links between the Metadata Mapping tab's three pages.
pub fn subnav(current: &str) -> Markup {
    let pages = [
        ("/mappings", "Mappings"),
        ("/mappings/groups", "Groups"),
        ("/mappings/types", "Types"),
    ];
    html! {
        p.actions {
            @for (path, label) in pages {
                @if path == current { strong.button.secondary { (label) } }
                @else { a.button.secondary href=(path) { (label) } }
            }
        }
    }
}

fn id_param(query: &QueryParams, name: &str) -> Option<i32> {
    query.get(name).and_then(|v| v.trim().parse().ok())
}

fn here(query: &QueryParams) -> String {
    let encoded = serde_urlencoded::to_string(&query.0).unwrap_or_default();
    if encoded.is_empty() {
        "/mappings".to_owned()
    } else {
        format!("/mappings?{encoded}")
    }
}

async fn list(
    State(state): State<AdminState>,
    ctx: Ctx,
    query: QueryParams,
) -> Result<Markup, UiError> {
    let pool = state.store.pool();
    let tenant = ctx.user.tenant;
    let filter = MappingFilter {
        text: query.get("q").map(|q| q.trim().to_owned()),
        mapping_group: id_param(&query, "mappingGroup"),
        mapping_type: id_param(&query, "mappingType"),
        ..MappingFilter::default()
    };
    let request = pager::request(&query);
    let mappings = list_mappings(pool, tenant, &filter, &request).await?;
    let groups = list_groups(pool, tenant).await?;
    let types = list_types(pool, tenant).await?;
    let filtered = filter != MappingFilter::default();
    let back = here(&query);
    let body = html! {
        (subnav("/mappings"))
        form.filters.panel method="get" action="/mappings" {
            label { "Search (partner or Avni value)"
                input type="search" name="q" value=[filter.text.as_deref()] placeholder="e.g. Flood";
            }
            (choice("Group", "mappingGroup", "All groups", &groups, filter.mapping_group))
            (choice("Type", "mappingType", "All types", &types, filter.mapping_type))
            button type="submit" { "Search" }
            a.button.secondary href="/mappings" { "Clear" }
            a.button href="/mappings/new" { "Add a mapping" }
        }
        @if mappings.content.is_empty() && request.page == 0 {
            @if filtered {
                (empty("No mapping matches this search.", html! {
                    "Check the spelling, " a href="/mappings" { "clear the search" } ", or "
                    a href="/mappings/new" { "add the mapping" } "."
                }))
            } @else {
                (empty("No mappings yet.", html! {
                    "Mappings tell the integration which Avni value a partner value stands for. "
                    a href="/mappings/new" { "Add the first mapping" } "."
                }))
            }
        } @else {
            table #mappings {
                thead { tr {
                    th { "Group" } th { "Type" } th { "Partner value" } th { "Avni value" }
                    th { "Data type" } th { "About" } th { "" }
                } }
                tbody { @for m in &mappings.content { (row(&ctx, m, &back)) } }
            }
            (pager::nav(&mappings, "/mappings", &query))
        }
    };
    Ok(page(&ctx, Tab::Mappings, "Metadata mapping", body))
}

/// A `<select>` of groups or types with an "all" choice.
fn choice(
    label: &str,
    name: &str,
    all: &str,
    options: &[NamedJson],
    selected: Option<i32>,
) -> Markup {
    html! {
        label { (label)
            select name=(name) {
                option value="" { (all) }
                @for o in options {
                    option value=(o.id) selected[selected == Some(o.id)] { (o.name) }
                }
            }
        }
    }
}

fn row(ctx: &Ctx, m: &MappingJson, back: &str) -> Markup {
    let partner = m.int_system_value.as_deref().unwrap_or("");
    let avni = m.avni_value.as_deref().unwrap_or("");
    let question = format!(
        "Void the mapping {partner:?} → {avni:?}? Records that need it will fail until it is added again."
    );
    html! {
        tr id=(format!("mapping-{}", m.id)) {
            td { (m.group_name.as_deref().unwrap_or("—")) }
            td { (m.type_name.as_deref().unwrap_or("—")) }
            td { code { (partner) } }
            td { (avni) }
            td { (m.data_type_hint.as_deref().unwrap_or("")) }
            td.msg.muted { (m.about.as_deref().unwrap_or("")) }
            td { div.actions {
                a.button.secondary href=(format!("/mappings/{}/edit", m.id)) { "Edit" }
                (post_button(ctx, &format!("/mappings/{}/void", m.id), "Void", "danger",
                    Some(&question), &[("back", back)]))
            } }
        }
    }
}

#[derive(Deserialize)]
struct BackForm {
    back: Option<String>,
}

async fn void(
    State(state): State<AdminState>,
    ctx: Ctx,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<BackForm>,
) -> Result<Response, UiError> {
    let back = back_to(form.back.as_deref(), "/mappings");
    let id = path_id(&id, "mapping")?;
    let flash = match void_mapping(state.store.pool(), ctx.user.tenant, id).await {
        Ok(m) => Flash::success(format!(
            "Voided the mapping {} → {}.",
            m.int_system_value.unwrap_or_default(),
            m.avni_value.unwrap_or_default()
        )),
        Err(ApiError::NotFound(_)) => Flash::error("That mapping is already gone."),
        Err(other) => return Err(other.into()),
    };
    Ok(redirect(&back, flash))
}
