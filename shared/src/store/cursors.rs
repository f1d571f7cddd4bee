//! Sync cursors (`integrating_entity_status`): how far a step has read, per tenant and entity
//! type. Written only inside the transaction that records the outcomes before them.

use super::StoreError;
use crate::ids::IntegrationSystemId;
use chrono::NaiveDateTime;
use sqlx::PgConnection;

/// A cursor: a number (page or id) or a time, as the original stores them, plus (for Avni
/// reads) the IDs already delivered at that time's millisecond, as JSON text.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Cursor {
    pub numeric: Option<i32>,
    /// Zone-less, as the original wrote it, and read the same way, so a database adopted from
    /// the Java service resumes where it stopped with no shift: Salesforce cursors hold the IST
    /// wall clock Salesforce echoes (contracts/goonj.md §3); Avni cursors hold the UTC digits of
    /// `Last modified at` (the original parsed them in the JVM zone and stored that same wall
    /// clock back, contracts/avni.md §2.3, so the digits are UTC whatever the JVM zone was).
    pub date_time: Option<NaiveDateTime>,
    pub seen_ids: Option<String>,
}

pub async fn load(
    conn: &mut PgConnection,
    tenant: IntegrationSystemId,
    entity_type: &str,
) -> Result<Option<Cursor>, StoreError> {
    let row: Option<(Option<i32>, Option<NaiveDateTime>, Option<String>)> = sqlx::query_as(
        "SELECT read_upto_numeric, read_upto_date_time, read_upto_seen_ids::text FROM integrating_entity_status
          WHERE integration_system_id = $1 AND entity_type = $2",
    )
    .bind(tenant)
    .bind(entity_type)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|(numeric, date_time, seen_ids)| Cursor {
        numeric,
        date_time,
        seen_ids,
    }))
}

/// Saves the cursor; call it in the transaction that records the outcomes it moves past.
pub async fn save(
    conn: &mut PgConnection,
    tenant: IntegrationSystemId,
    entity_type: &str,
    cursor: &Cursor,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO integrating_entity_status
                (entity_type, read_upto_numeric, read_upto_date_time, read_upto_seen_ids,
                 integration_system_id, uuid)
         VALUES ($1, $2, $3, $5::jsonb, $4, gen_random_uuid()::text)
         ON CONFLICT (entity_type, integration_system_id) DO UPDATE
            SET read_upto_numeric = EXCLUDED.read_upto_numeric,
                read_upto_date_time = EXCLUDED.read_upto_date_time,
                read_upto_seen_ids = EXCLUDED.read_upto_seen_ids",
    )
    .bind(entity_type)
    .bind(cursor.numeric)
    .bind(cursor.date_time)
    .bind(tenant)
    .bind(cursor.seen_ids.as_deref())
    .execute(conn)
    .await?;
    Ok(())
}
