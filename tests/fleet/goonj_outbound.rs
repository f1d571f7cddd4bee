//! Avni → Salesforce (contracts/goonj.md §4): activities, distributions and dispatch receipts
//! read from the Avni simulator and upserted into the Goonj Salesforce simulator.

use avni_int_tests::goonj_world::{receipt_observations, world, GoonjWorld};
use avni_int_tests::sim::avni::{SeedEncounter, SeedSubject};
use avni_int_tests::sim::goonj::Rejection;
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Map, Value};

const TASKS: &str = "AvniActivity,AvniDistribution,AvniDispatchReceipt";
const MEDIA_PREFIX: &str = "https://staging.avniproject.org/web/media?url=";

fn obs(value: Value) -> Map<String, Value> {
    value.as_object().cloned().unwrap()
}

/// Well inside Avni's read window (the client reads up to 10 s before now).
fn yesterday() -> DateTime<Utc> {
    Utc::now() - Duration::days(1)
}

fn cfw_activity(activity_type: &str) -> SeedSubject {
    SeedSubject {
        location: Some(("Bihar".into(), "Patna".into())),
        observations: obs(json!({
            "Type of initiative": "CFW", "Account  name": "Gram Sabha Patna",
            "Activity Start Date": "2023-05-31T18:30:00.000Z",
            "Activity End Date": "2023-06-01T20:00:00.000Z",
            "Activity Conducted With Students": ["Drawing", "Plantation"],
            "Number of Participants (Male)": 5, "Number of Participants (Female)": 6,
            "Number of Participants (Other)": 0, "Activity Type": activity_type,
            "Before implementation": ["https://s3.example/a.jpg", "https://s3.example/b.jpg"]
        })),
        created_at: Some(yesterday()),
        created_by: Some("asha@goonj".into()),
        last_modified_by: Some("ravi@goonj".into()),
        ..SeedSubject::new("Activity")
    }
}

/// A `Dispatch` subject and its `Dispatch receipt` encounter; (encounter ID, subject ID).
fn seed_receipt(w: &GoonjWorld, dispatch_id: &str, type_of_material: &str) -> (String, String) {
    let subject = w.avni.seed_subject(SeedSubject {
        external_id: Some(dispatch_id.into()),
        created_at: Some(yesterday()),
        ..SeedSubject::new("Dispatch")
    });
    let encounter = w.avni.seed_encounter(SeedEncounter {
        encounter_date_time: Some(yesterday()),
        observations: receipt_observations(dispatch_id, type_of_material),
        created_at: Some(yesterday()),
        ..SeedEncounter::new("Dispatch receipt", &subject)
    });
    (encounter, subject)
}

/// Upsert requests the Salesforce simulator received.
fn upserts(w: &GoonjWorld) -> Vec<avni_int_tests::sim::goonj::RecordedRequest> {
    w.salesforce
        .writes()
        .into_iter()
        .filter(|r| r.path.contains("/upsert"))
        .collect()
}

#[tokio::test]
async fn each_kind_lands_once_with_converted_fields_and_a_second_run_writes_nothing_new() {
    let w = world(TASKS).await;
    w.add_mappings("Activity", &[("Pond Cleaning", "Pond cleaning")])
        .await;
    w.add_mappings("Dispatch receipt", &[("Kit", "Kit")]).await;
    let activity = w.avni.seed_subject(cfw_activity("Pond cleaning"));
    let inventory = w.avni.seed_subject(SeedSubject {
        external_id: Some("a0I5j000INV001".into()),
        observations: obs(json!({"Unit": "Kg"})),
        created_at: Some(yesterday()),
        ..SeedSubject::new("Inventory Item")
    });
    let distribution = w.avni.seed_subject(SeedSubject {
        location: Some(("Assam".into(), "Kamrup".into())),
        observations: obs(json!({
            "Type of initiative": "S2S", "Distribution Date": "2023-06-04T19:00:00.000Z",
            "Type of Educational Institute": "Government school",
            "Distribution Images": ["https://s3.example/d.jpg"],
            "Inventory details": [{"Inventory Id": inventory, "Distributed to": "Families",
                                   "Quantity": 4}],
            "Is the activity available for linking?": "Yes",
            "Activity details": [{"Activities Done": activity}]
        })),
        created_at: Some(yesterday()),
        ..SeedSubject::new("Distribution")
    });
    let (receipt, _) = seed_receipt(&w, "a0D5j000DSP001", "Kit");

    assert_eq!(w.run_main_job().await, "succeeded");
    assert!(w.errors().await.is_empty(), "{:?}", w.errors().await);

    assert_eq!(w.salesforce.activities().len(), 1);
    let a = w.salesforce.activity(&activity).expect("keyed by SourceId");
    assert_eq!(a["State"], "Bihar");
    assert_eq!(a["TypeofInitiative"], "CFW");
    assert_eq!(a["ActivityStartDate"], "2023-06-01", "UTC → IST date");
    assert_eq!(
        a["ActivityEndDate"], "2023-06-02",
        "20:00Z is the next day in IST"
    );
    assert_eq!(a["ActivityConductedWithStudents"], "Drawing;Plantation");
    assert_eq!(
        a["BeforeImplementationPhotograph"],
        format!("{MEDIA_PREFIX}https://s3.example/a.jpg;{MEDIA_PREFIX}https://s3.example/b.jpg")
    );
    assert_eq!(a["ActivityType"], "Pond Cleaning", "mapped by avni_value");
    assert_eq!(a["NoofparticipantsMaleCFW"], 5);
    assert_eq!(a["CreatedBy"], "asha@goonj");
    assert_eq!(a["ModifiedBy"], "ravi@goonj");
    assert!(a.get("Remarks").is_none(), "nulls are left out");

    assert_eq!(w.salesforce.distributions().len(), 1);
    let d = w.salesforce.distribution(&distribution).unwrap();
    assert_eq!(d["typeOfInitiative"], "Only S2S");
    assert_eq!(d["TypeOfSchool"], "Government school");
    assert_eq!(d["dateOfDistribution"], "2023-06-05");
    assert_eq!(
        d["photographInformation"],
        format!("{MEDIA_PREFIX}https://s3.example/d.jpg")
    );
    assert_eq!(d["accountCode"], Value::Null, "nulls are sent");
    assert_eq!(
        d["DistributionLines"],
        json!([{"sourceId": format!("{distribution}#a0I5j000INV001"),
                "distributedTo": "Families", "implementationInventoryId": "a0I5j000INV001",
                "avniImplementationInventory": inventory, "quantity": 4, "unit": "Kg"}])
    );
    assert_eq!(d["Activities"], json!([{"ActivitySourceId": activity}]));

    assert_eq!(w.salesforce.dispatch_receipts().len(), 1);
    let r = w.salesforce.dispatch_receipt(&receipt).unwrap();
    assert_eq!(r["DispatchStatusId"], "a0D5j000DSP001");
    assert_eq!(r["ReceivedDate"], "2023-06-04");
    assert_eq!(
        r["DispatchReceivedStatusLineItems"],
        json!([{"SourceId": "a0D5j000DSP001-L1", "DispatchStatusLineItem": "a0D5j000DSP001-L1",
                "TypeOfMaterial": "Kit", "ItemName": "Family kit",
                "DispatchedQuantity": 10.0, "ReceivedQuantity": 10.0}])
    );

    let writes = upserts(&w).len();
    assert_eq!(writes, 3, "one request per kind");
    assert_eq!(w.run_main_job().await, "succeeded");
    assert_eq!(upserts(&w).len(), writes, "nothing new to write");

    // An edit in Avni (stamped a minute ago, inside the read window) is sent again, to the
    // same Salesforce record.
    w.avni
        .set_now_override(Some(Utc::now() - Duration::minutes(1)));
    assert!(w
        .avni
        .edit_subject(&activity, obs(json!({"Remarks": "Checked"}))));
    w.avni.set_now_override(None);
    assert_eq!(w.run_main_job().await, "succeeded");
    assert_eq!(upserts(&w).len(), writes + 1);
    assert_eq!(w.salesforce.activities().len(), 1);
    assert_eq!(
        w.salesforce.activity(&activity).unwrap()["Remarks"],
        "Checked"
    );
}

#[tokio::test]
async fn more_than_a_page_of_activities_in_one_millisecond_all_sync() {
    // The incremental read asks Avni for 2000 per page (AvniConfig::page_size cannot be set
    // per tenant), so a page is overrun with 2100 records sharing one millisecond.
    let w = world("AvniActivity").await;
    let at = Utc::now() - Duration::hours(1);
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.extend(w.avni.seed_subjects_same_millisecond("Activity", 700, at));
    }
    assert_eq!(w.run_main_job().await, "succeeded");
    let synced = w.salesforce.activities();
    assert_eq!(synced.len(), ids.len(), "every record of the millisecond");
    for id in [&ids[0], &ids[1_000], &ids[2_099]] {
        assert!(w.salesforce.activity(id).is_some(), "{id}");
    }
    let requests = upserts(&w);
    assert!(
        requests.iter().all(|r| r.body["Activities"]
            .as_array()
            .is_some_and(|l| l.len() <= 200)),
        "batches of at most 200"
    );
    // Each record once, unless a slow run lost its lease and a rescued attempt re-sent a batch
    // (idempotent, and possible on a loaded test machine).
    let sent: std::collections::HashSet<&str> = requests
        .iter()
        .filter_map(|r| r.body["Activities"].as_array())
        .flatten()
        .filter_map(|a| a["SourceId"].as_str())
        .collect();
    assert_eq!(sent.len(), ids.len());

    assert_eq!(w.run_main_job().await, "succeeded");
    assert_eq!(upserts(&w).len(), requests.len(), "nothing new to write");
    assert!(w.errors().await.is_empty());
}

#[tokio::test]
async fn a_picklist_rejection_lands_on_its_record_and_the_rest_of_the_batch_syncs() {
    let w = world(TASKS).await;
    w.add_mappings("Activity", &[("Pond Cleaning", "Pond cleaning")])
        .await;
    w.add_mappings("Activity", &[("Digging!", "Digging")]).await;
    w.salesforce
        .reject_when(Rejection::picklist("ActivityType", "Digging!"));
    let good: Vec<String> = (0..4)
        .map(|_| w.avni.seed_subject(cfw_activity("Pond cleaning")))
        .collect();
    let bad = w.avni.seed_subject(cfw_activity("Digging"));

    assert_eq!(w.run_main_job().await, "succeeded");
    assert_eq!(w.salesforce.activities().len(), 4);
    for id in &good {
        assert!(w.salesforce.activity(id).is_some());
    }
    assert!(w.salesforce.activity(&bad).is_none());
    let requests = upserts(&w);
    assert_eq!(
        requests[0].body["Activities"].as_array().map(Vec::len),
        Some(5),
        "one batch first"
    );
    assert_eq!(requests.len(), 1 + 5, "then one request per record");

    let errors = w.errors().await;
    assert_eq!(errors.len(), 1, "{errors:?}");
    let (entity, error_type, message, payload, action) = &errors[0];
    assert_eq!(entity, &bad);
    assert_eq!(error_type, "BadValueForRestrictedPicklist", "{message}");
    assert!(
        message.contains("bad value for restricted picklist field: Digging!"),
        "{message}"
    );
    assert_eq!(payload["Activities"][0]["SourceId"], bad.as_str());
    assert_eq!(payload["Activities"][0]["ActivityType"], "Digging!");
    assert_eq!(payload["Activities"].as_array().map(Vec::len), Some(1));
    assert!(action.is_some());
    let entity_type: String = sqlx::query_scalar(
        "SELECT integrating_entity_type FROM error_record WHERE integration_system_id = $1",
    )
    .bind(w.tenant)
    .fetch_one(w.app.db.pool())
    .await
    .unwrap();
    assert_eq!(entity_type, "Activity");
}

#[tokio::test]
async fn the_error_job_resends_a_rejected_activity_once_salesforce_accepts_it() {
    let w = world(TASKS).await;
    w.add_mappings("Activity", &[("Digging!", "Digging")]).await;
    w.salesforce
        .reject_when(Rejection::picklist("ActivityType", "Digging!"));
    let bad = w.avni.seed_subject(cfw_activity("Digging"));
    assert_eq!(w.run_main_job().await, "succeeded");
    assert_eq!(w.errors().await.len(), 1);
    assert!(w.salesforce.activity(&bad).is_none());

    // Goonj extends the picklist; the error job retries the record.
    w.salesforce.clear_rejections();
    assert_eq!(
        w.run_job(avni_int_shared::JobKind::Error).await,
        "succeeded"
    );
    assert!(w.errors().await.is_empty(), "the error record is gone");
    let sent = w
        .salesforce
        .activity(&bad)
        .expect("the activity reached Salesforce");
    assert_eq!(sent["ActivityType"], "Digging!");
}

#[tokio::test]
async fn voided_or_undated_records_are_skipped_and_count_as_success() {
    let w = world(TASKS).await;
    w.add_mappings("Dispatch receipt", &[("Kit", "Kit")]).await;
    let voided = w.avni.seed_subject(SeedSubject {
        voided: true,
        ..cfw_activity("Pond cleaning")
    });
    let kept = w.avni.seed_subject(cfw_activity("Pond cleaning"));
    let (dated, dispatch) = seed_receipt(&w, "a0D5j000DSP002", "Kit");
    // Only scheduled: no Encounter date time.
    let scheduled = w.avni.seed_encounter(SeedEncounter {
        observations: obs(json!({"Received Material": []})),
        created_at: Some(yesterday()),
        ..SeedEncounter::new("Dispatch receipt", &dispatch)
    });
    let voided_receipt = w.avni.seed_encounter(SeedEncounter {
        encounter_date_time: Some(yesterday()),
        voided: true,
        created_at: Some(yesterday()),
        ..SeedEncounter::new("Dispatch receipt", &dispatch)
    });

    assert_eq!(w.run_main_job().await, "succeeded");
    assert!(w.salesforce.activity(&voided).is_none());
    assert!(w.salesforce.activity(&kept).is_some());
    assert!(w.salesforce.dispatch_receipt(&dated).is_some());
    assert!(w.salesforce.dispatch_receipt(&scheduled).is_none());
    assert!(w.salesforce.dispatch_receipt(&voided_receipt).is_none());
    assert!(w.errors().await.is_empty(), "{:?}", w.errors().await);
}

#[tokio::test]
async fn a_receipt_without_a_type_of_material_mapping_fails_with_the_exact_message() {
    let w = world("AvniDispatchReceipt").await;
    w.app
        .set_config(w.tenant, "recreate_dispatch_receipt_enabled", "true")
        .await;
    w.add_mappings("Dispatch receipt", &[("Kit", "Kit")]).await;
    let (good, _) = seed_receipt(&w, "a0D5j000DSP003", "Kit");
    let (bad, bad_subject) = seed_receipt(&w, "a0D5j000DSP004", "Purchased item");

    assert_eq!(w.run_main_job().await, "succeeded");
    assert!(w.salesforce.dispatch_receipt(&good).is_some());
    assert!(w.salesforce.dispatch_receipt(&bad).is_none());
    let errors = w.errors().await;
    assert_eq!(errors.len(), 1, "{errors:?}");
    let (entity, error_type, message, payload, _) = &errors[0];
    assert_eq!(entity, &bad);
    assert_eq!(error_type, "UnclassifiedError");
    assert_eq!(
        message,
        &format!(
            "Subject IDs: a0D5j000DSP004, {bad_subject}. Message: \
             Type of Material not specified or Mapping not found for Dispatch Receipt"
        )
    );
    assert_eq!(payload["ID"], bad.as_str(), "the Avni encounter is kept");
    let entity_type: String = sqlx::query_scalar(
        "SELECT integrating_entity_type FROM error_record WHERE integration_system_id = $1",
    )
    .bind(w.tenant)
    .fetch_one(w.app.db.pool())
    .await
    .unwrap();
    assert_eq!(entity_type, "DispatchReceipt");

    // Recreate on: the receipts are deleted in Salesforce before being upserted.
    let writes = w.salesforce.writes();
    let delete = writes
        .iter()
        .position(|r| r.path.contains("deleteDispatchReceivedStatusService"))
        .expect("a deletion first");
    let upsert = writes
        .iter()
        .position(|r| r.path.contains("upsertDispatchReceivedStatus"))
        .unwrap();
    assert!(delete < upsert);
    assert_eq!(
        writes[delete].body,
        json!({"recordId": [], "sourceId": [good]})
    );
}

#[tokio::test]
async fn a_salesforce_outage_stops_the_step_without_error_records_and_the_next_run_catches_up() {
    let w = world("AvniActivity").await;
    let ids: Vec<String> = (0..3)
        .map(|_| w.avni.seed_subject(cfw_activity("Pond cleaning")))
        .collect();
    w.salesforce.faults().update(|plan| {
        plan.error_rate = 1.0;
        plan.error_status = Some(503);
        plan.path_contains = Some("upsertActivity".into());
    });
    assert_eq!(
        w.run_main_job().await,
        "failed",
        "the step reports the outage"
    );
    assert!(w.salesforce.activities().is_empty());
    assert!(
        w.errors().await.is_empty(),
        "an outage is no record's error"
    );

    w.salesforce.faults().clear();
    assert_eq!(w.run_main_job().await, "succeeded");
    for id in &ids {
        assert!(w.salesforce.activity(id).is_some(), "{id}");
    }
    assert!(w.errors().await.is_empty());
}

#[tokio::test]
async fn salesforce_validation_rules_and_duplicate_lines_are_classified_with_their_actions() {
    let w = world(TASKS).await;
    w.add_mappings("Dispatch receipt", &[("Kit", "Kit")]).await;
    w.salesforce.reject_when(Rejection::validation(
        "DispatchStatusId",
        "a0D5j000DSPBAD",
        "Received date cannot be before the dispatch date",
    ));
    let (invalid, _) = seed_receipt(&w, "a0D5j000DSPBAD", "Kit");
    // The same line twice: Salesforce refuses two identical elements.
    let dispatch = w.avni.seed_subject(SeedSubject {
        external_id: Some("a0D5j000DSPDUP".into()),
        created_at: Some(yesterday()),
        ..SeedSubject::new("Dispatch")
    });
    let line = json!({
        "Dispatch Line Item Id": "a0D5j000DSPDUP-L1", "Type Of Material": "Kit",
        "Kit Name": "Family kit", "Quantity as per dispatch": 10, "Quantity matching": "Yes"
    });
    let duplicated = w.avni.seed_encounter(SeedEncounter {
        encounter_date_time: Some(yesterday()),
        observations: obs(json!({
            "Dispatch Status Id": "a0D5j000DSPDUP",
            "Dispatch Received Date": "2023-06-03T18:30:00.000Z",
            "Received Material": [line.clone(), line]
        })),
        created_at: Some(yesterday()),
        ..SeedEncounter::new("Dispatch receipt", &dispatch)
    });
    let (fine, _) = seed_receipt(&w, "a0D5j000DSPOK", "Kit");

    assert_eq!(w.run_main_job().await, "succeeded");
    let errors = w.errors().await;
    let type_of = |id: &str| {
        errors
            .iter()
            .find(|e| e.0 == id)
            .map(|e| (e.1.clone(), e.2.clone(), e.4.clone()))
    };
    let (kind, message, action) = type_of(&invalid).expect("the invalid receipt has an error");
    assert_eq!(kind, "FieldCustomValidationException", "{message}");
    assert!(
        message.starts_with("Subject IDs: a0D5j000DSPBAD, "),
        "{message}"
    );
    assert!(action.unwrap_or_default().contains("validation rule"));
    let (kind, message, _) = type_of(&duplicated).expect("the duplicated receipt has an error");
    assert_eq!(kind, "MustNotHave2SimilarElements", "{message}");
    assert!(type_of(&fine).is_none());
    assert!(w.salesforce.dispatch_receipt(&fine).is_some());
}
