//! Step `AvniDistribution` (contracts/goonj.md). PLACEHOLDER: being written; replace this file whole.

use super::Shared;
use crate::context::JobContext;
use crate::module::{Step, StepError, StepOutcome};
use futures::future::BoxFuture;
use std::sync::Arc;

pub struct DistributionStep {
    #[allow(dead_code)]
    shared: Arc<Shared>,
}

impl DistributionStep {
    pub fn arc(shared: Arc<Shared>) -> Arc<dyn Step> {
        Arc::new(DistributionStep { shared })
    }
}

impl Step for DistributionStep {
    fn name(&self) -> &str {
        "AvniDistribution"
    }

    fn run<'a>(&'a self, _ctx: &'a JobContext) -> BoxFuture<'a, Result<StepOutcome, StepError>> {
        Box::pin(async {
            Err(StepError::Config(
                "AvniDistribution is not built yet".into(),
            ))
        })
    }
}
