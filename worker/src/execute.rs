//! Running one job: claim the lease, keep it alive with heartbeats, run the module's steps
//! within the time budget, record the outcome (and continuation) and report to monitoring.

use crate::context::JobContext;
use crate::module::{Module, StepError};
use crate::monitoring::bugsnag::Report;
use crate::monitoring::healthcheck::Ping;
use crate::Worker;
use avni_int_shared::store::ledger::{self, ClaimedJob, Finished, Outcome};
use avni_int_shared::store::{retry_transient, tenants, StoreError};
use avni_int_shared::{JobMessage, JobTrigger};
use futures::FutureExt;
use serde_json::json;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

/// What happened to a job message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobResult {
    /// The job ran and its outcome is committed.
    Finished { failed: bool, continued: bool },
    /// The job was finished or held by someone else: the message was a duplicate.
    Duplicate,
    /// The worker stopped before the job ended; the job went back to the queue.
    Released,
    /// Another worker took over after this lease expired; nothing was recorded here.
    LeaseLost,
}

impl Worker {
    /// Runs the job a message points at. `hard_stop` interrupts it (the shutdown grace ran
    /// out): the job is then released to the queue, its committed cursors kept.
    pub async fn execute(
        &self,
        message: &JobMessage,
        module: Arc<dyn Module>,
        hard_stop: &CancellationToken,
    ) -> Result<JobResult, StoreError> {
        let claimed = retry_transient("claim job", hard_stop, || {
            ledger::claim(
                self.store.pool(),
                message.job_id,
                &self.config.id,
                self.config.lease,
            )
        })
        .await?;
        let Some(job) = claimed else {
            tracing::debug!(job_id = %message.job_id, "duplicate delivery: job already taken or finished");
            return Ok(JobResult::Duplicate);
        };
        let span = tracing::info_span!("job", job_id = %job.id, tenant = %job.integration_system_id,
            module = %job.module, kind = %job.kind, trigger = %job.trigger, attempt = job.attempt);
        self.run_claimed(job, module, hard_stop)
            .instrument(span)
            .await
    }

    async fn run_claimed(
        &self,
        job: ClaimedJob,
        module: Arc<dyn Module>,
        hard_stop: &CancellationToken,
    ) -> Result<JobResult, StoreError> {
        let lag = (job.started_at - job.scheduled_at)
            .to_std()
            .unwrap_or_default();
        self.metrics.job_lag_seconds.observe(lag.as_secs_f64());
        self.metrics.jobs_running.inc();
        let started = std::time::Instant::now();
        tracing::info!(lag_ms = lag.as_millis() as u64, "job started");

        // Cancelled when the lease is lost or the worker must stop now.
        let stop = hard_stop.child_token();
        let lease_lost = CancellationToken::new();
        let heartbeat = tokio::spawn(keep_lease(
            self.clone(),
            job.clone(),
            stop.clone(),
            lease_lost.clone(),
        ));

        let tenant = retry_transient("load tenant", &stop, || {
            tenants::load(self.store.pool(), job.integration_system_id)
        })
        .await;
        let (outcome, pings) = match tenant {
            Ok(Some(tenant)) => {
                // An ad-hoc job is off the schedule its module's check expects: pinging would
                // page ops for a task whose outcome is the task's own status, and shift the
                // check's timer. Only scheduled (and run-now) jobs ping.
                let slug = match job.adhoc_task_id {
                    Some(_) => None,
                    None => module.healthcheck_slug(job.kind, &tenant),
                };
                let pings = slug.and_then(|slug| self.healthchecks.check(&slug));
                if job.trigger != JobTrigger::Continuation {
                    if let Some(p) = &pings {
                        p.send(Ping::Start);
                    }
                }
                let ctx = JobContext::new(
                    job.clone(),
                    tenant,
                    self.store.clone(),
                    self.config.id.clone(),
                    self.config.time_budget,
                    stop.clone(),
                )
                .with_healthchecks(self.healthchecks.clone())
                .with_metrics(self.metrics.clone());
                let outcome = tokio::select! {
                    biased;
                    outcome = run_steps(&*module, &ctx) => outcome,
                    // Dropping the steps abandons only uncommitted work: cursors move in the
                    // transaction that records their records' outcomes.
                    _ = stop.cancelled() => Outcome {
                        failed: true,
                        last_error: Some("interrupted".into()),
                        ..Outcome::default()
                    },
                };
                (outcome, pings)
            }
            Ok(None) => (
                Outcome {
                    failed: true,
                    last_error: Some("tenant does not exist or is voided".into()),
                    ..Outcome::default()
                },
                None,
            ),
            Err(error) => (
                Outcome {
                    failed: true,
                    last_error: Some(format!("loading the tenant failed: {error}")),
                    ..Outcome::default()
                },
                None,
            ),
        };
        heartbeat.abort();
        self.metrics.jobs_running.dec();
        if outcome.records_failed > 0 {
            self.count_classified(&job, module.name().as_str()).await;
        }

        let result = if lease_lost.is_cancelled() {
            tracing::error!(
                "lease lost while running: another worker took the job over; nothing recorded here"
            );
            JobResult::LeaseLost
        } else if hard_stop.is_cancelled() {
            // Not `stop`: that one is also cancelled by a lost lease, handled above.
            let give_up = CancellationToken::new();
            let released = retry_transient("release job", &give_up, || {
                ledger::release(self.store.pool(), job.id, &self.config.id)
            });
            match tokio::time::timeout(self.config.lease, released).await {
                Ok(Ok(true)) => tracing::info!("worker stopping: job returned to the queue"),
                Ok(Ok(false)) => tracing::warn!("worker stopping: lease already lost"),
                Ok(Err(error)) => tracing::warn!(%error, "worker stopping: release failed; the rescuer requeues the job when its lease expires"),
                Err(_) => tracing::warn!("worker stopping: release timed out; the rescuer requeues the job when its lease expires"),
            }
            JobResult::Released
        } else {
            self.record(&job, &*module, &outcome, pings, started)
                .await?
        };
        Ok(result)
    }

    /// Adds what this job classified to `avni_int_classified_errors_total` (best effort: a
    /// metric is not worth failing or delaying a job for).
    async fn count_classified(&self, job: &ClaimedJob, module: &str) {
        let logged = avni_int_shared::store::errors::logged_by_type_since(
            self.store.pool(),
            job.integration_system_id,
            job.started_at,
        )
        .await;
        match logged {
            Ok(by_type) => {
                for (error_type, count) in by_type {
                    self.metrics
                        .classified_errors_total
                        .with_label_values(&[module, error_type.as_str()])
                        .inc_by(count.max(0) as u64);
                }
            }
            Err(error) => tracing::debug!(%error, "could not count classified errors"),
        }
    }

    async fn record(
        &self,
        job: &ClaimedJob,
        module: &dyn Module,
        outcome: &Outcome,
        pings: Option<crate::monitoring::healthcheck::CheckPings>,
        started: std::time::Instant,
    ) -> Result<JobResult, StoreError> {
        // Losing an outcome would repeat the job's work, so wait out a database outage (bounded
        // by the lease: past it the rescuer hands the job to someone else anyway).
        let give_up = CancellationToken::new();
        let deadline = give_up.clone();
        let lease = self.config.lease;
        let timer = tokio::spawn(async move {
            tokio::time::sleep(lease).await;
            deadline.cancel();
        });
        let finished = retry_transient("record job outcome", &give_up, || {
            ledger::finish(self.store.pool(), job, &self.config.id, outcome)
        })
        .await;
        timer.abort();
        let finished = finished?;
        let continuation = match finished {
            Finished::LeaseLost => {
                tracing::error!(
                    "lease lost before the outcome was recorded; another worker redoes the job"
                );
                return Ok(JobResult::LeaseLost);
            }
            Finished::Recorded { continuation } => continuation,
        };
        let kind = job.kind.as_str();
        let outcome_label = match (outcome.failed, continuation.is_some()) {
            (true, _) => "failed",
            (false, true) => "continued",
            (false, false) => "succeeded",
        };
        self.metrics
            .jobs_total
            .with_label_values(&[job.module.as_str(), kind, outcome_label])
            .inc();
        self.metrics
            .job_duration_seconds
            .with_label_values(&[job.module.as_str(), kind])
            .observe(started.elapsed().as_secs_f64());
        if let Some(pings) = pings {
            match (outcome.failed, continuation) {
                (true, _) => pings.send(Ping::Fail),
                (false, None) => pings.send(Ping::Success),
                (false, Some(_)) => {}
            }
        }
        if outcome.failed {
            let message = outcome.last_error.clone().unwrap_or_default();
            tracing::error!(error = %message, synced = outcome.records_synced, "job failed");
            self.bugsnag.notify(Report {
                error_class: format!("{}::{}", module.name(), kind),
                message,
                context: format!("{} {} job {}", job.module, kind, job.id),
                metadata: json!({
                    "jobId": job.id.0, "integrationSystemId": job.integration_system_id.0,
                    "module": job.module.as_str(), "kind": kind, "attempt": job.attempt,
                }),
            });
        } else {
            tracing::info!(synced = outcome.records_synced, failed_records = outcome.records_failed,
                continuation = ?continuation.map(|c| c.0), elapsed_ms = started.elapsed().as_millis() as u64, "job finished");
        }
        Ok(JobResult::Finished {
            failed: outcome.failed,
            continued: continuation.is_some(),
        })
    }
}

/// Runs the module's steps in order from the resume point. A failing (or panicking) step is
/// recorded and the next step still runs; a step out of time ends the job with a continuation.
async fn run_steps(module: &dyn Module, ctx: &JobContext) -> Outcome {
    let module_name = module.name().as_str();
    let mut outcome = Outcome::default();
    let steps = match module.steps(ctx.job.kind, &ctx.tenant) {
        Ok(steps) => steps,
        Err(error) => {
            outcome.failed = true;
            outcome.last_error = Some(error.to_string());
            return outcome;
        }
    };
    let start = match &ctx.job.resume_step {
        Some(name) => steps.iter().position(|s| s.name() == name).unwrap_or_else(|| {
            tracing::warn!(resume_step = %name, "continuation names a step this module no longer has; starting from the first");
            0
        }),
        None => 0,
    };
    let mut errors: Vec<String> = Vec::new();
    let mut failed_groups: Vec<String> = Vec::new();
    for (index, step) in steps[start..].iter().enumerate() {
        // The first step always runs, so a chain of continuations always makes progress.
        if index > 0 && ctx.should_yield() {
            outcome.continue_at = Some(step.name().to_owned());
            break;
        }
        if let Some(group) = step.failure_group() {
            if failed_groups.iter().any(|g| g == group) {
                tracing::warn!(
                    step = step.name(),
                    group,
                    "skipped: an earlier step of its group failed"
                );
                continue;
            }
        }
        let step_span = tracing::info_span!("step", step = step.name());
        let result = AssertUnwindSafe(step.run(ctx).instrument(step_span))
            .catch_unwind()
            .await;
        match result {
            Ok(Ok(done)) => {
                if let (Some(metrics), true) = (&ctx.metrics, done.synced > 0) {
                    metrics
                        .records_synced_total
                        .with_label_values(&[module_name, step.name(), step.direction()])
                        .inc_by(done.synced);
                }
                outcome.records_synced += done.synced as i64;
                outcome.records_failed += done.failed as i64;
                if done.more {
                    outcome.continue_at = Some(step.name().to_owned());
                    break;
                }
            }
            Ok(Err(error)) => {
                tracing::warn!(step = step.name(), %error, "step failed; continuing with the next step");
                errors.push(format!("{}: {error}", step.name()));
                if let Some(group) = step.failure_group() {
                    failed_groups.push(group.to_owned());
                }
                if matches!(error, StepError::Config(_)) {
                    break;
                }
            }
            Err(panic) => {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown panic".to_owned());
                tracing::error!(step = step.name(), panic = %what, "step panicked; continuing with the next step");
                errors.push(format!("{}: panicked: {what}", step.name()));
                if let Some(group) = step.failure_group() {
                    failed_groups.push(group.to_owned());
                }
            }
        }
    }
    if !errors.is_empty() {
        outcome.failed = true;
        outcome.last_error = Some(errors.join("; "));
    }
    outcome
}

/// Renews the lease every third of its length. Cancels `stop` and `lost` when the lease is
/// gone; database errors are retried on the next beat (the lease has slack for two misses).
async fn keep_lease(
    worker: Worker,
    job: ClaimedJob,
    stop: CancellationToken,
    lost: CancellationToken,
) {
    let period = worker.config.lease / 3;
    loop {
        tokio::time::sleep(period).await;
        match ledger::heartbeat(
            worker.store.pool(),
            job.id,
            &worker.config.id,
            worker.config.lease,
        )
        .await
        {
            Ok(true) => {}
            Ok(false) => {
                lost.cancel();
                stop.cancel();
                return;
            }
            Err(error) => tracing::warn!(%error, "lease heartbeat failed; retrying"),
        }
    }
}
