//! The batch pipeline behind [`process`](super::process): a chunk's records decoded and
//! prepared a few at a time, its Salesforce records upserted, the outcomes given the cursor
//! after each record, and a page's outcomes committed.

use super::{upsert_records, Outbound, Prepared, Sent, PREPARE_CONCURRENCY};
use crate::avni::{AvniCursor, AvniError, Batch, Raw};
use crate::goonj::outcome::{Outcome, Page, RecordResult};
use crate::goonj::GoonjRun;
use crate::module::{StepError, StepOutcome};
use avni_int_shared::store::errors::FailedEntity;
use futures::{stream, StreamExt};
use serde_json::Value;

/// Commits a page's outcomes, if there are any.
pub(super) async fn commit_pending(
    page: &Page<'_>,
    outcomes: Option<Vec<Outcome>>,
) -> Result<StepOutcome, StepError> {
    match outcomes {
        Some(outcomes) => page.commit(outcomes).await,
        None => Ok(StepOutcome::default()),
    }
}

/// What became of a prepared record once its Salesforce record moved into the request.
enum Planned {
    Skip(&'static str),
    Fail(String),
    /// The index of its Salesforce record in the request.
    Send(usize),
}

/// A chunk prepared up to its first record left unresolved.
pub(super) struct PreparedChunk {
    planned: Vec<Planned>,
    /// The Salesforce records to upsert, moved out of the preparations (never copied).
    to_send: Vec<Value>,
    /// Why the record after the last planned one is unresolved.
    pub(super) stop: Option<StepError>,
}

/// Decodes and prepares the records of `chunk`, a few at a time, in order.
pub(super) async fn prepare_chunk<K: Outbound>(
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
pub(super) async fn send_chunk<K: Outbound>(
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
pub(super) fn with_cursors<K: Outbound>(
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
