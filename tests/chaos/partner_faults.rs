//! The partners misbehaving for a stretch: Salesforce answering 5xx, hanging until the
//! client's time-out, throttling with 429 and `Retry-After`; Avni answering 503 and 429.
//! Workers run in-process here, with a 2 s HTTP time-out (a process worker waits a minute).

use crate::{progress_past, settle_and_check, DEMANDS, RECEIPTS, TEST_WORKER};
use avni_int_tests::chaos::checks::{until, CursorWatch};
use avni_int_tests::chaos::fleet::{Amqp, ChaosFleet, Db};
use avni_int_tests::chaos::world::Backlog;
use avni_int_tests::sim::faults::FaultPlan;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partner_errors_timeouts_and_throttling_lose_and_duplicate_nothing() {
    let fleet = ChaosFleet::new(Db::Shared, Amqp::Shared, TEST_WORKER).await;
    let backlog = Backlog::seed(&fleet, DEMANDS, RECEIPTS).await;
    let watch = CursorWatch::start(&fleet.database_url, backlog.tenant);
    let dispatcher = fleet.start_dispatcher().await;
    let workers: Vec<_> = (0..2)
        .map(|_| fleet.start_inprocess_worker(Duration::from_secs(2)))
        .collect();
    backlog.schedule(&fleet).await;

    let (salesforce, avni) = (backlog.salesforce.faults(), backlog.avni.faults());
    // Salesforce sees a request per page or batch of 200 (a few dozen in all), Avni one or
    // two per record: Salesforce gets counted faults (each used up within the stretch), Avni a
    // rate for as long as the stretch lasts.
    let stretches: [(&str, FaultPlan, FaultPlan); 3] = [
        (
            "5xx",
            FaultPlan {
                fail_next: 3,
                error_status: Some(503),
                ..FaultPlan::default()
            },
            FaultPlan {
                error_rate: 0.05,
                error_status: Some(503),
                ..FaultPlan::default()
            },
        ),
        (
            "time-outs",
            FaultPlan {
                hang_next: 2,
                fail_next: 1,
                error_status: Some(500),
                ..FaultPlan::default()
            },
            FaultPlan {
                error_rate: 0.05,
                error_status: Some(504),
                ..FaultPlan::default()
            },
        ),
        (
            "429",
            FaultPlan {
                throttle_next: 3,
                retry_after_secs: Some(1),
                ..FaultPlan::default()
            },
            FaultPlan {
                throttle_rate: 0.05,
                retry_after_secs: Some(1),
                ..FaultPlan::default()
            },
        ),
    ];
    let mut at = 0.05;
    for (name, on_salesforce, on_avni) in stretches {
        let before = progress_past(&fleet, &backlog, at, Duration::from_secs(40)).await;
        assert!(
            before < 1.0,
            "the {name} stretch comes mid-run ({before:.2})"
        );
        let logged = backlog.salesforce.recorded().len();
        salesforce.set(on_salesforce);
        avni.set(on_avni);
        until(
            &format!("Salesforce to have had the {name} stretch"),
            Duration::from_secs(30),
            || async {
                let left = salesforce.plan();
                let pending = left.fail_next + left.hang_next + left.throttle_next;
                if pending == 0 {
                    Ok(())
                } else {
                    Err(format!("{pending} Salesforce faults still to come"))
                }
            },
        )
        .await;
        salesforce.clear();
        avni.clear();
        let after = backlog.progress();
        let statuses: Vec<Option<u16>> = backlog.salesforce.recorded()[logged..]
            .iter()
            .map(|r| r.status)
            .collect();
        let faulted = statuses
            .iter()
            .filter(|s| !matches!(s, Some(200..=299)))
            .count();
        eprintln!(
            "{name} stretch from progress {before:.2} to {after:.2}: {faulted} of {} Salesforce requests faulted",
            statuses.len()
        );
        assert!(faulted > 0, "the {name} stretch hit Salesforce");
        at = (after + 0.02).min(0.999);
    }
    settle_and_check(&fleet, &backlog, watch, 0).await;
    for worker in workers {
        worker.stop().await;
    }
    dispatcher.stop().await;
}
