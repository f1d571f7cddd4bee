//! `avni-int-worker`: runs sync jobs for the modules this build includes.

use avni_int_worker::module::Registry;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // Partner modules register here as they are added (Goonj, Amrit, Bahmni, ...).
    let registry = Registry::new();
    avni_int_worker::cli::run("avni-int-worker", registry).await
}
