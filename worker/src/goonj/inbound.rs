//! The loop every Salesforce → Avni feed shares (contracts/goonj.md §3): per page of the feed,
//! deletions first, then the records a few at a time, their outcomes committed with the cursor
//! of the last one in one transaction. `GoonjDemand`, `GoonjDispatch` and `GoonjInventory` are
//! each an [`InboundFeed`].

use super::mapping::MappingError;
use super::outcome::{Outcome, Page, RecordResult};
use super::{time, GoonjRun};
use crate::avni::{Entity, SubjectRequest};
use crate::context::JobContext;
use crate::module::{StepError, StepOutcome};
use avni_int_shared::store::cursors::{self, Cursor};
use avni_int_shared::store::errors::FailedEntity;
use avni_int_shared::store::StoreError;
use chrono::{NaiveDate, NaiveDateTime};
use futures::{stream, StreamExt};
use serde_json::{Map, Value};
use std::collections::HashSet;
use std::future::Future;

/// Avni writes in flight per page.
const CONCURRENCY: usize = 16;

/// Where a feed's first run starts: before any Goonj data.
pub fn initial_cursor() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2000, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .unwrap_or_default()
}

/// One Salesforce → Avni feed (a column of the table in contracts/goonj.md §3).
pub trait InboundFeed: Sync {
    /// `{app}/{PATH}`, e.g. `DispatchService/getDispatches`.
    const PATH: &'static str;
    /// The cursor's query parameter (`dateTimestamp`, Inventory `dateTimeStamp`).
    const TIMESTAMP_PARAM: &'static str;
    /// The list of changed records in the answer.
    const RECORDS: &'static str;
    /// A record's Salesforce id.
    const ID_FIELD: &'static str;
    /// A record's timestamp; the cursor moves to it (stays when a record has none).
    const TIMESTAMP_FIELD: &'static str;
    /// The cursor row (`integrating_entity_status.entity_type`) and the
    /// `integrating_entity_type` of the records' errors.
    const ENTITY: &'static str;

    /// Applies the deletions of one answer; ids in `done` were handled earlier in this run and
    /// are skipped, handled ones are added. An error aborts the step before any upsert.
    fn apply_deletions(
        &self,
        ctx: &JobContext,
        run: &GoonjRun,
        answer: &Value,
        done: &mut HashSet<String>,
    ) -> impl Future<Output = Result<StepOutcome, StepError>> + Send;

    /// Writes one record to Avni.
    fn sync_record(
        &self,
        run: &GoonjRun,
        record: &Map<String, Value>,
    ) -> impl Future<Output = RecordResult> + Send;
}

/// Reads `F`'s feed from its cursor until it is drained or the job's budget runs out: per page,
/// deletions first, then the records (a few at a time), their outcomes committed with the
/// cursor of the last one in one transaction.
pub async fn sync_feed<F: InboundFeed>(
    ctx: &JobContext,
    run: &GoonjRun,
    feed: &F,
) -> Result<StepOutcome, StepError> {
    sync_feed_scoped(ctx, run, feed, None).await
}

/// An ad-hoc run's window (contracts/goonj.md §7): from `from` (an IST wall clock) with the
/// `state`/`account` filters, the stored cursor neither read nor moved, and no yielding to the
/// time budget (a continuation could not resume a window no cursor keeps).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InboundScope {
    pub from: NaiveDateTime,
    pub state: String,
    pub account: String,
}

/// [`sync_feed`], or with `scope` an ad-hoc run of the feed.
pub async fn sync_feed_scoped<F: InboundFeed>(
    ctx: &JobContext,
    run: &GoonjRun,
    feed: &F,
    scope: Option<&InboundScope>,
) -> Result<StepOutcome, StepError> {
    let tenant = ctx.tenant.id;
    let mut total = StepOutcome::default();
    let mut deleted = HashSet::new();
    let mut scoped_cursor = scope.map(|s| s.from);
    let (state, account) = scope.map_or(("", ""), |s| (s.state.as_str(), s.account.as_str()));
    loop {
        let cursor = match scoped_cursor {
            Some(cursor) => cursor,
            None => {
                let mut conn = ctx.store.pool().acquire().await.map_err(StoreError::from)?;
                cursors::load(&mut conn, tenant, F::ENTITY)
                    .await?
                    .and_then(|c| c.date_time)
                    .unwrap_or_else(initial_cursor)
            }
        };
        let param = time::cursor_param(cursor);
        let mut answer = run
            .salesforce
            .get_checked(
                F::PATH,
                &[
                    (F::TIMESTAMP_PARAM, &param),
                    ("state", state),
                    ("account", account),
                ],
                answer_shape::<F>,
            )
            .await?;
        let deletions = feed
            .apply_deletions(ctx, run, &answer, &mut deleted)
            .await?;
        total.synced += deletions.synced;
        total.failed += deletions.failed;
        // Moved out, not copied: a page of large records is held once.
        let records: Vec<Map<String, Value>> = match answer[F::RECORDS].take() {
            Value::Array(list) => list
                .into_iter()
                .filter_map(|r| match r {
                    Value::Object(record) => Some(record),
                    other => {
                        tracing::warn!(feed = F::PATH, record = %format_args!("{:.200}", other.to_string()), "a listed record is not an object; skipped");
                        None
                    }
                })
                .collect(),
            _ => Vec::new(),
        };
        drop(answer);
        if records.is_empty() {
            return Ok(total);
        }
        let outcomes: Vec<Outcome> = stream::iter(records)
            .map(|record| sync_one(feed, run, record, cursor))
            .buffered(CONCURRENCY)
            .collect()
            .await;
        let last_cursor = outcomes.last().and_then(|o| o.cursor_after.date_time);
        let page = Page {
            store: &ctx.store,
            tenant,
            classifier: &run.classifier,
            cursor_entity: F::ENTITY,
            move_cursor: scope.is_none(),
        };
        let done = page.commit(outcomes).await?;
        total.synced += done.synced;
        total.failed += done.failed;
        if last_cursor <= Some(cursor) {
            // A full page at one second: Salesforce's cursor cannot get past it.
            return Err(StepError::Failed(format!(
                "Salesforce returned a page of {} none of which is after the cursor {param}; more records share one second than a page holds",
                F::PATH
            )));
        }
        if scope.is_some() {
            // Every outcome is committed, so the window goes on after the last record.
            scoped_cursor = last_cursor;
        } else if ctx.should_yield() {
            total.more = true;
            return Ok(total);
        }
    }
}

/// A feed answer is an object with its records' list (null: none). Anything else is an answer
/// garbled on the way (retried), never "nothing changed": that would end the step early.
fn answer_shape<F: InboundFeed>(answer: &Value) -> Result<(), String> {
    match answer.get(F::RECORDS) {
        Some(Value::Array(_) | Value::Null) => Ok(()),
        Some(other) => Err(format!(
            "{} is not a list: {:.100}",
            F::RECORDS,
            other.to_string()
        )),
        None if answer.is_object() => Err(format!("no {} in the answer", F::RECORDS)),
        None => Err(format!(
            "the answer is not an object: {:.100}",
            answer.to_string()
        )),
    }
}

/// The longest error key kept (`error_record.entity_id` is varchar(250)).
const MAX_KEY: usize = 200;

/// A record's error key and the cursor after it, or why it cannot be synced as it is: its id
/// or timestamp of the wrong type or unreadable, `IsVoided` neither true nor false. Such a
/// record becomes a classified error with its payload (the cursor passing it), never a write:
/// a subject without its External ID could never be found again. A record without timestamp
/// leaves the cursor where it is.
fn check_record<F: InboundFeed>(
    record: &Map<String, Value>,
    cursor: NaiveDateTime,
) -> (String, NaiveDateTime, Result<(), String>) {
    let stamp = record.get(F::TIMESTAMP_FIELD);
    let (updated, stamp_problem) = match stamp {
        None | Some(Value::Null) => (cursor, None),
        Some(Value::String(s)) if s.trim().is_empty() => (cursor, None),
        Some(Value::String(s)) => match time::parse_sf(s) {
            Some(t) => (time::ist_wall_clock(t), None),
            None => (
                cursor,
                Some(format!(
                    "Invalid {} value specified: {s:.100}",
                    F::TIMESTAMP_FIELD
                )),
            ),
        },
        Some(other) => (
            cursor,
            Some(format!(
                "ClassCastException: {} is not a text: {:.100}",
                F::TIMESTAMP_FIELD,
                other.to_string()
            )),
        ),
    };
    let (id, id_problem) = match record.get(F::ID_FIELD) {
        Some(Value::String(id)) if !id.trim().is_empty() => (id.trim().to_owned(), None),
        None | Some(Value::Null) | Some(Value::String(_)) => {
            let when = stamp.map(|s| match s {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            });
            (
                avni_int_shared::store::errors::keyless_entity_id(
                    F::ID_FIELD,
                    &when.unwrap_or_default(),
                ),
                Some(format!("{} is missing", F::ID_FIELD)),
            )
        }
        Some(other) => (
            other.to_string(),
            Some(format!(
                "ClassCastException: {} is not a text: {:.100}",
                F::ID_FIELD,
                other.to_string()
            )),
        ),
    };
    let voided_problem = match record.get("IsVoided") {
        None | Some(Value::Null | Value::Bool(_)) => None,
        Some(Value::String(s))
            if ["", "true", "false"].contains(&s.trim().to_ascii_lowercase().as_str()) =>
        {
            None
        }
        Some(other) => Some(format!(
            "ClassCastException: IsVoided is not a boolean: {:.100}",
            other.to_string()
        )),
    };
    let id: String = id.chars().take(MAX_KEY).collect();
    let problem = id_problem.or(stamp_problem).or(voided_problem);
    (id, updated, problem.map_or(Ok(()), Err))
}

/// One record's outcome: keyed by its Salesforce id, the cursor moving to its timestamp (or
/// staying at `cursor` when it has none). The error job calls this without moving cursors.
pub async fn sync_one<F: InboundFeed>(
    feed: &F,
    run: &GoonjRun,
    record: Map<String, Value>,
    cursor: NaiveDateTime,
) -> Outcome {
    let (id, updated, checked) = check_record::<F>(&record, cursor);
    let result = match checked {
        Ok(()) => feed.sync_record(run, &record).await,
        Err(message) => RecordResult::Failed {
            message,
            payload: Value::Object(record),
        },
    };
    Outcome {
        entity: FailedEntity::Integrating {
            entity_type: F::ENTITY.into(),
            id,
        },
        result,
        cursor_after: Cursor {
            date_time: Some(updated),
            ..Cursor::default()
        },
    }
}

/// Upserts a subject; a failure carries the Salesforce record as payload.
pub async fn upsert(
    run: &GoonjRun,
    request: &SubjectRequest,
    record: &Map<String, Value>,
) -> RecordResult {
    match run.avni.upsert_subject(request, 3).await {
        Ok(_) => RecordResult::Synced,
        Err(error) => RecordResult::Failed {
            message: error.to_string(),
            payload: Value::Object(record.clone()),
        },
    }
}

/// A `MappingError` as the record's failure.
pub fn mapping_failure(error: MappingError, record: &Map<String, Value>) -> RecordResult {
    RecordResult::Failed {
        message: error.0,
        payload: Value::Object(record.clone()),
    }
}

/// What a failing deletion does to the step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeletionErrors {
    /// Logged and skipped (Demand).
    Ignore,
    /// The step stops before its upserts, the cursor unmoved (Dispatch, Inventory).
    Abort,
}

/// The strings of a JSON list (anything else: none).
pub fn id_list(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|ids| {
            ids.iter()
                .filter_map(Value::as_str)
                .map(str::trim)
                .filter(|id| !id.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// Voids the subjects of deleted Salesforce records (found by External ID, then
/// `DELETE /api/subject/{ID}`), skipping ids in `done`. A subject Avni does not have (404) or
/// has already voided is left alone, so a deletion listed again on later runs writes nothing.
/// Returns the number voided.
pub async fn void_subjects(
    run: &GoonjRun,
    ids: Vec<String>,
    noun: &str,
    on_error: DeletionErrors,
    done: &mut HashSet<String>,
) -> Result<u64, StepError> {
    let mut voided = 0;
    for id in ids {
        if done.contains(&id) {
            continue;
        }
        let result = match run.avni.get_subject(&id).await {
            Ok(Some(subject)) if subject.voided() => Ok(false),
            Ok(Some(subject)) => run
                .avni
                .delete_subject(subject.id().unwrap_or(&id))
                .await
                .map(|s| s.is_some()),
            Ok(None) => Ok(false),
            Err(error) => Err(error),
        };
        match result {
            Ok(changed) => voided += u64::from(changed),
            Err(error) if on_error == DeletionErrors::Ignore => {
                tracing::info!(%noun, %id, %error, "voiding a deleted record in Avni failed; ignored");
            }
            Err(error) => {
                return Err(match StepError::from(error) {
                    StepError::Unavailable(m) => StepError::Unavailable(format!(
                        "voiding the deleted {noun} {id} in Avni failed: {m}"
                    )),
                    StepError::Failed(m) => StepError::Failed(format!(
                        "voiding the deleted {noun} {id} in Avni failed: {m}"
                    )),
                    other => other,
                });
            }
        }
        done.insert(id);
    }
    Ok(voided)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::goonj::demand::DemandFeed;
    use serde_json::json;

    fn check(record: Value) -> (String, Result<(), String>) {
        let record = record.as_object().cloned().unwrap_or_default();
        let (id, _, result) = check_record::<DemandFeed>(&record, initial_cursor());
        (id, result)
    }

    #[test]
    fn records_of_the_wrong_shape_are_keyed_and_refused_before_any_write() {
        let at = "2023-06-01T10:15:30.000Z";
        assert_eq!(
            check(json!({"DemandId": "a0B1", "LastUpdatedDateTime": at, "IsVoided": "False"})),
            ("a0B1".into(), Ok(()))
        );
        let (id, result) = check(json!({"DemandId": 12345, "LastUpdatedDateTime": at}));
        assert_eq!(id, "12345");
        assert!(result
            .unwrap_err()
            .starts_with("ClassCastException: DemandId"));
        let (id, result) = check(json!({"LastUpdatedDateTime": at}));
        assert_eq!(id, format!("(no DemandId) {at}"));
        assert_eq!(result.unwrap_err(), "DemandId is missing");
        let (_, result) = check(json!({"DemandId": "a", "LastUpdatedDateTime": "yesterday"}));
        assert_eq!(
            result.unwrap_err(),
            "Invalid LastUpdatedDateTime value specified: yesterday"
        );
        let (_, result) = check(json!({"DemandId": "a", "LastUpdatedDateTime": 5}));
        assert!(result.unwrap_err().starts_with("ClassCastException"));
        let (_, result) = check(json!({"DemandId": "a", "IsVoided": "maybe"}));
        assert!(result.unwrap_err().contains("IsVoided is not a boolean"));
        // No timestamp: synced, the cursor staying.
        assert_eq!(check(json!({"DemandId": "a"})).1, Ok(()));
    }

    #[test]
    fn an_answer_without_its_list_is_garbled_not_empty() {
        assert!(answer_shape::<DemandFeed>(&json!({"Demands": [], "DeletedDemands": []})).is_ok());
        assert!(answer_shape::<DemandFeed>(&json!({"Demands": null})).is_ok());
        for bad in [
            json!({"DeletedDemands": []}),
            json!({"Demands": {}}),
            json!([]),
            json!("x"),
        ] {
            assert!(answer_shape::<DemandFeed>(&bad).is_err(), "{bad}");
        }
    }
}
