//! Fleet throughput benchmark (not a test): no-op jobs through the whole path
//! (ledger → outbox → relay → RabbitMQ → worker → ledger) next to raw publish+consume with
//! confirms through the same broker, plus schedule-to-start lag at a steady rate.
//!
//! `cargo bench -p avni-int-tests --bench throughput`
//! Env: BENCH_JOBS (20000), BENCH_WORKERS (1), BENCH_CONCURRENCY (32), BENCH_LAG_RATE (200/s),
//! BENCH_LAG_SECS (5).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use avni_int_dispatcher::catalog::ModuleSpec;
use avni_int_dispatcher::{Dispatcher, DispatcherConfig};
use avni_int_shared::broker::{self, Publisher};
use avni_int_shared::store::ledger::{self, NewJob};
use avni_int_shared::{IntegrationSystemId, JobKind, JobTrigger, WorkerId};
use avni_int_tests::broker::{amqp_url, TestBroker};
use avni_int_tests::database::TestDb;
use avni_int_tests::fleet::TestApp;
use avni_int_tests::noop;
use avni_int_worker::module::Registry;
use avni_int_worker::Worker;
use futures::StreamExt;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicQosOptions};
use lapin::types::FieldTable;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() {
    // Test runners list or run every target; only `cargo bench` (which passes --bench) measures.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let jobs = env_num("BENCH_JOBS", 20_000) as usize;
    let workers = env_num("BENCH_WORKERS", 1) as usize;
    let concurrency = env_num("BENCH_CONCURRENCY", 32) as usize;
    let lag_rate = env_num("BENCH_LAG_RATE", 200);
    let lag_secs = env_num("BENCH_LAG_SECS", 5);

    let raw = raw_broker(jobs, concurrency).await;
    let (fleet, lag) = fleet(jobs, workers, concurrency, lag_rate, lag_secs).await;

    println!();
    println!("| measure | value |");
    println!("|---|---|");
    println!("| raw publish+consume with confirms ({jobs} msgs, prefetch {concurrency}) | {raw:.0} msg/s |");
    println!("| no-op jobs end to end ({jobs} jobs, {workers} worker(s) x {concurrency}) | {fleet:.0} jobs/s |");
    println!("| end to end / raw | {:.2} |", fleet / raw);
    println!(
        "| schedule-to-start lag at {lag_rate} jobs/s for {lag_secs} s | p50 {:.1} ms, p99 {:.1} ms |",
        lag.0, lag.1
    );
}

/// Publishes `n` messages with confirms (batches of 500, as the relay does) while a consumer
/// with the worker's prefetch acks each: messages per second from first publish to last ack.
async fn raw_broker(n: usize, prefetch: usize) -> f64 {
    let test_broker = TestBroker::new(vec![noop::name()], 5);
    test_broker.declare().await;
    let queue = test_broker.topology.queue(&noop::name(), JobKind::Regular);
    let conn = broker::connect(&amqp_url(), "bench-raw").await.unwrap();
    let consume_channel = conn.create_channel().await.unwrap();
    consume_channel
        .basic_qos(prefetch as u16, BasicQosOptions::default())
        .await
        .unwrap();
    let mut consumer = consume_channel
        .basic_consume(
            queue.as_str().into(),
            "bench".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    let publisher = Publisher::open(&conn, test_broker.topology.exchange())
        .await
        .unwrap();
    let body = br#"{"v":1,"job_id":1,"integration_system_id":1,"module":"noop","kind":"regular","trigger":"manual","attempt":0}"#;
    let started = Instant::now();
    let consume = tokio::spawn(async move {
        let mut got = 0;
        while got < n {
            let delivery = consumer.next().await.unwrap().unwrap();
            delivery.ack(BasicAckOptions::default()).await.unwrap();
            got += 1;
        }
    });
    let mut sent = 0;
    while sent < n {
        let batch = (n - sent).min(500);
        let messages: Vec<(&str, &[u8])> = (0..batch)
            .map(|_| ("noop.regular", body.as_slice()))
            .collect();
        for result in publisher.publish_all(&messages).await {
            result.unwrap();
        }
        sent += batch;
    }
    consume.await.unwrap();
    let rate = n as f64 / started.elapsed().as_secs_f64();
    let _ = conn.close(200, "done".into()).await;
    rate
}

/// Enqueues `n` jobs (one per tenant: at most one live job each) in transactions of 100 while
/// the fleet runs them; then measures lag at a steady rate. Returns (jobs/s, (p50, p99) ms).
async fn fleet(
    n: usize,
    workers: usize,
    concurrency: usize,
    lag_rate: u64,
    lag_secs: u64,
) -> (f64, (f64, f64)) {
    let app = TestApp::new().await;
    let broker = TestBroker::new(vec![noop::name()], 5);
    broker.declare().await;
    let db: &TestDb = &app.db;
    let lag_jobs = (lag_rate * lag_secs) as usize;
    let tenants: Vec<i32> = sqlx::query_scalar(
        "INSERT INTO integration_system (name, system_type, uuid)
         SELECT 'bench-' || g, 'noop', gen_random_uuid()::text FROM generate_series(1, $1) g
         RETURNING id",
    )
    .bind((n + lag_jobs) as i32)
    .fetch_all(db.pool())
    .await
    .unwrap();

    let shutdown = CancellationToken::new();
    let mut dispatcher_config: DispatcherConfig = app.dispatcher_config();
    dispatcher_config.topology = broker.topology.clone();
    dispatcher_config.catalog = vec![ModuleSpec::tenant_config(noop::name(), "noop")];
    let dispatcher = Dispatcher::build(dispatcher_config, &shutdown)
        .await
        .unwrap();
    let dispatcher_task = tokio::spawn(dispatcher.run_until_stopped(shutdown.clone()));
    let mut worker_tasks = Vec::new();
    for i in 0..workers {
        let mut config = app.worker_config();
        config.id = WorkerId(format!("bench-worker-{i}"));
        config.topology = broker.topology.clone();
        config.concurrency = concurrency;
        config.lease = Duration::from_secs(30);
        config.healthcheck.ping_key = None;
        let worker = Worker::build(config, Registry::new().with(noop::Noop::module())).unwrap();
        worker_tasks.push(tokio::spawn(worker.run_until_stopped(shutdown.clone())));
    }
    // Let consumers attach before timing.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let (burst, paced) = tenants.split_at(n);
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
    wait_succeeded(db, n as i64, Duration::from_secs(600)).await;
    let elapsed = started.elapsed();
    let throughput = n as f64 / elapsed.as_secs_f64();
    eprintln!(
        "burst: {n} jobs enqueued in {:.2} s, all succeeded after {:.2} s",
        enqueued_in.as_secs_f64(),
        elapsed.as_secs_f64()
    );

    // Lag: one job every 1/rate seconds, measured from the ledger's timestamps.
    let lag_from = chrono::Utc::now();
    let interval = Duration::from_secs_f64(1.0 / lag_rate as f64);
    let mut ticker = tokio::time::interval(interval);
    for tenant in paced {
        ticker.tick().await;
        let mut tx = db.pool().begin().await.unwrap();
        ledger::enqueue(&mut tx, &new_job(*tenant)).await.unwrap();
        tx.commit().await.unwrap();
    }
    wait_succeeded(db, (n + paced.len()) as i64, Duration::from_secs(120)).await;
    let (p50, p99): (f64, f64) = sqlx::query_as(
        "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY lag),
                percentile_cont(0.99) WITHIN GROUP (ORDER BY lag)
           FROM (SELECT extract(epoch FROM started_at - scheduled_at) * 1000 AS lag
                   FROM int_job WHERE scheduled_at >= $1) t",
    )
    .bind(lag_from)
    .fetch_one(db.pool())
    .await
    .unwrap();

    shutdown.cancel();
    for task in worker_tasks {
        let _ = task.await;
    }
    let _ = dispatcher_task.await;
    (throughput, (p50, p99))
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
    avni_int_tests::poll::until("jobs to succeed", within, || async {
        let done: i64 =
            sqlx::query_scalar("SELECT count(*) FROM int_job WHERE state = 'succeeded'")
                .fetch_one(db.pool())
                .await
                .unwrap();
        (done >= count).then_some(())
    })
    .await;
}
