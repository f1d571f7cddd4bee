//! Bad input to the mapping calls: a 400 naming the field, and nothing written.

use super::{count, create, mapping};
use avni_int_tests::fleet::TestApp;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

#[tokio::test]
async fn admin_mapping_bad_input_names_the_field_and_writes_nothing() {
    let app = TestApp::new().await;
    let tenant = app.add_probe_tenant(&[]).await;
    let (dispatcher, client) = app.admin_session(tenant).await;
    let group = create(&client, "mappingGroup", json!({"name": "Demand"})).await;
    let kind = create(&client, "mappingType", json!({"name": "Observations"})).await;
    let row = mapping(&client, &group, &kind, "Concept 1", "Partner 1").await;
    let valid = json!({"mappingGroup": group["id"], "mappingType": kind["id"],
                       "avniValue": "Concept 2", "intSystemValue": "Partner 2"});
    let with = |key: &str, value: Value| {
        let mut body = valid.clone();
        body[key] = value;
        body
    };

    let (status, reply) = client
        .send_raw(
            Method::POST,
            "/int/mappingMetadata",
            "application/json",
            r#"{"mappingGroup": 1,"#,
        )
        .await;
    assert_eq!(
        (status, reply.get("body").is_some()),
        (StatusCode::BAD_REQUEST, true),
        "{reply}"
    );
    let cases = [
        ("mappingGroup", with("mappingGroup", json!("x"))),
        ("mappingGroup", with("mappingGroup", json!(999_999))),
        ("mappingType", with("mappingType", json!(null))),
        ("avniValue", with("avniValue", json!("a".repeat(251)))),
        (
            "intSystemValue",
            with("intSystemValue", json!("p".repeat(251))),
        ),
        ("about", with("about", json!("x".repeat(1001)))),
        ("dataTypeHint", with("dataTypeHint", json!("Fuzzy"))),
        ("avniValue", with("avniValue", json!("  "))),
    ];
    for (field, body) in &cases {
        let (status, reply) = client.post("/int/mappingMetadata", body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{field}: {reply}");
        assert!(reply.get(*field).is_some(), "{field}: {reply}");
        let path = format!("/int/mappingMetadata/{}", row["id"]);
        let (status, reply) = client.put(&path, body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "PUT {field}: {reply}");
        assert!(reply.get(*field).is_some(), "PUT {field}: {reply}");
    }
    let (_, unchanged) = client
        .get(&format!("/int/mappingMetadata/{}", row["id"]))
        .await;
    assert_eq!(unchanged, row, "failed PUTs changed nothing");

    for (field, body) in [
        ("name", json!({"name": ""})),
        ("name", json!({"name": "n".repeat(251)})),
        ("name", json!({"name": 5})),
    ] {
        let (status, reply) = client.post("/int/mappingGroup", &body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{reply}");
        assert!(reply.get(field).is_some(), "{reply}");
    }

    for (field, path) in [
        ("page", "/int/mappingMetadata?page=-1&size=10"),
        ("size", "/int/mappingMetadata?page=0&size=100000"),
        (
            "sort",
            "/int/mappingMetadata?page=0&size=10&sort=password,ASC",
        ),
        (
            "sort",
            "/int/mappingGroup?page=0&size=10&sort=avniValue,ASC",
        ),
        ("size", "/int/mappingGroup?page=0&size=100000"),
        (
            "mappingGroup",
            "/int/mappingMetadata/search/find?mappingGroup=abc",
        ),
        ("ids", "/int/mappingType?ids=1,x"),
        (
            "sort",
            "/int/integrationSystem?page=0&size=10&sort=secret,ASC",
        ),
    ] {
        let (status, reply) = client.get(path).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {reply}");
        assert!(reply.get(field).is_some(), "{path}: {reply}");
    }
    let (status, _) = client.get("/int/mappingMetadata/abc").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = client.get("/int/mappingMetadata/999999").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    assert_eq!(count(&app, "mapping_metadata").await, 1, "nothing written");
    assert_eq!(count(&app, "mapping_group").await, 1);
    dispatcher.stop().await;
}
