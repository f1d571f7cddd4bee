//! Goonj sync benchmark (not a test): a backlog of demands (Salesforce → Avni) and one of
//! dispatch receipts (Avni → Salesforce) synced by a real worker process through the simulators
//! at zero latency, each next to the raw rate the simulator sustains alone for the same
//! requests in the same run, and the worker's peak RSS.
//!
//! `cargo bench -p avni-int-tests --bench goonj_sync`
//! Env: BENCH_RECORDS (20000), BENCH_CONCURRENCY (client connections for the raw rate, 8).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use avni_int_shared::JobKind;
use avni_int_tests::goonj_world::{goonj, world, GoonjWorld};
use avni_int_tests::sim::avni::{SeedEncounter, SeedSubject};
use serde_json::json;
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
    let raw = raw_avni_upserts(&w.avni.base_url, records.min(10_000), concurrency).await;

    w.salesforce
        .seed_demands(records, chrono::Utc::now() - chrono::Duration::days(3));
    let before = w.avni.subject_count();
    let demands = run_backlog(&w, records, || w.avni.subject_count() - before).await;

    // Avni → Salesforce: dispatch receipts.
    w.app
        .set_config(w.tenant, "int_tasks", "AvniDispatchReceipt")
        .await;
    w.add_mappings("Dispatch receipt", &[("Kit", "Kit")]).await;
    seed_receipts(&w, records);
    let raw_read = raw_avni_receipt_reads(&w, records).await;
    let raw_subject = raw_avni_subject_gets(&w, records.min(10_000), concurrency).await;
    let raw_write = raw_salesforce_receipts(&w, records.min(10_000)).await;
    // Each record costs the simulators its share of a page, its subject's lookup (the contract
    // skips receipts of voided subjects) and its share of an upsert: the path's physical limit.
    let raw_sf = 1.0 / (1.0 / raw_read + 1.0 / raw_subject + 1.0 / raw_write);
    let before = w.salesforce.dispatch_receipts().len();
    let receipts = run_backlog(&w, records, || {
        w.salesforce.dispatch_receipts().len() - before
    })
    .await;

    println!();
    println!("| measure | value |");
    println!("|---|---|");
    println!("| raw Avni simulator subject upserts ({concurrency} connections) | {raw:.0} req/s |");
    println!(
        "| demands synced Salesforce → Avni ({records}, one worker process) | {:.0} records/s ({:.2} of raw) |",
        demands.rate, demands.rate / raw
    );
    println!(
        "| raw simulators for receipts: Avni pages {raw_read:.0}/s, subject GETs {raw_subject:.0}/s, Salesforce upserts of 200 {raw_write:.0}/s; all | {raw_sf:.0} records/s |"
    );
    println!(
        "| receipts synced Avni → Salesforce ({records}, one worker process) | {:.0} records/s ({:.2} of raw) |",
        receipts.rate, receipts.rate / raw_sf
    );
    println!(
        "| worker peak RSS (demands / receipts backlog) | {:.1} MB / {:.1} MB |",
        demands.peak_rss_kb as f64 / 1024.0,
        receipts.peak_rss_kb as f64 / 1024.0
    );
}

struct Backlog {
    rate: f64,
    peak_rss_kb: u64,
}

/// Runs the tenant's main job on a fresh worker process until `done()` reaches `records`.
async fn run_backlog(w: &GoonjWorld, records: usize, done: impl Fn() -> usize) -> Backlog {
    let dispatcher = w.app.start_dispatcher(w.app.dispatcher_config()).await;
    let mut worker = w.app.spawn_worker_process(
        env!("CARGO_BIN_EXE_avni-int-test-worker"),
        "bench-goonj-worker",
        &[
            ("RUST_LOG", "warn"),
            ("JOB_LEASE_SECS", "30"),
            ("MALLOC_ARENA_MAX", "2"),
        ],
    );
    let pid = worker.id().unwrap();
    let started = Instant::now();
    let job = w.app.enqueue_for(w.tenant, goonj(), JobKind::Regular).await;
    let mut peak_rss_kb = 0u64;
    while done() < records {
        peak_rss_kb = peak_rss_kb.max(rss_kb(pid, "VmRSS"));
        assert!(
            started.elapsed() < Duration::from_secs(900),
            "sync too slow"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let elapsed = started.elapsed();
    // The last record is counted before the job commits: killing the worker then would leave
    // the job live, and the next backlog could not be enqueued.
    w.app
        .job_reaches(job, "succeeded", Duration::from_secs(60))
        .await;
    peak_rss_kb = peak_rss_kb.max(rss_kb(pid, "VmHWM"));
    worker.start_kill().unwrap();
    let _ = worker.wait().await;
    dispatcher.stop().await;
    Backlog {
        rate: records as f64 / elapsed.as_secs_f64(),
        peak_rss_kb,
    }
}

/// `n` dispatch receipts, each on its own Dispatch subject, entered over yesterday 10 ms apart
/// (the tie case has its own tests; here it would measure the tie walk, not the sync).
fn seed_receipts(w: &GoonjWorld, n: usize) {
    let start = chrono::Utc::now() - chrono::Duration::days(1);
    for i in 0..n {
        let yesterday = start + chrono::Duration::milliseconds(10 * i as i64);
        let dispatch_id = format!("a0DBENCH{i:010}");
        let subject = w.avni.seed_subject(SeedSubject {
            external_id: Some(dispatch_id.clone()),
            created_at: Some(yesterday),
            ..SeedSubject::new("Dispatch")
        });
        let observations = json!({
            "Dispatch Status Id": dispatch_id,
            "Dispatch Received Date": "2023-06-03T18:30:00.000Z",
            "Received Material": [{
                "Dispatch Line Item Id": format!("{dispatch_id}-L1"),
                "Type Of Material": "Kit", "Kit Name": "Family kit",
                "Quantity as per dispatch": 10, "Quantity matching": "Yes"
            }]
        });
        w.avni.seed_encounter(SeedEncounter {
            encounter_date_time: Some(yesterday),
            observations: observations.as_object().cloned().unwrap_or_default(),
            created_at: Some(yesterday),
            ..SeedEncounter::new("Dispatch receipt", &subject)
        });
    }
}

/// The Avni simulator's own rate for what the receipt step reads: pages of 2000 encounters.
async fn raw_avni_receipt_reads(w: &GoonjWorld, n: usize) -> f64 {
    let http = reqwest::Client::new();
    let token = avni_token(&http, &w.avni.base_url).await;
    let started = Instant::now();
    let mut read = 0;
    let mut page = 0;
    while read < n {
        let body: serde_json::Value = http
            .get(format!("{}/api/encounters", w.avni.base_url))
            .header("AUTH-TOKEN", &token)
            .query(&[
                ("encounterType", "Dispatch receipt"),
                ("lastModifiedDateTime", "2000-01-01T00:00:00.000Z"),
                ("size", "2000"),
                ("page", &page.to_string()),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let count = body["content"].as_array().map(Vec::len).unwrap_or(0);
        if count == 0 {
            break;
        }
        read += count;
        page += 1;
    }
    read as f64 / started.elapsed().as_secs_f64()
}

/// The Avni simulator's own rate for single-subject GETs (by External ID).
async fn raw_avni_subject_gets(w: &GoonjWorld, n: usize, concurrency: usize) -> f64 {
    let http = reqwest::Client::new();
    let token = avni_token(&http, &w.avni.base_url).await;
    let per_task = n / concurrency;
    let started = Instant::now();
    let tasks: Vec<_> = (0..concurrency)
        .map(|t| {
            let (http, token, base) = (http.clone(), token.clone(), w.avni.base_url.clone());
            tokio::spawn(async move {
                for i in 0..per_task {
                    let id = format!("a0DBENCH{:010}", t * per_task + i);
                    let response = http
                        .get(format!("{base}/api/subject/{id}"))
                        .header("AUTH-TOKEN", &token)
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

/// The Salesforce simulator's own rate for what the receipt step sends: upserts of 200.
async fn raw_salesforce_receipts(w: &GoonjWorld, n: usize) -> f64 {
    let http = reqwest::Client::new();
    let token: serde_json::Value = http
        .post(w.salesforce.auth_url())
        .form(&[
            ("grant_type", "password"),
            ("username", "goonj-main-dummy"),
            ("password", "goonj-main-dummy"),
            ("client_id", "goonj-main-dummy"),
            ("client_secret", "goonj-main-dummy"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["access_token"].as_str().unwrap().to_owned();
    let url = format!(
        "{}/DispatchReceivedService/upsertDispatchReceivedStatus",
        w.salesforce.app_url()
    );
    let started = Instant::now();
    for batch in 0..n / 200 {
        let records: Vec<serde_json::Value> = (0..200)
            .map(|i| {
                json!({"SourceId": format!("raw-{batch}-{i}"), "DispatchStatusId": "x",
                       "ReceivedDate": "2023-06-04", "DispatchReceivedStatusLineItems": [
                           {"SourceId": format!("raw-{batch}-{i}-L"), "TypeOfMaterial": "Kit",
                            "ItemName": "Family kit", "DispatchedQuantity": 10, "ReceivedQuantity": 10}]})
            })
            .collect();
        let response = http
            .post(&url)
            .bearer_auth(&token)
            .json(&json!({"DispatchReceivedStatus": records}))
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "{}", response.status());
    }
    (n / 200 * 200) as f64 / started.elapsed().as_secs_f64()
}

/// The Avni simulator's own rate for the request the sync makes per record: a subject upsert.
async fn raw_avni_upserts(base_url: &str, n: usize, concurrency: usize) -> f64 {
    let http = reqwest::Client::new();
    let token = avni_token(&http, base_url).await;
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

/// A token from the Avni simulator's generateToken.
async fn avni_token(http: &reqwest::Client, base_url: &str) -> String {
    let answer: serde_json::Value = http
        .post(format!("{base_url}/api/user/generateToken"))
        .json(&json!({"username": "integration", "password": "password"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["authToken"].as_str().unwrap().to_owned()
}
