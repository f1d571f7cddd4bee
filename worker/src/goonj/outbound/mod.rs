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

mod batch;
mod convert;
#[cfg(test)]
mod tests;

pub use convert::{
    audit_users, ist_date_of, media_of, missing, put, put_or_null, subject_skip, text_of, Obs,
    Place,
};

use super::outcome::{Outcome, Page, RecordResult};
use super::salesforce::{SalesforceClient, SalesforceError};
use super::GoonjRun;
use crate::avni::{AvniClient, AvniCursor, AvniError, Batch, Entity, IncrementalReader};
use crate::avni::{PageSource, Raw};
use crate::context::JobContext;
use crate::module::{StepError, StepOutcome};
use avni_int_shared::store::cursors;
use avni_int_shared::store::StoreError;
use batch::{commit_pending, prepare_chunk, send_chunk, with_cursors};
use chrono::{DateTime, NaiveDate, Utc};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
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
