//! Goonj sync benchmark (not a test): a backlog of demands (Salesforce → Avni) and one of
//! dispatch receipts (Avni → Salesforce) synced by a real worker process through the simulators
//! at zero latency, each next to the raw rate the simulators sustain alone for the same
//! requests in the same run (driven from another process), and the worker's peak RSS. The
//! measurements live in `avni_int_tests::bench` (shared with the `report` bench).
//!
//! `cargo bench -p avni-int-tests --bench goonj_sync`
//! Env: BENCH_RECORDS (20000), BENCH_CONCURRENCY (client connections for the raw rate, 8).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use avni_int_tests::bench::goonj::demands_fleet;
use avni_int_tests::bench::process::Binaries;
use avni_int_tests::bench::table::mb;
use avni_int_tests::bench::{env_num, invoked_by_cargo_bench, raw_sim, receipts};

const BINARIES: Binaries<'static> = Binaries {
    worker: env!("CARGO_BIN_EXE_avni-int-test-worker"),
    dispatcher: env!("CARGO_BIN_EXE_avni-int-test-dispatcher"),
};

#[tokio::main]
async fn main() {
    if raw_sim::client_main().await || !invoked_by_cargo_bench() {
        return;
    }
    let records = env_num("BENCH_RECORDS", 20_000) as usize;
    let concurrency = env_num("BENCH_CONCURRENCY", 8) as usize;
    let this = std::env::current_exe().expect("the bench binary's path");

    // Salesforce → Avni: one tenant, one worker process.
    let demand_limit = raw_sim::demand_limit(&this, records, concurrency).await;
    let mut fleet = demands_fleet(1).await;
    let demands = fleet.drain(records, 1, 4, BINARIES).await;
    drop(fleet);

    // Avni → Salesforce: dispatch receipts.
    let w = receipts::receipts_world().await;
    let receipts = receipts::sync_receipts(&w, records, 1, BINARIES).await;
    let receipt_limit = receipts::receipt_limit(&this, &w, records, concurrency).await;

    let raw_demands = demand_limit.records_per_sec();
    let raw_receipts = receipt_limit.records_per_sec();
    println!();
    println!("| measure | value |");
    println!("|---|---|");
    println!(
        "| raw simulators for demands: Salesforce pages {:.0} demands/s, Avni upserts {:.0}/s ({concurrency} connections); all | {raw_demands:.0} records/s |",
        demand_limit.salesforce_pages, demand_limit.avni_upserts
    );
    println!(
        "| demands synced Salesforce → Avni ({records}, one worker process) | {:.0} records/s ({:.2} of raw) |",
        demands.records_per_sec,
        demands.records_per_sec / raw_demands
    );
    println!(
        "| raw simulators for receipts: Avni pages {:.0}/s, subject GETs {:.0}/s, Salesforce upserts of 200 {:.0}/s; all | {raw_receipts:.0} records/s |",
        receipt_limit.avni_pages, receipt_limit.avni_subject_gets, receipt_limit.salesforce_upserts
    );
    println!(
        "| receipts synced Avni → Salesforce ({records}, one worker process) | {:.0} records/s ({:.2} of raw) |",
        receipts.records_per_sec,
        receipts.records_per_sec / raw_receipts
    );
    println!(
        "| worker peak RSS idle / demands backlog / receipts backlog | {} / {} / {} |",
        mb(demands.worker_idle_kb),
        mb(demands.worker_backlog_kb),
        mb(receipts.worker_backlog_kb)
    );
}
