//! The ad-hoc firer (leader only): turns each stored Goonj ad-hoc task whose trigger came into a
//! `regular` job carrying the task, in the transaction that marks the task fired, so a task is
//! fired once, survives restarts and hand-overs, and a voided one never runs
//! (contracts/goonj.md §7).

use avni_int_shared::store::adhoc_tasks::{self, TaskStatus};
use avni_int_shared::store::{tenants, Store, StoreError};
use avni_int_shared::ModuleName;
use chrono::{DateTime, Utc};
use std::time::Duration;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// Tasks fired per transaction.
const BATCH: i64 = 100;

pub struct AdhocConfig {
    /// The module whose `regular` job runs a task (`goonj`).
    pub module: ModuleName,
    /// `AVNI_INT_ENV`: a task of a tenant whose `int_env` differs ends as `ERROR` unrun.
    pub int_env: Option<String>,
    pub interval: Duration,
}

pub struct AdhocFirer {
    store: Store,
    config: AdhocConfig,
}

impl AdhocFirer {
    pub fn build(store: Store, config: AdhocConfig) -> Self {
        AdhocFirer { store, config }
    }

    pub fn interval(&self) -> Duration {
        self.config.interval
    }

    /// Fires every task due at `now`; returns how many jobs it enqueued. Tasks whose tenant is
    /// gone or runs in another environment are marked `ERROR` instead, in the same transaction.
    pub async fn fire_once(&self, now: DateTime<Utc>) -> Result<usize, StoreError> {
        let pool = self.store.pool();
        // Jobs that ended without settling their task (failed before running it, or dead).
        let settled = adhoc_tasks::settle_abandoned(pool).await?;
        if settled > 0 {
            tracing::warn!(
                tasks = settled,
                "ad-hoc tasks whose job ended without running them marked ERROR"
            );
        }
        let mut fired = 0;
        loop {
            let mut tx = pool.begin().await?;
            let due = adhoc_tasks::lock_due(&mut tx, now, BATCH).await?;
            if due.is_empty() {
                return Ok(fired);
            }
            let batch = due.len();
            for task in &due {
                let tenant = tenants::load(pool, task.integration_system_id).await?;
                let refusal = match &tenant {
                    None => Some("its tenant does not exist or is voided".to_owned()),
                    Some(tenant) => {
                        let theirs = tenant.config("int_env").map(str::trim);
                        let ours = self.config.int_env.as_deref().map(str::trim);
                        match (theirs, ours) {
                            (Some(theirs), Some(ours)) if theirs == ours => None,
                            _ => Some(format!(
                                "the tenant's int_env {theirs:?} differs from AVNI_INT_ENV {ours:?}"
                            )),
                        }
                    }
                };
                if let Some(reason) = refusal {
                    tracing::warn!(task_id = task.id, tenant = %task.integration_system_id,
                        task = %task.integration_task, %reason, "ad-hoc task not run: ERROR");
                    adhoc_tasks::mark_in(&mut tx, task.id, TaskStatus::Error).await?;
                    continue;
                }
                let job = adhoc_tasks::fire(&mut tx, task, &self.config.module).await?;
                tracing::info!(task_id = task.id, tenant = %task.integration_system_id,
                    task = %task.integration_task, job_id = ?job.map(|j| j.0), "ad-hoc task fired");
                fired += usize::from(job.is_some());
            }
            tx.commit().await?;
            if (batch as i64) < BATCH {
                return Ok(fired);
            }
        }
    }

    /// Fires due tasks every interval while this dispatcher leads, until `shutdown`.
    pub async fn run_until_stopped(
        self,
        mut leading: watch::Receiver<bool>,
        shutdown: CancellationToken,
    ) {
        while !shutdown.is_cancelled() {
            if *leading.borrow_and_update() {
                if let Err(error) = self.fire_once(Utc::now()).await {
                    tracing::warn!(%error, "firing ad-hoc tasks failed; retrying");
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(self.interval()) => {}
                _ = leading.changed() => {}
                _ = shutdown.cancelled() => break,
            }
        }
    }
}
