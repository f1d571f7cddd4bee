//! Avni's entity JSON, kept as `serde_json::Value` with typed accessors for what the sync
//! reads. Avni's keys are human-readable and drift from its spec (`Registration Coordinates`
//! vs `Registration location`, keys present only sometimes), so a rigid struct would break on
//! the first drift while the sync only needs a handful of fields.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Accessors common to every Avni entity.
pub trait Entity {
    fn json(&self) -> &Value;

    fn str_field(&self, key: &str) -> Option<&str> {
        self.json().get(key).and_then(Value::as_str)
    }

    /// `ID`: the UUID.
    fn id(&self) -> Option<&str> {
        self.str_field("ID")
    }

    /// `External ID` (null when none).
    fn external_id(&self) -> Option<&str> {
        self.str_field("External ID")
    }

    fn voided(&self) -> bool {
        self.json()
            .get("Voided")
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }

    fn observations(&self) -> Option<&Map<String, Value>> {
        self.json().get("observations").and_then(Value::as_object)
    }

    fn observation(&self, concept: &str) -> Option<&Value> {
        self.observations()?.get(concept).filter(|v| !v.is_null())
    }

    /// A field of `audit` (`Created at`, `Last modified at`, `Created by`, `Last modified by`).
    fn audit(&self, key: &str) -> Option<&str> {
        self.json().get("audit")?.get(key)?.as_str()
    }

    /// `audit."Last modified at"`, the incremental cursor's field (ms precision).
    fn last_modified(&self) -> Option<DateTime<Utc>> {
        parse_time(self.audit("Last modified at")?)
    }
}

/// An Avni response datetime (ISO UTC with ms). Any RFC 3339 offset is accepted.
pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
        .or_else(|| {
            chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
                .ok()
                .map(|t| t.and_utc())
        })
}

fn time_field(json: &Value, key: &str) -> Option<DateTime<Utc>> {
    parse_time(json.get(key)?.as_str()?)
}

/// A subject (`/api/subject`). Names, date of birth and gender sit inside `observations`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Subject(pub Value);

impl Entity for Subject {
    fn json(&self) -> &Value {
        &self.0
    }
}

impl Subject {
    /// Present only when the query did not filter by subject type.
    pub fn subject_type(&self) -> Option<&str> {
        self.str_field("Subject type")
    }

    pub fn registration_date(&self) -> Option<NaiveDate> {
        NaiveDate::parse_from_str(self.str_field("Registration date")?, "%Y-%m-%d").ok()
    }

    /// `<LevelType>` → title and `<LevelType> External ID` → legacy id, lowest level first.
    pub fn location(&self) -> Option<&Map<String, Value>> {
        self.0.get("location").and_then(Value::as_object)
    }

    /// A location level's title, e.g. `location_level("District")`.
    pub fn location_level(&self, level: &str) -> Option<&str> {
        self.location()?.get(level)?.as_str()
    }

    pub fn location_id(&self) -> Option<&str> {
        self.str_field("Location ID")
    }

    pub fn into_json(self) -> Value {
        self.0
    }
}

/// A general or program encounter (`/api/encounter`, `/api/programEncounter`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Encounter(pub Value);

impl Entity for Encounter {
    fn json(&self) -> &Value {
        &self.0
    }
}

impl Encounter {
    pub fn encounter_type(&self) -> Option<&str> {
        self.str_field("Encounter type")
    }

    pub fn subject_id(&self) -> Option<&str> {
        self.str_field("Subject ID")
    }

    pub fn subject_external_id(&self) -> Option<&str> {
        self.str_field("Subject external ID")
    }

    pub fn subject_type(&self) -> Option<&str> {
        self.str_field("Subject type")
    }

    /// Null while the encounter is only scheduled.
    pub fn encounter_date_time(&self) -> Option<DateTime<Utc>> {
        time_field(&self.0, "Encounter date time")
    }

    pub fn cancel_date_time(&self) -> Option<DateTime<Utc>> {
        time_field(&self.0, "Cancel date time")
    }

    pub fn into_json(self) -> Value {
        self.0
    }
}

/// A page of a list endpoint. `totalElements` is the count *in this page*, not the total, so it
/// is deliberately not read; `totalPages` is real.
#[derive(Debug, Clone, PartialEq, Deserialize)]
// `serde(default)` would otherwise demand `T: Default`.
#[serde(bound(deserialize = "T: Deserialize<'de>"))]
pub struct Page<T> {
    /// Required: an answer without it was garbled on the way (retried), never "nothing new".
    pub content: Vec<T>,
    #[serde(rename = "totalPages", default)]
    pub total_pages: Option<u64>,
}

/// The body of `POST /api/subject` (upsert by `External ID`) and `PUT`. Names, date of birth
/// and gender are top-level here although responses put them in `observations`. `Address map`
/// needs `version` ≥ 3; `Address` (a comma-joined title path) is for older versions.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SubjectRequest {
    #[serde(rename = "External ID", skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    #[serde(rename = "Subject type")]
    pub subject_type: String,
    #[serde(rename = "Registration date", skip_serializing_if = "Option::is_none")]
    pub registration_date: Option<NaiveDate>,
    #[serde(rename = "Address map", skip_serializing_if = "Option::is_none")]
    pub address_map: Option<BTreeMap<String, String>>,
    #[serde(rename = "Address", skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(rename = "First name", skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(rename = "Middle name", skip_serializing_if = "Option::is_none")]
    pub middle_name: Option<String>,
    #[serde(rename = "Last name", skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(rename = "Date of birth", skip_serializing_if = "Option::is_none")]
    pub date_of_birth: Option<NaiveDate>,
    #[serde(rename = "Gender", skip_serializing_if = "Option::is_none")]
    pub gender: Option<String>,
    /// Concept name → value (coded answers by name).
    pub observations: Map<String, Value>,
    #[serde(rename = "Voided")]
    pub voided: bool,
    /// Anything else Avni reads (`Registration Coordinates`, `Subject location`, …).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_a_subject_list_page() {
        // Trimmed from contracts/fixtures/avni-subjects-page.synth.json.
        let page: Page<Subject> = serde_json::from_value(json!({
            "content": [{
                "ID": "a7a6e7c9-dc25-594f-83a3-f3546425dfa0", "External ID": null, "Voided": false,
                "Registration date": "2023-06-01",
                "location": {"Village": "Ganks", "Village External ID": null, "District": "Dehradun"},
                "Location ID": "239fb680-f613-5c42-b409-312038a6cfac",
                "observations": {"First name": "Asha", "Medical problems": ["Asthma"], "Gender": null},
                "audit": {"Created at": "2023-06-01T05:12:40.120Z",
                          "Last modified at": "2023-06-03T09:30:00.000Z",
                          "Created by": "narayan@demo", "Last modified by": "sheela@demo"}
            }, {
                "ID": "44f9fad0-d9fe-5d4c-a3ab-dde675771fe2", "External ID": "GAN203002",
                "Voided": true, "audit": {"Last modified at": "2023-06-03T09:30:00.000Z"}
            }],
            "totalElements": 2, "totalPages": 3, "pageSize": 2
        }))
        .unwrap();
        assert_eq!(page.total_pages, Some(3));
        let [a, b] = &page.content[..] else {
            panic!("two subjects")
        };
        assert_eq!(a.id(), Some("a7a6e7c9-dc25-594f-83a3-f3546425dfa0"));
        assert_eq!(a.external_id(), None);
        assert!(!a.voided());
        assert_eq!(a.subject_type(), None);
        assert_eq!(a.registration_date(), NaiveDate::from_ymd_opt(2023, 6, 1));
        assert_eq!(a.location_level("District"), Some("Dehradun"));
        assert_eq!(a.observation("First name"), Some(&json!("Asha")));
        assert_eq!(a.observation("Gender"), None);
        assert_eq!(a.audit("Last modified by"), Some("sheela@demo"));
        assert_eq!(
            a.last_modified().map(|t| t.timestamp_millis()),
            Some(1_685_784_600_000)
        );
        assert_eq!(b.external_id(), Some("GAN203002"));
        assert!(b.voided());
        assert_eq!(b.registration_date(), None);
    }

    #[test]
    fn reads_encounters() {
        let e = Encounter(json!({
            "ID": "f4727b80", "Subject ID": "749a011e", "Subject external ID": "GAN203003",
            "Subject type": "Individual", "Voided": false, "Encounter type": "Lab Test",
            "Encounter date time": null, "Cancel date time": "2023-06-04T11:00:00.000Z",
            "audit": {"Last modified at": "2023-06-04T11:00:02.314Z"}
        }));
        assert_eq!(e.subject_id(), Some("749a011e"));
        assert_eq!(e.subject_external_id(), Some("GAN203003"));
        assert_eq!(e.encounter_type(), Some("Lab Test"));
        assert_eq!(e.encounter_date_time(), None);
        assert!(e.cancel_date_time().is_some());
        assert_eq!(
            e.last_modified().map(|t| t.timestamp_subsec_millis()),
            Some(314)
        );
    }

    #[test]
    fn a_page_needs_its_content_but_not_its_totals() {
        let page: Page<Subject> = serde_json::from_str(r#"{"content": []}"#).unwrap();
        assert!(page.content.is_empty());
        assert_eq!(page.total_pages, None);
        for garbled in ["{}", "[]", r#"{"content": {"ID": "x"}}"#] {
            assert!(
                serde_json::from_str::<Page<Subject>>(garbled).is_err(),
                "{garbled}"
            );
        }
    }

    #[test]
    fn writes_the_v3_upsert_body() {
        let mut request = SubjectRequest {
            external_id: Some("a0B5j000001AbCdEAF".into()),
            subject_type: "Demand".into(),
            registration_date: NaiveDate::from_ymd_opt(2023, 6, 1),
            address_map: Some(BTreeMap::from([
                ("State".into(), "Uttarakhand".into()),
                ("District".into(), "Dehradun".into()),
            ])),
            first_name: Some("Flood relief kits - Dehradun".into()),
            ..SubjectRequest::default()
        };
        request
            .observations
            .insert("Number of people".into(), json!(120));
        // The same object as contracts/fixtures/avni-subject-upsert-request-v3.synth.json.
        assert_eq!(
            serde_json::to_value(&request).unwrap(),
            json!({
                "observations": {"Number of people": 120},
                "Subject type": "Demand", "Registration date": "2023-06-01",
                "Address map": {"State": "Uttarakhand", "District": "Dehradun"},
                "External ID": "a0B5j000001AbCdEAF",
                "First name": "Flood relief kits - Dehradun", "Voided": false
            })
        );
    }
}
