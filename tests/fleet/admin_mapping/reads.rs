//! What the admin app reads: the original shapes of pages, rows, getMany and bare arrays, and
//! the mapping searches.

use super::{create, ids_of, mapping};
use avni_int_tests::admin_client::{AdminClient, SPRING_PAGE_FIELDS};
use avni_int_tests::fleet::TestApp;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::collections::BTreeSet;

const GROUP_FIELDS: &[&str] = &["id", "uuid", "name", "voided", "integrationSystemId"];
const MAPPING_FIELDS: &[&str] = &[
    "id",
    "mappingGroup",
    "mappingType",
    "intSystemValue",
    "avniValue",
    "dataTypeHint",
    "about",
    "uuid",
    "voided",
    "integrationSystemId",
];

fn keys(value: &Value) -> BTreeSet<String> {
    value
        .as_object()
        .unwrap_or_else(|| panic!("expected an object, got {value}"))
        .keys()
        .cloned()
        .collect()
}

fn set(fields: &[&str]) -> BTreeSet<String> {
    fields.iter().map(|f| f.to_string()).collect()
}

#[tokio::test]
async fn admin_mapping_app_calls_return_the_original_shapes() {
    let app = TestApp::new().await;
    let tenant = app.add_probe_tenant(&[]).await;
    let (dispatcher, client) = app.admin_session(tenant).await;

    let anonymous = AdminClient::new(dispatcher.admin.unwrap());
    let (status, _) = anonymous
        .get("/int/mappingGroup?page=0&size=10&sort=id,ASC")
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "before login");

    let mut groups = Vec::new();
    for name in ["Demand", "Dispatch", "Activity"] {
        groups.push(create(&client, "mappingGroup", json!({"name": name})).await);
    }
    let obs = create(&client, "mappingType", json!({"name": "Observations"})).await;
    let other = create(&client, "mappingType", json!({"name": "Other"})).await;
    assert_eq!(keys(&groups[0]), set(GROUP_FIELDS), "{}", groups[0]);
    assert_eq!(groups[0]["name"], "Demand");
    assert_eq!(groups[0]["voided"], false);
    assert_eq!(groups[0]["integrationSystemId"], tenant.0);
    assert!(
        groups[0]["uuid"].as_str().unwrap().len() >= 32,
        "a uuid is generated"
    );

    // The create form's POST (no id), then the app opens the new row.
    let created = mapping(&client, &groups[1], &obs, "Concept 10", "Partner 10").await;
    assert_eq!(keys(&created), set(MAPPING_FIELDS), "{created}");
    let (status, opened) = client
        .get(&format!("/int/mappingMetadata/{}", created["id"]))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(opened, created);
    assert_eq!(opened["mappingGroup"], groups[1]["id"]);
    assert_eq!(opened["mappingType"], obs["id"]);
    assert_eq!(opened["dataTypeHint"], "Coded");
    assert_eq!(opened["about"], Value::Null);
    mapping(&client, &groups[0], &other, "Concept 2", "Partner 2").await;

    for path in [
        "/int/mappingGroup?page=0&size=10&sort=id,ASC",
        "/int/mappingType?page=0&size=10&sort=id,ASC",
        "/int/mappingMetadata?page=0&size=10&sort=id,ASC",
        "/int/integrationSystem?page=0&size=10&sort=id,ASC",
        "/int/mappingMetadata/search/findByAvniValue?avniValue=Concept%2010&page=0&size=10&sort=id,ASC",
        "/int/mappingMetadata/search/find?avniValue=Concept&intSystemValue=Partner&page=0&size=10&sort=id,ASC",
        "/int/mappingGroup?page=0&size=25&sort=id,DESC",
    ] {
        let (status, page) = client.get(path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {page}");
        assert_eq!(keys(&page), set(SPRING_PAGE_FIELDS), "{path}: {page}");
        let content = page["content"].as_array().unwrap();
        assert!(!content.is_empty(), "{path}: {page}");
        assert_eq!(page["totalElements"], content.len(), "{path}");
        let expected = if path.starts_with("/int/mappingMetadata") {
            set(MAPPING_FIELDS)
        } else if path.starts_with("/int/integrationSystem") {
            set(&["type", "id", "instanceName"])
        } else {
            set(GROUP_FIELDS)
        };
        for row in content {
            assert_eq!(keys(row), expected, "{path}: {row}");
        }
    }

    let (_, page) = client
        .get("/int/mappingGroup?page=0&size=25&sort=id,DESC")
        .await;
    let mut desc = ids_of(&groups.iter().cloned().collect::<Value>());
    desc.reverse();
    assert_eq!(ids_of(&page["content"]), desc, "sort=id,DESC");
    let (_, page) = client
        .get("/int/mappingMetadata/search/findByAvniValue?avniValue=Concept%2010&page=0&size=10&sort=id,ASC")
        .await;
    assert_eq!(
        ids_of(&page["content"]),
        vec![created["id"].as_i64().unwrap()]
    );

    // getMany: a bare array whose ids are numbers, like the rows' own ids.
    let wanted = format!(
        "/int/mappingGroup?ids={},{},{}",
        groups[1]["id"], groups[2]["id"], groups[0]["id"]
    );
    let (status, many) = client.get(&wanted).await;
    assert_eq!(status, StatusCode::OK);
    let mut got = ids_of(&many);
    got.sort();
    assert_eq!(got, ids_of(&groups.iter().cloned().collect::<Value>()));
    assert!(many[0]["id"].is_i64(), "{many}");
    let (_, types) = client
        .get(&format!(
            "/int/mappingType?ids={},{}",
            other["id"], obs["id"]
        ))
        .await;
    assert_eq!(types.as_array().unwrap().len(), 2, "{types}");
    for row in types.as_array().unwrap() {
        assert_eq!(keys(row), set(GROUP_FIELDS));
    }

    let (status, systems) = client
        .get(&format!("/int/integrationSystem?ids={}", tenant.0))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(systems[0]["id"], tenant.0);
    assert_eq!(systems[0]["type"], "probe");
    assert!(systems[0]["instanceName"]
        .as_str()
        .unwrap()
        .starts_with("probe-"));
    let (status, one) = client
        .get(&format!("/int/integrationSystem/{}", tenant.0))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(one, systems[0]);
    // Without paging the small resources answer a bare array.
    let (_, bare) = client.get("/int/mappingType").await;
    assert_eq!(bare.as_array().unwrap().len(), 2, "{bare}");
    dispatcher.stop().await;
}

#[tokio::test]
async fn admin_mapping_search_matches_substrings_with_spaces_in_any_case() {
    let app = TestApp::new().await;
    let tenant = app.add_probe_tenant(&[]).await;
    let (dispatcher, client) = app.admin_session(tenant).await;
    let demand = create(&client, "mappingGroup", json!({"name": "Demand"})).await;
    let dispatch = create(&client, "mappingGroup", json!({"name": "Dispatch"})).await;
    let kind = create(&client, "mappingType", json!({"name": "Observations"})).await;
    let a = mapping(
        &client,
        &demand,
        &kind,
        "Type of Disaster",
        "Type_of_Disaster__c",
    )
    .await;
    let b = mapping(
        &client,
        &dispatch,
        &kind,
        "type of disaster relief",
        "Relief__c",
    )
    .await;
    let c = mapping(
        &client,
        &demand,
        &kind,
        "Number of people",
        "Disaster_Count__c",
    )
    .await;
    let id = |row: &Value| row["id"].as_i64().unwrap();

    let search = |path: String| {
        let client = client.clone();
        async move {
            let (status, page) = client.get(&path).await;
            assert_eq!(status, StatusCode::OK, "{path}: {page}");
            ids_of(&page["content"])
        }
    };
    assert_eq!(
        search("/int/mappingMetadata/search/findByAvniValue?avniValue=TYPE%20of%20dis&page=0&size=10&sort=id,ASC".into()).await,
        vec![id(&a), id(&b)]
    );
    assert_eq!(
        search("/int/mappingMetadata/search/findByIntSystemValue?intSystemValue=disaster&page=0&size=10&sort=id,ASC".into()).await,
        vec![id(&a), id(&c)]
    );
    assert_eq!(
        search("/int/mappingMetadata/search/find?avniValue=of%20&intSystemValue=__c&page=0&size=10&sort=id,ASC".into()).await,
        vec![id(&a), id(&b), id(&c)]
    );
    assert_eq!(
        search(format!(
            "/int/mappingMetadata/search/find?avniValue=of&intSystemValue=disaster&mappingGroup={}&page=0&size=10&sort=id,ASC",
            demand["id"]
        ))
        .await,
        vec![id(&a), id(&c)]
    );
    assert_eq!(
        search("/int/mappingMetadata?q=relief&page=0&size=10&sort=id,ASC".into()).await,
        vec![id(&b)],
        "free text matches either value"
    );
    assert_eq!(
        search("/int/mappingMetadata?sort=avniValue,DESC&page=0&size=10".into()).await,
        vec![id(&b), id(&a), id(&c)],
        "sort by avniValue DESC"
    );
    let (_, page) = client
        .get("/int/mappingMetadata/search/findByAvniValue?avniValue=o&page=1&size=2&sort=id,ASC")
        .await;
    assert_eq!(page["totalElements"], 3);
    assert_eq!(page["totalPages"], 2);
    assert_eq!(ids_of(&page["content"]), vec![id(&c)]);

    let (status, many) = client
        .get(&format!("/int/mappingMetadata?ids={},{}", id(&c), id(&a)))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(many.is_array(), "ids= is a bare array: {many}");
    assert!(many
        .as_array()
        .unwrap()
        .iter()
        .all(|row| row["id"].is_i64()));
    dispatcher.stop().await;
}
