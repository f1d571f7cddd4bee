//! The Goonj error types no other test reaches (contracts/goonj.md §5): for each, the bad
//! record that the sync classifies as it (payload kept, required action shown, the job still
//! succeeding), the derived healthchecks its follow-up step trips, the error job retrying it
//! while the data stays bad, and clearing it once the data is fixed.

use avni_int_shared::JobKind;
use avni_int_tests::fleet::PING_KEY;
use avni_int_tests::goonj_world::{world, ErrorRow, GoonjWorld};
use avni_int_tests::sim::avni::{SeedEncounter, SeedSubject};
use chrono::{Duration, Utc};
use serde_json::{json, Map, Value};

fn obs(value: Value) -> Map<String, Value> {
    value.as_object().cloned().unwrap()
}

/// The only error of the tenant.
async fn only_error(w: &GoonjWorld) -> ErrorRow {
    let mut errors = w.errors().await;
    assert_eq!(errors.len(), 1, "{errors:?}");
    errors.remove(0)
}

/// (retry_count, given up) of the tenant's error record for `entity_id`.
async fn retry_state(w: &GoonjWorld, entity_id: &str) -> (i32, bool) {
    sqlx::query_as(
        "SELECT retry_count, gave_up_at IS NOT NULL
           FROM error_record WHERE integration_system_id = $1 AND entity_id = $2",
    )
    .bind(w.tenant)
    .bind(entity_id)
    .fetch_one(w.app.db.pool())
    .await
    .unwrap()
}

/// Salesforce requests whose query holds `param` (the error job's single fetches).
fn fetches(w: &GoonjWorld, param: &str) -> usize {
    w.salesforce
        .recorded()
        .iter()
        .filter(|r| r.query.as_deref().unwrap_or_default().contains(param))
        .count()
}

/// How a follow-up step shows in the derived healthchecks after a main run (§6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FollowUp {
    /// Retried; trips neither check.
    Process,
    /// Retried; trips `goonj-salesforce`.
    External,
}

/// Waits for the derived pings of the main run just made and checks them against `follow_up`.
async fn assert_pings(w: &GoonjWorld, follow_up: FollowUp) {
    let integration = format!("/{PING_KEY}/goonj-integration");
    let salesforce = format!("/{PING_KEY}/goonj-salesforce");
    let salesforce_expected = match follow_up {
        FollowUp::Process => salesforce.clone(),
        FollowUp::External => format!("{salesforce}/fail"),
    };
    let paths = avni_int_tests::poll::until(
        "the derived healthchecks of the main run",
        std::time::Duration::from_secs(10),
        || async {
            let paths = w.app.healthchecks.paths();
            let pinged = |p: &str| paths.iter().any(|q| q.starts_with(p));
            (pinged(&integration) && pinged(&salesforce)).then_some(paths)
        },
    )
    .await;
    assert!(
        paths.contains(&integration),
        "nothing for the Avni side to fix: {paths:?}"
    );
    assert!(paths.contains(&salesforce_expected), "{paths:?}");
    assert_eq!(
        paths.iter().filter(|p| p.starts_with(&salesforce)).count(),
        1
    );
}

async fn retry_now(w: &GoonjWorld) {
    w.app
        .set_config(w.tenant, "error_retry_base_secs", "0")
        .await;
    assert_eq!(w.run_job(JobKind::Error).await, "succeeded");
}

#[tokio::test]
async fn a_coded_answer_mapped_to_no_avni_value_is_answer_mapping_is_null_until_mapped() {
    let w = world("GoonjDemand").await;
    w.avni
        .add_concept("Type of Disaster", Some(&["Flood", "Cyclone"]));
    // The answer row exists, but was saved without its Avni answer (legacy data, an import).
    w.add_mappings(
        "Demand",
        &[("TypeOfDisaster", "Type of Disaster"), ("Flood", "")],
    )
    .await;
    sqlx::query(
        "UPDATE mapping_metadata SET data_type_hint = 'Coded'
          WHERE integration_system_id = $1 AND int_system_value = 'TypeOfDisaster'",
    )
    .bind(w.tenant)
    .execute(w.app.db.pool())
    .await
    .unwrap();
    let id = "a0B000000000NULLMAP";
    w.salesforce.seed_demand(json!({
        "DemandId": id, "DemandName": "Flood kits", "State": "Bihar", "District": "Patna",
        "TargetCommunity": "Rural", "IsVoided": false, "TypeOfDisaster": "Flood",
        "LastUpdatedDateTime": (Utc::now() - Duration::hours(3)).to_rfc3339(),
    }));

    assert_eq!(w.run_main_job().await, "succeeded");
    let (entity, error_type, message, payload, action) = only_error(&w).await;
    assert_eq!(entity, id);
    assert_eq!(error_type, "AnswerMappingIsNull", "{message}");
    assert_eq!(
        message,
        "Answer Mapping is null for coded concept answer field: TypeOfDisaster, value: Flood"
    );
    assert_eq!(payload["DemandName"], "Flood kits", "the payload is kept");
    assert!(action.unwrap_or_default().contains("map it"));
    assert!(w.avni.subject(id).is_none(), "nothing half-mapped is sent");
    assert_pings(&w, FollowUp::External).await;

    // External is retried: fetched again alone, failing the same way.
    retry_now(&w).await;
    assert_eq!(fetches(&w, &format!("demandId={id}")), 1);
    assert_eq!(only_error(&w).await.1, "AnswerMappingIsNull");
    assert_eq!(retry_state(&w, id).await, (1, false));

    sqlx::query(
        "UPDATE mapping_metadata SET avni_value = 'Flood'
          WHERE integration_system_id = $1 AND int_system_value = 'Flood'",
    )
    .bind(w.tenant)
    .execute(w.app.db.pool())
    .await
    .unwrap();
    retry_now(&w).await;
    assert!(w.errors().await.is_empty(), "the error is cleared");
    let subject = w.avni.subject(id).expect("the demand synced");
    assert_eq!(subject["observations"]["Type of Disaster"], "Flood");
}

#[tokio::test]
async fn a_demand_listing_no_target_community_is_target_community_is_null_until_filled() {
    let w = world("GoonjDemand").await;
    let at = Utc::now() - Duration::hours(3);
    let id = "a0B000000000NOCOMM";
    let demand = |community: Value, voided: bool, id: &str| {
        json!({
            "DemandId": id, "DemandName": "Winter kits", "State": "Bihar", "District": "Patna",
            "TargetCommunity": community, "IsVoided": voided,
            "LastUpdatedDateTime": at.to_rfc3339(),
        })
    };
    w.salesforce.seed_demand(demand(Value::Null, false, id));
    // Blank, and a withdrawn demand without one: only the live blank one is Goonj's to fill.
    w.salesforce
        .seed_demand(demand(json!(" ; "), false, "a0B000000000BLANKCOMM"));
    w.salesforce
        .seed_demand(demand(Value::Null, true, "a0B000000000VOIDCOMM"));

    assert_eq!(w.run_main_job().await, "succeeded");
    let errors = w.errors().await;
    assert_eq!(errors.len(), 2, "{errors:?}");
    for (entity, error_type, message, payload, action) in &errors {
        assert_eq!(
            error_type, "TargetCommunityIsNullError",
            "{entity}: {message}"
        );
        assert_eq!(message, "Target Community is null");
        assert_eq!(payload["DemandId"], entity.as_str(), "the payload is kept");
        assert!(payload["TargetCommunity"].is_null() || payload["TargetCommunity"] == " ; ");
        assert!(action
            .as_deref()
            .unwrap_or_default()
            .contains("Fill Target Community"));
    }
    assert!(w.avni.subject(id).is_none());
    assert_eq!(
        w.avni.subject("a0B000000000VOIDCOMM").unwrap()["Voided"],
        true
    );
    assert_pings(&w, FollowUp::External).await;

    retry_now(&w).await;
    assert_eq!(fetches(&w, &format!("demandId={id}")), 1);
    assert_eq!(retry_state(&w, id).await, (1, false), "External is retried");

    w.salesforce
        .seed_demand(demand(json!("Rural;Tribal"), false, id));
    retry_now(&w).await;
    let left: Vec<String> = w.errors().await.into_iter().map(|e| e.0).collect();
    assert_eq!(left, vec!["a0B000000000BLANKCOMM".to_owned()]);
    let subject = w.avni.subject(id).expect("the demand synced");
    assert_eq!(
        subject["observations"]["Target Community"],
        json!(["Rural", "Tribal"])
    );
}

#[tokio::test]
async fn dispatch_lines_that_are_not_a_list_are_a_class_cast_retried_until_fixed() {
    let w = world("GoonjDispatch").await;
    let id = "a0D5j0000CAST001EAG";
    let dispatch = |lines: Value| {
        json!({
            "DispatchStatusId": id, "DispatchStatusName": "Truck to Patna",
            "DispatchState": "Bihar", "DispatchDistrict": "Patna", "DispatchDate": "2023-05-30",
            "IsVoided": false, "DispatchLineItems": lines,
            "LastUpdatedDateTime": (Utc::now() - Duration::hours(3)).to_rfc3339(),
        })
    };
    // One line sent as an object instead of a list of one.
    w.salesforce
        .seed_dispatch(dispatch(json!({"DispatchLineItemId": "a0E5jCAST0001EAG"})));

    assert_eq!(w.run_main_job().await, "succeeded");
    let (entity, error_type, message, payload, action) = only_error(&w).await;
    assert_eq!(entity, id);
    assert_eq!(error_type, "ClassCastException", "{message}");
    assert_eq!(
        message,
        r#"ClassCastException: DispatchLineItems is not a list: {"DispatchLineItemId":"a0E5jCAST0001EAG"}"#
    );
    assert_eq!(payload["DispatchStatusName"], "Truck to Patna");
    assert!(action.unwrap_or_default().contains("wrong JSON type"));
    assert!(w.avni.subject(id).is_none());
    assert_pings(&w, FollowUp::Process).await;

    // Process is retried: fetched again alone, failing the same way.
    retry_now(&w).await;
    assert_eq!(fetches(&w, &format!("dispatchStatusId={id}")), 1);
    assert_eq!(only_error(&w).await.1, "ClassCastException");
    assert_eq!(retry_state(&w, id).await, (1, false));

    w.salesforce.seed_dispatch(dispatch(
        json!([{"DispatchLineItemId": "a0E5jCAST0001EAG"}]),
    ));
    retry_now(&w).await;
    assert!(w.errors().await.is_empty(), "{:?}", w.errors().await);
    let subject = w.avni.subject(id).expect("the dispatch synced");
    assert_eq!(
        subject["observations"]["Materials Dispatched"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
}

#[tokio::test]
async fn an_activity_count_that_is_not_a_number_is_a_class_cast_retried_until_fixed() {
    let w = world("AvniActivity").await;
    let id = w.avni.seed_subject(SeedSubject {
        location: Some(("Bihar".into(), "Patna".into())),
        observations: obs(json!({
            "Type of initiative": "CFW", "Number of Participants (Male)": "five",
            "Number of Participants (Female)": 6, "Number of Participants (Other)": 0
        })),
        created_at: Some(Utc::now() - Duration::days(1)),
        ..SeedSubject::new("Activity")
    });

    assert_eq!(w.run_main_job().await, "succeeded");
    let (entity, error_type, message, payload, action) = only_error(&w).await;
    assert_eq!(entity, id);
    assert_eq!(error_type, "ClassCastException", "{message}");
    assert_eq!(
        message,
        r#"ClassCastException: observation "Number of Participants (Male)" is not a whole number: "five""#
    );
    assert_eq!(payload["ID"], id.as_str(), "the Avni subject is kept");
    assert!(action.unwrap_or_default().contains("wrong JSON type"));
    assert!(w.salesforce.activity(&id).is_none());
    assert_pings(&w, FollowUp::Process).await;

    retry_now(&w).await;
    assert_eq!(only_error(&w).await.1, "ClassCastException");
    assert_eq!(retry_state(&w, &id).await, (1, false), "Process is retried");
    assert!(w.salesforce.activity(&id).is_none());

    assert!(w
        .avni
        .edit_subject(&id, obs(json!({"Number of Participants (Male)": 5}))));
    retry_now(&w).await;
    assert!(w.errors().await.is_empty(), "{:?}", w.errors().await);
    let sent = w
        .salesforce
        .activity(&id)
        .expect("the activity reached Salesforce");
    assert_eq!(sent["NoofparticipantsMaleCFW"], 5);
}

#[tokio::test]
async fn two_different_receipt_lines_for_one_dispatch_line_are_too_many_rows_until_deduplicated() {
    let w = world("AvniDispatchReceipt").await;
    w.add_mappings("Dispatch receipt", &[("Kit", "Kit")]).await;
    let yesterday = Utc::now() - Duration::days(1);
    let dispatch = w.avni.seed_subject(SeedSubject {
        external_id: Some("a0D5j000DSPROWS".into()),
        created_at: Some(yesterday),
        ..SeedSubject::new("Dispatch")
    });
    let line = |received: i64| {
        json!({
            "Dispatch Line Item Id": "a0D5j000DSPROWS-L1", "Type Of Material": "Kit",
            "Kit Name": "Family kit", "Quantity as per dispatch": 10,
            "Quantity matching": "No", "Quantity": received
        })
    };
    let receipt = w.avni.seed_encounter(SeedEncounter {
        encounter_date_time: Some(yesterday),
        observations: obs(json!({
            "Dispatch Status Id": "a0D5j000DSPROWS",
            "Dispatch Received Date": "2023-06-03T18:30:00.000Z",
            "Received Material": [line(8), line(9)]
        })),
        created_at: Some(yesterday),
        ..SeedEncounter::new("Dispatch receipt", &dispatch)
    });

    assert_eq!(w.run_main_job().await, "succeeded");
    let (entity, error_type, message, payload, action) = only_error(&w).await;
    assert_eq!(entity, receipt);
    assert_eq!(error_type, "TooManyRows", "{message}");
    assert_eq!(
        message,
        format!(
            "Subject IDs: a0D5j000DSPROWS, {dispatch}. Message: Received Material has too many \
             rows for Dispatch Line Item Id a0D5j000DSPROWS-L1: 2 different lines where one is \
             expected"
        )
    );
    assert_eq!(
        payload["ID"],
        receipt.as_str(),
        "the Avni encounter is kept"
    );
    assert!(action.unwrap_or_default().contains("de-duplicate"));
    assert!(w.salesforce.dispatch_receipt(&receipt).is_none());
    assert_pings(&w, FollowUp::Process).await;

    retry_now(&w).await;
    assert_eq!(only_error(&w).await.1, "TooManyRows");
    assert_eq!(
        retry_state(&w, &receipt).await,
        (1, false),
        "Process is retried"
    );

    assert!(w
        .avni
        .edit_encounter(&receipt, obs(json!({"Received Material": [line(9)]}))));
    retry_now(&w).await;
    assert!(w.errors().await.is_empty(), "{:?}", w.errors().await);
    let sent = w
        .salesforce
        .dispatch_receipt(&receipt)
        .expect("the receipt reached Salesforce");
    assert_eq!(
        sent["DispatchReceivedStatusLineItems"][0]["ReceivedQuantity"],
        9.0
    );
}
