//! Goonj ad-hoc tasks end to end (contracts/goonj.md §7): the `/goonj` API with the original's
//! messages, tasks stored and fired once by the leader's firer at their trigger (across a
//! dispatcher restart, never when deleted), a job that runs only the task from its cut-off with
//! its filters and moves no cursor, and the task's final status.

use avni_int_dispatcher::adhoc::{AdhocConfig, AdhocFirer};
use avni_int_shared::store::adhoc_tasks::ist_wall_clock;
use avni_int_shared::store::cursors::{self, Cursor};
use avni_int_shared::store::Store;
use avni_int_tests::admin_client::AdminClient;
use avni_int_tests::fleet::{TestApp, INT_ENV, PING_KEY};
use avni_int_tests::goonj_world::{goonj, reqwest_client, world, GoonjWorld};
use avni_int_tests::sim::avni::SeedSubject;
use avni_int_tests::sim::faults::FaultPlan;
use avni_int_worker::goonj::Goonj;
use avni_int_worker::module::Registry;
use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use reqwest::StatusCode;
use serde_json::{json, Value};

/// `yyyy-MM-dd HH:mm:ss`, IST, as the API takes times.
fn ist(t: DateTime<Utc>) -> String {
    ist_wall_clock(t).format("%Y-%m-%d %H:%M:%S").to_string()
}

fn firer(app: &TestApp, int_env: &str) -> AdhocFirer {
    AdhocFirer::build(
        Store::from_pool(app.db.pool().clone()),
        AdhocConfig {
            module: goonj(),
            int_env: Some(int_env.to_owned()),
            interval: std::time::Duration::from_secs(1),
        },
    )
}

/// Creates a task triggered an hour from now; returns its uuid.
async fn create(client: &AdminClient, task: &str, config: Value, cut_off: DateTime<Utc>) -> String {
    let mut body = json!({
        "task": task,
        "triggerDateTime": ist(Utc::now() + Duration::hours(1)),
        "cutOffDateTime": ist(cut_off),
    });
    if !config.is_null() {
        body["taskConfig"] = config;
    }
    let (status, created) = client.post("/goonj/v1/task", &body).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    created["uuid"].as_str().unwrap().to_owned()
}

/// (id, status, job_id) of a task.
async fn task_row(app: &TestApp, uuid: &str) -> (i32, String, Option<i64>) {
    sqlx::query_as("SELECT id, status, job_id FROM goonj_adhoc_task WHERE uuid = $1")
        .bind(uuid)
        .fetch_one(app.db.pool())
        .await
        .unwrap()
}

/// (state, last_error) of the jobs that ran the task.
async fn task_jobs(app: &TestApp, id: i32) -> Vec<(String, Option<String>)> {
    sqlx::query_as("SELECT state, last_error FROM int_job WHERE adhoc_task_id = $1 ORDER BY id")
        .bind(id)
        .fetch_all(app.db.pool())
        .await
        .unwrap()
}

/// Fires the world's due tasks as the leader would at `at`, runs their jobs with a Goonj worker
/// (the session's dispatcher relays them) and returns the task's final status.
async fn fire_and_run(w: &GoonjWorld, uuid: &str, at: DateTime<Utc>) -> String {
    assert_eq!(firer(&w.app, INT_ENV).fire_once(at).await.unwrap(), 1);
    let registry = Registry::new()
        .with(Goonj::module(reqwest_client(), std::time::Duration::from_secs(3600)).unwrap());
    let worker = w.app.start_worker_with(w.app.worker_config(), registry);
    let (id, _, _) = task_row(&w.app, uuid).await;
    let status = avni_int_tests::poll::until(
        "the ad-hoc job to end",
        std::time::Duration::from_secs(60),
        || async {
            let (_, status, _) = task_row(&w.app, uuid).await;
            let jobs = task_jobs(&w.app, id).await;
            let ended = !jobs.is_empty()
                && jobs
                    .iter()
                    .all(|(state, _)| state == "succeeded" || state == "failed");
            (status != "CREATED" && ended).then_some(status)
        },
    )
    .await;
    worker.stop().await;
    status
}

async fn cursor(
    app: &TestApp,
    tenant: avni_int_shared::IntegrationSystemId,
    entity: &str,
) -> Option<Cursor> {
    let mut conn = app.db.pool().acquire().await.unwrap();
    cursors::load(&mut conn, tenant, entity).await.unwrap()
}

#[tokio::test]
async fn goonj_adhoc_api_validates_with_the_original_messages() {
    let w = world("GoonjDemand").await;
    let (_dispatcher, client) = w.app.admin_session(w.tenant).await;

    let (status, types) = client.get("/goonj/tasktype").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        types,
        json!([
            "GoonjDemand",
            "GoonjDispatch",
            "AvniActivity",
            "AvniDispatchReceipt",
            "AvniDistribution",
            "GoonjInventory"
        ])
    );

    let (status, body) = client.post("/goonj/v1/task", &json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({"task": "task can't be null or blank",
               "triggerDateTime": "frequency can't be null or blank",
               "cutOffDateTime": "cutoffdatetime can't be null or blank"})
    );
    let now = ist(Utc::now());
    let (status, body) = client
        .post(
            "/goonj/v1/task",
            &json!({"task": " ", "triggerDateTime": now, "cutOffDateTime": now}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body, json!({"task": "task can't be null or blank"}));

    let far = ist(Utc::now() + Duration::days(3));
    let (status, body) = client
        .post(
            "/goonj/v1/task",
            &json!({"task": "None", "triggerDateTime": far, "cutOffDateTime": now}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({"messages": "Trigger DateTime should be within range of +/- 1 day & None is not valid task",
               "httpStatus": "BAD_REQUEST", "path": "/goonj/v1/task"})
    );
    for (task, config, allowed) in [
        (
            "GoonjDispatch",
            json!({"state": "Bihar", "district": "Patna"}),
            "[state, account]",
        ),
        (
            "AvniDistribution",
            json!({"state": "Bihar"}),
            "[concepts, locationIds]",
        ),
    ] {
        let (status, body) = client
            .post(
                "/goonj/v1/task",
                &json!({"task": task, "taskConfig": config, "triggerDateTime": now,
                        "cutOffDateTime": now}),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{task}");
        assert_eq!(
            body["messages"],
            format!("please enter valid task config value from {allowed}")
        );
    }
    let (status, body) = client
        .post(
            "/goonj/v1/task",
            &json!({"task": "GoonjDemand", "triggerDateTime": "tomorrow", "cutOffDateTime": now}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["triggerDateTime"].is_string(), "{body}");

    // A valid task: stored, listed, readable; others' tasks are not visible.
    let (status, created) = client
        .post(
            "/goonj/v1/task",
            &json!({"task": "GoonjDemand", "taskConfig": {"state": "Bihar"},
                    "triggerDateTime": now, "cutOffDateTime": "2024-01-01 00:00:00"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["is_voided"], false);
    assert_eq!(created["status"], "CREATED");
    assert_eq!(created["task"], "GoonjDemand");
    assert_eq!(created["taskConfig"], json!({"state": "Bihar"}));
    assert_eq!(created["triggerDateTime"], now.as_str());
    assert_eq!(created["cutOffDateTime"], "2024-01-01 00:00:00");
    let uuid = created["uuid"].as_str().unwrap();
    let (status, list) = client.get("/goonj/v1/task").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list, json!([created.clone()]));
    let (status, one) = client.get(&format!("/goonj/v1/task/{uuid}")).await;
    assert_eq!((status, one), (StatusCode::OK, created.clone()));
    let (status, missing) = client.get("/goonj/v1/task/no-such-uuid").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        missing["messages"],
        "There is no Goonj Adhoc Task for: no-such-uuid"
    );

    let other = w.app.add_tenant("Goonj other", "Goonj", &[]).await;
    let (_d2, other_client) = w.app.admin_session(other).await;
    let (status, _) = other_client.get(&format!("/goonj/v1/task/{uuid}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "another tenant's task");
    let (status, _) = other_client.delete(&format!("/goonj/v1/task/{uuid}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(other_client.get("/goonj/v1/task").await.1, json!([]));
}

#[tokio::test]
async fn goonj_adhoc_is_forbidden_unless_the_working_system_is_goonj() {
    let app = TestApp::new().await;
    let tenant = app.add_probe_tenant(&[]).await;
    let (_dispatcher, client) = app.admin_session(tenant).await;
    let now = ist(Utc::now());
    let (status, body) = client
        .post(
            "/goonj/v1/task",
            &json!({"task": "GoonjDemand", "triggerDateTime": now, "cutOffDateTime": now}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        body["messages"],
        "User's working integration system is not a Goonj system"
    );
    assert_eq!(client.get("/goonj/v1/task").await.0, StatusCode::FORBIDDEN);
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM goonj_adhoc_task")
        .fetch_one(app.db.pool())
        .await
        .unwrap();
    assert_eq!(stored, 0);
}

#[tokio::test]
async fn goonj_adhoc_demand_task_runs_at_its_trigger_from_the_cut_off_with_filters_and_no_cursor_moves(
) {
    let w = world("all").await;
    let (_dispatcher, client) = w.app.admin_session(w.tenant).await;
    let old = w.salesforce.seed_demands(4, Utc::now() - Duration::days(3));
    // Places cycle Uttarakhand, Bihar, Maharashtra: one recent demand in Bihar.
    let recent = w
        .salesforce
        .seed_demands(3, Utc::now() - Duration::hours(1));
    let stored_cursor = Cursor {
        date_time: NaiveDateTime::parse_from_str("2030-01-01 00:00:00", "%Y-%m-%d %H:%M:%S").ok(),
        ..Cursor::default()
    };
    {
        let mut conn = w.app.db.pool().acquire().await.unwrap();
        cursors::save(&mut conn, w.tenant, "Demand", &stored_cursor)
            .await
            .unwrap();
    }
    let cut_off = Utc::now() - Duration::hours(2);
    let uuid = create(&client, "GoonjDemand", json!({"state": "Bihar"}), cut_off).await;

    // Not before its trigger.
    let f = firer(&w.app, INT_ENV);
    assert_eq!(f.fire_once(Utc::now()).await.unwrap(), 0);
    assert_eq!(task_row(&w.app, &uuid).await.2, None);

    let status = fire_and_run(&w, &uuid, Utc::now() + Duration::hours(2)).await;
    assert_eq!(status, "COMPLETED");
    assert_eq!(w.avni.subject_count(), 1, "only the recent demand in Bihar");
    assert!(w.avni.subject(&recent[1]).is_some());
    assert!(old.iter().all(|id| w.avni.subject(id).is_none()));
    let fetch = w
        .salesforce
        .recorded()
        .into_iter()
        .find(|r| r.path.contains("getDemands"))
        .expect("demands were read");
    let query = urlencoding::decode(&fetch.query.unwrap_or_default())
        .unwrap()
        .into_owned();
    let expected_ts = ist_wall_clock(cut_off)
        .format("%Y-%m-%dT%H:%M:%S")
        .to_string();
    assert!(
        query.contains(&format!("dateTimestamp={expected_ts}")),
        "{query}"
    );
    assert!(query.contains("state=Bihar"), "{query}");
    assert!(
        !w.salesforce
            .recorded()
            .iter()
            .any(|r| r.path.contains("getDispatches")),
        "only the task's step runs"
    );
    assert_eq!(
        cursor(&w.app, w.tenant, "Demand").await,
        Some(stored_cursor)
    );
    let (id, _, job_id) = task_row(&w.app, &uuid).await;
    assert!(job_id.is_some());
    assert_eq!(task_jobs(&w.app, id).await.len(), 1);

    // Fired once: later passes find nothing to do.
    assert_eq!(
        f.fire_once(Utc::now() + Duration::hours(3)).await.unwrap(),
        0
    );
}

#[tokio::test]
async fn goonj_adhoc_activity_task_reads_avni_from_the_cut_off_in_the_given_locations() {
    let w = world("AvniActivity").await;
    let (_dispatcher, client) = w.app.admin_session(w.tenant).await;
    let activity = |state: &str, district: &str, at: DateTime<Utc>| SeedSubject {
        location: Some((state.into(), district.into())),
        observations: json!({
            "Type of initiative": "CFW",
            "Number of Participants (Male)": 5, "Number of Participants (Female)": 6,
            "Number of Participants (Other)": 0
        })
        .as_object()
        .cloned()
        .unwrap(),
        created_at: Some(at),
        ..SeedSubject::new("Activity")
    };
    let hour_ago = Utc::now() - Duration::hours(1);
    let in_bihar = w.avni.seed_subject(activity("Bihar", "Patna", hour_ago));
    let _in_assam = w.avni.seed_subject(activity("Assam", "Kamrup", hour_ago));
    let _too_old = w
        .avni
        .seed_subject(activity("Bihar", "Patna", Utc::now() - Duration::days(2)));
    let bihar = w.avni.location_uuid("Bihar", None).unwrap();
    let uuid = create(
        &client,
        "AvniActivity",
        json!({"locationIds": [bihar]}),
        Utc::now() - Duration::hours(3),
    )
    .await;

    assert_eq!(
        fire_and_run(&w, &uuid, Utc::now() + Duration::hours(2)).await,
        "COMPLETED"
    );
    let sent: Vec<String> = w
        .salesforce
        .activities()
        .iter()
        .map(|a| a["SourceId"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(sent, [in_bihar]);
    assert_eq!(
        cursor(&w.app, w.tenant, "Activity").await,
        None,
        "no cursor written"
    );
}

#[tokio::test]
async fn goonj_adhoc_deleted_task_never_runs() {
    let w = world("GoonjDemand").await;
    let (_dispatcher, client) = w.app.admin_session(w.tenant).await;
    w.salesforce
        .seed_demands(2, Utc::now() - Duration::hours(1));
    let uuid = create(
        &client,
        "GoonjDemand",
        Value::Null,
        Utc::now() - Duration::days(1),
    )
    .await;

    let response = client
        .http
        .delete(client.url(&format!("/goonj/v1/task/{uuid}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    assert_eq!(response.text().await.unwrap(), "DELETED");

    assert_eq!(
        firer(&w.app, INT_ENV)
            .fire_once(Utc::now() + Duration::hours(2))
            .await
            .unwrap(),
        0
    );
    let (id, status, job_id) = task_row(&w.app, &uuid).await;
    assert_eq!((status.as_str(), job_id), ("CREATED", None));
    assert!(task_jobs(&w.app, id).await.is_empty());
    let (_, one) = client.get(&format!("/goonj/v1/task/{uuid}")).await;
    assert_eq!(one["is_voided"], true);
    assert_eq!(
        client.get("/goonj/v1/task").await.1,
        json!([]),
        "deleted tasks are not listed"
    );
    assert_eq!(w.salesforce.requests(), 0);
}

#[tokio::test]
async fn goonj_adhoc_task_survives_a_dispatcher_restart() {
    let w = world("GoonjDemand").await;
    let (dispatcher, client) = w.app.admin_session(w.tenant).await;
    let uuid = create(
        &client,
        "GoonjDemand",
        Value::Null,
        Utc::now() - Duration::days(1),
    )
    .await;
    dispatcher.stop().await;

    // A new dispatcher's firer, with its own connection pool, finds it in the table.
    let store = Store::connect_lazy(&w.app.db.url, 2).unwrap();
    let fresh = AdhocFirer::build(
        store,
        AdhocConfig {
            module: goonj(),
            int_env: Some(INT_ENV.to_owned()),
            interval: std::time::Duration::from_secs(1),
        },
    );
    assert_eq!(
        fresh
            .fire_once(Utc::now() + Duration::hours(2))
            .await
            .unwrap(),
        1
    );
    let (id, status, job_id) = task_row(&w.app, &uuid).await;
    assert_eq!(status, "CREATED", "until its job ends");
    let jobs: Vec<(i64, String, String, String)> =
        sqlx::query_as("SELECT id, module, kind, state FROM int_job WHERE adhoc_task_id = $1")
            .bind(id)
            .fetch_all(w.app.db.pool())
            .await
            .unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(Some(jobs[0].0), job_id);
    assert_eq!(
        (jobs[0].1.as_str(), jobs[0].2.as_str()),
        ("goonj", "regular")
    );
    // An ad-hoc job does not stand in the way of the tenant's main job.
    w.app
        .enqueue_for(w.tenant, goonj(), avni_int_shared::JobKind::Regular)
        .await;
    assert_eq!(
        fresh
            .fire_once(Utc::now() + Duration::hours(3))
            .await
            .unwrap(),
        0
    );
}

#[tokio::test]
async fn goonj_adhoc_failing_step_marks_the_task_error() {
    let w = world("GoonjDemand").await;
    let (_dispatcher, client) = w.app.admin_session(w.tenant).await;
    w.salesforce
        .seed_demands(2, Utc::now() - Duration::hours(1));
    w.salesforce.faults().set(FaultPlan {
        fail_next: 50,
        error_status: Some(404),
        path_contains: Some("getDemands".into()),
        ..FaultPlan::default()
    });
    let uuid = create(
        &client,
        "GoonjDemand",
        Value::Null,
        Utc::now() - Duration::days(1),
    )
    .await;
    assert_eq!(
        fire_and_run(&w, &uuid, Utc::now() + Duration::hours(2)).await,
        "ERROR"
    );
    assert_eq!(w.avni.subject_count(), 0);
    let (id, _, _) = task_row(&w.app, &uuid).await;
    let jobs = task_jobs(&w.app, id).await;
    assert_eq!(jobs[0].0, "failed", "{jobs:?}");

    // The failed task did not touch the tenant's healthcheck: after a scheduled run, the check
    // has that run's start and end only (an ad-hoc ping would have been sent before it).
    w.salesforce.faults().set(FaultPlan::default());
    w.run_main_job().await;
    let check = format!("/{PING_KEY}/goonj");
    let pings = avni_int_tests::poll::until(
        "the main run's healthcheck pings",
        std::time::Duration::from_secs(10),
        || async {
            let pings: Vec<String> = w
                .app
                .healthchecks
                .paths()
                .into_iter()
                .filter(|p| *p == check || p.starts_with(&format!("{check}/")))
                .collect();
            (pings.len() >= 2).then_some(pings)
        },
    )
    .await;
    assert_eq!(
        pings,
        [format!("{check}/start"), check.clone()],
        "{pings:?}"
    );
}

#[tokio::test]
async fn goonj_adhoc_task_of_a_tenant_in_another_environment_is_error_unrun() {
    let w = world("GoonjDemand").await;
    let (_dispatcher, client) = w.app.admin_session(w.tenant).await;
    let uuid = create(
        &client,
        "GoonjDemand",
        Value::Null,
        Utc::now() - Duration::days(1),
    )
    .await;
    w.app.set_config(w.tenant, "int_env", "elsewhere").await;
    assert_eq!(
        firer(&w.app, INT_ENV)
            .fire_once(Utc::now() + Duration::hours(2))
            .await
            .unwrap(),
        0
    );
    let (id, status, _) = task_row(&w.app, &uuid).await;
    assert_eq!(status, "ERROR");
    assert!(task_jobs(&w.app, id).await.is_empty());
    let (_, one) = client.get(&format!("/goonj/v1/task/{uuid}")).await;
    assert_eq!(one["status"], "ERROR");
}

#[tokio::test]
async fn goonj_adhoc_task_outside_int_tasks_completes_without_work() {
    let w = world("GoonjDemand").await;
    let (_dispatcher, client) = w.app.admin_session(w.tenant).await;
    w.salesforce
        .seed_demands(2, Utc::now() - Duration::hours(1));
    let uuid = create(
        &client,
        "GoonjInventory",
        Value::Null,
        Utc::now() - Duration::days(1),
    )
    .await;
    assert_eq!(
        fire_and_run(&w, &uuid, Utc::now() + Duration::hours(2)).await,
        "COMPLETED"
    );
    assert!(
        !w.salesforce
            .recorded()
            .iter()
            .any(|r| r.path.contains("Inventor") || r.path.contains("getDemands")),
        "nothing read"
    );
    assert_eq!(w.avni.subject_count(), 0);
}
