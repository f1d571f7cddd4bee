//! The incremental reader: new records after a cursor, in `Last modified at` order, never
//! skipping one and never looping, even when more than a page of records share a millisecond
//! (contracts/avni.md §2.3, §4).
//!
//! Avni's window is `after < t < now` over µs timestamps it shows only to the ms, ordered by
//! (t, an internal id). So:
//! - The head read is always page 0 of `(cursor − 1 ms, now)`: the sub-ms rows of the cursor's
//!   millisecond are all inside, delivered ones are recognised by the cursor and skipped.
//!   Rows edited meanwhile leave the window instead of shifting later pages, because nothing
//!   but page 0 of a cursor-anchored window is ever read this way.
//! - A full head page with nothing new means more than a page shares the cursor's millisecond
//!   (or the sub-ms tail of the one before). That millisecond is then walked by page number
//!   in the one-ms slice `(ms − 1 ms, ms + 1 ms)`. A walk counts the slice before and after
//!   (`totalPages` at `size=1` is the exact count; `totalElements` is only the page's count)
//!   and walks again if a row left or entered it, since that shifts pages under the walk.
//! - Once a millisecond is known complete the head read starts at it (`after = ms`), and if
//!   even that is a full page of delivered rows, the next millisecond is walked as a slice.
//!
//! `now` is fixed when the reader is made, so the window does not move during a run.

use super::cursor::{to_ms, AvniCursor};
use super::entity::Page;
use super::error::AvniError;
use super::query::format_time;
use super::raw::Keyed;
use chrono::{DateTime, TimeDelta, Utc};
use std::future::Future;

const ONE_MS: TimeDelta = TimeDelta::milliseconds(1);
/// Walks of one slice that kept changing before the run gives up (transiently) on it.
pub const MAX_SLICE_PASSES: u32 = 8;

/// One list endpoint, windowed: rows with `after < Last modified at < now` (some endpoints
/// include the ends; the reader copes), ordered by time, page `page` of `size`.
pub trait PageSource {
    type Item: Keyed + Send;

    fn fetch(
        &self,
        after: DateTime<Utc>,
        now: DateTime<Utc>,
        page: u32,
        size: u32,
    ) -> impl Future<Output = Result<Page<Self::Item>, AvniError>> + Send;
}

/// New records in order, with the cursor to commit after each.
#[derive(Debug, Clone)]
pub struct Batch<T> {
    start: AvniCursor,
    records: Vec<T>,
    keys: Vec<(DateTime<Utc>, String)>,
}

impl<T> Batch<T> {
    pub fn records(&self) -> &[T] {
        &self.records
    }

    pub fn into_records(self) -> Vec<T> {
        self.records
    }

    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The cursor before the first record.
    pub fn start_cursor(&self) -> &AvniCursor {
        &self.start
    }

    /// The cursor once records `0..=index` are done.
    pub fn cursor_after(&self, index: usize) -> AvniCursor {
        let mut cursor = self.start.clone();
        for (ms, id) in self.keys.iter().take(index.saturating_add(1)) {
            cursor.advance(*ms, id);
        }
        cursor
    }

    pub fn end_cursor(&self) -> AvniCursor {
        self.cursor_after(self.keys.len())
    }

    /// Each record with the cursor to commit once it is done.
    pub fn iter(&self) -> impl Iterator<Item = (&T, AvniCursor)> + '_ {
        let mut cursor = self.start.clone();
        self.records
            .iter()
            .zip(&self.keys)
            .map(move |(record, (ms, id))| {
                cursor.advance(*ms, id);
                (record, cursor.clone())
            })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Page 0 from the cursor.
    Head,
    /// Walking the cursor's millisecond by page number.
    Slice(SliceWalk),
    Done,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct SliceWalk {
    page: u32,
    pass: u32,
    /// Rows in the slice when this pass started (`None`: the source gives no count).
    count_at_start: Option<u64>,
    rows_read: u64,
}

pub struct IncrementalReader<S> {
    source: S,
    cursor: AvniCursor,
    /// Every record of the cursor's millisecond has been delivered (a slice walk settled).
    ms_complete: bool,
    now: DateTime<Utc>,
    size: u32,
    phase: Phase,
    requests: u64,
}

impl<S: PageSource> IncrementalReader<S> {
    /// Reads records modified after `cursor` and before `now` (fixed for this reader).
    pub fn new(source: S, cursor: AvniCursor, now: DateTime<Utc>, page_size: u32) -> Self {
        IncrementalReader {
            source,
            cursor,
            ms_complete: false,
            now: to_ms(now),
            size: page_size.max(1),
            phase: Phase::Head,
            requests: 0,
        }
    }

    /// After the last record handed out (possibly further, past fully read milliseconds).
    pub fn cursor(&self) -> &AvniCursor {
        &self.cursor
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.now
    }

    /// Requests made so far.
    pub fn requests(&self) -> u64 {
        self.requests
    }

    /// The next records, `None` once the window is read. On error the reader may be called
    /// again: nothing was handed out and its position is unchanged.
    pub async fn next_batch(&mut self) -> Result<Option<Batch<S::Item>>, AvniError> {
        loop {
            let batch = match self.phase {
                Phase::Done => return Ok(None),
                Phase::Head => self.read_head().await?,
                Phase::Slice(walk) => self.read_slice(walk).await?,
            };
            if let Some(batch) = batch.filter(|b| !b.is_empty()) {
                return Ok(Some(batch));
            }
        }
    }

    async fn read_head(&mut self) -> Result<Option<Batch<S::Item>>, AvniError> {
        let ms = self.cursor.last_modified();
        let after = if self.ms_complete { ms } else { ms - ONE_MS };
        let page = self.fetch(after, self.now, 0, self.size).await?;
        let full = page.content.len() >= self.size as usize;
        let batch = self.take(page.content, None)?;
        if !batch.is_empty() {
            return Ok(Some(batch));
        }
        if !full {
            self.phase = Phase::Done;
            return Ok(None);
        }
        let target = if self.ms_complete { ms + ONE_MS } else { ms };
        if target >= self.now {
            self.phase = Phase::Done;
            return Ok(None);
        }
        let count = self.count(target).await?;
        // Everything before `target` is delivered, so the cursor may stand at it.
        self.cursor.move_to(target);
        self.ms_complete = false;
        self.phase = Phase::Slice(SliceWalk {
            page: 0,
            pass: 1,
            count_at_start: count,
            rows_read: 0,
        });
        Ok(None)
    }

    async fn read_slice(&mut self, walk: SliceWalk) -> Result<Option<Batch<S::Item>>, AvniError> {
        let ms = self.cursor.last_modified();
        if walk.pass > MAX_SLICE_PASSES {
            return Err(AvniError::Unstable(format_time(ms)));
        }
        let (after, until) = self.slice(ms);
        let page = self.fetch(after, until, walk.page, self.size).await?;
        let rows_read = walk.rows_read + page.content.len() as u64;
        let next = if page.content.len() < self.size as usize {
            // Counted before anything is handed out, so a failure here changes nothing.
            let count = self.count(ms).await?;
            let settled = match (walk.count_at_start, count) {
                (Some(before), Some(after)) => before == after && rows_read == after,
                // Without counts one pass is all that can be done.
                _ => true,
            };
            if settled {
                Phase::Head
            } else {
                tracing::info!(slice = %format_time(ms), pass = walk.pass, "Avni records changed during a slice walk; walking it again");
                Phase::Slice(SliceWalk {
                    page: 0,
                    pass: walk.pass + 1,
                    count_at_start: count,
                    rows_read: 0,
                })
            }
        } else {
            Phase::Slice(SliceWalk {
                page: walk.page + 1,
                rows_read,
                ..walk
            })
        };
        let batch = self.take(page.content, Some(ms))?;
        self.phase = next;
        if next == Phase::Head {
            self.ms_complete = true;
        }
        Ok(Some(batch))
    }

    /// The one-ms slice around `ms`, never past the reader's `now`.
    fn slice(&self, ms: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
        (ms - ONE_MS, (ms + ONE_MS).min(self.now))
    }

    /// Rows in the slice around `ms`: `totalPages` of a one-row page.
    async fn count(&mut self, ms: DateTime<Utc>) -> Result<Option<u64>, AvniError> {
        let (after, until) = self.slice(ms);
        Ok(self.fetch(after, until, 0, 1).await?.total_pages)
    }

    async fn fetch(
        &mut self,
        after: DateTime<Utc>,
        now: DateTime<Utc>,
        page: u32,
        size: u32,
    ) -> Result<Page<S::Item>, AvniError> {
        self.requests += 1;
        self.source.fetch(after, now, page, size).await
    }

    /// Hands out the records the cursor has not seen (only those of `only_ms` in a slice walk)
    /// and advances the cursor past them.
    fn take(
        &mut self,
        content: Vec<S::Item>,
        only_ms: Option<DateTime<Utc>>,
    ) -> Result<Batch<S::Item>, AvniError> {
        // Validate the whole page first so an error leaves the cursor untouched.
        let mut keyed = Vec::with_capacity(content.len());
        // A record without a readable time (handed out to fail as a classified error) sits
        // where Avni listed it, at the time of the one before: the page stays readable and the
        // cursor passes it like any other.
        let mut previous = self.cursor.last_modified();
        for item in content {
            let id = item
                .key_id()
                .ok_or_else(|| AvniError::Unexpected("a record without \"ID\"".into()))?
                .to_owned();
            let ms = item.key_modified().map(to_ms).unwrap_or(previous);
            previous = ms;
            keyed.push((item, ms, id));
        }
        let before = self.cursor.last_modified();
        let mut batch = Batch {
            start: self.cursor.clone(),
            records: Vec::new(),
            keys: Vec::new(),
        };
        for (item, ms, id) in keyed {
            if only_ms.is_none_or(|t| ms == t) && self.cursor.is_new(ms, &id) {
                self.cursor.advance(ms, &id);
                batch.records.push(item);
                batch.keys.push((ms, id));
            }
        }
        if self.cursor.last_modified() != before {
            self.ms_complete = false;
        }
        Ok(batch)
    }
}
