//! The built-in web UI at `/`: server-rendered pages ops use (Errors, Metadata Mapping, Error
//! Types, Jobs, Integration Systems), plain HTML forms that post and redirect with a flash
//! message, no JavaScript build. Every page but the login page needs a session.

mod context;
mod csrf;
mod error_type_form;
mod error_types;
mod errors;
mod failure;
mod flash;
mod job_history;
mod jobs;
mod layout;
mod login;
mod mapping_form;
mod mapping_names;
mod mappings;
mod pager;
mod style;
mod systems;

use super::AdminState;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::routing::{get, post};
use axum::Router;

pub fn routes(state: AdminState) -> Router<AdminState> {
    let pages = Router::new()
        .route("/", get(|| async { flash::see_other("/errors") }))
        .route("/logout", post(login::logout))
        .merge(errors::routes())
        .merge(error_types::routes())
        .merge(error_type_form::routes())
        .merge(jobs::routes())
        .merge(mappings::routes())
        .merge(mapping_form::routes())
        .merge(mapping_names::routes())
        .merge(systems::routes())
        .route_layer(from_fn_with_state(state, context::require_page_session));
    Router::new()
        .route("/login", get(login::page).post(login::submit))
        .merge(pages)
        .layer(from_fn(flash::carry))
}
