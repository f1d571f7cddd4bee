//! Form login against `users` (bcrypt, hashes made by the original keep working), server-side
//! sessions in Postgres (any replica serves them, a restart keeps them), logout that ends the
//! session on the server, and the guard that answers 403 to everything without a session.

use super::error::ApiError;
use super::AdminState;
use avni_int_shared::IntegrationSystemId;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};
use base64::Engine;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::PgPool;

/// The cookie name the original (Spring) used, so scripts that carry it keep working.
pub const SESSION_COOKIE: &str = "JSESSIONID";

/// Who is calling, and the tenant every query of this request is scoped to.
#[derive(Debug, Clone)]
pub struct CurrentUser {
    pub user_id: i32,
    pub email: String,
    pub tenant: IntegrationSystemId,
    /// The session's synchronizer token (the UI puts it in every form).
    pub csrf_token: String,
}

impl<S: Send + Sync> FromRequestParts<S> for CurrentUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<CurrentUser>()
            .cloned()
            .ok_or(ApiError::Forbidden("log in first"))
    }
}

/// The user as `/int/currentUser` and `/int/user` show it: never the password hash.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct UserJson {
    pub id: i32,
    pub uuid: String,
    pub email: String,
    pub working_integration_system_id: i32,
    #[serde(rename = "voided")]
    pub is_voided: bool,
}

pub const USER_COLUMNS: &str = "id, uuid, email, working_integration_system_id, \
     coalesce(is_voided, false) AS is_voided";

/// Random 256-bit token, URL-safe.
fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn token_hash(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn session_cookie(state: &AdminState, token: &str) -> String {
    let secure = if state.config.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    format!(
        "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
        state.config.session_ttl.as_secs()
    )
}

fn cleared_cookie() -> String {
    format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0")
}

pub fn cookie_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value)
        .filter(|value| !value.is_empty())
}

#[derive(sqlx::FromRow)]
struct SessionRow {
    user_id: i32,
    email: String,
    working_integration_system_id: i32,
    csrf_token: String,
    refresh_due: bool,
}

/// The session behind `token`, if it is live and its user still exists and is not voided.
/// Extends a session at most once a minute, so reads do not write on every request.
pub async fn lookup(
    pool: &PgPool,
    token: &str,
    ttl: std::time::Duration,
) -> Result<Option<CurrentUser>, ApiError> {
    let hash = token_hash(token);
    let row: Option<SessionRow> = sqlx::query_as(
        "SELECT s.user_id, u.email, u.working_integration_system_id, s.csrf_token,
                s.last_seen_at < now() - interval '1 minute' AS refresh_due
         FROM int_session s JOIN users u ON u.id = s.user_id
         WHERE s.token_hash = $1 AND s.expires_at > now() AND NOT coalesce(u.is_voided, false)",
    )
    .bind(&hash)
    .fetch_optional(pool)
    .await?;
    let Some(row) = row else { return Ok(None) };
    if row.refresh_due {
        sqlx::query(
            "UPDATE int_session SET last_seen_at = now(),
                expires_at = now() + make_interval(secs => $2) WHERE token_hash = $1",
        )
        .bind(&hash)
        .bind(ttl.as_secs_f64())
        .execute(pool)
        .await?;
    }
    Ok(Some(CurrentUser {
        user_id: row.user_id,
        email: row.email,
        tenant: IntegrationSystemId(row.working_integration_system_id),
        csrf_token: row.csrf_token,
    }))
}

/// Middleware for every protected route: a live session or 403.
pub async fn require_session(
    State(state): State<AdminState>,
    mut request: Request,
    next: Next,
) -> Response {
    let Some(token) = cookie_token(request.headers()).map(str::to_owned) else {
        return ApiError::Forbidden("log in first").into_response();
    };
    match lookup(state.store.pool(), &token, state.config.session_ttl).await {
        Ok(Some(user)) => {
            request.extensions_mut().insert(user);
            next.run(request).await
        }
        Ok(None) => ApiError::Forbidden("session expired or ended; log in again").into_response(),
        Err(error) => error.into_response(),
    }
}

/// Middleware for every route: a state-changing request must come from our own pages (or from
/// a non-browser client, which sends no `Origin`). With SameSite=Lax cookies and the UI's form
/// tokens this closes cross-site request forgery without changing what the admin app sends.
pub async fn refuse_cross_site(request: Request, next: Next) -> Response {
    if !matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    ) && is_cross_site(request.headers())
    {
        return ApiError::Forbidden("cross-site request refused").into_response();
    }
    next.run(request).await
}

fn is_cross_site(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        if !matches!(site, "same-origin" | "none") {
            return true;
        }
    }
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let origin_host = origin
        .split_once("://")
        .map(|(_, rest)| rest)
        .unwrap_or(origin)
        .trim_end_matches('/');
    // Behind a reverse proxy that rewrites Host, the browser's host arrives as
    // X-Forwarded-Host. A cross-site page cannot set that header without a CORS preflight,
    // which this server never grants, so trusting it opens nothing.
    let served_as = [header::HOST.as_str(), "x-forwarded-host"]
        .into_iter()
        .filter_map(|name| {
            let value = headers.get(name)?.to_str().ok()?;
            value.split(',').next().map(str::trim)
        });
    origin == "null"
        || !served_as
            .into_iter()
            .any(|host| origin_host.eq_ignore_ascii_case(host))
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(alias = "username")]
    pub email: Option<String>,
    pub password: Option<String>,
}

/// Failed logins allowed per email within [`THROTTLE_WINDOW_SECS`] before logins are refused.
pub const MAX_FAILED_LOGINS: i64 = 5;
pub const THROTTLE_WINDOW_SECS: i64 = 900;

/// A hash to verify against when the email is unknown, so both cases take the same time.
const DUMMY_HASH: &str = "$2a$10$7EqJtq98hPqEX7fNZaFWoOhi5BWX4Z9fc.pWtqU6mQp/lvKpm1Fzq";

/// Checks the credentials and opens a session; the throttle is per email.
///
/// Each attempt is counted as a failure before the password is checked (and forgiven when it
/// matches), under a per-email lock: parallel guesses cannot slip past the limit.
pub async fn login(
    state: &AdminState,
    email: &str,
    password: &str,
) -> Result<(CurrentUser, String), ApiError> {
    let pool = state.store.pool();
    let key = email.trim().to_lowercase();
    sweep_expired(pool).await?;
    let attempt = claim_attempt(pool, &key).await?;
    let user: Option<(i32, String, String, i32)> = sqlx::query_as(
        "SELECT id, email, password, working_integration_system_id FROM users
         WHERE lower(email) = $1 AND NOT coalesce(is_voided, false) ORDER BY id LIMIT 1",
    )
    .bind(&key)
    .fetch_optional(pool)
    .await?;
    let hash = user
        .as_ref()
        .map(|u| u.2.clone())
        .unwrap_or_else(|| DUMMY_HASH.to_owned());
    let candidate = password.to_owned();
    // bcrypt costs tens of milliseconds of CPU: keep it off the async threads.
    let matches = tokio::task::spawn_blocking(move || bcrypt::verify(candidate, &hash))
        .await
        .map_err(|e| ApiError::Internal(format!("password check panicked: {e}")))?
        .unwrap_or(false);
    let Some((user_id, email, _, tenant)) = user.filter(|_| matches) else {
        tracing::info!(email = %key, attempt, "failed login");
        return Err(ApiError::BadCredentials);
    };
    // Success forgives this attempt and the earlier failures.
    sqlx::query("DELETE FROM int_login_failure WHERE email = $1")
        .bind(&key)
        .execute(pool)
        .await?;
    let token = new_token();
    let csrf_token = new_token();
    sqlx::query(
        "INSERT INTO int_session (token_hash, user_id, csrf_token, expires_at)
         VALUES ($1, $2, $3, now() + make_interval(secs => $4))",
    )
    .bind(token_hash(&token))
    .bind(user_id)
    .bind(&csrf_token)
    .bind(state.config.session_ttl.as_secs_f64())
    .execute(pool)
    .await?;
    tracing::info!(user = %email, tenant, "logged in");
    Ok((
        CurrentUser {
            user_id,
            email,
            tenant: IntegrationSystemId(tenant),
            csrf_token,
        },
        token,
    ))
}

/// Records an attempt for `key` unless it already failed [`MAX_FAILED_LOGINS`] times within the
/// window (then 429, with the seconds until the oldest counted failure ages out).
async fn claim_attempt(pool: &PgPool, key: &str) -> Result<i64, ApiError> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('avni-int login ' || $1))")
        .bind(key)
        .execute(&mut *tx)
        .await?;
    let recent: Vec<f64> = sqlx::query_scalar(
        "SELECT extract(epoch FROM (failed_at + make_interval(secs => $2) - now()))::float8
         FROM int_login_failure WHERE email = $1 AND failed_at > now() - make_interval(secs => $2)
         ORDER BY failed_at DESC",
    )
    .bind(key)
    .bind(THROTTLE_WINDOW_SECS as f64)
    .fetch_all(&mut *tx)
    .await?;
    if recent.len() as i64 >= MAX_FAILED_LOGINS {
        // Allowed again when the count drops below the limit: when the limit-th newest expires.
        let wait = recent
            .get(MAX_FAILED_LOGINS as usize - 1)
            .copied()
            .unwrap_or(60.0);
        return Err(ApiError::Throttled {
            retry_after_secs: wait.ceil().max(1.0) as u64,
        });
    }
    sqlx::query("INSERT INTO int_login_failure (email) VALUES ($1)")
        .bind(key)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(recent.len() as i64 + 1)
}

/// Deletes ended sessions and failures older than the throttle window; logins are rare enough
/// to carry this housekeeping.
async fn sweep_expired(pool: &PgPool) -> Result<(), ApiError> {
    sqlx::query("DELETE FROM int_session WHERE expires_at <= now()")
        .execute(pool)
        .await?;
    sqlx::query(
        "DELETE FROM int_login_failure WHERE failed_at <= now() - make_interval(secs => $1)",
    )
    .bind(THROTTLE_WINDOW_SECS as f64)
    .execute(pool)
    .await?;
    Ok(())
}

/// Ends every session of `user_id` (voided, password changed).
pub async fn end_sessions_of(
    executor: impl sqlx::PgExecutor<'_>,
    user_id: i32,
) -> Result<u64, ApiError> {
    Ok(sqlx::query("DELETE FROM int_session WHERE user_id = $1")
        .bind(user_id)
        .execute(executor)
        .await?
        .rows_affected())
}

/// The fallback of the protected `/int` routes: reached only with a session (the guard runs
/// first), so callers without one cannot probe which paths exist.
pub async fn unknown_route(uri: axum::http::Uri) -> ApiError {
    ApiError::not_found(format!("route {}", uri.path()))
}

/// Ends the session behind `token` (if any).
pub async fn logout(pool: &PgPool, token: Option<&str>) -> Result<(), ApiError> {
    if let Some(token) = token {
        sqlx::query("DELETE FROM int_session WHERE token_hash = $1")
            .bind(token_hash(token))
            .execute(pool)
            .await?;
    }
    Ok(())
}

/// A `Set-Cookie` value opening the session `token`.
pub fn set_cookie(state: &AdminState, token: &str) -> Result<HeaderValue, ApiError> {
    HeaderValue::from_str(&session_cookie(state, token))
        .map_err(|e| ApiError::Internal(format!("session cookie: {e}")))
}

pub fn clear_cookie() -> HeaderValue {
    // The value is a constant of visible ASCII, which `from_static` would also accept.
    HeaderValue::from_str(&cleared_cookie()).unwrap_or(HeaderValue::from_static(""))
}

pub async fn current_user_json(pool: &PgPool, user_id: i32) -> Result<UserJson, ApiError> {
    sqlx::query_as(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
        .bind(user_id)
        .fetch_optional(pool)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("user {user_id}")))
}

/// `POST /int/login` (form `email`, `password`): 200 with the user and a session cookie.
pub async fn login_handler(
    State(state): State<AdminState>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Result<Response, ApiError> {
    let email = form.email.unwrap_or_default();
    let password = form.password.unwrap_or_default();
    if email.trim().is_empty() {
        return Err(ApiError::bad("email", "must not be blank"));
    }
    // Postgres text cannot hold NUL (the throttle and the lookup would fail with a 500).
    if email.contains('\0') {
        return Err(ApiError::bad("email", "must not contain NUL characters"));
    }
    let (user, token) = login(&state, &email, &password).await?;
    // A session presented with a login is replaced, not left open beside the new one.
    logout(state.store.pool(), cookie_token(&headers)).await?;
    let body = current_user_json(state.store.pool(), user.user_id).await?;
    let mut response = Json(body).into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, set_cookie(&state, &token)?);
    Ok(response)
}

/// `GET|POST /int/logout`: ends the session on the server; 200 even without one.
pub async fn logout_handler(
    State(state): State<AdminState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    logout(state.store.pool(), cookie_token(&headers)).await?;
    let mut response = Json(serde_json::json!({ "loggedOut": true })).into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, clear_cookie());
    Ok(response)
}

/// `GET /int/currentUser`.
pub async fn current_user_handler(
    State(state): State<AdminState>,
    user: CurrentUser,
) -> Result<Json<UserJson>, ApiError> {
    Ok(Json(
        current_user_json(state.store.pool(), user.user_id).await?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, HeaderValue::from_static(v));
        }
        map
    }

    #[test]
    fn same_origin_and_scripts_pass_cross_site_is_refused() {
        assert!(!is_cross_site(&headers(&[("host", "ops.example:6013")])));
        assert!(!is_cross_site(&headers(&[
            ("host", "ops.example:6013"),
            ("origin", "https://ops.example:6013")
        ])));
        assert!(is_cross_site(&headers(&[
            ("host", "ops.example:6013"),
            ("origin", "https://evil.example")
        ])));
        assert!(is_cross_site(&headers(&[
            ("host", "ops.example:6013"),
            ("sec-fetch-site", "cross-site")
        ])));
        assert!(!is_cross_site(&headers(&[
            ("host", "10.0.0.5:6013"),
            ("x-forwarded-host", "ops.example"),
            ("origin", "https://ops.example")
        ])));
    }

    #[test]
    fn the_unknown_email_hash_is_a_real_cost_10_hash() {
        // Otherwise an unknown email would answer faster than a wrong password.
        assert!(DUMMY_HASH.starts_with("$2a$10$"));
        assert!(!bcrypt::verify("anything", DUMMY_HASH).unwrap());
    }

    #[test]
    fn cookie_is_found_among_others() {
        let map = headers(&[("cookie", "a=1; JSESSIONID=abc; b=2")]);
        assert_eq!(cookie_token(&map), Some("abc"));
    }

    #[test]
    fn original_bcrypt_hashes_verify() {
        // Spring Security's BCryptPasswordEncoder writes $2a$10$ hashes.
        let hash = bcrypt::hash_with_result("password", 4)
            .unwrap()
            .format_for_version(bcrypt::Version::TwoA);
        assert!(hash.starts_with("$2a$04$"));
        assert!(bcrypt::verify("password", &hash).unwrap());
        assert!(!bcrypt::verify("Password", &hash).unwrap());
    }
}
