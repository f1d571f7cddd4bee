//! The incremental reader against an in-memory Avni that behaves like the real one: µs
//! storage, ms output, a strict window ordered by (time, internal id), `totalElements` as the
//! page's own count, and hooks that change the data between requests.

use super::cursor::AvniCursor;
use super::entity::{Entity, Page, Subject};
use super::error::AvniError;
use super::query::format_time;
use super::reader::{IncrementalReader, PageSource};
use chrono::{DateTime, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

/// 2023-06-03T09:30:00Z in µs; test times are offsets from it.
const T0_US: i64 = 1_685_784_600_000_000;

fn at_us(offset_us: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(T0_US + offset_us).unwrap()
}

fn at_ms(offset_ms: i64) -> DateTime<Utc> {
    at_us(offset_ms * 1000)
}

#[derive(Debug, Clone)]
struct Row {
    id: String,
    us: i64,
    seq: u64,
}

#[derive(Debug, Clone, Copy)]
struct Request {
    after_us: i64,
    now_us: i64,
    page: u32,
    size: u32,
}

#[derive(Default)]
struct Db {
    rows: Vec<Row>,
    next_seq: u64,
    requests: Vec<Request>,
}

impl Db {
    /// Inserts or edits (Avni gives an edited row a new time and keeps its internal id).
    fn put(&mut self, id: &str, offset_us: i64) {
        if let Some(row) = self.rows.iter_mut().find(|r| r.id == id) {
            row.us = T0_US + offset_us;
            return;
        }
        self.next_seq += 1;
        self.rows.push(Row {
            id: id.to_owned(),
            us: T0_US + offset_us,
            seq: self.next_seq,
        });
    }
}

type Hook = Box<dyn FnMut(&Request, &mut Db) + Send>;

#[derive(Clone, Default)]
struct FakeAvni {
    db: Arc<Mutex<Db>>,
    hook: Arc<Mutex<Option<Hook>>>,
    /// groupSubjects, locations and encounters+concepts use an inclusive BETWEEN.
    inclusive: bool,
    /// Leave `totalPages` out.
    no_total_pages: bool,
}

impl FakeAvni {
    fn with(rows: &[(&str, i64)]) -> Self {
        let fake = FakeAvni::default();
        for (id, us) in rows {
            fake.db.lock().unwrap().put(id, *us);
        }
        fake
    }

    fn on_request(&self, hook: impl FnMut(&Request, &mut Db) + Send + 'static) {
        *self.hook.lock().unwrap() = Some(Box::new(hook));
    }

    fn requests(&self) -> usize {
        self.db.lock().unwrap().requests.len()
    }

    fn serve(&self, request: Request) -> String {
        let mut db = self.db.lock().unwrap();
        if let Some(hook) = self.hook.lock().unwrap().as_mut() {
            hook(&request, &mut db);
        }
        db.requests.push(request);
        // A reader that loops fails here instead of hanging the test.
        assert!(db.requests.len() < 20_000, "the reader is looping");
        let (a, b) = (request.after_us, request.now_us);
        let mut window: Vec<&Row> = db
            .rows
            .iter()
            .filter(|r| {
                if self.inclusive {
                    a <= r.us && r.us <= b
                } else {
                    a < r.us && r.us < b
                }
            })
            .collect();
        window.sort_by_key(|r| (r.us, r.seq));
        let size = request.size as usize;
        let content: Vec<_> = window
            .iter()
            .skip(request.page as usize * size)
            .take(size)
            .map(|r| {
                let shown = DateTime::from_timestamp_micros(r.us).unwrap();
                json!({"ID": r.id, "v": r.us,
                       "audit": {"Last modified at": format_time(shown)}})
            })
            .collect();
        let mut page = json!({
            // Avni's lie: the count of this page, not the total.
            "totalElements": content.len(),
            "totalPages": window.len().div_ceil(size),
            "pageSize": size,
            "content": content,
        });
        if self.no_total_pages {
            page.as_object_mut().unwrap().remove("totalPages");
        }
        page.to_string()
    }
}

impl PageSource for FakeAvni {
    type Item = Subject;

    async fn fetch(
        &self,
        after: DateTime<Utc>,
        now: DateTime<Utc>,
        page: u32,
        size: u32,
    ) -> Result<Page<Subject>, AvniError> {
        let body = self.serve(Request {
            after_us: after.timestamp_micros(),
            now_us: now.timestamp_micros(),
            page,
            size,
        });
        // Through the real decoding, as the client does.
        Ok(serde_json::from_str(&body).unwrap())
    }
}

/// (ID, version) as delivered.
type Delivered = Vec<(String, i64)>;

/// Reads to the end, checking that batches hand out consistent cursors in time order.
async fn drain(reader: &mut IncrementalReader<FakeAvni>) -> Delivered {
    let mut out = Vec::new();
    let mut last = None;
    while let Some(batch) = reader.next_batch().await.unwrap() {
        assert_eq!(&batch.end_cursor(), reader.cursor());
        for (record, cursor) in batch.iter() {
            let modified = record.last_modified().unwrap();
            assert!(last <= Some(modified), "out of order");
            last = Some(modified);
            assert!(cursor.seen_ids().contains(record.id().unwrap()));
            out.push((
                record.id().unwrap().to_owned(),
                record.0["v"].as_i64().unwrap(),
            ));
        }
    }
    out
}

fn ids(delivered: &Delivered) -> Vec<&str> {
    delivered.iter().map(|(id, _)| id.as_str()).collect()
}

fn assert_exactly_once(delivered: &Delivered, expected: &[&str]) {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for (id, _) in delivered {
        *counts.entry(id).or_default() += 1;
    }
    let twice: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "delivered more than once: {twice:?}");
    let got: BTreeSet<&str> = counts.keys().copied().collect();
    let want: BTreeSet<&str> = expected.iter().copied().collect();
    assert_eq!(got, want);
}

fn reader(fake: &FakeAvni, cursor: AvniCursor, size: u32) -> IncrementalReader<FakeAvni> {
    IncrementalReader::new(fake.clone(), cursor, at_ms(10_000), size)
}

/// `n` rows named `<prefix><i>` in millisecond `ms`, µs offsets 0, 1, 2, … (0 = exactly on the
/// millisecond, the value a strict `>` on that ms misses).
fn tie(prefix: &str, ms: i64, n: usize) -> Vec<(String, i64)> {
    (0..n)
        .map(|i| (format!("{prefix}{i}"), ms * 1000 + i as i64))
        .collect()
}

fn fake_of(rows: &[(String, i64)]) -> FakeAvni {
    let refs: Vec<(&str, i64)> = rows.iter().map(|(id, us)| (id.as_str(), *us)).collect();
    FakeAvni::with(&refs)
}

fn names(rows: &[(String, i64)]) -> Vec<&str> {
    rows.iter().map(|(id, _)| id.as_str()).collect()
}

#[tokio::test]
async fn reads_everything_once_in_order() {
    let rows: Vec<_> = (0..10)
        .map(|i| (format!("r{i}"), i * 7_000 + 500))
        .collect();
    let fake = fake_of(&rows);
    let mut r = reader(&fake, AvniCursor::at(at_ms(-1)), 3);
    let got = drain(&mut r).await;
    assert_eq!(ids(&got), names(&rows));
    assert_eq!(r.cursor().last_modified(), at_ms(63));
    assert!(r.next_batch().await.unwrap().is_none());
}

#[tokio::test]
async fn a_tie_larger_than_a_page_neither_loops_nor_skips() {
    let mut rows = tie("t", 100, 7);
    rows.push(("before".into(), 99_400));
    rows.push(("on-next-ms".into(), 101_000));
    rows.push(("later".into(), 102_300));
    let fake = fake_of(&rows);
    let mut r = reader(&fake, AvniCursor::at(at_ms(0)), 3);
    let got = drain(&mut r).await;
    assert_exactly_once(&got, &names(&rows));
    assert_eq!(ids(&got).last(), Some(&"later"));
    assert!(fake.requests() < 40, "{} requests", fake.requests());
}

#[tokio::test]
async fn a_tie_of_exactly_a_page() {
    let mut rows = tie("t", 100, 3);
    rows.push(("on-next-ms".into(), 101_000));
    let fake = fake_of(&rows);
    let got = drain(&mut reader(&fake, AvniCursor::at(at_ms(0)), 3)).await;
    assert_exactly_once(&got, &names(&rows));
}

#[tokio::test]
async fn consecutive_crowded_milliseconds() {
    let mut rows = tie("a", 100, 5);
    rows.extend(tie("b", 101, 5));
    rows.extend(tie("c", 102, 4));
    rows.push(("d".into(), 105_000));
    let fake = fake_of(&rows);
    let got = drain(&mut reader(&fake, AvniCursor::at(at_ms(0)), 3)).await;
    assert_exactly_once(&got, &names(&rows));
}

#[tokio::test]
async fn a_full_page_of_the_previous_millisecond_is_walked_past() {
    // The cursor says everything before ms 100 is done, but `after = 99 ms` still returns the
    // sub-ms rows of ms 99, a whole page of them.
    let mut rows: Vec<_> = (1..=5).map(|i| (format!("old{i}"), 99_000 + i)).collect();
    rows.extend(tie("new", 100, 2));
    rows.push(("later".into(), 130_000));
    let fake = fake_of(&rows);
    let got = drain(&mut reader(&fake, AvniCursor::at(at_ms(100)), 3)).await;
    assert_exactly_once(&got, &["new0", "new1", "later"]);
}

#[tokio::test]
async fn resumes_mid_tie_from_a_stored_cursor() {
    let mut rows = tie("t", 100, 7);
    rows.push(("later".into(), 150_000));
    let fake = fake_of(&rows);
    let mut first = reader(&fake, AvniCursor::at(at_ms(0)), 3);
    let batch = first.next_batch().await.unwrap().unwrap();
    assert_eq!(batch.len(), 3);
    // The job commits after the second record, then dies.
    let stored = batch.cursor_after(1).to_stored();
    let resumed = AvniCursor::from_stored(
        Some(stored.read_upto_date_time),
        Some(&stored.read_upto_seen_ids),
        at_ms(0),
    );
    assert_eq!(resumed.seen_ids().len(), 2);
    let mut all: Delivered = batch
        .records()
        .iter()
        .take(2)
        .map(|s| (s.id().unwrap().to_owned(), 0))
        .collect();
    all.extend(drain(&mut reader(&fake, resumed, 3)).await);
    assert_exactly_once(&all, &names(&rows));
}

#[tokio::test]
async fn empty_pages_end_the_read() {
    let fake = FakeAvni::default();
    let start = AvniCursor::at(at_ms(5));
    let mut r = reader(&fake, start.clone(), 3);
    assert!(r.next_batch().await.unwrap().is_none());
    assert_eq!(fake.requests(), 1);
    assert_eq!(r.cursor(), &start);

    let fake = FakeAvni::with(&[("old", 1_000)]);
    let mut r = reader(&fake, AvniCursor::at(at_ms(5)), 3);
    assert!(r.next_batch().await.unwrap().is_none());
}

#[tokio::test]
async fn stops_at_the_fixed_now() {
    let fake = FakeAvni::with(&[
        ("in", 9_999_999),
        ("at-now", 10_000_000),
        ("after", 10_000_500),
    ]);
    let mut r = reader(&fake, AvniCursor::at(at_ms(0)), 2);
    assert_eq!(ids(&drain(&mut r).await), ["in"]);
    // Edits arriving meanwhile do not widen the window of this run.
    fake.db.lock().unwrap().put("fresh", 9_000_000);
    assert!(r.next_batch().await.unwrap().is_none());
}

#[tokio::test]
async fn a_row_leaving_mid_walk_does_not_hide_another() {
    // Walking the 12-row slice by pages of 3: if t1 leaves after pages 0 and 1 were read, t6
    // slides into page 1 and page 2 starts at t7. Nothing later would show t6 again (the next
    // head page holds t2..t4), so the walk itself must notice and walk again.
    let rows = tie("t", 100, 12);
    let fake = fake_of(&rows);
    let mut moved = false;
    fake.on_request(move |req, db| {
        let in_slice_walk = req.now_us - req.after_us == 2_000 && req.size == 3;
        if in_slice_walk && req.page == 2 && !moved {
            moved = true;
            db.put("t1", 20_000_000); // edited: now later than this run's window
        }
    });
    let got = drain(&mut reader(&fake, AvniCursor::at(at_ms(0)), 3)).await;
    let ids = ids(&got);
    for (id, _) in rows.iter().filter(|(id, _)| id != "t1") {
        let times = ids.iter().filter(|i| **i == id).count();
        assert_eq!(times, 1, "{id}: {ids:?}");
    }
    assert!(ids.iter().filter(|i| **i == "t1").count() <= 1);
}

#[tokio::test]
async fn a_row_appearing_mid_walk_is_delivered() {
    let mut rows = tie("t", 100, 7);
    rows.push(("later".into(), 200_000));
    let fake = fake_of(&rows);
    let mut added = false;
    fake.on_request(move |req, db| {
        if req.now_us - req.after_us == 2_000 && req.page == 2 && !added {
            added = true;
            db.put("late-commit", 100_000 + 3); // sorts inside the pages already walked
            db.put("brand-new", 300_000);
        }
    });
    let got = drain(&mut reader(&fake, AvniCursor::at(at_ms(0)), 3)).await;
    let mut expected = names(&rows);
    expected.extend(["late-commit", "brand-new"]);
    assert_exactly_once(&got, &expected);
}

#[tokio::test]
async fn total_elements_is_ignored_and_missing_total_pages_still_ends() {
    let mut rows = tie("t", 100, 8);
    rows.push(("later".into(), 400_000));
    let mut fake = fake_of(&rows);
    fake.no_total_pages = true;
    let got = drain(&mut reader(&fake, AvniCursor::at(at_ms(0)), 3)).await;
    assert_exactly_once(&got, &names(&rows));
}

#[tokio::test]
async fn inclusive_windows_deliver_once_too() {
    let mut rows = tie("a", 100, 5);
    rows.extend(tie("b", 101, 4));
    rows.push(("c".into(), 102_000));
    let mut fake = fake_of(&rows);
    fake.inclusive = true;
    let got = drain(&mut reader(&fake, AvniCursor::at(at_ms(0)), 3)).await;
    assert_exactly_once(&got, &names(&rows));
}

/// Random crowded data, random page sizes, random crashes (resume from the cursor committed
/// after the last processed record) and random edits during the read: every row still in the
/// window at the end is delivered exactly once, and no version is delivered twice.
#[tokio::test]
async fn random_ties_crashes_and_edits() {
    for seed in 0..300u64 {
        let mut rng = StdRng::seed_from_u64(seed);
        let fake = FakeAvni::default();
        let n = rng.random_range(0..60);
        for i in 0..n {
            let ms = rng.random_range(0..8i64);
            let us = if rng.random_bool(0.3) {
                0
            } else {
                rng.random_range(0..1000)
            };
            fake.db
                .lock()
                .unwrap()
                .put(&format!("r{i}"), 1_000_000 + ms * 1000 + us);
        }
        let size = rng.random_range(1..6u32);
        let edits = rng.random_bool(0.5);
        let mut hook_rng = StdRng::seed_from_u64(seed + 10_000);
        let mut clock = 20_000_000i64; // the server's clock: later than the reader's `now`
        fake.on_request(move |_, db| {
            if edits && !db.rows.is_empty() && hook_rng.random_bool(0.1) {
                let i = hook_rng.random_range(0..db.rows.len());
                let id = db.rows[i].id.clone();
                clock += 1;
                db.put(&id, clock);
            }
        });
        let mut cursor = AvniCursor::at(at_ms(0));
        let mut delivered: Delivered = Vec::new();
        let mut readers = 0;
        'run: loop {
            readers += 1;
            assert!(readers < 1_000, "seed {seed}: never finished");
            let mut r = reader(&fake, cursor.clone(), size);
            loop {
                let batch = match r.next_batch().await {
                    Ok(Some(batch)) => batch,
                    Ok(None) => break 'run,
                    Err(AvniError::Unstable(_)) => continue 'run,
                    Err(e) => panic!("seed {seed}: {e}"),
                };
                let crash_after = rng
                    .random_bool(0.3)
                    .then(|| rng.random_range(0..batch.len()));
                for (i, (record, after)) in batch.iter().enumerate() {
                    delivered.push((
                        record.id().unwrap().to_owned(),
                        record.0["v"].as_i64().unwrap(),
                    ));
                    cursor = after;
                    if crash_after == Some(i) {
                        continue 'run;
                    }
                }
            }
        }
        let db = fake.db.lock().unwrap();
        let window_end = T0_US + 10_000_000;
        let versions: BTreeSet<&(String, i64)> = delivered.iter().collect();
        assert_eq!(
            versions.len(),
            delivered.len(),
            "seed {seed}: a version delivered twice"
        );
        for row in db.rows.iter().filter(|r| r.us < window_end) {
            assert!(
                delivered.contains(&(row.id.clone(), row.us)),
                "seed {seed}: {} at {} never delivered (size {size})",
                row.id,
                row.us
            );
        }
        assert!(
            db.requests.len() < 5_000,
            "seed {seed}: {} requests",
            db.requests.len()
        );
    }
}
