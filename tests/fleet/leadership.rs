//! Several dispatchers: exactly one schedules, and a dead leader is replaced.

use avni_int_shared::store::leader;
use avni_int_tests::fleet::TestApp;
use avni_int_tests::poll;
use std::time::Duration;

#[tokio::test]
async fn only_one_of_two_dispatchers_schedules_and_killing_it_hands_over() {
    let app = TestApp::new().await;
    let tenant = app
        .add_probe_tenant(&[("main.scheduled.job.cron", "* * * * * *")])
        .await;
    let a = app.start_dispatcher(app.dispatcher_config()).await;
    let b = app.start_dispatcher(app.dispatcher_config()).await;
    let worker = app.start_worker(app.worker_config());

    poll::until(
        "a few scheduled jobs to succeed",
        Duration::from_secs(20),
        || async {
            let done = app
                .jobs(tenant)
                .await
                .iter()
                .filter(|j| j.state == "succeeded")
                .count();
            (done >= 3).then_some(())
        },
    )
    .await;
    let leading = |r: &avni_int_tests::fleet::Running| r.metrics.is_leader.get();
    assert_eq!(leading(&a) + leading(&b), 1, "exactly one leader");
    let fired = |r: &avni_int_tests::fleet::Running| {
        r.metrics
            .schedule_fired_total
            .with_label_values(&["probe", "regular"])
            .get()
    };
    let (leader_run, standby) = if leading(&a) == 1 { (a, b) } else { (b, a) };
    assert!(fired(&leader_run) >= 3);
    assert_eq!(fired(&standby), 0, "the standby never schedules");
    let holder = leader::current(app.db.pool(), "scheduler").await.unwrap();
    assert_eq!(holder.as_deref(), Some(leader_run.id.0.as_str()));

    // The leader dies without releasing its lease: the standby takes over once it expires.
    leader_run.kill();
    let jobs_before = app.jobs(tenant).await.len();
    poll::until("the standby to lead", Duration::from_secs(30), || async {
        (standby.metrics.is_leader.get() == 1).then_some(())
    })
    .await;
    poll::until(
        "the new leader to schedule",
        Duration::from_secs(20),
        || async {
            (fired(&standby) >= 2 && app.jobs(tenant).await.len() > jobs_before).then_some(())
        },
    )
    .await;
    let holder = leader::current(app.db.pool(), "scheduler").await.unwrap();
    assert_eq!(holder.as_deref(), Some(standby.id.0.as_str()));
    worker.stop().await;
    standby.stop().await;
    // One job per tick: no tick produced two jobs.
    let mut scheduled: Vec<_> = app
        .jobs(tenant)
        .await
        .into_iter()
        .map(|j| j.scheduled_at)
        .collect();
    let total = scheduled.len();
    scheduled.dedup();
    assert_eq!(scheduled.len(), total);
}

#[tokio::test]
async fn a_cleanly_stopped_leader_hands_over_at_once() {
    let app = TestApp::new().await;
    let mut long_lease = app.dispatcher_config();
    long_lease.leader_ttl = Duration::from_secs(60);
    let a = app.start_dispatcher(long_lease.clone()).await;
    poll::until("a to lead", Duration::from_secs(10), || async {
        (a.metrics.is_leader.get() == 1).then_some(())
    })
    .await;
    long_lease.id = avni_int_shared::WorkerId::generate("dispatcher");
    let b = app.start_dispatcher(long_lease).await;
    a.stop().await;
    // Released on stop: b leads within its renewal period (20 s), not the 60 s lease.
    poll::until(
        "b to lead after a released",
        Duration::from_secs(25),
        || async { (b.metrics.is_leader.get() == 1).then_some(()) },
    )
    .await;
    b.stop().await;
}
