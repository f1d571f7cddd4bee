//! Goonj demands (Salesforce → Avni) through the simulators at zero latency with real worker
//! and dispatcher processes: several tenants, each with its own Salesforce simulator, sharing
//! one Avni simulator, so that adding workers can add parallel jobs (one live job per tenant).

use super::process::{self, Binaries};
use crate::fleet::TestApp;
use crate::goonj_world::{add_goonj_metadata, goonj};
use crate::sim::avni::{AvniSim, AvniSimConfig};
use crate::sim::goonj::{GoonjSim, GoonjSimConfig};
use avni_int_shared::store::ledger::{self, NewJob};
use avni_int_shared::{IntegrationSystemId, JobKind, JobTrigger};
use std::time::{Duration, Instant};

/// Goonj tenants syncing demands only, on one database and queue prefix.
pub struct DemandsFleet {
    pub app: TestApp,
    pub avni: AvniSim,
    pub salesforce: Vec<GoonjSim>,
    pub tenants: Vec<IntegrationSystemId>,
    /// Where the next seeded demand's timestamp goes: after every earlier one, so the
    /// tenants' cursors never skip a new backlog.
    next_at: chrono::DateTime<chrono::Utc>,
}

/// `tenants` Goonj tenants (`int_tasks` = `GoonjDemand`, bypass on), each with a Salesforce
/// simulator of its own, all writing to one Avni simulator.
pub async fn demands_fleet(tenants: usize) -> DemandsFleet {
    let app = TestApp::new().await;
    let avni = AvniSim::start(AvniSimConfig::default()).await;
    add_goonj_metadata(&avni);
    let mut salesforce = Vec::new();
    let mut ids = Vec::new();
    for i in 0..tenants {
        let sim = GoonjSim::start(GoonjSimConfig::default()).await;
        let (auth_url, app_url) = (sim.auth_url(), sim.app_url());
        let tenant = app
            .add_tenant(
                &format!("Goonj bench {i}"),
                "Goonj",
                &[
                    ("int_env", crate::fleet::INT_ENV),
                    ("int_tasks", "GoonjDemand"),
                    ("sales_force_auth_url", &auth_url),
                    ("sales_force_app_url", &app_url),
                    ("avni_api_url", &avni.base_url),
                    ("avni_user", "integration"),
                    ("avni_password", "password"),
                    ("goonj_bypass_errors", "true"),
                ],
            )
            .await;
        salesforce.push(sim);
        ids.push(tenant);
    }
    DemandsFleet {
        app,
        avni,
        salesforce,
        tenants: ids,
        next_at: chrono::Utc::now() - chrono::Duration::days(5),
    }
}

/// One backlog drained: its rate and the processes' memory.
pub struct Backlog {
    pub records: usize,
    pub secs: f64,
    pub records_per_sec: f64,
    /// Largest worker peak RSS (kB) after start and an empty job, before the backlog.
    pub worker_idle_kb: u64,
    /// Largest worker peak RSS (kB) once the backlog is drained.
    pub worker_backlog_kb: u64,
    pub dispatcher_idle_kb: u64,
    pub dispatcher_backlog_kb: u64,
}

impl DemandsFleet {
    /// Seeds `records` demands spread over the tenants' simulators, then drains them with
    /// `workers` worker processes of `concurrency` jobs each and a dispatcher process.
    pub async fn drain(
        &mut self,
        records: usize,
        workers: usize,
        concurrency: usize,
        binaries: Binaries<'_>,
    ) -> Backlog {
        let next_at = self.next_at;
        self.next_at += chrono::Duration::seconds(records as i64 + 1);
        let (salesforce, avni) = (&self.salesforce, &self.avni);
        let before = avni.subject_count();
        let seed = || {
            let share = records / salesforce.len();
            for (i, sim) in salesforce.iter().enumerate() {
                let n = if i == 0 {
                    records - share * (salesforce.len() - 1)
                } else {
                    share
                };
                sim.seed_demands(n, next_at);
            }
        };
        let run = BacklogRun {
            app: &self.app,
            tenants: &self.tenants,
            binaries,
            workers,
            concurrency,
        };
        run.time(records, seed, || avni.subject_count() - before)
            .await
    }
}

/// Where and how a backlog runs: these tenants' Goonj jobs on worker processes and a
/// dispatcher process.
pub struct BacklogRun<'a> {
    pub app: &'a TestApp,
    pub tenants: &'a [IntegrationSystemId],
    pub binaries: Binaries<'a>,
    pub workers: usize,
    pub concurrency: usize,
}

impl BacklogRun<'_> {
    /// Starts the processes and runs one job per tenant with nothing to sync (so every process
    /// is connected, the dispatcher relaying, and "idle" memory is read after a first job);
    /// then `seed`s the backlog and times from enqueueing one job per tenant until `done()`
    /// reaches `records`.
    pub async fn time(
        &self,
        records: usize,
        seed: impl FnOnce(),
        done: impl Fn() -> usize,
    ) -> Backlog {
        let fleet = process::ProcessFleet::start(
            self.app,
            self.binaries,
            &goonj(),
            self.workers,
            self.concurrency,
        )
        .await;
        self.enqueue_all().await;
        self.wait_all_ended().await;
        let worker_idle_kb = fleet.worker_peak_kb();
        let dispatcher_idle_kb = fleet.dispatcher_peak_kb();

        seed();
        let started = Instant::now();
        self.enqueue_all().await;
        crate::poll::until(
            "the backlog to reach its destination",
            Duration::from_secs(1200),
            || async { (done() >= records).then_some(()) },
        )
        .await;
        let secs = started.elapsed().as_secs_f64();
        let worker_backlog_kb = fleet.worker_peak_kb();
        let dispatcher_backlog_kb = fleet.dispatcher_peak_kb();
        // Let the jobs end (cursors saved) before stopping, so a next backlog starts clean.
        self.wait_all_ended().await;
        fleet.stop().await;
        Backlog {
            records,
            secs,
            records_per_sec: records as f64 / secs,
            worker_idle_kb,
            worker_backlog_kb,
            dispatcher_idle_kb,
            dispatcher_backlog_kb,
        }
    }

    /// One regular job per tenant, in one transaction (as the scheduler fires them).
    async fn enqueue_all(&self) {
        let mut tx = self.app.db.pool().begin().await.unwrap();
        for tenant in self.tenants {
            ledger::enqueue(
                &mut tx,
                &NewJob {
                    integration_system_id: *tenant,
                    module: goonj(),
                    kind: JobKind::Regular,
                    trigger: JobTrigger::Manual,
                    parent: None,
                    resume_step: None,
                },
            )
            .await
            .unwrap();
        }
        tx.commit().await.unwrap();
    }

    async fn wait_all_ended(&self) {
        let pool = self.app.db.pool();
        crate::poll::until(
            "the goonj jobs to end",
            Duration::from_secs(600),
            || async {
                let live: i64 = sqlx::query_scalar(
                    "SELECT count(*) FROM int_job WHERE state NOT IN ('succeeded', 'failed')",
                )
                .fetch_one(pool)
                .await
                .unwrap();
                (live == 0).then_some(())
            },
        )
        .await;
        let failed: i64 = sqlx::query_scalar("SELECT count(*) FROM int_job WHERE state = 'failed'")
            .fetch_one(pool)
            .await
            .unwrap();
        assert_eq!(failed, 0, "a goonj job failed; see int_job.last_error");
    }
}
