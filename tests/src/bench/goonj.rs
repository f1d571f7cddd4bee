//! Goonj demands (Salesforce → Avni) through the simulators at zero latency with real worker
//! and dispatcher processes: several tenants, each with its own Salesforce simulator, sharing
//! one Avni simulator, so that adding workers can add parallel jobs (one live job per tenant).

use super::process;
use crate::fleet::TestApp;
use crate::goonj_world::{add_goonj_metadata, goonj};
use crate::sim::avni::{AvniSim, AvniSimConfig};
use crate::sim::goonj::{GoonjSim, GoonjSimConfig};
use avni_int_shared::store::ledger::{self, NewJob};
use avni_int_shared::{IntegrationSystemId, JobKind, JobTrigger};
use std::time::{Duration, Instant};

/// The binaries a backlog runs (paths from `CARGO_BIN_EXE_…`).
#[derive(Clone, Copy)]
pub struct Binaries<'a> {
    pub worker: &'a str,
    pub dispatcher: &'a str,
}

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
    /// `workers` worker processes of `concurrency` jobs each and a dispatcher process: the
    /// clock runs from enqueueing one job per tenant until Avni holds every record.
    pub async fn drain(
        &mut self,
        records: usize,
        workers: usize,
        concurrency: usize,
        binaries: Binaries<'_>,
    ) -> Backlog {
        let dispatcher = process::spawn_dispatcher_process(
            &self.app,
            binaries.dispatcher,
            &self.app.broker.topology,
        );
        let dispatcher_pid = dispatcher.id().unwrap();
        let concurrency = concurrency.to_string();
        let worker_processes: Vec<_> = (0..workers)
            .map(|i| {
                self.app.spawn_worker_process(
                    binaries.worker,
                    &format!("bench-goonj-worker-{i}"),
                    &[
                        ("RUST_LOG", "warn"),
                        ("JOB_LEASE_SECS", "30"),
                        ("MALLOC_ARENA_MAX", "2"),
                        ("WORKER_CONCURRENCY", &concurrency),
                    ],
                )
            })
            .collect();
        let worker_pids: Vec<u32> = worker_processes.iter().map(|w| w.id().unwrap()).collect();
        process::wait_consumers(&self.app.broker.topology, &goonj(), workers as u32).await;

        // Warm-up: one job per tenant with nothing to sync, so every process is connected,
        // the dispatcher relaying, and "idle" means after a first (empty) job.
        self.run_jobs().await;
        let worker_idle_kb = max_peak(&worker_pids);
        let dispatcher_idle_kb = process::peak_rss_kb(dispatcher_pid);

        let share = records / self.tenants.len();
        for (i, sim) in self.salesforce.iter().enumerate() {
            let n = if i == 0 {
                records - share * (self.tenants.len() - 1)
            } else {
                share
            };
            sim.seed_demands(n, self.next_at);
        }
        self.next_at += chrono::Duration::seconds(records as i64 + 1);
        let before = self.avni.subject_count();
        let started = Instant::now();
        self.enqueue_all().await;
        let avni = &self.avni;
        crate::poll::until(
            "the backlog to reach Avni",
            Duration::from_secs(1200),
            || async { (avni.subject_count() - before >= records).then_some(()) },
        )
        .await;
        let secs = started.elapsed().as_secs_f64();
        let worker_backlog_kb = max_peak(&worker_pids);
        let dispatcher_backlog_kb = process::peak_rss_kb(dispatcher_pid);
        // Let the jobs end (cursor saved) before stopping, so the next backlog starts clean.
        self.wait_all_ended().await;
        for worker in worker_processes {
            process::stop(worker).await;
        }
        process::stop(dispatcher).await;
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

    async fn run_jobs(&self) {
        self.enqueue_all().await;
        self.wait_all_ended().await;
    }

    /// One regular job per tenant, in one transaction (as the scheduler fires them).
    async fn enqueue_all(&self) {
        let mut tx = self.app.db.pool().begin().await.unwrap();
        for tenant in &self.tenants {
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

fn max_peak(pids: &[u32]) -> u64 {
    pids.iter()
        .map(|pid| process::peak_rss_kb(*pid))
        .max()
        .unwrap_or(0)
}
