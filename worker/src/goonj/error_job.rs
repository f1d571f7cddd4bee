//! Step `GoonjErrorJob` (contracts/goonj.md). PLACEHOLDER: being written; replace this file whole.

use super::Shared;
use crate::context::JobContext;
use crate::module::{Step, StepError, StepOutcome};
use futures::future::BoxFuture;
use std::sync::Arc;

pub struct ErrorJobStep {
    #[allow(dead_code)]
    shared: Arc<Shared>,
}

impl ErrorJobStep {
    pub fn arc(shared: Arc<Shared>) -> Arc<dyn Step> {
        Arc::new(ErrorJobStep { shared })
    }
}

impl Step for ErrorJobStep {
    fn name(&self) -> &str {
        "GoonjErrorJob"
    }

    fn run<'a>(&'a self, _ctx: &'a JobContext) -> BoxFuture<'a, Result<StepOutcome, StepError>> {
        Box::pin(async { Err(StepError::Config("GoonjErrorJob is not built yet".into())) })
    }
}
