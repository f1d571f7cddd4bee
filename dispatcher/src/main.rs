//! `avni-int-dispatcher`: schedules jobs, relays them to RabbitMQ and rescues abandoned ones.

use anyhow::Context;
use avni_int_dispatcher::{Dispatcher, DispatcherConfig};
use avni_int_shared::config::Env;
use avni_int_shared::store::Store;
use avni_int_shared::{shutdown, telemetry};
use clap::{Parser, Subcommand};

/// The avni-int control plane: cron scheduling (one elected leader among replicas), the outbox
/// relay to RabbitMQ and the stuck-job rescuer. Applies database migrations at start.
///
/// Configuration is read from the environment: DATABASE_URL (or AVNI_INT_DATASOURCE /
/// AVNI_INT_DATABASE, AVNI_INT_DATABASE_PORT, AVNI_INT_DB_USER, AVNI_INT_DB_PASSWORD),
/// AMQP_URL, AVNI_INT_ENV, QUEUE_PREFIX, DISPATCHER_MODULES, the module crons
/// (AMRIT_SCHEDULE_CRON, BAHMNI_SCHEDULE_CRON, POWER_INT_SCHEDULE_CRON, LAHI_INT_SCHEDULE_CRON
/// and their _FULL_ERROR twins), AVNI_INT_CRON_UTC_OFFSET, LEADER_LEASE_SECS,
/// SCHEDULE_RELOAD_SECS, RESCUE_INTERVAL_SECS, JOB_MAX_ATTEMPTS, LOG_FORMAT (json|pretty).
#[derive(Parser)]
#[command(name = "avni-int-dispatcher", version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the dispatcher (the default).
    Run,
    /// Apply database migrations and exit.
    Migrate,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let env = Env::process();
    telemetry::init(telemetry::LogFormat::parse(
        env.get("LOG_FORMAT").as_deref(),
    ));
    match cli.command.unwrap_or(Command::Run) {
        Command::Migrate => {
            let url = env
                .database_url()
                .context("reading the database settings")?;
            let store = Store::connect_lazy(&url, 2).context("configuring the database pool")?;
            store.migrate().await.context("applying migrations")?;
            tracing::info!("migrations applied");
            Ok(())
        }
        Command::Run => {
            let config = DispatcherConfig::from_env(&env).context("reading configuration")?;
            let shutdown = shutdown::on_signal();
            let dispatcher = Dispatcher::build(config, &shutdown)
                .await
                .context("starting the dispatcher")?;
            dispatcher.run_until_stopped(shutdown).await;
            Ok(())
        }
    }
}
