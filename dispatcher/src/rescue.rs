//! The rescuer: returns jobs whose worker vanished (lease expired) to the queue, gives up on
//! jobs that keep killing their workers, and re-publishes waiting jobs whose message is gone.

use avni_int_shared::metrics::Metrics;
use avni_int_shared::store::ledger::{self, Rescued};
use avni_int_shared::store::{Store, StoreError};
use std::time::Duration;

pub struct RescueConfig {
    /// A job whose lease expired this many times is marked `dead`.
    pub max_attempts: i32,
    /// A waiting job with no outbox row for this long is published again.
    pub stale_after: Duration,
    pub interval: Duration,
}

pub struct Rescuer {
    store: Store,
    config: RescueConfig,
    metrics: Metrics,
}

impl Rescuer {
    pub fn build(store: Store, config: RescueConfig, metrics: Metrics) -> Self {
        Rescuer {
            store,
            config,
            metrics,
        }
    }

    pub fn interval(&self) -> Duration {
        self.config.interval
    }

    pub async fn rescue_once(&self) -> Result<Rescued, StoreError> {
        let rescued = ledger::rescue(
            self.store.pool(),
            self.config.max_attempts,
            self.config.stale_after,
            500,
        )
        .await?;
        for (reason, jobs) in [
            ("lease_expired", &rescued.requeued),
            ("dead", &rescued.dead),
            ("republished", &rescued.republished),
        ] {
            if jobs.is_empty() {
                continue;
            }
            self.metrics
                .jobs_rescued_total
                .with_label_values(&[reason])
                .inc_by(jobs.len() as u64);
            let ids: Vec<i64> = jobs.iter().map(|j| j.0).collect();
            if reason == "dead" {
                tracing::error!(
                    ?ids,
                    max_attempts = self.config.max_attempts,
                    "jobs given up on: their workers died on every attempt; see int_job.last_error"
                );
            } else {
                tracing::warn!(?ids, reason, "jobs returned to the queue");
            }
        }
        Ok(rescued)
    }
}
