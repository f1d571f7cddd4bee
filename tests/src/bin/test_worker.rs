//! `avni-int-test-worker`: the real worker's modules plus the test-only `probe` module, so
//! fleet tests and benchmarks can kill, signal and measure a real worker process.

use avni_int_worker::goonj::Goonj;
use avni_int_worker::module::Registry;
use std::time::Duration;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()?;
    let goonj = Goonj::module(http, Duration::from_secs(3600))?;
    let registry = Registry::new()
        .with(avni_int_tests::probe::Probe::module())
        .with(goonj);
    avni_int_worker::cli::run("avni-int-test-worker", registry).await
}
