//! The login page (the only page without a session) and logout.

use super::context::Ctx;
use super::csrf::CsrfForm;
use super::failure::UiError;
use super::flash::{redirect, see_other, Flash};
use super::layout::flash_box;
use super::style::CSS;
use crate::admin::error::ApiError;
use crate::admin::session::{self, cookie_token, LoginForm};
use crate::admin::AdminState;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Form};
use maud::{html, Markup, PreEscaped, DOCTYPE};
use serde::Deserialize;

fn login_page(flash: Option<&Flash>, email: &str) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "Log in · Avni integration" }
                style { (PreEscaped(CSS)) }
            }
            body {
                div.login {
                    h1 { "Avni integration" }
                    p.muted { "Log in with your integration admin account." }
                    @if let Some(flash) = flash { (flash_box(flash)) }
                    form method="post" action="/login" {
                        label { "Email" input type="email" name="email" value=(email) required autofocus[email.is_empty()] autocomplete="username"; }
                        label { "Password" input type="password" name="password" required autofocus[!email.is_empty()] autocomplete="current-password"; }
                        button type="submit" { "Log in" }
                    }
                }
            }
        }
    }
}

/// `GET /login`.
pub async fn page(flash: Option<Extension<Flash>>) -> Markup {
    login_page(flash.as_ref().map(|f| &f.0), "")
}

/// `POST /login`: opens a session and goes to the Errors tab; a wrong password shows the form
/// again with the reason.
pub async fn submit(
    State(state): State<AdminState>,
    Form(form): Form<LoginForm>,
) -> Result<Response, UiError> {
    let email = form.email.unwrap_or_default();
    let password = form.password.unwrap_or_default();
    let refused = |status: StatusCode, text: &str| {
        (status, login_page(Some(&Flash::error(text)), &email)).into_response()
    };
    if email.trim().is_empty() || password.is_empty() {
        return Ok(refused(
            StatusCode::BAD_REQUEST,
            "Enter your email and your password.",
        ));
    }
    match session::login(&state, &email, &password).await {
        Ok((_, token)) => {
            let mut response = see_other("/errors");
            response
                .headers_mut()
                .append(header::SET_COOKIE, session::set_cookie(&state, &token)?);
            Ok(response)
        }
        Err(ApiError::BadCredentials) => Ok(refused(
            StatusCode::UNAUTHORIZED,
            "Wrong email or password. Check both and try again.",
        )),
        Err(ApiError::Throttled { retry_after_secs }) => Ok(refused(
            StatusCode::TOO_MANY_REQUESTS,
            &format!(
                "Too many failed logins for this email. Try again in {} minutes.",
                retry_after_secs.div_ceil(60)
            ),
        )),
        Err(other) => Err(other.into()),
    }
}

#[derive(Deserialize)]
pub struct Empty {}

/// `POST /logout`: ends the session on the server.
pub async fn logout(
    State(state): State<AdminState>,
    _ctx: Ctx,
    headers: HeaderMap,
    CsrfForm(_): CsrfForm<Empty>,
) -> Result<Response, UiError> {
    session::logout(state.store.pool(), cookie_token(&headers)).await?;
    let mut response = redirect("/login", Flash::success("You are logged out."));
    response
        .headers_mut()
        .append(header::SET_COOKIE, session::clear_cookie());
    Ok(response)
}
