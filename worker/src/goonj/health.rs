//! The derived healthchecks (contracts/goonj.md §6). After each main run: count the tenant's
//! `error_record_log` rows logged since the marker (`integrating_entity_status`
//! `GoonjErrorRecordLog`) by follow-up step, move the marker to the newest of them, then ping
//! `goonj-integration` (fails iff new Internal errors: the Avni side must fix mapping, location
//! or config) and `goonj-salesforce` (fails iff new External errors: Goonj must fix its data).
//! The error job moves the marker without pinging, so what it re-logs is not reported again.
//!
//! The marker is exclusive: a log at the marker was counted by the run that set it, so a clean
//! run after a failing one reports success (the original counted it twice).

use crate::context::JobContext;
use crate::module::{Step, StepError, StepOutcome};
use crate::monitoring::healthcheck::Ping;
use avni_int_shared::classify::FollowUpStep;
use avni_int_shared::store::cursors::{self, Cursor};
use avni_int_shared::store::errors as error_store;
use avni_int_shared::store::StoreError;
use futures::future::BoxFuture;
use std::sync::Arc;

pub const STEP_NAME: &str = "GoonjHealthchecks";
/// `integrating_entity_status.entity_type` of the marker, as in the original.
pub const MARKER_ENTITY: &str = "GoonjErrorRecordLog";
pub const INTEGRATION_CHECK: &str = "goonj-integration";
pub const SALESFORCE_CHECK: &str = "goonj-salesforce";

/// New logs by follow-up step that trip the derived checks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub internal: i64,
    pub external: i64,
}

impl Tally {
    pub fn of(counts: &[(FollowUpStep, i64)]) -> Tally {
        counts
            .iter()
            .fold(Tally::default(), |mut tally, (step, count)| {
                match step {
                    FollowUpStep::Internal => tally.internal += count,
                    FollowUpStep::External => tally.external += count,
                    FollowUpStep::Process | FollowUpStep::Terminal => {}
                }
                tally
            })
    }

    /// Each derived check with its ping.
    pub fn pings(&self) -> [(&'static str, Ping); 2] {
        let ping = |n: i64| if n > 0 { Ping::Fail } else { Ping::Success };
        [
            (INTEGRATION_CHECK, ping(self.internal)),
            (SALESFORCE_CHECK, ping(self.external)),
        ]
    }
}

pub struct HealthStep {
    ping: bool,
}

impl HealthStep {
    /// `ping`: false for the error job, which moves the marker without pinging.
    pub fn arc(ping: bool) -> Arc<dyn Step> {
        Arc::new(HealthStep { ping })
    }
}

impl Step for HealthStep {
    fn name(&self) -> &str {
        STEP_NAME
    }

    fn run<'a>(&'a self, ctx: &'a JobContext) -> BoxFuture<'a, Result<StepOutcome, StepError>> {
        Box::pin(async move {
            let tally = count_and_move_marker(ctx).await?;
            tracing::info!(
                internal = tally.internal,
                external = tally.external,
                ping = self.ping,
                "new error logs since the last healthcheck"
            );
            if self.ping {
                if let Some(healthchecks) = &ctx.healthchecks {
                    for (slug, ping) in tally.pings() {
                        if let Some(check) = healthchecks.check(slug) {
                            check.send(ping);
                        }
                    }
                }
            }
            Ok(StepOutcome::default())
        })
    }
}

/// Counts the logs after the marker and moves it to the newest one (never backwards, should
/// a main and an error job of the tenant end together).
async fn count_and_move_marker(ctx: &JobContext) -> Result<Tally, StepError> {
    let tenant = ctx.tenant.id;
    let pool = ctx.store.pool();
    let mut conn = pool.acquire().await.map_err(StoreError::from)?;
    let since = cursors::load(&mut conn, tenant, MARKER_ENTITY)
        .await?
        .and_then(|c| c.date_time);
    drop(conn);
    let (counts, newest) =
        error_store::new_logs_by_follow_up(pool, tenant, since.map(|s| s.and_utc())).await?;
    if let Some(newest) = newest.map(|n| n.naive_utc()) {
        let mut tx = pool.begin().await.map_err(StoreError::from)?;
        let current = cursors::load(&mut tx, tenant, MARKER_ENTITY)
            .await?
            .and_then(|c| c.date_time);
        if current.is_none_or(|current| current < newest) {
            let marker = Cursor {
                date_time: Some(newest),
                ..Cursor::default()
            };
            cursors::save(&mut tx, tenant, MARKER_ENTITY, &marker).await?;
        }
        tx.commit().await.map_err(StoreError::from)?;
    }
    Ok(Tally::of(&counts))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_trips_integration_and_external_trips_salesforce() {
        let tally = Tally::of(&[
            (FollowUpStep::Internal, 2),
            (FollowUpStep::Process, 7),
            (FollowUpStep::Terminal, 1),
        ]);
        assert_eq!(
            tally,
            Tally {
                internal: 2,
                external: 0
            }
        );
        assert_eq!(
            tally.pings(),
            [
                (INTEGRATION_CHECK, Ping::Fail),
                (SALESFORCE_CHECK, Ping::Success)
            ]
        );
        let external = Tally::of(&[(FollowUpStep::External, 1)]);
        assert_eq!(
            external.pings(),
            [
                (INTEGRATION_CHECK, Ping::Success),
                (SALESFORCE_CHECK, Ping::Fail)
            ]
        );
    }

    #[test]
    fn no_new_logs_is_success_for_both() {
        assert!(Tally::of(&[])
            .pings()
            .iter()
            .all(|(_, ping)| *ping == Ping::Success));
    }
}
