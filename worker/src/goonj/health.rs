//! The derived healthchecks (contracts/goonj.md §6). PLACEHOLDER: being written; replace whole.

use crate::context::JobContext;
use crate::module::{Step, StepError, StepOutcome};
use futures::future::BoxFuture;
use std::sync::Arc;

pub struct HealthStep {
    #[allow(dead_code)]
    ping: bool,
}

impl HealthStep {
    /// `ping`: false for the error job, which moves the marker without pinging.
    pub fn arc(ping: bool) -> Arc<dyn Step> {
        Arc::new(HealthStep { ping })
    }
}

impl Step for HealthStep {
    fn name(&self) -> &str {
        "GoonjHealthchecks"
    }

    fn run<'a>(&'a self, _ctx: &'a JobContext) -> BoxFuture<'a, Result<StepOutcome, StepError>> {
        Box::pin(async { Ok(StepOutcome::default()) })
    }
}
