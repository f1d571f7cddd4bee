//! Reading and changing a tenant's error logs: the list (filtered, sorted, paged and counted
//! from the per-tenant index of migration 0008), one log, and the `processingDisabled` switch.
//! Shared by the `/int/errorRecordLog` handlers and the built-in web UI.

use crate::admin::error::ApiError;
use crate::admin::extract::QueryParams;
use crate::admin::paging::{Page, PageRequest};
use avni_int_shared::IntegrationSystemId;
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use serde::Serialize;
use sqlx::{PgPool, Postgres, QueryBuilder};

/// One log as the admin app reads it: the log, its record's state and its type's action.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct ErrorLogJson {
    /// The log's id (the app opens and updates logs by it).
    pub id: i32,
    /// The error type's id.
    pub error_type: i32,
    pub error_type_name: Option<String>,
    pub required_action: Option<String>,
    pub logged_at: NaiveDateTime,
    pub avni_entity_type: Option<String>,
    pub integrating_entity_type: Option<String>,
    pub entity_id: String,
    pub error_msg: Option<String>,
    pub error_body: Option<serde_json::Value>,
    pub processing_disabled: bool,
    pub retry_count: i32,
    pub next_retry_at: Option<DateTime<Utc>>,
    pub gave_up_at: Option<DateTime<Utc>>,
    /// The tenant's id.
    pub integration_system: i32,
    /// The tenant's instance name.
    pub integration_system_instance: Option<String>,
}

/// What the searches narrow the list by; every part is optional and they combine with AND.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogFilter {
    /// Substring of the entity id (case-insensitive).
    pub entity_id: Option<String>,
    pub error_type: Option<i32>,
    /// Logged on or after this day.
    pub start_date: Option<NaiveDate>,
    /// Logged on or before this day (the whole day counts).
    pub end_date: Option<NaiveDate>,
}

impl LogFilter {
    /// Reads `entityId`, `errorType`, `startDate` and `endDate` (yyyy-MM-dd); a value that
    /// does not parse is a 400 naming its parameter.
    pub fn from_query(query: &QueryParams) -> Result<Self, ApiError> {
        let filter = LogFilter {
            entity_id: query.get("entityId").map(str::to_owned),
            error_type: query.parse_opt("errorType", "an error type id")?,
            start_date: date_param(query, "startDate")?,
            end_date: date_param(query, "endDate")?,
        };
        if let (Some(start), Some(end)) = (filter.start_date, filter.end_date) {
            if end < start {
                return Err(ApiError::bad("endDate", "must not be before startDate"));
            }
        }
        Ok(filter)
    }

    fn push_conditions(&self, sql: &mut QueryBuilder<'_, Postgres>, tenant: IntegrationSystemId) {
        sql.push(" WHERE l.integration_system_id = ")
            .push_bind(tenant);
        if let Some(error_type) = self.error_type {
            sql.push(" AND l.error_type_id = ").push_bind(error_type);
        }
        if let Some(start) = self.start_date {
            sql.push(" AND l.logged_at >= ")
                .push_bind(start.and_time(NaiveTime::MIN));
        }
        if let Some(end) = self.end_date.and_then(|d| d.succ_opt()) {
            sql.push(" AND l.logged_at < ")
                .push_bind(end.and_time(NaiveTime::MIN));
        }
        if let Some(entity) = &self.entity_id {
            sql.push(
                " AND l.error_record_id IN (SELECT er.id FROM error_record er
                                             WHERE er.integration_system_id = ",
            )
            .push_bind(tenant)
            .push(" AND er.entity_id ILIKE ")
            .push_bind(format!("%{}%", escape_like(entity)))
            .push(")");
        }
    }
}

fn date_param(query: &QueryParams, name: &str) -> Result<Option<NaiveDate>, ApiError> {
    query.date(name)
}

/// `%`, `_` and `\` in a search are literal characters, not patterns.
fn escape_like(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// Sortable fields: API name → SQL over `l` (log) and `r` (record).
const SORTABLE: &[(&str, &str)] = &[
    ("id", "l.id"),
    ("loggedAt", "l.logged_at"),
    ("entityId", "r.entity_id"),
    ("errorType", "l.error_type_id"),
];

const SELECT_JSON: &str = "SELECT l.id, l.error_type_id AS error_type, t.name AS error_type_name,
        t.required_action, l.logged_at, r.avni_entity_type, r.integrating_entity_type,
        r.entity_id, l.error_msg, l.error_body, r.processing_disabled, r.retry_count,
        r.next_retry_at, r.gave_up_at, r.integration_system_id AS integration_system,
        s.name AS integration_system_instance";

const JOIN_DETAILS: &str = " JOIN error_record r ON r.id = l.error_record_id
        LEFT JOIN error_type t ON t.id = l.error_type_id
        LEFT JOIN integration_system s ON s.id = r.integration_system_id";

/// A page of the tenant's logs (newest first unless sorted otherwise) and how many match.
pub async fn list_logs(
    pool: &PgPool,
    tenant: IntegrationSystemId,
    filter: &LogFilter,
    page: &PageRequest,
) -> Result<Page<ErrorLogJson>, ApiError> {
    // The tiebreak follows the first order's direction so the tenant index serves both.
    let descending = page.sort.first().is_none_or(|s| s.descending);
    let tiebreak = if descending { "l.id DESC" } else { "l.id ASC" };
    let order = page.order_by(SORTABLE, "l.logged_at DESC", tiebreak)?;
    let needs_record = page.sort.iter().any(|s| s.field == "entityId");

    // Ids of the page first (an index-only scan for a deep offset), details for those only.
    let mut sql = QueryBuilder::<Postgres>::new(SELECT_JSON);
    sql.push(" FROM (SELECT l.id FROM error_record_log l");
    if needs_record {
        sql.push(" JOIN error_record r ON r.id = l.error_record_id");
    }
    filter.push_conditions(&mut sql, tenant);
    sql.push(format_args!(" ORDER BY {order} LIMIT "))
        .push_bind(page.limit())
        .push(" OFFSET ")
        .push_bind(page.offset())
        .push(") p JOIN error_record_log l ON l.id = p.id")
        .push(JOIN_DETAILS)
        .push(" WHERE r.integration_system_id = ")
        .push_bind(tenant)
        .push(format_args!(" ORDER BY {order}"));
    let content: Vec<ErrorLogJson> = sql.build_query_as().fetch_all(pool).await?;

    let mut count = QueryBuilder::<Postgres>::new("SELECT count(*) FROM error_record_log l");
    filter.push_conditions(&mut count, tenant);
    let total: i64 = count.build_query_scalar().fetch_one(pool).await?;
    Ok(Page::new(content, total, page.clone()))
}

/// One log of the tenant; another tenant's log is not found.
pub async fn get_log(
    pool: &PgPool,
    tenant: IntegrationSystemId,
    log_id: i32,
) -> Result<ErrorLogJson, ApiError> {
    let sql = format!(
        "{SELECT_JSON} FROM error_record_log l {JOIN_DETAILS}
          WHERE l.id = $1 AND r.integration_system_id = $2"
    );
    sqlx::query_as(&sql)
        .bind(log_id)
        .bind(tenant)
        .fetch_optional(pool)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("error record log {log_id}")))
}

/// Sets `processing_disabled` on the log's record (the original's "resolve" switch) and
/// returns the log as it now reads.
pub async fn set_processing_disabled(
    pool: &PgPool,
    tenant: IntegrationSystemId,
    log_id: i32,
    disabled: bool,
) -> Result<ErrorLogJson, ApiError> {
    let updated = sqlx::query(
        "UPDATE error_record r SET processing_disabled = $3
           FROM error_record_log l
          WHERE l.id = $1 AND r.id = l.error_record_id AND r.integration_system_id = $2",
    )
    .bind(log_id)
    .bind(tenant)
    .bind(disabled)
    .execute(pool)
    .await?;
    if updated.rows_affected() == 0 {
        return Err(ApiError::not_found(format!("error record log {log_id}")));
    }
    get_log(pool, tenant, log_id).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(query: &str) -> Result<LogFilter, ApiError> {
        LogFilter::from_query(&QueryParams::parse(query).unwrap())
    }

    #[test]
    fn bad_filter_values_name_their_parameter() {
        for (query, field) in [
            ("startDate=2024-13-01", "startDate"),
            ("endDate=yesterday", "endDate"),
            ("errorType=abc", "errorType"),
            ("startDate=2024-02-02&endDate=2024-02-01", "endDate"),
        ] {
            match filter(query) {
                Err(ApiError::BadRequest { field: f, .. }) => assert_eq!(f, field, "{query}"),
                other => panic!("{query}: expected 400 on {field}, got {other:?}"),
            }
        }
    }

    #[test]
    fn like_patterns_in_a_search_are_literal() {
        assert_eq!(escape_like(r"a%b_c\d"), r"a\%b\_c\\d");
        let f =
            filter("entityId=ENT-1&errorType=3&startDate=2024-01-01&endDate=2024-01-31").unwrap();
        assert_eq!(f.error_type, Some(3));
        assert_eq!(f.end_date, NaiveDate::from_ymd_opt(2024, 1, 31));
    }
}
