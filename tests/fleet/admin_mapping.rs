//! Metadata mappings, mapping groups and types, and integration systems over the original
//! `/int` API: the calls the existing admin app makes, their shapes, search, tenant isolation
//! and bad input.

use avni_int_shared::store::mappings::Mappings;
use avni_int_shared::IntegrationSystemId;
use avni_int_tests::admin_client::AdminClient;
use avni_int_tests::fleet::{Running, TestApp};
use reqwest::{Method, StatusCode};
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

fn ids_of(rows: &Value) -> Vec<i64> {
    rows.as_array()
        .unwrap_or_else(|| panic!("expected an array, got {rows}"))
        .iter()
        .map(|row| row["id"].as_i64().unwrap())
        .collect()
}

async fn create(client: &AdminClient, resource: &str, body: Value) -> Value {
    let (status, row) = client.post(&format!("/int/{resource}"), &body).await;
    assert_eq!(status, StatusCode::OK, "create {resource} {body}: {row}");
    row
}

async fn mapping(
    client: &AdminClient,
    group: &Value,
    kind: &Value,
    avni: &str,
    partner: &str,
) -> Value {
    create(
        client,
        "mappingMetadata",
        json!({"mappingGroup": group["id"], "mappingType": kind["id"],
               "avniValue": avni, "intSystemValue": partner, "dataTypeHint": "Coded"}),
    )
    .await
}

async fn count(app: &TestApp, table: &str) -> i64 {
    sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
        .fetch_one(app.db.pool())
        .await
        .unwrap()
}

/// A second logged-in client on the same dispatcher, for a user of `tenant`.
async fn login_as(app: &TestApp, dispatcher: &Running, tenant: IntegrationSystemId) -> AdminClient {
    let client = AdminClient::new(dispatcher.admin.unwrap());
    let email = format!("other-{}@example.org", tenant.0);
    app.add_user(&email, "secret", tenant).await;
    client.login(&email, "secret").await;
    client
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
        assert_eq!(keys(&page), set(PAGE_FIELDS), "{path}: {page}");
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
