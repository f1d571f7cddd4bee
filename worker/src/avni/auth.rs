//! Logging in to Avni (contracts/avni.md §3): `POST /api/user/generateToken` (the server does
//! the IdP login), or a Keycloak password grant against the realm `GET /idp-details` names.
//! Cognito SRP is not spoken: generateToken covers Cognito tenants.

use super::client::read_answer;
use super::config::{AvniConfig, AvniCredentials};
use super::error::AvniError;
use super::token::Token;
use chrono::Utc;
use serde_json::{json, Value};

/// A fresh token, or `None` when the tenant runs without auth.
pub(crate) async fn login(
    http: &reqwest::Client,
    config: &AvniConfig,
) -> Result<Option<Token>, AvniError> {
    match &config.auth {
        AvniCredentials::NoAuth { .. } => Ok(None),
        AvniCredentials::Password { username, password } => {
            generate_token(http, config, username, password)
                .await
                .map(Some)
        }
        AvniCredentials::Keycloak { username, password } => {
            keycloak(http, config, username, password).await.map(Some)
        }
    }
}

async fn generate_token(
    http: &reqwest::Client,
    config: &AvniConfig,
    username: &str,
    password: &str,
) -> Result<Token, AvniError> {
    let what = "POST /api/user/generateToken";
    let sent = http
        .post(format!("{}/api/user/generateToken", config.base_url))
        .timeout(config.timeout)
        .json(&json!({ "username": username, "password": password }))
        .send()
        .await;
    token_in(what, sent, "authToken").await
}

async fn keycloak(
    http: &reqwest::Client,
    config: &AvniConfig,
    username: &str,
    password: &str,
) -> Result<Token, AvniError> {
    let what = "GET /idp-details";
    let sent = http
        .get(format!("{}/idp-details", config.base_url))
        .timeout(config.timeout)
        .send()
        .await;
    let details: Value = read_answer(what, sent)
        .await
        .map_err(|e| refused(what, e))?
        .json(what)?;
    let idp_type = details.get("idpType").and_then(Value::as_str).unwrap_or("");
    if !matches!(idp_type, "keycloak" | "both") {
        return Err(AvniError::Login(format!(
            "Avni's IdP is {idp_type:?}, not keycloak; use generateToken"
        )));
    }
    let field = |key: &str| {
        details
            .get("keycloak")
            .and_then(|k| k.get(key))
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| AvniError::Login(format!("{what} lacks keycloak.{key}")))
    };
    let (server, realm, client_id) = (field("authServerUrl")?, field("realm")?, field("clientId")?);
    let what = "Keycloak token";
    let sent = http
        .post(format!(
            "{}/realms/{}/protocol/openid-connect/token",
            server.trim_end_matches('/'),
            urlencoding::encode(realm)
        ))
        .timeout(config.timeout)
        .form(&[
            ("client_id", client_id),
            ("grant_type", "password"),
            ("scope", "openid"),
            ("username", username),
            ("password", password),
        ])
        .send()
        .await;
    token_in(what, sent, "access_token").await
}

/// The token under `field` of a login answer.
async fn token_in(
    what: &str,
    sent: Result<reqwest::Response, reqwest::Error>,
    field: &str,
) -> Result<Token, AvniError> {
    let body: Value = read_answer(what, sent)
        .await
        .map_err(|e| refused(what, e))?
        .json(what)?;
    let token = body
        .get(field)
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| AvniError::Login(format!("{what} answered without {field}")))?;
    Ok(Token::new(token, Utc::now()))
}

/// A client error during login is a refusal (wrong password, user not allowed to generate
/// tokens, unknown user) that retrying cannot fix; server errors stay transient.
fn refused(what: &str, error: AvniError) -> AvniError {
    match error.status() {
        Some(status) if (400..500).contains(&status) && status != 429 => {
            AvniError::Login(format!("{what}: {error}"))
        }
        _ => error,
    }
}
