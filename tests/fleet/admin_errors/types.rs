//! Error types: enum names in JSON, ordinals in the table (legacy names still read), created,
//! updated and voided.

use super::{keys, set};
use avni_int_tests::fleet::TestApp;
use reqwest::StatusCode;
use serde_json::{json, Value};

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
