//! Crons become jobs: firing, overlap skipping, hot reload, the int_env guard, env-configured
//! modules and time-budget continuations.

use avni_int_dispatcher::catalog::{CronSource, ModuleSpec};
use avni_int_dispatcher::schedule::{Scheduler, SchedulerConfig};
use avni_int_shared::store::schedule_state;
use avni_int_shared::JobKind;
use avni_int_tests::fleet::{TestApp, INT_ENV};
use avni_int_tests::{poll, probe};
use chrono::{FixedOffset, TimeZone, Utc};
use std::time::Duration;

const EVERY_SECOND: &str = "* * * * * *";

fn scheduler(app: &TestApp, catalog: Vec<ModuleSpec>) -> Scheduler {
    Scheduler::build(
        app.db.store.clone(),
        SchedulerConfig {
            catalog,
            int_env: Some(INT_ENV.to_owned()),
            cron_offset: FixedOffset::east_opt(0).unwrap(),
            reload_interval: Duration::ZERO,
            catch_up_window: Duration::from_secs(300),
        },
        avni_int_shared::metrics::Metrics::new().unwrap(),
    )
}

fn probe_catalog() -> Vec<ModuleSpec> {
    vec![ModuleSpec::tenant_config(probe::name(), probe::SYSTEM_TYPE)]
}

#[tokio::test]
async fn a_cron_fires_and_the_job_runs_to_succeeded() {
    let app = TestApp::new().await;
    let tenant = app
        .add_probe_tenant(&[("main.scheduled.job.cron", EVERY_SECOND)])
        .await;
    let dispatcher = app.start_dispatcher(app.dispatcher_config()).await;
    let worker = app.start_worker(app.worker_config());

    let job = poll::until(
        "a scheduled job to succeed",
        Duration::from_secs(20),
        || async {
            app.jobs(tenant)
                .await
                .into_iter()
                .find(|j| j.state == "succeeded")
        },
    )
    .await;
    assert_eq!(job.trigger, "schedule");
    assert_eq!(job.kind, "regular");
    assert_eq!(job.attempt, 1);
    assert_eq!(job.records_synced, 2, "both probe steps synced one record");
    let runs = app.probe_runs(avni_int_shared::JobId(job.id)).await;
    let steps: Vec<&str> = runs.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(steps, ["first", "second"], "steps run once each, in order");
    assert!(runs.iter().all(|r| r.2 == worker.id.0));
    assert!(job.started_at.unwrap() >= job.scheduled_at);
    assert!(
        dispatcher
            .metrics
            .schedule_fired_total
            .with_label_values(&["probe", "regular"])
            .get()
            >= 1
    );
    worker.stop().await;
    dispatcher.stop().await;
}

#[tokio::test]
async fn an_overlapping_tick_is_skipped_and_counted_never_doubled() {
    let app = TestApp::new().await;
    let tenant = app
        .add_probe_tenant(&[
            ("main.scheduled.job.cron", EVERY_SECOND),
            ("probe.sleep_ms", "2500"),
        ])
        .await;
    let dispatcher = app.start_dispatcher(app.dispatcher_config()).await;
    let worker = app.start_worker(app.worker_config());

    let state = poll::until("a tick to be skipped", Duration::from_secs(20), || async {
        schedule_state::get(app.db.pool(), tenant, &probe::name(), JobKind::Regular)
            .await
            .unwrap()
            .filter(|s| s.skipped_count >= 2)
    })
    .await;
    assert!(state.last_skipped_at.is_some());
    assert!(
        dispatcher
            .metrics
            .schedule_skipped_total
            .with_label_values(&["probe", "overlap"])
            .get()
            >= 2
    );
    worker.stop().await;
    dispatcher.stop().await;
    // Never two jobs alive at once: each job started after the previous one finished.
    let jobs = app.jobs(tenant).await;
    for pair in jobs.windows(2) {
        let (earlier, later) = (&pair[0], &pair[1]);
        if let Some(finished) = earlier.finished_at {
            assert!(
                later.scheduled_at >= finished,
                "job {} was scheduled while job {} was still live",
                later.id,
                earlier.id
            );
        }
    }
}

#[tokio::test]
async fn a_cron_edited_in_the_database_takes_effect_without_restart() {
    let app = TestApp::new().await;
    let tenant = app
        .add_probe_tenant(&[("main.scheduled.job.cron", "-")])
        .await;
    let mut scheduler = scheduler(&app, probe_catalog());
    let t0 = Utc.with_ymd_and_hms(2026, 3, 1, 10, 0, 0).unwrap();

    let report = scheduler.tick_once(t0).await.unwrap();
    assert!(report.fired.is_empty());
    assert!(scheduler.planned().is_empty(), "'-' means off");

    app.set_config(tenant, "main.scheduled.job.cron", "0 */10 * * * *")
        .await;
    scheduler.tick_once(t0).await.unwrap();
    let planned = scheduler.planned();
    assert_eq!(planned.len(), 1);
    assert_eq!(planned[0].1, "0 */10 * * * *");
    assert_eq!(
        planned[0].2,
        Some(Utc.with_ymd_and_hms(2026, 3, 1, 10, 10, 0).unwrap())
    );
    let fired = scheduler
        .tick_once(Utc.with_ymd_and_hms(2026, 3, 1, 10, 10, 0).unwrap())
        .await
        .unwrap();
    assert_eq!(fired.fired.len(), 1);

    // Edited again: the new cron replaces the old one at the next reload.
    app.set_config(tenant, "main.scheduled.job.cron", "0 0 3 * * *")
        .await;
    scheduler
        .tick_once(Utc.with_ymd_and_hms(2026, 3, 1, 10, 11, 0).unwrap())
        .await
        .unwrap();
    assert_eq!(scheduler.planned()[0].1, "0 0 3 * * *");

    // Removed: nothing is planned.
    app.remove_config(tenant, "main.scheduled.job.cron").await;
    scheduler
        .tick_once(Utc.with_ymd_and_hms(2026, 3, 1, 10, 12, 0).unwrap())
        .await
        .unwrap();
    assert!(scheduler.planned().is_empty());
}

#[tokio::test]
async fn a_running_dispatcher_picks_up_a_new_tenant_and_a_changed_cron() {
    let app = TestApp::new().await;
    let dispatcher = app.start_dispatcher(app.dispatcher_config()).await;
    let worker = app.start_worker(app.worker_config());
    // Added after the dispatcher started.
    let tenant = app
        .add_probe_tenant(&[("error.scheduled.job.cron", EVERY_SECOND)])
        .await;
    let job = poll::until(
        "the new tenant's error job",
        Duration::from_secs(20),
        || async {
            app.jobs(tenant)
                .await
                .into_iter()
                .find(|j| j.kind == "error" && j.state == "succeeded")
        },
    )
    .await;
    let runs = app.probe_runs(avni_int_shared::JobId(job.id)).await;
    assert_eq!(
        runs[0].0, "retry",
        "error jobs run the module's error steps"
    );
    worker.stop().await;
    dispatcher.stop().await;
}

#[tokio::test]
async fn a_tenant_whose_int_env_differs_is_never_scheduled() {
    let app = TestApp::new().await;
    let elsewhere = app
        .add_tenant(
            "prod-copy",
            probe::SYSTEM_TYPE,
            &[
                ("int_env", "prod"),
                ("main.scheduled.job.cron", EVERY_SECOND),
                ("error.scheduled.job.cron", EVERY_SECOND),
            ],
        )
        .await;
    let no_env = app
        .add_tenant(
            "no-env",
            probe::SYSTEM_TYPE,
            &[("main.scheduled.job.cron", EVERY_SECOND)],
        )
        .await;
    let here = app
        .add_probe_tenant(&[("main.scheduled.job.cron", EVERY_SECOND)])
        .await;
    let mut scheduler = scheduler(&app, probe_catalog());
    let t0 = Utc.with_ymd_and_hms(2026, 3, 1, 10, 0, 0).unwrap();
    for second in 0..5 {
        scheduler
            .tick_once(t0 + chrono::Duration::seconds(second))
            .await
            .unwrap();
    }
    assert!(app.jobs(elsewhere).await.is_empty());
    assert!(app.jobs(no_env).await.is_empty());
    assert_eq!(
        app.jobs(here).await.len(),
        1,
        "the matching tenant is scheduled (once: its job stays live)"
    );
    let planned: Vec<_> = scheduler
        .planned()
        .into_iter()
        .map(|p| p.0.tenant)
        .collect();
    assert_eq!(planned, [here]);
}

#[tokio::test]
async fn env_configured_modules_schedule_every_tenant_of_their_type_without_the_guard() {
    let app = TestApp::new().await;
    let tenant = app.add_tenant("Amrit-like", probe::SYSTEM_TYPE, &[]).await;
    let spec = ModuleSpec {
        module: probe::name(),
        system_type: probe::SYSTEM_TYPE.to_owned(),
        crons: CronSource::Env {
            main: Some("0 0 * * * *".to_owned()),
            error: Some("-".to_owned()),
        },
    };
    let mut scheduler = scheduler(&app, vec![spec]);
    scheduler
        .tick_once(Utc.with_ymd_and_hms(2026, 3, 1, 9, 59, 0).unwrap())
        .await
        .unwrap();
    let report = scheduler
        .tick_once(Utc.with_ymd_and_hms(2026, 3, 1, 10, 0, 0).unwrap())
        .await
        .unwrap();
    assert_eq!(report.fired.len(), 1);
    assert_eq!(report.fired[0].0.tenant, tenant);
    assert_eq!(report.fired[0].0.kind, JobKind::Regular);
}

#[tokio::test]
async fn a_job_out_of_time_checkpoints_and_continues_as_a_new_job() {
    let app = TestApp::new().await;
    let tenant = app.add_probe_tenant(&[("probe.segments", "3")]).await;
    let dispatcher = app.start_dispatcher(app.dispatcher_config()).await;
    let mut config = app.worker_config();
    config.time_budget = Duration::ZERO;
    let worker = app.start_worker(config);

    let first = app.enqueue(tenant, JobKind::Regular).await;
    let chain = poll::until(
        "the chain of continuations to finish",
        Duration::from_secs(20),
        || async {
            let jobs = app.jobs(tenant).await;
            (jobs.len() == 4 && jobs.iter().all(|j| j.state == "succeeded")).then_some(jobs)
        },
    )
    .await;
    assert_eq!(chain[0].id, first.0);
    assert_eq!(chain[1].trigger, "continuation");
    assert_eq!(chain[1].parent_job_id, Some(chain[0].id));
    assert_eq!(chain[3].parent_job_id, Some(chain[2].id));
    assert_eq!(chain[1].resume_step.as_deref(), Some("second"));
    // With no budget left after a step, the first job ran "first" only; each continuation
    // resumed at "second" and did one segment.
    let first_steps: Vec<String> = app
        .probe_runs(first)
        .await
        .into_iter()
        .map(|r| r.0)
        .collect();
    assert_eq!(first_steps, ["first"]);
    let steps: Vec<String> = app
        .probe_runs(avni_int_shared::JobId(chain[3].id))
        .await
        .into_iter()
        .map(|r| r.0)
        .collect();
    assert_eq!(steps, ["second"]);
    let mut conn = app.db.pool().acquire().await.unwrap();
    let cursor = avni_int_shared::store::cursors::load(&mut conn, tenant, "ProbeSegment")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(cursor.numeric, Some(3), "every segment done exactly once");
    worker.stop().await;
    dispatcher.stop().await;
}
