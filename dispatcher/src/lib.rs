//! The dispatcher: the fleet's control plane. Every replica relays the outbox; the elected
//! leader also schedules cron jobs and rescues abandoned ones. Every replica serves the admin API.

pub mod adhoc;
pub mod admin;
pub mod catalog;
pub mod cron;
pub mod gauges;
pub mod leader;
pub mod relay;
pub mod rescue;
pub mod schedule;
pub mod users;

use admin::{AdminConfig, AdminServer, AdminState};
use avni_int_shared::broker::Topology;
use avni_int_shared::config::{ConfigError, Env};
use avni_int_shared::metrics::{Metrics, MetricsError};
use avni_int_shared::store::{self, Store, StoreError};
use avni_int_shared::WorkerId;
use catalog::ModuleSpec;
use chrono::{FixedOffset, Utc};
use leader::LeaderElector;
use relay::{Relay, RelayConfig};
use rescue::{RescueConfig, Rescuer};
use schedule::{Scheduler, SchedulerConfig};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

#[derive(Debug, thiserror::Error)]
pub enum DispatcherError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Catalog(#[from] catalog::UnknownModule),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Metrics(#[from] MetricsError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
}

/// Everything the dispatcher needs; `from_env` reads the deployment's variables.
#[derive(Debug, Clone)]
pub struct DispatcherConfig {
    pub id: WorkerId,
    pub database_url: String,
    pub amqp_url: String,
    pub topology: Topology,
    pub catalog: Vec<ModuleSpec>,
    pub int_env: Option<String>,
    pub cron_offset: FixedOffset,
    pub leader_ttl: Duration,
    pub tick_interval: Duration,
    pub reload_interval: Duration,
    pub catch_up_window: Duration,
    pub relay_batch_size: i64,
    pub relay_poll_interval: Duration,
    pub rescue_interval: Duration,
    pub max_attempts: i32,
    pub stale_after: Duration,
    pub admin: AdminConfig,
    /// How often queue depths, dead letters and the outbox backlog are sampled.
    pub gauge_interval: Duration,
}

impl DispatcherConfig {
    pub fn from_env(env: &Env<'_>) -> Result<Self, DispatcherError> {
        let offset_text = env.get_or("AVNI_INT_CRON_UTC_OFFSET", "+00:00");
        let cron_offset = cron::parse_offset(&offset_text).ok_or(ConfigError::Invalid {
            name: "AVNI_INT_CRON_UTC_OFFSET".into(),
            expected: "UTC offset like +05:30",
            value: offset_text,
        })?;
        Ok(DispatcherConfig {
            id: WorkerId(
                env.get("DISPATCHER_ID")
                    .unwrap_or_else(|| WorkerId::generate("dispatcher").0),
            ),
            database_url: env.database_url()?,
            amqp_url: env.amqp_url(),
            topology: Topology::new(
                env.queue_prefix(),
                env.parse("QUEUE_DELIVERY_LIMIT", "positive integer", 5u32)?,
            ),
            catalog: catalog::builtin(env, env.get("DISPATCHER_MODULES").as_deref())?,
            int_env: env.get("AVNI_INT_ENV"),
            cron_offset,
            leader_ttl: env.seconds("LEADER_LEASE_SECS", Duration::from_secs(15))?,
            tick_interval: Duration::from_millis(250),
            reload_interval: env.seconds("SCHEDULE_RELOAD_SECS", Duration::from_secs(10))?,
            catch_up_window: Duration::from_secs(300),
            relay_batch_size: 500,
            relay_poll_interval: Duration::from_secs(1),
            rescue_interval: env.seconds("RESCUE_INTERVAL_SECS", Duration::from_secs(5))?,
            max_attempts: env.parse("JOB_MAX_ATTEMPTS", "positive integer", 5)?,
            stale_after: env.seconds("JOB_STALE_AFTER_SECS", Duration::from_secs(600))?,
            admin: AdminConfig {
                bind: std::net::SocketAddr::new(
                    env.parse("ADMIN_BIND_ADDRESS", "an IP address", [0, 0, 0, 0].into())?,
                    env.parse("AVNI_INT_SERVER_PORT", "a port number", 6013u16)?,
                ),
                static_path: env.get("AVNI_INT_STATIC_PATH").map(Into::into),
                session_ttl: Duration::from_secs(
                    3600 * env.parse("ADMIN_SESSION_HOURS", "a number of hours", 12u64)?,
                ),
                secure_cookies: env.parse("ADMIN_SECURE_COOKIES", "true or false", false)?,
            },
            gauge_interval: env.seconds("GAUGE_INTERVAL_SECS", Duration::from_secs(15))?,
        })
    }
}

pub struct Dispatcher {
    config: DispatcherConfig,
    store: Store,
    metrics: Metrics,
    admin: AdminServer,
}

impl Dispatcher {
    /// Connects to Postgres (waiting for it while `shutdown` allows) and applies migrations.
    pub async fn build(
        config: DispatcherConfig,
        shutdown: &CancellationToken,
    ) -> Result<Self, DispatcherError> {
        let store = Store::connect_lazy(&config.database_url, 10)?;
        store::retry_transient("migrate", shutdown, || store.migrate()).await?;
        let metrics = Metrics::new()?;
        let admin = AdminServer::build(AdminState {
            store: store.clone(),
            config: std::sync::Arc::new(config.admin.clone()),
            topology: config.topology.clone(),
            catalog: std::sync::Arc::new(config.catalog.clone()),
            amqp_url: config.amqp_url.clone(),
            metrics: metrics.clone(),
        })
        .await
        .map_err(|source| DispatcherError::Listen {
            addr: config.admin.bind,
            source,
        })?;
        Ok(Dispatcher {
            config,
            store,
            metrics,
            admin,
        })
    }

    /// Where the admin API listens (the real port when configured with port 0).
    pub fn admin_addr(&self) -> Option<std::net::SocketAddr> {
        self.admin.local_addr().ok()
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    pub fn config(&self) -> &DispatcherConfig {
        &self.config
    }

    /// Runs leader election, the scheduler, the relay and the rescuer until `shutdown`; then
    /// releases the leadership so a standby takes over at once.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) {
        let c = &self.config;
        // A JoinSet, not detached tasks: if this future is dropped (the process dies, a test
        // kills it) every part stops with it, as a crashed process would.
        let mut tasks = JoinSet::new();
        let elector = LeaderElector::build(
            self.store.clone(),
            c.id.clone(),
            c.leader_ttl,
            self.metrics.clone(),
        );
        let leading = elector.subscribe();
        let scheduler = Scheduler::build(
            self.store.clone(),
            SchedulerConfig {
                catalog: c.catalog.clone(),
                int_env: c.int_env.clone(),
                cron_offset: c.cron_offset,
                reload_interval: c.reload_interval,
                catch_up_window: c.catch_up_window,
            },
            self.metrics.clone(),
        );
        let relay = Relay::build(
            self.store.clone(),
            RelayConfig {
                amqp_url: c.amqp_url.clone(),
                connection_name: format!("{} relay", c.id),
                topology: c.topology.clone(),
                modules: c.catalog.iter().map(|s| s.module.clone()).collect(),
                batch_size: c.relay_batch_size,
                poll_interval: c.relay_poll_interval,
            },
            self.metrics.clone(),
        );
        let rescuer = Rescuer::build(
            self.store.clone(),
            RescueConfig {
                max_attempts: c.max_attempts,
                stale_after: c.stale_after,
                interval: c.rescue_interval,
            },
            self.metrics.clone(),
        );
        tracing::info!(dispatcher = %c.id, modules = ?c.catalog.iter().map(|s| s.module.as_str()).collect::<Vec<_>>(),
            int_env = ?c.int_env, "dispatcher started");

        let stop_leading = shutdown.clone();
        tasks.spawn(async move {
            if let Err(error) = elector.run_until_stopped(stop_leading).await {
                tracing::warn!(%error, "could not release the leadership; a standby takes over when the lease expires");
            }
        });
        tasks.spawn(schedule_while_leading(
            scheduler,
            leading.clone(),
            c.tick_interval,
            shutdown.clone(),
        ));
        // Goonj ad-hoc tasks, fired by the leader when this dispatcher serves Goonj.
        if let Some(goonj) = c.catalog.iter().find(|s| s.module.as_str() == "goonj") {
            let firer = adhoc::AdhocFirer::build(
                self.store.clone(),
                adhoc::AdhocConfig {
                    module: goonj.module.clone(),
                    int_env: c.int_env.clone(),
                    interval: Duration::from_secs(1),
                },
            );
            tasks.spawn(firer.run_until_stopped(leading.clone(), shutdown.clone()));
        }
        tasks.spawn(rescue_while_leading(rescuer, leading, shutdown.clone()));
        tasks.spawn(relay.run_until_stopped(shutdown.clone()));
        tasks.spawn(self.admin.run_until_stopped(shutdown.clone()));
        let gauges = gauges::GaugeSampler::build(
            self.store.clone(),
            gauges::GaugeConfig {
                amqp_url: c.amqp_url.clone(),
                connection_name: format!("{} gauges", c.id),
                topology: c.topology.clone(),
                modules: c.catalog.iter().map(|s| s.module.clone()).collect(),
                interval: c.gauge_interval,
            },
            self.metrics.clone(),
        );
        tasks.spawn(gauges.run_until_stopped(shutdown.clone()));

        while tasks.join_next().await.is_some() {}
        tracing::info!(dispatcher = %c.id, "dispatcher stopped");
    }
}

async fn schedule_while_leading(
    mut scheduler: Scheduler,
    mut leading: watch::Receiver<bool>,
    tick_interval: Duration,
    shutdown: CancellationToken,
) {
    while !shutdown.is_cancelled() {
        if !*leading.borrow_and_update() {
            scheduler.reset();
            tokio::select! {
                _ = leading.changed() => continue,
                _ = shutdown.cancelled() => break,
            }
        }
        if let Err(error) = scheduler.tick_once(Utc::now()).await {
            tracing::warn!(%error, "schedule tick failed; retrying");
        }
        let until_due = scheduler
            .next_due()
            .and_then(|due| due.signed_duration_since(Utc::now()).to_std().ok())
            .unwrap_or(tick_interval)
            .min(tick_interval);
        tokio::select! {
            _ = tokio::time::sleep(until_due) => {}
            _ = leading.changed() => {}
            _ = shutdown.cancelled() => break,
        }
    }
}

async fn rescue_while_leading(
    rescuer: Rescuer,
    mut leading: watch::Receiver<bool>,
    shutdown: CancellationToken,
) {
    while !shutdown.is_cancelled() {
        if *leading.borrow_and_update() {
            if let Err(error) = rescuer.rescue_once().await {
                tracing::warn!(%error, "rescue pass failed; retrying");
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(rescuer.interval()) => {}
            _ = leading.changed() => {}
            _ = shutdown.cancelled() => break,
        }
    }
}
