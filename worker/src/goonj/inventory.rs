//! Step `GoonjInventory` (contracts/goonj.md). PLACEHOLDER: being written; replace this file whole.

use super::Shared;
use crate::context::JobContext;
use crate::module::{Step, StepError, StepOutcome};
use futures::future::BoxFuture;
use std::sync::Arc;

pub struct InventoryStep {
    #[allow(dead_code)]
    shared: Arc<Shared>,
}

impl InventoryStep {
    pub fn arc(shared: Arc<Shared>) -> Arc<dyn Step> {
        Arc::new(InventoryStep { shared })
    }
}

impl Step for InventoryStep {
    fn name(&self) -> &str {
        "GoonjInventory"
    }

    fn run<'a>(&'a self, _ctx: &'a JobContext) -> BoxFuture<'a, Result<StepOutcome, StepError>> {
        Box::pin(async { Err(StepError::Config("GoonjInventory is not built yet".into())) })
    }
}
