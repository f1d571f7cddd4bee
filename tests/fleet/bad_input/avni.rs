//! The Avni half of the corpus (Avni → Salesforce): garbled Activity records, and subject and
//! encounter pages that are unreadable or lie about their totals.

use super::{
    assert_error_job_keeps_keyless_errors, assert_failed_cleanly, assert_no_panic, error_log_count,
    huge, obs, whole_seconds, Expect, Mutation,
};
use avni_int_tests::goonj_world::{receipt_observations, world, GoonjWorld};
use avni_int_tests::sim::avni::{SeedEncounter, SeedSubject};
use avni_int_tests::sim::faults::FaultPlan;
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Map, Value};

const AVNI_TASKS: &str = "AvniActivity,AvniDistribution,AvniDispatchReceipt";

fn avni_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

fn seed_activity(w: &GoonjWorld, at: DateTime<Utc>) -> String {
    w.avni.seed_subject(SeedSubject {
        location: Some(("Bihar".into(), "Patna".into())),
        observations: obs(json!({
            "Type of initiative": "CFW", "Account  name": "Gram Sabha Patna",
            "Activity Start Date": "2023-05-31T18:30:00.000Z",
            "Activity End Date": "2023-06-01T20:00:00.000Z",
            "Number of Participants (Male)": 5, "Number of Participants (Female)": 6,
            "Number of Participants (Other)": 0, "Remarks": "fine"
        })),
        created_at: Some(at),
        ..SeedSubject::new("Activity")
    })
}

fn fake_uuid(i: usize) -> String {
    format!("00000000-0000-4000-8000-{i:012}")
}

/// Sets a key inside `audit`.
fn set_audit(r: &mut Map<String, Value>, value: Option<Value>) {
    let audit = r.get_mut("audit").unwrap().as_object_mut().unwrap();
    match value {
        Some(v) => audit.insert("Last modified at".into(), v),
        None => audit.remove("Last modified at"),
    };
}

fn set_obs(r: &mut Map<String, Value>, concept: &str, value: Value) {
    r.get_mut("observations")
        .unwrap()
        .as_object_mut()
        .unwrap()
        .insert(concept.into(), value);
}

/// (label, change to a good Activity, expected outcome).
fn activity_corpus() -> Vec<(&'static str, Mutation, Expect)> {
    vec![
        ("good", Box::new(|_| {}), Expect::Synced),
        (
            "ID is a number",
            Box::new(|r| {
                r.insert("ID".into(), json!(5));
            }),
            Expect::Error("ClassCastException"),
        ),
        (
            "ID is missing",
            Box::new(|r| {
                r.remove("ID");
            }),
            Expect::Error("UnclassifiedError"),
        ),
        (
            "Voided is maybe",
            Box::new(|r| {
                r.insert("Voided".into(), json!("maybe"));
            }),
            Expect::Error("ClassCastException"),
        ),
        (
            "Last modified at is a number",
            Box::new(|r| set_audit(r, Some(json!(5)))),
            Expect::Error("ClassCastException"),
        ),
        (
            "Last modified at is not a date",
            Box::new(|r| set_audit(r, Some(json!("yesterday")))),
            Expect::Error("UnclassifiedError"),
        ),
        (
            "Last modified at is missing",
            Box::new(|r| set_audit(r, None)),
            Expect::Error("UnclassifiedError"),
        ),
        (
            "Last modified at has no zone",
            Box::new(|r| {
                let t = r["audit"]["Last modified at"].as_str().unwrap();
                let t = t.trim_end_matches('Z').to_owned();
                set_audit(r, Some(json!(t)));
            }),
            Expect::Synced,
        ),
        (
            "observations is a list",
            Box::new(|r| {
                r.insert("observations".into(), json!([]));
            }),
            Expect::Error("ClassCastException"),
        ),
        (
            "a number is a text",
            Box::new(|r| set_obs(r, "Number of Participants (Male)", json!("many"))),
            Expect::Error("ClassCastException"),
        ),
        (
            "a date is not a date",
            Box::new(|r| set_obs(r, "Activity Start Date", json!("yesterday"))),
            Expect::Error("UnclassifiedError"),
        ),
        (
            "a date has no zone",
            Box::new(|r| set_obs(r, "Activity Start Date", json!("2023-05-31T18:30:00.000"))),
            Expect::Synced,
        ),
        (
            "unknown initiative",
            Box::new(|r| set_obs(r, "Type of initiative", json!("Martian"))),
            Expect::Synced,
        ),
        (
            "10 MB remarks",
            Box::new(|r| set_obs(r, "Remarks", json!(huge()))),
            Expect::Error("UnclassifiedError"),
        ),
        ("good again", Box::new(|_| {}), Expect::Synced),
    ]
}

async fn avni_cursor(w: &GoonjWorld, entity: &str) -> Option<String> {
    sqlx::query_scalar(
        "SELECT read_upto_date_time::text || coalesce(read_upto_numeric::text, '') FROM integrating_entity_status
          WHERE integration_system_id = $1 AND entity_type = $2",
    )
    .bind(w.tenant)
    .bind(entity)
    .fetch_optional(w.app.db.pool())
    .await
    .unwrap()
    .flatten()
}

/// What became of an Activity record: synced, an error (type, message) or nothing.
async fn activity_fate(w: &GoonjWorld, record: &Map<String, Value>) -> String {
    let key = match record.get("ID") {
        Some(Value::String(id)) => Some(id.clone()),
        Some(other) => Some(other.to_string()),
        None => None,
    };
    let payload = Value::Object(record.clone());
    let errors = w.errors().await;
    let error = errors
        .iter()
        .find(|e| Some(&e.0) == key.as_ref() || e.3 == payload);
    match error {
        Some(e) => format!("error {} {:.150}", e.1, e.2),
        None if key
            .as_deref()
            .is_some_and(|k| w.salesforce.activity(k).is_some()) =>
        {
            "synced".into()
        }
        None => "nothing".into(),
    }
}

#[tokio::test]
async fn bad_input_avni_records_become_classified_errors_and_the_cursor_passes_them() {
    let w = world("AvniActivity").await;
    let base = whole_seconds(Utc::now() - Duration::days(2));
    let template_id = seed_activity(&w, base);
    assert_eq!(w.run_main_job().await, "succeeded");
    let template = w.avni.subject(&template_id).unwrap();
    let mut table = Vec::new();
    let mut wrong = false;
    for (i, (label, mutate, expect)) in activity_corpus().into_iter().enumerate() {
        // A page of a good record and a bad one, served for as long as Avni would serve them.
        let at = base + Duration::hours(1) + Duration::seconds(i as i64 * 10);
        let make = |n: usize, at: DateTime<Utc>| {
            let mut record = template.as_object().cloned().unwrap();
            record.insert("ID".into(), json!(fake_uuid(n)));
            set_audit(&mut record, Some(json!(avni_time(at))));
            record
        };
        let good = make(2 * i, at);
        let mut bad = make(2 * i + 1, at + Duration::seconds(1));
        mutate(&mut bad);
        let page = json!({
            "content": [good, bad], "totalElements": 2, "totalPages": 1, "pageSize": 100,
        });
        w.avni.faults().set(FaultPlan {
            replace_next: 1000,
            replacement_body: Some(page.to_string()),
            path_contains: Some("/api/subjects".into()),
            ..FaultPlan::default()
        });
        let first = w.run_main_job().await;
        let good_fate = activity_fate(&w, &good).await;
        let bad_fate = activity_fate(&w, &bad).await;
        let cursor = avni_cursor(&w, "Activity").await;
        let logs = error_log_count(&w).await;
        let second = w.run_main_job().await;
        let stalled = second != "succeeded" || error_log_count(&w).await != logs;
        w.avni.faults().clear();
        let ok = first == "succeeded"
            && good_fate == "synced"
            && !stalled
            && avni_cursor(&w, "Activity").await == cursor
            && match expect {
                Expect::Synced => bad_fate == "synced",
                Expect::Error(t) => bad_fate.starts_with(&format!("error {t} ")),
            };
        wrong |= !ok;
        table.push(format!(
            "{} {label}: expected {expect:?}; job {first}, good record {good_fate}, bad record {bad_fate}, second run {second}{}",
            if ok { "ok  " } else { "FAIL" },
            if stalled { " (stalled)" } else { "" }
        ));
    }
    assert_no_panic(&w).await;
    let later = seed_activity(&w, base + Duration::hours(3));
    assert_eq!(w.run_main_job().await, "succeeded");
    assert!(w.salesforce.activity(&later).is_some(), "reading goes on");
    assert!(!wrong, "{table:#?}");
    assert_error_job_keeps_keyless_errors(&w, "ID").await;
}

/// (path the fault applies to, tasks' cursor entity).
const AVNI_READS: [(&str, &str); 2] = [
    ("/api/subjects", "Activity"),
    ("/api/encounters", "Dispatch receipt"),
];

#[tokio::test]
async fn bad_input_avni_pages_are_retried_stop_on_lying_totals_or_fail_the_job_cleanly() {
    let w = world(AVNI_TASKS).await;
    // The receipt's Type Of Material, mapped so the receipts sync.
    w.add_mappings("Dispatch receipt", &[("Kit", "Kit")]).await;
    let base = whole_seconds(Utc::now() - Duration::days(2));
    let mut wrong = Vec::new();
    let cases: Vec<(&str, FaultPlan)> = vec![
        (
            "truncated",
            FaultPlan {
                truncate_next: 1,
                ..FaultPlan::default()
            },
        ),
        (
            "empty page with lying totals",
            FaultPlan {
                replace_next: 1,
                replacement_body: Some(
                    json!({"content": [], "totalElements": 500, "totalPages": 50, "pageSize": 10})
                        .to_string(),
                ),
                ..FaultPlan::default()
            },
        ),
        (
            "content is an object",
            FaultPlan {
                replace_next: 1,
                replacement_body: Some(
                    json!({"content": {"ID": "x"}, "totalPages": 1}).to_string(),
                ),
                ..FaultPlan::default()
            },
        ),
        (
            "content missing",
            FaultPlan {
                replace_next: 1,
                replacement_body: Some(json!({"totalElements": 3, "totalPages": 1}).to_string()),
                ..FaultPlan::default()
            },
        ),
        (
            "a list, not a page",
            FaultPlan {
                replace_next: 1,
                replacement_body: Some("[]".into()),
                ..FaultPlan::default()
            },
        ),
    ];
    for (i, (label, plan)) in cases.into_iter().enumerate() {
        for (path, entity) in AVNI_READS {
            // Both lists are read alike; encounters get only the cases whose page differs.
            if entity != "Activity" && !(label.contains("lying") || label.contains("missing")) {
                continue;
            }
            let at =
                base + Duration::minutes(i as i64 * 10) + Duration::seconds(entity.len() as i64);
            let id = match entity {
                "Activity" => seed_activity(&w, at),
                _ => seed_receipt(&w, &format!("a0D{i}{}", entity.len()), at),
            };
            let requests = w.avni.requests();
            w.avni.faults().set(FaultPlan {
                path_contains: Some(path.into()),
                ..plan.clone()
            });
            let state = w.run_main_job().await;
            let reads = w.avni.requests() - requests;
            let synced = match entity {
                "Activity" => w.salesforce.activity(&id).is_some(),
                _ => w.salesforce.dispatch_receipt(&id).is_some(),
            };
            // An empty page ends the read whatever its totals say: the record waits for the
            // next run. Anything else is retried within the job.
            let lying = label.contains("lying");
            if state != "succeeded" || synced == lying {
                wrong.push(format!("{entity} {label}: job {state}, synced {synced}"));
            }
            assert!(reads < 30, "{entity} {label}: {reads} requests: no loop");
            w.avni.faults().clear();
            let next = w.run_main_job().await;
            let synced = match entity {
                "Activity" => w.salesforce.activity(&id).is_some(),
                _ => w.salesforce.dispatch_receipt(&id).is_some(),
            };
            if next != "succeeded" || !synced {
                wrong.push(format!(
                    "{entity} {label}: next job {next}, synced {synced}"
                ));
            }
        }
    }
    assert_no_panic(&w).await;
    assert!(wrong.is_empty(), "{wrong:#?}");

    // Garbled for longer than the client retries: the job fails cleanly, cursor unchanged.
    let before = avni_cursor(&w, "Activity").await;
    let notices = w.app.bugsnag.received().len();
    let id = seed_activity(&w, base + Duration::hours(5));
    w.avni.faults().set(FaultPlan {
        truncate_next: 1000,
        path_contains: Some("/api/subjects".into()),
        ..FaultPlan::default()
    });
    assert_eq!(w.run_main_job().await, "failed");
    assert_eq!(
        avni_cursor(&w, "Activity").await,
        before,
        "cursor unchanged"
    );
    assert_failed_cleanly(&w, notices).await;
    w.avni.faults().clear();
    assert_eq!(w.run_main_job().await, "succeeded");
    assert!(w.salesforce.activity(&id).is_some());
}

/// A `Dispatch` subject and its `Dispatch receipt` encounter; the encounter's ID.
fn seed_receipt(w: &GoonjWorld, dispatch_id: &str, at: DateTime<Utc>) -> String {
    let subject = w.avni.seed_subject(SeedSubject {
        external_id: Some(dispatch_id.into()),
        created_at: Some(at),
        ..SeedSubject::new("Dispatch")
    });
    w.avni.seed_encounter(SeedEncounter {
        encounter_date_time: Some(at),
        observations: receipt_observations(dispatch_id, "Kit"),
        created_at: Some(at),
        ..SeedEncounter::new("Dispatch receipt", &subject)
    })
}
