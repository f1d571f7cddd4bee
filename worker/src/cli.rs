//! The worker's command line, shared by `avni-int-worker` and any binary that adds modules
//! (the fleet tests' worker adds a test-only module).

use crate::module::Registry;
use crate::{Worker, WorkerConfig};
use anyhow::Context;
use avni_int_shared::config::Env;
use avni_int_shared::{shutdown, telemetry};
use clap::Parser;

/// The avni-int data plane: consumes sync jobs from RabbitMQ and runs them against Avni and
/// the partner systems.
///
/// Configuration is read from the environment: DATABASE_URL (or the original AVNI_INT_DATASOURCE
/// family), AMQP_URL, QUEUE_PREFIX, WORKER_MODULES (comma-separated; default all),
/// WORKER_CONCURRENCY (4), JOB_LEASE_SECS (30), JOB_TIME_BUDGET_SECS (300),
/// SHUTDOWN_GRACE_SECS (30), HEALTHCHECK_PING_KEY, HEALTHCHECK_BASE_URL, BUGSNAG_API_KEY,
/// BUGSNAG_RELEASE_STAGE, BUGSNAG_ENDPOINT, AVNI_HTTP_CLIENT_TIMEOUT, WORKER_ID,
/// LOG_FORMAT (json|pretty).
#[derive(Parser)]
#[command(version)]
pub struct Cli {}

/// Parses the command line, reads the environment and runs a worker with `registry` until
/// SIGTERM.
pub async fn run(name: &str, registry: Registry) -> anyhow::Result<()> {
    let _cli = Cli::parse_from(std::iter::once(name.to_owned()).chain(std::env::args().skip(1)));
    let env = Env::process();
    telemetry::init(telemetry::LogFormat::parse(
        env.get("LOG_FORMAT").as_deref(),
    ));
    let config = WorkerConfig::from_env(&env).context("reading configuration")?;
    let worker = Worker::build(config, registry).context("starting the worker")?;
    worker.run_until_stopped(shutdown::on_signal()).await;
    Ok(())
}
