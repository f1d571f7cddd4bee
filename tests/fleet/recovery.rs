//! Losing pieces: a worker killed mid-job, a poison message, SIGTERM, a broker connection cut,
//! Postgres connections cut, and failing or panicking steps.

use crate::TEST_WORKER;
use avni_int_shared::JobKind;
use avni_int_tests::broker::{close_connections_named, int_header};
use avni_int_tests::fleet::TestApp;
use avni_int_tests::poll;
use std::time::Duration;

/// Sends SIGTERM and waits (bounded) for the process to exit; asserts a clean exit.
async fn sigterm_and_wait(child: &mut tokio::process::Child) {
    let pid = child.id().expect("child is running").to_string();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("worker exits after SIGTERM")
        .unwrap();
    assert!(exit.success(), "clean exit, got {exit:?}");
}

#[tokio::test]
async fn a_worker_killed_mid_job_leaves_a_job_that_another_worker_completes() {
    let app = TestApp::new().await;
    // Attempt 1 hangs forever, as if a partner call never returned.
    let tenant = app
        .add_probe_tenant(&[("probe.hang_on_attempt", "1")])
        .await;
    let dispatcher = app.start_dispatcher(app.dispatcher_config()).await;
    let mut doomed = app.spawn_worker_process(TEST_WORKER, "doomed-worker", &[]);
    let job = app.enqueue(tenant, JobKind::Regular).await;

    let running = app
        .job_reaches(job, "running", Duration::from_secs(30))
        .await;
    assert_eq!(running.lease_owner.as_deref(), Some("doomed-worker"));
    doomed.start_kill().unwrap();
    doomed.wait().await.unwrap();

    let survivor = app.start_worker(app.worker_config());
    let done = app
        .job_reaches(job, "succeeded", Duration::from_secs(30))
        .await;
    assert_eq!(done.attempt, 2, "the rescued job ran a second time");
    let runs = app.probe_runs(job).await;
    assert_eq!(
        runs,
        vec![
            ("first".to_owned(), 2, survivor.id.0.clone()),
            ("second".to_owned(), 2, survivor.id.0.clone())
        ],
        "the killed attempt recorded nothing; the survivor ran every step once"
    );
    survivor.stop().await;
    dispatcher.stop().await;
}

#[tokio::test]
async fn a_job_that_kills_every_worker_is_marked_dead_after_the_attempt_limit() {
    let app = TestApp::new().await;
    let tenant = app.add_probe_tenant(&[("probe.sleep_ms", "60000")]).await;
    let mut config = app.dispatcher_config();
    config.max_attempts = 2;
    let dispatcher = app.start_dispatcher(config).await;
    let job = app.enqueue(tenant, JobKind::Regular).await;
    for attempt in 1..=2 {
        let mut worker = app.spawn_worker_process(TEST_WORKER, &format!("crashing-{attempt}"), &[]);
        poll::until(
            "the job to run on this worker",
            Duration::from_secs(30),
            || async {
                let row = app.job(job).await;
                (row.attempt == attempt && row.state == "running").then_some(())
            },
        )
        .await;
        worker.start_kill().unwrap();
        worker.wait().await.unwrap();
    }
    let dead = app.job_reaches(job, "dead", Duration::from_secs(30)).await;
    assert!(
        dead.last_error
            .as_deref()
            .unwrap_or_default()
            .contains("given up"),
        "{:?}",
        dead.last_error
    );
    assert!(dead.finished_at.is_some());
    // A dead job is no longer live: the next run can be scheduled.
    app.enqueue(tenant, JobKind::Regular).await;
    dispatcher.stop().await;
}

#[tokio::test]
async fn a_poison_message_is_dead_lettered_after_the_delivery_limit_and_the_queue_moves_on() {
    let app = TestApp::with_delivery_limit(3).await;
    let tenant = app.add_probe_tenant(&[]).await;
    let dispatcher = app.start_dispatcher(app.dispatcher_config()).await;
    let worker = app.start_worker(app.worker_config());

    let conn = app.broker.connect().await;
    let publisher = avni_int_shared::broker::Publisher::open(&conn, app.broker.topology.exchange())
        .await
        .unwrap();
    let garbage: &[u8] = b"{\"job_id\": \"not a number\"";
    let results = publisher.publish_all(&[("probe.regular", garbage)]).await;
    assert!(results[0].is_ok());

    let dead_queue = app.broker.topology.dead_letter_queue();
    poll::until(
        "the poison message in the dead-letter queue",
        Duration::from_secs(30),
        || async { (app.broker.depth(&dead_queue).await == 1).then_some(()) },
    )
    .await;
    let (body, headers) = app.broker.take(&dead_queue).await.unwrap();
    assert_eq!(body, garbage, "the payload is kept as it was");
    assert!(
        headers.inner().contains_key("x-death")
            || int_header(&headers, "x-delivery-count").is_some(),
        "dead-letter headers present: {headers:?}"
    );
    // The queue is not stalled: a real job still runs.
    let job = app.enqueue(tenant, JobKind::Regular).await;
    app.job_reaches(job, "succeeded", Duration::from_secs(20))
        .await;
    let _ = conn.close(200, "done".into()).await;
    worker.stop().await;
    dispatcher.stop().await;
}

#[tokio::test]
async fn sigterm_lets_a_running_job_finish_then_exits() {
    let app = TestApp::new().await;
    let tenant = app.add_probe_tenant(&[("probe.sleep_ms", "1500")]).await;
    let dispatcher = app.start_dispatcher(app.dispatcher_config()).await;
    let mut worker = app.spawn_worker_process(TEST_WORKER, "draining-worker", &[]);
    let job = app.enqueue(tenant, JobKind::Regular).await;
    app.job_reaches(job, "running", Duration::from_secs(30))
        .await;

    sigterm_and_wait(&mut worker).await;
    let row = app.job(job).await;
    assert_eq!(
        row.state, "succeeded",
        "the running job finished before exit"
    );
    assert_eq!(row.attempt, 1);
    dispatcher.stop().await;
}

#[tokio::test]
async fn sigterm_past_the_grace_period_releases_the_job_to_another_worker() {
    let app = TestApp::new().await;
    let tenant = app
        .add_probe_tenant(&[("probe.hang_on_attempt", "1")])
        .await;
    let dispatcher = app.start_dispatcher(app.dispatcher_config()).await;
    let mut worker = app.spawn_worker_process(
        TEST_WORKER,
        "impatient-worker",
        &[("SHUTDOWN_GRACE_SECS", "0.5"), ("JOB_LEASE_SECS", "60")],
    );
    let job = app.enqueue(tenant, JobKind::Regular).await;
    app.job_reaches(job, "running", Duration::from_secs(30))
        .await;

    sigterm_and_wait(&mut worker).await;
    let released = app.job(job).await;
    assert_eq!(
        released.state, "queued",
        "released, not left running for 60 s"
    );
    assert!(released.lease_owner.is_none());

    // Another worker takes it at once (no lease expiry needed).
    let other = app.start_worker(app.worker_config());
    let done = app
        .job_reaches(job, "succeeded", Duration::from_secs(10))
        .await;
    assert_eq!(done.attempt, 2);
    other.stop().await;
    dispatcher.stop().await;
}

#[tokio::test]
async fn a_worker_whose_broker_connection_drops_reconnects_and_carries_on() {
    let app = TestApp::new().await;
    let tenant = app.add_probe_tenant(&[]).await;
    let dispatcher = app.start_dispatcher(app.dispatcher_config()).await;
    let worker = app.start_worker(app.worker_config());
    let first = app.enqueue(tenant, JobKind::Regular).await;
    app.job_reaches(first, "succeeded", Duration::from_secs(20))
        .await;

    let closed = tokio::task::spawn_blocking({
        let name = worker.id.0.clone();
        move || close_connections_named(&name)
    })
    .await
    .unwrap();
    assert_eq!(closed, 1, "the worker's connection was found and closed");
    // The relay's connection too, as a broker restart would.
    let relay_name = dispatcher.id.0.clone();
    tokio::task::spawn_blocking(move || close_connections_named(&relay_name))
        .await
        .unwrap();

    poll::until(
        "the worker to reconnect",
        Duration::from_secs(20),
        || async {
            (worker
                .metrics
                .broker_reconnects_total
                .with_label_values(&["worker"])
                .get()
                >= 1)
                .then_some(())
        },
    )
    .await;
    let second = app.enqueue(tenant, JobKind::Regular).await;
    app.job_reaches(second, "succeeded", Duration::from_secs(20))
        .await;
    worker.stop().await;
    dispatcher.stop().await;
}

#[tokio::test]
async fn the_fleet_survives_losing_every_postgres_connection() {
    let app = TestApp::new().await;
    let tenant = app.add_probe_tenant(&[]).await;
    let dispatcher = app.start_dispatcher(app.dispatcher_config()).await;
    let worker = app.start_worker(app.worker_config());
    let first = app.enqueue(tenant, JobKind::Regular).await;
    app.job_reaches(first, "succeeded", Duration::from_secs(20))
        .await;

    // What a Postgres restart does to the fleet's connections.
    let admin = sqlx::PgPool::connect(&avni_int_tests::database::admin_url())
        .await
        .unwrap();
    let killed: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
          WHERE datname = $1 AND pid <> pg_backend_pid()) t",
    )
    .bind(&app.db.name)
    .fetch_one(&admin)
    .await
    .unwrap();
    assert!(killed >= 2, "the fleet's connections were cut ({killed})");

    let second = app.enqueue(tenant, JobKind::Regular).await;
    app.job_reaches(second, "succeeded", Duration::from_secs(30))
        .await;
    worker.stop().await;
    dispatcher.stop().await;
}

#[tokio::test]
async fn a_failing_or_panicking_step_fails_the_job_but_the_next_step_still_runs() {
    let app = TestApp::new().await;
    let failing = app.add_probe_tenant(&[("probe.fail", "yes")]).await;
    let panicking = app.add_probe_tenant(&[("probe.panic", "yes")]).await;
    let dispatcher = app.start_dispatcher(app.dispatcher_config()).await;
    let worker = app.start_worker(app.worker_config());

    for (tenant, expected) in [
        (failing, "first: probe failure requested"),
        (panicking, "first: panicked: probe panic requested"),
    ] {
        let job = app.enqueue(tenant, JobKind::Regular).await;
        let row = app
            .job_reaches(job, "failed", Duration::from_secs(20))
            .await;
        assert_eq!(row.last_error.as_deref(), Some(expected));
        let steps: Vec<String> = app.probe_runs(job).await.into_iter().map(|r| r.0).collect();
        assert_eq!(steps, ["second"], "the step after the failure ran");
    }
    // The worker is still alive and serving.
    let ok = app.add_probe_tenant(&[]).await;
    let job = app.enqueue(ok, JobKind::Regular).await;
    app.job_reaches(job, "succeeded", Duration::from_secs(20))
        .await;
    worker.stop().await;
    dispatcher.stop().await;
}
