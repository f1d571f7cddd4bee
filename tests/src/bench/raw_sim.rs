//! The simulators' own rates for the requests a sync makes, with no integration in between:
//! the physical limit of a sync through them. The load comes from a child process (the bench
//! binary run again with [`CLIENT_FLAG`]), as the sync's load comes from worker processes: a
//! client inside the simulators' process would take their CPU and understate the limit.

use crate::goonj_world::add_goonj_metadata;
use crate::sim::avni::{AvniSim, AvniSimConfig};
use crate::sim::goonj::{
    ist_wall_clock, parse_ist_wall_clock, parse_sf_datetime, GoonjSim, GoonjSimConfig,
};
use serde_json::json;
use std::path::Path;
use std::time::Instant;

/// Requests per second the simulators sustain for what one demand costs.
pub struct DemandLimit {
    /// Demands per second read from Salesforce's feed, page after page (one connection).
    pub salesforce_pages: f64,
    /// Avni subject upserts per second over `connections` connections.
    pub avni_upserts: f64,
    pub connections: usize,
}

impl DemandLimit {
    /// Records per second when each costs its share of a page and one upsert.
    pub fn records_per_sec(&self) -> f64 {
        1.0 / (1.0 / self.salesforce_pages + 1.0 / self.avni_upserts)
    }
}

/// The argument that makes a bench binary a load client: `CLIENT_FLAG <what> <args…>`.
pub const CLIENT_FLAG: &str = "--raw-sim-client";

/// Measures both on fresh simulators served here, the load from child processes of
/// `bench_binary` (`std::env::current_exe()` of a bench that calls [`client_main`]).
pub async fn demand_limit(bench_binary: &Path, n: usize, connections: usize) -> DemandLimit {
    let salesforce = GoonjSim::start(GoonjSimConfig::default()).await;
    let start = chrono::Utc::now() - chrono::Duration::days(5);
    salesforce.seed_demands(n, start);
    let avni = AvniSim::start(AvniSimConfig::default()).await;
    add_goonj_metadata(&avni);
    let n_text = n.to_string();
    DemandLimit {
        salesforce_pages: in_child(
            bench_binary,
            &[
                "salesforce-demand-pages",
                &salesforce.auth_url(),
                &salesforce.app_url(),
                &ist_wall_clock(start - chrono::Duration::seconds(1)),
                &n_text,
            ],
        )
        .await,
        avni_upserts: in_child(
            bench_binary,
            &[
                "avni-upserts",
                &avni.base_url,
                &n_text,
                &connections.to_string(),
            ],
        )
        .await,
        connections,
    }
}

/// Runs one measurement in a child process; the rate it prints.
pub async fn in_child(bench_binary: &Path, args: &[&str]) -> f64 {
    let output = tokio::process::Command::new(bench_binary)
        .arg(CLIENT_FLAG)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::inherit())
        .output()
        .await
        .expect("raw client process runs");
    assert!(output.status.success(), "raw client {args:?} failed");
    let text = String::from_utf8_lossy(&output.stdout);
    text.trim()
        .parse()
        .unwrap_or_else(|_| panic!("raw client {args:?} printed {text:?}"))
}

/// When this process was started as a load client: runs it, prints the rate and returns true.
/// Benches call this first thing in `main`.
pub async fn client_main() -> bool {
    let args: Vec<String> = std::env::args().collect();
    let Some(at) = args.iter().position(|a| a == CLIENT_FLAG) else {
        return false;
    };
    let args: Vec<&str> = args[at + 1..].iter().map(String::as_str).collect();
    let number = |i: usize| -> usize { args[i].parse().expect("a count") };
    let rate = match args.first().copied() {
        Some("salesforce-demand-pages") => {
            let cursor = parse_ist_wall_clock(args[3]).expect("an IST cursor");
            salesforce_demand_pages(args[1], args[2], cursor, number(4)).await
        }
        Some("avni-upserts") => avni_upserts(args[1], number(2), number(3)).await,
        Some("avni-receipt-pages") => super::receipts::avni_receipt_pages(args[1], number(2)).await,
        Some("avni-subject-gets") => {
            super::receipts::avni_subject_gets(args[1], number(2), number(3)).await
        }
        Some("salesforce-receipt-upserts") => {
            super::receipts::salesforce_receipt_upserts(args[1], args[2], number(3)).await
        }
        other => panic!("unknown raw client {other:?}"),
    };
    println!("{rate}");
    true
}

/// Reads `n` demands as the sync does: pages after a cursor (the contract's dummy
/// credentials).
pub async fn salesforce_demand_pages(
    auth_url: &str,
    app_url: &str,
    mut cursor: chrono::DateTime<chrono::Utc>,
    n: usize,
) -> f64 {
    let http = reqwest::Client::new();
    let token = salesforce_token(&http, auth_url).await;
    let url = format!("{app_url}/DemandService/getDemands");
    let started = Instant::now();
    let mut read = 0;
    while read < n {
        let answer: serde_json::Value = http
            .get(&url)
            .bearer_auth(&token)
            .query(&[("dateTimestamp", ist_wall_clock(cursor))])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let page = answer["Demands"].as_array().cloned().unwrap_or_default();
        let Some(last) = page.last() else { break };
        cursor = last["LastUpdatedDateTime"]
            .as_str()
            .and_then(parse_sf_datetime)
            .unwrap();
        read += page.len();
    }
    assert!(read >= n, "paged {read} of {n} demands");
    read as f64 / started.elapsed().as_secs_f64()
}

/// The Avni simulator's own rate for the request the sync makes per record: a subject upsert.
pub async fn avni_upserts(base_url: &str, n: usize, connections: usize) -> f64 {
    let http = reqwest::Client::new();
    let token = avni_token(&http, base_url).await;
    let started = Instant::now();
    let per_task = n / connections;
    let tasks: Vec<_> = (0..connections)
        .map(|t| {
            let http = http.clone();
            let token = token.clone();
            let url = format!("{base_url}/api/subject?version=3");
            tokio::spawn(async move {
                for i in 0..per_task {
                    let body = json!({
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
    (per_task * connections) as f64 / started.elapsed().as_secs_f64()
}

/// A token from the Avni simulator's generateToken.
pub async fn avni_token(http: &reqwest::Client, base_url: &str) -> String {
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

/// A token from the Salesforce simulator's password grant (the contract's dummy credentials).
pub async fn salesforce_token(http: &reqwest::Client, auth_url: &str) -> String {
    let config = GoonjSimConfig::default();
    let token: serde_json::Value = http
        .post(auth_url)
        .form(&[
            ("grant_type", "password"),
            ("username", config.username.as_str()),
            ("password", config.password.as_str()),
            ("client_id", config.client_id.as_str()),
            ("client_secret", config.client_secret.as_str()),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    token["access_token"].as_str().unwrap().to_owned()
}
