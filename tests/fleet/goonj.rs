//! The Goonj module against the Avni and Salesforce simulators.

use avni_int_tests::goonj_world::world;
use serde_json::json;

#[tokio::test]
async fn demands_land_in_avni_once_and_a_second_run_writes_nothing_new() {
    let w = world("GoonjDemand").await;
    let start = chrono::Utc::now() - chrono::Duration::days(2);
    let ids = w.salesforce.seed_demands(30, start);
    assert_eq!(w.run_main_job().await, "succeeded");
    assert_eq!(w.avni.subject_count(), 30);
    for id in &ids {
        let subject = w
            .avni
            .subject(id)
            .expect("every demand is a subject, by External ID");
        assert_eq!(subject["Subject type"], "Demand");
    }
    let writes_after_first = w
        .avni
        .writes()
        .iter()
        .filter(|r| r.path.starts_with("/api/subject"))
        .count();
    assert_eq!(writes_after_first, 30);

    assert_eq!(w.run_main_job().await, "succeeded");
    let writes_after_second = w
        .avni
        .writes()
        .iter()
        .filter(|r| r.path.starts_with("/api/subject"))
        .count();
    assert_eq!(
        writes_after_second, writes_after_first,
        "nothing new to write"
    );
    assert!(w.errors().await.is_empty());
}

#[tokio::test]
async fn bad_demands_become_classified_errors_with_payload_and_action_and_deletions_void() {
    let w = world("GoonjDemand").await;
    let start = chrono::Utc::now() - chrono::Duration::days(2);
    let good = w.salesforce.seed_demands(3, start);
    w.salesforce.seed_demand(json!({
        "DemandId": "a0B000000000BLANK", "DemandName": "No address", "State": "", "District": "",
        "IsVoided": "false", "LastUpdatedDateTime": (start + chrono::Duration::hours(1)).to_rfc3339(),
    }));
    w.salesforce.seed_demand(json!({
        "DemandId": "a0B000000000NOWHERE", "DemandName": "Unknown place", "State": "Atlantis",
        "District": "Deep", "IsVoided": false,
        "LastUpdatedDateTime": (start + chrono::Duration::hours(2)).to_rfc3339(),
    }));
    assert_eq!(
        w.run_main_job().await,
        "succeeded",
        "record failures do not fail the job"
    );
    let errors = w.errors().await;
    assert_eq!(errors.len(), 2, "{errors:?}");
    let blank = errors.iter().find(|e| e.0 == "a0B000000000BLANK").unwrap();
    assert_eq!(blank.1, "InvalidAddressError");
    assert_eq!(blank.3["DemandName"], "No address", "the payload is kept");
    assert!(blank
        .4
        .as_deref()
        .unwrap_or_default()
        .contains("State and District"));
    let nowhere = errors
        .iter()
        .find(|e| e.0 == "a0B000000000NOWHERE")
        .unwrap();
    assert_eq!(nowhere.1, "AddressNotFoundError", "{}", nowhere.2);

    // A deleted demand is voided in Avni on the next run.
    w.salesforce.delete_demand(&good[0]);
    assert_eq!(w.run_main_job().await, "succeeded");
    assert_eq!(w.avni.subject(&good[0]).unwrap()["Voided"], true);
}

#[tokio::test]
async fn salesforce_outages_are_retried_and_an_unknown_task_fails_the_job_clearly() {
    let w = world("GoonjDemand").await;
    w.salesforce
        .seed_demands(5, chrono::Utc::now() - chrono::Duration::days(1));
    w.salesforce.faults().update(|plan| {
        plan.fail_next = 1;
        plan.throttle_next = 1;
        plan.path_contains = Some("getDemands".into());
    });
    assert_eq!(w.run_main_job().await, "succeeded");
    assert_eq!(w.avni.subject_count(), 5);

    w.app
        .set_config(w.tenant, "int_tasks", "GoonjDemand,Demands")
        .await;
    assert_eq!(w.run_main_job().await, "failed");
    let jobs = w.app.jobs(w.tenant).await;
    let last = jobs.last().unwrap();
    assert!(
        last.last_error
            .as_deref()
            .unwrap_or_default()
            .contains("\"Demands\""),
        "{:?}",
        last.last_error
    );
}

#[tokio::test]
async fn a_gateway_that_keeps_failing_becomes_bad_gateway_errors_the_error_job_can_retry() {
    let w = world("GoonjDemand").await;
    let ids = w
        .salesforce
        .seed_demands(2, chrono::Utc::now() - chrono::Duration::days(1));
    // Avni's load balancer answers 502 to every write for longer than the client retries.
    w.avni.faults().update(|plan| {
        plan.fail_next = 1_000;
        plan.error_status = Some(502);
        plan.path_contains = Some("/api/subject".into());
    });
    assert_eq!(w.run_main_job().await, "succeeded");
    let errors = w.errors().await;
    assert_eq!(errors.len(), 2, "{errors:?}");
    for error in &errors {
        assert_eq!(error.1, "BadGateway", "{}", error.2);
        assert!(error.2.starts_with("502 Bad Gateway"), "{}", error.2);
    }

    // The gateway recovers; the error job re-syncs both.
    w.avni.faults().clear();
    w.app
        .set_config(w.tenant, "error_retry_base_secs", "0")
        .await;
    assert_eq!(
        w.run_job(avni_int_shared::JobKind::Error).await,
        "succeeded"
    );
    assert!(w.errors().await.is_empty());
    for id in &ids {
        assert!(w.avni.subject(id).is_some());
    }
}

#[tokio::test]
async fn adding_the_missing_answer_mapping_then_running_the_error_job_clears_the_error() {
    let w = world("GoonjDemand").await;
    w.seed_demand_with_unmapped_answer().await;
    assert_eq!(w.run_main_job().await, "succeeded");
    let errors = w.errors().await;
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].1, "AnswerMappingNotFoundForCodedConcept");
    assert_eq!(
        errors[0].2,
        "Answer Mapping entry not found for coded concept answer field: TypeOfDisaster"
    );
    assert!(errors[0]
        .4
        .as_deref()
        .unwrap_or_default()
        .contains("answer mapping"));
    assert!(w.avni.subject("a0B000000000FLOOD").is_none());

    // Ops add the answer mapping the action asks for; the error job retries.
    w.add_mappings("Demand", &[("Flood", "Flood")]).await;
    w.app
        .set_config(w.tenant, "error_retry_base_secs", "0")
        .await;
    assert_eq!(
        w.run_job(avni_int_shared::JobKind::Error).await,
        "succeeded"
    );
    assert!(w.errors().await.is_empty(), "the error is cleared");
    let subject = w
        .avni
        .subject("a0B000000000FLOOD")
        .expect("the demand synced");
    assert_eq!(subject["observations"]["Type of Disaster"], "Flood");
}

#[tokio::test]
async fn a_salesforce_login_outage_is_retried_like_any_other_call() {
    let w = world("GoonjDemand").await;
    w.salesforce
        .seed_demands(3, chrono::Utc::now() - chrono::Duration::days(1));
    w.salesforce.faults().update(|plan| {
        plan.fail_next = 1;
        plan.error_status = Some(503);
        plan.throttle_next = 1;
        plan.path_contains = Some("oauth2/token".into());
    });
    assert_eq!(
        w.run_main_job().await,
        "succeeded",
        "a 503 then a 429 from the login endpoint are an outage, not bad credentials"
    );
    assert_eq!(w.avni.subject_count(), 3);
}
