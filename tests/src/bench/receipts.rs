//! Goonj dispatch receipts (Avni → Salesforce) through the simulators at zero latency: the
//! seeded backlog, the simulators' own rates for the requests a receipt costs, and the sync
//! by a worker process.

use super::goonj::{Backlog, BacklogRun};
use super::process::Binaries;
use super::raw_sim::{avni_token, in_child, salesforce_token};
use crate::goonj_world::{receipt_observations, world, GoonjWorld};
use crate::sim::avni::{SeedEncounter, SeedSubject};
use serde_json::json;
use std::path::Path;
use std::time::Instant;

/// A Goonj tenant syncing dispatch receipts only, `Kit` mapped.
pub async fn receipts_world() -> GoonjWorld {
    let w = world("AvniDispatchReceipt").await;
    w.add_mappings("Dispatch receipt", &[("Kit", "Kit")]).await;
    w
}

/// Syncs `records` seeded receipts with `workers` worker processes; done when Salesforce
/// holds them all.
pub async fn sync_receipts(
    w: &GoonjWorld,
    records: usize,
    workers: usize,
    binaries: Binaries<'_>,
) -> Backlog {
    let before = w.salesforce.dispatch_receipts().len();
    let run = BacklogRun {
        app: &w.app,
        tenants: &[w.tenant],
        binaries,
        workers,
        concurrency: 1,
    };
    run.time(
        records,
        || seed_receipts(w, records),
        || w.salesforce.dispatch_receipts().len() - before,
    )
    .await
}

/// `n` dispatch receipts, each on its own Dispatch subject, entered over yesterday 10 ms apart
/// (the tie case has its own tests; here it would measure the tie walk, not the sync).
pub fn seed_receipts(w: &GoonjWorld, n: usize) {
    let start = chrono::Utc::now() - chrono::Duration::days(1);
    for i in 0..n {
        let yesterday = start + chrono::Duration::milliseconds(10 * i as i64);
        let dispatch_id = dispatch_id(i);
        let subject = w.avni.seed_subject(SeedSubject {
            external_id: Some(dispatch_id.clone()),
            created_at: Some(yesterday),
            ..SeedSubject::new("Dispatch")
        });
        w.avni.seed_encounter(SeedEncounter {
            encounter_date_time: Some(yesterday),
            observations: receipt_observations(&dispatch_id, "Kit"),
            created_at: Some(yesterday),
            ..SeedEncounter::new("Dispatch receipt", &subject)
        });
    }
}

fn dispatch_id(i: usize) -> String {
    format!("a0DBENCH{i:010}")
}

/// Requests per second the simulators sustain for what one receipt costs.
pub struct ReceiptLimit {
    /// Encounters per second read in pages of 2000.
    pub avni_pages: f64,
    /// Single-subject GETs per second (the contract skips receipts of voided subjects).
    pub avni_subject_gets: f64,
    /// Receipts per second upserted in batches of 200.
    pub salesforce_upserts: f64,
}

impl ReceiptLimit {
    /// Records per second when each costs its share of a page, a subject GET and its share
    /// of an upsert: the path's physical limit.
    pub fn records_per_sec(&self) -> f64 {
        1.0 / (1.0 / self.avni_pages + 1.0 / self.avni_subject_gets + 1.0 / self.salesforce_upserts)
    }
}

/// Measures on `w`'s simulators (receipts already seeded) from child processes of
/// `bench_binary`; `n` requests of each kind at most.
pub async fn receipt_limit(
    bench_binary: &Path,
    w: &GoonjWorld,
    n: usize,
    connections: usize,
) -> ReceiptLimit {
    let n = n.to_string();
    ReceiptLimit {
        avni_pages: in_child(bench_binary, &["avni-receipt-pages", &w.avni.base_url, &n]).await,
        avni_subject_gets: in_child(
            bench_binary,
            &[
                "avni-subject-gets",
                &w.avni.base_url,
                &n,
                &connections.to_string(),
            ],
        )
        .await,
        salesforce_upserts: in_child(
            bench_binary,
            &[
                "salesforce-receipt-upserts",
                &w.salesforce.auth_url(),
                &w.salesforce.app_url(),
                &n,
            ],
        )
        .await,
    }
}

/// The Avni simulator's own rate for what the receipt step reads: pages of 2000 encounters.
pub async fn avni_receipt_pages(base_url: &str, n: usize) -> f64 {
    let http = reqwest::Client::new();
    let token = avni_token(&http, base_url).await;
    let started = Instant::now();
    let mut read = 0;
    let mut page = 0;
    while read < n {
        let body: serde_json::Value = http
            .get(format!("{base_url}/api/encounters"))
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
pub async fn avni_subject_gets(base_url: &str, n: usize, connections: usize) -> f64 {
    let http = reqwest::Client::new();
    let token = avni_token(&http, base_url).await;
    let per_task = n / connections;
    let started = Instant::now();
    let tasks: Vec<_> = (0..connections)
        .map(|t| {
            let (http, token, base) = (http.clone(), token.clone(), base_url.to_owned());
            tokio::spawn(async move {
                for i in 0..per_task {
                    let id = dispatch_id(t * per_task + i);
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
    (per_task * connections) as f64 / started.elapsed().as_secs_f64()
}

/// The Salesforce simulator's own rate for what the receipt step sends: upserts of 200.
pub async fn salesforce_receipt_upserts(auth_url: &str, app_url: &str, n: usize) -> f64 {
    let http = reqwest::Client::new();
    let token = salesforce_token(&http, auth_url).await;
    let url = format!("{app_url}/DispatchReceivedService/upsertDispatchReceivedStatus");
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
