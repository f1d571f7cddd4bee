//! What ops see from outside: healthchecks.io pings in order, Bugsnag for unclassified failures.

use crate::TEST_WORKER;
use avni_int_shared::JobKind;
use avni_int_tests::fleet::{TestApp, PING_KEY};
use avni_int_tests::poll;
use std::time::Duration;

#[tokio::test]
async fn healthcheck_pings_arrive_in_order_start_then_success_or_fail() {
    let app = TestApp::new().await;
    let good = app.add_probe_tenant(&[("probe.slug", "probe-good")]).await;
    let bad = app
        .add_probe_tenant(&[("probe.slug", "probe-bad"), ("probe.fail", "yes")])
        .await;
    let silent = app.add_probe_tenant(&[]).await;
    let dispatcher = app.start_dispatcher(app.dispatcher_config()).await;
    let worker = app.start_worker(app.worker_config());

    for tenant in [good, bad, silent] {
        let job = app.enqueue(tenant, JobKind::Regular).await;
        poll::until("the job to end", Duration::from_secs(20), || async {
            let state = app.job(job).await.state;
            (state == "succeeded" || state == "failed").then_some(())
        })
        .await;
    }
    let paths = poll::until("four pings", Duration::from_secs(10), || async {
        let paths = app.healthchecks.paths();
        (paths.len() >= 4).then_some(paths)
    })
    .await;
    let of = |slug: &str| -> Vec<String> {
        paths
            .iter()
            .filter(|p| p.contains(&format!("/{slug}")))
            .cloned()
            .collect()
    };
    assert_eq!(
        of("probe-good"),
        [
            format!("/{PING_KEY}/probe-good/start"),
            format!("/{PING_KEY}/probe-good")
        ]
    );
    assert_eq!(
        of("probe-bad"),
        [
            format!("/{PING_KEY}/probe-bad/start"),
            format!("/{PING_KEY}/probe-bad/fail")
        ]
    );
    assert_eq!(paths.len(), 4, "a module without a slug pings nothing");

    // The failed run went to Bugsnag with its context; the successful ones did not.
    let notices = poll::until("a bugsnag notice", Duration::from_secs(10), || async {
        let got = app.bugsnag.received();
        (!got.is_empty()).then_some(got)
    })
    .await;
    assert_eq!(notices.len(), 1);
    assert_eq!(notices[0].path, "/notify");
    assert_eq!(
        notices[0].headers.get("Bugsnag-Api-Key").unwrap(),
        "test-bugsnag-key"
    );
    let body: serde_json::Value = serde_json::from_slice(&notices[0].body).unwrap();
    assert_eq!(body["payloadVersion"], "5");
    let event = &body["events"][0];
    assert_eq!(event["app"]["releaseStage"], "prod");
    assert_eq!(
        event["exceptions"][0]["message"],
        "first: probe failure requested"
    );
    assert_eq!(event["metaData"]["job"]["integrationSystemId"], bad.0);
    worker.stop().await;
    dispatcher.stop().await;
}

#[tokio::test]
async fn an_unreachable_ping_server_never_fails_a_job() {
    let app = TestApp::new().await;
    let tenant = app.add_probe_tenant(&[("probe.slug", "probe-x")]).await;
    let dispatcher = app.start_dispatcher(app.dispatcher_config()).await;
    let mut config = app.worker_config();
    // Nothing listens on port 9 (discard) here.
    config.healthcheck.base_url = "http://127.0.0.1:9".to_owned();
    config.bugsnag.endpoint = "http://127.0.0.1:9/".to_owned();
    let worker = app.start_worker(config);
    let job = app.enqueue(tenant, JobKind::Regular).await;
    app.job_reaches(job, "succeeded", Duration::from_secs(20))
        .await;
    worker.stop().await;
    dispatcher.stop().await;
}

#[tokio::test]
async fn worker_modules_limits_what_a_worker_serves_and_refuses_unknown_names() {
    let app = TestApp::new().await;
    // Bounded: a worker that accepted the list would run until stopped.
    let output = tokio::time::timeout(
        Duration::from_secs(30),
        tokio::process::Command::new(TEST_WORKER)
            .env_clear()
            .envs(app.worker_process_env("picky"))
            .env("WORKER_MODULES", "probe,bahmni")
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("the worker refuses to start instead of running")
    .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("bahmni"),
        "the unknown module is named: {stderr}"
    );
    let help = tokio::process::Command::new(TEST_WORKER)
        .arg("--help")
        .output()
        .await
        .unwrap();
    assert!(help.status.success());
    assert!(String::from_utf8_lossy(&help.stdout).contains("WORKER_MODULES"));
}
