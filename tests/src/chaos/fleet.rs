//! `ChaosFleet`: one chaos test's fleet on the database and broker it is given (shared or
//! private): the Goonj topology under a prefix of its own, dispatchers in-process (a kill is
//! an abort: no lease released, as in a crash) and workers as real `avni-int-test-worker`
//! processes (a kill is SIGKILL), or in-process when a test needs a short HTTP timeout.

use crate::database::TestDb;
use crate::fleet::{quick_dispatcher_config, Running};
use avni_int_dispatcher::catalog::ModuleSpec;
use avni_int_dispatcher::{Dispatcher, DispatcherConfig};
use avni_int_shared::broker::{self, Publisher, Topology};
use avni_int_shared::store::Store;
use avni_int_shared::{ModuleName, WorkerId};
use avni_int_worker::goonj::Goonj;
use avni_int_worker::module::Registry;
use avni_int_worker::monitoring::bugsnag::BugsnagConfig;
use avni_int_worker::monitoring::healthcheck::HealthcheckConfig;
use avni_int_worker::{Worker, WorkerConfig};
use lapin::options::{ExchangeDeleteOptions, QueueDeleteOptions};
use std::process::Stdio;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The job lease of every chaos worker: short, so a killed worker's job is rescued quickly.
pub const LEASE_SECS: u64 = 2;
/// A job yields (and continues as a new job) after this long: many hand-overs per backlog.
pub const TIME_BUDGET: Duration = Duration::from_millis(1500);
pub const DELIVERY_LIMIT: u32 = 5;

/// Where the fleet's database lives.
pub enum Db {
    /// A fresh database on the shared server (dropped afterwards).
    Shared,
    /// A database URL on a private server (the whole server goes afterwards).
    Url(String),
}

/// Where the fleet's broker lives.
pub enum Amqp {
    /// The shared broker (the test's queues are deleted afterwards).
    Shared,
    /// A private node's URL.
    Url(String),
}

pub struct ChaosFleet {
    pub database_url: String,
    pub amqp_url: String,
    pub store: Store,
    pub topology: Topology,
    pub modules: Vec<ModuleName>,
    workers: Vec<WorkerProcess>,
    spawned: usize,
    worker_binary: String,
    delete_queues: bool,
    _shared_db: Option<TestDb>,
}

/// A worker process of the fleet.
pub struct WorkerProcess {
    pub id: String,
    child: tokio::process::Child,
}

impl ChaosFleet {
    /// Migrates the database and declares the Goonj topology. `worker_binary` is the test's
    /// `env!("CARGO_BIN_EXE_avni-int-test-worker")`.
    pub async fn new(db: Db, amqp: Amqp, worker_binary: &str) -> Self {
        crate::init_test_logs();
        let (database_url, store, shared_db) = match db {
            Db::Shared => {
                let db = TestDb::migrated().await;
                (db.url.clone(), db.store.clone(), Some(db))
            }
            Db::Url(url) => {
                let store = Store::connect_lazy(&url, 10).unwrap();
                store.migrate().await.expect("migrations apply");
                (url, store, None)
            }
        };
        let (amqp_url, delete_queues) = match amqp {
            Amqp::Shared => (crate::broker::amqp_url(), true),
            Amqp::Url(url) => (url, false),
        };
        let prefix = format!("chaos_{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
        let fleet = ChaosFleet {
            database_url,
            amqp_url,
            store,
            topology: Topology::new(prefix, DELIVERY_LIMIT),
            modules: vec![crate::goonj_world::goonj()],
            workers: Vec::new(),
            spawned: 0,
            worker_binary: worker_binary.to_owned(),
            delete_queues,
            _shared_db: shared_db,
        };
        let conn = fleet.connect().await;
        let channel = conn.create_channel().await.unwrap();
        fleet
            .topology
            .declare(&channel, &fleet.modules)
            .await
            .expect("declare topology");
        let _ = conn.close(200, "declared".into()).await;
        fleet
    }

    pub fn pool(&self) -> &sqlx::PgPool {
        self.store.pool()
    }

    pub async fn connect(&self) -> lapin::Connection {
        broker::connect(&self.amqp_url, "chaos-test")
            .await
            .expect("rabbitmq is reachable")
    }

    pub fn dispatcher_config(&self) -> DispatcherConfig {
        DispatcherConfig {
            id: WorkerId::generate("chaos-dispatcher"),
            rescue_interval: Duration::from_millis(250),
            max_attempts: 5,
            // Production waits 600 s before re-publishing a waiting job whose message is gone.
            // A RabbitMQ 3.10 node restarted after SIGKILL has been seen to confirm a publish
            // (during quorum queue recovery) and then not have the message: the job waits for
            // this re-publish. Short here, so the scenario finishes; the count is printed.
            stale_after: Duration::from_secs(8),
            gauge_interval: Duration::from_secs(5),
            ..quick_dispatcher_config(
                &self.database_url,
                &self.amqp_url,
                self.topology.clone(),
                ModuleSpec::tenant_config(crate::goonj_world::goonj(), "Goonj"),
            )
        }
    }

    /// A dispatcher in this process (building it waits for the database).
    pub async fn start_dispatcher(&self) -> Running {
        let config = self.dispatcher_config();
        let shutdown = CancellationToken::new();
        let id = config.id.clone();
        let dispatcher = Dispatcher::build(config, &shutdown).await.unwrap();
        let metrics = dispatcher.metrics().clone();
        let admin = dispatcher.admin_addr();
        let handle = tokio::spawn(dispatcher.run_until_stopped(shutdown.clone()));
        Running {
            id,
            admin,
            probes: None,
            metrics,
            shutdown,
            handle,
        }
    }

    /// Starts one more worker process; returns its id.
    pub fn spawn_worker(&mut self) -> String {
        self.spawned += 1;
        let id = format!("{}-worker-{}", self.topology.prefix, self.spawned);
        let mut command = tokio::process::Command::new(&self.worker_binary);
        command
            .env_clear()
            .env("DATABASE_URL", &self.database_url)
            .env("AMQP_URL", &self.amqp_url)
            .env("QUEUE_PREFIX", &self.topology.prefix)
            .env("QUEUE_DELIVERY_LIMIT", DELIVERY_LIMIT.to_string())
            .env("WORKER_ID", &id)
            .env("WORKER_MODULES", "goonj")
            .env("WORKER_CONCURRENCY", "2")
            .env("WORKER_HTTP_PORT", "0")
            .env("CONSUMER_WATCHDOG_SECS", "2")
            .env("JOB_LEASE_SECS", LEASE_SECS.to_string())
            .env(
                "JOB_TIME_BUDGET_SECS",
                TIME_BUDGET.as_secs_f64().to_string(),
            )
            .env("SHUTDOWN_GRACE_SECS", "5")
            .env("LOG_FORMAT", "pretty")
            .env(
                "RUST_LOG",
                std::env::var("CHAOS_WORKER_LOG").unwrap_or_else(|_| "error".to_owned()),
            )
            .stdin(Stdio::null())
            .kill_on_drop(true);
        let child = command.spawn().expect("worker process starts");
        self.workers.push(WorkerProcess {
            id: id.clone(),
            child,
        });
        id
    }

    pub fn worker_count(&self) -> usize {
        self.workers.len()
    }

    /// SIGKILLs the worker process at `index` and waits until it is gone; returns its id.
    pub async fn kill_worker(&mut self, index: usize) -> String {
        let mut worker = self.workers.remove(index);
        worker.child.start_kill().unwrap();
        worker.child.wait().await.unwrap();
        worker.id
    }

    /// SIGKILLs every worker process.
    pub async fn kill_all_workers(&mut self) {
        while !self.workers.is_empty() {
            self.kill_worker(0).await;
        }
    }

    /// A worker in this process whose partner HTTP client gives up after `http_timeout`
    /// (the process worker's is a minute: too long for a test of partner time-outs).
    pub fn start_inprocess_worker(&self, http_timeout: Duration) -> Running {
        let http = reqwest::Client::builder()
            .timeout(http_timeout)
            .build()
            .unwrap();
        let registry =
            Registry::new().with(Goonj::module(http, Duration::from_secs(3600)).unwrap());
        let config = WorkerConfig {
            id: WorkerId::generate("chaos-worker"),
            database_url: self.database_url.clone(),
            amqp_url: self.amqp_url.clone(),
            topology: self.topology.clone(),
            modules: None,
            concurrency: 2,
            lease: Duration::from_secs(LEASE_SECS),
            time_budget: TIME_BUDGET,
            shutdown_grace: Duration::from_secs(5),
            healthcheck: HealthcheckConfig {
                base_url: "http://127.0.0.1:9".to_owned(),
                ping_key: None,
                timeout: Duration::from_secs(1),
            },
            bugsnag: BugsnagConfig {
                api_key: None,
                release_stage: None,
                endpoint: "http://127.0.0.1:9/notify".to_owned(),
                timeout: Duration::from_secs(1),
            },
            http_timeout,
            http_bind: None,
            consumer_watchdog: Duration::from_secs(2),
        };
        let shutdown = CancellationToken::new();
        let worker = Worker::build(config, registry).unwrap();
        let id = worker.id().clone();
        let metrics = worker.metrics().clone();
        let handle = tokio::spawn(worker.run_until_stopped(shutdown.clone()));
        Running {
            id,
            admin: None,
            probes: None,
            metrics,
            shutdown,
            handle,
        }
    }

    /// Publishes `body` to the job exchange as a Goonj regular job message would be.
    pub async fn publish_poison(&self, body: &[u8]) {
        let conn = self.connect().await;
        let publisher = Publisher::open(&conn, self.topology.exchange())
            .await
            .unwrap();
        for result in publisher.publish_all(&[("goonj.regular", body)]).await {
            result.unwrap();
        }
        let _ = conn.close(200, "published".into()).await;
    }

    /// Messages ready in the dead-letter queue.
    pub async fn dead_letters(&self) -> u32 {
        let conn = self.connect().await;
        let channel = conn.create_channel().await.unwrap();
        let depth = self
            .topology
            .depth(&channel, &self.topology.dead_letter_queue())
            .await
            .unwrap();
        let _ = conn.close(200, "done".into()).await;
        depth
    }
}

impl Drop for ChaosFleet {
    fn drop(&mut self) {
        for worker in &mut self.workers {
            let _ = worker.child.start_kill();
        }
        if !self.delete_queues {
            return;
        }
        let (url, topology, modules) = (
            self.amqp_url.clone(),
            self.topology.clone(),
            self.modules.clone(),
        );
        crate::cleanup_blocking(async move {
            let Ok(conn) = broker::connect(&url, "chaos-cleanup").await else {
                return;
            };
            let Ok(channel) = conn.create_channel().await else {
                return;
            };
            let mut queues: Vec<String> = topology.queues(&modules).collect();
            queues.push(topology.dead_letter_queue());
            for queue in queues {
                let _ = channel
                    .queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
                    .await;
            }
            for exchange in [topology.exchange(), topology.dead_letter_exchange()] {
                let _ = channel
                    .exchange_delete(exchange.as_str().into(), ExchangeDeleteOptions::default())
                    .await;
            }
            let _ = conn.close(200, "cleanup".into()).await;
        });
    }
}
