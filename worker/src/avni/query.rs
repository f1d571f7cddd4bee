//! Query strings for Avni's list endpoints. Times always go out as UTC with milliseconds and a
//! `Z` (without an offset Avni reads them in its server zone), and every value is
//! percent-encoded so a `+` arrives as `+`, not as a space.

use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

/// `2023-06-03T09:30:00.000Z`: the form Avni emits, and the only one it reads unambiguously.
pub fn format_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// Builds `k=v&k=v` with both sides percent-encoded (RFC 3986 unreserved kept).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct QueryString(String);

impl QueryString {
    pub fn new() -> Self {
        QueryString::default()
    }

    pub fn push(&mut self, key: &str, value: &str) -> &mut Self {
        if !self.0.is_empty() {
            self.0.push('&');
        }
        self.0.push_str(&urlencoding::encode(key));
        self.0.push('=');
        self.0.push_str(&urlencoding::encode(value));
        self
    }

    pub fn push_opt(&mut self, key: &str, value: Option<&str>) -> &mut Self {
        if let Some(value) = value {
            self.push(key, value);
        }
        self
    }

    pub fn push_time(&mut self, key: &str, value: Option<DateTime<Utc>>) -> &mut Self {
        if let Some(t) = value {
            self.push(key, &format_time(t));
        }
        self
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The `concepts` filter: a JSON object of concept name → raw stored value (coded answers as
/// the answer concept's UUID).
fn concepts_json(concepts: &BTreeMap<String, String>) -> Option<String> {
    (!concepts.is_empty()).then(|| serde_json::json!(concepts).to_string())
}

/// `GET /api/subjects`. Without `last_modified_after` Avni does not order the rows, so paging
/// is unstable: the incremental reader always sets it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubjectQuery {
    /// When given, the response omits each subject's `Subject type`.
    pub subject_type: Option<String>,
    pub last_modified_after: Option<DateTime<Utc>>,
    /// Window end (exclusive). When `None` Avni uses its own clock; a reader fixes it.
    pub now: Option<DateTime<Utc>>,
    pub page: u32,
    pub size: u32,
    /// Location UUIDs; their children are included.
    pub location_ids: Vec<String>,
    pub concepts: BTreeMap<String, String>,
}

impl SubjectQuery {
    pub fn of_type(subject_type: impl Into<String>) -> Self {
        SubjectQuery {
            subject_type: Some(subject_type.into()),
            ..SubjectQuery::default()
        }
    }

    pub fn query_string(&self, version: u32) -> QueryString {
        let mut q = QueryString::new();
        q.push_time("lastModifiedDateTime", self.last_modified_after)
            .push_time("now", self.now)
            .push_opt("subjectType", self.subject_type.as_deref());
        if !self.location_ids.is_empty() {
            q.push("locationIds", &self.location_ids.join(","));
        }
        q.push_opt("concepts", concepts_json(&self.concepts).as_deref())
            .push("page", &self.page.to_string())
            .push("size", &self.size.to_string())
            .push("version", &version.to_string());
        q
    }
}

/// `GET /api/encounters` (general encounters). With `concepts` Avni switches to an inclusive
/// window; the incremental reader copes with either.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EncounterQuery {
    pub encounter_type: Option<String>,
    /// A subject UUID.
    pub subject_id: Option<String>,
    pub last_modified_after: Option<DateTime<Utc>>,
    pub now: Option<DateTime<Utc>>,
    pub page: u32,
    pub size: u32,
    pub concepts: BTreeMap<String, String>,
}

impl EncounterQuery {
    pub fn of_type(encounter_type: impl Into<String>) -> Self {
        EncounterQuery {
            encounter_type: Some(encounter_type.into()),
            ..EncounterQuery::default()
        }
    }

    pub fn query_string(&self, version: u32) -> QueryString {
        let mut q = QueryString::new();
        q.push_time("lastModifiedDateTime", self.last_modified_after)
            .push_time("now", self.now)
            .push_opt("encounterType", self.encounter_type.as_deref())
            .push_opt("subjectId", self.subject_id.as_deref())
            .push_opt("concepts", concepts_json(&self.concepts).as_deref())
            .push("page", &self.page.to_string())
            .push("size", &self.size.to_string())
            .push("version", &version.to_string());
        q
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{FixedOffset, TimeZone};

    fn ist(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        let ist = FixedOffset::east_opt(5 * 3600 + 1800).unwrap();
        ist.with_ymd_and_hms(y, mo, d, h, mi, s)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn times_are_utc_with_ms_and_z() {
        let t = ist(2023, 6, 3, 15, 0, 0);
        assert_eq!(format_time(t), "2023-06-03T09:30:00.000Z");
        let sub_ms = t + chrono::TimeDelta::microseconds(1_234_567);
        assert_eq!(format_time(sub_ms), "2023-06-03T09:30:01.234Z");
    }

    #[test]
    fn subject_query_encodes_times_plus_and_json() {
        let mut q = SubjectQuery::of_type("Individual");
        q.last_modified_after = Some(ist(2023, 6, 3, 15, 0, 0));
        q.now = Some(ist(2023, 6, 3, 15, 0, 1));
        q.size = 2000;
        q.location_ids = vec!["a-1".into(), "b-2".into()];
        q.concepts.insert("Blood group".into(), "B+".into());
        assert_eq!(
            q.query_string(1).as_str(),
            "lastModifiedDateTime=2023-06-03T09%3A30%3A00.000Z\
             &now=2023-06-03T09%3A30%3A01.000Z\
             &subjectType=Individual\
             &locationIds=a-1%2Cb-2\
             &concepts=%7B%22Blood%20group%22%3A%22B%2B%22%7D\
             &page=0&size=2000&version=1"
        );
    }

    #[test]
    fn a_plus_never_travels_raw() {
        let mut q = QueryString::new();
        q.push("x", "2023-06-03T15:00:00.000+05:30");
        assert_eq!(q.as_str(), "x=2023-06-03T15%3A00%3A00.000%2B05%3A30");
    }

    #[test]
    fn optional_parameters_are_left_out() {
        let q = EncounterQuery {
            size: 10,
            ..EncounterQuery::default()
        };
        assert_eq!(q.query_string(2).as_str(), "page=0&size=10&version=2");
        let mut q = EncounterQuery::of_type("Dispatch receipt");
        q.subject_id = Some("s-1".into());
        q.page = 3;
        q.size = 5;
        assert_eq!(
            q.query_string(1).as_str(),
            "encounterType=Dispatch%20receipt&subjectId=s-1&page=3&size=5&version=1"
        );
    }
}
