//! What `/readyz` answers, for every process: ready when Postgres answers and the process
//! holds a RabbitMQ connection (as its component reports in `avni_int_broker_connected`).

use crate::metrics::Metrics;
use crate::store::Store;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Readiness {
    pub postgres: bool,
    pub rabbitmq: bool,
}

impl Readiness {
    /// `component` is the label the process's broker connection reports under (`relay`,
    /// `worker`).
    pub async fn check(store: &Store, metrics: &Metrics, component: &str) -> Self {
        Readiness {
            postgres: store.ping(Duration::from_secs(2)).await,
            rabbitmq: metrics
                .broker_connected
                .with_label_values(&[component])
                .get()
                == 1,
        }
    }

    pub fn is_ready(&self) -> bool {
        self.postgres && self.rabbitmq
    }

    /// `{"postgres": "ok"|"unreachable", "rabbitmq": …}`, for people reading the probe.
    pub fn to_json(&self) -> serde_json::Value {
        let word = |ok: bool| if ok { "ok" } else { "unreachable" };
        serde_json::json!({ "postgres": word(self.postgres), "rabbitmq": word(self.rabbitmq) })
    }
}
