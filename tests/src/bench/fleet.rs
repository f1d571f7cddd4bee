//! The fleet's own overhead: no-op jobs through the whole path (ledger → outbox → relay →
//! RabbitMQ → worker → ledger) with a dispatcher process, then schedule-to-start lag at a
//! steady rate, and the dispatcher's memory idle and under that backlog.

use super::process;
use crate::broker::TestBroker;
use crate::database::TestDb;
use crate::fleet::TestApp;
use crate::noop;
use avni_int_shared::store::ledger::{self, NewJob};
use avni_int_shared::{IntegrationSystemId, JobKind, JobTrigger, WorkerId};
use avni_int_worker::module::Registry;
use avni_int_worker::Worker;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// The load: a burst of `jobs`, then `lag_rate` jobs/s for `lag_secs`.
pub struct FleetLoad {
    pub jobs: usize,
    pub workers: usize,
    pub concurrency: usize,
    pub lag_rate: u64,
    pub lag_secs: u64,
}

pub struct FleetResult {
    pub jobs_per_sec: f64,
    pub lag_p50_ms: f64,
    pub lag_p99_ms: f64,
    /// Dispatcher peak RSS (kB) after start and one job, before the burst.
    pub dispatcher_idle_kb: u64,
    /// Dispatcher peak RSS (kB) at the end, the burst relayed.
    pub dispatcher_backlog_kb: u64,
}

/// Runs the load against a dispatcher process (`dispatcher_binary`) and in-process workers
/// running the no-op module.
pub async fn noop_fleet(load: &FleetLoad, dispatcher_binary: &str) -> FleetResult {
    let app = TestApp::new().await;
    let broker = TestBroker::new(vec![noop::name()], 5);
    broker.declare().await;
    let db: &TestDb = &app.db;
    let lag_jobs = (load.lag_rate * load.lag_secs) as usize;
    // One tenant per job (at most one live job each), plus one for the warm-up.
    let tenants: Vec<i32> = sqlx::query_scalar(
        "INSERT INTO integration_system (name, system_type, uuid)
         SELECT 'bench-' || g, 'noop', gen_random_uuid()::text FROM generate_series(1, $1) g
         RETURNING id",
    )
    .bind((load.jobs + lag_jobs + 1) as i32)
    .fetch_all(db.pool())
    .await
    .unwrap();

    let dispatcher = process::spawn_dispatcher_process(&app, dispatcher_binary, &broker.topology);
    let dispatcher_pid = dispatcher.id().unwrap();
    let shutdown = CancellationToken::new();
    let mut worker_tasks = Vec::new();
    for i in 0..load.workers {
        let mut config = app.worker_config();
        config.id = WorkerId(format!("bench-worker-{i}"));
        config.topology = broker.topology.clone();
        config.concurrency = load.concurrency;
        config.lease = Duration::from_secs(30);
        config.healthcheck.ping_key = None;
        let worker = Worker::build(config, Registry::new().with(noop::Noop::module())).unwrap();
        worker_tasks.push(tokio::spawn(worker.run_until_stopped(shutdown.clone())));
    }
    process::wait_consumers(&broker.topology, &noop::name(), load.workers as u32).await;

    // Warm-up: the dispatcher is leading and relaying once one job went all the way.
    let (warm_up, rest) = tenants.split_at(1);
    enqueue(db, warm_up).await;
    wait_succeeded(db, 1, Duration::from_secs(60)).await;
    let dispatcher_idle_kb = process::peak_rss_kb(dispatcher_pid);

    let (burst, paced) = rest.split_at(load.jobs);
    let started = Instant::now();
    // Four producers, as a scheduler firing many tenants at once would be: one sequential
    // producer would measure its own round trips, not the fleet.
    let producers: Vec<_> = burst
        .chunks(burst.len().div_ceil(4).max(1))
        .map(|share| {
            let pool = db.pool().clone();
            let share = share.to_vec();
            tokio::spawn(async move {
                for chunk in share.chunks(100) {
                    let mut tx = pool.begin().await.unwrap();
                    for tenant in chunk {
                        ledger::enqueue(&mut tx, &new_job(*tenant)).await.unwrap();
                    }
                    tx.commit().await.unwrap();
                }
            })
        })
        .collect();
    for producer in producers {
        producer.await.unwrap();
    }
    let enqueued_in = started.elapsed();
    wait_succeeded(db, 1 + load.jobs as i64, Duration::from_secs(600)).await;
    let elapsed = started.elapsed();
    eprintln!(
        "no-op burst: {} jobs enqueued in {:.2} s, all succeeded after {:.2} s",
        load.jobs,
        enqueued_in.as_secs_f64(),
        elapsed.as_secs_f64()
    );

    // Lag: one job every 1/rate seconds, measured from the ledger's timestamps.
    let lag_from = chrono::Utc::now();
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / load.lag_rate as f64));
    for tenant in paced {
        ticker.tick().await;
        enqueue(db, std::slice::from_ref(tenant)).await;
    }
    wait_succeeded(db, tenants.len() as i64, Duration::from_secs(120)).await;
    let (lag_p50_ms, lag_p99_ms): (f64, f64) = sqlx::query_as(
        "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY lag),
                percentile_cont(0.99) WITHIN GROUP (ORDER BY lag)
           FROM (SELECT extract(epoch FROM started_at - scheduled_at) * 1000 AS lag
                   FROM int_job WHERE scheduled_at >= $1) t",
    )
    .bind(lag_from)
    .fetch_one(db.pool())
    .await
    .unwrap();
    let dispatcher_backlog_kb = process::peak_rss_kb(dispatcher_pid);

    shutdown.cancel();
    for task in worker_tasks {
        let _ = task.await;
    }
    process::stop(dispatcher).await;
    FleetResult {
        jobs_per_sec: load.jobs as f64 / elapsed.as_secs_f64(),
        lag_p50_ms,
        lag_p99_ms,
        dispatcher_idle_kb,
        dispatcher_backlog_kb,
    }
}

async fn enqueue(db: &TestDb, tenants: &[i32]) {
    let mut tx = db.pool().begin().await.unwrap();
    for tenant in tenants {
        ledger::enqueue(&mut tx, &new_job(*tenant)).await.unwrap();
    }
    tx.commit().await.unwrap();
}

fn new_job(tenant: i32) -> NewJob {
    NewJob {
        integration_system_id: IntegrationSystemId(tenant),
        module: noop::name(),
        kind: JobKind::Regular,
        trigger: JobTrigger::Manual,
        parent: None,
        resume_step: None,
    }
}

async fn wait_succeeded(db: &TestDb, count: i64, within: Duration) {
    crate::poll::until("jobs to succeed", within, || async {
        let done: i64 =
            sqlx::query_scalar("SELECT count(*) FROM int_job WHERE state = 'succeeded'")
                .fetch_one(db.pool())
                .await
                .unwrap();
        (done >= count).then_some(())
    })
    .await;
}
