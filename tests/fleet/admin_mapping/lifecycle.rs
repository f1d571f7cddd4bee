//! A mapping's life: create, get, update and void, after which the worker no longer sees it.

use super::{create, mapping};
use avni_int_shared::store::mappings::Mappings;
use avni_int_tests::fleet::TestApp;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn admin_mapping_create_get_update_void_and_the_worker_stops_seeing_it() {
    let app = TestApp::new().await;
    let tenant = app.add_probe_tenant(&[]).await;
    let (dispatcher, client) = app.admin_session(tenant).await;

    let group = create(
        &client,
        "mappingGroup",
        json!({"name": "Demand", "uuid": "g-1"}),
    )
    .await;
    assert_eq!(group["uuid"], "g-1", "a given uuid is kept");
    let (status, body) = client
        .post("/int/mappingGroup", &json!({"name": "Demand"}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "duplicate name: {body}");
    assert!(body.get("name").is_some(), "{body}");
    let gid = group["id"].as_i64().unwrap();
    let (status, renamed) = client
        .put(
            &format!("/int/mappingGroup/{gid}"),
            &json!({"name": "Demands"}),
        )
        .await;
    assert_eq!(
        (status, renamed["name"].clone()),
        (StatusCode::OK, json!("Demands"))
    );
    let (status, renamed) = client
        .post("/int/mappingGroup", &json!({"id": gid, "name": "Demand"}))
        .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "POST with an existing id updates: {renamed}"
    );
    assert_eq!(
        (renamed["id"].as_i64(), renamed["uuid"].clone()),
        (Some(gid), json!("g-1"))
    );
    let kind = create(&client, "mappingType", json!({"name": "Observations"})).await;

    let created = mapping(
        &client,
        &group,
        &kind,
        "Beneficiary Count",
        "beneficiary_count__c",
    )
    .await;
    let id = created["id"].as_i64().unwrap();
    let (_, got) = client.get(&format!("/int/mappingMetadata/{id}")).await;
    assert_eq!(got["avniValue"], "Beneficiary Count");
    let loaded = Mappings::load(app.db.pool(), tenant, "Observations")
        .await
        .unwrap();
    assert!(loaded
        .by_partner_value("Demand", "beneficiary_count__c")
        .is_some());

    let mut edited = got.clone();
    edited["avniValue"] = json!("Beneficiaries");
    edited["dataTypeHint"] = json!("Numeric");
    edited["about"] = json!("head count");
    let (status, updated) = client
        .put(&format!("/int/mappingMetadata/{id}"), &edited)
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["avniValue"], "Beneficiaries");
    assert_eq!(updated["dataTypeHint"], "Numeric");
    assert_eq!(updated["about"], "head count");
    assert_eq!(updated["uuid"], created["uuid"], "identity kept");
    let (_, reread) = client.get(&format!("/int/mappingMetadata/{id}")).await;
    assert_eq!(reread, updated);

    let (status, deleted) = client.delete(&format!("/int/mappingMetadata/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(deleted["voided"], true);
    let (_, page) = client
        .get("/int/mappingMetadata?page=0&size=10&sort=id,ASC")
        .await;
    assert_eq!(
        page["totalElements"], 0,
        "voided rows leave the list: {page}"
    );
    let (_, page) = client
        .get("/int/mappingMetadata/search/findByAvniValue?avniValue=Benef&page=0&size=10")
        .await;
    assert_eq!(page["totalElements"], 0, "and the search: {page}");
    let still: bool = sqlx::query_scalar("SELECT is_voided FROM mapping_metadata WHERE id = $1")
        .bind(id as i32)
        .fetch_one(app.db.pool())
        .await
        .unwrap();
    assert!(still, "voided, not deleted");
    let loaded = Mappings::load(app.db.pool(), tenant, "Observations")
        .await
        .unwrap();
    assert!(
        loaded.is_empty(),
        "the worker no longer sees a voided mapping"
    );
    let (status, _) = client.delete(&format!("/int/mappingMetadata/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "already voided");
    let (status, _) = client
        .put(&format!("/int/mappingMetadata/{id}"), &edited)
        .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "a voided mapping is not edited"
    );

    // A voided group leaves the lists, frees its name and cannot be pointed at.
    let (status, _) = client.delete(&format!("/int/mappingGroup/{gid}")).await;
    assert_eq!(status, StatusCode::OK);
    let (_, groups) = client
        .get("/int/mappingGroup?page=0&size=10&sort=id,ASC")
        .await;
    assert_eq!(groups["totalElements"], 0, "{groups}");
    let (status, body) = client
        .post(
            "/int/mappingMetadata",
            &json!({"mappingGroup": gid, "mappingType": kind["id"], "avniValue": "a", "intSystemValue": "b"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.get("mappingGroup").is_some(), "{body}");
    create(&client, "mappingGroup", json!({"name": "Demand"})).await;
    dispatcher.stop().await;
}
