//! Goonj sync benchmark (not a test): a backlog of demands (Salesforce → Avni) synced by a real
//! worker process through the simulators at zero latency, next to the raw request rate the
//! simulators sustain alone in the same run, and the worker's peak RSS.
//!
//! `cargo bench -p avni-int-tests --bench goonj_sync`
//! Env: BENCH_RECORDS (20000), BENCH_CONCURRENCY (client connections for the raw rate, 8).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use avni_int_shared::JobKind;
use avni_int_tests::goonj_world::{goonj, world};
use std::time::{Duration, Instant};

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let records = env_num("BENCH_RECORDS", 20_000) as usize;
    let concurrency = env_num("BENCH_CONCURRENCY", 8) as usize;

    let w = world("GoonjDemand").await;
    // Demands carry no mapped fields the bench Avni lacks.
    w.avni
        .add_concept("Target Community", Some(&["Rural", "Tribal", "Urban"]));
    let raw = raw_avni_upserts(&w.avni.base_url, records.min(10_000), concurrency).await;

    w.salesforce
        .seed_demands(records, chrono::Utc::now() - chrono::Duration::days(3));
    let before = w.avni.subject_count();
    let dispatcher = w.app.start_dispatcher(w.app.dispatcher_config()).await;
    let mut worker = w.app.spawn_worker_process(
        env!("CARGO_BIN_EXE_avni-int-test-worker"),
        "bench-goonj-worker",
        &[("RUST_LOG", "warn"), ("JOB_LEASE_SECS", "30")],
    );
    let pid = worker.id().unwrap();
    let started = Instant::now();
    w.app.enqueue_for(w.tenant, goonj(), JobKind::Regular).await;
    let mut peak_rss_kb = 0u64;
    loop {
        peak_rss_kb = peak_rss_kb.max(rss_kb(pid, "VmRSS"));
        if w.avni.subject_count() - before >= records {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(900),
            "sync too slow"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let elapsed = started.elapsed();
    peak_rss_kb = peak_rss_kb.max(rss_kb(pid, "VmHWM"));
    worker.start_kill().unwrap();
    let _ = worker.wait().await;
    dispatcher.stop().await;

    let synced_rate = records as f64 / elapsed.as_secs_f64();
    println!();
    println!("| measure | value |");
    println!("|---|---|");
    println!("| raw Avni simulator upserts ({concurrency} connections) | {raw:.0} req/s |");
    println!("| demands synced Salesforce → Avni ({records}, one worker process) | {synced_rate:.0} records/s |");
    println!("| synced / raw | {:.2} |", synced_rate / raw);
    println!(
        "| worker peak RSS during the backlog | {:.1} MB |",
        peak_rss_kb as f64 / 1024.0
    );
}

/// The Avni simulator's own rate for the request the sync makes per record: a subject upsert.
async fn raw_avni_upserts(base_url: &str, n: usize, concurrency: usize) -> f64 {
    let http = reqwest::Client::new();
    let token: serde_json::Value = http
        .post(format!("{base_url}/api/user/generateToken"))
        .json(&serde_json::json!({"username": "integration", "password": "password"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["authToken"].as_str().unwrap().to_owned();
    let started = Instant::now();
    let per_task = n / concurrency;
    let tasks: Vec<_> = (0..concurrency)
        .map(|t| {
            let http = http.clone();
            let token = token.clone();
            let url = format!("{base_url}/api/subject?version=3");
            tokio::spawn(async move {
                for i in 0..per_task {
                    let body = serde_json::json!({
                        "External ID": format!("raw-{t}-{i}"), "Subject type": "Demand",
                        "Registration date": "2026-01-01", "First name": "raw",
                        "Address map": {"State": "Bihar", "District": "Patna"},
                        "observations": {}, "Voided": false,
                    });
                    let response = http
                        .post(&url)
                        .header("AUTH-TOKEN", &token)
                        .json(&body)
                        .send()
                        .await
                        .unwrap();
                    assert!(response.status().is_success(), "{}", response.status());
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    (per_task * concurrency) as f64 / started.elapsed().as_secs_f64()
}

fn rss_kb(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}
