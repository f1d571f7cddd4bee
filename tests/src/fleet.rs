//! `TestApp`: one test's fleet. A fresh database, a queue prefix of its own, fake monitoring
//! endpoints, and dispatchers and workers started in-process (or as processes) on demand.

use crate::admin_client::AdminClient;
use crate::broker::{amqp_url, TestBroker};
use crate::database::TestDb;
use crate::fake_endpoint::FakeEndpoint;
use crate::probe;
use avni_int_dispatcher::catalog::ModuleSpec;
use avni_int_dispatcher::{Dispatcher, DispatcherConfig};
use avni_int_shared::metrics::Metrics;
use avni_int_shared::store::ledger::{self, JobRow, NewJob};
use avni_int_shared::{IntegrationSystemId, JobId, JobKind, JobTrigger, WorkerId};
use avni_int_worker::module::Registry;
use avni_int_worker::monitoring::bugsnag::BugsnagConfig;
use avni_int_worker::monitoring::healthcheck::HealthcheckConfig;
use avni_int_worker::{Worker, WorkerConfig};
use chrono::FixedOffset;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The environment the probe tenants and dispatchers agree on.
pub const INT_ENV: &str = "fleet-test";
pub const PING_KEY: &str = "test-ping-key";

pub struct TestApp {
    pub db: TestDb,
    pub broker: TestBroker,
    pub healthchecks: FakeEndpoint,
    pub bugsnag: FakeEndpoint,
}

/// A component running in-process: stop it cleanly, or abort it as a crash would.
pub struct Running {
    pub id: WorkerId,
    /// A dispatcher's admin API address (`None` for workers).
    pub admin: Option<std::net::SocketAddr>,
    /// A worker's `/metrics`, `/healthz`, `/readyz` address (`None` for dispatchers).
    pub probes: Option<std::net::SocketAddr>,
    pub metrics: Metrics,
    pub shutdown: CancellationToken,
    pub handle: JoinHandle<()>,
}

impl Running {
    pub async fn stop(self) {
        self.shutdown.cancel();
        let _ = self.handle.await;
    }

    /// Ends the tasks without any cleanup (no lease release, no job release): a crash.
    pub fn kill(self) {
        self.handle.abort();
    }
}

/// A dispatcher for tests: production's logic on test clocks (ticks of 100 ms, a 2 s leader
/// lease, the admin API on a free port) for one module.
pub fn quick_dispatcher_config(
    database_url: &str,
    amqp_url: &str,
    topology: avni_int_shared::broker::Topology,
    module: ModuleSpec,
) -> DispatcherConfig {
    DispatcherConfig {
        id: WorkerId::generate("dispatcher"),
        database_url: database_url.to_owned(),
        amqp_url: amqp_url.to_owned(),
        topology,
        catalog: vec![module],
        int_env: Some(INT_ENV.to_owned()),
        cron_offset: FixedOffset::east_opt(0).unwrap(),
        leader_ttl: Duration::from_secs(2),
        tick_interval: Duration::from_millis(100),
        reload_interval: Duration::from_millis(200),
        catch_up_window: Duration::from_secs(300),
        relay_batch_size: 500,
        relay_poll_interval: Duration::from_millis(500),
        rescue_interval: Duration::from_millis(200),
        max_attempts: 3,
        stale_after: Duration::from_secs(600),
        admin: avni_int_dispatcher::admin::AdminConfig {
            bind: ([127, 0, 0, 1], 0).into(),
            static_path: None,
            session_ttl: Duration::from_secs(3600),
            secure_cookies: false,
        },
        gauge_interval: Duration::from_millis(500),
    }
}

impl TestApp {
    pub async fn new() -> Self {
        Self::with_delivery_limit(5).await
    }

    pub async fn with_delivery_limit(limit: u32) -> Self {
        crate::init_test_logs();
        let goonj = avni_int_shared::ModuleName::new("goonj").unwrap();
        let broker = TestBroker::new(vec![probe::name(), goonj], limit);
        broker.declare().await;
        TestApp {
            db: TestDb::migrated().await,
            broker,
            healthchecks: FakeEndpoint::start().await,
            bugsnag: FakeEndpoint::start().await,
        }
    }

    pub fn dispatcher_config(&self) -> DispatcherConfig {
        quick_dispatcher_config(
            &self.db.url,
            &amqp_url(),
            self.broker.topology.clone(),
            ModuleSpec::tenant_config(probe::name(), probe::SYSTEM_TYPE),
        )
    }

    pub fn worker_config(&self) -> WorkerConfig {
        WorkerConfig {
            id: WorkerId::generate("worker"),
            database_url: self.db.url.clone(),
            amqp_url: amqp_url(),
            topology: self.broker.topology.clone(),
            modules: None,
            concurrency: 4,
            lease: Duration::from_secs(2),
            time_budget: Duration::from_secs(60),
            shutdown_grace: Duration::from_secs(10),
            healthcheck: HealthcheckConfig {
                base_url: self.healthchecks.base_url.clone(),
                ping_key: Some(PING_KEY.to_owned()),
                timeout: Duration::from_secs(5),
            },
            bugsnag: BugsnagConfig {
                api_key: Some("test-bugsnag-key".to_owned()),
                release_stage: Some("prod".to_owned()),
                endpoint: format!("{}/notify", self.bugsnag.base_url),
                timeout: Duration::from_secs(5),
            },
            http_timeout: Duration::from_secs(5),
            http_bind: Some(([127, 0, 0, 1], 0).into()),
            consumer_watchdog: Duration::from_secs(5),
        }
    }

    pub async fn start_dispatcher(&self, config: DispatcherConfig) -> Running {
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

    pub fn start_worker(&self, config: WorkerConfig) -> Running {
        self.start_worker_with(config, Registry::new().with(probe::Probe::module()))
    }

    pub fn start_worker_with(&self, config: WorkerConfig, registry: Registry) -> Running {
        let shutdown = CancellationToken::new();
        let worker = Worker::build(config, registry).unwrap();
        let id = worker.id().clone();
        let metrics = worker.metrics().clone();
        let probes = worker.http_addr();
        let handle = tokio::spawn(worker.run_until_stopped(shutdown.clone()));
        Running {
            id,
            admin: None,
            probes,
            metrics,
            shutdown,
            handle,
        }
    }

    /// The environment a worker process gets to join this test's fleet.
    pub fn worker_process_env(&self, id: &str) -> Vec<(String, String)> {
        [
            ("DATABASE_URL", self.db.url.clone()),
            ("AMQP_URL", amqp_url()),
            ("QUEUE_PREFIX", self.broker.topology.prefix.clone()),
            (
                "QUEUE_DELIVERY_LIMIT",
                self.broker.topology.delivery_limit.to_string(),
            ),
            ("WORKER_ID", id.to_owned()),
            ("WORKER_HTTP_PORT", "0".to_owned()),
            ("JOB_LEASE_SECS", "2".to_owned()),
            ("HEALTHCHECK_PING_KEY", "dummy".to_owned()),
            ("LOG_FORMAT", "pretty".to_owned()),
            ("RUST_LOG", "info".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    /// Starts `avni-int-test-worker` (path from `CARGO_BIN_EXE_…`) as a separate process.
    pub fn spawn_worker_process(
        &self,
        binary: &str,
        id: &str,
        extra_env: &[(&str, &str)],
    ) -> tokio::process::Child {
        let mut command = tokio::process::Command::new(binary);
        command
            .env_clear()
            .envs(self.worker_process_env(id))
            .envs(extra_env.iter().map(|(k, v)| (*k, *v)))
            .kill_on_drop(true)
            .stdin(std::process::Stdio::null());
        command.spawn().expect("worker process starts")
    }

    /// Adds a tenant of `system_type` with the given settings.
    pub async fn add_tenant(
        &self,
        name: &str,
        system_type: &str,
        config: &[(&str, &str)],
    ) -> IntegrationSystemId {
        let id: i32 = sqlx::query_scalar(
            "INSERT INTO integration_system (name, system_type, uuid) VALUES ($1, $2, gen_random_uuid()::text) RETURNING id",
        )
        .bind(name)
        .bind(system_type)
        .fetch_one(self.db.pool())
        .await
        .unwrap();
        let tenant = IntegrationSystemId(id);
        for (key, value) in config {
            self.set_config(tenant, key, value).await;
        }
        tenant
    }

    /// A probe tenant that runs here (`int_env` matches) with these settings.
    pub async fn add_probe_tenant(&self, config: &[(&str, &str)]) -> IntegrationSystemId {
        let mut all = vec![("int_env", INT_ENV)];
        all.extend_from_slice(config);
        let name = format!("probe-{}", &uuid::Uuid::new_v4().simple().to_string()[..6]);
        self.add_tenant(&name, probe::SYSTEM_TYPE, &all).await
    }

    /// A user of `tenant` who can log in with `password` (bcrypt $2a$, as the original wrote).
    pub async fn add_user(&self, email: &str, password: &str, tenant: IntegrationSystemId) -> i32 {
        let hash = bcrypt::hash_with_result(password, 4)
            .unwrap()
            .format_for_version(bcrypt::Version::TwoA);
        sqlx::query_scalar(
            "INSERT INTO users (email, password, working_integration_system_id, uuid)
             VALUES ($1, $2, $3, gen_random_uuid()::text) RETURNING id",
        )
        .bind(email)
        .bind(hash)
        .bind(tenant)
        .fetch_one(self.db.pool())
        .await
        .unwrap()
    }

    /// A dispatcher serving the admin API on a free port, and a client logged in as a new user
    /// of `tenant` (`<tenant>@example.org` / `secret`).
    pub async fn admin_session(&self, tenant: IntegrationSystemId) -> (Running, AdminClient) {
        let dispatcher = self.start_dispatcher(self.dispatcher_config()).await;
        let client = AdminClient::new(dispatcher.admin.unwrap());
        let email = format!(
            "ops-{}-{}@example.org",
            tenant.0,
            uuid::Uuid::new_v4().simple()
        );
        self.add_user(&email, "secret", tenant).await;
        client.login(&email, "secret").await;
        (dispatcher, client)
    }

    pub async fn set_config(&self, tenant: IntegrationSystemId, key: &str, value: &str) {
        sqlx::query(
            "INSERT INTO integration_system_config (integration_system_id, key, value, is_secret, uuid)
             VALUES ($1, $2, $3, false, gen_random_uuid()::text)
             ON CONFLICT (integration_system_id, key) DO UPDATE SET value = EXCLUDED.value",
        )
        .bind(tenant)
        .bind(key)
        .bind(value)
        .execute(self.db.pool())
        .await
        .unwrap();
    }

    pub async fn remove_config(&self, tenant: IntegrationSystemId, key: &str) {
        sqlx::query(
            "DELETE FROM integration_system_config WHERE integration_system_id = $1 AND key = $2",
        )
        .bind(tenant)
        .bind(key)
        .execute(self.db.pool())
        .await
        .unwrap();
    }

    /// Enqueues a probe job as "run now" would.
    pub async fn enqueue(&self, tenant: IntegrationSystemId, kind: JobKind) -> JobId {
        self.enqueue_for(tenant, probe::name(), kind).await
    }

    /// Enqueues a job of `module` as "run now" would.
    pub async fn enqueue_for(
        &self,
        tenant: IntegrationSystemId,
        module: avni_int_shared::ModuleName,
        kind: JobKind,
    ) -> JobId {
        let mut tx = self.db.pool().begin().await.unwrap();
        let id = ledger::enqueue(
            &mut tx,
            &NewJob {
                integration_system_id: tenant,
                module,
                kind,
                trigger: JobTrigger::Manual,
                parent: None,
                resume_step: None,
            },
        )
        .await
        .unwrap()
        .expect("no live job of this kind yet");
        tx.commit().await.unwrap();
        id
    }

    pub async fn job(&self, id: JobId) -> JobRow {
        ledger::get(self.db.pool(), id).await.unwrap().unwrap()
    }

    pub async fn jobs(&self, tenant: IntegrationSystemId) -> Vec<JobRow> {
        let mut jobs = ledger::list_for_tenant(self.db.pool(), tenant, 10_000)
            .await
            .unwrap();
        jobs.reverse();
        jobs
    }

    /// Waits until the job is in `state`, returning its row.
    pub async fn job_reaches(&self, id: JobId, state: &str, within: Duration) -> JobRow {
        crate::poll::until(&format!("job {id} to be {state}"), within, || async {
            let job = self.job(id).await;
            (job.state == state).then_some(job)
        })
        .await
    }

    /// `(step, attempt, worker)` of every probe step run of a job, in order.
    pub async fn probe_runs(&self, job: JobId) -> Vec<(String, i32, String)> {
        sqlx::query_as("SELECT step, attempt, worker FROM probe_run WHERE job_id = $1 ORDER BY id")
            .bind(job)
            .fetch_all(self.db.pool())
            .await
            .unwrap()
    }
}
