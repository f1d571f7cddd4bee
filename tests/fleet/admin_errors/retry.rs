//! "Retry now" for one log and for every record of an error type: the records become due and
//! one manual error job is enqueued.

use super::{error_jobs, keys, set, world};
use avni_int_shared::store::errors;
use avni_int_shared::IntegrationSystemId;
use avni_int_tests::fleet::TestApp;
use reqwest::StatusCode;
use serde_json::{json, Value};

async fn due_entities(app: &TestApp, tenant: IntegrationSystemId) -> Vec<String> {
    errors::due_for_retry(app.db.pool(), tenant, 0, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.entity_id)
        .collect()
}

/// Gives up on every record of the tenant, as the error job does after its last attempt.
async fn give_up_all(app: &TestApp, tenant: IntegrationSystemId) {
    let ids: Vec<i32> =
        sqlx::query_scalar("SELECT id FROM error_record WHERE integration_system_id = $1")
            .bind(tenant)
            .fetch_all(app.db.pool())
            .await
            .unwrap();
    let mut conn = app.db.pool().acquire().await.unwrap();
    for id in ids {
        let gave_up = errors::retry_failed(
            &mut conn,
            tenant,
            id,
            std::time::Duration::from_secs(3600),
            std::time::Duration::from_secs(3600),
            1,
        )
        .await
        .unwrap();
        assert!(gave_up);
    }
}

#[tokio::test]
async fn admin_errors_retry_now_makes_the_record_due_and_enqueues_one_error_job() {
    let w = world().await;
    give_up_all(&w.app, w.a).await;
    assert!(due_entities(&w.app, w.a).await.is_empty());
    let (_dispatcher, client) = w.app.admin_session(w.a).await;
    let (_, page) = client
        .get("/int/errorRecordLog/search/findByEntity?entityId=DEM-22&page=0&size=10")
        .await;
    let log = &page["content"][0];
    assert_eq!(log["processingDisabled"], true, "given up shows disabled");
    assert!(log["gaveUpAt"].is_string());
    let id = log["id"].as_i64().unwrap();

    let (status, body) = client
        .post(&format!("/int/errorRecordLog/{id}/retry"), &json!({}))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(keys(&body), set(&["retried", "job", "alreadyRunning"]));
    assert_eq!(body["retried"], 1);
    assert_eq!(body["alreadyRunning"], false);
    let job = body["job"].as_i64().expect("a job id");
    assert_eq!(due_entities(&w.app, w.a).await, vec!["DEM-22"]);
    assert_eq!(
        error_jobs(&w.app, w.a).await,
        vec![(job, "error".to_owned(), "manual".to_owned())]
    );
    let (_, read) = client.get(&format!("/int/errorRecordLog/{id}")).await;
    assert_eq!(read["processingDisabled"], false);
    assert_eq!(read["retryCount"], 0);
    assert_eq!(read["gaveUpAt"], Value::Null);
    assert!(read["nextRetryAt"].is_string());

    // The job is still live (no worker here): a second press makes the record due again and
    // says so instead of enqueueing another.
    let (status, again) = client
        .post(&format!("/int/errorRecordLog/{id}/retry"), &json!({}))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(
        again,
        json!({"retried": 1, "job": null, "alreadyRunning": true})
    );
    assert_eq!(error_jobs(&w.app, w.a).await.len(), 1);

    // A record whose newest error is Terminal is never retried by the job: refused.
    let (_, page) = client
        .get("/int/errorRecordLog/search/findByEntity?entityId=DEM-300&page=0&size=10")
        .await;
    let terminal = page["content"][0]["id"].as_i64().unwrap();
    let (status, body) = client
        .post(&format!("/int/errorRecordLog/{terminal}/retry"), &json!({}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(due_entities(&w.app, w.a).await, vec!["DEM-22"]);
}

#[tokio::test]
async fn admin_errors_retry_by_error_type_retries_records_whose_newest_error_has_it() {
    let w = world().await;
    give_up_all(&w.app, w.a).await;
    give_up_all(&w.app, w.b).await;
    let (_dispatcher, client) = w.app.admin_session(w.a).await;
    let (status, body) = client
        .post(&format!("/int/errorType/{}/retry", w.address_a), &json!({}))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    // SUBJ-1 and DEM-22; DEM-300's newest error is EntityIsDeleted.
    assert_eq!(body["retried"], 2);
    assert!(body["job"].is_i64());
    let mut due = due_entities(&w.app, w.a).await;
    due.sort();
    assert_eq!(due, vec!["DEM-22", "SUBJ-1"]);
    assert!(
        due_entities(&w.app, w.b).await.is_empty(),
        "tenant B untouched"
    );
    assert!(error_jobs(&w.app, w.b).await.is_empty());

    let (status, _) = client
        .post(&format!("/int/errorType/{}/retry", w.deleted_a), &json!({}))
        .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "a Terminal type is never retried"
    );
}
