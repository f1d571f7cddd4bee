//! What a module is: an ordered list of steps per job kind, each owning its cursor, and the
//! registry of the modules a worker serves.

use crate::context::JobContext;
use avni_int_shared::store::tenants::Tenant;
use avni_int_shared::store::StoreError;
use avni_int_shared::{JobKind, ModuleName};
use futures::future::BoxFuture;
use std::collections::BTreeMap;
use std::sync::Arc;

/// How a step ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StepOutcome {
    /// Records written to the other side.
    pub synced: u64,
    /// Records stored as classified errors.
    pub failed: u64,
    /// The step stopped because the job's time budget ran out; its cursor is committed and a
    /// continuation resumes it.
    pub more: bool,
}

/// A step failure no classified error explains: it fails the job (Bugsnag, healthcheck) but
/// the remaining steps still run.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    /// The tenant's configuration is wrong (an unknown task name, a missing URL): nothing runs.
    #[error("configuration error: {0}")]
    Config(String),
    /// The partner or Avni kept failing after retries (outage, timeouts).
    #[error("partner unavailable: {0}")]
    Unavailable(String),
    /// Anything else: a bug or a response we do not understand.
    #[error("{0}")]
    Failed(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One sync step (e.g. Goonj "demands"). It reads a page from its cursor, writes each record
/// with its idempotency key, records per-record failures as classified errors, and commits
/// the cursor in the same transaction as those outcomes.
pub trait Step: Send + Sync {
    /// Stable name: used as the continuation's resume point and in logs.
    fn name(&self) -> &str;

    /// Steps sharing a group depend on each other: once one fails, the rest of its group is
    /// skipped for this job (other groups still run).
    fn failure_group(&self) -> Option<&str> {
        None
    }

    /// Which way its records flow, for `avni_int_records_synced_total`: `to_avni`,
    /// `to_partner`, or `retry` (an error job re-syncing either way).
    fn direction(&self) -> &'static str {
        "none"
    }

    fn run<'a>(&'a self, ctx: &'a JobContext) -> BoxFuture<'a, Result<StepOutcome, StepError>>;
}

/// A partner integration.
pub trait Module: Send + Sync {
    fn name(&self) -> &ModuleName;

    /// The steps of a job of this kind for this tenant, in order (a tenant's task list may
    /// narrow them). An error here is a configuration error: the job fails without running.
    fn steps(&self, kind: JobKind, tenant: &Tenant) -> Result<Vec<Arc<dyn Step>>, StepError>;

    /// The healthchecks.io check of this job, if it has one.
    fn healthcheck_slug(&self, kind: JobKind, tenant: &Tenant) -> Option<String>;
}

/// The modules a worker serves, by name.
#[derive(Clone, Default)]
pub struct Registry {
    modules: BTreeMap<ModuleName, Arc<dyn Module>>,
}

impl Registry {
    pub fn new() -> Self {
        Registry::default()
    }

    pub fn with(mut self, module: Arc<dyn Module>) -> Self {
        self.modules.insert(module.name().clone(), module);
        self
    }

    pub fn get(&self, name: &ModuleName) -> Option<&Arc<dyn Module>> {
        self.modules.get(name)
    }

    pub fn names(&self) -> Vec<ModuleName> {
        self.modules.keys().cloned().collect()
    }

    /// Keeps only `wanted` (from `WORKER_MODULES`). Names this build lacks are returned so the
    /// caller can refuse to start rather than silently serve less.
    pub fn retain(&mut self, wanted: &[ModuleName]) -> Vec<ModuleName> {
        let missing = wanted
            .iter()
            .filter(|w| !self.modules.contains_key(*w))
            .cloned()
            .collect();
        self.modules.retain(|name, _| wanted.contains(name));
        missing
    }
}
