//! The consuming loop: one connection, one consumer per served queue with prefetch equal to the
//! job concurrency, a job task per delivery, acks only after the outcome commits. Reconnects
//! with backoff when the broker goes away; on shutdown stops consuming, lets running jobs
//! finish within the grace period and releases the rest.

use crate::execute::JobResult;
use crate::Worker;
use avni_int_shared::broker::{self, TopologyError};
use avni_int_shared::JobMessage;
use futures::stream::{SelectAll, StreamExt};
use lapin::message::Delivery;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions};
use lapin::types::FieldTable;
use lapin::{Connection, Consumer};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How long an ack or nack may take before the delivery is given up (the broker redelivers it).
const SETTLE_TIMEOUT: Duration = Duration::from_secs(10);

/// What to tell the broker about a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Done with it (the outcome is committed, or it was a duplicate).
    Ack,
    /// This worker cannot handle it (unreadable, another version's format, a module it does not
    /// serve): back to the queue, where the delivery limit dead-letters it if no one can.
    Requeue,
}

#[derive(Debug, thiserror::Error)]
enum ConsumeError {
    #[error(transparent)]
    Connect(#[from] broker::ConnectError),
    #[error(transparent)]
    Topology(#[from] TopologyError),
    #[error("setting up consumers failed: {0}")]
    Broker(#[from] lapin::Error),
    #[error("RabbitMQ did not finish setting up the consumers in time")]
    SetupTimedOut,
}

impl Worker {
    /// Handles one message body: the step function the loop calls for each delivery, and
    /// tests call directly.
    pub async fn process_message(&self, body: &[u8], hard_stop: &CancellationToken) -> Disposition {
        let message: JobMessage = match serde_json::from_slice(body) {
            Ok(message) => message,
            Err(error) => {
                let excerpt = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
                tracing::error!(%error, body = %excerpt, "unreadable job message; returning it to the queue (dead-lettered after the delivery limit)");
                return Disposition::Requeue;
            }
        };
        if message.v != JobMessage::VERSION {
            tracing::warn!(version = message.v, job_id = %message.job_id, "job message of another format version; returning it for a worker that reads it");
            return Disposition::Requeue;
        }
        let Some(module) = self.registry.get(&message.module).cloned() else {
            tracing::error!(module = %message.module, job_id = %message.job_id, "job for a module this worker does not serve");
            return Disposition::Requeue;
        };
        match self.execute(&message, module, hard_stop).await {
            Ok(JobResult::Finished { .. })
            | Ok(JobResult::Duplicate)
            | Ok(JobResult::Released)
            | Ok(JobResult::LeaseLost) => Disposition::Ack,
            Err(error) => {
                // The outcome could not be committed: leave the job to its lease. The message
                // is acked: the rescuer re-publishes the job once the lease expires, without
                // spending the message's delivery limit on a database outage.
                tracing::error!(job_id = %message.job_id, %error, "job outcome not recorded; the rescuer takes it over when its lease expires");
                Disposition::Ack
            }
        }
    }

    /// Consumes until `shutdown`, then drains: running jobs get `shutdown_grace` to finish,
    /// the rest are released back to the queue.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) {
        let _http = self.serve_http(&shutdown);
        let modules = self.registry.names();
        if modules.is_empty() {
            tracing::warn!("this worker serves no modules; it consumes nothing until stopped");
            shutdown.cancelled().await;
            return;
        }
        tracing::info!(worker = %self.config.id, modules = ?modules.iter().map(|m| m.as_str()).collect::<Vec<_>>(),
            concurrency = self.config.concurrency, "worker started");
        let hard_stop = CancellationToken::new();
        let tracker = TaskTracker::new();
        let permits = Arc::new(Semaphore::new(self.config.concurrency));
        let mut backoff = Duration::from_millis(200);
        let mut connected_before = false;

        while !shutdown.is_cancelled() {
            // A broker still recovering can accept the connection and then never answer a
            // declare or consume (seen in the chaos suite after a restart): without a bound the
            // worker would wait forever, subscribed to nothing. Each step is bounded; a queue
            // whose consume goes unanswered is retried later without holding up the others.
            let setup = self.connect_and_consume().await;
            let (connection, mut consumers, mut pending) = match setup {
                Ok(ok) => ok,
                Err(error) => {
                    tracing::warn!(%error, retry_in_ms = backoff.as_millis() as u64, "cannot consume from RabbitMQ; retrying");
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = shutdown.cancelled() => break,
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(10));
                    continue;
                }
            };
            if connected_before {
                self.metrics
                    .broker_reconnects_total
                    .with_label_values(&["worker"])
                    .inc();
                tracing::info!("reconnected to RabbitMQ");
            }
            connected_before = true;
            backoff = Duration::from_millis(200);
            let connected = self.metrics.broker_connected.with_label_values(&["worker"]);
            connected.set(1);

            let mut watchdog = tokio::time::interval(self.config.consumer_watchdog);
            watchdog.reset();
            let mut last_delivery = std::time::Instant::now();
            loop {
                // Take a delivery only when a job slot is free.
                let permit = tokio::select! {
                    permit = permits.clone().acquire_owned() => match permit {
                        Ok(permit) => permit,
                        Err(_) => break,
                    },
                    _ = shutdown.cancelled() => break,
                };
                let delivery = tokio::select! {
                    delivery = consumers.next() => delivery,
                    _ = watchdog.tick() => {
                        if !pending.is_empty() {
                            pending = self.subscribe_all(&connection, pending, &mut consumers).await;
                        }
                        // A slot is free (we hold its permit) yet nothing came: after a broker
                        // crash a consumer can stay registered but never be fed. Seen in the
                        // chaos suite; re-subscribing on a new connection recovers.
                        if last_delivery.elapsed() >= self.config.consumer_watchdog
                            && self.messages_waiting(&connection).await
                        {
                            tracing::warn!("messages wait in the queues but none reach this worker; re-subscribing");
                            break;
                        }
                        continue;
                    }
                    _ = shutdown.cancelled() => break,
                };
                last_delivery = std::time::Instant::now();
                match delivery {
                    Some(Ok(delivery)) => {
                        let worker = self.clone();
                        let hard_stop = hard_stop.clone();
                        tracker.spawn(async move {
                            worker.settle(delivery, &hard_stop).await;
                            drop(permit);
                        });
                    }
                    Some(Err(error)) => {
                        tracing::warn!(%error, "lost the RabbitMQ connection; reconnecting");
                        break;
                    }
                    None => {
                        tracing::warn!("RabbitMQ closed the consumers; reconnecting");
                        break;
                    }
                }
            }
            connected.set(0);
            if !shutdown.is_cancelled() {
                // A broker that drops connections at once must not turn this into a busy loop.
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = shutdown.cancelled() => {}
                }
            }
            if shutdown.is_cancelled() {
                // Stop deliveries first; unacked prefetched messages return to the queue
                // when the connection closes below.
                drop(consumers);
                self.drain(&tracker, &hard_stop).await;
                let _ = connection.close(200, "worker stopping".into()).await;
                break;
            }
        }
        if !tracker.is_closed() {
            self.drain(&tracker, &hard_stop).await;
        }
        tracing::info!(worker = %self.config.id, "worker stopped");
    }

    async fn drain(&self, tracker: &TaskTracker, hard_stop: &CancellationToken) {
        tracker.close();
        let running = tracker.len();
        if running > 0 {
            tracing::info!(
                running,
                grace_secs = self.config.shutdown_grace.as_secs_f64(),
                "waiting for running jobs"
            );
        }
        if tokio::time::timeout(self.config.shutdown_grace, tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!("shutdown grace over: releasing unfinished jobs to the queue");
            hard_stop.cancel();
            tracker.wait().await;
        }
    }

    async fn settle(&self, delivery: Delivery, hard_stop: &CancellationToken) {
        let disposition = self.process_message(&delivery.data, hard_stop).await;
        let settle = async {
            match disposition {
                Disposition::Ack => delivery.acker.ack(BasicAckOptions::default()).await,
                Disposition::Requeue => {
                    delivery
                        .acker
                        .nack(BasicNackOptions {
                            requeue: true,
                            ..BasicNackOptions::default()
                        })
                        .await
                }
            }
        };
        // On a connection the broker dropped (a restart) the ack may never complete; waiting
        // for it would hold this job slot forever and starve the new connection's consumers.
        let Ok(settled) = tokio::time::timeout(SETTLE_TIMEOUT, settle).await else {
            tracing::debug!("settling a delivery timed out; it will be redelivered");
            return;
        };
        if let Err(error) = settled {
            // The channel is gone; the broker redelivers and the ledger turns that into a
            // duplicate.
            tracing::debug!(%error, "could not settle a delivery; it will be redelivered");
        }
    }

    /// True when a queue this worker consumes holds ready messages (a passive declare on a
    /// channel of its own; any failure reads as "no", the connection loop handles losses).
    async fn messages_waiting(&self, connection: &Connection) -> bool {
        let queues: Vec<String> = self
            .config
            .topology
            .queues(&self.registry.names())
            .collect();
        let read = tokio::time::timeout(
            Duration::from_secs(5),
            avni_int_shared::broker::depth::read(connection, &queues),
        )
        .await;
        matches!(read, Ok(Ok(depths)) if depths.iter().any(|d| d.messages.unwrap_or(0) > 0))
    }

    /// Connects, declares the topology and subscribes to every served queue, each on a channel
    /// of its own. Returns the queues whose subscription did not complete in time (retried by
    /// the watchdog); fails when none did.
    async fn connect_and_consume(
        &self,
    ) -> Result<(Connection, SelectAll<Consumer>, Vec<String>), ConsumeError> {
        let bound = self.config.consumer_watchdog;
        let setup = async {
            let connection =
                broker::connect(&self.config.amqp_url, &format!("{} worker", self.config.id))
                    .await?;
            let channel = connection.create_channel().await?;
            self.config
                .topology
                .declare(&channel, &self.registry.names())
                .await?;
            let _ = channel.close(200, "declared".into()).await;
            Ok::<_, ConsumeError>(connection)
        };
        let connection = tokio::time::timeout(bound, setup)
            .await
            .unwrap_or(Err(ConsumeError::SetupTimedOut))?;
        let queues: Vec<String> = self
            .config
            .topology
            .queues(&self.registry.names())
            .collect();
        let mut consumers = SelectAll::new();
        let pending = self
            .subscribe_all(&connection, queues, &mut consumers)
            .await;
        if consumers.is_empty() {
            return Err(ConsumeError::SetupTimedOut);
        }
        Ok((connection, consumers, pending))
    }

    /// Subscribes to each of `queues`, adding the consumers; returns those that failed or went
    /// unanswered within the watchdog period.
    async fn subscribe_all(
        &self,
        connection: &Connection,
        queues: Vec<String>,
        consumers: &mut SelectAll<Consumer>,
    ) -> Vec<String> {
        let mut pending = Vec::new();
        for queue in queues {
            let subscribe = async {
                let channel = connection.create_channel().await?;
                let prefetch = u16::try_from(self.config.concurrency).unwrap_or(u16::MAX);
                channel
                    .basic_qos(prefetch, BasicQosOptions::default())
                    .await?;
                channel
                    .basic_consume(
                        queue.as_str().into(),
                        format!("{}:{queue}", self.config.id).as_str().into(),
                        BasicConsumeOptions::default(),
                        FieldTable::default(),
                    )
                    .await
            };
            match tokio::time::timeout(self.config.consumer_watchdog, subscribe).await {
                Ok(Ok(consumer)) => consumers.push(consumer),
                Ok(Err(error)) => {
                    tracing::warn!(%queue, %error, "cannot consume this queue yet; retrying");
                    pending.push(queue);
                }
                Err(_) => {
                    tracing::warn!(%queue, "RabbitMQ did not answer the subscription; retrying");
                    pending.push(queue);
                }
            }
        }
        pending
    }
}
