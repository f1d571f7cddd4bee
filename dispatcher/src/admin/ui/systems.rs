//! The Integration Systems tab: the system this login works on, the modules that serve it, and
//! its settings (paged; secrets never shown).

use super::context::Ctx;
use super::failure::UiError;
use super::layout::{empty, page, Tab};
use super::pager;
use crate::admin::error::ApiError;
use crate::admin::extract::QueryParams;
use crate::admin::integration_system::visible_systems;
use crate::admin::jobs::modules_of;
use crate::admin::paging::{Page, PageRequest};
use crate::admin::AdminState;
use axum::extract::State;
use axum::routing::get;
use axum::Router;
use maud::{html, Markup};

pub fn routes() -> Router<AdminState> {
    Router::new().route("/systems", get(show))
}

#[derive(sqlx::FromRow)]
struct Setting {
    key: String,
    value: String,
    is_secret: bool,
}

/// Values shown in full up to this many characters.
const SHOWN_CHARS: usize = 160;

/// Settings whose values are credentials even where `is_secret` was never set.
fn looks_secret(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    ["password", "secret", "token", "api_key", "apikey"]
        .iter()
        .any(|word| key.contains(word))
}

async fn show(
    State(state): State<AdminState>,
    ctx: Ctx,
    query: QueryParams,
) -> Result<Markup, UiError> {
    let pool = state.store.pool();
    let tenant = ctx.user.tenant;
    let system = visible_systems(
        pool,
        tenant,
        None,
        &PageRequest {
            page: 0,
            size: 1,
            sort: Vec::new(),
        },
    )
    .await?
    .into_iter()
    .next()
    .ok_or_else(|| ApiError::not_found("Your integration system"))?;
    let modules = modules_of(&state, tenant).await?;
    let request = pager::request(&query);
    let total: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM integration_system_config
          WHERE integration_system_id = $1 AND NOT coalesce(is_voided, false)",
    )
    .bind(tenant)
    .fetch_one(pool)
    .await?;
    let rows: Vec<Setting> = sqlx::query_as(
        "SELECT coalesce(key, '') AS key, coalesce(value, '') AS value,
                coalesce(is_secret, false) AS is_secret
           FROM integration_system_config
          WHERE integration_system_id = $1 AND NOT coalesce(is_voided, false)
          ORDER BY key, id LIMIT $2 OFFSET $3",
    )
    .bind(tenant)
    .bind(request.limit())
    .bind(request.offset())
    .fetch_all(pool)
    .await?;
    let settings = Page::new(rows, total, request);
    let body = html! {
        div.panel {
            div.grid {
                div { div.muted { "Name" } strong { (system.instance_name) } }
                div { div.muted { "Type" } strong { (system.system_type) } }
                div { div.muted { "Id" } strong { (tenant.0) } }
                div {
                    div.muted { "Modules serving it" }
                    @if modules.is_empty() {
                        strong { "none" }
                        div.muted { "No module of this dispatcher serves this system type, so no job runs for it." }
                    } @else {
                        strong { @for (i, m) in modules.iter().enumerate() { @if i > 0 { ", " } (m.as_str()) } }
                    }
                }
            }
        }
        h2 { "Settings" }
        @if settings.content.is_empty() && settings.request.page == 0 {
            (empty("This system has no settings yet.", html! {
                "Settings (credentials, crons, task lists) are imported with a bundle or added by the integration team."
            }))
        } @else {
            table {
                thead { tr { th { "Key" } th { "Value" } } }
                tbody {
                    @for s in &settings.content {
                        tr {
                            td { code { (s.key) } }
                            td.msg {
                                @if s.is_secret || looks_secret(&s.key) {
                                    span.muted { "hidden (secret)" }
                                } @else if s.value.chars().count() > SHOWN_CHARS {
                                    (s.value.chars().take(SHOWN_CHARS).collect::<String>()) "…"
                                } @else {
                                    (s.value)
                                }
                            }
                        }
                    }
                }
            }
            (pager::nav(&settings, Tab::Systems.path(), &query))
        }
    };
    Ok(page(&ctx, Tab::Systems, "Integration system", body))
}
