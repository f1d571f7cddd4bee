//! What a page answers when it cannot be served: a short HTML page in plain words (the JSON
//! API's `ApiError` is reused underneath), never a stack of JSON in front of ops.

use super::style::CSS;
use crate::admin::error::ApiError;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{html, DOCTYPE};

#[derive(Debug, thiserror::Error)]
pub enum UiError {
    #[error(transparent)]
    Api(#[from] ApiError),
    /// The form's `_csrf` token is missing or is not this session's.
    #[error("form token mismatch")]
    Csrf,
}

impl From<sqlx::Error> for UiError {
    fn from(error: sqlx::Error) -> Self {
        UiError::Api(error.into())
    }
}

impl From<avni_int_shared::store::StoreError> for UiError {
    fn from(error: avni_int_shared::store::StoreError) -> Self {
        UiError::Api(error.into())
    }
}

impl UiError {
    fn status_and_text(&self) -> (StatusCode, String) {
        match self {
            UiError::Csrf => (
                StatusCode::FORBIDDEN,
                "This form has expired or did not come from this site, so nothing was changed. \
                 Go back, reload the page and try again."
                    .to_owned(),
            ),
            UiError::Api(ApiError::BadRequest { field, message }) => (
                StatusCode::BAD_REQUEST,
                format!("That did not work: {field} {message}."),
            ),
            UiError::Api(ApiError::NotFound(what)) => (
                StatusCode::NOT_FOUND,
                format!("{what} was not found. It may have been removed, or belong to another integration system."),
            ),
            UiError::Api(ApiError::Forbidden(why)) => (StatusCode::FORBIDDEN, format!("Not allowed: {why}.")),
            UiError::Api(ApiError::Conflict(message)) => (StatusCode::CONFLICT, message.clone()),
            UiError::Api(ApiError::BadCredentials) => {
                (StatusCode::UNAUTHORIZED, "Wrong email or password.".to_owned())
            }
            UiError::Api(ApiError::Throttled { retry_after_secs }) => (
                StatusCode::TOO_MANY_REQUESTS,
                format!("Too many failed logins. Try again in {} minutes.", retry_after_secs.div_ceil(60)),
            ),
            UiError::Api(ApiError::Internal(detail)) => {
                tracing::error!(error = %detail, "admin UI request failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong on our side. Try again in a minute; if it keeps \
                     happening, tell the integration team (the dispatcher log has the details)."
                        .to_owned(),
                )
            }
        }
    }
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        let (status, text) = self.status_and_text();
        let page = html! {
            (DOCTYPE)
            html lang="en" {
                head {
                    meta charset="utf-8";
                    title { "Avni integration: problem" }
                    style { (maud::PreEscaped(CSS)) }
                }
                body {
                    main {
                        h1 { "That did not work" }
                        div.flash.err role="alert" { (text) }
                        p { "Use your browser's Back button, or " a href="/" { "start again from the Errors tab" } "." }
                    }
                }
            }
        };
        (status, page).into_response()
    }
}
