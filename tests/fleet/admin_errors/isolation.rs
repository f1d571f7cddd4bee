//! Tenant isolation: another tenant's error logs and types are invisible and unchangeable.

use super::{entity_ids, error_jobs, world};
use reqwest::StatusCode;
use serde_json::json;
use std::collections::BTreeSet;

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
