//! The benchmark report (issue 6): every measure next to its reference measured in the same
//! run, judged against the targets for this 2-core machine, printed as one markdown table.
//!
//! `cargo bench -p avni-int-tests --bench report`
//! Env (defaults give the figures): BENCH_JOBS (20000 no-op jobs), BENCH_WORKERS (1)
//! and BENCH_CONCURRENCY (32) for the no-op fleet, BENCH_LAG_RATE (200/s), BENCH_LAG_SECS (5),
//! BENCH_RECORDS (20000 demands per scaling row), BENCH_TENANTS (4), BENCH_WORKER_CONCURRENCY
//! (1 job per worker process in the scaling rows), BENCH_SIM_CONNECTIONS (8),
//! BENCH_DRAIN_RECORDS (100000), BENCH_DRAIN_WORKERS (1), BENCH_DRAIN_CONCURRENCY (4),
//! BENCH_RAW_REQUESTS (50000 requests per raw simulator rate).

// A benchmark: a failed setup step should stop it loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use avni_int_tests::bench::fleet::{noop_fleet, FleetLoad};
use avni_int_tests::bench::goonj::demands_fleet;
use avni_int_tests::bench::process::Binaries;
use avni_int_tests::bench::table::{mb, render, Row, Verdict};
use avni_int_tests::bench::{broker, env_num, invoked_by_cargo_bench, raw_sim, receipts};
use std::time::Instant;

/// Targets on the 2-core reference machine.
const MIN_SHARE_OF_RAW: f64 = 0.5;
const MAX_WORKER_RSS_MB: f64 = 50.0;
const MAX_LAG_P99_MS: f64 = 100.0;

const BINARIES: Binaries<'static> = Binaries {
    worker: env!("CARGO_BIN_EXE_avni-int-test-worker"),
    dispatcher: env!("CARGO_BIN_EXE_avni-int-test-dispatcher"),
};

#[tokio::main]
async fn main() {
    if raw_sim::client_main().await || !invoked_by_cargo_bench() {
        return;
    }
    let began = Instant::now();
    let mut rows = Vec::new();
    fleet_rows(&mut rows).await;
    sync_rows(&mut rows).await;
    println!();
    print!("{}", render(&rows));
    println!(
        "\n{} CPUs, load average at the end {}; whole run {:.0} s.",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load_average(),
        began.elapsed().as_secs_f64()
    );
}

/// No-op jobs vs the raw broker, lag, dispatcher memory.
async fn fleet_rows(rows: &mut Vec<Row>) {
    let load = FleetLoad {
        jobs: env_num("BENCH_JOBS", 20_000) as usize,
        workers: env_num("BENCH_WORKERS", 1) as usize,
        concurrency: env_num("BENCH_CONCURRENCY", 32) as usize,
        lag_rate: env_num("BENCH_LAG_RATE", 200),
        lag_secs: env_num("BENCH_LAG_SECS", 5),
    };
    eprintln!("raw broker: {} messages", load.jobs);
    let raw = broker::raw_publish_consume(load.jobs, load.concurrency).await;
    eprintln!("no-op fleet: {} jobs, then lag", load.jobs);
    let fleet = noop_fleet(&load, BINARIES.dispatcher).await;
    rows.push(Row::new(
        format!(
            "no-op jobs end to end ({} jobs, {} in-process worker(s) x {}, dispatcher process)",
            load.jobs, load.workers, load.concurrency
        ),
        format!("{:.0} jobs/s", fleet.jobs_per_sec),
        format!(
            "raw publish+consume with confirms: {raw:.0} msg/s (prefetch {})",
            load.concurrency
        ),
        format!("{:.2} of raw", fleet.jobs_per_sec / raw),
        Verdict::Info,
    ));
    rows.push(Row::new(
        format!(
            "schedule-to-start lag p50 ({} jobs/s for {} s)",
            load.lag_rate, load.lag_secs
        ),
        format!("{:.1} ms", fleet.lag_p50_ms),
        "-",
        "-",
        Verdict::Info,
    ));
    rows.push(Row::new(
        "schedule-to-start lag p99",
        format!("{:.1} ms", fleet.lag_p99_ms),
        "-",
        format!("< {MAX_LAG_P99_MS:.0} ms"),
        Verdict::of(fleet.lag_p99_ms < MAX_LAG_P99_MS),
    ));
    rows.push(Row::new(
        "dispatcher process peak RSS: idle / after relaying the no-op burst",
        format!(
            "{} / {}",
            mb(fleet.dispatcher_idle_kb),
            mb(fleet.dispatcher_backlog_kb)
        ),
        "-",
        "-",
        Verdict::Info,
    ));
}

/// Demands Salesforce → Avni with 1, 2 and 4 worker processes, then the big backlog.
async fn sync_rows(rows: &mut Vec<Row>) {
    let records = env_num("BENCH_RECORDS", 20_000) as usize;
    let tenants = env_num("BENCH_TENANTS", 4) as usize;
    let per_worker = env_num("BENCH_WORKER_CONCURRENCY", 1) as usize;
    let connections = env_num("BENCH_SIM_CONNECTIONS", 8) as usize;
    let drain_records = env_num("BENCH_DRAIN_RECORDS", 100_000) as usize;
    let drain_workers = env_num("BENCH_DRAIN_WORKERS", 1) as usize;
    let drain_concurrency = env_num("BENCH_DRAIN_CONCURRENCY", 4) as usize;

    eprintln!("raw simulators: demand pages and upserts");
    let this = std::env::current_exe().expect("the bench binary's path");
    let raw_requests = env_num("BENCH_RAW_REQUESTS", 50_000) as usize;
    let limit = raw_sim::demand_limit(&this, raw_requests, connections).await;
    let raw = limit.records_per_sec();
    for workers in [1, 2, 4] {
        // The breakdown once; the other rows name the same figure.
        let reference = if workers == 1 {
            format!(
                "simulators alone: {raw:.0} records/s (Salesforce pages {:.0} demands/s, Avni upserts {:.0}/s over {} connections, from another process)",
                limit.salesforce_pages, limit.avni_upserts, limit.connections
            )
        } else {
            format!("simulators alone: {raw:.0} records/s")
        };
        eprintln!("demands: {records} records, {workers} worker process(es)");
        let mut fleet = demands_fleet(tenants).await;
        let run = fleet.drain(records, workers, per_worker, BINARIES).await;
        let share = run.records_per_sec / raw;
        rows.push(Row::new(
            format!(
                "demands Salesforce → Avni, zero latency ({records} records, {tenants} tenants, {workers} worker process(es) x {per_worker} job(s))",
            ),
            format!("{:.0} records/s", run.records_per_sec),
            reference,
            format!("{share:.2} of raw (≥ {MIN_SHARE_OF_RAW:.2})"),
            Verdict::of(share >= MIN_SHARE_OF_RAW),
        ));
    }

    eprintln!("receipts: {records} records, 1 worker process");
    let w = receipts::receipts_world().await;
    let run = receipts::sync_receipts(&w, records, 1, BINARIES).await;
    let limit = receipts::receipt_limit(&this, &w, records, connections).await;
    let raw_receipts = limit.records_per_sec();
    let share = run.records_per_sec / raw_receipts;
    rows.push(Row::new(
        format!("dispatch receipts Avni → Salesforce, zero latency ({records} records, 1 tenant, 1 worker process)"),
        format!("{:.0} records/s", run.records_per_sec),
        format!(
            "simulators alone: {raw_receipts:.0} records/s (Avni pages {:.0}/s, subject GETs {:.0}/s, Salesforce upserts of 200 {:.0}/s)",
            limit.avni_pages, limit.avni_subject_gets, limit.salesforce_upserts
        ),
        format!("{share:.2} of raw (≥ {MIN_SHARE_OF_RAW:.2})"),
        Verdict::of(share >= MIN_SHARE_OF_RAW),
    ));
    drop(w);

    eprintln!(
        "drain: {drain_records} demands, {drain_workers} worker process(es) x {drain_concurrency}"
    );
    let mut fleet = demands_fleet(tenants).await;
    let drain = fleet
        .drain(drain_records, drain_workers, drain_concurrency, BINARIES)
        .await;
    let share = drain.records_per_sec / raw;
    rows.push(Row::new(
        format!(
            "drain {drain_records} demands ({tenants} tenants, {drain_workers} worker process(es) x {drain_concurrency} jobs)",
        ),
        format!(
            "{:.1} s ({:.0} records/s)",
            drain.secs, drain.records_per_sec
        ),
        format!("simulators alone: {:.1} s at {raw:.0} records/s", drain_records as f64 / raw),
        format!("{share:.2} of raw (≥ {MIN_SHARE_OF_RAW:.2})"),
        Verdict::of(share >= MIN_SHARE_OF_RAW),
    ));
    rows.push(Row::new(
        "worker process peak RSS, idle (after an empty job)",
        mb(drain.worker_idle_kb),
        "-",
        "-",
        Verdict::Info,
    ));
    let backlog_mb = drain.worker_backlog_kb as f64 / 1024.0;
    rows.push(Row::new(
        format!("worker process peak RSS under the {drain_records}-demand backlog"),
        mb(drain.worker_backlog_kb),
        "-",
        format!("< {MAX_WORKER_RSS_MB:.0} MB"),
        Verdict::of(backlog_mb < MAX_WORKER_RSS_MB),
    ));
    rows.push(Row::new(
        "dispatcher process peak RSS during the drain: idle / end",
        format!(
            "{} / {}",
            mb(drain.dispatcher_idle_kb),
            mb(drain.dispatcher_backlog_kb)
        ),
        "-",
        "-",
        Verdict::Info,
    ));
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}
