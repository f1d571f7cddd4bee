//! `avni-int-test-dispatcher`: the dispatcher as its `run` command starts it, built in this
//! package so benchmarks can find it (`CARGO_BIN_EXE_…`) and measure a real dispatcher process.

use anyhow::Context;
use avni_int_dispatcher::{Dispatcher, DispatcherConfig};
use avni_int_shared::config::Env;
use avni_int_shared::{shutdown, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let env = Env::process();
    telemetry::init(telemetry::LogFormat::parse(
        env.get("LOG_FORMAT").as_deref(),
    ));
    let config = DispatcherConfig::from_env(&env).context("reading configuration")?;
    let shutdown = shutdown::on_signal();
    let dispatcher = Dispatcher::build(config, &shutdown)
        .await
        .context("starting the dispatcher")?;
    dispatcher.run_until_stopped(shutdown).await;
    Ok(())
}
