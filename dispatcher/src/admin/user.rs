//! `/int/user`: the admin users of the caller's integration system. Users are created here
//! within the caller's tenant only; moving a user to another tenant is the operator's CLI.

use super::error::ApiError;
use super::extract::{path_id, JsonBody, QueryParams};
use super::paging::{Page, PageRequest};
use super::session::{self, CurrentUser, UserJson, USER_COLUMNS};
use super::AdminState;
use crate::users::{self, UsersError};
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use sqlx::PgPool;

pub fn routes() -> Router<AdminState> {
    Router::new()
        .route("/user", get(list).post(create))
        .route("/user/{id}", get(one).put(update).delete(void))
}

const SORTABLE: &[(&str, &str)] = &[
    ("id", "id"),
    ("email", "lower(email)"),
    ("uuid", "uuid"),
    (
        "workingIntegrationSystemId",
        "working_integration_system_id",
    ),
    ("voided", "coalesce(is_voided, false)"),
];

impl From<UsersError> for ApiError {
    fn from(error: UsersError) -> Self {
        match error {
            UsersError::InvalidEmail(why) => ApiError::bad("email", why),
            UsersError::DuplicateEmail(_) => {
                ApiError::bad("email", "is already used by another user")
            }
            UsersError::InvalidPassword(why) => ApiError::bad("password", why),
            UsersError::UnknownTenant(_) | UsersError::AmbiguousTenant(_) => {
                ApiError::bad("workingIntegrationSystemId", error.to_string())
            }
            UsersError::UnknownUser(email) => ApiError::not_found(format!("user {email}")),
            UsersError::Hash(_) | UsersError::Database(_) => ApiError::Internal(error.to_string()),
        }
    }
}

/// The user `id` if it belongs to `tenant` (voided ones too when `include_voided`).
async fn find(
    pool: &PgPool,
    tenant: &CurrentUser,
    id: i32,
    include_voided: bool,
) -> Result<UserJson, ApiError> {
    sqlx::query_as(&format!(
        "SELECT {USER_COLUMNS} FROM users WHERE id = $1 AND working_integration_system_id = $2
           AND ($3 OR NOT coalesce(is_voided, false))"
    ))
    .bind(id)
    .bind(tenant.tenant.0)
    .bind(include_voided)
    .fetch_optional(pool)
    .await?
    .ok_or_else(|| ApiError::not_found(format!("user {id}")))
}

/// Only the caller's own tenant may be named; other tenants are the operator's business.
fn check_own_tenant(user: &CurrentUser, requested: Option<i32>) -> Result<(), ApiError> {
    match requested {
        Some(id) if id != user.tenant.0 => Err(ApiError::bad(
            "workingIntegrationSystemId",
            format!(
                "must be your own integration system ({}); moving users between systems is done with `avni-int-dispatcher user set-tenant`",
                user.tenant.0
            ),
        )),
        _ => Ok(()),
    }
}

/// `GET /int/user[?ids=…|?page&size&sort]`: active users of the tenant (by `ids`: voided too).
async fn list(
    State(state): State<AdminState>,
    user: CurrentUser,
    query: QueryParams,
) -> Result<Response, ApiError> {
    let pool = state.store.pool();
    if let Some(ids) = query.ids()? {
        let rows: Vec<UserJson> = sqlx::query_as(&format!(
            "SELECT {USER_COLUMNS} FROM users
             WHERE working_integration_system_id = $1 AND id = ANY($2) ORDER BY id"
        ))
        .bind(user.tenant.0)
        .bind(&ids)
        .fetch_all(pool)
        .await?;
        return Ok(Json(rows).into_response());
    }
    let request = PageRequest::from_query(&query)?;
    let order = request.order_by(SORTABLE, "id", "id")?;
    let active = "working_integration_system_id = $1 AND NOT coalesce(is_voided, false)";
    if !PageRequest::requested(&query) {
        let rows: Vec<UserJson> = sqlx::query_as(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE {active} ORDER BY {order}"
        ))
        .bind(user.tenant.0)
        .fetch_all(pool)
        .await?;
        return Ok(Json(rows).into_response());
    }
    let total: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM users WHERE {active}"))
        .bind(user.tenant.0)
        .fetch_one(pool)
        .await?;
    let rows: Vec<UserJson> = sqlx::query_as(&format!(
        "SELECT {USER_COLUMNS} FROM users WHERE {active} ORDER BY {order} LIMIT $2 OFFSET $3"
    ))
    .bind(user.tenant.0)
    .bind(request.limit())
    .bind(request.offset())
    .fetch_all(pool)
    .await?;
    Ok(Json(Page::new(rows, total, request)).into_response())
}

/// `GET /int/user/{id}` (voided users too, so a voided row can still be shown).
async fn one(
    State(state): State<AdminState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<Json<UserJson>, ApiError> {
    Ok(Json(
        find(state.store.pool(), &user, path_id(&id, "user")?, true).await?,
    ))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NewUser {
    email: String,
    working_integration_system_id: Option<i32>,
    /// Without one the user cannot log in until an operator sets a password.
    password: Option<String>,
}

/// `POST /int/user {email, workingIntegrationSystemId, password?}`.
async fn create(
    State(state): State<AdminState>,
    user: CurrentUser,
    JsonBody(body): JsonBody<NewUser>,
) -> Result<Json<UserJson>, ApiError> {
    check_own_tenant(&user, body.working_integration_system_id)?;
    let email = users::validate_email(&body.email)?;
    let hash = users::hash_off_thread(body.password).await?;
    let pool = state.store.pool();
    let id = users::insert_user(pool, &email, user.tenant, &hash).await?;
    tracing::info!(by = %user.email, email = %email, id, "user created");
    Ok(Json(find(pool, &user, id, false).await?))
}

/// The admin app sends the whole record back; only these fields can change.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UserUpdate {
    email: Option<String>,
    working_integration_system_id: Option<i32>,
}

/// `PUT /int/user/{id} {email, workingIntegrationSystemId}`.
async fn update(
    State(state): State<AdminState>,
    user: CurrentUser,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<UserUpdate>,
) -> Result<Json<UserJson>, ApiError> {
    let pool = state.store.pool();
    let current = find(pool, &user, path_id(&id, "user")?, false).await?;
    check_own_tenant(&user, body.working_integration_system_id)?;
    if let Some(email) = body.email.filter(|e| e.trim() != current.email) {
        users::change_email(pool, current.id, &email).await?;
    }
    Ok(Json(find(pool, &user, current.id, true).await?))
}

/// `DELETE /int/user/{id}`: voids the user and ends their sessions at once.
async fn void(
    State(state): State<AdminState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<Json<UserJson>, ApiError> {
    let pool = state.store.pool();
    let target = find(pool, &user, path_id(&id, "user")?, false).await?;
    if target.id == user.user_id {
        return Err(ApiError::bad("id", "you cannot void yourself"));
    }
    let mut tx = pool.begin().await?;
    sqlx::query("UPDATE users SET is_voided = true WHERE id = $1")
        .bind(target.id)
        .execute(&mut *tx)
        .await?;
    let ended = session::end_sessions_of(&mut *tx, target.id).await?;
    tx.commit().await?;
    tracing::info!(by = %user.email, email = %target.email, sessions_ended = ended, "user voided");
    Ok(Json(find(pool, &user, target.id, true).await?))
}
