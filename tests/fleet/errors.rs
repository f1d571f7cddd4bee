//! Classified errors in the database: the original's record/log rules scoped by tenant, error
//! type seeding, and the error job's backoff and attempt limit.

use avni_int_shared::classify::{Classifier, ComparisonOperator, FollowUpStep};
use avni_int_shared::store::errors::{self, ErrorTypeDef, FailedEntity};
use avni_int_shared::IntegrationSystemId;
use avni_int_tests::fleet::TestApp;
use serde_json::json;
use std::time::Duration;

const DEFS: &[ErrorTypeDef] = &[
    ErrorTypeDef {
        name: "AddressNotFoundError",
        operator: Some(ComparisonOperator::Matches),
        comparison_value: Some("500.*Address.*not found.*"),
        follow_up: FollowUpStep::Internal,
        required_action: "Add the location in Avni, or correct it in Salesforce.",
    },
    ErrorTypeDef {
        name: "EntityIsDeleted",
        operator: None,
        comparison_value: None,
        follow_up: FollowUpStep::Terminal,
        required_action: "None: the entity was deleted.",
    },
    ErrorTypeDef {
        name: "UnclassifiedError",
        operator: None,
        comparison_value: None,
        follow_up: FollowUpStep::Process,
        required_action: "Triage the message and add a rule for it.",
    },
];

fn demand(id: &str) -> FailedEntity {
    FailedEntity::Integrating {
        entity_type: "Demand".into(),
        id: id.into(),
    }
}

async fn type_id(app: &TestApp, tenant: IntegrationSystemId, name: &str) -> i32 {
    errors::error_types(app.db.pool(), tenant)
        .await
        .unwrap()
        .into_iter()
        .find(|t| t.name == name)
        .unwrap()
        .id
}

async fn logs(app: &TestApp, tenant: IntegrationSystemId) -> Vec<(String, i32, String)> {
    sqlx::query_as(
        "SELECT r.entity_id, l.error_type_id, l.error_msg FROM error_record_log l
           JOIN error_record r ON r.id = l.error_record_id
          WHERE r.integration_system_id = $1 ORDER BY l.id",
    )
    .bind(tenant)
    .fetch_all(app.db.pool())
    .await
    .unwrap()
}

#[tokio::test]
async fn seeding_adds_missing_types_with_required_actions_and_never_overwrites_rules() {
    let app = TestApp::new().await;
    let tenant = app.add_probe_tenant(&[]).await;
    // An admin's own rule for one of the names, without a required action.
    sqlx::query(
        "INSERT INTO error_type (name, integration_system_id, comparison_operator, comparison_value, follow_up_step, uuid)
         VALUES ('AddressNotFoundError', $1, '1', 'Address', '2', 'u-1')",
    )
    .bind(tenant)
    .execute(app.db.pool())
    .await
    .unwrap();
    errors::seed_error_types(app.db.pool(), tenant, DEFS)
        .await
        .unwrap();
    errors::seed_error_types(app.db.pool(), tenant, DEFS)
        .await
        .unwrap();
    let types = errors::error_types(app.db.pool(), tenant).await.unwrap();
    assert_eq!(types.len(), 3, "seeding twice adds nothing twice");
    let address = &types[0];
    assert_eq!(
        address.operator,
        Some(ComparisonOperator::Contains),
        "admin rule kept"
    );
    assert_eq!(
        address.required_action.as_deref(),
        Some("Add the location in Avni, or correct it in Salesforce.")
    );
    let classifier = Classifier::new(types, true);
    assert_eq!(
        classifier.classify("weird").unwrap().name,
        "UnclassifiedError"
    );
}

#[tokio::test]
async fn the_original_record_and_log_rules_hold_per_tenant() {
    let app = TestApp::new().await;
    let a = app.add_probe_tenant(&[]).await;
    let b = app.add_probe_tenant(&[]).await;
    errors::seed_error_types(app.db.pool(), a, DEFS)
        .await
        .unwrap();
    errors::seed_error_types(app.db.pool(), b, DEFS)
        .await
        .unwrap();
    let address_a = type_id(&app, a, "AddressNotFoundError").await;
    let unclassified_a = type_id(&app, a, "UnclassifiedError").await;
    let address_b = type_id(&app, b, "AddressNotFoundError").await;
    let payload = json!({"DemandId": "D-1", "State": "Nowhere"});

    let mut conn = app.db.pool().acquire().await.unwrap();
    let msg = r#"500 : "Address Nowhere not found""#;
    errors::record(&mut conn, a, &demand("D-1"), address_a, msg, Some(&payload))
        .await
        .unwrap();
    // Same type and message: no new log.
    errors::record(&mut conn, a, &demand("D-1"), address_a, msg, Some(&payload))
        .await
        .unwrap();
    assert_eq!(logs(&app, a).await.len(), 1);
    // Another message: a new log on the same record.
    errors::record(&mut conn, a, &demand("D-1"), unclassified_a, "boom", None)
        .await
        .unwrap();
    assert_eq!(logs(&app, a).await.len(), 2);
    // The same entity id in tenant B is a separate record.
    errors::record(&mut conn, b, &demand("D-1"), address_b, msg, None)
        .await
        .unwrap();
    let records: i64 = sqlx::query_scalar("SELECT count(*) FROM error_record")
        .fetch_one(app.db.pool())
        .await
        .unwrap();
    assert_eq!(records, 2);
    let body: serde_json::Value = sqlx::query_scalar(
        "SELECT l.error_body FROM error_record_log l JOIN error_record r ON r.id = l.error_record_id
          WHERE r.integration_system_id = $1 ORDER BY l.id LIMIT 1",
    )
    .bind(a)
    .fetch_one(app.db.pool())
    .await
    .unwrap();
    assert_eq!(body, payload, "the payload is kept");

    // Synced in tenant B: only B's record goes.
    assert!(errors::clear(&mut conn, b, &demand("D-1")).await.unwrap());
    assert_eq!(logs(&app, a).await.len(), 2);
    assert!(logs(&app, b).await.is_empty());
    assert!(!errors::clear(&mut conn, b, &demand("D-1")).await.unwrap());
}

#[tokio::test]
async fn the_error_job_sees_due_retried_records_with_backoff_and_gives_up_after_the_limit() {
    let app = TestApp::new().await;
    let tenant = app.add_probe_tenant(&[]).await;
    errors::seed_error_types(app.db.pool(), tenant, DEFS)
        .await
        .unwrap();
    let retried = type_id(&app, tenant, "UnclassifiedError").await;
    let terminal = type_id(&app, tenant, "EntityIsDeleted").await;
    let mut conn = app.db.pool().acquire().await.unwrap();
    for i in 0..25 {
        errors::record(
            &mut conn,
            tenant,
            &demand(&format!("D-{i}")),
            retried,
            "boom",
            None,
        )
        .await
        .unwrap();
    }
    errors::record(
        &mut conn,
        tenant,
        &demand("gone"),
        terminal,
        "deleted",
        None,
    )
    .await
    .unwrap();

    // Keyset paging by id sees every record once, Terminal never.
    let mut seen = Vec::new();
    let mut after = 0;
    loop {
        let page = errors::due_for_retry(app.db.pool(), tenant, after, 10)
            .await
            .unwrap();
        let Some(last) = page.last() else { break };
        after = last.id;
        seen.extend(page.into_iter().map(|r| r.entity_id));
    }
    assert_eq!(seen.len(), 25);
    assert!(!seen.contains(&"gone".to_owned()));

    let first = errors::due_for_retry(app.db.pool(), tenant, 0, 1)
        .await
        .unwrap()[0]
        .clone();
    let gave_up = errors::retry_failed(
        &mut conn,
        tenant,
        first.id,
        Duration::from_secs(60),
        Duration::from_secs(3600),
        2,
    )
    .await
    .unwrap();
    assert!(!gave_up);
    let due: Vec<String> = errors::due_for_retry(app.db.pool(), tenant, 0, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.entity_id)
        .collect();
    assert!(!due.contains(&first.entity_id), "backing off: not due yet");
    let gave_up = errors::retry_failed(
        &mut conn,
        tenant,
        first.id,
        Duration::from_secs(60),
        Duration::from_secs(3600),
        2,
    )
    .await
    .unwrap();
    assert!(gave_up, "second failure reaches the limit of 2");
    let (disabled, retries): (bool, i32) =
        sqlx::query_as("SELECT processing_disabled, retry_count FROM error_record WHERE id = $1")
            .bind(first.id)
            .fetch_one(app.db.pool())
            .await
            .unwrap();
    assert!(disabled, "given up records show as disabled");
    assert_eq!(retries, 2);
}
