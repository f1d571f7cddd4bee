//! The fleet's admin additions: job history, run now, pausing a module's schedules and queue
//! depths, as ops use them through `/int`, and scoped to the caller's tenant.

use avni_int_shared::broker::Publisher;
use avni_int_shared::store::schedule_state;
use avni_int_shared::{IntegrationSystemId, JobId, JobKind};
use avni_int_tests::fleet::TestApp;
use avni_int_tests::{poll, probe};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::Duration;

const EVERY_SECOND: &str = "* * * * * *";

/// A finished job written straight into the ledger, `day` in January 2026.
async fn past_job(
    app: &TestApp,
    tenant: IntegrationSystemId,
    kind: &str,
    state: &str,
    day: u32,
) -> i64 {
    sqlx::query_scalar(
        "INSERT INTO int_job (integration_system_id, module, kind, trigger, state, attempt,
                              scheduled_at, started_at, finished_at, records_synced, last_error)
         VALUES ($1, 'probe', $2, 'schedule', $3, 1,
                 make_timestamptz(2026, 1, $4, 10, 0, 0, 'UTC'),
                 make_timestamptz(2026, 1, $4, 10, 0, 1, 'UTC'),
                 make_timestamptz(2026, 1, $4, 10, 0, 3.5, 'UTC'), 7,
                 CASE WHEN $3 = 'failed' THEN 'boom' END)
         RETURNING id",
    )
    .bind(tenant)
    .bind(kind)
    .bind(state)
    .bind(day as i32)
    .fetch_one(app.db.pool())
    .await
    .unwrap()
}

fn ids(page: &Value) -> Vec<i64> {
    page["content"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["id"].as_i64().unwrap())
        .collect()
}

#[tokio::test]
async fn admin_jobs_history_pages_filters_and_stays_in_its_tenant() {
    let app = TestApp::new().await;
    let tenant = app.add_probe_tenant(&[]).await;
    let other = app.add_probe_tenant(&[]).await;
    let first = past_job(&app, tenant, "regular", "succeeded", 1).await;
    let second = past_job(&app, tenant, "error", "failed", 2).await;
    let third = past_job(&app, tenant, "regular", "dead", 3).await;
    let foreign = past_job(&app, other, "regular", "succeeded", 2).await;
    let (dispatcher, client) = app.admin_session(tenant).await;

    let (status, page) = client.get("/int/jobs?page=0&size=2").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["totalElements"], 3);
    assert_eq!(page["totalPages"], 2);
    assert_eq!(ids(&page), [third, second], "newest first");
    let (_, rest) = client.get("/int/jobs?page=1&size=2").await;
    assert_eq!(ids(&rest), [first]);

    let (_, one) = client.get(&format!("/int/jobs/{second}")).await;
    let expected = json!({
        "id": second, "module": "probe", "kind": "error", "trigger": "schedule",
        "state": "failed", "attempt": 1, "parentJobId": null,
        "scheduledAt": "2026-01-02T10:00:00Z", "queuedAt": null,
        "startedAt": "2026-01-02T10:00:01Z", "finishedAt": "2026-01-02T10:00:03.500Z",
        "durationMs": 2500, "recordsSynced": 7, "recordsFailed": 0, "lastError": "boom",
        "leaseOwner": null,
    });
    let keys = |v: &Value| {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(keys(&one), keys(&expected), "{one}");
    for field in [
        "id",
        "kind",
        "state",
        "durationMs",
        "recordsSynced",
        "lastError",
    ] {
        assert_eq!(one[field], expected[field], "{field}");
    }

    for (query, expected) in [
        ("kind=error", vec![second]),
        ("state=dead", vec![third]),
        ("module=probe&kind=regular", vec![third, first]),
        ("startDate=2026-01-02&endDate=2026-01-02", vec![second]),
        ("startDate=2026-01-02", vec![third, second]),
        ("endDate=2026-01-01", vec![first]),
        ("sort=id,ASC", vec![first, second, third]),
        ("sort=state,ASC", vec![third, second, first]),
    ] {
        let (status, page) = client.get(&format!("/int/jobs?{query}")).await;
        assert_eq!(status, StatusCode::OK, "{query}: {page}");
        assert_eq!(ids(&page), expected, "{query}");
    }
    for (query, field) in [
        ("module=nosuch", "module"),
        ("kind=weekly", "kind"),
        ("state=done", "state"),
        ("startDate=02-01-2026", "startDate"),
        ("endDate=yesterday", "endDate"),
        ("sort=lastError,ASC", "sort"),
    ] {
        let (status, body) = client.get(&format!("/int/jobs?{query}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert!(body.get(field).is_some(), "{query} names {field}: {body}");
    }

    // Another tenant's jobs are invisible, by list or by id.
    let (_, page) = client.get("/int/jobs?size=50").await;
    assert!(!ids(&page).contains(&foreign));
    let (status, _) = client.get(&format!("/int/jobs/{foreign}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = client.get("/int/jobs/999999").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    dispatcher.stop().await;
}

#[tokio::test]
async fn admin_jobs_run_now_is_run_by_a_worker_and_a_second_press_is_409() {
    let app = TestApp::new().await;
    let tenant = app.add_probe_tenant(&[("probe.sleep_ms", "1500")]).await;
    let (dispatcher, client) = app.admin_session(tenant).await;
    let worker = app.start_worker(app.worker_config());

    let (status, body) = client
        .post(
            "/int/jobs/run",
            &json!({"module": "probe", "kind": "regular"}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let job = body["job"].as_i64().unwrap();

    let (status, body) = client
        .post(
            "/int/jobs/run",
            &json!({"module": "probe", "kind": "regular"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["job"], job, "the live job is named");
    assert_eq!(
        body["error"],
        "a regular job of probe is already scheduled/queued/running"
    );

    let row = app
        .job_reaches(JobId(job), "succeeded", Duration::from_secs(30))
        .await;
    assert_eq!(row.trigger, "manual");
    assert_eq!(row.lease_owner.as_deref(), None);
    let (_, seen) = client.get(&format!("/int/jobs/{job}")).await;
    assert_eq!(seen["state"], "succeeded");
    assert_eq!(seen["trigger"], "manual");

    // Once it finished, run now works again; the error kind is independent.
    let (status, body) = client
        .post(
            "/int/jobs/run",
            &json!({"module": "probe", "kind": "error"}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");

    for (body, field) in [
        (json!({"module": "goonj", "kind": "regular"}), "module"),
        (json!({"module": "Probe!", "kind": "regular"}), "module"),
        (json!({"module": "probe", "kind": "weekly"}), "kind"),
        (json!({"kind": "regular"}), "module"),
    ] {
        let (status, answer) = client.post("/int/jobs/run", &body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
        assert!(
            answer.get(field).is_some(),
            "{body} names {field}: {answer}"
        );
    }
    worker.stop().await;
    dispatcher.stop().await;
}

#[tokio::test]
async fn admin_jobs_a_paused_module_skips_its_ticks_until_resumed() {
    let app = TestApp::new().await;
    // No cron yet: the pause goes in before the first tick could fire.
    let tenant = app.add_probe_tenant(&[]).await;
    let neighbour = app.add_probe_tenant(&[]).await;
    let (dispatcher, client) = app.admin_session(tenant).await;
    let (_, me) = client.get("/int/currentUser").await;

    let (status, module) = client.post("/int/modules/probe/pause", &json!({})).await;
    assert_eq!(status, StatusCode::OK, "{module}");
    assert_eq!(module["paused"], true);
    assert_eq!(module["pausedBy"], me["email"]);
    assert!(module["pausedAt"].is_string());
    app.set_config(tenant, "main.scheduled.job.cron", EVERY_SECOND)
        .await;
    app.set_config(tenant, "error.scheduled.job.cron", EVERY_SECOND)
        .await;

    let pool = app.db.pool();
    poll::until(
        "ticks of both kinds to be skipped as paused",
        Duration::from_secs(20),
        || async {
            let mut counts = Vec::new();
            for kind in [JobKind::Regular, JobKind::Error] {
                let state = schedule_state::get(pool, tenant, &probe::name(), kind)
                    .await
                    .unwrap();
                counts.push(state.map(|s| s.skipped_count).unwrap_or(0));
            }
            counts.iter().all(|c| *c >= 2).then_some(())
        },
    )
    .await;
    assert!(
        app.jobs(tenant).await.is_empty(),
        "nothing fired while paused"
    );
    assert!(
        dispatcher
            .metrics
            .schedule_skipped_total
            .with_label_values(&["probe", "paused"])
            .get()
            >= 4
    );
    let (_, modules) = client.get("/int/modules").await;
    let probe_state = &modules.as_array().unwrap()[0];
    assert_eq!(probe_state["module"], "probe");
    assert_eq!(probe_state["paused"], true);
    assert_eq!(probe_state["skipReason"], "paused");
    assert_eq!(probe_state["regularCron"], EVERY_SECOND);
    assert_eq!(probe_state["errorCron"], EVERY_SECOND);
    assert!(probe_state["regularSkippedCount"].as_i64().unwrap() >= 2);
    assert!(probe_state["regularLastFiredAt"].is_string());

    // The pause is this tenant's only: the neighbour's probe module is not paused.
    let (other_dispatcher, other_client) = app.admin_session(neighbour).await;
    let (_, theirs) = other_client.get("/int/modules").await;
    assert_eq!(theirs[0]["paused"], false, "{theirs}");

    // Run now of a paused module is explicit, so it is allowed.
    let (status, body) = client
        .post(
            "/int/jobs/run",
            &json!({"module": "probe", "kind": "regular"}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let manual = body["job"].as_i64().unwrap();

    let (status, module) = client.post("/int/modules/probe/resume", &json!({})).await;
    assert_eq!(status, StatusCode::OK, "{module}");
    assert_eq!(module["paused"], false);
    assert_eq!(module["skipReason"], Value::Null);
    let worker = app.start_worker(app.worker_config());
    let fired = poll::until(
        "a scheduled job after resume",
        Duration::from_secs(20),
        || async {
            app.jobs(tenant)
                .await
                .into_iter()
                .find(|j| j.trigger == "schedule")
        },
    )
    .await;
    assert!(fired.id > manual);
    worker.stop().await;
    other_dispatcher.stop().await;
    dispatcher.stop().await;
}

#[tokio::test]
async fn admin_jobs_modules_are_per_tenant_and_foreign_modules_cannot_be_paused() {
    let app = TestApp::new().await;
    let probe_tenant = app
        .add_probe_tenant(&[("main.scheduled.job.cron", "0 0 3 * * *")])
        .await;
    let goonj = app.add_tenant("Goonj test", "Goonj", &[]).await;
    let (dispatcher, client) = app.admin_session(goonj).await;

    // The test fleet's catalog has only the probe module: a Goonj tenant has none here.
    let (status, modules) = client.get("/int/modules").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(modules, json!([]));
    for path in [
        "/int/modules/probe/pause",
        "/int/modules/probe/resume",
        "/int/modules/no_such_module/pause",
    ] {
        let (status, body) = client.post(path, &json!({})).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
    }
    let (status, body) = client
        .post(
            "/int/jobs/run",
            &json!({"module": "probe", "kind": "regular"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.get("module").is_some());
    let pauses: i64 = sqlx::query_scalar("SELECT count(*) FROM int_module_pause")
        .fetch_one(app.db.pool())
        .await
        .unwrap();
    assert_eq!(pauses, 0);

    let (probe_dispatcher, probe_client) = app.admin_session(probe_tenant).await;
    let (_, modules) = probe_client.get("/int/modules").await;
    assert_eq!(modules.as_array().unwrap().len(), 1);
    assert_eq!(modules[0]["module"], "probe");
    assert_eq!(modules[0]["paused"], false);
    assert_eq!(modules[0]["regularCron"], "0 0 3 * * *");
    assert_eq!(modules[0]["errorCron"], Value::Null);
    probe_dispatcher.stop().await;
    dispatcher.stop().await;
}

#[tokio::test]
async fn admin_jobs_queue_depths_match_what_waits_and_count_dead_letters() {
    let app = TestApp::new().await;
    let tenant = app.add_probe_tenant(&[]).await;
    let (dispatcher, client) = app.admin_session(tenant).await;
    let topology = &app.broker.topology;

    // No worker consumes: what is published stays in the queues.
    let connection = app.broker.connect().await;
    let publisher = Publisher::open(&connection, topology.exchange())
        .await
        .unwrap();
    let message = br#"{"not":"a job"}"#.as_slice();
    let results = publisher.publish_all(&[("probe.error", message); 3]).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let dead = Publisher::open(&connection, topology.dead_letter_exchange())
        .await
        .unwrap();
    let results = dead.publish_all(&[("", message); 2]).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let _ = connection.close(200, "done".into()).await;

    let error_queue = topology.queue(&probe::name(), JobKind::Error);
    let regular_queue = topology.queue(&probe::name(), JobKind::Regular);
    let dead_queue = topology.dead_letter_queue();
    let rows = poll::until("depths to show", Duration::from_secs(10), || async {
        let (status, rows) = client.get("/int/queues").await;
        assert_eq!(status, StatusCode::OK, "{rows}");
        let find = |name: &str| {
            rows.as_array()
                .unwrap()
                .iter()
                .find(|r| r["queue"] == name)
                .cloned()
        };
        let settled = find(&error_queue)?["messages"] == 3 && find(&dead_queue)?["messages"] == 2;
        settled.then_some(rows)
    })
    .await;
    let rows = rows.as_array().unwrap();
    assert_eq!(
        rows.len(),
        3,
        "two probe queues and the dead letters: {rows:?}"
    );
    let error = rows
        .iter()
        .find(|r| r["queue"] == error_queue.as_str())
        .unwrap();
    assert_eq!(error["module"], "probe");
    assert_eq!(error["kind"], "error");
    assert_eq!(error["consumers"], 0);
    assert_eq!(error["deadLetter"], false);
    let regular = rows
        .iter()
        .find(|r| r["queue"] == regular_queue.as_str())
        .unwrap();
    assert_eq!(regular["messages"], 0);
    let dead = rows
        .iter()
        .find(|r| r["queue"] == dead_queue.as_str())
        .unwrap();
    assert_eq!(dead["deadLetter"], true);
    assert_eq!(dead["messages"], 2);
    dispatcher.stop().await;
}

#[tokio::test]
async fn admin_jobs_queue_page_is_503_when_the_broker_is_unreachable() {
    let app = TestApp::new().await;
    let tenant = app.add_probe_tenant(&[]).await;
    let mut config = app.dispatcher_config();
    // A port nothing listens on: the dispatcher's own broker tasks retry; the page answers.
    config.amqp_url = "amqp://guest:guest@127.0.0.1:1/%2f".to_owned();
    let dispatcher = app.start_dispatcher(config).await;
    let client = avni_int_tests::admin_client::AdminClient::new(dispatcher.admin.unwrap());
    app.add_user("ops-503@example.org", "secret", tenant).await;
    client.login("ops-503@example.org", "secret").await;
    let (status, body) = client.get("/int/queues").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .starts_with("RabbitMQ unreachable: "),
        "{body}"
    );
    dispatcher.stop().await;
}
