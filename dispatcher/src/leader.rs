//! Leader election: exactly one dispatcher schedules and rescues. The lease lives in Postgres;
//! a dead leader stops renewing and another takes over when it expires.

use avni_int_shared::metrics::Metrics;
use avni_int_shared::store::{leader, Store, StoreError};
use avni_int_shared::WorkerId;
use std::time::Duration;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

pub const LEASE_NAME: &str = "scheduler";

pub struct LeaderElector {
    store: Store,
    me: WorkerId,
    ttl: Duration,
    metrics: Metrics,
    is_leader: watch::Sender<bool>,
}

impl LeaderElector {
    pub fn build(store: Store, me: WorkerId, ttl: Duration, metrics: Metrics) -> Self {
        let (is_leader, _) = watch::channel(false);
        LeaderElector {
            store,
            me,
            ttl,
            metrics,
            is_leader,
        }
    }

    /// Follows leadership changes.
    pub fn subscribe(&self) -> watch::Receiver<bool> {
        self.is_leader.subscribe()
    }

    /// Takes or renews the lease once. A database error counts as "not leader": better no
    /// schedule for a moment than two schedulers.
    pub async fn renew_once(&self) -> bool {
        let leading = match leader::try_acquire(self.store.pool(), LEASE_NAME, &self.me, self.ttl)
            .await
        {
            Ok(leading) => leading,
            Err(error) => {
                tracing::warn!(%error, "leader lease renewal failed; stepping down until it succeeds");
                false
            }
        };
        let was = *self.is_leader.borrow();
        if leading != was {
            if leading {
                tracing::info!(dispatcher = %self.me, "became the scheduling leader");
            } else {
                tracing::warn!(dispatcher = %self.me, "lost the scheduling leadership");
            }
        }
        self.is_leader.send_replace(leading);
        self.metrics.is_leader.set(i64::from(leading));
        leading
    }

    /// Renews every third of the lease until `shutdown`, then releases the lease so a standby
    /// takes over at once.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> Result<(), StoreError> {
        let period = self.ttl / 3;
        loop {
            self.renew_once().await;
            tokio::select! {
                _ = tokio::time::sleep(period) => {}
                _ = shutdown.cancelled() => break,
            }
        }
        self.is_leader.send_replace(false);
        self.metrics.is_leader.set(0);
        leader::release(self.store.pool(), LEASE_NAME, &self.me).await
    }
}
