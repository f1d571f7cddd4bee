//! Step `GoonjDispatch` (contracts/goonj.md). PLACEHOLDER: being written; replace this file whole.

use super::Shared;
use crate::context::JobContext;
use crate::module::{Step, StepError, StepOutcome};
use futures::future::BoxFuture;
use std::sync::Arc;

pub struct DispatchStep {
    #[allow(dead_code)]
    shared: Arc<Shared>,
}

impl DispatchStep {
    pub fn arc(shared: Arc<Shared>) -> Arc<dyn Step> {
        Arc::new(DispatchStep { shared })
    }
}

impl Step for DispatchStep {
    fn name(&self) -> &str {
        "GoonjDispatch"
    }

    fn run<'a>(&'a self, _ctx: &'a JobContext) -> BoxFuture<'a, Result<StepOutcome, StepError>> {
        Box::pin(async { Err(StepError::Config("GoonjDispatch is not built yet".into())) })
    }
}
