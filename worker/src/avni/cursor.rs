//! The incremental read cursor: a millisecond and the IDs already delivered at it. Avni stores
//! µs but shows ms and orders ties by an id it does not expose, so a timestamp alone cannot say
//! which of the rows sharing a millisecond were read. Invariant: every record last modified
//! before `last_modified` was delivered, and so were those at it whose ID is in the set.
//!
//! Persisted in `integrating_entity_status`: `read_upto_date_time` holds the millisecond as a
//! naive UTC timestamp, a new `read_upto_seen_ids` jsonb column holds
//! `{"ms": "<that millisecond>", "ids": [sorted IDs]}`. The IDs name their millisecond so that a
//! writer unaware of the column (the Java service, a manual reset) moving `read_upto_date_time`
//! cannot have stale IDs applied to another millisecond, which could skip a re-edited record.

use super::entity::parse_time;
use super::query::format_time;
use avni_int_shared::store::cursors::Cursor;
use chrono::{DateTime, NaiveDateTime, SubsecRound, Utc};
use std::collections::BTreeSet;

/// The stored form of the IDs, tagged with their millisecond.
#[derive(serde::Deserialize)]
struct SeenIds {
    ms: String,
    ids: BTreeSet<String>,
}

/// Truncates to Avni's display precision.
pub fn to_ms(t: DateTime<Utc>) -> DateTime<Utc> {
    t.trunc_subsecs(3)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AvniCursor {
    last_modified: DateTime<Utc>,
    seen_ids_at_that_ms: BTreeSet<String>,
}

/// The cursor as stored: `read_upto_date_time` and the proposed `read_upto_seen_ids`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCursor {
    pub read_upto_date_time: NaiveDateTime,
    /// `{"ms": "<ISO ms Z>", "ids": [..]}`.
    pub read_upto_seen_ids: String,
}

impl AvniCursor {
    /// Nothing delivered at or after `last_modified` (truncated to ms).
    pub fn at(last_modified: DateTime<Utc>) -> Self {
        AvniCursor {
            last_modified: to_ms(last_modified),
            seen_ids_at_that_ms: BTreeSet::new(),
        }
    }

    pub fn new(last_modified: DateTime<Utc>, seen_ids_at_that_ms: BTreeSet<String>) -> Self {
        AvniCursor {
            last_modified: to_ms(last_modified),
            seen_ids_at_that_ms,
        }
    }

    pub fn last_modified(&self) -> DateTime<Utc> {
        self.last_modified
    }

    pub fn seen_ids(&self) -> &BTreeSet<String> {
        &self.seen_ids_at_that_ms
    }

    /// Whether a record last modified at `last_modified` with this ID is still to deliver.
    pub fn is_new(&self, last_modified: DateTime<Utc>, id: &str) -> bool {
        let ms = to_ms(last_modified);
        ms > self.last_modified
            || (ms == self.last_modified && !self.seen_ids_at_that_ms.contains(id))
    }

    /// The cursor after delivering this record (records come in `Last modified at` order, so an
    /// older one changes nothing).
    pub fn advance(&mut self, last_modified: DateTime<Utc>, id: &str) {
        let ms = to_ms(last_modified);
        if ms > self.last_modified {
            self.last_modified = ms;
            self.seen_ids_at_that_ms.clear();
        }
        if ms == self.last_modified {
            self.seen_ids_at_that_ms.insert(id.to_owned());
        }
    }

    /// Moves to a later millisecond once everything before it was delivered.
    pub(crate) fn move_to(&mut self, ms: DateTime<Utc>) {
        if ms > self.last_modified {
            self.last_modified = to_ms(ms);
            self.seen_ids_at_that_ms.clear();
        }
    }

    pub fn to_stored(&self) -> StoredCursor {
        StoredCursor {
            read_upto_date_time: self.last_modified.naive_utc(),
            read_upto_seen_ids: serde_json::json!({
                "ms": format_time(self.last_modified),
                "ids": self.seen_ids_at_that_ms,
            })
            .to_string(),
        }
    }

    /// From the stored columns; `start` when nothing was stored yet. Missing, unreadable or
    /// stale IDs (of another millisecond; a cursor the Java service wrote) mean an empty set:
    /// the records of that millisecond are delivered again, which the idempotent writes absorb,
    /// rather than skipped.
    pub fn from_stored(
        read_upto_date_time: Option<NaiveDateTime>,
        read_upto_seen_ids: Option<&str>,
        start: DateTime<Utc>,
    ) -> Self {
        let Some(at) = read_upto_date_time else {
            return AvniCursor::at(start);
        };
        let at = to_ms(at.and_utc());
        let seen = match read_upto_seen_ids.map(serde_json::from_str::<SeenIds>) {
            None => BTreeSet::new(),
            Some(Ok(seen)) if parse_time(&seen.ms) == Some(at) => seen.ids,
            Some(Ok(seen)) => {
                tracing::warn!(ids_at = %seen.ms, cursor_at = %format_time(at), "seen-ids of an Avni cursor belong to another millisecond; re-reading it");
                BTreeSet::new()
            }
            Some(Err(error)) => {
                tracing::warn!(%error, "unreadable seen-ids of an Avni cursor; re-reading its millisecond");
                BTreeSet::new()
            }
        };
        AvniCursor::new(at, seen)
    }

    /// As `store::cursors` saves it (`read_upto_date_time` and `read_upto_seen_ids`).
    pub fn store_cursor(&self) -> Cursor {
        let stored = self.to_stored();
        Cursor {
            numeric: None,
            date_time: Some(stored.read_upto_date_time),
            seen_ids: Some(stored.read_upto_seen_ids),
        }
    }

    /// From `store::cursors::load`; `start` when nothing was stored yet.
    pub fn from_store_cursor(cursor: Option<&Cursor>, start: DateTime<Utc>) -> Self {
        AvniCursor::from_stored(
            cursor.and_then(|c| c.date_time),
            cursor.and_then(|c| c.seen_ids.as_deref()),
            start,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;

    fn t(ms: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(ms).unwrap()
    }

    #[test]
    fn advancing_tracks_ids_of_the_latest_millisecond() {
        let mut c = AvniCursor::at(t(1_000) + TimeDelta::microseconds(700));
        assert_eq!(c.last_modified(), t(1_000));
        assert!(c.is_new(t(1_000), "a"));
        c.advance(t(1_000) + TimeDelta::microseconds(300), "a");
        assert!(!c.is_new(t(1_000), "a"));
        assert!(c.is_new(t(1_000), "b"));
        assert!(!c.is_new(t(999), "z"));
        c.advance(t(1_001), "b");
        assert_eq!(c.last_modified(), t(1_001));
        assert_eq!(c.seen_ids().iter().collect::<Vec<_>>(), ["b"]);
        c.advance(t(1_000), "late");
        assert_eq!(c.seen_ids().len(), 1);
    }

    #[test]
    fn round_trips_through_the_stored_columns() {
        let c = AvniCursor::new(
            t(1_685_784_600_123),
            BTreeSet::from(["b".to_owned(), "a".to_owned()]),
        );
        let stored = c.to_stored();
        assert_eq!(
            stored.read_upto_date_time.to_string(),
            "2023-06-03 09:30:00.123"
        );
        assert_eq!(
            stored.read_upto_seen_ids,
            r#"{"ids":["a","b"],"ms":"2023-06-03T09:30:00.123Z"}"#
        );
        let back = AvniCursor::from_stored(
            Some(stored.read_upto_date_time),
            Some(&stored.read_upto_seen_ids),
            t(0),
        );
        assert_eq!(back, c);
        let via_store = AvniCursor::from_store_cursor(Some(&c.store_cursor()), t(0));
        assert_eq!(via_store, c);
    }

    #[test]
    fn missing_or_bad_ids_re_read_the_millisecond() {
        let at = t(5_000).naive_utc();
        assert!(AvniCursor::from_stored(Some(at), None, t(0))
            .seen_ids()
            .is_empty());
        assert!(AvniCursor::from_stored(Some(at), Some("{oops"), t(0))
            .seen_ids()
            .is_empty());
        // Someone moved read_upto_date_time without the IDs: they are another ms's.
        let stale = AvniCursor::new(t(4_000), BTreeSet::from(["a".to_owned()])).to_stored();
        assert!(
            AvniCursor::from_stored(Some(at), Some(&stale.read_upto_seen_ids), t(0))
                .seen_ids()
                .is_empty()
        );
        assert_eq!(
            AvniCursor::from_stored(None, Some(r#"["x"]"#), t(42)),
            AvniCursor::at(t(42))
        );
    }
}
