//! The original's bundle: export a tenant's mappings, error types and configs as a zip, import
//! it into another tenant by uuid, all or nothing, never touching secrets or other tenants.

use avni_int_dispatcher::admin::bundle::{unzip_files, zip_files};
use avni_int_shared::IntegrationSystemId;
use avni_int_tests::admin_client::AdminClient;
use avni_int_tests::fleet::TestApp;
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;

/// Files of a zip to build: (name, content).
type Entries<'a> = Vec<(&'a str, Vec<u8>)>;

const FILES: [&str; 5] = [
    "mappingTypes.json",
    "mappingGroups.json",
    "mappingMetadata.json",
    "errorTypes.json",
    "integrationSystemConfigs.json",
];

/// Mappings, error types and configs (one secret) of a tenant, written as the original did.
async fn seed(pool: &PgPool, tenant: IntegrationSystemId) {
    let sql = [
        "INSERT INTO mapping_type (name, integration_system_id, uuid) VALUES ('Concept', $1, 'type-1'), ('Old', $1, 'type-2')",
        "UPDATE mapping_type SET is_voided = true WHERE integration_system_id = $1 AND uuid = 'type-2'",
        "INSERT INTO mapping_group (name, integration_system_id, uuid) VALUES ('Demand', $1, 'group-1')",
        "INSERT INTO mapping_metadata (int_system_value, avni_value, about, data_type_hint, integration_system_id,
                                       mapping_group_id, mapping_type_id, uuid)
         SELECT 'Account__c', 'Account', 'the account', 'Text', $1, g.id, t.id, 'meta-1'
           FROM mapping_group g, mapping_type t
          WHERE g.integration_system_id = $1 AND g.uuid = 'group-1' AND t.integration_system_id = $1 AND t.uuid = 'type-1'",
        "INSERT INTO mapping_metadata (int_system_value, avni_value, integration_system_id, uuid)
         VALUES ('Loose', 'loose', $1, 'meta-2')",
        "INSERT INTO error_type (name, integration_system_id, comparison_operator, comparison_value, follow_up_step,
                                 required_action, uuid)
         VALUES ('BadDate', $1, '1', 'invalid date', '1', 'Fix the date in Salesforce', 'etype-1')",
        "INSERT INTO integration_system_config (integration_system_id, key, value, is_secret, uuid)
         VALUES ($1, 'avni_user', 'ops@goonj', false, 'cfg-user'),
                ($1, 'avni_password', 'hunter2', true, 'cfg-password')",
    ];
    for statement in sql {
        sqlx::query(statement)
            .bind(tenant)
            .execute(pool)
            .await
            .unwrap();
    }
}

async fn export(client: &AdminClient) -> (String, Vec<u8>) {
    let response = client
        .http
        .get(client.url("/int/export"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let disposition = response
        .headers()
        .get(reqwest::header::CONTENT_DISPOSITION)
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    (disposition, response.bytes().await.unwrap().to_vec())
}

async fn import(client: &AdminClient, zip: Vec<u8>) -> (StatusCode, Value) {
    let part = reqwest::multipart::Part::bytes(zip).file_name("bundle.zip");
    let form = reqwest::multipart::Form::new().part("bundleZip", part);
    let response = client
        .http
        .post(client.url("/int/import"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body)
}

fn files(zip: &[u8]) -> serde_json::Map<String, Value> {
    unzip_files(zip)
        .unwrap()
        .into_iter()
        .map(|(name, content)| (name, serde_json::from_slice(&content).unwrap()))
        .collect()
}

/// Everything a bundle carries of a tenant, without ids, in a comparable order.
async fn snapshot(pool: &PgPool, tenant: IntegrationSystemId) -> Vec<Vec<String>> {
    let queries = [
        "SELECT uuid || ':' || coalesce(name, '') FROM mapping_type WHERE integration_system_id = $1 AND NOT is_voided ORDER BY 1",
        "SELECT uuid || ':' || coalesce(name, '') FROM mapping_group WHERE integration_system_id = $1 AND NOT is_voided ORDER BY 1",
        "SELECT concat_ws(':', m.uuid, m.int_system_value, m.avni_value, m.about, m.data_type_hint, g.name, t.name)
           FROM mapping_metadata m LEFT JOIN mapping_group g ON g.id = m.mapping_group_id
           LEFT JOIN mapping_type t ON t.id = m.mapping_type_id
          WHERE m.integration_system_id = $1 AND NOT m.is_voided ORDER BY 1",
        "SELECT concat_ws(':', uuid, name, comparison_operator, comparison_value, follow_up_step, required_action)
           FROM error_type WHERE integration_system_id = $1 AND NOT is_voided ORDER BY 1",
        "SELECT concat_ws(':', uuid, key, value, is_secret) FROM integration_system_config
          WHERE integration_system_id = $1 AND key <> 'int_env' ORDER BY 1",
    ];
    let mut all = Vec::new();
    for query in queries {
        all.push(
            sqlx::query_scalar(query)
                .bind(tenant)
                .fetch_all(pool)
                .await
                .unwrap(),
        );
    }
    all
}

#[tokio::test]
async fn admin_bundle_export_then_import_reproduces_the_tenant_without_its_secrets() {
    let app = TestApp::new().await;
    let pool = app.db.pool();
    let source = app.add_tenant("Goonj Prod", "probe", &[]).await;
    seed(pool, source).await;
    let fresh = app.add_probe_tenant(&[]).await;
    let (dispatcher, source_client) = app.admin_session(source).await;

    let (disposition, zip) = export(&source_client).await;
    assert_eq!(disposition, "attachment; filename=\"Goonj Prod.zip\"");
    let bundle = files(&zip);
    let mut names: Vec<&str> = bundle.keys().map(String::as_str).collect();
    names.sort();
    let mut expected = FILES.to_vec();
    expected.sort();
    assert_eq!(names, expected);
    assert_eq!(
        bundle["mappingTypes.json"].as_array().unwrap().len(),
        1,
        "voided rows are not exported"
    );
    let meta = &bundle["mappingMetadata.json"][0];
    assert_eq!(meta["uuid"], "meta-1");
    assert_eq!(meta["intSystemValue"], "Account__c");
    assert_eq!(meta["mappingGroupUuid"], "group-1");
    assert_eq!(meta["mappingTypeUuid"], "type-1");
    assert!(meta["mappingGroup"].is_i64());
    let error_type = &bundle["errorTypes.json"][0];
    assert_eq!(error_type["comparisonOperator"], "CONTAINS");
    assert_eq!(error_type["followUpStep"], "Terminal");
    let configs = bundle["integrationSystemConfigs.json"].as_array().unwrap();
    let password = configs
        .iter()
        .find(|c| c["key"] == "avni_password")
        .unwrap();
    assert_eq!(password["value"], "", "secrets are blanked");
    assert_eq!(password["secret"], true);
    assert!(!zip.windows(7).any(|w| w == b"hunter2"));

    let (other_dispatcher, fresh_client) = app.admin_session(fresh).await;
    let (status, counts) = import(&fresh_client, zip.clone()).await;
    assert_eq!(status, StatusCode::OK, "{counts}");
    assert_eq!(counts["mappingMetadata"], 2);
    assert_eq!(counts["secretsKept"], 1);
    let mut want = snapshot(pool, source).await;
    // The blank secret is not imported.
    want[4].retain(|row| !row.contains("avni_password"));
    assert_eq!(snapshot(pool, fresh).await, want);
    let imported = snapshot(pool, fresh).await;

    // Importing again changes nothing; the source (same uuids) was never touched.
    let (status, _) = import(&fresh_client, zip.clone()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(snapshot(pool, fresh).await, imported);
    let source_password: String = sqlx::query_scalar(
        "SELECT value FROM integration_system_config WHERE integration_system_id = $1 AND key = 'avni_password'",
    )
    .bind(source)
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(source_password, "hunter2");

    // Importing the export back into the source keeps its secret.
    let (status, _) = import(&source_client, zip).await;
    assert_eq!(status, StatusCode::OK);
    let after: String = sqlx::query_scalar(
        "SELECT value FROM integration_system_config WHERE integration_system_id = $1 AND key = 'avni_password'",
    )
    .bind(source)
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(after, "hunter2");
    other_dispatcher.stop().await;
    dispatcher.stop().await;
}

#[tokio::test]
async fn admin_bundle_import_never_overwrites_a_secret() {
    let app = TestApp::new().await;
    let pool = app.db.pool();
    let tenant = app.add_probe_tenant(&[]).await;
    sqlx::query(
        "INSERT INTO integration_system_config (integration_system_id, key, value, is_secret, uuid)
         VALUES ($1, 'sf_password', 'kept', true, 'cfg-sf')",
    )
    .bind(tenant)
    .execute(pool)
    .await
    .unwrap();
    let (dispatcher, client) = app.admin_session(tenant).await;
    let configs = json!([
        {"uuid": "cfg-sf", "key": "sf_password", "value": "replaced", "secret": true},
        {"uuid": "other-uuid", "key": "sf_password", "value": "replaced", "secret": false},
        {"uuid": "cfg-new", "key": "sf_token", "value": "provisioned", "secret": true},
        {"uuid": "cfg-blank", "key": "bahmni_password", "value": "", "secret": true},
    ]);
    let zip = zip_files(&[(
        "integrationSystemConfigs.json",
        serde_json::to_vec(&configs).unwrap(),
    )])
    .unwrap();
    let (status, counts) = import(&client, zip).await;
    assert_eq!(status, StatusCode::OK, "{counts}");
    let rows: Vec<(String, String, bool)> = sqlx::query_as(
        "SELECT key, value, is_secret FROM integration_system_config
          WHERE integration_system_id = $1 AND key <> 'int_env' ORDER BY key",
    )
    .bind(tenant)
    .fetch_all(pool)
    .await
    .unwrap();
    assert_eq!(
        rows,
        [
            ("sf_password".to_owned(), "kept".to_owned(), true),
            ("sf_token".to_owned(), "provisioned".to_owned(), true),
        ],
        "the set secret is kept (by uuid and by key), a blank secret is not imported"
    );
    dispatcher.stop().await;
}

#[tokio::test]
async fn admin_bundle_a_bad_file_is_400_naming_it_and_nothing_is_written() {
    let app = TestApp::new().await;
    let pool = app.db.pool();
    let tenant = app.add_probe_tenant(&[]).await;
    let (dispatcher, client) = app.admin_session(tenant).await;
    let types = serde_json::to_vec(&json!([{"uuid": "t-1", "name": "Concept"}])).unwrap();
    let groups = serde_json::to_vec(&json!([{"uuid": "g-1", "name": "Demand"}])).unwrap();

    let cases: Vec<(Entries, &str)> = vec![
        (
            vec![
                ("mappingTypes.json", types.clone()),
                ("mappingMetadata.json", b"[{\"uuid\": \"m-1\",".to_vec()),
            ],
            "mappingMetadata.json",
        ),
        (
            vec![
                ("mappingTypes.json", types.clone()),
                ("mappingGroups.json", br#"[{"uuid": 5}]"#.to_vec()),
            ],
            "mappingGroups.json[0].uuid",
        ),
        (
            vec![
                ("mappingTypes.json", types.clone()),
                ("mappingGroups.json", br#"[{"name": "no uuid"}]"#.to_vec()),
            ],
            "mappingGroups.json[0].uuid",
        ),
        (
            vec![
                ("mappingTypes.json", types.clone()),
                (
                    "errorTypes.json",
                    br#"[{"uuid": "e", "name": "x", "followUpStep": "Later"}]"#.to_vec(),
                ),
            ],
            "errorTypes.json[0].followUpStep",
        ),
        (
            vec![
                ("mappingTypes.json", types.clone()),
                ("mappingGroups.json", groups.clone()),
                (
                    "mappingMetadata.json",
                    br#"[{"uuid": "m-1", "avniValue": "a", "mappingGroupUuid": "nowhere"}]"#
                        .to_vec(),
                ),
            ],
            "mappingMetadata.json[0].mappingGroup",
        ),
    ];
    for (entries, field) in cases {
        let (status, body) = import(&client, zip_files(&entries).unwrap()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{field}: {body}");
        assert!(body.get(field).is_some(), "400 names {field}: {body}");
    }
    let (status, body) = import(&client, b"not a zip".to_vec()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.get("bundleZip").is_some(), "{body}");

    let written: i64 = sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM mapping_type WHERE integration_system_id = $1)
              + (SELECT count(*) FROM mapping_group WHERE integration_system_id = $1)
              + (SELECT count(*) FROM mapping_metadata WHERE integration_system_id = $1)
              + (SELECT count(*) FROM error_type WHERE integration_system_id = $1)",
    )
    .bind(tenant)
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(written, 0, "a refused bundle writes nothing");
    dispatcher.stop().await;
}
