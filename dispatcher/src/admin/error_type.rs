//! `/int/errorType`: the tenant's error classification rules. JSON speaks enum names
//! (`CONTAINS`, `Terminal`); the table keeps the original's ordinal strings and may hold names,
//! both read through `avni_int_shared::classify`. Also "retry now" of every record whose newest
//! error is of a type.

use super::error::{check_len, check_present, ApiError};
use super::error_log::{retry_error_type, RetryOutcome};
use super::extract::{path_id, JsonBody, QueryParams};
use super::paging::{Page, PageRequest};
use super::session::CurrentUser;
use super::AdminState;
use avni_int_shared::classify::{Classifier, ComparisonOperator, ErrorType, FollowUpStep};
use avni_int_shared::IntegrationSystemId;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;

pub fn routes() -> Router<AdminState> {
    Router::new()
        .route("/errorType", get(list).post(create))
        .route("/errorType/{id}", get(one).put(update).delete(void))
        .route("/errorType/{id}/retry", post(retry_now))
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct ErrorTypeJson {
    pub id: i32,
    pub uuid: Option<String>,
    pub name: Option<String>,
    /// `EQUALS`, `CONTAINS` or `MATCHES`; an unreadable stored value is shown as stored.
    pub comparison_operator: Option<String>,
    pub comparison_value: Option<String>,
    /// `Process`, `Terminal`, `Internal` or `External`.
    pub follow_up_step: Option<String>,
    pub required_action: Option<String>,
    pub voided: bool,
    pub integration_system_id: i32,
}

impl ErrorTypeJson {
    /// Stored ordinals (or names) become names.
    fn decoded(mut self) -> Self {
        self.comparison_operator = self.comparison_operator.map(|stored| {
            stored
                .parse::<ComparisonOperator>()
                .map_or(stored, |op| op.name().to_owned())
        });
        self.follow_up_step = self.follow_up_step.map(|stored| {
            stored
                .parse::<FollowUpStep>()
                .map_or(stored, |step| step.name().to_owned())
        });
        self
    }
}

const COLUMNS: &str = "SELECT id, uuid, name, comparison_operator, comparison_value,
        follow_up_step, required_action, coalesce(is_voided, false) AS voided,
        integration_system_id FROM error_type";

const SORTABLE: &[(&str, &str)] = &[("id", "id"), ("name", "name")];

/// The tenant's error types that are not voided, one page.
pub async fn list_error_types(
    pool: &PgPool,
    tenant: IntegrationSystemId,
    page: &PageRequest,
) -> Result<Page<ErrorTypeJson>, ApiError> {
    let order = page.order_by(SORTABLE, "id", "id")?;
    let sql = format!(
        "{COLUMNS} WHERE integration_system_id = $1 AND NOT coalesce(is_voided, false)
          ORDER BY {order} LIMIT $2 OFFSET $3"
    );
    let rows: Vec<ErrorTypeJson> = sqlx::query_as(&sql)
        .bind(tenant)
        .bind(page.limit())
        .bind(page.offset())
        .fetch_all(pool)
        .await?;
    let total: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM error_type
          WHERE integration_system_id = $1 AND NOT coalesce(is_voided, false)",
    )
    .bind(tenant)
    .fetch_one(pool)
    .await?;
    Ok(Page::new(rows, total, page.clone()).map(ErrorTypeJson::decoded))
}

/// Every error type of the tenant that is not voided, by id.
pub async fn all_error_types(
    pool: &PgPool,
    tenant: IntegrationSystemId,
) -> Result<Vec<ErrorTypeJson>, ApiError> {
    let sql = format!(
        "{COLUMNS} WHERE integration_system_id = $1 AND NOT coalesce(is_voided, false) ORDER BY id"
    );
    let rows: Vec<ErrorTypeJson> = sqlx::query_as(&sql).bind(tenant).fetch_all(pool).await?;
    Ok(rows.into_iter().map(ErrorTypeJson::decoded).collect())
}

/// The tenant's error types with these ids, voided ones included (old logs refer to them).
pub async fn error_types_by_ids(
    pool: &PgPool,
    tenant: IntegrationSystemId,
    ids: &[i32],
) -> Result<Vec<ErrorTypeJson>, ApiError> {
    let sql = format!("{COLUMNS} WHERE integration_system_id = $1 AND id = ANY($2) ORDER BY id");
    let rows: Vec<ErrorTypeJson> = sqlx::query_as(&sql)
        .bind(tenant)
        .bind(ids)
        .fetch_all(pool)
        .await?;
    Ok(rows.into_iter().map(ErrorTypeJson::decoded).collect())
}

pub async fn get_error_type(
    pool: &PgPool,
    tenant: IntegrationSystemId,
    id: i32,
) -> Result<ErrorTypeJson, ApiError> {
    error_types_by_ids(pool, tenant, &[id])
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::not_found(format!("error type {id}")))
}

/// A create or update as the app sends it (unknown fields such as `id` are ignored).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorTypeBody {
    pub name: String,
    #[serde(default)]
    pub comparison_operator: Option<String>,
    #[serde(default)]
    pub comparison_value: Option<String>,
    #[serde(default)]
    pub follow_up_step: Option<String>,
    #[serde(default)]
    pub required_action: Option<String>,
}

/// A body checked and encoded for the table.
struct ValidType {
    name: String,
    operator: Option<&'static str>,
    value: Option<String>,
    follow_up: &'static str,
    required_action: Option<String>,
}

fn non_blank(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.trim().is_empty())
}

fn validate(body: ErrorTypeBody) -> Result<ValidType, ApiError> {
    let name = body.name.trim().to_owned();
    check_present("name", &name)?;
    check_len("name", &name, 250)?;
    let operator = non_blank(body.comparison_operator)
        .map(|text| {
            text.parse::<ComparisonOperator>().map_err(|_| {
                ApiError::bad(
                    "comparisonOperator",
                    format!("expected EQUALS, CONTAINS or MATCHES, got {text:?}"),
                )
            })
        })
        .transpose()?;
    let value = non_blank(body.comparison_value);
    match (operator, &value) {
        (Some(_), None) => {
            return Err(ApiError::bad(
                "comparisonValue",
                "is required with a comparisonOperator",
            ))
        }
        (None, Some(_)) => {
            return Err(ApiError::bad(
                "comparisonOperator",
                "is required with a comparisonValue",
            ))
        }
        _ => {}
    }
    let follow_up = match non_blank(body.follow_up_step) {
        None => FollowUpStep::Process,
        Some(text) => text.parse::<FollowUpStep>().map_err(|_| {
            ApiError::bad(
                "followUpStep",
                format!("expected Process, Terminal, Internal or External, got {text:?}"),
            )
        })?,
    };
    // Checked by the classifier itself, so what is accepted here is what it can use.
    let probe = Classifier::new(
        vec![ErrorType {
            id: 0,
            name: name.clone(),
            operator,
            comparison_value: value.clone(),
            follow_up,
            required_action: None,
        }],
        false,
    );
    if let Some(broken) = probe.broken_rules().first() {
        return Err(ApiError::bad(
            "comparisonValue",
            format!("not a valid regular expression: {}", broken.reason),
        ));
    }
    Ok(ValidType {
        name,
        operator: operator.map(ComparisonOperator::ordinal),
        value,
        follow_up: follow_up.ordinal(),
        required_action: non_blank(body.required_action),
    })
}

/// Another live type of the tenant already has this name (the seeding key): 400 on `name`.
async fn check_unique_name(
    pool: &PgPool,
    tenant: IntegrationSystemId,
    name: &str,
    except: Option<i32>,
) -> Result<(), ApiError> {
    let taken: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM error_type
                         WHERE integration_system_id = $1 AND name = $2
                           AND NOT coalesce(is_voided, false) AND id IS DISTINCT FROM $3)",
    )
    .bind(tenant)
    .bind(name)
    .bind(except)
    .fetch_one(pool)
    .await?;
    if taken {
        return Err(ApiError::bad("name", format!("{name:?} already exists")));
    }
    Ok(())
}

pub async fn create_error_type(
    pool: &PgPool,
    tenant: IntegrationSystemId,
    body: ErrorTypeBody,
) -> Result<ErrorTypeJson, ApiError> {
    let valid = validate(body)?;
    check_unique_name(pool, tenant, &valid.name, None).await?;
    let id: i32 = sqlx::query_scalar(
        "INSERT INTO error_type (name, integration_system_id, comparison_operator,
                                 comparison_value, follow_up_step, required_action, uuid, is_voided)
         VALUES ($1, $2, $3, $4, $5, $6, gen_random_uuid()::text, false) RETURNING id",
    )
    .bind(&valid.name)
    .bind(tenant)
    .bind(valid.operator)
    .bind(&valid.value)
    .bind(valid.follow_up)
    .bind(&valid.required_action)
    .fetch_one(pool)
    .await?;
    get_error_type(pool, tenant, id).await
}

pub async fn update_error_type(
    pool: &PgPool,
    tenant: IntegrationSystemId,
    id: i32,
    body: ErrorTypeBody,
) -> Result<ErrorTypeJson, ApiError> {
    get_error_type(pool, tenant, id).await?;
    let valid = validate(body)?;
    check_unique_name(pool, tenant, &valid.name, Some(id)).await?;
    sqlx::query(
        "UPDATE error_type SET name = $3, comparison_operator = $4, comparison_value = $5,
                               follow_up_step = $6, required_action = $7
          WHERE id = $1 AND integration_system_id = $2",
    )
    .bind(id)
    .bind(tenant)
    .bind(&valid.name)
    .bind(valid.operator)
    .bind(&valid.value)
    .bind(valid.follow_up)
    .bind(&valid.required_action)
    .execute(pool)
    .await?;
    get_error_type(pool, tenant, id).await
}

/// Voids the type (logs keep referring to it); the classifier no longer uses it.
pub async fn void_error_type(
    pool: &PgPool,
    tenant: IntegrationSystemId,
    id: i32,
) -> Result<ErrorTypeJson, ApiError> {
    let updated = sqlx::query(
        "UPDATE error_type SET is_voided = true WHERE id = $1 AND integration_system_id = $2",
    )
    .bind(id)
    .bind(tenant)
    .execute(pool)
    .await?;
    if updated.rows_affected() == 0 {
        return Err(ApiError::not_found(format!("error type {id}")));
    }
    get_error_type(pool, tenant, id).await
}

/// `?ids=` gives those rows; `page`/`size` a page; neither the bare array the app also reads.
async fn list(
    State(state): State<AdminState>,
    user: CurrentUser,
    query: QueryParams,
) -> Result<Response, ApiError> {
    let pool = state.store.pool();
    if let Some(ids) = query.ids()? {
        return Ok(Json(error_types_by_ids(pool, user.tenant, &ids).await?).into_response());
    }
    let page = PageRequest::from_query(&query)?;
    if PageRequest::requested(&query) {
        return Ok(Json(list_error_types(pool, user.tenant, &page).await?).into_response());
    }
    // Validates a `sort` even where the bare array ignores it.
    page.order_by(SORTABLE, "id", "id")?;
    Ok(Json(all_error_types(pool, user.tenant).await?).into_response())
}

async fn one(
    State(state): State<AdminState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<Json<ErrorTypeJson>, ApiError> {
    let id = path_id(&id, "error type")?;
    Ok(Json(
        get_error_type(state.store.pool(), user.tenant, id).await?,
    ))
}

async fn create(
    State(state): State<AdminState>,
    user: CurrentUser,
    JsonBody(body): JsonBody<ErrorTypeBody>,
) -> Result<Json<ErrorTypeJson>, ApiError> {
    // 200 with the row, as the original's controller answered.
    Ok(Json(
        create_error_type(state.store.pool(), user.tenant, body).await?,
    ))
}

async fn update(
    State(state): State<AdminState>,
    user: CurrentUser,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<ErrorTypeBody>,
) -> Result<Json<ErrorTypeJson>, ApiError> {
    let id = path_id(&id, "error type")?;
    Ok(Json(
        update_error_type(state.store.pool(), user.tenant, id, body).await?,
    ))
}

async fn void(
    State(state): State<AdminState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<Json<ErrorTypeJson>, ApiError> {
    let id = path_id(&id, "error type")?;
    Ok(Json(
        void_error_type(state.store.pool(), user.tenant, id).await?,
    ))
}

async fn retry_now(
    State(state): State<AdminState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<RetryOutcome>), ApiError> {
    let id = path_id(&id, "error type")?;
    let outcome = retry_error_type(&state, user.tenant, id).await?;
    Ok((StatusCode::ACCEPTED, Json(outcome)))
}
