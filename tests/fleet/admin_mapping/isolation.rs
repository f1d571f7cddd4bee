//! Tenant isolation: one tenant never sees, changes or points at another's mapping rows or
//! integration system.

use super::{count, create, ids_of, mapping};
use avni_int_shared::IntegrationSystemId;
use avni_int_tests::admin_client::AdminClient;
use avni_int_tests::fleet::{Running, TestApp};
use reqwest::StatusCode;
use serde_json::json;

/// A second logged-in client on the same dispatcher, for a user of `tenant`.
async fn login_as(app: &TestApp, dispatcher: &Running, tenant: IntegrationSystemId) -> AdminClient {
    let client = AdminClient::new(dispatcher.admin.unwrap());
    let email = format!("other-{}@example.org", tenant.0);
    app.add_user(&email, "secret", tenant).await;
    client.login(&email, "secret").await;
    client
}

#[tokio::test]
async fn admin_mapping_tenants_never_see_or_touch_each_others_rows() {
    let app = TestApp::new().await;
    let tenant_a = app.add_probe_tenant(&[]).await;
    let tenant_b = app.add_probe_tenant(&[]).await;
    let (dispatcher, a) = app.admin_session(tenant_a).await;
    let b = login_as(&app, &dispatcher, tenant_b).await;

    let group = create(&a, "mappingGroup", json!({"name": "Demand"})).await;
    let kind = create(&a, "mappingType", json!({"name": "Observations"})).await;
    let row = mapping(&a, &group, &kind, "Concept 1", "Partner 1").await;
    let b_group = create(&b, "mappingGroup", json!({"name": "Demand"})).await;
    let b_kind = create(&b, "mappingType", json!({"name": "Observations"})).await;

    for (resource, target) in [
        ("mappingGroup", &group),
        ("mappingType", &kind),
        ("mappingMetadata", &row),
    ] {
        let path = format!("/int/{resource}/{}", target["id"]);
        let (status, _) = b.get(&path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "GET {path}");
        let body = if resource == "mappingMetadata" {
            json!({"mappingGroup": b_group["id"], "mappingType": b_kind["id"], "avniValue": "x", "intSystemValue": "y"})
        } else {
            json!({"name": "Stolen"})
        };
        let (status, _) = b.put(&path, &body).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "PUT {path}");
        let (status, _) = b.delete(&path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "DELETE {path}");
        let mut with_id = body.clone();
        with_id["id"] = target["id"].clone();
        let (status, reply) = b.post(&format!("/int/{resource}"), &with_id).await;
        assert_eq!(
            status,
            StatusCode::BAD_REQUEST,
            "POST {resource} with A's id: {reply}"
        );
        assert!(reply.get("id").is_some(), "{reply}");

        let (_, page) = b
            .get(&format!("/int/{resource}?page=0&size=100&sort=id,ASC"))
            .await;
        assert!(
            !ids_of(&page["content"]).contains(&target["id"].as_i64().unwrap()),
            "{resource} list of B: {page}"
        );
        let (_, many) = b
            .get(&format!("/int/{resource}?ids={}", target["id"]))
            .await;
        assert_eq!(many, json!([]), "{resource}?ids= of B");
    }
    let (_, found) = b
        .get("/int/mappingMetadata/search/find?avniValue=Concept&intSystemValue=Partner&page=0&size=10")
        .await;
    assert_eq!(found["totalElements"], 0, "{found}");

    // B cannot point a mapping at A's group or type.
    for (field, body) in [
        (
            "mappingGroup",
            json!({"mappingGroup": group["id"], "mappingType": b_kind["id"], "avniValue": "x", "intSystemValue": "y"}),
        ),
        (
            "mappingType",
            json!({"mappingGroup": b_group["id"], "mappingType": kind["id"], "avniValue": "x", "intSystemValue": "y"}),
        ),
    ] {
        let (status, reply) = b.post("/int/mappingMetadata", &body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{reply}");
        assert!(reply.get(field).is_some(), "{reply}");
    }

    // integrationSystem: only one's own tenant.
    let (_, systems) = b.get("/int/integrationSystem").await;
    assert_eq!(ids_of(&systems), vec![tenant_b.0 as i64]);
    let (_, systems) = b
        .get("/int/integrationSystem?page=0&size=10&sort=id,ASC")
        .await;
    assert_eq!(ids_of(&systems["content"]), vec![tenant_b.0 as i64]);
    assert_eq!(systems["totalElements"], 1);
    let (_, systems) = b
        .get(&format!(
            "/int/integrationSystem?ids={},{}",
            tenant_a.0, tenant_b.0
        ))
        .await;
    assert_eq!(ids_of(&systems), vec![tenant_b.0 as i64]);
    let (status, _) = b
        .get(&format!("/int/integrationSystem/{}", tenant_a.0))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // A's rows are as A left them, and B's writes produced nothing else.
    let (_, mine) = a.get(&format!("/int/mappingMetadata/{}", row["id"])).await;
    assert_eq!(mine, row);
    let (_, mine) = a.get(&format!("/int/mappingGroup/{}", group["id"])).await;
    assert_eq!(mine, group);
    assert_eq!(count(&app, "mapping_metadata").await, 1);
    dispatcher.stop().await;
}
