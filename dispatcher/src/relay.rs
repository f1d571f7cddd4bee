//! The outbox relay: publishes committed job messages with publisher confirms and deletes each
//! row only once the broker confirmed it. What was not confirmed stays and is published again,
//! so a message is never only in the broker nor lost between the ledger and the broker.

use avni_int_shared::broker::{self, PublishError, Publisher, Topology, TopologyError};
use avni_int_shared::metrics::Metrics;
use avni_int_shared::store::outbox::{self, Pending};
use avni_int_shared::store::{Store, StoreError};
use avni_int_shared::ModuleName;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Connect(#[from] broker::ConnectError),
    #[error(transparent)]
    Topology(#[from] TopologyError),
    #[error("opening the publishing channel failed: {0}")]
    Publish(#[from] PublishError),
}

/// How long a batch may wait for its confirms.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(30);

pub struct RelayConfig {
    pub amqp_url: String,
    pub connection_name: String,
    pub topology: Topology,
    /// Modules whose queues are declared on connect.
    pub modules: Vec<ModuleName>,
    pub batch_size: i64,
    /// Fallback poll when no notification arrives (a missed NOTIFY costs at most this).
    pub poll_interval: Duration,
}

pub struct Relay {
    store: Store,
    config: RelayConfig,
    metrics: Metrics,
    broker: Option<(lapin::Connection, Publisher)>,
}

impl Relay {
    pub fn build(store: Store, config: RelayConfig, metrics: Metrics) -> Self {
        Relay {
            store,
            config,
            metrics,
            broker: None,
        }
    }

    async fn publisher(&mut self) -> Result<&Publisher, RelayError> {
        let healthy = self
            .broker
            .as_ref()
            .is_some_and(|(conn, publisher)| conn.status().connected() && publisher.is_usable());
        let connected = self.metrics.broker_connected.with_label_values(&["relay"]);
        if !healthy {
            connected.set(0);
            let had_connection = self.broker.take().is_some();
            let connection =
                broker::connect(&self.config.amqp_url, &self.config.connection_name).await?;
            let publisher = Publisher::open(&connection, self.config.topology.exchange()).await?;
            self.config
                .topology
                .declare(publisher.channel(), &self.config.modules)
                .await?;
            if had_connection {
                self.metrics
                    .broker_reconnects_total
                    .with_label_values(&["relay"])
                    .inc();
                tracing::info!("relay reconnected to RabbitMQ");
            }
            self.broker = Some((connection, publisher));
            connected.set(1);
        }
        match &self.broker {
            Some((_, publisher)) => Ok(publisher),
            // Unreachable: the branch above just stored a publisher.
            None => Err(RelayError::Publish(PublishError::Nacked)),
        }
    }

    /// Publishes one batch of the outbox. Returns how many messages the broker confirmed.
    pub async fn relay_once(&mut self) -> Result<usize, RelayError> {
        let mut tx = self.store.pool().begin().await.map_err(StoreError::from)?;
        let batch = outbox::lock_batch(&mut tx, self.config.batch_size).await?;
        if batch.is_empty() {
            return Ok(0);
        }
        let bodies: Vec<Vec<u8>> = batch
            .iter()
            .map(|p| serde_json::to_vec(&p.payload).unwrap_or_default())
            .collect();
        let messages: Vec<(&str, &[u8])> = batch
            .iter()
            .zip(&bodies)
            .map(|(p, body)| (p.routing_key.as_str(), body.as_slice()))
            .collect();
        let publisher = self.publisher().await?;
        // A broker under a memory or disk alarm blocks publishers without failing them: give up
        // on the batch (rows stay in the outbox) rather than hold its row locks forever.
        let results =
            match tokio::time::timeout(PUBLISH_TIMEOUT, publisher.publish_all(&messages)).await {
                Ok(results) => results,
                Err(_) => messages
                    .iter()
                    .map(|_| Err(PublishError::TimedOut(PUBLISH_TIMEOUT)))
                    .collect(),
            };
        let mut confirmed: Vec<Pending> = Vec::with_capacity(batch.len());
        let mut failed: Vec<Pending> = Vec::new();
        let mut first_error: Option<PublishError> = None;
        for (pending, result) in batch.into_iter().zip(results) {
            match result {
                Ok(()) => confirmed.push(pending),
                Err(error) => {
                    failed.push(pending);
                    first_error.get_or_insert(error);
                }
            }
        }
        outbox::confirm(&mut tx, &confirmed).await?;
        if let Some(error) = &first_error {
            outbox::record_failure(&mut tx, &failed, &error.to_string()).await?;
        }
        tx.commit().await.map_err(StoreError::from)?;
        self.metrics
            .outbox_published_total
            .with_label_values(&["confirmed"])
            .inc_by(confirmed.len() as u64);
        if let Some(error) = first_error {
            self.metrics
                .outbox_published_total
                .with_label_values(&["failed"])
                .inc_by(failed.len() as u64);
            self.on_failure(&failed, &error);
            tracing::warn!(%error, unconfirmed = failed.len(), "publish not confirmed; kept in the outbox for the next pass");
        }
        Ok(confirmed.len())
    }

    /// A returned message means its queue is missing (a module this dispatcher did not
    /// declare): declare it on the next connect. A broker error means the channel is gone.
    fn on_failure(&mut self, failed: &[Pending], error: &PublishError) {
        match error {
            PublishError::Unroutable(_) => {
                for pending in failed {
                    let module = pending
                        .routing_key
                        .split('.')
                        .next()
                        .and_then(|m| ModuleName::new(m).ok());
                    if let Some(module) = module {
                        if !self.config.modules.contains(&module) {
                            self.config.modules.push(module);
                        }
                    }
                }
                self.broker = None;
            }
            PublishError::Broker(_) | PublishError::Nacked | PublishError::TimedOut(_) => {
                self.broker = None
            }
        }
    }

    /// Relays until `shutdown`: wakes on every outbox insert (LISTEN/NOTIFY), else polls.
    pub async fn run_until_stopped(mut self, shutdown: CancellationToken) {
        let mut listener = self.listen().await;
        let mut backoff = Duration::from_millis(100);
        while !shutdown.is_cancelled() {
            match self.relay_once().await {
                Ok(n) if n as i64 >= self.config.batch_size => continue,
                Ok(_) => backoff = Duration::from_millis(100),
                Err(error) => {
                    tracing::warn!(%error, retry_in_ms = backoff.as_millis() as u64, "relay pass failed");
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = shutdown.cancelled() => break,
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                    continue;
                }
            }
            let poll = self.config.poll_interval;
            match listener.as_mut() {
                Some(l) => {
                    tokio::select! {
                        received = l.recv() => {
                            if received.is_err() {
                                listener = None;
                            } else {
                                // One pass covers every insert so far: drop the rest.
                                while l.next_buffered().is_some() {}
                            }
                        }
                        _ = tokio::time::sleep(poll) => {}
                        _ = shutdown.cancelled() => break,
                    }
                }
                None => {
                    tokio::select! {
                        _ = tokio::time::sleep(poll) => { listener = self.listen().await; }
                        _ = shutdown.cancelled() => break,
                    }
                }
            }
        }
        if let Some((connection, _)) = self.broker.take() {
            let _ = connection.close(200, "relay stopping".into()).await;
        }
    }

    async fn listen(&self) -> Option<sqlx::postgres::PgListener> {
        let mut listener = sqlx::postgres::PgListener::connect_with(self.store.pool())
            .await
            .ok()?;
        listener.listen(outbox::NOTIFY_CHANNEL).await.ok()?;
        Some(listener)
    }
}
