//! Chaos tests: a backlog of Goonj records syncing both ways (demands Salesforce → Avni,
//! dispatch receipts Avni → Salesforce) through a real fleet while its pieces fail: worker
//! processes SIGKILLed, RabbitMQ and Postgres restarted (private instances: the shared ones
//! serve the rest of the suite), the partner failing, the dispatcher leader killed. Each ends
//! with the same invariants (`avni_int_tests::chaos::checks::assert_invariants`). Bounded by
//! deadlines; the chaos is paced by random pauses, every wait is a poll.

// Test binary: a failed setup step should stop the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod broker_restart;
mod database_restart;
mod leader_kill;
mod partner_faults;
mod worker_kills;

use avni_int_tests::chaos::checks::{self, CursorWatch};
use avni_int_tests::chaos::fleet::ChaosFleet;
use avni_int_tests::chaos::world::Backlog;
use std::ops::Range;
use std::time::Duration;

pub const TEST_WORKER: &str = env!("CARGO_BIN_EXE_avni-int-test-worker");
/// Records of each direction per scenario.
pub const DEMANDS: usize = 2000;
pub const RECEIPTS: usize = 2000;

/// A random pause of `ms` milliseconds: paces the chaos (never used to wait for a state).
pub async fn pause(ms: Range<u64>) {
    tokio::time::sleep(Duration::from_millis(rand::random_range(ms))).await;
}

/// The end of every scenario: everything arrives, the fleet goes idle, then every invariant.
pub async fn settle_and_check(
    fleet: &ChaosFleet,
    backlog: &Backlog,
    watch: CursorWatch,
    poisoned: u32,
) {
    checks::wait_for_arrival(backlog, Duration::from_secs(60)).await;
    checks::wait_for_quiescence(fleet, backlog, Duration::from_secs(30)).await;
    watch.finish().await;
    checks::assert_invariants(fleet, backlog, poisoned).await;
    eprintln!(
        "jobs by state: {:?}",
        checks::job_summary(fleet, backlog.tenant).await
    );
}

/// Waits until the sync has got past `fraction` of the backlog; the progress then. On time-out
/// the panic says what the fleet was doing (live jobs, outbox, queue).
pub async fn progress_past(
    fleet: &ChaosFleet,
    backlog: &Backlog,
    fraction: f64,
    within: Duration,
) -> f64 {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let progress = backlog.progress();
        if progress > fraction {
            return progress;
        }
        if tokio::time::Instant::now() >= deadline {
            let status = tokio::time::timeout(
                Duration::from_secs(10),
                checks::fleet_status(fleet, backlog.tenant),
            )
            .await
            .unwrap_or_else(|_| "status unavailable".to_owned());
            panic!(
                "timed out after {within:?} waiting for the sync to pass {fraction:.3} of the \
                 backlog; progress {progress:.3}; {status}"
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// After a blow at progress `after`: waits until records keep arriving (or all have), and
/// returns the progress then, where the next blow may come.
pub async fn carried_on(fleet: &ChaosFleet, backlog: &Backlog, after: f64) -> f64 {
    progress_past(
        fleet,
        backlog,
        (after + 0.02).min(0.999),
        Duration::from_secs(40),
    )
    .await
}
