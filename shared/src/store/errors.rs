//! Classified errors: a tenant's error types, and the error records and logs written when an
//! entity fails on its data (rules of contracts/original-service.md §1, scoped by tenant), plus
//! the error job's retry bookkeeping (backoff per record, attempt limit).

use super::StoreError;
use crate::classify::{ComparisonOperator, ErrorType, FollowUpStep};
use crate::ids::IntegrationSystemId;
use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use std::time::Duration;

/// Which entity failed: an Avni entity (`avni_entity_type`: `Subject`, `Enrolment`, …) or a
/// partner entity (`integrating_entity_type`: `Demand`, `Dispatch`, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailedEntity {
    Avni { entity_type: String, id: String },
    Integrating { entity_type: String, id: String },
}

impl FailedEntity {
    fn columns(&self) -> (Option<&str>, Option<&str>, &str) {
        match self {
            FailedEntity::Avni { entity_type, id } => (Some(entity_type), None, id),
            FailedEntity::Integrating { entity_type, id } => (None, Some(entity_type), id),
        }
    }
}

/// The entity id an error is recorded under when the record has no id of its own
/// (`(no DemandId) 2026-11-28T10:00:00Z`): unique enough to keep one error per such record, and
/// readable in the admin UI. Such an error can only be fixed at the source.
pub fn keyless_entity_id(id_field: &str, stamp: &str) -> String {
    format!("{KEYLESS_PREFIX}{id_field}) {stamp}")
}

/// Whether an error's entity id was made by [`keyless_entity_id`]: there is nothing to fetch
/// the record by.
pub fn is_keyless_entity_id(id: &str) -> bool {
    id.starts_with(KEYLESS_PREFIX)
}

const KEYLESS_PREFIX: &str = "(no ";

/// A module's error type definition, seeded into each tenant (name is the key).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorTypeDef {
    pub name: &'static str,
    pub operator: Option<ComparisonOperator>,
    pub comparison_value: Option<&'static str>,
    pub follow_up: FollowUpStep,
    pub required_action: &'static str,
}

type ErrorTypeRow = (
    i32,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// The tenant's error types (not voided), by id.
pub async fn error_types(
    pool: &PgPool,
    tenant: IntegrationSystemId,
) -> Result<Vec<ErrorType>, StoreError> {
    let rows: Vec<ErrorTypeRow> = sqlx::query_as(
        "SELECT id, name, comparison_operator, comparison_value, follow_up_step, required_action
               FROM error_type
              WHERE integration_system_id = $1 AND NOT coalesce(is_voided, false)
              ORDER BY id",
    )
    .bind(tenant)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, name, operator, value, follow, action)| ErrorType {
            id,
            name: name.unwrap_or_default(),
            operator: operator.and_then(|o| o.parse().ok()),
            comparison_value: value,
            // An unreadable follow-up is treated as Process: retrying is the safe default.
            follow_up: follow
                .and_then(|f| f.parse().ok())
                .unwrap_or(FollowUpStep::Process),
            required_action: action,
        })
        .collect())
}

/// Adds the module's error types the tenant lacks (by name) and fills in a missing required
/// action. Operator rules an admin already has are never changed.
pub async fn seed_error_types(
    pool: &PgPool,
    tenant: IntegrationSystemId,
    defs: &[ErrorTypeDef],
) -> Result<(), StoreError> {
    let mut tx = pool.begin().await?;
    for def in defs {
        sqlx::query(
            "INSERT INTO error_type (name, integration_system_id, comparison_operator, comparison_value,
                                     follow_up_step, required_action, uuid)
             SELECT $1, $2, $3, $4, $5, $6, gen_random_uuid()::text
              WHERE NOT EXISTS (SELECT 1 FROM error_type WHERE integration_system_id = $2 AND name = $1)",
        )
        .bind(def.name)
        .bind(tenant)
        .bind(def.operator.map(ComparisonOperator::ordinal))
        .bind(def.comparison_value)
        .bind(def.follow_up.ordinal())
        .bind(def.required_action)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE error_type SET required_action = $3
              WHERE integration_system_id = $2 AND name = $1 AND required_action IS NULL",
        )
        .bind(def.name)
        .bind(tenant)
        .bind(def.required_action)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Records a classified error: a new record and log; or, when the last log has the same type
/// and message, only its `logged_at` moves; else a new log. Call it in the transaction that
/// also moves the step's cursor.
pub async fn record(
    conn: &mut PgConnection,
    tenant: IntegrationSystemId,
    entity: &FailedEntity,
    error_type_id: i32,
    message: &str,
    body: Option<&serde_json::Value>,
) -> Result<(), StoreError> {
    let (avni_type, integrating_type, entity_id) = entity.columns();
    let existing: Option<i32> = sqlx::query_scalar(
        "SELECT id FROM error_record
          WHERE integration_system_id = $1 AND entity_id = $2
            AND avni_entity_type IS NOT DISTINCT FROM $3
            AND integrating_entity_type IS NOT DISTINCT FROM $4
          ORDER BY id LIMIT 1 FOR UPDATE",
    )
    .bind(tenant)
    .bind(entity_id)
    .bind(avni_type)
    .bind(integrating_type)
    .fetch_optional(&mut *conn)
    .await?;
    let record_id =
        match existing {
            Some(id) => id,
            None => sqlx::query_scalar(
                "INSERT INTO error_record (integrating_entity_type, avni_entity_type, entity_id,
                                           processing_disabled, integration_system_id, uuid)
                 VALUES ($1, $2, $3, false, $4, gen_random_uuid()::text) RETURNING id",
            )
            .bind(integrating_type)
            .bind(avni_type)
            .bind(entity_id)
            .bind(tenant)
            .fetch_one(&mut *conn)
            .await?,
        };
    let bumped = sqlx::query(
        "UPDATE error_record_log SET logged_at = now()
          WHERE id = (SELECT id FROM error_record_log WHERE error_record_id = $1
                       ORDER BY logged_at DESC, id DESC LIMIT 1)
            AND error_type_id = $2 AND error_msg IS NOT DISTINCT FROM $3",
    )
    .bind(record_id)
    .bind(error_type_id)
    .bind(message)
    .execute(&mut *conn)
    .await?;
    if bumped.rows_affected() == 0 {
        sqlx::query(
            "INSERT INTO error_record_log (logged_at, error_record_id, error_type_id, error_msg, error_body, uuid)
             VALUES (now(), $1, $2, $3, $4, gen_random_uuid()::text)",
        )
        .bind(record_id)
        .bind(error_type_id)
        .bind(message)
        .bind(body)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// The entity synced: its error record and logs go. Logs are deleted explicitly because a
/// legacy database may lack the cascade.
pub async fn clear(
    conn: &mut PgConnection,
    tenant: IntegrationSystemId,
    entity: &FailedEntity,
) -> Result<bool, StoreError> {
    let (avni_type, integrating_type, entity_id) = entity.columns();
    let ids: Vec<i32> = sqlx::query_scalar(
        "SELECT id FROM error_record
          WHERE integration_system_id = $1 AND entity_id = $2
            AND avni_entity_type IS NOT DISTINCT FROM $3
            AND integrating_entity_type IS NOT DISTINCT FROM $4",
    )
    .bind(tenant)
    .bind(entity_id)
    .bind(avni_type)
    .bind(integrating_type)
    .fetch_all(&mut *conn)
    .await?;
    if ids.is_empty() {
        return Ok(false);
    }
    sqlx::query("DELETE FROM error_record_log WHERE error_record_id = ANY($1)")
        .bind(&ids)
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM error_record WHERE id = ANY($1) AND integration_system_id = $2")
        .bind(&ids)
        .bind(tenant)
        .execute(&mut *conn)
        .await?;
    Ok(true)
}

/// An error record due for a retry.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct DueRecord {
    pub id: i32,
    pub integrating_entity_type: Option<String>,
    pub avni_entity_type: Option<String>,
    pub entity_id: String,
    pub retry_count: i32,
}

/// Records after `after_id` whose newest log is of a retried type, not given up on, and due
/// (`next_retry_at` passed or never set); keyset-paged by id, so none is skipped.
pub async fn due_for_retry(
    pool: &PgPool,
    tenant: IntegrationSystemId,
    after_id: i32,
    limit: i64,
) -> Result<Vec<DueRecord>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT r.id, r.integrating_entity_type, r.avni_entity_type, r.entity_id, r.retry_count
           FROM error_record r
           JOIN LATERAL (SELECT l.error_type_id FROM error_record_log l
                          WHERE l.error_record_id = r.id
                          ORDER BY l.logged_at DESC, l.id DESC LIMIT 1) last ON true
           JOIN error_type t ON t.id = last.error_type_id
          WHERE r.integration_system_id = $1 AND r.id > $2
            AND r.gave_up_at IS NULL AND NOT coalesce(r.is_voided, false)
            AND coalesce(t.follow_up_step, '0') NOT IN ('1', 'Terminal')
            AND (r.next_retry_at IS NULL OR r.next_retry_at <= now())
          ORDER BY r.id LIMIT $3",
    )
    .bind(tenant)
    .bind(after_id)
    .bind(limit)
    .fetch_all(pool)
    .await?)
}

/// After a failed retry: the next attempt waits `base * 2^retries` (capped at `max_delay`);
/// after `max_attempts` the record is given up on and shown disabled. Returns true if given up.
pub async fn retry_failed(
    conn: &mut PgConnection,
    tenant: IntegrationSystemId,
    record_id: i32,
    base: Duration,
    max_delay: Duration,
    max_attempts: i32,
) -> Result<bool, StoreError> {
    let gave_up: Option<bool> = sqlx::query_scalar(
        "UPDATE error_record
            SET retry_count = retry_count + 1,
                next_retry_at = now() + least(make_interval(secs => $3 * power(2, retry_count)),
                                              make_interval(secs => $4)),
                gave_up_at = CASE WHEN retry_count + 1 >= $5 THEN now() END,
                processing_disabled = CASE WHEN retry_count + 1 >= $5 THEN true ELSE processing_disabled END
          WHERE id = $1 AND integration_system_id = $2
      RETURNING gave_up_at IS NOT NULL",
    )
    .bind(record_id)
    .bind(tenant)
    .bind(base.as_secs_f64())
    .bind(max_delay.as_secs_f64())
    .bind(max_attempts)
    .fetch_optional(conn)
    .await?;
    Ok(gave_up.unwrap_or(false))
}

/// New logs of the tenant since `since` (exclusive) up to the newest, per follow-up step:
/// the derived healthchecks' input. Returns (counts, newest logged_at).
pub async fn new_logs_by_follow_up(
    pool: &PgPool,
    tenant: IntegrationSystemId,
    since: Option<DateTime<Utc>>,
) -> Result<(Vec<(FollowUpStep, i64)>, Option<DateTime<Utc>>), StoreError> {
    let rows: Vec<(Option<String>, i64, Option<chrono::NaiveDateTime>)> = sqlx::query_as(
        "SELECT t.follow_up_step, count(*), max(l.logged_at)
           FROM error_record_log l
           JOIN error_record r ON r.id = l.error_record_id
           JOIN error_type t ON t.id = l.error_type_id
          WHERE r.integration_system_id = $1 AND ($2::timestamp IS NULL OR l.logged_at > $2::timestamp)
          GROUP BY t.follow_up_step",
    )
    .bind(tenant)
    .bind(since.map(|s| s.naive_utc()))
    .fetch_all(pool)
    .await?;
    let newest = rows.iter().filter_map(|r| r.2).max().map(|n| n.and_utc());
    let counts = rows
        .into_iter()
        .filter_map(|(follow, count, _)| Some((follow?.parse().ok()?, count)))
        .collect();
    Ok((counts, newest))
}

/// `clear` for many entities of one kind at once (a page of synced records): two statements
/// instead of two per record. Returns how many error records went.
pub async fn clear_many(
    conn: &mut PgConnection,
    tenant: IntegrationSystemId,
    entities: &[FailedEntity],
) -> Result<u64, StoreError> {
    let mut cleared = 0;
    let mut groups: std::collections::BTreeMap<(Option<&str>, Option<&str>), Vec<&str>> =
        std::collections::BTreeMap::new();
    for entity in entities {
        let (avni_type, integrating_type, id) = entity.columns();
        groups
            .entry((avni_type, integrating_type))
            .or_default()
            .push(id);
    }
    for ((avni_type, integrating_type), ids) in groups {
        let records: Vec<i32> = sqlx::query_scalar(
            "SELECT id FROM error_record
              WHERE integration_system_id = $1 AND entity_id = ANY($2)
                AND avni_entity_type IS NOT DISTINCT FROM $3
                AND integrating_entity_type IS NOT DISTINCT FROM $4",
        )
        .bind(tenant)
        .bind(&ids)
        .bind(avni_type)
        .bind(integrating_type)
        .fetch_all(&mut *conn)
        .await?;
        if records.is_empty() {
            continue;
        }
        sqlx::query("DELETE FROM error_record_log WHERE error_record_id = ANY($1)")
            .bind(&records)
            .execute(&mut *conn)
            .await?;
        cleared += sqlx::query(
            "DELETE FROM error_record WHERE id = ANY($1) AND integration_system_id = $2",
        )
        .bind(&records)
        .bind(tenant)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    }
    Ok(cleared)
}

/// How many of the tenant's error logs were written (or repeated) since `since`, by error type
/// name: what a job classified, for `avni_int_classified_errors_total`. `logged_at` is a
/// timestamp in the session's zone (as `now()` wrote it), hence the conversion.
pub async fn logged_by_type_since(
    pool: &PgPool,
    tenant: IntegrationSystemId,
    since: DateTime<Utc>,
) -> Result<Vec<(String, i64)>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT coalesce(t.name, 'unknown'), count(*)
           FROM error_record_log l
           JOIN error_record r ON r.id = l.error_record_id
           LEFT JOIN error_type t ON t.id = l.error_type_id
          WHERE r.integration_system_id = $1
            AND l.logged_at >= ($2::timestamptz AT TIME ZONE current_setting('TimeZone'))
          GROUP BY 1",
    )
    .bind(tenant)
    .bind(since)
    .fetch_all(pool)
    .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyless_ids_are_told_apart_from_real_ones() {
        let id = keyless_entity_id("DemandId", "2026-11-28T10:00:00Z");
        assert_eq!(id, "(no DemandId) 2026-11-28T10:00:00Z");
        assert!(is_keyless_entity_id(&id));
        for real in [
            "a0B5jPjO5000005EAG",
            "6b0b3f5e-5c1e-4c52-9a0e-0d0c6a1f2b3c",
            "12345",
        ] {
            assert!(!is_keyless_entity_id(real), "{real}");
        }
    }
}
