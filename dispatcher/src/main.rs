//! `avni-int-dispatcher`: schedules jobs, relays them to RabbitMQ and rescues abandoned ones.

use anyhow::Context;
use avni_int_dispatcher::users;
use avni_int_dispatcher::{Dispatcher, DispatcherConfig};
use avni_int_shared::config::Env;
use avni_int_shared::store::Store;
use avni_int_shared::{shutdown, telemetry};
use clap::{Parser, Subcommand};
use std::io::{BufRead, IsTerminal};

/// The avni-int control plane: cron scheduling (one elected leader among replicas), the outbox
/// relay to RabbitMQ and the stuck-job rescuer. Applies database migrations at start.
///
/// Configuration is read from the environment: DATABASE_URL (or AVNI_INT_DATASOURCE /
/// AVNI_INT_DATABASE, AVNI_INT_DATABASE_PORT, AVNI_INT_DB_USER, AVNI_INT_DB_PASSWORD),
/// AMQP_URL, AVNI_INT_ENV, QUEUE_PREFIX, DISPATCHER_MODULES, the module crons
/// (AMRIT_SCHEDULE_CRON, BAHMNI_SCHEDULE_CRON, POWER_INT_SCHEDULE_CRON, LAHI_INT_SCHEDULE_CRON
/// and their _FULL_ERROR twins), AVNI_INT_CRON_UTC_OFFSET, LEADER_LEASE_SECS,
/// SCHEDULE_RELOAD_SECS, RESCUE_INTERVAL_SECS, JOB_MAX_ATTEMPTS, LOG_FORMAT (json|pretty).
#[derive(Parser, Debug)]
#[command(name = "avni-int-dispatcher", version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the dispatcher (the default).
    Run,
    /// Apply database migrations and exit.
    Migrate,
    /// Manage admin users (applies migrations first). Passwords are read from the first line
    /// of stdin, never from the command line, where `ps` and shell history would keep them.
    #[command(subcommand)]
    User(UserCommand),
}

#[derive(Subcommand, Debug, PartialEq, Eq)]
enum UserCommand {
    /// Create a user of an integration system; the password is read from stdin.
    Create {
        #[arg(long)]
        email: String,
        /// The integration system's name or id.
        #[arg(long)]
        tenant: String,
    },
    /// Set a user's password (read from stdin); ends the user's open sessions.
    SetPassword {
        #[arg(long)]
        email: String,
    },
    /// Move a user to another integration system (name or id).
    SetTenant {
        #[arg(long)]
        email: String,
        #[arg(long)]
        tenant: String,
    },
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
            migrated_store(&env).await?;
            tracing::info!("migrations applied");
            Ok(())
        }
        Command::User(command) => {
            let store = migrated_store(&env).await?;
            run_user_command(store.pool(), command).await
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

async fn migrated_store(env: &Env<'_>) -> anyhow::Result<Store> {
    let url = env
        .database_url()
        .context("reading the database settings")?;
    let store = Store::connect_lazy(&url, 2).context("configuring the database pool")?;
    store.migrate().await.context("applying migrations")?;
    Ok(store)
}

async fn run_user_command(pool: &sqlx::PgPool, command: UserCommand) -> anyhow::Result<()> {
    match command {
        UserCommand::Create { email, tenant } => {
            let password = read_password()?;
            let id = users::create_user(pool, &email, &tenant, &password)
                .await
                .context("creating the user")?;
            println!("created user {id} ({email})");
        }
        UserCommand::SetPassword { email } => {
            let password = read_password()?;
            users::set_password(pool, &email, &password)
                .await
                .context("setting the password")?;
            println!("password of {email} set; their open sessions ended");
        }
        UserCommand::SetTenant { email, tenant } => {
            let tenant = users::set_tenant(pool, &email, &tenant)
                .await
                .context("setting the integration system")?;
            println!("{email} now works on integration system {}", tenant.0);
        }
    }
    Ok(())
}

/// The first line of stdin without its line ending.
fn read_password() -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("password (shown as typed; pipe it in to hide it): ");
    }
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .context("reading the password from stdin")?;
    let password = line.trim_end_matches(['\n', '\r']).to_owned();
    anyhow::ensure!(!password.is_empty(), "no password on stdin");
    Ok(password)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("avni-int-dispatcher").chain(args.iter().copied()))
    }

    #[test]
    fn user_commands_parse() {
        let cli = parse(&["user", "create", "--email", "a@b.org", "--tenant", "goonj"]).unwrap();
        assert!(matches!(
            cli.command,
            Some(Command::User(UserCommand::Create { ref email, ref tenant }))
                if email == "a@b.org" && tenant == "goonj"
        ));
        let cli = parse(&["user", "set-password", "--email", "a@b.org"]).unwrap();
        assert!(matches!(
            cli.command,
            Some(Command::User(UserCommand::SetPassword { .. }))
        ));
        let cli = parse(&["user", "set-tenant", "--email", "a@b.org", "--tenant", "7"]).unwrap();
        assert!(matches!(
            cli.command,
            Some(Command::User(UserCommand::SetTenant { ref tenant, .. })) if tenant == "7"
        ));
        assert!(parse(&[]).unwrap().command.is_none());
    }

    #[test]
    fn passwords_are_never_taken_from_arguments() {
        assert!(parse(&[
            "user",
            "set-password",
            "--email",
            "a@b.org",
            "--password",
            "x"
        ])
        .is_err());
        assert!(
            parse(&["user", "create", "--email", "a@b.org"]).is_err(),
            "tenant is required"
        );
    }
}
