//! Metadata mappings, mapping groups and types, and integration systems over the original
//! `/int` API: the calls the existing admin app makes, their shapes, search, tenant isolation
//! and bad input.

mod bad_input;
mod isolation;
mod lifecycle;
mod reads;

use avni_int_tests::admin_client::AdminClient;
use avni_int_tests::fleet::TestApp;
use reqwest::StatusCode;
use serde_json::{json, Value};

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
