//! The outbox relay: nothing is lost between the ledger and the broker.

use avni_int_dispatcher::relay::{Relay, RelayConfig};
use avni_int_shared::metrics::Metrics;
use avni_int_shared::store::outbox;
use avni_int_shared::{JobKind, JobMessage, ModuleName};
use avni_int_tests::broker::amqp_url;
use avni_int_tests::fleet::TestApp;
use avni_int_tests::probe;
use std::time::Duration;

fn relay(app: &TestApp, url: String, modules: Vec<ModuleName>) -> Relay {
    Relay::build(
        app.db.store.clone(),
        RelayConfig {
            amqp_url: url,
            connection_name: "relay-test".into(),
            topology: app.broker.topology.clone(),
            modules,
            batch_size: 100,
            poll_interval: Duration::from_millis(100),
        },
        Metrics::new().unwrap(),
    )
}

#[tokio::test]
async fn with_the_broker_unreachable_messages_stay_in_the_outbox_and_are_published_later() {
    let app = TestApp::new().await;
    let tenant = app.add_probe_tenant(&[]).await;
    let job = app.enqueue(tenant, JobKind::Regular).await;

    // Nothing listens on port 9.
    let mut down = relay(
        &app,
        "amqp://guest:guest@127.0.0.1:9/%2f".into(),
        vec![probe::name()],
    );
    assert!(down.relay_once().await.is_err());
    assert_eq!(outbox::backlog(app.db.pool()).await.unwrap(), 1, "kept");
    assert_eq!(app.job(job).await.state, "scheduled");

    let mut up = relay(&app, amqp_url(), vec![probe::name()]);
    assert_eq!(up.relay_once().await.unwrap(), 1);
    assert_eq!(outbox::backlog(app.db.pool()).await.unwrap(), 0);
    assert_eq!(app.job(job).await.state, "queued", "confirmed, so queued");
    let queue = app.broker.topology.queue(&probe::name(), JobKind::Regular);
    let (body, _) = app
        .broker
        .take(&queue)
        .await
        .expect("the message is in its queue");
    let message: JobMessage = serde_json::from_slice(&body).unwrap();
    assert_eq!(message.job_id, job);
    assert_eq!(message.integration_system_id, tenant);
    assert_eq!(message.module, probe::name());
}

#[tokio::test]
async fn an_unroutable_message_is_kept_then_published_once_its_queue_is_declared() {
    let app = TestApp::new().await;
    let tenant = app.add_probe_tenant(&[]).await;
    let job = app.enqueue(tenant, JobKind::Regular).await;
    // The probe queues exist (the test app declared them); drop the binding's target so the
    // mandatory publish comes back.
    let queue = app.broker.topology.queue(&probe::name(), JobKind::Regular);
    {
        let conn = app.broker.connect().await;
        let channel = conn.create_channel().await.unwrap();
        channel
            .queue_delete(queue.as_str().into(), Default::default())
            .await
            .unwrap();
        let _ = conn.close(200, "done".into()).await;
    }
    // A relay that does not know the module (declares nothing for it at first).
    let mut relay = relay(&app, amqp_url(), vec![]);
    assert_eq!(
        relay.relay_once().await.unwrap(),
        0,
        "returned, not confirmed"
    );
    let last_error: Option<String> =
        sqlx::query_scalar("SELECT last_error FROM int_outbox WHERE job_id = $1")
            .bind(job)
            .fetch_one(app.db.pool())
            .await
            .unwrap();
    assert!(
        last_error.unwrap_or_default().contains("no queue is bound"),
        "the reason is kept for ops"
    );
    // The next pass declares the module's queues and publishes.
    assert_eq!(relay.relay_once().await.unwrap(), 1);
    assert_eq!(app.broker.depth(&queue).await, 1);
    assert_eq!(app.job(job).await.state, "queued");
}
