//! Fleet throughput benchmark (not a test): no-op jobs through the whole path
//! (ledger → outbox → relay → RabbitMQ → worker → ledger) next to raw publish+consume with
//! confirms through the same broker, plus schedule-to-start lag at a steady rate. The
//! measurements live in `avni_int_tests::bench` (shared with the `report` bench).
//!
//! `cargo bench -p avni-int-tests --bench throughput`
//! Env: BENCH_JOBS (20000), BENCH_WORKERS (1), BENCH_CONCURRENCY (32), BENCH_LAG_RATE (200/s),
//! BENCH_LAG_SECS (5).

use avni_int_tests::bench::fleet::{noop_fleet, FleetLoad};
use avni_int_tests::bench::{broker, env_num, invoked_by_cargo_bench};

#[tokio::main]
async fn main() {
    if !invoked_by_cargo_bench() {
        return;
    }
    let load = FleetLoad {
        jobs: env_num("BENCH_JOBS", 20_000) as usize,
        workers: env_num("BENCH_WORKERS", 1) as usize,
        concurrency: env_num("BENCH_CONCURRENCY", 32) as usize,
        lag_rate: env_num("BENCH_LAG_RATE", 200),
        lag_secs: env_num("BENCH_LAG_SECS", 5),
    };
    let raw = broker::raw_publish_consume(load.jobs, load.concurrency).await;
    let fleet = noop_fleet(&load, env!("CARGO_BIN_EXE_avni-int-test-dispatcher")).await;
    let (jobs, workers, concurrency) = (load.jobs, load.workers, load.concurrency);

    println!();
    println!("| measure | value |");
    println!("|---|---|");
    println!("| raw publish+consume with confirms ({jobs} msgs, prefetch {concurrency}) | {raw:.0} msg/s |");
    println!(
        "| no-op jobs end to end ({jobs} jobs, {workers} worker(s) x {concurrency}) | {:.0} jobs/s |",
        fleet.jobs_per_sec
    );
    println!("| end to end / raw | {:.2} |", fleet.jobs_per_sec / raw);
    println!(
        "| schedule-to-start lag at {} jobs/s for {} s | p50 {:.1} ms, p99 {:.1} ms |",
        load.lag_rate, load.lag_secs, fleet.lag_p50_ms, fleet.lag_p99_ms
    );
}
