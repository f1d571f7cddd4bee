//! Step `AvniActivity` (contracts/goonj.md). PLACEHOLDER: being written; replace this file whole.

use super::Shared;
use crate::context::JobContext;
use crate::module::{Step, StepError, StepOutcome};
use futures::future::BoxFuture;
use std::sync::Arc;

pub struct ActivityStep {
    #[allow(dead_code)]
    shared: Arc<Shared>,
}

impl ActivityStep {
    pub fn arc(shared: Arc<Shared>) -> Arc<dyn Step> {
        Arc::new(ActivityStep { shared })
    }
}

impl Step for ActivityStep {
    fn name(&self) -> &str {
        "AvniActivity"
    }

    fn run<'a>(&'a self, _ctx: &'a JobContext) -> BoxFuture<'a, Result<StepOutcome, StepError>> {
        Box::pin(async { Err(StepError::Config("AvniActivity is not built yet".into())) })
    }
}
