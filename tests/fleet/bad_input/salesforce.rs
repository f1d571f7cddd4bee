//! The Salesforce half of the corpus: every feed's garbled records and unreadable responses.

use super::{
    assert_error_job_keeps_keyless_errors, assert_failed_cleanly, assert_no_panic, error_log_count,
    huge, whole_seconds, Expect, Mutation,
};
use avni_int_tests::goonj_world::{world, GoonjWorld};
use avni_int_tests::sim::faults::FaultPlan;
use avni_int_tests::sim::goonj::{sf_datetime, GoonjSim};
use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use serde_json::{json, Value};

/// One Salesforce feed as the corpus sees it.
struct SfFeed {
    path: &'static str,
    list: &'static str,
    /// The other keys of a well-formed answer (its deletion lists).
    deletions: fn() -> Value,
    id_field: &'static str,
    ts_field: &'static str,
    name_field: &'static str,
    entity: &'static str,
    seed: fn(&GoonjSim, usize, DateTime<Utc>) -> Vec<String>,
    get: fn(&GoonjSim, &str) -> Option<Value>,
    /// (field, value Avni has no answer for): an unknown enum value.
    unknown_enum: (&'static str, &'static str),
}

const DEMAND: SfFeed = SfFeed {
    path: "getDemands",
    list: "Demands",
    deletions: || json!({"DeletedDemands": []}),
    id_field: "DemandId",
    ts_field: "LastUpdatedDateTime",
    name_field: "DemandName",
    entity: "Demand",
    seed: |sf, n, at| sf.seed_demands(n, at),
    get: |sf, id| sf.demand(id),
    unknown_enum: ("TargetCommunity", "Martian"),
};

const DISPATCH: SfFeed = SfFeed {
    path: "getDispatches",
    list: "DispatchStatuses",
    deletions: || json!({"DeletedObjects": {"DeletedDispatchStatuses": [], "DeletedDispatchStatusLineItems": []}}),
    id_field: "DispatchStatusId",
    ts_field: "LastUpdatedDateTime",
    name_field: "DispatchStatusName",
    entity: "Dispatch",
    seed: |sf, n, at| sf.seed_dispatches(n, at),
    get: |sf, id| sf.dispatch(id),
    // Dispatch has no enum the integration checks; its date is the closest: an invalid one.
    unknown_enum: ("DispatchDate", "yesterday"),
};

const INVENTORY: SfFeed = SfFeed {
    path: "getImplementationInventories",
    list: "ImplementationInventory",
    deletions: || json!({"deletedImplementationInventory": []}),
    id_field: "ImplementationInventoryId",
    ts_field: "LastModifiedDate",
    name_field: "ImplementationInventoryName",
    entity: "Inventory",
    seed: |sf, n, at| sf.seed_inventories(n, at),
    get: |sf, id| sf.inventory(id),
    unknown_enum: ("SourceOfMaterial", "Alien"),
};

const SF_TASKS: &str = "GoonjDemand,GoonjDispatch,GoonjInventory";

/// (label, change to a good record, expected outcome).
fn record_corpus(feed: &SfFeed) -> Vec<(&'static str, Mutation, Expect)> {
    let (id, ts, name) = (feed.id_field, feed.ts_field, feed.name_field);
    let (enum_field, enum_value) = feed.unknown_enum;
    vec![
        ("good", Box::new(|_| {}), Expect::Synced),
        (
            "id is a number",
            Box::new(move |r| {
                r.insert(id.into(), json!(12345));
            }),
            Expect::Error("ClassCastException"),
        ),
        (
            "id is missing",
            Box::new(move |r| {
                r.remove(id);
            }),
            Expect::Error("UnclassifiedError"),
        ),
        (
            "IsVoided is maybe",
            Box::new(|r| {
                r.insert("IsVoided".into(), json!("maybe"));
            }),
            Expect::Error("ClassCastException"),
        ),
        (
            "timestamp is a number",
            Box::new(move |r| {
                r.insert(ts.into(), json!(5));
            }),
            Expect::Error("ClassCastException"),
        ),
        (
            "timestamp is not a date",
            Box::new(move |r| {
                r.insert(ts.into(), json!("yesterday"));
            }),
            Expect::Error("UnclassifiedError"),
        ),
        (
            "timestamp is missing",
            Box::new(move |r| {
                r.remove(ts);
            }),
            Expect::Synced,
        ),
        (
            "timestamp has no zone",
            Box::new(move |r| {
                let t = r[ts].as_str().unwrap().trim_end_matches('Z').to_owned();
                r.insert(ts.into(), json!(t));
            }),
            Expect::Synced,
        ),
        (
            "unknown enum value",
            Box::new(move |r| {
                r.insert(enum_field.into(), json!(enum_value));
            }),
            Expect::Error("UnclassifiedError"),
        ),
        (
            "10 MB name",
            Box::new(move |r| {
                r.insert(name.into(), json!(huge()));
            }),
            Expect::Synced,
        ),
        ("good again", Box::new(|_| {}), Expect::Synced),
    ]
}

async fn cursor(w: &GoonjWorld, entity: &str) -> Option<NaiveDateTime> {
    sqlx::query_scalar(
        "SELECT read_upto_date_time FROM integrating_entity_status
          WHERE integration_system_id = $1 AND entity_type = $2",
    )
    .bind(w.tenant)
    .bind(entity)
    .fetch_optional(w.app.db.pool())
    .await
    .unwrap()
    .flatten()
}

fn ist(t: DateTime<Utc>) -> NaiveDateTime {
    (t + Duration::minutes(330)).naive_utc()
}

/// Runs the per-record corpus of `feed` as one garbled page followed by clean records.
async fn run_record_corpus(w: &GoonjWorld, feed: &SfFeed) {
    let base = whole_seconds(Utc::now() - Duration::days(3));
    // Clean records after the garbled page: the feed goes on reading past it.
    let later = (feed.seed)(&w.salesforce, 3, base + Duration::seconds(100));
    let template = (feed.get)(&w.salesforce, &later[0]).unwrap();
    let corpus = record_corpus(feed);
    let mut records = Vec::new();
    for (i, (_, mutate, _)) in corpus.iter().enumerate() {
        let mut record = template.as_object().cloned().unwrap();
        record.insert(
            feed.id_field.into(),
            json!(format!("{}BAD{i:03}", feed.entity)),
        );
        record.insert(
            feed.ts_field.into(),
            json!(sf_datetime(base + Duration::seconds(i as i64 + 1))),
        );
        mutate(&mut record);
        records.push(record);
    }
    let mut page = (feed.deletions)();
    page[feed.list] = Value::Array(records.iter().cloned().map(Value::Object).collect());
    w.salesforce.faults().set(FaultPlan {
        replace_next: 1,
        replacement_body: Some(page.to_string()),
        path_contains: Some(feed.path.into()),
        ..FaultPlan::default()
    });
    assert_eq!(w.run_main_job().await, "succeeded", "{}", feed.entity);
    assert_no_panic(w).await;

    let errors = w.errors().await;
    for ((label, _, expect), record) in corpus.iter().zip(&records) {
        let payload = Value::Object(record.clone());
        let error = errors.iter().find(|e| e.3 == payload);
        match expect {
            Expect::Synced => {
                assert!(
                    error.is_none(),
                    "{} {label}: unexpected error {:?}",
                    feed.entity,
                    error.map(|e| (&e.0, &e.1, e.2.chars().take(300).collect::<String>()))
                );
                let id = record[feed.id_field].as_str().unwrap();
                assert!(
                    w.avni.subject(id).is_some(),
                    "{} {label}: not in Avni",
                    feed.entity
                );
            }
            Expect::Error(error_type) => {
                let error = error.unwrap_or_else(|| {
                    panic!(
                        "{} {label}: no error with the payload; errors: {:?}",
                        feed.entity,
                        errors
                            .iter()
                            .map(|e| (&e.0, &e.1, e.2.chars().take(200).collect::<String>()))
                            .collect::<Vec<_>>()
                    )
                });
                assert_eq!(&error.1, error_type, "{} {label}: {}", feed.entity, error.2);
                match &record.get(feed.id_field) {
                    Some(Value::String(id)) => assert_eq!(&error.0, id, "{label}"),
                    Some(other) => assert_eq!(error.0, other.to_string(), "{label}"),
                    None => assert!(!error.0.is_empty(), "{label}: keyed by something"),
                }
            }
        }
    }
    for id in &later {
        assert!(
            w.avni.subject(id).is_some(),
            "{} {id} after the page",
            feed.entity
        );
    }
    let last = (feed.get)(&w.salesforce, later.last().unwrap()).unwrap();
    let last_ts =
        avni_int_tests::sim::goonj::parse_sf_datetime(last[feed.ts_field].as_str().unwrap());
    let moved = cursor(w, feed.entity).await;
    assert_eq!(
        moved,
        last_ts.map(ist),
        "{}: the cursor passed every record",
        feed.entity
    );

    assert_error_job_keeps_keyless_errors(w, feed.id_field).await;

    // A second run reads nothing new and fails nothing again.
    let logs = error_log_count(w).await;
    assert_eq!(w.run_main_job().await, "succeeded");
    assert_eq!(cursor(w, feed.entity).await, moved, "{}", feed.entity);
    assert_eq!(
        error_log_count(w).await,
        logs,
        "{}: nothing re-failed",
        feed.entity
    );
}

#[tokio::test]
async fn bad_input_salesforce_records_become_classified_errors_and_the_cursor_passes_them() {
    let w = world(SF_TASKS).await;
    for feed in [&DEMAND, &DISPATCH, &INVENTORY] {
        run_record_corpus(&w, feed).await;
    }
}

/// (label, fault): whole responses that cannot be read.
fn response_corpus(feed: &SfFeed) -> Vec<(&'static str, FaultPlan)> {
    let replaced = |body: Value| FaultPlan {
        replace_next: 1,
        replacement_body: Some(body.to_string()),
        path_contains: Some(feed.path.into()),
        ..FaultPlan::default()
    };
    let mut object_not_list = (feed.deletions)();
    object_not_list[feed.list] = json!({ feed.id_field: "x" });
    vec![
        (
            "truncated",
            FaultPlan {
                truncate_next: 1,
                path_contains: Some(feed.path.into()),
                ..FaultPlan::default()
            },
        ),
        ("object where a list is expected", replaced(object_not_list)),
        ("list key missing", replaced((feed.deletions)())),
        ("a list, not an object", replaced(json!([]))),
        ("not JSON", replaced(json!("<html>maintenance</html>"))),
    ]
}

#[tokio::test]
async fn bad_input_salesforce_responses_are_retried_or_fail_the_job_cleanly() {
    let w = world(SF_TASKS).await;
    let base = whole_seconds(Utc::now() - Duration::days(3));
    for (n, feed) in [&DEMAND, &DISPATCH, &INVENTORY].into_iter().enumerate() {
        let mut corpus = response_corpus(feed);
        if n > 0 {
            // The reading is shared; only the list key differs per feed.
            corpus.retain(|(label, _)| label.contains("list"));
        }
        for (i, (label, plan)) in corpus.into_iter().enumerate() {
            let at = base + Duration::seconds((n * 100 + i * 10) as i64);
            let ids = (feed.seed)(&w.salesforce, 2, at);
            w.salesforce.faults().set(plan);
            assert_eq!(
                w.run_main_job().await,
                "succeeded",
                "{} {label}: retried within the job",
                feed.entity
            );
            for id in &ids {
                assert!(
                    w.avni.subject(id).is_some(),
                    "{} {label}: {id}",
                    feed.entity
                );
            }
        }
    }
    // A garbled answer for longer than the client retries: the job fails cleanly, the cursor
    // stays, and the next run reads the records.
    let before = cursor(&w, DEMAND.entity).await;
    let notices = w.app.bugsnag.received().len();
    let ids = w.salesforce.seed_demands(2, base + Duration::seconds(90));
    w.salesforce.faults().set(FaultPlan {
        replace_next: 1000,
        replacement_body: Some("[]".into()),
        path_contains: Some(DEMAND.path.into()),
        ..FaultPlan::default()
    });
    assert_eq!(w.run_main_job().await, "failed");
    assert_eq!(cursor(&w, DEMAND.entity).await, before, "cursor unchanged");
    assert_failed_cleanly(&w, notices).await;
    w.salesforce.faults().clear();
    assert_eq!(w.run_main_job().await, "succeeded");
    for id in &ids {
        assert!(w.avni.subject(id).is_some(), "{id}");
    }
    assert!(w.errors().await.is_empty(), "{:?}", w.errors().await);
}
