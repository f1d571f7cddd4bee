//! The sim's data: the feeds Salesforce serves (cursor-ordered, with deletions) and the records
//! the integration upserts (one per key, merged like a Salesforce upsert).

use super::{parse_sf_datetime, sf_datetime};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap, HashSet};

/// What identifies, orders and filters the records of a feed.
pub(crate) struct FeedSpec {
    pub id_field: &'static str,
    pub ts_field: &'static str,
    pub state_field: &'static str,
}

pub(crate) const DEMAND: FeedSpec = FeedSpec {
    id_field: "DemandId",
    ts_field: "LastUpdatedDateTime",
    state_field: "State",
};

pub(crate) const DISPATCH: FeedSpec = FeedSpec {
    id_field: "DispatchStatusId",
    ts_field: "LastUpdatedDateTime",
    state_field: "DispatchState",
};

pub(crate) const INVENTORY: FeedSpec = FeedSpec {
    id_field: "ImplementationInventoryId",
    ts_field: "LastModifiedDate",
    state_field: "CenterFieldOfficeState",
};

/// `state`/`account` query filters; empty means none. Matching ignores case, as SOQL does.
#[derive(Default)]
pub(crate) struct Filter {
    pub state: Option<String>,
    pub account: Option<String>,
}

impl Filter {
    fn matches(&self, spec: &FeedSpec, record: &Value) -> bool {
        let field_is = |field: &str, wanted: &str| {
            record
                .get(field)
                .and_then(Value::as_str)
                .is_some_and(|v| v.trim().eq_ignore_ascii_case(wanted.trim()))
        };
        let state_ok = self
            .state
            .as_deref()
            .is_none_or(|s| field_is(spec.state_field, s));
        let account_ok = self.account.as_deref().is_none_or(|a| {
            ["AccountName", "AccountId", "CenterFieldOfficeName"]
                .iter()
                .any(|f| field_is(f, a))
        });
        state_ok && account_ok
    }
}

struct FeedRecord {
    ts: DateTime<Utc>,
    seq: u64,
    body: Value,
}

/// Records ordered by (timestamp, insertion) so a page is a range scan.
pub(crate) struct Feed {
    spec: &'static FeedSpec,
    records: HashMap<String, FeedRecord>,
    order: BTreeMap<(DateTime<Utc>, u64), String>,
    deleted: Vec<(DateTime<Utc>, String)>,
    seq: u64,
}

/// Whole seconds: the precision of the cursor on the wire.
pub(crate) fn second(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(t.timestamp(), 0).unwrap_or(t)
}

impl Feed {
    pub fn new(spec: &'static FeedSpec) -> Self {
        Feed {
            spec,
            records: HashMap::new(),
            order: BTreeMap::new(),
            deleted: Vec::new(),
            seq: 0,
        }
    }

    /// Adds or replaces a record; stamps the timestamp field with `now` when absent or null.
    /// Panics on a record without its id or with an unreadable timestamp (a broken seed).
    pub fn put(&mut self, mut body: Value, now: DateTime<Utc>) -> String {
        let spec = self.spec;
        let id = match body.get(spec.id_field) {
            Some(Value::String(id)) if !id.is_empty() => id.clone(),
            _ => panic!("seeded record has no {}: {body}", spec.id_field),
        };
        let ts = match body.get(spec.ts_field) {
            Some(Value::String(s)) => parse_sf_datetime(s).unwrap_or_else(|| {
                panic!(
                    "seeded record {id} has an unreadable {}: {s}",
                    spec.ts_field
                )
            }),
            _ => {
                if let Value::Object(fields) = &mut body {
                    fields.insert(spec.ts_field.into(), json!(sf_datetime(now)));
                } else {
                    panic!("seeded record is not an object: {body}");
                }
                now
            }
        };
        if let Some(old) = self.records.remove(&id) {
            self.order.remove(&(old.ts, old.seq));
        }
        self.deleted.retain(|(_, d)| d != &id);
        self.seq += 1;
        self.order.insert((ts, self.seq), id.clone());
        self.records.insert(
            id.clone(),
            FeedRecord {
                ts,
                seq: self.seq,
                body,
            },
        );
        id
    }

    /// Removes the record (if present) and lists its id as deleted at `at`, even when it was
    /// never seeded (an id the integration knows from elsewhere).
    pub fn delete(&mut self, id: &str, at: DateTime<Utc>) {
        if let Some(old) = self.records.remove(id) {
            self.order.remove(&(old.ts, old.seq));
        }
        self.deleted.retain(|(_, d)| d != id);
        self.deleted.push((at, id.to_owned()));
    }

    pub fn get(&self, id: &str) -> Option<&Value> {
        self.records.get(id).map(|r| &r.body)
    }

    pub fn get_mut(&mut self, id: &str) -> Option<&mut Value> {
        self.records.get_mut(id).map(|r| &mut r.body)
    }

    pub fn is_deleted(&self, id: &str) -> bool {
        self.deleted.iter().any(|(_, d)| d == id)
    }

    /// Records whose timestamp (to the second) is strictly after `cursor` (to the second),
    /// oldest first, filtered, at most `limit`.
    pub fn changed_after(
        &self,
        cursor: DateTime<Utc>,
        filter: &Filter,
        limit: usize,
    ) -> Vec<Value> {
        let from = second(cursor) + chrono::Duration::seconds(1);
        self.order
            .range((from, 0)..)
            .filter_map(|(_, id)| self.records.get(id))
            .filter(|r| filter.matches(self.spec, &r.body))
            .take(limit)
            .map(|r| r.body.clone())
            .collect()
    }

    /// Ids deleted (to the second) strictly after `cursor`, in deletion order.
    pub fn deleted_after(&self, cursor: DateTime<Utc>) -> Vec<String> {
        self.deleted
            .iter()
            .filter(|(at, _)| second(*at) > second(cursor))
            .map(|(_, id)| id.clone())
            .collect()
    }
}

/// An upsert resource: its request list and its key.
pub(crate) struct UpsertSpec {
    pub list: &'static str,
    pub key: &'static str,
    pub id_prefix: &'static str,
}

pub(crate) const ACTIVITY: UpsertSpec = UpsertSpec {
    list: "Activities",
    key: "SourceId",
    id_prefix: "a0A5j",
};

pub(crate) const DISTRIBUTION: UpsertSpec = UpsertSpec {
    list: "Distributions",
    key: "sourceId",
    id_prefix: "a0S5j",
};

pub(crate) const RECEIPT: UpsertSpec = UpsertSpec {
    list: "DispatchReceivedStatus",
    key: "SourceId",
    id_prefix: "a0R5j",
};

/// Keys of child-list elements (Distribution lines and activities, receipt lines).
pub(crate) fn line_key(element: &Value) -> Option<&str> {
    ["SourceId", "sourceId", "ActivitySourceId"]
        .iter()
        .find_map(|k| element.get(*k).and_then(Value::as_str))
}

struct Upserted {
    seq: u64,
    sf_id: String,
    body: Value,
}

/// Upserted records, one per key.
pub(crate) struct Upserts {
    records: HashMap<String, Upserted>,
    seq: u64,
}

impl Upserts {
    pub fn new() -> Self {
        Upserts {
            records: HashMap::new(),
            seq: 0,
        }
    }

    pub fn contains(&self, key: &str) -> bool {
        self.records.contains_key(key)
    }

    /// Inserts (as `fresh_id`) or merges; returns (Salesforce id, created).
    pub fn apply(&mut self, key: &str, body: Value, fresh_id: Option<String>) -> (String, bool) {
        if let Some(existing) = self.records.get_mut(key) {
            merge(&mut existing.body, body);
            return (existing.sf_id.clone(), false);
        }
        self.seq += 1;
        let sf_id = fresh_id.unwrap_or_default();
        self.records.insert(
            key.to_owned(),
            Upserted {
                seq: self.seq,
                sf_id: sf_id.clone(),
                body,
            },
        );
        (sf_id, true)
    }

    /// Removes by key or Salesforce id; returns (Salesforce id, key) when found.
    pub fn remove(&mut self, key_or_id: &str, by_sf_id: bool) -> Option<(String, String)> {
        let key = if by_sf_id {
            self.records
                .iter()
                .find(|(_, r)| r.sf_id == key_or_id)
                .map(|(k, _)| k.clone())?
        } else {
            key_or_id.to_owned()
        };
        self.records.remove(&key).map(|r| (r.sf_id, key))
    }

    pub fn get(&self, key: &str) -> Option<Value> {
        self.records.get(key).map(|r| r.body.clone())
    }

    pub fn all(&self) -> Vec<Value> {
        let mut records: Vec<&Upserted> = self.records.values().collect();
        records.sort_by_key(|r| r.seq);
        records.into_iter().map(|r| r.body.clone()).collect()
    }
}

fn is_keyed_list(list: &[Value]) -> bool {
    !list.is_empty() && list.iter().all(|e| line_key(e).is_some())
}

/// A Salesforce upsert of an existing record: fields sent overwrite (null included), fields not
/// sent stay; child lists with keys are upserted element by element.
pub(crate) fn merge(existing: &mut Value, incoming: Value) {
    match (existing, incoming) {
        (Value::Object(old), Value::Object(new)) => {
            for (field, value) in new {
                match (old.get_mut(&field), value) {
                    (Some(Value::Array(old_list)), Value::Array(new_list))
                        if is_keyed_list(&new_list)
                            && old_list.iter().all(|e| line_key(e).is_some()) =>
                    {
                        for element in new_list {
                            let key = line_key(&element).map(str::to_owned);
                            match old_list
                                .iter_mut()
                                .find(|e| line_key(e).map(str::to_owned) == key)
                            {
                                Some(old_element) => merge(old_element, element),
                                None => old_list.push(element),
                            }
                        }
                    }
                    (_, value) => {
                        old.insert(field, value);
                    }
                }
            }
        }
        (slot, value) => *slot = value,
    }
}

/// A list Salesforce refuses to upsert: two identical elements (`ListException`), or two with
/// the same key (`DUPLICATE_EXTERNAL_ID`).
pub(crate) enum Duplicate {
    Identical,
    SameKey { row: usize, key: String },
}

pub(crate) fn find_duplicate<'a>(
    elements: impl IntoIterator<Item = &'a Value>,
    key_of: impl Fn(&Value) -> Option<&str>,
) -> Option<Duplicate> {
    let mut seen: Vec<&Value> = Vec::new();
    let mut keys: HashSet<&str> = HashSet::new();
    let mut same_key = None;
    for (row, element) in elements.into_iter().enumerate() {
        if seen.contains(&element) {
            return Some(Duplicate::Identical);
        }
        seen.push(element);
        if let Some(key) = key_of(element) {
            if !keys.insert(key) && same_key.is_none() {
                same_key = Some(Duplicate::SameKey {
                    row,
                    key: key.to_owned(),
                });
            }
        }
    }
    same_key
}
