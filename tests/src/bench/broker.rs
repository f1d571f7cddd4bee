//! The broker's own rate: publish with confirms and consume with acks, no ledger, no worker.

use crate::broker::{amqp_url, TestBroker};
use crate::noop;
use avni_int_shared::broker::{self, Publisher};
use avni_int_shared::JobKind;
use futures::StreamExt;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicQosOptions};
use lapin::types::FieldTable;
use std::time::Instant;

/// Publishes `n` messages with confirms (batches of 500, as the relay does) while a consumer
/// with the worker's prefetch acks each: messages per second from first publish to last ack.
pub async fn raw_publish_consume(n: usize, prefetch: usize) -> f64 {
    let test_broker = TestBroker::new(vec![noop::name()], 5);
    test_broker.declare().await;
    let queue = test_broker.topology.queue(&noop::name(), JobKind::Regular);
    let conn = broker::connect(&amqp_url(), "bench-raw").await.unwrap();
    let consume_channel = conn.create_channel().await.unwrap();
    consume_channel
        .basic_qos(prefetch as u16, BasicQosOptions::default())
        .await
        .unwrap();
    let mut consumer = consume_channel
        .basic_consume(
            queue.as_str().into(),
            "bench".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    let publisher = Publisher::open(&conn, test_broker.topology.exchange())
        .await
        .unwrap();
    let body = br#"{"v":1,"job_id":1,"integration_system_id":1,"module":"noop","kind":"regular","trigger":"manual","attempt":0}"#;
    let started = Instant::now();
    let consume = tokio::spawn(async move {
        let mut got = 0;
        while got < n {
            let delivery = consumer.next().await.unwrap().unwrap();
            delivery.ack(BasicAckOptions::default()).await.unwrap();
            got += 1;
        }
    });
    let mut sent = 0;
    while sent < n {
        let batch = (n - sent).min(500);
        let messages: Vec<(&str, &[u8])> = (0..batch)
            .map(|_| ("noop.regular", body.as_slice()))
            .collect();
        for result in publisher.publish_all(&messages).await {
            result.unwrap();
        }
        sent += batch;
    }
    consume.await.unwrap();
    let rate = n as f64 / started.elapsed().as_secs_f64();
    let _ = conn.close(200, "done".into()).await;
    rate
}
