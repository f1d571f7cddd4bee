//! The Goonj module (contracts/goonj.md): Salesforce demands, dispatches and inventory into
//! Avni; Avni activities, dispatch receipts and distributions into Salesforce; classified
//! errors with their required actions; the error job.

pub mod activity;
pub mod adhoc;
pub mod config;
pub mod demand;
pub mod dispatch;
pub mod distribution;
pub mod error_job;
pub mod errors;
pub mod health;
pub mod images;
pub mod inbound;
pub mod inventory;
pub mod mapping;
pub mod outbound;
pub mod outcome;
pub mod receipt;
pub mod salesforce;
pub mod time;

use crate::avni::{AvniClient, AvniConfig, RetryPolicy};
use crate::context::JobContext;
use crate::module::{Module, Step, StepError, StepOutcome};
use avni_int_shared::classify::Classifier;
use avni_int_shared::metrics::Metrics;
use avni_int_shared::store::errors as error_store;
use avni_int_shared::store::mappings::Mappings;
use avni_int_shared::store::tenants::Tenant;
use avni_int_shared::{IntegrationSystemId, JobId, JobKind, ModuleName};
use config::{GoonjConfig, GoonjTask, SalesforceConfig};
use futures::future::BoxFuture;
use salesforce::SalesforceClient;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// `integration_system.system_type` of Goonj tenants.
pub const SYSTEM_TYPE: &str = "Goonj";

/// Clients kept between jobs so tokens are reused; rebuilt when the tenant's settings change.
#[derive(Clone)]
struct Clients {
    avni_config: String,
    salesforce_config: SalesforceConfig,
    avni: AvniClient,
    salesforce: SalesforceClient,
}

pub struct Goonj {
    name: ModuleName,
    shared: Arc<Shared>,
}

/// What every Goonj step shares: the HTTP pool and the per-tenant clients.
pub struct Shared {
    http: reqwest::Client,
    token_expiry: Duration,
    clients: Mutex<HashMap<IntegrationSystemId, Clients>>,
    /// Each job's prepared run, so its steps share one load of settings, error types and
    /// mappings instead of one per step.
    runs: Mutex<HashMap<JobId, Arc<GoonjRun>>>,
}

/// Prepared runs kept at most; past it the cache starts over (a run is cheap to rebuild).
const MAX_CACHED_RUNS: usize = 64;

impl Goonj {
    /// `token_expiry`: env `GOONJ_SF_TOKEN_EXPIRY` (ms in the original; 1 h by default).
    pub fn module(http: reqwest::Client, token_expiry: Duration) -> Result<Arc<Goonj>, StepError> {
        let name = ModuleName::new("goonj").map_err(|e| StepError::Config(e.to_string()))?;
        Ok(Arc::new(Goonj {
            name,
            shared: Arc::new(Shared {
                http,
                token_expiry,
                clients: Mutex::new(HashMap::new()),
                runs: Mutex::new(HashMap::new()),
            }),
        }))
    }
}

impl Shared {
    fn clients(
        &self,
        tenant: &Tenant,
        config: &GoonjConfig,
        metrics: Option<&Metrics>,
    ) -> Result<Clients, StepError> {
        let avni_config = AvniConfig::from_tenant_config(&tenant.config)
            .map_err(|e| StepError::Config(e.to_string()))?;
        let fingerprint = format!("{avni_config:?}|{}", avni_secret(tenant));
        // A poisoned lock only means another job panicked mid-insert; the map is still valid.
        let mut cache = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(existing) = cache.get(&tenant.id) {
            if existing.avni_config == fingerprint
                && existing.salesforce_config == config.salesforce
            {
                return Ok(existing.clone());
            }
        }
        let clients = Clients {
            avni_config: fingerprint,
            salesforce_config: config.salesforce.clone(),
            avni: AvniClient::observed(
                self.http.clone(),
                avni_config,
                metrics.map(|m| m.http_observer("avni")),
            ),
            salesforce: SalesforceClient::new(
                self.http.clone(),
                config.salesforce.clone(),
                RetryPolicy::default(),
            )
            .observed_by(metrics.map(|m| m.http_observer("salesforce"))),
        };
        cache.insert(tenant.id, clients.clone());
        Ok(clients)
    }

    /// Everything a Goonj step needs for one run, loaded once per job: its steps share it.
    pub async fn prepare(&self, ctx: &JobContext) -> Result<Arc<GoonjRun>, StepError> {
        let cached = self
            .runs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&ctx.job.id)
            .cloned();
        if let Some(run) = cached {
            return Ok(run);
        }
        let run = Arc::new(self.load(ctx).await?);
        let mut runs = self.runs.lock().unwrap_or_else(|p| p.into_inner());
        if runs.len() >= MAX_CACHED_RUNS {
            runs.clear();
        }
        runs.insert(ctx.job.id, run.clone());
        Ok(run)
    }

    async fn load(&self, ctx: &JobContext) -> Result<GoonjRun, StepError> {
        let config = GoonjConfig::from_tenant(&ctx.tenant, self.token_expiry)?;
        let clients = self.clients(&ctx.tenant, &config, ctx.metrics.as_ref())?;
        let pool = ctx.store.pool();
        error_store::seed_error_types(pool, ctx.tenant.id, errors::GOONJ_ERROR_TYPES).await?;
        let types = error_store::error_types(pool, ctx.tenant.id).await?;
        let classifier = Classifier::new(types, config.bypass_errors);
        for broken in classifier.broken_rules() {
            tracing::error!(error_type = %broken.error_type, reason = %broken.reason,
                "error type rule ignored: its MATCHES pattern is not a valid regex");
        }
        let mappings = Mappings::load(pool, ctx.tenant.id, "Observations").await?;
        Ok(GoonjRun {
            config,
            avni: clients.avni,
            salesforce: clients.salesforce,
            classifier,
            mappings,
        })
    }
}

/// The Avni password takes part in the cache key without being printed anywhere.
fn avni_secret(tenant: &Tenant) -> String {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    tenant
        .config("avni_password")
        .unwrap_or_default()
        .hash(&mut hasher);
    hasher.finish().to_string()
}

/// Failure groups of the main job (contracts/goonj.md §2): a failing step skips the rest of
/// its group.
pub mod group {
    pub const DEMANDS_AND_DISPATCHES: &str = "demands-dispatches";
    pub const ACTIVITIES: &str = "activities";
    pub const RECEIPTS_AND_DISTRIBUTIONS: &str = "receipts-distributions";
    pub const INVENTORY: &str = "inventory";
}

/// One main-job task as a step: prepares the tenant's run, then syncs its feed.
struct TaskStep {
    task: GoonjTask,
    shared: Arc<Shared>,
}

impl Step for TaskStep {
    fn name(&self) -> &str {
        self.task.name()
    }

    fn failure_group(&self) -> Option<&str> {
        Some(match self.task {
            GoonjTask::GoonjDemand | GoonjTask::GoonjDispatch => group::DEMANDS_AND_DISPATCHES,
            GoonjTask::AvniActivity => group::ACTIVITIES,
            GoonjTask::AvniDispatchReceipt | GoonjTask::AvniDistribution => {
                group::RECEIPTS_AND_DISTRIBUTIONS
            }
            GoonjTask::GoonjInventory => group::INVENTORY,
        })
    }

    fn direction(&self) -> &'static str {
        match self.task {
            GoonjTask::GoonjDemand | GoonjTask::GoonjDispatch | GoonjTask::GoonjInventory => {
                "to_avni"
            }
            GoonjTask::AvniActivity
            | GoonjTask::AvniDistribution
            | GoonjTask::AvniDispatchReceipt => "to_partner",
        }
    }

    fn run<'a>(&'a self, ctx: &'a JobContext) -> BoxFuture<'a, Result<StepOutcome, StepError>> {
        Box::pin(async move {
            if adhoc::is_adhoc(ctx) {
                return Ok(StepOutcome::default());
            }
            let run = self.shared.prepare(ctx).await?;
            match self.task {
                GoonjTask::GoonjDemand => inbound::sync_feed(ctx, &run, &demand::DemandFeed).await,
                GoonjTask::GoonjDispatch => {
                    inbound::sync_feed(ctx, &run, &dispatch::DispatchFeed).await
                }
                GoonjTask::GoonjInventory => {
                    inbound::sync_feed(ctx, &run, &inventory::InventoryFeed).await
                }
                GoonjTask::AvniActivity => outbound::sync(ctx, &run, &activity::Activities).await,
                GoonjTask::AvniDistribution => {
                    let distributions = distribution::Distributions::default();
                    outbound::sync(ctx, &run, &distributions).await
                }
                GoonjTask::AvniDispatchReceipt => {
                    outbound::sync(ctx, &run, &receipt::Receipts).await
                }
            }
        })
    }
}

/// A step of the main job that an ad-hoc job (which runs one task only) skips.
struct MainJobOnly(Arc<dyn Step>);

impl Step for MainJobOnly {
    fn name(&self) -> &str {
        self.0.name()
    }

    fn failure_group(&self) -> Option<&str> {
        self.0.failure_group()
    }

    fn direction(&self) -> &'static str {
        self.0.direction()
    }

    fn run<'a>(&'a self, ctx: &'a JobContext) -> BoxFuture<'a, Result<StepOutcome, StepError>> {
        if adhoc::is_adhoc(ctx) {
            return Box::pin(async { Ok(StepOutcome::default()) });
        }
        self.0.run(ctx)
    }
}

/// A step's view of its tenant: settings, clients, classifier and mappings.
pub struct GoonjRun {
    pub config: GoonjConfig,
    pub avni: AvniClient,
    pub salesforce: SalesforceClient,
    pub classifier: Classifier,
    pub mappings: Mappings,
}

impl Module for Goonj {
    fn name(&self) -> &ModuleName {
        &self.name
    }

    fn steps(&self, kind: JobKind, tenant: &Tenant) -> Result<Vec<Arc<dyn Step>>, StepError> {
        let tasks = config::parse_tasks(tenant.config("int_tasks"))?;
        let shared = &self.shared;
        match kind {
            JobKind::Regular => {
                let mut steps: Vec<Arc<dyn Step>> = tasks
                    .into_iter()
                    .map(|task| -> Arc<dyn Step> {
                        Arc::new(TaskStep {
                            task,
                            shared: shared.clone(),
                        })
                    })
                    .collect();
                // After the sync steps: the derived checks from the errors they logged.
                steps.push(Arc::new(MainJobOnly(health::HealthStep::arc(true))));
                // First: a main job's first sync step keeps the "first step always runs" slot
                // of its continuations, and an ad-hoc job runs its task before any budget check.
                steps.insert(0, adhoc::AdhocStep::arc(shared.clone()));
                Ok(steps)
            }
            JobKind::Error => Ok(vec![
                error_job::ErrorJobStep::arc(shared.clone()),
                health::HealthStep::arc(false),
            ]),
        }
    }

    fn healthcheck_slug(&self, kind: JobKind, tenant: &Tenant) -> Option<String> {
        // The main job's check is the tenant's lowercased name; the error job has none.
        (kind == JobKind::Regular).then(|| tenant.name.to_lowercase())
    }
}
