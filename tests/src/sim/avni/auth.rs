//! Logins and token checks: `generateToken`, the Keycloak password grant, `/idp-details`, and
//! the auth middleware in front of `/api/**` and `/media/**`.

use super::handlers::{fail, origin, text, Fail, Shared};
use super::{AvniAuth, Db};
use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::Utc;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::Duration;

pub(crate) struct Issued {
    pub username: String,
    /// Seconds since the epoch, as in the token's `exp` claim.
    pub exp: i64,
    pub revoked: bool,
}

/// The user an authenticated request runs as (`Created by` / `Last modified by`).
#[derive(Clone)]
pub(crate) struct AuthUser(pub String);

fn cognito_issuer(pool_id: &str) -> String {
    format!("https://cognito-idp.ap-south-1.amazonaws.com/{pool_id}")
}

/// A JWT-shaped token (base64url header.payload.signature) whose payload carries `exp`; the
/// signature is random and the token is remembered, which is how it is verified.
fn issue(
    db: &mut Db,
    mut claims: serde_json::Map<String, Value>,
    user: &str,
    ttl: Duration,
) -> (String, i64) {
    let now = Utc::now().timestamp();
    let exp = now + i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX / 2);
    claims.insert("iat".into(), json!(now));
    claims.insert("exp".into(), json!(exp));
    claims.insert("jti".into(), json!(super::new_uuid()));
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","typ":"JWT","kid":"avni-sim"}"#);
    let payload = URL_SAFE_NO_PAD.encode(Value::Object(claims).to_string());
    let signature = URL_SAFE_NO_PAD.encode(
        [
            uuid::Uuid::new_v4().as_bytes().as_slice(),
            uuid::Uuid::new_v4().as_bytes().as_slice(),
        ]
        .concat(),
    );
    let token = format!("{header}.{payload}.{signature}");
    db.tokens.insert(
        token.clone(),
        Issued {
            username: user.into(),
            exp,
            revoked: false,
        },
    );
    (token, exp)
}

fn cognito_token(shared: &Shared, db: &mut Db, user: &str, ttl: Duration) -> String {
    let mut claims = serde_json::Map::new();
    claims.insert("sub".into(), json!(super::new_uuid()));
    claims.insert("iss".into(), json!(cognito_issuer(&shared.pool_id)));
    claims.insert("aud".into(), json!("avni-sim-client"));
    claims.insert("token_use".into(), json!("id"));
    claims.insert("cognito:username".into(), json!(user));
    issue(db, claims, user, ttl).0
}

fn keycloak_token(
    db: &mut Db,
    issuer: String,
    client_id: &str,
    user: &str,
    ttl: Duration,
) -> String {
    let mut claims = serde_json::Map::new();
    claims.insert("sub".into(), json!(super::new_uuid()));
    claims.insert("iss".into(), json!(issuer));
    claims.insert("aud".into(), json!("avni-server"));
    claims.insert("azp".into(), json!(client_id));
    claims.insert("typ".into(), json!("Bearer"));
    claims.insert("preferred_username".into(), json!(user));
    issue(db, claims, user, ttl).0
}

/// `POST /api/user/generateToken` `{"username","password"}` → `{"authToken"}`.
pub(crate) async fn generate_token(State(shared): State<Shared>, body: Bytes) -> Response {
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return text(
            StatusCode::BAD_REQUEST,
            "Required request body is missing or unreadable",
        );
    };
    let username = request
        .get("username")
        .and_then(Value::as_str)
        .unwrap_or("");
    let password = request
        .get("password")
        .and_then(Value::as_str)
        .unwrap_or("");
    let Some((user, secret, ttl)) = shared.config.auth.credentials() else {
        return text(
            StatusCode::INTERNAL_SERVER_ERROR,
            "java.lang.UnsupportedOperationException: no identity provider (AVNI_IDP_TYPE=none)",
        );
    };
    if username != user {
        return text(
            StatusCode::NOT_FOUND,
            &format!("User not found: {username}"),
        );
    }
    let mut db = shared.db();
    if db.token_api_forbidden {
        return text(
            StatusCode::FORBIDDEN,
            "User is not allowed to invoke the token generation API",
        );
    }
    if password != secret {
        return text(StatusCode::UNAUTHORIZED, "Incorrect username or password.");
    }
    let token = cognito_token(&shared, &mut db, user, ttl);
    Json(json!({ "authToken": token })).into_response()
}

/// Keycloak's `POST {authServerUrl}/realms/{realm}/protocol/openid-connect/token` (form).
pub(crate) async fn keycloak_token_endpoint(
    State(shared): State<Shared>,
    Path(realm): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let AvniAuth::Keycloak {
        realm: our_realm,
        client_id,
        username,
        password,
        token_ttl,
    } = &shared.config.auth
    else {
        return text(StatusCode::NOT_FOUND, "Not Found");
    };
    let oauth_error = |status: StatusCode, error: &str, description: &str| {
        (
            status,
            Json(json!({ "error": error, "error_description": description })),
        )
            .into_response()
    };
    if &realm != our_realm {
        return oauth_error(
            StatusCode::NOT_FOUND,
            "Realm does not exist",
            "Realm does not exist",
        );
    }
    let form: HashMap<String, String> = serde_urlencoded_pairs(&body);
    if form.get("client_id") != Some(client_id) {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Invalid client or Invalid client credentials",
        );
    }
    if form.get("grant_type").map(String::as_str) != Some("password") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "Unsupported grant_type",
        );
    }
    if form.get("username") != Some(username) || form.get("password") != Some(password) {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_grant",
            "Invalid user credentials",
        );
    }
    let issuer = format!("{}/auth/realms/{realm}", origin(&headers));
    let mut db = shared.db();
    let access = keycloak_token(&mut db, issuer.clone(), client_id, username, *token_ttl);
    let refresh = keycloak_token(&mut db, issuer.clone(), client_id, username, *token_ttl * 2);
    let id_token = keycloak_token(&mut db, issuer, client_id, username, *token_ttl);
    Json(json!({
        "access_token": access,
        "expires_in": token_ttl.as_secs(),
        "refresh_expires_in": token_ttl.as_secs() * 2,
        "refresh_token": refresh,
        "token_type": "Bearer",
        "id_token": id_token,
        "not-before-policy": 0,
        "session_state": super::new_uuid(),
        "scope": "openid profile email",
    }))
    .into_response()
}

/// `application/x-www-form-urlencoded` pairs (`+` is a space).
fn serde_urlencoded_pairs(body: &[u8]) -> HashMap<String, String> {
    let decode = |s: &str| {
        urlencoding::decode(&s.replace('+', " "))
            .map(|c| c.into_owned())
            .unwrap_or_else(|_| s.to_owned())
    };
    String::from_utf8_lossy(body)
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) => (decode(k), decode(v)),
            None => (decode(pair), String::new()),
        })
        .collect()
}

/// `GET /idp-details` (no auth), shaped like the contract fixture.
pub(crate) async fn idp_details(State(shared): State<Shared>, headers: HeaderMap) -> Response {
    let (idp_type, realm, client_id) = match &shared.config.auth {
        AvniAuth::Token { .. } => ("cognito", "On-premise".to_owned(), "avni-client".to_owned()),
        AvniAuth::None => ("none", "On-premise".to_owned(), "avni-client".to_owned()),
        AvniAuth::Keycloak {
            realm, client_id, ..
        } => ("keycloak", realm.clone(), client_id.clone()),
    };
    Json(json!({
        "genericConfig": {
            "webAppTimeoutInMinutes": 21600,
            "avniEnvironment": "sim",
            "avniAi": null
        },
        "idpType": idp_type,
        "keycloak": {
            "authServerUrl": format!("{}/auth", origin(&headers)),
            "clientId": client_id,
            "grantType": "password",
            "scope": "openid",
            "realm": realm
        },
        "cognito": {
            "poolId": shared.pool_id,
            "clientId": "avni-sim-client"
        }
    }))
    .into_response()
}

/// The older `GET /cognito-details`.
pub(crate) async fn cognito_details(State(shared): State<Shared>) -> Response {
    Json(json!({ "poolId": shared.pool_id, "clientId": "avni-sim-client" })).into_response()
}

fn is_public(path: &str) -> bool {
    path == "/api/user/generateToken"
}

fn needs_auth(path: &str) -> bool {
    (path.starts_with("/api/") || path.starts_with("/media/")) && !is_public(path)
}

/// The token of a request: `AUTH-TOKEN` header (any case), `?AUTH-TOKEN=`, or cookie
/// `auth-token`.
fn presented_token(request: &Request) -> Option<String> {
    if let Some(value) = request.headers().get("auth-token") {
        return value.to_str().ok().map(str::to_owned);
    }
    if let Ok(Query(query)) = Query::<HashMap<String, String>>::try_from_uri(request.uri()) {
        if let Some(token) = query.get("AUTH-TOKEN") {
            return Some(token.clone());
        }
    }
    request
        .headers()
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(name, _)| name.eq_ignore_ascii_case("auth-token"))
        .map(|(_, value)| value.to_owned())
}

/// Checks a token: the user, or the response Avni gives.
fn verify(db: &Db, token: &str) -> Result<String, Fail> {
    if let Some(issued) = db.tokens.get(token) {
        let expired = Utc::now().timestamp() >= issued.exp + db.token_leeway_secs;
        if issued.revoked || expired {
            return Err(fail(
                StatusCode::UNAUTHORIZED,
                &format!(
                    "com.auth0.jwt.exceptions.TokenExpiredException: The Token has expired on {}.",
                    chrono::DateTime::from_timestamp(issued.exp, 0)
                        .map(super::format_ms)
                        .unwrap_or_default()
                ),
            ));
        }
        return Ok(issued.username.clone());
    }
    let decodable = {
        let parts: Vec<&str> = token.split('.').collect();
        parts.len() == 3
            && parts[..2].iter().all(|part| {
                URL_SAFE_NO_PAD
                    .decode(part.trim_end_matches('='))
                    .ok()
                    .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
                    .is_some_and(|v| v.is_object())
            })
    };
    if decodable {
        // A real JWT this server cannot verify (another pool, issuer or key): Avni's 500.
        Err(fail(
            StatusCode::INTERNAL_SERVER_ERROR,
            "com.auth0.jwt.exceptions.SignatureVerificationException: The Token's Signature resulted invalid when verified using the Algorithm: SHA256withRSA",
        ))
    } else {
        Err(fail(
            StatusCode::UNAUTHORIZED,
            "com.auth0.jwt.exceptions.JWTDecodeException: The token was expected to have 3 parts",
        ))
    }
}

/// The middleware guarding `/api/**` (except generateToken) and `/media/**`.
pub(crate) async fn require_auth(
    State(shared): State<Shared>,
    mut request: Request,
    next: Next,
) -> Response {
    if !needs_auth(request.uri().path()) {
        return next.run(request).await;
    }
    let user = if matches!(shared.config.auth, AvniAuth::None) {
        request
            .headers()
            .get("user-name")
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty())
            .unwrap_or("admin")
            .to_owned()
    } else {
        let Some(token) = presented_token(&request) else {
            return StatusCode::UNAUTHORIZED.into_response();
        };
        match verify(&shared.db(), &token) {
            Ok(user) => user,
            Err(refusal) => return refusal.into_response(),
        }
    };
    request.extensions_mut().insert(AuthUser(user));
    next.run(request).await
}
