//! Tests of the conversions, the failures that stop a step, the cursors of a batch's outcomes
//! and the request body.

use super::*;
use crate::avni::Subject;
use avni_int_shared::store::errors::FailedEntity;
use serde_json::{json, Map};

fn obs(value: Value) -> Map<String, Value> {
    value.as_object().cloned().unwrap()
}

#[test]
fn text_joins_lists_and_drops_empties() {
    let map = obs(json!({
        "list": ["Drawing", "Plantation"], "one": "x", "empty": "", "none": null,
        "n": 5, "f": 2.5, "flag": true, "group": {"a": 1}, "empty list": []
    }));
    let o = Obs::new(Some(&map));
    assert_eq!(o.text("list").as_deref(), Some("Drawing;Plantation"));
    assert_eq!(o.text("one").as_deref(), Some("x"));
    assert_eq!(o.text("n").as_deref(), Some("5"));
    assert_eq!(o.text("f").as_deref(), Some("2.5"));
    assert_eq!(o.text("flag").as_deref(), Some("true"));
    for absent in ["empty", "none", "group", "empty list", "missing"] {
        assert_eq!(o.text(absent), None, "{absent}");
    }
    assert_eq!(Obs::new(None).text("x"), None);
}

#[test]
fn numbers_default_require_or_fail_like_a_class_cast() {
    let map = obs(json!({"i": 4, "whole": 7.0, "s": " 12 ", "frac": 2.5, "word": "many"}));
    let o = Obs::new(Some(&map));
    assert_eq!(o.int("i"), Ok(Some(4)));
    assert_eq!(o.int("whole"), Ok(Some(7)));
    assert_eq!(o.int("s"), Ok(Some(12)));
    assert_eq!(o.int("missing"), Ok(None));
    assert_eq!(o.int_or_zero("missing"), Ok(0));
    assert!(o.int("frac").unwrap_err().starts_with("ClassCastException"));
    assert!(o.int("word").unwrap_err().contains("\"word\""));
    assert_eq!(
        o.required_int("missing").unwrap_err(),
        "Required observation \"missing\" is missing"
    );
    assert_eq!(o.double_or_zero("frac"), Ok(2.5));
    assert_eq!(o.double_or_zero("missing"), Ok(0.0));
    assert!(o.double_or_zero("word").is_err());
}

#[test]
fn dates_go_from_utc_to_the_ist_calendar_date() {
    let map = obs(json!({
        "v1": "2000-10-31T18:30:00.000+00:00", "z": "2023-06-01T20:00:00.000Z",
        "morning": "2023-06-01T05:00:00.000Z", "v2": "2023-06-01", "bad": "soon"
    }));
    let o = Obs::new(Some(&map));
    assert_eq!(o.date("v1").unwrap().as_deref(), Some("2000-11-01"));
    assert_eq!(o.date("z").unwrap().as_deref(), Some("2023-06-02"));
    assert_eq!(o.date("morning").unwrap().as_deref(), Some("2023-06-01"));
    assert_eq!(o.date("v2").unwrap().as_deref(), Some("2023-06-01"));
    assert_eq!(o.date("missing"), Ok(None));
    assert!(o.date("bad").is_err());
}

#[test]
fn media_values_are_prefixed_and_joined() {
    let p = "https://staging.avniproject.org/web/media?url=";
    assert_eq!(
        media_of(p, &json!(["https://s3/a.jpg", "", "https://s3/b.png"])).as_deref(),
        Some(
            "https://staging.avniproject.org/web/media?url=https://s3/a.jpg;\
             https://staging.avniproject.org/web/media?url=https://s3/b.png"
        )
    );
    assert_eq!(media_of("P:", &json!("x.jpg")).as_deref(), Some("P:x.jpg"));
    assert_eq!(media_of("P:", &json!([])), None);
    assert_eq!(media_of("P:", &json!(3)), None);
}

#[test]
fn other_block_and_village_only_when_the_level_is_other() {
    let subject = Subject(json!({
        "ID": "s", "location": {"State": "Bihar", "District": "Patna", "Block": "Other",
                                "Village": "Rampur"},
        "observations": {"Other Block": "New block", "Other Village": "Ignored"}
    }));
    assert_eq!(
        Place::of(&subject),
        Place {
            state: Some("Bihar".into()),
            district: Some("Patna".into()),
            block: Some("Other".into()),
            village: Some("Rampur".into()),
            other_block: Some("New block".into()),
            other_village: None,
        }
    );
    assert_eq!(Place::of(&Subject(json!({"ID": "s"}))), Place::default());
}

#[test]
fn subjects_without_registration_date_or_voided_are_skipped() {
    let ok = Subject(json!({"ID": "a", "Voided": false, "Registration date": "2023-06-01"}));
    assert_eq!(subject_skip(&ok), None);
    let voided = Subject(json!({"ID": "a", "Voided": true, "Registration date": "2023-06-01"}));
    assert_eq!(subject_skip(&voided), Some("voided"));
    let undated = Subject(json!({"ID": "a", "Voided": false, "Registration date": null}));
    assert_eq!(subject_skip(&undated), Some("no registration date"));
}

#[test]
fn only_failures_no_record_caused_stop_the_step() {
    let http = |status: u16, body: &str| SalesforceError::Http {
        status,
        body: body.into(),
        retry_after: None,
    };
    let rejected = |code: &str| SalesforceError::Rejected {
        code: code.into(),
        message: "m".into(),
    };
    assert!(blocks_every_record(&http(502, "bad gateway")));
    assert!(blocks_every_record(&http(503, "")));
    assert!(blocks_every_record(&http(500, "<html>oops</html>")));
    assert!(blocks_every_record(&http(404, "")));
    assert!(blocks_every_record(&SalesforceError::Login("no".into())));
    assert!(blocks_every_record(&rejected("INVALID_SESSION_ID")));
    assert!(!blocks_every_record(&http(
        500,
        r#"[{"errorCode":"APEX_ERROR","message":"System.NullPointerException"}]"#
    )));
    assert!(!blocks_every_record(&http(400, "bad")));
    assert!(!blocks_every_record(&rejected(
        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    )));
    assert!(!blocks_every_record(&rejected(
        "FIELD_CUSTOM_VALIDATION_EXCEPTION"
    )));
}

/// Hands out `subjects` on page 0.
struct Fixed(Vec<Value>);

impl PageSource for Fixed {
    type Item = Raw<Subject>;

    async fn fetch(
        &self,
        _after: DateTime<Utc>,
        _now: DateTime<Utc>,
        page: u32,
        _size: u32,
    ) -> Result<crate::avni::Page<Raw<Subject>>, AvniError> {
        let content = if page == 0 {
            self.0.clone()
        } else {
            Vec::new()
        };
        Ok(serde_json::from_value(json!({"content": content, "totalPages": 1})).unwrap())
    }
}

#[tokio::test]
async fn exact_cursors_where_the_commit_can_stop_and_a_safe_one_elsewhere() {
    let at = "2023-06-03T09:30:00.000Z";
    let subjects: Vec<Value> = (0..5)
        .map(|i| json!({"ID": format!("s{i}"), "audit": {"Last modified at": at}}))
        .collect();
    let start = crate::avni::entity::parse_time("2023-06-01T00:00:00.000Z").unwrap();
    let now = crate::avni::entity::parse_time("2023-06-04T00:00:00.000Z").unwrap();
    let mut reader = IncrementalReader::new(Fixed(subjects), AvniCursor::at(start), now, 100);
    let batch = reader.next_batch().await.unwrap().unwrap();
    let failed = || RecordResult::Failed {
        message: "m".into(),
        payload: Value::Null,
    };
    let results = vec![
        RecordResult::Synced,
        RecordResult::Skipped,
        failed(),
        RecordResult::Synced,
        RecordResult::Synced,
    ];
    let outcomes = with_cursors::<crate::goonj::activity::Activities>(&batch, results);
    let safe = AvniCursor::at(start).store_cursor();
    assert_eq!(outcomes[0].cursor_after, safe);
    assert_eq!(
        outcomes[1].cursor_after,
        batch.cursor_after(1).store_cursor()
    );
    assert_eq!(outcomes[2].cursor_after, safe);
    assert_eq!(outcomes[3].cursor_after, safe);
    assert_eq!(outcomes[4].cursor_after, batch.end_cursor().store_cursor());
    assert_eq!(
        outcomes[2].entity,
        FailedEntity::Integrating {
            entity_type: "Activity".into(),
            id: "s2".into()
        }
    );
}

#[test]
fn the_request_wraps_the_records() {
    let r = Resource {
        path: "ActivityService/upsertActivity",
        wrapper: "Activities",
    };
    assert_eq!(
        r.request(&[json!({"SourceId": "a"})]),
        json!({"Activities": [{"SourceId": "a"}]})
    );
}
