//! A record of a list page kept as its JSON text until it is processed. A page of 2,000 Avni
//! records decoded into `serde_json::Value` trees takes several times its body's size for as
//! long as the page is worked on; kept as text, a page costs about its body, and each record
//! becomes a tree only while it is converted. The reader needs just the `ID` and
//! `audit."Last modified at"`, read once when the page is decoded.

use super::entity::{parse_time, Encounter, Entity, Subject};
use chrono::{DateTime, Utc};
use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

/// What the incremental reader needs of a record: its key in `Last modified at` order.
pub trait Keyed {
    /// `ID`: the UUID.
    fn key_id(&self) -> Option<&str>;
    /// `audit."Last modified at"`.
    fn key_modified(&self) -> Option<DateTime<Utc>>;
}

impl Keyed for Subject {
    fn key_id(&self) -> Option<&str> {
        self.id()
    }

    fn key_modified(&self) -> Option<DateTime<Utc>> {
        self.last_modified()
    }
}

impl Keyed for Encounter {
    fn key_id(&self) -> Option<&str> {
        self.id()
    }

    fn key_modified(&self) -> Option<DateTime<Utc>> {
        self.last_modified()
    }
}

/// One record of a page as Avni sent it, decoded into `T` on demand.
pub struct Raw<T> {
    json: Box<RawValue>,
    id: Option<Box<str>>,
    last_modified: Option<DateTime<Utc>>,
    problem: Option<Box<str>>,
    decoded_as: PhantomData<fn() -> T>,
}

impl<T> Raw<T> {
    /// `ID`, read when the page was decoded.
    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// `audit."Last modified at"`, read when the page was decoded.
    pub fn last_modified(&self) -> Option<DateTime<Utc>> {
        self.last_modified
    }

    /// Why the record cannot be converted as it is (its `ID`, `Last modified at`, `Voided` or
    /// `observations` of the wrong type or missing): a classified error, never a page failure.
    pub fn problem(&self) -> Option<&str> {
        self.problem.as_deref()
    }

    /// The record's JSON text.
    pub fn text(&self) -> &str {
        self.json.get()
    }

    /// The record as a JSON tree (an error record's payload).
    pub fn to_value(&self) -> serde_json::Value {
        // The text parsed as JSON already, so this cannot fail; Null would only hide a bug.
        serde_json::from_str(self.json.get()).unwrap_or_default()
    }

    /// Wraps JSON text (tests, and records that did not come from a page).
    pub fn from_text(text: &str) -> Result<Self, serde_json::Error> {
        let json = RawValue::from_string(text.to_owned())?;
        Self::from_raw(json)
    }

    fn from_raw(json: Box<RawValue>) -> Result<Self, serde_json::Error> {
        // A struct also reads from a JSON list: a listed value that is no object is a garbled
        // page, not a record.
        if !json.get().trim_start().starts_with('{') {
            return Err(serde_json::Error::custom(format!(
                "a record is not an object: {:.100}",
                json.get()
            )));
        }
        let head: Head = serde_json::from_str(json.get())?;
        let (last_modified, stamp, time_problem) = read_last_modified(head.audit);
        let (id, id_problem) = match head.id.map(RawValue::get) {
            None | Some("null" | "\"\"") => (
                avni_int_shared::store::errors::keyless_entity_id("ID", &stamp.unwrap_or_default()),
                Some("ID is missing".to_owned()),
            ),
            Some(text) => match serde_json::from_str::<String>(text) {
                Ok(id) => (id, None),
                Err(_) => (
                    text.to_owned(),
                    Some(format!("ClassCastException: ID is not a text: {text:.100}")),
                ),
            },
        };
        let voided_problem = head
            .voided
            .map(RawValue::get)
            .filter(|v| !["true", "false", "null"].contains(v))
            .map(|v| format!("ClassCastException: Voided is not a boolean: {v:.100}"));
        let observations_problem = head
            .observations
            .map(RawValue::get)
            .filter(|o| !o.starts_with('{') && *o != "null")
            .map(|o| format!("ClassCastException: observations is not an object: {o:.100}"));
        let problem = id_problem
            .or(time_problem)
            .or(voided_problem)
            .or(observations_problem);
        Ok(Raw {
            id: Some(Box::from(id.chars().take(MAX_KEY).collect::<String>())),
            last_modified,
            problem: problem.map(Box::from),
            json,
            decoded_as: PhantomData,
        })
    }
}

impl<T: DeserializeOwned> Raw<T> {
    /// The record as `T`.
    pub fn decode(&self) -> Result<T, serde_json::Error> {
        serde_json::from_str(self.json.get())
    }
}

impl<T> Keyed for Raw<T> {
    fn key_id(&self) -> Option<&str> {
        self.id()
    }

    fn key_modified(&self) -> Option<DateTime<Utc>> {
        self.last_modified
    }
}

impl<T> Clone for Raw<T> {
    fn clone(&self) -> Self {
        Raw {
            json: self.json.clone(),
            id: self.id.clone(),
            last_modified: self.last_modified,
            problem: self.problem.clone(),
            decoded_as: PhantomData,
        }
    }
}

impl<T> fmt::Debug for Raw<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Raw").field(&self.json.get()).finish()
    }
}

impl<'de, T> Deserialize<'de> for Raw<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let json = Box::<RawValue>::deserialize(deserializer)?;
        Raw::from_raw(json).map_err(D::Error::custom)
    }
}

/// The longest error key kept (`error_record.entity_id` is varchar(250)).
const MAX_KEY: usize = 200;

/// The fields of a record the reader keys it by, and those every conversion needs of the right
/// type; read as raw text so a wrong type is the record's problem, not the page's. Everything
/// else is skipped unread.
#[derive(Deserialize)]
struct Head<'a> {
    #[serde(rename = "ID", borrow, default)]
    id: Option<&'a RawValue>,
    #[serde(borrow, default)]
    audit: Option<&'a RawValue>,
    #[serde(rename = "Voided", borrow, default)]
    voided: Option<&'a RawValue>,
    #[serde(borrow, default)]
    observations: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct Audit<'a> {
    #[serde(rename = "Last modified at", borrow, default)]
    last_modified: Option<&'a RawValue>,
}

/// `audit."Last modified at"`: the time, its text (for a key), and what is wrong with it.
fn read_last_modified(
    audit: Option<&RawValue>,
) -> (Option<DateTime<Utc>>, Option<String>, Option<String>) {
    const FIELD: &str = "audit.\"Last modified at\"";
    let missing = || (None, None, Some(format!("{FIELD} is missing")));
    let Some(audit) = audit else {
        return missing();
    };
    let Ok(audit) = serde_json::from_str::<Audit>(audit.get()) else {
        return (
            None,
            None,
            Some(format!(
                "ClassCastException: audit is not an object: {:.100}",
                audit.get()
            )),
        );
    };
    let text = match audit.last_modified.map(RawValue::get) {
        None | Some("null") => return missing(),
        Some(text) => text,
    };
    match serde_json::from_str::<Cow<str>>(text) {
        Ok(stamp) => match parse_time(&stamp) {
            Some(t) => (Some(t), Some(stamp.into_owned()), None),
            None => (
                None,
                Some(stamp.to_string()),
                Some(format!("Invalid {FIELD} value specified: {stamp:.100}")),
            ),
        },
        Err(_) => (
            None,
            None,
            Some(format!(
                "ClassCastException: {FIELD} is not a text: {text:.100}"
            )),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::avni::entity::Page;

    #[test]
    fn a_page_keeps_records_as_text_with_their_keys() {
        let body = r#"{"content": [
            {"ID": "a", "Voided": false, "observations": {"x": [1, 2]},
             "audit": {"Created at": "2023-06-01T05:12:40.120Z",
                       "Last modified at": "2023-06-03T09:30:00.123Z"}},
            {"ID": null, "audit": null},
            {"External ID": "e\"1"}
        ], "totalPages": 4}"#;
        let page: Page<Raw<Subject>> = serde_json::from_str(body).unwrap();
        assert_eq!(page.total_pages, Some(4));
        let [a, b, c] = &page.content[..] else {
            panic!("three records")
        };
        assert_eq!(a.id(), Some("a"));
        assert_eq!(
            a.last_modified().map(|t| t.timestamp_millis()),
            Some(1_685_784_600_123)
        );
        let subject = a.decode().unwrap();
        assert_eq!(subject.observation("x"), Some(&serde_json::json!([1, 2])));
        assert_eq!(a.to_value(), subject.into_json());
        assert_eq!((b.id(), b.last_modified()), (Some("(no ID) "), None));
        assert_eq!(b.problem(), Some("ID is missing"));
        assert_eq!(c.decode().unwrap().external_id(), Some("e\"1"));
        assert_eq!(c.key_id(), Some("(no ID) "));
        assert_eq!(a.problem(), None);
    }

    #[test]
    fn an_unreadable_time_is_no_key() {
        let raw = Raw::<Encounter>::from_text(
            r#"{"ID": "x\u0041", "audit": {"Last modified at": "yesterday"}}"#,
        )
        .unwrap();
        // Escapes in the ID are decoded.
        assert_eq!(raw.id(), Some("xA"));
        assert_eq!(raw.last_modified(), None);
        assert_eq!(
            raw.problem(),
            Some("Invalid audit.\"Last modified at\" value specified: yesterday")
        );
        assert!(Raw::<Encounter>::from_text("[1]").is_err());
        for (text, problem) in [
            (
                r#"{"ID": 5, "audit": {"Last modified at": "2023-06-03T09:30:00.123Z"}}"#,
                "ClassCastException: ID is not a text: 5",
            ),
            (
                r#"{"ID": "a", "audit": {"Last modified at": 5}}"#,
                "ClassCastException: audit.\"Last modified at\" is not a text: 5",
            ),
            (
                r#"{"ID": "a", "audit": "x"}"#,
                "ClassCastException: audit is not an object: \"x\"",
            ),
            (r#"{"ID": "a"}"#, "audit.\"Last modified at\" is missing"),
            (
                r#"{"ID": "a", "audit": {"Last modified at": "2023-06-03T09:30:00.123Z"}, "Voided": "maybe"}"#,
                "ClassCastException: Voided is not a boolean: \"maybe\"",
            ),
            (
                r#"{"ID": "a", "audit": {"Last modified at": "2023-06-03T09:30:00.123Z"}, "observations": []}"#,
                "ClassCastException: observations is not an object: []",
            ),
        ] {
            let raw = Raw::<Subject>::from_text(text).unwrap();
            assert_eq!(raw.problem(), Some(problem), "{text}");
        }
        assert_eq!(
            Raw::<Subject>::from_text(r#"{"ID": 5}"#).unwrap().id(),
            Some("5")
        );
    }
}
