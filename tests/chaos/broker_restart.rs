//! RabbitMQ restarted mid-run: once killed (SIGKILL), once cleanly (SIGTERM), on a private node.

use crate::{carried_on, progress_past, settle_and_check, DEMANDS, RECEIPTS, TEST_WORKER};
use avni_int_tests::chaos::checks::CursorWatch;
use avni_int_tests::chaos::fleet::{Amqp, ChaosFleet, Db};
use avni_int_tests::chaos::rabbit::{PrivateRabbit, Stop};
use avni_int_tests::chaos::world::Backlog;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rabbitmq_restarts_mid_run_lose_and_duplicate_nothing() {
    let mut rabbit = PrivateRabbit::start().await;
    let mut fleet = ChaosFleet::new(Db::Shared, Amqp::Url(rabbit.url()), TEST_WORKER).await;
    let backlog = Backlog::seed(&fleet, DEMANDS, RECEIPTS).await;
    let watch = CursorWatch::start(&fleet.database_url, backlog.tenant);
    let dispatcher = fleet.start_dispatcher().await;
    for _ in 0..2 {
        fleet.spawn_worker();
    }
    backlog.schedule(&fleet).await;

    let mut at = 0.1;
    for how in [Stop::Crash, Stop::Graceful] {
        let before = progress_past(&fleet, &backlog, at, Duration::from_secs(40)).await;
        assert!(before < 1.0, "the restart comes mid-run ({before:.2})");
        let down = chrono::Utc::now();
        rabbit.restart(how).await;
        eprintln!(
            "{how:?}: broker down at {down}, serving again at {}",
            chrono::Utc::now()
        );
        // The fleet carries on after the restart: records keep arriving.
        let after = backlog.progress();
        at = carried_on(&fleet, &backlog, after).await;
        eprintln!("{how:?} restart at progress {before:.2}; back to work at {after:.2}");
    }
    settle_and_check(&fleet, &backlog, watch, 0).await;
    eprintln!(
        "jobs re-published by the rescuer (their message was lost): {}",
        dispatcher
            .metrics
            .jobs_rescued_total
            .with_label_values(&["republished"])
            .get()
    );
    fleet.kill_all_workers().await;
    dispatcher.stop().await;
}
