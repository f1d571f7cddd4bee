//! The synchronizer token every UI form carries: a hidden `_csrf` field equal to the session's
//! token, checked before the form is read. A mismatch changes nothing and answers 403.

use super::failure::UiError;
use crate::admin::error::ApiError;
use crate::admin::session::CurrentUser;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use maud::{html, Markup};
use serde::de::DeserializeOwned;

/// The hidden field to put in every form.
pub fn field(user: &CurrentUser) -> Markup {
    html! { input type="hidden" name="_csrf" value=(user.csrf_token); }
}

/// True when `given` is the session's token; compares in constant time.
pub fn matches(user: &CurrentUser, given: &str) -> bool {
    let expected = user.csrf_token.as_bytes();
    let given = given.as_bytes();
    if expected.is_empty() || expected.len() != given.len() {
        return false;
    }
    expected
        .iter()
        .zip(given)
        .fold(0u8, |acc, (a, b)| acc | (a ^ b))
        == 0
}

/// An urlencoded form whose `_csrf` was checked against the session (other fields into `T`,
/// which ignores `_csrf`).
pub struct CsrfForm<T>(pub T);

impl<S, T> FromRequest<S> for CsrfForm<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = UiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let user = request
            .extensions()
            .get::<CurrentUser>()
            .cloned()
            .ok_or(UiError::Csrf)?;
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|e| ApiError::bad("form", format!("unreadable: {e}")))?;
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&bytes)
            .map_err(|e| ApiError::bad("form", format!("unreadable: {e}")))?;
        let given = pairs
            .iter()
            .find(|(k, _)| k == "_csrf")
            .map(|(_, v)| v.as_str())
            .unwrap_or("");
        if !matches(&user, given) {
            tracing::warn!(user = %user.email, "UI form refused: CSRF token mismatch");
            return Err(UiError::Csrf);
        }
        serde_urlencoded::from_bytes(&bytes)
            .map(CsrfForm)
            .map_err(|e| UiError::Api(ApiError::bad("form", e.to_string())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use avni_int_shared::IntegrationSystemId;

    #[test]
    fn only_the_sessions_token_matches() {
        let user = CurrentUser {
            user_id: 1,
            email: "ops@example.org".into(),
            tenant: IntegrationSystemId(1),
            csrf_token: "abc123".into(),
        };
        assert!(matches(&user, "abc123"));
        assert!(!matches(&user, "abc124"));
        assert!(!matches(&user, "abc12"));
        assert!(!matches(&user, ""));
    }
}
