//! Who is looking at a page: the session guard for every page but the login page (no session
//! is a 303 to `/login`, not the API's 403) and the `Ctx` extractor pages render with.

use super::flash::{see_other, Flash};
use crate::admin::session::{cookie_token, lookup, CurrentUser};
use crate::admin::AdminState;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// The logged-in user and the one-time message for this page.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub user: CurrentUser,
    pub flash: Option<Flash>,
}

impl<S: Send + Sync> FromRequestParts<S> for Ctx {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let user = parts
            .extensions
            .get::<CurrentUser>()
            .cloned()
            .ok_or_else(|| see_other("/login"))?;
        Ok(Ctx {
            user,
            flash: parts.extensions.get::<Flash>().cloned(),
        })
    }
}

/// Middleware: a live session, or off to the login page.
pub async fn require_page_session(
    State(state): State<AdminState>,
    mut request: Request,
    next: Next,
) -> Response {
    let Some(token) = cookie_token(request.headers()).map(str::to_owned) else {
        return see_other("/login");
    };
    match lookup(state.store.pool(), &token, state.config.session_ttl).await {
        Ok(Some(user)) => {
            request.extensions_mut().insert(user);
            next.run(request).await
        }
        Ok(None) => see_other("/login"),
        Err(error) => super::failure::UiError::from(error).into_response(),
    }
}
