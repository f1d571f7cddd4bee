//! The classified-error side of the admin API as the admin app and ops use it: error types
//! (enum names in JSON, ordinals in the table), the error log list with its searches and the
//! processingDisabled switch, and "retry now" — all scoped to the caller's tenant.

use avni_int_shared::classify::{ComparisonOperator, FollowUpStep};
use avni_int_shared::store::errors::{self, ErrorTypeDef, FailedEntity};
use avni_int_shared::IntegrationSystemId;
use avni_int_tests::admin_client::AdminClient;
use avni_int_tests::fleet::TestApp;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::collections::BTreeSet;

const DEFS: &[ErrorTypeDef] = &[
    ErrorTypeDef {
        name: "AddressNotFound",
        operator: Some(ComparisonOperator::Contains),
        comparison_value: Some("address not found"),
        follow_up: FollowUpStep::Internal,
        required_action: "Add the location in Avni.",
    },
    ErrorTypeDef {
        name: "EntityIsDeleted",
        operator: None,
        comparison_value: None,
        follow_up: FollowUpStep::Terminal,
        required_action: "None: the entity was deleted.",
    },
];

const LOG_FIELDS: &[&str] = &[
    "id",
    "errorType",
    "errorTypeName",
    "requiredAction",
    "loggedAt",
    "avniEntityType",
    "integratingEntityType",
    "entityId",
    "errorMsg",
    "errorBody",
    "processingDisabled",
    "retryCount",
    "nextRetryAt",
    "gaveUpAt",
    "integrationSystem",
    "integrationSystemInstance",
];

const PAGE_FIELDS: &[&str] = &[
    "content",
    "pageable",
    "totalElements",
    "totalPages",
    "last",
    "first",
    "size",
    "number",
    "sort",
    "numberOfElements",
    "empty",
];

fn keys(value: &Value) -> BTreeSet<String> {
    value.as_object().unwrap().keys().cloned().collect()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

async fn type_id(app: &TestApp, tenant: IntegrationSystemId, name: &str) -> i32 {
    errors::error_types(app.db.pool(), tenant)
        .await
        .unwrap()
        .into_iter()
        .find(|t| t.name == name)
        .unwrap()
        .id
}

async fn record(
    app: &TestApp,
    tenant: IntegrationSystemId,
    entity: FailedEntity,
    error_type: i32,
    message: &str,
) {
    let mut conn = app.db.pool().acquire().await.unwrap();
    errors::record(
        &mut conn,
        tenant,
        &entity,
        error_type,
        message,
        Some(&json!({"sent": message})),
    )
    .await
    .unwrap();
}

fn subject(id: &str) -> FailedEntity {
    FailedEntity::Avni {
        entity_type: "Subject".into(),
        id: id.into(),
    }
}

fn demand(id: &str) -> FailedEntity {
    FailedEntity::Integrating {
        entity_type: "Demand".into(),
        id: id.into(),
    }
}

/// Moves every log of `entity_id` of the tenant to `at` (a `timestamp` literal).
async fn log_at(app: &TestApp, tenant: IntegrationSystemId, entity_id: &str, at: &str) {
    sqlx::query(
        "UPDATE error_record_log l SET logged_at = $3::timestamp FROM error_record r
          WHERE r.id = l.error_record_id AND r.integration_system_id = $1 AND r.entity_id = $2",
    )
    .bind(tenant)
    .bind(entity_id)
    .bind(at)
    .execute(app.db.pool())
    .await
    .unwrap();
}

/// Two tenants with the same types and an overlapping entity id. Tenant A: SUBJ-1 (Internal,
/// 2024-01-10), DEM-22 (Internal 2024-02-05), DEM-300 (Internal, 2024-03-01, then Terminal);
/// tenant B: SUBJ-1.
struct World {
    app: TestApp,
    a: IntegrationSystemId,
    b: IntegrationSystemId,
    address_a: i32,
    deleted_a: i32,
    address_b: i32,
}

async fn world() -> World {
    let app = TestApp::new().await;
    let a = app.add_probe_tenant(&[]).await;
    let b = app.add_probe_tenant(&[]).await;
    for tenant in [a, b] {
        errors::seed_error_types(app.db.pool(), tenant, DEFS)
            .await
            .unwrap();
    }
    let address_a = type_id(&app, a, "AddressNotFound").await;
    let deleted_a = type_id(&app, a, "EntityIsDeleted").await;
    let address_b = type_id(&app, b, "AddressNotFound").await;
    record(
        &app,
        a,
        subject("SUBJ-1"),
        address_a,
        "500 address not found: X",
    )
    .await;
    log_at(&app, a, "SUBJ-1", "2024-01-10 08:00:00").await;
    record(
        &app,
        a,
        demand("DEM-22"),
        address_a,
        "500 address not found: Y",
    )
    .await;
    log_at(&app, a, "DEM-22", "2024-02-05 23:59:59").await;
    record(
        &app,
        a,
        demand("DEM-300"),
        address_a,
        "500 address not found: Z",
    )
    .await;
    log_at(&app, a, "DEM-300", "2024-03-01 00:00:00").await;
    record(&app, a, demand("DEM-300"), deleted_a, "deleted in Avni").await;
    record(
        &app,
        b,
        subject("SUBJ-1"),
        address_b,
        "500 address not found: B",
    )
    .await;
    World {
        app,
        a,
        b,
        address_a,
        deleted_a,
        address_b,
    }
}

fn entity_ids(page: &Value) -> Vec<String> {
    page["content"]
        .as_array()
        .unwrap()
        .iter()
        .map(|log| log["entityId"].as_str().unwrap().to_owned())
        .collect()
}

async fn search(client: &AdminClient, path: &str) -> (Vec<String>, i64) {
    let (status, page) = client.get(path).await;
    assert_eq!(status, StatusCode::OK, "{path}: {page}");
    (entity_ids(&page), page["totalElements"].as_i64().unwrap())
}

#[tokio::test]
async fn admin_errors_log_list_has_springs_page_shape_the_exact_fields_and_the_action() {
    let w = world().await;
    let (_dispatcher, client) = w.app.admin_session(w.a).await;
    let (status, page) = client
        .get("/int/errorRecordLog?page=0&size=10&sort=loggedAt,DESC")
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(keys(&page), set(PAGE_FIELDS));
    assert_eq!(page["totalElements"], 4, "one row per log of tenant A");
    assert_eq!(page["number"], 0);
    assert_eq!(page["size"], 10);
    // Newest first: DEM-300's Terminal log (logged now), then its older log, …
    assert_eq!(
        entity_ids(&page),
        vec!["DEM-300", "DEM-300", "DEM-22", "SUBJ-1"]
    );
    let newest = &page["content"][0];
    assert_eq!(keys(newest), set(LOG_FIELDS));
    assert_eq!(newest["errorType"], w.deleted_a);
    assert_eq!(newest["errorTypeName"], "EntityIsDeleted");
    assert_eq!(newest["requiredAction"], "None: the entity was deleted.");
    assert_eq!(newest["integratingEntityType"], "Demand");
    assert_eq!(newest["avniEntityType"], Value::Null);
    assert_eq!(newest["errorMsg"], "deleted in Avni");
    assert_eq!(newest["errorBody"], json!({"sent": "deleted in Avni"}));
    assert_eq!(newest["processingDisabled"], false);
    assert_eq!(newest["retryCount"], 0);
    assert_eq!(newest["integrationSystem"], w.a.0);
    let instance: String = sqlx::query_scalar("SELECT name FROM integration_system WHERE id = $1")
        .bind(w.a)
        .fetch_one(w.app.db.pool())
        .await
        .unwrap();
    assert_eq!(newest["integrationSystemInstance"], instance);
    for log in page["content"].as_array().unwrap() {
        assert!(
            log["requiredAction"]
                .as_str()
                .is_some_and(|a| !a.is_empty()),
            "every log shows its action: {log}"
        );
    }
    let subj = &page["content"][3];
    assert_eq!(subj["avniEntityType"], "Subject");
    assert_eq!(subj["errorType"], w.address_a);
    assert_eq!(subj["requiredAction"], "Add the location in Avni.");
    assert!(subj["loggedAt"]
        .as_str()
        .unwrap()
        .starts_with("2024-01-10T08:00:00"));

    // Paging and sorting.
    let (status, second) = client
        .get("/int/errorRecordLog?page=1&size=3&sort=entityId,ASC")
        .await;
    assert_eq!(status, StatusCode::OK, "{second}");
    assert_eq!(entity_ids(&second), vec!["SUBJ-1"]);
    assert_eq!(second["totalPages"], 2);
    assert_eq!(second["last"], true);

    // One log by id, as the app opens it.
    let id = subj["id"].as_i64().unwrap();
    let (status, one) = client.get(&format!("/int/errorRecordLog/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(&one, subj);
}

#[tokio::test]
async fn admin_errors_every_search_filters_within_the_tenant() {
    let w = world().await;
    let (_dispatcher, client) = w.app.admin_session(w.a).await;
    let base = "/int/errorRecordLog/search";
    let paging = "page=0&size=10&sort=loggedAt,DESC";
    assert_eq!(
        search(
            &client,
            &format!("{base}/findByEntity?entityId=subj&{paging}")
        )
        .await,
        (vec!["SUBJ-1".to_owned()], 1),
        "contains, any case, and not tenant B's SUBJ-1"
    );
    assert_eq!(
        search(
            &client,
            &format!("{base}/findByEntity?entityId=DEM-3&{paging}")
        )
        .await,
        (vec!["DEM-300".to_owned(), "DEM-300".to_owned()], 2)
    );
    assert_eq!(
        search(
            &client,
            &format!("{base}/findByEntity?entityId=%25&{paging}")
        )
        .await,
        (vec![], 0),
        "a % is literal"
    );
    assert_eq!(
        search(
            &client,
            &format!("{base}/findByErrorType?errorType={}&{paging}", w.deleted_a)
        )
        .await,
        (vec!["DEM-300".to_owned()], 1)
    );
    assert_eq!(
        search(
            &client,
            &format!("{base}/findByErrorType?errorType={}&{paging}", w.address_b)
        )
        .await,
        (vec![], 0),
        "another tenant's type finds nothing"
    );
    assert_eq!(
        search(
            &client,
            &format!("{base}/findByStartDate?startDate=2024-02-05&{paging}")
        )
        .await,
        (
            vec![
                "DEM-300".to_owned(),
                "DEM-300".to_owned(),
                "DEM-22".to_owned()
            ],
            3
        )
    );
    assert_eq!(
        search(
            &client,
            &format!("{base}/findByEndDate?endDate=2024-02-05&{paging}")
        )
        .await,
        (vec!["DEM-22".to_owned(), "SUBJ-1".to_owned()], 2),
        "the end date's whole day counts (23:59:59)"
    );
    assert_eq!(
        search(
            &client,
            &format!("{base}/find?startDate=2024-01-11&endDate=2024-03-01&{paging}")
        )
        .await,
        (vec!["DEM-300".to_owned(), "DEM-22".to_owned()], 2)
    );
    assert_eq!(
        search(
            &client,
            &format!(
                "{base}/find?errorType={}&entityId=DEM&{paging}",
                w.address_a
            )
        )
        .await,
        (vec!["DEM-300".to_owned(), "DEM-22".to_owned()], 2)
    );
    assert_eq!(
        search(
            &client,
            &format!(
                "{base}/find?errorType={}&entityId=DEM&startDate=2024-02-06&endDate=2024-12-31&{paging}",
                w.address_a
            )
        )
        .await,
        (vec!["DEM-300".to_owned()], 1)
    );
}

#[tokio::test]
async fn admin_errors_put_applies_processing_disabled_to_the_record_only() {
    let w = world().await;
    let (_dispatcher, client) = w.app.admin_session(w.a).await;
    let (_, page) = client
        .get("/int/errorRecordLog/search/findByEntity?entityId=SUBJ-1&page=0&size=10")
        .await;
    let mut log = page["content"][0].clone();
    let id = log["id"].as_i64().unwrap();
    log["processingDisabled"] = json!(true);
    log["errorMsg"] = json!("the app never changes this");
    let (status, updated) = client.put(&format!("/int/errorRecordLog/{id}"), &log).await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["processingDisabled"], true);
    assert_eq!(updated["errorMsg"], "500 address not found: X");
    let (_, read) = client.get(&format!("/int/errorRecordLog/{id}")).await;
    assert_eq!(read["processingDisabled"], true);
    let disabled: bool = sqlx::query_scalar(
        "SELECT processing_disabled FROM error_record WHERE integration_system_id = $1 AND entity_id = 'SUBJ-1'",
    )
    .bind(w.b)
    .fetch_one(w.app.db.pool())
    .await
    .unwrap();
    assert!(
        !disabled,
        "tenant B's record of the same entity is untouched"
    );

    log["processingDisabled"] = json!(false);
    let (status, back) = client.put(&format!("/int/errorRecordLog/{id}"), &log).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(back["processingDisabled"], false);
}

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

async fn error_jobs(app: &TestApp, tenant: IntegrationSystemId) -> Vec<(i64, String, String)> {
    sqlx::query_as(
        "SELECT id, kind, trigger FROM int_job WHERE integration_system_id = $1 ORDER BY id",
    )
    .bind(tenant)
    .fetch_all(app.db.pool())
    .await
    .unwrap()
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

#[tokio::test]
async fn admin_errors_another_tenants_logs_and_types_are_invisible_and_unchangeable() {
    let w = world().await;
    let (_dispatcher, client) = w.app.admin_session(w.b).await;
    let (_, page) = client.get("/int/errorRecordLog?page=0&size=50").await;
    assert_eq!(entity_ids(&page), vec!["SUBJ-1"]);
    assert_eq!(page["content"][0]["integrationSystem"], w.b.0);
    let a_log: i32 = sqlx::query_scalar(
        "SELECT l.id FROM error_record_log l JOIN error_record r ON r.id = l.error_record_id
          WHERE r.integration_system_id = $1 ORDER BY l.id LIMIT 1",
    )
    .bind(w.a)
    .fetch_one(w.app.db.pool())
    .await
    .unwrap();
    let (status, _) = client.get(&format!("/int/errorRecordLog/{a_log}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = client
        .put(
            &format!("/int/errorRecordLog/{a_log}"),
            &json!({"processingDisabled": true}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = client
        .post(&format!("/int/errorRecordLog/{a_log}/retry"), &json!({}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let disabled: Vec<bool> = sqlx::query_scalar(
        "SELECT processing_disabled FROM error_record WHERE integration_system_id = $1",
    )
    .bind(w.a)
    .fetch_all(w.app.db.pool())
    .await
    .unwrap();
    assert!(disabled.iter().all(|d| !d));
    assert!(error_jobs(&w.app, w.a).await.is_empty());

    // Types: B sees its own only, by list, ids, id; A's are 404 to every verb.
    let (_, types) = client
        .get("/int/errorType?page=0&size=25&sort=id,DESC")
        .await;
    let tenants: BTreeSet<i64> = types["content"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["integrationSystemId"].as_i64().unwrap())
        .collect();
    assert_eq!(tenants, BTreeSet::from([w.b.0 as i64]));
    let (_, by_ids) = client
        .get(&format!(
            "/int/errorType?ids={},{}",
            w.address_a, w.address_b
        ))
        .await;
    assert_eq!(by_ids.as_array().unwrap().len(), 1);
    assert_eq!(by_ids[0]["id"], w.address_b);
    let a_type = format!("/int/errorType/{}", w.address_a);
    assert_eq!(client.get(&a_type).await.0, StatusCode::NOT_FOUND);
    let body = json!({"name": "Stolen", "followUpStep": "Process"});
    assert_eq!(client.put(&a_type, &body).await.0, StatusCode::NOT_FOUND);
    assert_eq!(client.delete(&a_type).await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        client.post(&format!("{a_type}/retry"), &json!({})).await.0,
        StatusCode::NOT_FOUND
    );
    let name: String = sqlx::query_scalar("SELECT name FROM error_type WHERE id = $1")
        .bind(w.address_a)
        .fetch_one(w.app.db.pool())
        .await
        .unwrap();
    assert_eq!(name, "AddressNotFound");
}

#[tokio::test]
async fn admin_errors_error_types_speak_enum_names_and_store_ordinals() {
    let app = TestApp::new().await;
    let tenant = app.add_probe_tenant(&[]).await;
    // A legacy row holding a name where an ordinal belongs.
    sqlx::query(
        "INSERT INTO error_type (name, integration_system_id, comparison_operator, comparison_value,
                                 follow_up_step, uuid)
         VALUES ('Legacy', $1, '1', 'old text', 'Terminal', 'legacy-uuid')",
    )
    .bind(tenant)
    .execute(app.db.pool())
    .await
    .unwrap();
    let (_dispatcher, client) = app.admin_session(tenant).await;
    let (status, created) = client
        .post(
            "/int/errorType",
            &json!({"name": "Timeout", "comparisonOperator": "MATCHES",
                    "comparisonValue": "^.*timed out.*$", "followUpStep": "External",
                    "requiredAction": "Ask the partner."}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    assert_eq!(
        keys(&created),
        set(&[
            "id",
            "uuid",
            "name",
            "comparisonOperator",
            "comparisonValue",
            "followUpStep",
            "requiredAction",
            "voided",
            "integrationSystemId"
        ])
    );
    assert_eq!(created["comparisonOperator"], "MATCHES");
    assert_eq!(created["followUpStep"], "External");
    assert_eq!(created["voided"], false);
    assert_eq!(created["integrationSystemId"], tenant.0);
    let id = created["id"].as_i64().unwrap();
    let stored: (String, String) =
        sqlx::query_as("SELECT comparison_operator, follow_up_step FROM error_type WHERE id = $1")
            .bind(id as i32)
            .fetch_one(app.db.pool())
            .await
            .unwrap();
    assert_eq!(stored, ("2".to_owned(), "3".to_owned()));

    // The bare array (no paging) and a page both decode the legacy row's name.
    let (_, all) = client.get("/int/errorType").await;
    let all = all.as_array().unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[0]["name"], "Legacy");
    assert_eq!(all[0]["followUpStep"], "Terminal");
    assert_eq!(all[0]["comparisonOperator"], "CONTAINS");
    let (_, page) = client
        .get("/int/errorType?page=0&size=1&sort=name,DESC")
        .await;
    assert_eq!(page["totalElements"], 2);
    assert_eq!(page["content"][0]["name"], "Timeout");

    let (status, updated) = client
        .put(
            &format!("/int/errorType/{id}"),
            &json!({"id": id, "name": "Timeout", "comparisonOperator": "CONTAINS",
                    "comparisonValue": "timed out", "followUpStep": "Terminal"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["comparisonOperator"], "CONTAINS");
    assert_eq!(updated["followUpStep"], "Terminal");
    assert_eq!(updated["requiredAction"], Value::Null);

    let (status, voided) = client.delete(&format!("/int/errorType/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(voided["voided"], true);
    let (_, all) = client.get("/int/errorType").await;
    assert_eq!(
        all.as_array().unwrap().len(),
        1,
        "a voided type leaves the list"
    );
    let (_, by_id) = client.get(&format!("/int/errorType?ids={id}")).await;
    assert_eq!(by_id[0]["voided"], true, "old logs can still resolve it");
}

#[tokio::test]
async fn admin_errors_bad_input_is_a_400_naming_the_field() {
    let w = world().await;
    let (_dispatcher, client) = w.app.admin_session(w.a).await;
    let long = "x".repeat(251);
    let cases: Vec<(Method, String, Option<Value>, &str)> = vec![
        (
            Method::GET,
            "/int/errorRecordLog/search/findByStartDate?startDate=2024-13-01".into(),
            None,
            "startDate",
        ),
        (
            Method::GET,
            "/int/errorRecordLog/search/findByEndDate?endDate=01/02/2024".into(),
            None,
            "endDate",
        ),
        (
            Method::GET,
            "/int/errorRecordLog/search/findByErrorType?errorType=abc".into(),
            None,
            "errorType",
        ),
        (
            Method::GET,
            "/int/errorRecordLog/search/findByEntity".into(),
            None,
            "entityId",
        ),
        (
            Method::GET,
            "/int/errorRecordLog/search/find?startDate=2024-03-01&endDate=2024-01-01".into(),
            None,
            "endDate",
        ),
        (
            Method::GET,
            "/int/errorRecordLog?sort=errorMsg,ASC".into(),
            None,
            "sort",
        ),
        (
            Method::GET,
            "/int/errorRecordLog?size=0".into(),
            None,
            "size",
        ),
        (Method::GET, "/int/errorType?ids=1,x".into(), None, "ids"),
        (
            Method::GET,
            "/int/errorType?page=0&size=10&sort=comparisonValue,ASC".into(),
            None,
            "sort",
        ),
        (
            Method::POST,
            "/int/errorType".into(),
            Some(
                json!({"name": "R", "comparisonOperator": "MATCHES", "comparisonValue": "(unclosed"}),
            ),
            "comparisonValue",
        ),
        (
            Method::POST,
            "/int/errorType".into(),
            Some(json!({"name": "R", "comparisonOperator": "LIKE", "comparisonValue": "x"})),
            "comparisonOperator",
        ),
        (
            Method::POST,
            "/int/errorType".into(),
            Some(json!({"name": "R", "comparisonOperator": "CONTAINS"})),
            "comparisonValue",
        ),
        (
            Method::POST,
            "/int/errorType".into(),
            Some(json!({"name": "R", "followUpStep": "Later"})),
            "followUpStep",
        ),
        (
            Method::POST,
            "/int/errorType".into(),
            Some(json!({"name": " "})),
            "name",
        ),
        (
            Method::POST,
            "/int/errorType".into(),
            Some(json!({"name": long})),
            "name",
        ),
        (
            Method::POST,
            "/int/errorType".into(),
            Some(json!({"comparisonValue": "x"})),
            "name",
        ),
        (
            Method::POST,
            "/int/errorType".into(),
            Some(json!({"name": "AddressNotFound"})),
            "name",
        ),
        (
            Method::PUT,
            format!("/int/errorType/{}", w.address_a),
            Some(json!({"name": 7})),
            "name",
        ),
        (
            Method::PUT,
            format!("/int/errorRecordLog/{}", 1),
            Some(json!({"processingDisabled": "yes"})),
            "processingDisabled",
        ),
    ];
    for (method, path, body, field) in cases {
        let (status, answer) = client.call(method.clone(), &path, body.as_ref()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{method} {path}: {answer}");
        assert!(
            answer.get(field).is_some(),
            "{method} {path}: expected {field} named in {answer}"
        );
    }
    let (status, _) = client
        .send_raw(
            Method::PUT,
            "/int/errorRecordLog/1",
            "application/json",
            "{",
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    for path in [
        "/int/errorRecordLog/999999",
        "/int/errorRecordLog/abc",
        "/int/errorType/999999",
    ] {
        assert_eq!(client.get(path).await.0, StatusCode::NOT_FOUND, "{path}");
    }
    let before: i64 = sqlx::query_scalar("SELECT count(*) FROM error_type")
        .fetch_one(w.app.db.pool())
        .await
        .unwrap();
    assert_eq!(before, 4, "no refused create wrote a row");
}
