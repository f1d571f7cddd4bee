//! `noop`: a module whose only step does nothing, so a benchmark measures the fleet's own cost
//! per job (ledger, outbox, broker, lease, outcome) and nothing else.

use avni_int_shared::store::tenants::Tenant;
use avni_int_shared::{JobKind, ModuleName};
use avni_int_worker::context::JobContext;
use avni_int_worker::module::{Module, Step, StepError, StepOutcome};
use futures::future::BoxFuture;
use std::sync::Arc;

pub fn name() -> ModuleName {
    ModuleName::new("noop").unwrap()
}

pub struct Noop {
    name: ModuleName,
    step: Arc<dyn Step>,
}

impl Noop {
    pub fn module() -> Arc<dyn Module> {
        Arc::new(Noop {
            name: name(),
            step: Arc::new(NoopStep),
        })
    }
}

impl Module for Noop {
    fn name(&self) -> &ModuleName {
        &self.name
    }

    fn steps(&self, _kind: JobKind, _tenant: &Tenant) -> Result<Vec<Arc<dyn Step>>, StepError> {
        Ok(vec![self.step.clone()])
    }

    fn healthcheck_slug(&self, _kind: JobKind, _tenant: &Tenant) -> Option<String> {
        None
    }
}

struct NoopStep;

impl Step for NoopStep {
    fn name(&self) -> &str {
        "nothing"
    }

    fn run<'a>(&'a self, _ctx: &'a JobContext) -> BoxFuture<'a, Result<StepOutcome, StepError>> {
        Box::pin(async { Ok(StepOutcome::default()) })
    }
}
