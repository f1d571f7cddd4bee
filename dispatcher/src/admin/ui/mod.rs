//! PLACEHOLDER: the built-in web UI.

use super::AdminState;
use axum::Router;

pub fn routes(_state: AdminState) -> Router<AdminState> {
    Router::new()
}
