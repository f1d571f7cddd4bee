//! Conversions of Avni observations to the values Salesforce takes (contracts/goonj.md §4): text
//! (`;`-joined lists), numbers that fail like the original's casts, IST dates, prefixed media,
//! the location map, audit users, and the record fields set from them.

use crate::avni::{Entity, Subject};
use crate::goonj::time;
use chrono::NaiveDate;
use serde_json::{Map, Value};

/// The observations of an entity, or the fields of a question-group entry, read the way
/// Salesforce wants them.
#[derive(Debug, Clone, Copy)]
pub struct Obs<'a> {
    map: Option<&'a Map<String, Value>>,
}

impl<'a> Obs<'a> {
    pub fn new(map: Option<&'a Map<String, Value>>) -> Self {
        Obs { map }
    }

    pub fn of<E: Entity>(entity: &'a E) -> Self {
        Obs::new(entity.observations())
    }

    /// The value, unless absent or null.
    pub fn value(&self, concept: &str) -> Option<&'a Value> {
        self.map?.get(concept).filter(|v| !v.is_null())
    }

    /// Text as Salesforce takes it: a multi-select joined with `;`, numbers and booleans
    /// written out; `None` when absent, null, empty or an object.
    pub fn text(&self, concept: &str) -> Option<String> {
        self.value(concept).and_then(text_of)
    }

    /// A question group's entries (a repeatable group is a list of them).
    pub fn groups(&self, concept: &str) -> Vec<&'a Map<String, Value>> {
        match self.value(concept) {
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_object).collect(),
            Some(Value::Object(entry)) => vec![entry],
            _ => Vec::new(),
        }
    }

    /// An integer, `None` when absent. Anything but a whole number is an error (the original's
    /// `ClassCastException`).
    pub fn int(&self, concept: &str) -> Result<Option<i64>, String> {
        self.value(concept).map(|v| int_of(concept, v)).transpose()
    }

    /// An integer that defaults to 0.
    pub fn int_or_zero(&self, concept: &str) -> Result<i64, String> {
        Ok(self.int(concept)?.unwrap_or(0))
    }

    /// An integer the record cannot go without.
    pub fn required_int(&self, concept: &str) -> Result<i64, String> {
        self.int(concept)?.ok_or_else(|| missing(concept))
    }

    /// A decimal that defaults to 0.
    pub fn double_or_zero(&self, concept: &str) -> Result<f64, String> {
        match self.value(concept) {
            None => Ok(0.0),
            Some(v) => double_of(concept, v),
        }
    }

    /// A Date concept as Salesforce's `yyyy-MM-dd`, the instant taken from UTC to IST.
    pub fn date(&self, concept: &str) -> Result<Option<String>, String> {
        let Some(value) = self.text(concept) else {
            return Ok(None);
        };
        ist_date_of(&value)
            .map(|d| Some(d.format("%Y-%m-%d").to_string()))
            .ok_or_else(|| format!("Unparseable date in observation \"{concept}\": {value}"))
    }

    /// Media URLs, each prefixed (`sales_force_media_url_prefix`), joined with `;`.
    pub fn media(&self, concept: &str, prefix: &str) -> Option<String> {
        self.value(concept).and_then(|v| media_of(prefix, v))
    }
}

/// The failure of a record missing a value it cannot go without.
pub fn missing(concept: &str) -> String {
    format!("Required observation \"{concept}\" is missing")
}

/// See [`Obs::text`].
pub fn text_of(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => (!s.is_empty()).then(|| s.clone()),
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().filter_map(text_of).collect();
            (!parts.is_empty()).then(|| parts.join(";"))
        }
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null | Value::Object(_) => None,
    }
}

fn class_cast(concept: &str, value: &Value, wanted: &str) -> String {
    format!("ClassCastException: observation \"{concept}\" is not {wanted}: {value}")
}

fn int_of(concept: &str, value: &Value) -> Result<i64, String> {
    let whole = |f: f64| (f.fract() == 0.0 && f.abs() < 9.0e15).then_some(f as i64);
    match value {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().and_then(whole)),
        Value::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    }
    .ok_or_else(|| class_cast(concept, value, "a whole number"))
}

fn double_of(concept: &str, value: &Value) -> Result<f64, String> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
        _ => None,
    }
    .ok_or_else(|| class_cast(concept, value, "a number"))
}

/// A date as `version=2` renders it (`yyyy-MM-dd`), or an instant (`version=1` gives the stored
/// UTC instant, e.g. `2000-10-31T18:30:00.000+00:00` for 1 Nov IST) as its IST date.
pub fn ist_date_of(value: &str) -> Option<NaiveDate> {
    let v = value.trim();
    NaiveDate::parse_from_str(v, "%Y-%m-%d")
        .ok()
        .or_else(|| time::parse_sf(v).map(time::ist_date))
}

/// See [`Obs::media`].
pub fn media_of(prefix: &str, value: &Value) -> Option<String> {
    let urls: Vec<String> = match value {
        Value::String(url) => vec![url.clone()],
        Value::Array(items) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    };
    let prefixed: Vec<String> = urls
        .into_iter()
        .map(|url| url.trim().to_owned())
        .filter(|url| !url.is_empty())
        .map(|url| format!("{prefix}{url}"))
        .collect();
    (!prefixed.is_empty()).then(|| prefixed.join(";"))
}

/// Where a subject is: its `location` levels, with `Other Block` / `Other Village` only when
/// the level itself is `Other`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Place {
    pub state: Option<String>,
    pub district: Option<String>,
    pub block: Option<String>,
    pub village: Option<String>,
    pub other_block: Option<String>,
    pub other_village: Option<String>,
}

impl Place {
    pub fn of(subject: &Subject) -> Place {
        let level = |name: &str| {
            subject
                .location_level(name)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        let obs = Obs::of(subject);
        let block = level("Block");
        let village = level("Village");
        let other_block = (block.as_deref() == Some("Other"))
            .then(|| obs.text("Other Block"))
            .flatten();
        let other_village = (village.as_deref() == Some("Other"))
            .then(|| obs.text("Other Village"))
            .flatten();
        Place {
            state: level("State"),
            district: level("District"),
            block,
            village,
            other_block,
            other_village,
        }
    }
}

/// `audit."Created by"` and `audit."Last modified by"`.
pub fn audit_users<E: Entity>(entity: &E) -> (Option<String>, Option<String>) {
    let user = |key: &str| entity.audit(key).map(str::to_owned);
    (user("Created by"), user("Last modified by"))
}

/// Sets `key` unless the value is absent or empty (records sent with nulls omitted).
pub fn put(record: &mut Map<String, Value>, key: &str, value: Option<String>) {
    if let Some(value) = value.filter(|v| !v.is_empty()) {
        record.insert(key.to_owned(), Value::String(value));
    }
}

/// Sets `key` to the text or to null (records sent with nulls).
pub fn put_or_null(record: &mut Map<String, Value>, key: &str, value: Option<String>) {
    record.insert(key.to_owned(), value.map_or(Value::Null, Value::String));
}

/// Why a subject is not sent: no `Registration date`, or voided (§4 Skip).
pub fn subject_skip(subject: &Subject) -> Option<&'static str> {
    if subject.voided() {
        return Some("voided");
    }
    if subject
        .str_field("Registration date")
        .is_none_or(|d| d.trim().is_empty())
    {
        return Some("no registration date");
    }
    None
}
