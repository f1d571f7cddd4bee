//! Samples what Prometheus cannot see from inside one job: messages waiting per queue, dead
//! letters (read from RabbitMQ with passive declares) and the outbox backlog (from Postgres).
//! Every replica samples, so the gauges survive a leadership change; dashboards take `max`.

use avni_int_shared::broker::depth::{self, DepthError};
use avni_int_shared::broker::{self, Topology};
use avni_int_shared::metrics::Metrics;
use avni_int_shared::store::{Store, StoreError};
use avni_int_shared::ModuleName;
use lapin::Connection;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

#[derive(Debug, thiserror::Error)]
pub enum SampleError {
    #[error(transparent)]
    Depth(#[from] DepthError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("declaring the queues failed: {0}")]
    Declare(String),
}

pub struct GaugeConfig {
    pub amqp_url: String,
    pub connection_name: String,
    pub topology: Topology,
    pub modules: Vec<ModuleName>,
    pub interval: Duration,
}

pub struct GaugeSampler {
    store: Store,
    config: GaugeConfig,
    metrics: Metrics,
    connection: Option<Connection>,
}

impl GaugeSampler {
    pub fn build(store: Store, config: GaugeConfig, metrics: Metrics) -> Self {
        GaugeSampler {
            store,
            config,
            metrics,
            connection: None,
        }
    }

    /// Reads every queue's depth, the dead-letter count and the outbox backlog into the gauges.
    pub async fn sample_once(&mut self) -> Result<(), SampleError> {
        let backlog: i64 = sqlx::query_scalar("SELECT count(*) FROM int_outbox")
            .fetch_one(self.store.pool())
            .await
            .map_err(StoreError::from)?;
        self.metrics.outbox_backlog.set(backlog);

        if !self
            .connection
            .as_ref()
            .is_some_and(|c| c.status().connected())
        {
            self.connection = None;
            let connection = broker::connect(&self.config.amqp_url, &self.config.connection_name)
                .await
                .map_err(DepthError::from)?;
            // Declaring is idempotent; it makes every queue exist before the first job does,
            // so a depth read never hits a missing queue (which RabbitMQ answers by closing
            // the channel, logged as an error by lapin).
            let channel = connection
                .create_channel()
                .await
                .map_err(|e| SampleError::Declare(e.to_string()))?;
            self.config
                .topology
                .declare(&channel, &self.config.modules)
                .await
                .map_err(|e| SampleError::Declare(e.to_string()))?;
            let _ = channel.close(200, "declared".into()).await;
            self.connection = Some(connection);
        }
        let Some(connection) = &self.connection else {
            return Ok(());
        };
        let dead = self.config.topology.dead_letter_queue();
        let mut queues: Vec<String> = self.config.topology.queues(&self.config.modules).collect();
        queues.push(dead.clone());
        let read = tokio::time::timeout(Duration::from_secs(10), depth::read(connection, &queues))
            .await
            .map_err(|_| DepthError::Timeout(Duration::from_secs(10)));
        let depths = match read {
            Ok(Ok(depths)) => depths,
            Ok(Err(error)) | Err(error) => {
                self.connection = None;
                return Err(error.into());
            }
        };
        for found in depths {
            let messages = i64::from(found.messages.unwrap_or(0));
            if found.queue == dead {
                self.metrics.dead_letters.set(messages);
            }
            self.metrics
                .queue_depth
                .with_label_values(&[found.queue.as_str()])
                .set(messages);
        }
        Ok(())
    }

    pub async fn run_until_stopped(mut self, shutdown: CancellationToken) {
        let mut failing = false;
        while !shutdown.is_cancelled() {
            match self.sample_once().await {
                Ok(()) => failing = false,
                // Logged once per outage, not every interval.
                Err(error) if !failing => {
                    failing = true;
                    tracing::warn!(%error, "cannot read queue depths; gauges are stale");
                }
                Err(_) => {}
            }
            tokio::select! {
                _ = tokio::time::sleep(self.config.interval) => {}
                _ = shutdown.cancelled() => break,
            }
        }
        if let Some(connection) = self.connection.take() {
            let _ = connection.close(200, "dispatcher stopping".into()).await;
        }
    }
}
