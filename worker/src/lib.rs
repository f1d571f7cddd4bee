//! The worker: the fleet's data plane. It consumes job messages for the modules it serves,
//! runs their steps against Avni and the partners, and records outcomes in the ledger. It holds
//! no state of its own: kill it at any instant and its job is rescued and resumed elsewhere.

pub mod avni;
pub mod cli;
pub mod context;
pub mod error_catalog;
pub mod execute;
pub mod goonj;
pub mod http;
pub mod module;
pub mod monitoring;
pub mod runtime;

use avni_int_shared::broker::Topology;
use avni_int_shared::config::{ConfigError, Env};
use avni_int_shared::metrics::{Metrics, MetricsError};
use avni_int_shared::store::{Store, StoreError};
use avni_int_shared::{ModuleName, WorkerId};
use module::Registry;
use monitoring::bugsnag::{Bugsnag, BugsnagConfig};
use monitoring::healthcheck::{HealthcheckConfig, Healthchecks};
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("WORKER_MODULES names modules this worker does not have: {0}")]
    UnknownModules(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Metrics(#[from] MetricsError),
    #[error("building the HTTP client failed: {0}")]
    Http(#[from] reqwest::Error),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
}

#[derive(Debug, Clone)]
pub struct WorkerConfig {
    pub id: WorkerId,
    pub database_url: String,
    pub amqp_url: String,
    pub topology: Topology,
    /// `WORKER_MODULES`: serve only these (all registered modules when unset).
    pub modules: Option<Vec<ModuleName>>,
    /// Jobs run at once; also the prefetch per queue.
    pub concurrency: usize,
    /// Lease length; heartbeats renew it every third.
    pub lease: Duration,
    /// Past this a job checkpoints and continues as a new job.
    pub time_budget: Duration,
    /// On SIGTERM, running jobs get this long to finish before they are released.
    pub shutdown_grace: Duration,
    pub healthcheck: HealthcheckConfig,
    pub bugsnag: BugsnagConfig,
    pub http_timeout: Duration,
    /// `/metrics`, `/healthz`, `/readyz` (`WORKER_HTTP_PORT`, default 6014; port 0 picks one).
    pub http_bind: Option<std::net::SocketAddr>,
    /// A worker with a free job slot that received nothing for this long while its queues hold
    /// ready messages re-subscribes (`CONSUMER_WATCHDOG_SECS`, default 30).
    pub consumer_watchdog: Duration,
}

impl WorkerConfig {
    pub fn from_env(env: &Env<'_>) -> Result<Self, WorkerError> {
        let modules = match env.get("WORKER_MODULES") {
            None => None,
            Some(list) => Some(
                list.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|m| {
                        ModuleName::new(m).map_err(|e| ConfigError::Invalid {
                            name: "WORKER_MODULES".into(),
                            expected: "comma-separated module names",
                            value: e.0,
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            ),
        };
        let http_timeout = env.seconds("AVNI_HTTP_CLIENT_TIMEOUT", Duration::from_secs(30))?;
        Ok(WorkerConfig {
            id: WorkerId(
                env.get("WORKER_ID")
                    .unwrap_or_else(|| WorkerId::generate("worker").0),
            ),
            database_url: env.database_url()?,
            amqp_url: env.amqp_url(),
            topology: Topology::new(
                env.queue_prefix(),
                env.parse("QUEUE_DELIVERY_LIMIT", "positive integer", 5u32)?,
            ),
            modules,
            concurrency: env
                .parse("WORKER_CONCURRENCY", "positive integer", 4usize)?
                .max(1),
            lease: env.seconds("JOB_LEASE_SECS", Duration::from_secs(30))?,
            time_budget: env.seconds("JOB_TIME_BUDGET_SECS", Duration::from_secs(300))?,
            shutdown_grace: env.seconds("SHUTDOWN_GRACE_SECS", Duration::from_secs(30))?,
            healthcheck: HealthcheckConfig {
                base_url: env.get_or("HEALTHCHECK_BASE_URL", "https://hc-ping.com"),
                ping_key: env.get("HEALTHCHECK_PING_KEY"),
                timeout: Duration::from_secs(10),
            },
            bugsnag: BugsnagConfig {
                api_key: env.get("BUGSNAG_API_KEY"),
                release_stage: env.get("BUGSNAG_RELEASE_STAGE"),
                endpoint: env.get_or("BUGSNAG_ENDPOINT", "https://notify.bugsnag.com/"),
                timeout: Duration::from_secs(10),
            },
            http_timeout,
            consumer_watchdog: env.seconds("CONSUMER_WATCHDOG_SECS", Duration::from_secs(30))?,
            http_bind: Some(std::net::SocketAddr::new(
                env.parse(
                    "WORKER_HTTP_BIND_ADDRESS",
                    "an IP address",
                    [0, 0, 0, 0].into(),
                )?,
                env.parse("WORKER_HTTP_PORT", "a port number", 6014u16)?,
            )),
        })
    }
}

/// A worker; cheap to clone (every job task holds one).
#[derive(Clone)]
pub struct Worker {
    config: Arc<WorkerConfig>,
    store: Store,
    registry: Registry,
    metrics: Metrics,
    healthchecks: Healthchecks,
    bugsnag: Bugsnag,
    /// Bound in `build` so the port is known at once; taken by `run_until_stopped`.
    http: Arc<std::sync::Mutex<Option<std::net::TcpListener>>>,
}

impl Worker {
    /// Prepares a worker for the registry's modules (narrowed by `WORKER_MODULES`). Connects
    /// to nothing yet: `run_until_stopped` does, and keeps reconnecting.
    pub fn build(config: WorkerConfig, mut registry: Registry) -> Result<Self, WorkerError> {
        if let Some(wanted) = &config.modules {
            let missing = registry.retain(wanted);
            if !missing.is_empty() {
                let names: Vec<&str> = missing.iter().map(ModuleName::as_str).collect();
                return Err(WorkerError::UnknownModules(names.join(", ")));
            }
        }
        let pool_size = u32::try_from(config.concurrency * 2 + 2).unwrap_or(32);
        let store = Store::connect_lazy(&config.database_url, pool_size)?;
        let http = reqwest::Client::builder()
            .timeout(config.http_timeout)
            .build()?;
        let probe_listener = match config.http_bind {
            None => None,
            Some(addr) => {
                let listen = |source| WorkerError::Listen { addr, source };
                let listener = std::net::TcpListener::bind(addr).map_err(listen)?;
                listener.set_nonblocking(true).map_err(listen)?;
                Some(listener)
            }
        };
        Ok(Worker {
            http: Arc::new(std::sync::Mutex::new(probe_listener)),
            healthchecks: Healthchecks::new(http.clone(), config.healthcheck.clone()),
            bugsnag: Bugsnag::new(http, config.bugsnag.clone()),
            config: Arc::new(config),
            store,
            registry,
            metrics: Metrics::new()?,
        })
    }

    pub fn id(&self) -> &WorkerId {
        &self.config.id
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Where `/metrics`, `/healthz` and `/readyz` are served, if anywhere.
    pub fn http_addr(&self) -> Option<std::net::SocketAddr> {
        self.http
            .lock()
            .ok()?
            .as_ref()
            .and_then(|l| l.local_addr().ok())
    }

    /// Starts the probe server (once); it stops with `shutdown` or when the handle drops.
    fn serve_http(
        &self,
        shutdown: &tokio_util::sync::CancellationToken,
    ) -> Option<tokio_util::task::AbortOnDropHandle<()>> {
        let listener = self.http.lock().ok()?.take()?;
        Some(tokio_util::task::AbortOnDropHandle::new(tokio::spawn(
            http::serve(
                listener,
                self.store.clone(),
                self.metrics.clone(),
                shutdown.clone(),
            ),
        )))
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn modules(&self) -> Vec<ModuleName> {
        self.registry.names()
    }
}
