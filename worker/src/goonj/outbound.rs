//! What the three Avni → Salesforce steps share (contracts/goonj.md §4, §5, §8): an incremental
//! read of Avni from the step's cursor row, the conversions of observations (IST dates,
//! `;`-joined lists, prefixed media, the location map, audit users), and batched upserts whose
//! rejections are pinned on the record at fault.
//!
//! Per Avni batch (one page of the incremental reader):
//! 1. each record is prepared (skipped, failed, or converted to its Salesforce record; Avni
//!    look-ups happen here, a few at a time);
//! 2. the converted records go to Salesforce [`SF_BATCH_SIZE`] per request. A request that is
//!    rejected for its data is sent again one record per request, so the rejection lands on the
//!    record that caused it (Salesforce upserts by `SourceId`, so re-sending is safe);
//! 3. every outcome is committed with the cursor after its record, in one transaction.
//!
//! A failure that is nobody's record's fault (Salesforce or Avni down after retries, a refused
//! login, a wrong URL) stops the step before the first record it left unresolved: the outcomes
//! before it are committed, the cursor stays there and the next run carries on from it.

use super::outcome::{Outcome, Page, RecordResult};
use super::salesforce::{SalesforceClient, SalesforceError};
use super::time;
use super::GoonjRun;
use crate::avni::{AvniClient, AvniCursor, AvniError, Batch, Entity, IncrementalReader};
use crate::avni::{PageSource, Raw, Subject};
use crate::context::JobContext;
use crate::module::{StepError, StepOutcome};
use avni_int_shared::store::cursors;
use avni_int_shared::store::errors::FailedEntity;
use avni_int_shared::store::StoreError;
use chrono::{DateTime, NaiveDate, Utc};
use futures::{stream, StreamExt};
use serde::de::DeserializeOwned;
use serde_json::{json, Map, Value};
use std::future::Future;

/// Records per Salesforce upsert request: Apex runs triggers in chunks of 200, and the
/// simulator (like a cautious org) refuses more in one request.
pub const SF_BATCH_SIZE: usize = 200;
/// Records prepared at once (each may read Avni).
const PREPARE_CONCURRENCY: usize = 16;

/// Where a first run starts reading Avni: before any Goonj data.
pub fn initial_cursor() -> DateTime<Utc> {
    NaiveDate::from_ymd_opt(2000, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// Reading observations

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

// ---------------------------------------------------------------------------------------------
// Sending

/// A Salesforce upsert service and the list its body wraps the records in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resource {
    pub path: &'static str,
    pub wrapper: &'static str,
}

impl Resource {
    /// The request body for `records`: also what a failed record stores as its payload.
    pub fn request(&self, records: &[Value]) -> Value {
        json!({ self.wrapper: records })
    }
}

/// A record ready for Salesforce, or why it is not sent.
#[derive(Debug, Clone, PartialEq)]
pub enum Prepared {
    /// Nothing to send (counts as success); the reason is logged.
    Skip(&'static str),
    /// Cannot be converted: the message is classified; the Avni record is kept as payload.
    Fail(String),
    /// The Salesforce record.
    Send(Value),
}

/// One Avni → Salesforce entity.
pub trait Outbound: Send + Sync {
    type Record: Entity + DeserializeOwned + Send + Sync;
    /// Its pages keep records as text; each is decoded only while it is prepared.
    type Source: PageSource<Item = Raw<Self::Record>> + Send + Sync;
    /// `integrating_entity_status.entity_type` of the step's cursor.
    const CURSOR: &'static str;
    /// `integrating_entity_type` of its error records (keyed by the Avni UUID).
    const ENTITY_TYPE: &'static str;
    const RESOURCE: Resource;

    fn reader(&self, avni: &AvniClient, cursor: AvniCursor) -> IncrementalReader<Self::Source>;

    /// Converts one record. `Err` only for an Avni read failing transiently after its retries:
    /// the step then stops before this record.
    fn prepare<'a>(
        &'a self,
        run: &'a GoonjRun,
        record: &'a Self::Record,
    ) -> impl Future<Output = Result<Prepared, AvniError>> + Send + 'a;

    /// Put before every failure message of the record (receipts name their subject).
    fn message_prefix(&self, _record: &Self::Record) -> String {
        String::new()
    }

    /// Called once per Avni batch with the records about to be upserted.
    fn before_upsert<'a>(
        &'a self,
        _run: &'a GoonjRun,
        _records: &'a [Value],
    ) -> impl Future<Output = ()> + Send + 'a {
        async {}
    }
}

/// A failure no record caused, which would fail every other record the same way: Salesforce
/// unreachable or down after the client's retries, throttling, a refused login, a wrong URL or
/// resource. Apex answers an exception raised by the data as a 500 with an `errorCode` body:
/// that one is the record's.
pub fn blocks_every_record(error: &SalesforceError) -> bool {
    match error {
        SalesforceError::Login(_) | SalesforceError::Transport { .. } => true,
        SalesforceError::Http {
            status: 500, body, ..
        } => !body.contains("errorCode"),
        SalesforceError::Http { status, .. } => {
            matches!(status, 401 | 403 | 404 | 405 | 429) || *status >= 500
        }
        SalesforceError::Rejected { code, .. } => matches!(
            code.as_str(),
            "INVALID_SESSION_ID"
                | "INVALID_AUTH_HEADER"
                | "NOT_FOUND"
                | "METHOD_NOT_ALLOWED"
                | "REQUEST_LIMIT_EXCEEDED"
                | "API_DISABLED_FOR_ORG"
                | "API_CURRENTLY_DISABLED"
        ),
        SalesforceError::Decode { .. } => false,
    }
}

/// What [`upsert_records`] did: one entry per record (`None`: not resolved because the step
/// must stop), and the failure that stopped it.
#[derive(Debug, Default)]
pub struct Sent {
    pub results: Vec<Option<Result<(), String>>>,
    pub stopped_by: Option<SalesforceError>,
}

/// Upserts `records` [`SF_BATCH_SIZE`] per request; a request rejected for its data is sent
/// again one record per request, so each rejection is the message of the record at fault.
pub async fn upsert_records(
    salesforce: &SalesforceClient,
    resource: Resource,
    records: &[Value],
) -> Sent {
    let mut sent = Sent {
        results: vec![None; records.len()],
        stopped_by: None,
    };
    for (chunk_index, chunk) in records.chunks(SF_BATCH_SIZE).enumerate() {
        let offset = chunk_index * SF_BATCH_SIZE;
        let slots = &mut sent.results[offset..offset + chunk.len()];
        match salesforce
            .upsert(resource.path, resource.wrapper, chunk)
            .await
        {
            Ok(()) => slots.iter_mut().for_each(|slot| *slot = Some(Ok(()))),
            Err(error) if blocks_every_record(&error) => {
                sent.stopped_by = Some(error);
                return sent;
            }
            Err(error) if chunk.len() == 1 => slots[0] = Some(Err(error.to_string())),
            Err(error) => {
                tracing::info!(resource = resource.path, records = chunk.len(), %error,
                    "Salesforce rejected a batch; sending its records one by one to find the culprits");
                for (slot, record) in slots.iter_mut().zip(chunk) {
                    match salesforce
                        .upsert(
                            resource.path,
                            resource.wrapper,
                            std::slice::from_ref(record),
                        )
                        .await
                    {
                        Ok(()) => *slot = Some(Ok(())),
                        Err(error) if blocks_every_record(&error) => {
                            sent.stopped_by = Some(error);
                            return sent;
                        }
                        Err(error) => *slot = Some(Err(error.to_string())),
                    }
                }
            }
        }
    }
    sent
}

/// Sends one Avni record to Salesforce again (the error job): its result, or a failure no
/// record caused (Avni or Salesforce not answering, a refused login).
pub async fn resync_one<K: Outbound>(
    run: &GoonjRun,
    kind: &K,
    record: &K::Record,
) -> Result<RecordResult, StepError> {
    let prefix = kind.message_prefix(record);
    match kind.prepare(run, record).await? {
        Prepared::Skip(_) => Ok(RecordResult::Skipped),
        Prepared::Fail(message) => Ok(RecordResult::Failed {
            message: format!("{prefix}{message}"),
            payload: record.json().clone(),
        }),
        Prepared::Send(sf_record) => {
            let records = std::slice::from_ref(&sf_record);
            kind.before_upsert(run, records).await;
            let sent = upsert_records(&run.salesforce, K::RESOURCE, records).await;
            if let Some(error) = sent.stopped_by {
                return Err(error.into());
            }
            match sent.results.into_iter().next().flatten() {
                Some(Ok(())) => Ok(RecordResult::Synced),
                Some(Err(message)) => Ok(RecordResult::Failed {
                    message: format!("{prefix}{message}"),
                    payload: K::RESOURCE.request(records),
                }),
                None => Err(StepError::Unavailable(
                    "Salesforce gave no answer for the record".into(),
                )),
            }
        }
    }
}

/// Runs an Avni → Salesforce step from its cursor to the end of Avni's window (or the job's
/// budget).
pub async fn sync<K: Outbound>(
    ctx: &JobContext,
    run: &GoonjRun,
    kind: &K,
) -> Result<StepOutcome, StepError> {
    sync_scoped(ctx, run, kind, None).await
}

/// [`sync`], or with `from` an ad-hoc run (contracts/goonj.md §7): Avni read from that instant,
/// the stored cursor neither read nor moved, and no yielding to the time budget (a
/// continuation could not resume a window no cursor keeps). `kind`'s reader carries the filters.
pub async fn sync_scoped<K: Outbound>(
    ctx: &JobContext,
    run: &GoonjRun,
    kind: &K,
    from: Option<DateTime<Utc>>,
) -> Result<StepOutcome, StepError> {
    let tenant = ctx.tenant.id;
    let cursor = match from {
        Some(from) => AvniCursor::at(from),
        None => {
            let mut conn = ctx.store.pool().acquire().await.map_err(StoreError::from)?;
            let stored = cursors::load(&mut conn, tenant, K::CURSOR).await?;
            AvniCursor::from_store_cursor(stored.as_ref(), initial_cursor())
        }
    };
    let mut reader = kind.reader(&run.avni, cursor);
    let page = Page {
        store: &ctx.store,
        tenant,
        classifier: &run.classifier,
        cursor_entity: K::CURSOR,
        move_cursor: from.is_none(),
    };
    let mut total = StepOutcome::default();
    let mut count = |done: StepOutcome| {
        total.synced += done.synced;
        total.failed += done.failed;
    };
    // Outcomes of the page before, committed while the next one is processed.
    let mut pending: Option<Vec<Outcome>> = None;
    let mut more = false;
    let mut next = reader.next_batch().await?;
    while let Some(batch) = next.take() {
        // After a page at least, so every run gets somewhere.
        if pending.is_some() && from.is_none() && ctx.should_yield() {
            more = true;
            break;
        }
        // Three things at once: the page before is committed, this one processed, the next one
        // read. Commits stay in order and only they move the stored cursor; the reader's
        // position is its own, so work done past a failed commit or a stop is just repeated by
        // the next run (Salesforce upserts by SourceId).
        let (committed, ((outcomes, stop), following)) =
            futures::join!(commit_pending(&page, pending.take()), async {
                futures::join!(process(run, kind, &batch), reader.next_batch())
            });
        drop(batch);
        count(committed?);
        if let Some(error) = stop {
            count(page.commit(outcomes).await?);
            return Err(error);
        }
        pending = Some(outcomes);
        next = match following {
            Ok(following) => following,
            Err(error) => {
                count(commit_pending(&page, pending.take()).await?);
                return Err(error.into());
            }
        };
    }
    count(commit_pending(&page, pending).await?);
    total.more = more;
    Ok(total)
}

/// Commits a page's outcomes, if there are any.
async fn commit_pending(
    page: &Page<'_>,
    outcomes: Option<Vec<Outcome>>,
) -> Result<StepOutcome, StepError> {
    match outcomes {
        Some(outcomes) => page.commit(outcomes).await,
        None => Ok(StepOutcome::default()),
    }
}

/// The outcomes of a batch, in order, up to the first record left unresolved, and the error
/// that left it so. The batch goes [`SF_BATCH_SIZE`] records at a time: a chunk's records are
/// decoded and prepared (a few at a time) while the chunk before is upserted, so at most two
/// chunks of records are held as trees and Avni's look-ups overlap Salesforce's upserts.
pub async fn process<K: Outbound>(
    run: &GoonjRun,
    kind: &K,
    batch: &Batch<Raw<K::Record>>,
) -> (Vec<Outcome>, Option<StepError>) {
    let chunks: Vec<&[Raw<K::Record>]> = batch.records().chunks(SF_BATCH_SIZE).collect();
    let mut results: Vec<RecordResult> = Vec::with_capacity(batch.len());
    let mut ready = match chunks.first() {
        Some(chunk) => Some(prepare_chunk(run, kind, chunk).await),
        None => None,
    };
    let mut stop = None;
    for (index, chunk) in chunks.iter().enumerate() {
        let Some(prepared) = ready.take() else { break };
        // Not after a chunk that stops: nothing after its first unresolved record is sent.
        let following = chunks.get(index + 1).filter(|_| prepared.stop.is_none());
        let (sent_stop, next) = futures::join!(
            send_chunk(run, kind, chunk, prepared, &mut results),
            async {
                match following {
                    Some(next) => Some(prepare_chunk(run, kind, next).await),
                    None => None,
                }
            }
        );
        if sent_stop.is_some() {
            stop = sent_stop;
            break;
        }
        ready = next;
    }
    (with_cursors::<K>(batch, results), stop)
}

/// What became of a prepared record once its Salesforce record moved into the request.
enum Planned {
    Skip(&'static str),
    Fail(String),
    /// The index of its Salesforce record in the request.
    Send(usize),
}

/// A chunk prepared up to its first record left unresolved.
struct PreparedChunk {
    planned: Vec<Planned>,
    /// The Salesforce records to upsert, moved out of the preparations (never copied).
    to_send: Vec<Value>,
    /// Why the record after the last planned one is unresolved.
    stop: Option<StepError>,
}

/// Decodes and prepares the records of `chunk`, a few at a time, in order.
async fn prepare_chunk<K: Outbound>(
    run: &GoonjRun,
    kind: &K,
    chunk: &[Raw<K::Record>],
) -> PreparedChunk {
    // Collected first: a closure inside the stream would make the future's `Send` depend on
    // a higher-ranked lifetime the compiler cannot prove.
    let preparing: Vec<_> = chunk
        .iter()
        .map(|raw| prepare_raw(run, kind, raw))
        .collect();
    let prepared: Vec<Result<Prepared, AvniError>> = stream::iter(preparing)
        .buffered(PREPARE_CONCURRENCY)
        .collect()
        .await;
    let mut out = PreparedChunk {
        planned: Vec::with_capacity(prepared.len()),
        to_send: Vec::new(),
        stop: None,
    };
    for result in prepared {
        match result {
            Ok(Prepared::Skip(reason)) => out.planned.push(Planned::Skip(reason)),
            Ok(Prepared::Fail(message)) => out.planned.push(Planned::Fail(message)),
            Ok(Prepared::Send(record)) => {
                out.planned.push(Planned::Send(out.to_send.len()));
                out.to_send.push(record);
            }
            Err(error) => {
                tracing::warn!(%error, entity = K::ENTITY_TYPE, "Avni kept failing while preparing a record; the step stops before it");
                out.stop = Some(error.into());
                break;
            }
        }
    }
    out
}

/// Upserts a prepared chunk and appends its outcomes to `results`, up to the first record left
/// unresolved; returns the error that left it so.
async fn send_chunk<K: Outbound>(
    run: &GoonjRun,
    kind: &K,
    chunk: &[Raw<K::Record>],
    prepared: PreparedChunk,
    results: &mut Vec<RecordResult>,
) -> Option<StepError> {
    let PreparedChunk {
        planned,
        to_send,
        mut stop,
    } = prepared;
    let mut sent = Sent::default();
    if !to_send.is_empty() {
        kind.before_upsert(run, &to_send).await;
        sent = upsert_records(&run.salesforce, K::RESOURCE, &to_send).await;
    }
    if let Some(error) = sent.stopped_by {
        tracing::warn!(%error, entity = K::ENTITY_TYPE, "Salesforce failed in a way no record caused; the step stops");
        // It stops at an earlier record than a preparation failure could.
        stop = Some(error.into());
    }
    for (raw, plan) in chunk.iter().zip(planned) {
        results.push(match plan {
            Planned::Skip(reason) => {
                tracing::debug!(
                    entity = K::ENTITY_TYPE,
                    id = raw.id(),
                    reason,
                    "not sent to Salesforce"
                );
                RecordResult::Skipped
            }
            Planned::Fail(message) => RecordResult::Failed {
                message: format!("{}{message}", prefix_of(kind, raw)),
                payload: raw.to_value(),
            },
            Planned::Send(index) => match sent.results.get_mut(index).and_then(Option::take) {
                None => break,
                Some(Ok(())) => RecordResult::Synced,
                Some(Err(message)) => RecordResult::Failed {
                    message: format!("{}{message}", prefix_of(kind, raw)),
                    payload: K::RESOURCE.request(&to_send[index..=index]),
                },
            },
        });
    }
    stop
}

/// Decodes a record and prepares it; the decoded record is dropped once it is converted.
async fn prepare_raw<K: Outbound>(
    run: &GoonjRun,
    kind: &K,
    raw: &Raw<K::Record>,
) -> Result<Prepared, AvniError> {
    if let Some(problem) = raw.problem() {
        return Ok(Prepared::Fail(problem.to_owned()));
    }
    match raw.decode() {
        Ok(record) => kind.prepare(run, &record).await,
        Err(error) => Ok(Prepared::Fail(format!("Unreadable Avni record: {error}"))),
    }
}

/// The record's message prefix (decoded again: only failures need it).
fn prefix_of<K: Outbound>(kind: &K, raw: &Raw<K::Record>) -> String {
    raw.decode()
        .map(|record| kind.message_prefix(&record))
        .unwrap_or_default()
}

/// Outcomes with the cursor after each record. `Page::commit` saves the cursor of the last
/// outcome it records, and stops only before a failure: only the last outcome's cursor and
/// those just before a failure can be saved, so only they carry the exact cursor. The others
/// carry one that re-reads the batch's first millisecond, which is never wrong (re-sending is
/// idempotent) and stays small: the exact cursor holds every ID seen at its millisecond, and a
/// copy per record would grow quadratically when thousands of records share one (a bulk update).
fn with_cursors<K: Outbound>(
    batch: &Batch<Raw<K::Record>>,
    results: Vec<RecordResult>,
) -> Vec<Outcome> {
    let safe = AvniCursor::at(batch.start_cursor().last_modified()).store_cursor();
    let mut cursor = batch.start_cursor().clone();
    let exact: Vec<bool> = (0..results.len())
        .map(|i| {
            results
                .get(i + 1)
                .is_none_or(|next| matches!(next, RecordResult::Failed { .. }))
        })
        .collect();
    batch
        .records()
        .iter()
        .zip(results)
        .zip(exact)
        .map(|((record, result), exact)| {
            let id = record.id().unwrap_or_default();
            // As the reader advanced it: it handed out only records with both.
            if let Some(modified) = record.last_modified() {
                cursor.advance(modified, id);
            }
            Outcome {
                entity: FailedEntity::Integrating {
                    entity_type: K::ENTITY_TYPE.into(),
                    id: id.to_owned(),
                },
                result,
                cursor_after: if exact {
                    cursor.store_cursor()
                } else {
                    safe.clone()
                },
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
}
