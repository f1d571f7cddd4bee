//! The error log as the admin app reads it: Spring's page shape with the exact fields, every
//! search, and the PUT that only switches processingDisabled.

use super::{entity_ids, keys, set, world};
use avni_int_tests::admin_client::{AdminClient, SPRING_PAGE_FIELDS};
use reqwest::StatusCode;
use serde_json::{json, Value};

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
    assert_eq!(keys(&page), set(SPRING_PAGE_FIELDS));
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
