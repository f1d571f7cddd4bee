//! Step `AvniDispatchReceipt` (contracts/goonj.md). PLACEHOLDER: being written; replace this file whole.

use super::Shared;
use crate::context::JobContext;
use crate::module::{Step, StepError, StepOutcome};
use futures::future::BoxFuture;
use std::sync::Arc;

pub struct ReceiptStep {
    #[allow(dead_code)]
    shared: Arc<Shared>,
}

impl ReceiptStep {
    pub fn arc(shared: Arc<Shared>) -> Arc<dyn Step> {
        Arc::new(ReceiptStep { shared })
    }
}

impl Step for ReceiptStep {
    fn name(&self) -> &str {
        "AvniDispatchReceipt"
    }

    fn run<'a>(&'a self, _ctx: &'a JobContext) -> BoxFuture<'a, Result<StepOutcome, StepError>> {
        Box::pin(async {
            Err(StepError::Config(
                "AvniDispatchReceipt is not built yet".into(),
            ))
        })
    }
}
