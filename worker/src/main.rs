//! `avni-int-worker`: runs sync jobs for the modules this build includes.

use anyhow::Context;
use avni_int_worker::goonj::Goonj;
use avni_int_worker::module::Registry;
use std::time::Duration;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .context("building the HTTP client")?;
    let sf_token_expiry_ms = std::env::var("GOONJ_SF_TOKEN_EXPIRY")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(3_600_000);
    let goonj = Goonj::module(http, Duration::from_millis(sf_token_expiry_ms))
        .context("creating the goonj module")?;
    // Further partner modules (Amrit, Bahmni, ...) register here.
    let registry = Registry::new().with(goonj);
    avni_int_worker::cli::run("avni-int-worker", registry).await
}
