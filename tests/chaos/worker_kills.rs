//! Worker processes SIGKILLed at random moments, over and over, and replaced.

use crate::{pause, settle_and_check, DEMANDS, RECEIPTS, TEST_WORKER};
use avni_int_tests::chaos::checks::CursorWatch;
use avni_int_tests::chaos::fleet::{Amqp, ChaosFleet, Db};
use avni_int_tests::chaos::world::Backlog;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_sigkill_storm_loses_and_duplicates_nothing() {
    let mut fleet = ChaosFleet::new(Db::Shared, Amqp::Shared, TEST_WORKER).await;
    let backlog = Backlog::seed(&fleet, DEMANDS, RECEIPTS).await;
    let watch = CursorWatch::start(&fleet.database_url, backlog.tenant);
    let dispatcher = fleet.start_dispatcher().await;
    for _ in 0..3 {
        fleet.spawn_worker();
    }
    // The one deliberate dead letter: no worker can read it.
    fleet.publish_poison(b"{\"job_id\": \"poison\"").await;
    // A little latency on every Avni call stretches the sync so the storm overlaps it.
    backlog.avni.faults().update(|plan| plan.latency_ms = 5);
    backlog.schedule(&fleet).await;

    let started = Instant::now();
    let mut kills_mid_run = 0;
    while backlog.progress() < 0.9 && started.elapsed() < Duration::from_secs(30) {
        pause(200..600).await;
        let victim = rand::random_range(0..fleet.worker_count());
        fleet.kill_worker(victim).await;
        fleet.spawn_worker();
        if backlog.progress() < 1.0 {
            kills_mid_run += 1;
        }
    }
    eprintln!(
        "{kills_mid_run} workers killed mid-run in {:?}, progress {:.2}",
        started.elapsed(),
        backlog.progress()
    );
    assert!(kills_mid_run >= 5, "the storm hit the sync mid-run");
    settle_and_check(&fleet, &backlog, watch, 1).await;
    fleet.kill_all_workers().await;
    dispatcher.stop().await;
}
