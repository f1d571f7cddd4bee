//! Leader election over a lease row (`int_leader_lease`): whoever renews before expiry keeps it;
//! anyone may take it once it has expired. A process that dies simply stops renewing.

use super::StoreError;
use crate::ids::WorkerId;
use sqlx::PgPool;
use std::time::Duration;

/// Takes or renews the lease `name` for `ttl`. Returns true while `me` holds it.
pub async fn try_acquire(
    pool: &PgPool,
    name: &str,
    me: &WorkerId,
    ttl: Duration,
) -> Result<bool, StoreError> {
    let holder: Option<String> = sqlx::query_scalar(
        "INSERT INTO int_leader_lease (name, holder, acquired_at, expires_at)
         VALUES ($1, $2, now(), now() + make_interval(secs => $3))
         ON CONFLICT (name) DO UPDATE
            SET holder = EXCLUDED.holder,
                acquired_at = CASE WHEN int_leader_lease.holder = EXCLUDED.holder
                                   THEN int_leader_lease.acquired_at ELSE now() END,
                expires_at = EXCLUDED.expires_at
          WHERE int_leader_lease.holder = EXCLUDED.holder OR int_leader_lease.expires_at < now()
         RETURNING holder",
    )
    .bind(name)
    .bind(&me.0)
    .bind(ttl.as_secs_f64())
    .fetch_optional(pool)
    .await?;
    Ok(holder.as_deref() == Some(me.0.as_str()))
}

/// Gives the lease up at once (clean shutdown), so a standby takes over without waiting.
pub async fn release(pool: &PgPool, name: &str, me: &WorkerId) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE int_leader_lease SET expires_at = now() - interval '1 millisecond'
          WHERE name = $1 AND holder = $2",
    )
    .bind(name)
    .bind(&me.0)
    .execute(pool)
    .await?;
    Ok(())
}

/// The current holder, if its lease has not expired.
pub async fn current(pool: &PgPool, name: &str) -> Result<Option<String>, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT holder FROM int_leader_lease WHERE name = $1 AND expires_at >= now()",
    )
    .bind(name)
    .fetch_optional(pool)
    .await?)
}
