//! A per-test queue prefix on the shared RabbitMQ, with its queues deleted afterwards, and
//! helpers to look inside queues and to cut a process's connection.

use avni_int_shared::broker::{self, Topology};
use avni_int_shared::ModuleName;
use lapin::options::{BasicGetOptions, ExchangeDeleteOptions, QueueDeleteOptions};
use lapin::types::{AMQPValue, FieldTable};

pub fn amqp_url() -> String {
    std::env::var("AMQP_URL")
        .unwrap_or_else(|_| avni_int_shared::config::DEFAULT_AMQP_URL.to_owned())
}

pub struct TestBroker {
    pub topology: Topology,
    pub modules: Vec<ModuleName>,
}

impl TestBroker {
    pub fn new(modules: Vec<ModuleName>, delivery_limit: u32) -> Self {
        let prefix = format!("t_{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        TestBroker {
            topology: Topology::new(prefix, delivery_limit),
            modules,
        }
    }

    pub async fn connect(&self) -> lapin::Connection {
        broker::connect(&amqp_url(), "fleet-test")
            .await
            .expect("rabbitmq is reachable")
    }

    pub async fn declare(&self) {
        let conn = self.connect().await;
        let channel = conn.create_channel().await.unwrap();
        self.topology
            .declare(&channel, &self.modules)
            .await
            .expect("declare topology");
        let _ = conn.close(200, "done".into()).await;
    }

    /// Messages ready in a queue.
    pub async fn depth(&self, queue: &str) -> u32 {
        let conn = self.connect().await;
        let channel = conn.create_channel().await.unwrap();
        let depth = self.topology.depth(&channel, queue).await.unwrap_or(0);
        let _ = conn.close(200, "done".into()).await;
        depth
    }

    /// Publishes `body` to the dead-letter exchange (a poisoned message, as the broker would
    /// dead-letter it after the delivery limit).
    pub async fn publish_to_dead_letters(&self, body: &[u8]) {
        let conn = self.connect().await;
        let publisher =
            avni_int_shared::broker::Publisher::open(&conn, self.topology.dead_letter_exchange())
                .await
                .unwrap();
        for result in publisher.publish_all(&[("", body)]).await {
            result.unwrap();
        }
        let _ = conn.close(200, "done".into()).await;
    }

    /// Takes one message off a queue: its body and `x-delivery-count` / `x-death` headers.
    pub async fn take(&self, queue: &str) -> Option<(Vec<u8>, FieldTable)> {
        let conn = self.connect().await;
        let channel = conn.create_channel().await.unwrap();
        let got = channel
            .basic_get(queue.into(), BasicGetOptions { no_ack: true })
            .await
            .unwrap();
        let _ = conn.close(200, "done".into()).await;
        got.map(|m| {
            let headers = m.delivery.properties.headers().clone().unwrap_or_default();
            (m.delivery.data, headers)
        })
    }
}

/// Reads an integer header, whatever integer type the broker chose.
pub fn int_header(headers: &FieldTable, name: &str) -> Option<i64> {
    match headers.inner().get(name)? {
        AMQPValue::LongLongInt(v) => Some(*v),
        AMQPValue::LongInt(v) => Some(i64::from(*v)),
        AMQPValue::ShortInt(v) => Some(i64::from(*v)),
        AMQPValue::LongUInt(v) => Some(i64::from(*v)),
        AMQPValue::ShortShortInt(v) => Some(i64::from(*v)),
        _ => None,
    }
}

impl Drop for TestBroker {
    fn drop(&mut self) {
        let topology = self.topology.clone();
        let modules = self.modules.clone();
        crate::cleanup_blocking(async move {
            let Ok(conn) = broker::connect(&amqp_url(), "fleet-test-cleanup").await else {
                return;
            };
            let Ok(channel) = conn.create_channel().await else {
                return;
            };
            let mut queues: Vec<String> = topology.queues(&modules).collect();
            queues.push(topology.dead_letter_queue());
            for queue in queues {
                let _ = channel
                    .queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
                    .await;
            }
            for exchange in [topology.exchange(), topology.dead_letter_exchange()] {
                let _ = channel
                    .exchange_delete(exchange.as_str().into(), ExchangeDeleteOptions::default())
                    .await;
            }
            let _ = conn.close(200, "cleanup".into()).await;
        });
    }
}

/// Closes, on the broker side, every connection whose name contains `needle` (as a broker
/// restart would for that process). Returns how many were closed.
pub fn close_connections_named(needle: &str) -> usize {
    let listed = std::process::Command::new("rabbitmqctl")
        .args([
            "list_connections",
            "--no-table-headers",
            "-q",
            "pid",
            "client_properties",
        ])
        .output()
        .expect("rabbitmqctl runs");
    let text = String::from_utf8_lossy(&listed.stdout);
    let mut closed = 0;
    for line in text.lines().filter(|l| l.contains(needle)) {
        let Some(pid) = line.split_whitespace().next() else {
            continue;
        };
        let status = std::process::Command::new("rabbitmqctl")
            .args(["close_connection", pid, "fleet test cuts the connection"])
            .status()
            .expect("rabbitmqctl runs");
        if status.success() {
            closed += 1;
        }
    }
    closed
}
