//! `avni-int-test-worker`: the real worker binary plus the test-only `probe` module, so fleet
//! tests can kill and signal a real worker process.

use avni_int_worker::module::Registry;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let registry = Registry::new().with(avni_int_tests::probe::Probe::module());
    avni_int_worker::cli::run("avni-int-test-worker", registry).await
}
