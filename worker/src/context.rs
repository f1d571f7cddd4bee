//! The job context a step receives: the claimed job, its tenant's configuration, the store and
//! the time budget. Everything a step needs comes through here (no globals).

use crate::monitoring::healthcheck::Healthchecks;
use avni_int_shared::store::ledger::ClaimedJob;
use avni_int_shared::store::tenants::Tenant;
use avni_int_shared::store::Store;
use avni_int_shared::WorkerId;
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

pub struct JobContext {
    pub job: ClaimedJob,
    pub tenant: Tenant,
    pub store: Store,
    pub worker: WorkerId,
    /// For checks a module derives from its data (Goonj's `goonj-integration`); the job's
    /// own check is pinged by the runtime.
    pub healthchecks: Option<Healthchecks>,
    /// The worker's metrics, for partner clients to count their calls into.
    pub metrics: Option<avni_int_shared::metrics::Metrics>,
    deadline: Instant,
    stop: CancellationToken,
}

impl JobContext {
    pub fn new(
        job: ClaimedJob,
        tenant: Tenant,
        store: Store,
        worker: WorkerId,
        budget: Duration,
        stop: CancellationToken,
    ) -> Self {
        JobContext {
            job,
            tenant,
            store,
            worker,
            healthchecks: None,
            metrics: None,
            deadline: Instant::now() + budget,
            stop,
        }
    }

    pub fn with_healthchecks(mut self, healthchecks: Healthchecks) -> Self {
        self.healthchecks = Some(healthchecks);
        self
    }

    pub fn with_metrics(mut self, metrics: avni_int_shared::metrics::Metrics) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// Time left in the job's budget.
    pub fn time_left(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    /// True once the budget is spent or the job must stop (lease lost, worker shutting down):
    /// a step should commit what it has and return with `more: true`.
    pub fn should_yield(&self) -> bool {
        self.time_left().is_zero() || self.stop.is_cancelled()
    }

    /// Resolves when the job must stop early; for steps that wait on something slow.
    pub async fn stopped(&self) {
        self.stop.cancelled().await
    }
}
