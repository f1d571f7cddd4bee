//! `/metrics` after real runs: the counters moved by exactly what happened, the queue gauges
//! match what the broker holds, and `/healthz` / `/readyz` answer as probes expect.

use avni_int_shared::JobKind;
use avni_int_tests::fleet::TestApp;
use avni_int_tests::goonj_world::{goonj, reqwest_client, world};
use avni_int_tests::poll;
use avni_int_worker::goonj::Goonj;
use avni_int_worker::module::Registry;
use serde_json::json;
use std::net::SocketAddr;
use std::time::Duration;

async fn scrape(addr: SocketAddr) -> String {
    reqwest::get(format!("http://{addr}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// The value of the sample `name{labels}` (labels in the order Prometheus prints them), or 0.
fn sample(text: &str, name: &str, labels: &str) -> f64 {
    let prefix = if labels.is_empty() {
        format!("{name} ")
    } else {
        format!("{name}{{{labels}}} ")
    };
    text.lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .map(|v| v.trim().parse().unwrap())
        .unwrap_or(0.0)
}

/// The sum of every sample of `name` whose labels contain `having`.
fn sum(text: &str, name: &str, having: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")) && l.contains(having))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test]
async fn metrics_count_records_errors_partner_calls_and_jobs_of_a_goonj_run() {
    let w = world("GoonjDemand").await;
    let start = chrono::Utc::now() - chrono::Duration::days(2);
    w.salesforce.seed_demands(7, start);
    w.salesforce.seed_demand(json!({
        "DemandId": "a0B000000000BLANK", "DemandName": "No address", "State": "", "District": "",
        "IsVoided": "false", "LastUpdatedDateTime": (start + chrono::Duration::hours(1)).to_rfc3339(),
    }));
    let dispatcher = w.app.start_dispatcher(w.app.dispatcher_config()).await;
    let registry =
        Registry::new().with(Goonj::module(reqwest_client(), Duration::from_secs(3600)).unwrap());
    let worker = w.app.start_worker_with(w.app.worker_config(), registry);
    let probes = worker.probes.unwrap();
    let job = w.app.enqueue_for(w.tenant, goonj(), JobKind::Regular).await;
    w.app
        .job_reaches(job, "succeeded", Duration::from_secs(60))
        .await;

    let text = scrape(probes).await;
    assert_eq!(
        sample(
            &text,
            "avni_int_records_synced_total",
            r#"direction="to_avni",module="goonj",step="GoonjDemand""#
        ),
        7.0,
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            "avni_int_classified_errors_total",
            r#"error_type="InvalidAddressError",module="goonj""#
        ),
        1.0
    );
    assert_eq!(
        sample(
            &text,
            "avni_int_jobs_total",
            r#"kind="regular",module="goonj",outcome="succeeded""#
        ),
        1.0
    );
    // 7 subjects written plus the reads and login: every call is counted, none failed.
    assert!(sum(&text, "avni_int_http_requests_total", r#"target="avni""#) >= 7.0);
    assert!(
        sum(
            &text,
            "avni_int_http_requests_total",
            r#"target="salesforce""#
        ) >= 1.0
    );
    assert_eq!(
        sum(
            &text,
            "avni_int_http_requests_total",
            r#"status_class="5xx""#
        ),
        0.0
    );
    assert_eq!(sample(&text, "avni_int_job_lag_seconds_count", ""), 1.0);

    let ready = reqwest::get(format!("http://{probes}/readyz"))
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    let dispatcher_ready = reqwest::get(format!("http://{}/readyz", dispatcher.admin.unwrap()))
        .await
        .unwrap();
    assert_eq!(dispatcher_ready.status(), 200);
    worker.stop().await;
    dispatcher.stop().await;
}

#[tokio::test]
async fn metrics_queue_depth_matches_the_broker_and_dead_letters_are_counted() {
    let app = TestApp::new().await;
    let tenant = app.add_probe_tenant(&[]).await;
    // Three jobs of three tenants wait in the queue: no worker runs.
    app.enqueue(tenant, JobKind::Regular).await;
    app.enqueue(app.add_probe_tenant(&[]).await, JobKind::Regular)
        .await;
    app.enqueue(app.add_probe_tenant(&[]).await, JobKind::Regular)
        .await;
    app.broker.publish_to_dead_letters(b"poison").await;
    let dispatcher = app.start_dispatcher(app.dispatcher_config()).await;
    let admin = dispatcher.admin.unwrap();
    let queue = app
        .broker
        .topology
        .queue(&avni_int_tests::probe::name(), JobKind::Regular);
    let text = poll::until(
        "the gauges to show 3 waiting jobs and an empty outbox (the sampler reads the outbox first)",
        Duration::from_secs(20),
        || async {
            let text = scrape(admin).await;
            let waiting = sample(
                &text,
                "avni_int_queue_depth",
                &format!(r#"queue="{queue}""#),
            );
            let backlog = sample(&text, "avni_int_outbox_backlog", "");
            (waiting == 3.0 && backlog == 0.0).then_some(text)
        },
    )
    .await;
    assert_eq!(app.broker.depth(&queue).await, 3, "the broker agrees");
    assert_eq!(sample(&text, "avni_int_dead_letters", ""), 1.0);
    assert_eq!(
        sample(&text, "avni_int_broker_connected", r#"component="relay""#),
        1.0
    );
    let healthz = reqwest::get(format!("http://{admin}/healthz"))
        .await
        .unwrap();
    assert_eq!(healthz.status(), 200);
    dispatcher.stop().await;
}
