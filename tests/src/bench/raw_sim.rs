//! The simulators' own rates for the requests a sync makes, with no integration in between:
//! the physical limit of a sync through them.

use crate::goonj_world::add_goonj_metadata;
use crate::sim::avni::{AvniSim, AvniSimConfig};
use crate::sim::goonj::{ist_wall_clock, parse_sf_datetime, GoonjSim, GoonjSimConfig};
use serde_json::json;
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

/// Measures both on fresh simulators: `n` demands paged, `n` upserts.
pub async fn demand_limit(n: usize, connections: usize) -> DemandLimit {
    let salesforce = GoonjSim::start(GoonjSimConfig::default()).await;
    let avni = AvniSim::start(AvniSimConfig::default()).await;
    add_goonj_metadata(&avni);
    DemandLimit {
        salesforce_pages: salesforce_demand_pages(&salesforce, n).await,
        avni_upserts: avni_upserts(&avni.base_url, n, connections).await,
        connections,
    }
}

/// Seeds `n` demands and reads them all as the sync does: pages after a cursor.
pub async fn salesforce_demand_pages(sim: &GoonjSim, n: usize) -> f64 {
    let start = chrono::Utc::now() - chrono::Duration::days(5);
    sim.seed_demands(n, start);
    let http = reqwest::Client::new();
    let token = salesforce_token(&http, sim).await;
    let url = format!("{}/DemandService/getDemands", sim.app_url());
    let mut cursor = start - chrono::Duration::seconds(1);
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
pub async fn salesforce_token(http: &reqwest::Client, sim: &GoonjSim) -> String {
    let config = sim.config();
    let token: serde_json::Value = http
        .post(sim.auth_url())
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
