//! The Goonj error job and derived healthchecks (contracts/goonj.md §5, §6) against the Avni and
//! Salesforce simulators.

use avni_int_shared::store::errors::{self as error_store, FailedEntity};
use avni_int_shared::JobKind;
use avni_int_tests::fleet::PING_KEY;
use avni_int_tests::goonj_world::{world, GoonjWorld};
use avni_int_worker::goonj::errors::{ENTITY_IS_DELETED, GOONJ_ERROR_TYPES};
use serde_json::json;
use std::time::Duration;

/// A demand in a place Avni does not know: `AddressNotFoundError` (Internal).
fn seed_demand_nowhere(w: &GoonjWorld, id: &str) {
    let at = chrono::Utc::now() - chrono::Duration::hours(3);
    w.salesforce.seed_demand(json!({
        "DemandId": id, "DemandName": "Relief kits - Deep", "State": "Atlantis",
        "District": "Deep", "TargetCommunity": "Rural", "IsVoided": "false",
        "LastUpdatedDateTime": at.to_rfc3339(),
    }));
}

/// Salesforce single fetches of one demand so far.
fn demand_fetches(w: &GoonjWorld, id: &str) -> usize {
    let wanted = format!("demandId={id}");
    w.salesforce
        .recorded()
        .iter()
        .filter(|r| r.path.ends_with("DemandService/getDemands"))
        .filter(|r| r.query.as_deref().unwrap_or_default().contains(&wanted))
        .count()
}

/// (retry_count, processing_disabled, given up) of the tenant's record for `entity_id`.
async fn retry_state(w: &GoonjWorld, entity_id: &str) -> (i32, bool, bool) {
    sqlx::query_as(
        "SELECT retry_count, coalesce(processing_disabled, false), gave_up_at IS NOT NULL
           FROM error_record WHERE integration_system_id = $1 AND entity_id = $2",
    )
    .bind(w.tenant)
    .bind(entity_id)
    .fetch_one(w.app.db.pool())
    .await
    .unwrap()
}

/// (entity id, error type) of every log of the tenant; unlike `GoonjWorld::errors`, logs
/// without a payload (`EntityIsDeleted`) are read too.
async fn logs(w: &GoonjWorld) -> Vec<(String, String)> {
    sqlx::query_as(
        "SELECT r.entity_id, t.name FROM error_record r
           JOIN error_record_log l ON l.error_record_id = r.id
           JOIN error_type t ON t.id = l.error_type_id
          WHERE r.integration_system_id = $1 ORDER BY l.id",
    )
    .bind(w.tenant)
    .fetch_all(w.app.db.pool())
    .await
    .unwrap()
}

async fn record_error(w: &GoonjWorld, entity: &FailedEntity, type_name: &str, message: &str) {
    let pool = w.app.db.pool();
    error_store::seed_error_types(pool, w.tenant, GOONJ_ERROR_TYPES)
        .await
        .unwrap();
    let type_id = error_store::error_types(pool, w.tenant)
        .await
        .unwrap()
        .into_iter()
        .find(|t| t.name == type_name)
        .unwrap()
        .id;
    let mut conn = pool.acquire().await.unwrap();
    error_store::record(&mut conn, w.tenant, entity, type_id, message, None)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_demand_failing_on_a_missing_location_syncs_once_avni_has_the_location() {
    let w = world("GoonjDemand").await;
    let id = "a0B000000000NOWHERE";
    seed_demand_nowhere(&w, id);
    assert_eq!(w.run_main_job().await, "succeeded");
    let errors = w.errors().await;
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].1, "AddressNotFoundError", "{}", errors[0].2);
    assert!(w.avni.subject(id).is_none());

    w.avni.add_location("Atlantis", "Deep");
    assert_eq!(w.run_job(JobKind::Error).await, "succeeded");
    assert_eq!(
        demand_fetches(&w, id),
        1,
        "fetched again alone, by demandId"
    );
    assert!(w.errors().await.is_empty(), "the error record is gone");
    let subject = w.avni.subject(id).expect("the demand is in Avni now");
    assert_eq!(subject["Subject type"], "Demand");
}

#[tokio::test]
async fn a_demand_deleted_in_salesforce_meanwhile_loses_its_error_record() {
    let w = world("GoonjDemand").await;
    let id = "a0B000000000DELETED";
    seed_demand_nowhere(&w, id);
    assert_eq!(w.run_main_job().await, "succeeded");
    assert_eq!(w.errors().await.len(), 1);

    w.salesforce.delete_demand(id);
    let avni_writes = w.avni.writes().len();
    assert_eq!(w.run_job(JobKind::Error).await, "succeeded");
    assert_eq!(demand_fetches(&w, id), 1);
    assert!(w.errors().await.is_empty(), "{:?}", w.errors().await);
    assert_eq!(w.avni.writes().len(), avni_writes, "nothing sent to Avni");
    assert!(w.avni.subject(id).is_none());
}

#[tokio::test]
async fn terminal_errors_are_never_retried_and_a_missing_avni_entity_becomes_terminal() {
    let w = world("GoonjDemand").await;
    // A demand whose last log is Terminal, and an activity Avni no longer has.
    let terminal_demand = "a0B000000000TERMINAL";
    seed_demand_nowhere(&w, terminal_demand);
    let demand = FailedEntity::Integrating {
        entity_type: "Demand".into(),
        id: terminal_demand.into(),
    };
    record_error(&w, &demand, ENTITY_IS_DELETED, "gone").await;
    let activity_id = uuid::Uuid::new_v4().to_string();
    let activity = FailedEntity::Integrating {
        entity_type: "Activity".into(),
        id: activity_id.clone(),
    };
    record_error(
        &w,
        &activity,
        "UnclassifiedError",
        "500 : \"something odd\"",
    )
    .await;

    assert_eq!(w.run_job(JobKind::Error).await, "succeeded");
    assert_eq!(
        demand_fetches(&w, terminal_demand),
        0,
        "Terminal: not tried"
    );
    let errors = logs(&w).await;
    let activity_logs: Vec<_> = errors.iter().filter(|e| e.0 == activity_id).collect();
    assert_eq!(activity_logs.len(), 2, "{errors:?}");
    assert!(
        activity_logs.iter().any(|e| e.1 == ENTITY_IS_DELETED),
        "{errors:?}"
    );
    assert!(errors.iter().any(|e| e.0 == terminal_demand));
    let avni_requests = w.avni.requests();
    assert!(avni_requests > 0, "the activity was looked up in Avni");

    // Both records now end in a Terminal log: a second run calls nobody for them.
    assert_eq!(w.run_job(JobKind::Error).await, "succeeded");
    assert_eq!(w.avni.requests(), avni_requests, "no Avni call");
    assert_eq!(demand_fetches(&w, terminal_demand), 0);
    assert_eq!(logs(&w).await.len(), 3, "the records stay, for ops to see");
}

#[tokio::test]
async fn after_its_maximum_attempts_a_record_is_disabled_and_no_longer_retried() {
    let w = world("GoonjDemand").await;
    w.app
        .set_config(w.tenant, "error_retry_max_attempts", "1")
        .await;
    w.app
        .set_config(w.tenant, "error_retry_base_secs", "0")
        .await;
    let id = "a0B000000000GIVEUP";
    seed_demand_nowhere(&w, id);
    assert_eq!(w.run_main_job().await, "succeeded");
    assert_eq!(retry_state(&w, id).await, (0, false, false));

    assert_eq!(w.run_job(JobKind::Error).await, "succeeded");
    assert_eq!(demand_fetches(&w, id), 1);
    assert_eq!(
        retry_state(&w, id).await,
        (1, true, true),
        "given up and disabled"
    );
    let errors = w.errors().await;
    assert_eq!(
        errors.len(),
        1,
        "the same failure bumps its log: {errors:?}"
    );
    assert_eq!(errors[0].1, "AddressNotFoundError");

    assert_eq!(w.run_job(JobKind::Error).await, "succeeded");
    assert_eq!(demand_fetches(&w, id), 1, "not retried again");
    assert_eq!(retry_state(&w, id).await, (1, true, true));
}

fn count(paths: &[String], path: &str) -> usize {
    paths.iter().filter(|p| *p == path).count()
}

async fn wait_for_ping(w: &GoonjWorld, path: &str, times: usize) -> Vec<String> {
    avni_int_tests::poll::until(
        &format!("{times} ping(s) {path}"),
        Duration::from_secs(10),
        || async {
            let paths = w.app.healthchecks.paths();
            (count(&paths, path) >= times).then_some(paths)
        },
    )
    .await
}

#[tokio::test]
async fn derived_healthchecks_fail_on_new_internal_errors_and_recover_on_a_clean_run() {
    let w = world("GoonjDemand").await;
    let integration = format!("/{PING_KEY}/goonj-integration");
    let integration_fail = format!("{integration}/fail");
    let salesforce = format!("/{PING_KEY}/goonj-salesforce");
    let salesforce_fail = format!("{salesforce}/fail");

    seed_demand_nowhere(&w, "a0B000000000INTERNAL");
    w.salesforce
        .seed_demands(2, chrono::Utc::now() - chrono::Duration::days(1));
    assert_eq!(w.run_main_job().await, "succeeded");
    wait_for_ping(&w, &integration_fail, 1).await;
    let paths = wait_for_ping(&w, &salesforce, 1).await;
    assert_eq!(count(&paths, &integration), 0, "{paths:?}");
    assert_eq!(count(&paths, &salesforce_fail), 0, "{paths:?}");

    // The error job retries it (logging it again) and moves the marker without pinging.
    assert_eq!(w.run_job(JobKind::Error).await, "succeeded");
    assert_eq!(w.errors().await.len(), 1);

    // A clean main run: nothing new since the marker.
    assert_eq!(w.run_main_job().await, "succeeded");
    let paths = wait_for_ping(&w, &integration, 1).await;
    let paths = if count(&paths, &salesforce) < 2 {
        wait_for_ping(&w, &salesforce, 2).await
    } else {
        paths
    };
    assert_eq!(
        count(&paths, &integration_fail),
        1,
        "only the first run failed it, the error job pinged nothing: {paths:?}"
    );
    assert_eq!(count(&paths, &salesforce_fail), 0, "{paths:?}");
}

#[tokio::test]
async fn dispatches_and_inventories_are_fetched_again_and_synced_or_cleared() {
    let w = world("GoonjDispatch,GoonjInventory").await;
    for concept in [
        "Materials Dispatched",
        "Loading And Truck Images",
        "InvalidPhotographURLsReceived",
        "Implementation Inventory Id",
    ] {
        w.avni.add_concept(concept, None);
    }
    let at = chrono::Utc::now() - chrono::Duration::hours(3);
    let dispatch_id = "a0D5jNOWHERE00001EAG";
    w.salesforce.seed_dispatch(json!({
        "DispatchStatusId": dispatch_id, "DispatchStatusName": "Truck to Deep",
        "DispatchState": "Atlantis", "DispatchDistrict": "Deep",
        "DispatchDate": "2023-05-30", "IsVoided": false,
        "LastUpdatedDateTime": at.to_rfc3339(),
        "DispatchLineItems": [{"DispatchLineItemId": "a0E5jLINE0000001EAG"}],
    }));
    // An inventory without a district: InvalidAddressError before anything is sent.
    let inventory_id = "a0I5jBLANK0000001EAG";
    w.salesforce.seed_inventory(json!({
        "ImplementationInventoryId": inventory_id, "ImplementationInventoryName": "II-000001",
        "CenterFieldOfficeState": "Bihar", "CenterFieldOfficeDistrict": null,
        "CreatedDate": at.to_rfc3339(), "LastModifiedDate": at.to_rfc3339(),
        "IsVoided": "false", "ItemName": "Rice", "Unit": "Kg", "CurrentQuantity": 5,
    }));
    assert_eq!(w.run_main_job().await, "succeeded");
    let errors = logs(&w).await;
    assert!(
        errors.contains(&(dispatch_id.to_owned(), "AddressNotFoundError".to_owned())),
        "{errors:?}"
    );
    assert!(
        errors.contains(&(inventory_id.to_owned(), "InvalidAddressError".to_owned())),
        "{errors:?}"
    );

    w.avni.add_location("Atlantis", "Deep");
    w.salesforce.delete_inventory(inventory_id);
    assert_eq!(w.run_job(JobKind::Error).await, "succeeded");
    let fetched = |param: &str| {
        w.salesforce
            .recorded()
            .iter()
            .any(|r| r.query.as_deref().unwrap_or_default().contains(param))
    };
    assert!(fetched(&format!("dispatchStatusId={dispatch_id}")));
    assert!(fetched(&format!("inventoryId={inventory_id}")));
    assert!(logs(&w).await.is_empty(), "{:?}", logs(&w).await);
    let dispatch = w
        .avni
        .subject(dispatch_id)
        .expect("the dispatch is in Avni now");
    assert_eq!(dispatch["Subject type"], "Dispatch");
    assert!(w.avni.subject(inventory_id).is_none());
}
