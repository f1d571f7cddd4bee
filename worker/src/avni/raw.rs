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
        let head: Head = serde_json::from_str(json.get())?;
        Ok(Raw {
            id: head.id.map(|id| Box::from(id.as_ref())),
            last_modified: head
                .audit
                .and_then(|a| a.last_modified)
                .and_then(|t| parse_time(&t)),
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

/// The fields of a record the reader keys it by; everything else is skipped unread.
#[derive(Deserialize)]
struct Head<'a> {
    #[serde(rename = "ID", borrow, default)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    audit: Option<Audit<'a>>,
}

#[derive(Deserialize)]
struct Audit<'a> {
    #[serde(rename = "Last modified at", borrow, default)]
    last_modified: Option<Cow<'a, str>>,
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
        assert_eq!((b.id(), b.last_modified()), (None, None));
        assert_eq!(c.decode().unwrap().external_id(), Some("e\"1"));
        assert_eq!(c.key_id(), None);
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
        assert!(Raw::<Encounter>::from_text("[1]").is_err());
    }
}
