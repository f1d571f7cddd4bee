//! The classified-error side of the admin API as the admin app and ops use it: error types
//! (enum names in JSON, ordinals in the table), the error log list with its searches and the
//! processingDisabled switch, and "retry now" — all scoped to the caller's tenant.

mod bad_input;
mod isolation;
mod log;
mod retry;
mod types;

use avni_int_shared::classify::{ComparisonOperator, FollowUpStep};
use avni_int_shared::store::errors::{self, ErrorTypeDef, FailedEntity};
use avni_int_shared::IntegrationSystemId;
use avni_int_tests::fleet::TestApp;
use serde_json::{json, Value};
use std::collections::BTreeSet;

const DEFS: &[ErrorTypeDef] = &[
    ErrorTypeDef {
        name: "AddressNotFound",
        operator: Some(ComparisonOperator::Contains),
        comparison_value: Some("address not found"),
        follow_up: FollowUpStep::Internal,
        required_action: "Add the location in Avni.",
    },
    ErrorTypeDef {
        name: "EntityIsDeleted",
        operator: None,
        comparison_value: None,
        follow_up: FollowUpStep::Terminal,
        required_action: "None: the entity was deleted.",
    },
];

fn keys(value: &Value) -> BTreeSet<String> {
    value.as_object().unwrap().keys().cloned().collect()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
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

async fn record(
    app: &TestApp,
    tenant: IntegrationSystemId,
    entity: FailedEntity,
    error_type: i32,
    message: &str,
) {
    let mut conn = app.db.pool().acquire().await.unwrap();
    errors::record(
        &mut conn,
        tenant,
        &entity,
        error_type,
        message,
        Some(&json!({"sent": message})),
    )
    .await
    .unwrap();
}

fn subject(id: &str) -> FailedEntity {
    FailedEntity::Avni {
        entity_type: "Subject".into(),
        id: id.into(),
    }
}

fn demand(id: &str) -> FailedEntity {
    FailedEntity::Integrating {
        entity_type: "Demand".into(),
        id: id.into(),
    }
}

/// Moves every log of `entity_id` of the tenant to `at` (a `timestamp` literal).
async fn log_at(app: &TestApp, tenant: IntegrationSystemId, entity_id: &str, at: &str) {
    sqlx::query(
        "UPDATE error_record_log l SET logged_at = $3::timestamp FROM error_record r
          WHERE r.id = l.error_record_id AND r.integration_system_id = $1 AND r.entity_id = $2",
    )
    .bind(tenant)
    .bind(entity_id)
    .bind(at)
    .execute(app.db.pool())
    .await
    .unwrap();
}

/// Two tenants with the same types and an overlapping entity id. Tenant A: SUBJ-1 (Internal,
/// 2024-01-10), DEM-22 (Internal 2024-02-05), DEM-300 (Internal, 2024-03-01, then Terminal);
/// tenant B: SUBJ-1.
struct World {
    app: TestApp,
    a: IntegrationSystemId,
    b: IntegrationSystemId,
    address_a: i32,
    deleted_a: i32,
    address_b: i32,
}

async fn world() -> World {
    let app = TestApp::new().await;
    let a = app.add_probe_tenant(&[]).await;
    let b = app.add_probe_tenant(&[]).await;
    for tenant in [a, b] {
        errors::seed_error_types(app.db.pool(), tenant, DEFS)
            .await
            .unwrap();
    }
    let address_a = type_id(&app, a, "AddressNotFound").await;
    let deleted_a = type_id(&app, a, "EntityIsDeleted").await;
    let address_b = type_id(&app, b, "AddressNotFound").await;
    record(
        &app,
        a,
        subject("SUBJ-1"),
        address_a,
        "500 address not found: X",
    )
    .await;
    log_at(&app, a, "SUBJ-1", "2024-01-10 08:00:00").await;
    record(
        &app,
        a,
        demand("DEM-22"),
        address_a,
        "500 address not found: Y",
    )
    .await;
    log_at(&app, a, "DEM-22", "2024-02-05 23:59:59").await;
    record(
        &app,
        a,
        demand("DEM-300"),
        address_a,
        "500 address not found: Z",
    )
    .await;
    log_at(&app, a, "DEM-300", "2024-03-01 00:00:00").await;
    record(&app, a, demand("DEM-300"), deleted_a, "deleted in Avni").await;
    record(
        &app,
        b,
        subject("SUBJ-1"),
        address_b,
        "500 address not found: B",
    )
    .await;
    World {
        app,
        a,
        b,
        address_a,
        deleted_a,
        address_b,
    }
}

fn entity_ids(page: &Value) -> Vec<String> {
    page["content"]
        .as_array()
        .unwrap()
        .iter()
        .map(|log| log["entityId"].as_str().unwrap().to_owned())
        .collect()
}

async fn error_jobs(app: &TestApp, tenant: IntegrationSystemId) -> Vec<(i64, String, String)> {
    sqlx::query_as(
        "SELECT id, kind, trigger FROM int_job WHERE integration_system_id = $1 ORDER BY id",
    )
    .bind(tenant)
    .fetch_all(app.db.pool())
    .await
    .unwrap()
}
