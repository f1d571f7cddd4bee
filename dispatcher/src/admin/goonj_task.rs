//! PLACEHOLDER: Goonj ad-hoc tasks (`/goonj/...`), filled in by its owner.

use super::AdminState;
use axum::Router;

pub fn routes() -> Router<AdminState> {
    Router::new()
}
