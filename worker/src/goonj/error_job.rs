//! Step `GoonjErrorJob` (contracts/goonj.md §5): retries the tenant's error records whose last
//! log is not Terminal and whose backoff has passed, 20 per page, keyset-paged by id (the
//! original's offset paging skipped rows), `processing_disabled` ignored as in the original.
//!
//! - Salesforce entities (`Demand`, `Dispatch`, `Inventory`): fetched again one by one
//!   (`?demandId=`, …). Gone at the source → the error record is deleted; present → synced again
//!   through its step's record sync, without moving any cursor. A `DispatchLineItemsDeletionFailure`
//!   is keyed by the line id, which no dispatch status has: it is deleted, as the contract says.
//! - Avni entities (`Activity`, `Distribution`, `DispatchReceipt`): `GET /api/subject|encounter/
//!   {uuid}`. Missing → an `EntityIsDeleted` log on the same record (Terminal: never retried;
//!   the original opened a second record and left this one retried forever). Present → sent to
//!   Salesforce again through its step's conversion (`outbound::resync_one`).
//!
//! A success deletes the record. A failure on the record's data adds a classified log and
//! schedules the next attempt with the tenant's backoff; after its maximum attempts the record
//! is given up on (shown disabled). A record that could not be tried because Avni or Salesforce
//! did not answer is left as it is; several in a row end the step as unavailable, as does a
//! login failure, which no record can get past.

use super::outcome::RecordResult;
use super::salesforce::SalesforceError;
use super::{activity, demand, dispatch, distribution, errors, inventory, outbound, receipt};
use super::{GoonjRun, Shared};
use crate::avni::AvniError;
use crate::context::JobContext;
use crate::module::{Step, StepError, StepOutcome};
use avni_int_shared::store::errors::{self as error_store, DueRecord, FailedEntity};
use avni_int_shared::store::StoreError;
use futures::future::BoxFuture;
use futures::{stream, StreamExt};
use serde_json::{Map, Value};
use std::sync::Arc;

pub const STEP_NAME: &str = "GoonjErrorJob";
/// Records per page, as in the original.
const PAGE_SIZE: i64 = 20;
/// Records of a page being retried at once.
const CONCURRENCY: usize = 4;
/// Records in a row that could not be tried (partner or Avni not answering) before the step
/// gives up for this run instead of walking every record through the clients' retries.
const UNREACHABLE_LIMIT: u32 = 5;

/// What an error record is about: its `integrating_entity_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntityKind {
    Demand,
    Dispatch,
    Inventory,
    Activity,
    Distribution,
    DispatchReceipt,
}

/// How a Salesforce entity is fetched alone (contracts/goonj.md §3, "single fetch").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SingleFetch {
    pub path: &'static str,
    /// The query parameter carrying the id.
    pub id_param: &'static str,
    /// The answer's list of records.
    pub list: &'static str,
    /// The id field of a record in that list.
    pub id_field: &'static str,
}

/// Where an Avni entity lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AvniEntity {
    Subject,
    Encounter,
}

impl EntityKind {
    pub const ALL: [EntityKind; 6] = [
        EntityKind::Demand,
        EntityKind::Dispatch,
        EntityKind::Inventory,
        EntityKind::Activity,
        EntityKind::Distribution,
        EntityKind::DispatchReceipt,
    ];

    /// The `integrating_entity_type` the steps record.
    pub fn name(self) -> &'static str {
        match self {
            EntityKind::Demand => "Demand",
            EntityKind::Dispatch => "Dispatch",
            EntityKind::Inventory => "Inventory",
            EntityKind::Activity => "Activity",
            EntityKind::Distribution => "Distribution",
            EntityKind::DispatchReceipt => "DispatchReceipt",
        }
    }

    pub fn parse(name: &str) -> Option<EntityKind> {
        EntityKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Salesforce entities: how to fetch one again.
    pub fn single_fetch(self) -> Option<SingleFetch> {
        let fetch = |path, id_param, list, id_field| {
            Some(SingleFetch {
                path,
                id_param,
                list,
                id_field,
            })
        };
        match self {
            EntityKind::Demand => fetch(
                "DemandService/getDemands",
                "demandId",
                "Demands",
                "DemandId",
            ),
            EntityKind::Dispatch => fetch(
                "DispatchService/getDispatches",
                "dispatchStatusId",
                "DispatchStatuses",
                "DispatchStatusId",
            ),
            EntityKind::Inventory => fetch(
                "ImplementationInventoryService/getImplementationInventories",
                "inventoryId",
                "ImplementationInventory",
                "ImplementationInventoryId",
            ),
            _ => None,
        }
    }

    /// Avni entities: where to look them up.
    pub fn avni_entity(self) -> Option<AvniEntity> {
        match self {
            EntityKind::Activity | EntityKind::Distribution => Some(AvniEntity::Subject),
            EntityKind::DispatchReceipt => Some(AvniEntity::Encounter),
            _ => None,
        }
    }
}

/// The record with `id` in a single-fetch answer; `None` when Salesforce no longer has it (an
/// empty list, or the id only among the deleted ones).
pub fn find_record(feed: &Value, fetch: &SingleFetch, id: &str) -> Option<Map<String, Value>> {
    feed.get(fetch.list)?
        .as_array()?
        .iter()
        .filter_map(Value::as_object)
        .find(|record| record.get(fetch.id_field).and_then(Value::as_str) == Some(id))
        .cloned()
}

/// The result of retrying one record.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Written to the other side: the error record goes.
    Synced,
    /// The source no longer has it: the error record goes.
    Gone,
    /// Failed again on its data: a classified log and the next attempt after the backoff.
    Failed { message: String, payload: Value },
    /// The Avni entity no longer exists: an `EntityIsDeleted` log, never retried again.
    AvniEntityDeleted { message: String },
    /// Could not be tried for a reason that will not pass by itself: the attempt counts (backoff,
    /// give-up) without a new log.
    Postponed(String),
    /// Could not be tried because Salesforce or Avni did not answer: left as it is.
    Unreachable(String),
    /// This build cannot retry it (its re-sync is not built): left as it is.
    Unsupported(String),
}

pub struct ErrorJobStep {
    shared: Arc<Shared>,
}

impl ErrorJobStep {
    pub fn arc(shared: Arc<Shared>) -> Arc<dyn Step> {
        Arc::new(ErrorJobStep { shared })
    }
}

impl Step for ErrorJobStep {
    fn name(&self) -> &str {
        STEP_NAME
    }

    fn direction(&self) -> &'static str {
        "retry"
    }

    fn run<'a>(&'a self, ctx: &'a JobContext) -> BoxFuture<'a, Result<StepOutcome, StepError>> {
        Box::pin(async move {
            let run = self.shared.prepare(ctx).await?;
            let deleted_type = error_store::error_types(ctx.store.pool(), ctx.tenant.id)
                .await?
                .into_iter()
                .find(|t| t.name == errors::ENTITY_IS_DELETED)
                .map(|t| t.id);
            retry_due(ctx, &run, deleted_type).await
        })
    }
}

/// Walks the due records page by page; returns with `more` when the job must yield.
async fn retry_due(
    ctx: &JobContext,
    run: &GoonjRun,
    deleted_type: Option<i32>,
) -> Result<StepOutcome, StepError> {
    let mut total = StepOutcome::default();
    let mut after = 0;
    let mut unreachable_in_a_row = 0u32;
    loop {
        let page =
            error_store::due_for_retry(ctx.store.pool(), ctx.tenant.id, after, PAGE_SIZE).await?;
        let Some(last) = page.last() else {
            return Ok(total);
        };
        after = last.id;
        let results: Vec<(DueRecord, Result<Verdict, StepError>)> = stream::iter(page)
            .map(|record| async move {
                let verdict = retry_one(run, &record).await;
                (record, verdict)
            })
            .buffered(CONCURRENCY)
            .collect()
            .await;
        let mut abort: Option<StepError> = None;
        for (record, verdict) in results {
            let verdict = match verdict {
                Ok(verdict) => verdict,
                Err(error) => {
                    abort.get_or_insert(error);
                    continue;
                }
            };
            match &verdict {
                Verdict::Unreachable(reason) => {
                    unreachable_in_a_row += 1;
                    if unreachable_in_a_row >= UNREACHABLE_LIMIT {
                        abort.get_or_insert(StepError::Unavailable(format!(
                            "{unreachable_in_a_row} error records in a row could not be retried; stopping this run: {reason}"
                        )));
                    }
                }
                _ => unreachable_in_a_row = 0,
            }
            apply(ctx, run, deleted_type, &record, verdict, &mut total).await?;
        }
        if let Some(error) = abort {
            return Err(error);
        }
        if ctx.should_yield() {
            total.more = true;
            return Ok(total);
        }
    }
}

/// Retries one record against Salesforce or Avni. `Err` is a failure no record can get past
/// (a login that is refused): the step stops.
async fn retry_one(run: &GoonjRun, record: &DueRecord) -> Result<Verdict, StepError> {
    let Some(type_name) = record.integrating_entity_type.as_deref() else {
        return Ok(Verdict::Unsupported(format!(
            "an Avni entity record ({:?}); the Goonj error job retries integrating entities only",
            record.avni_entity_type
        )));
    };
    let Some(kind) = EntityKind::parse(type_name) else {
        return Ok(Verdict::Unsupported(format!(
            "unknown integrating entity type {type_name:?}"
        )));
    };
    let id = record.entity_id.as_str();
    if error_store::is_keyless_entity_id(id) {
        // Nothing to fetch it by: kept for a human to fix at the source (once fixed there, the
        // record is changed, so the main job reads it again under its id).
        return Ok(Verdict::Unsupported(format!(
            "{type_name} {id} has no id to fetch it by"
        )));
    }
    if let Some(fetch) = kind.single_fetch() {
        let feed = match run
            .salesforce
            .get(fetch.path, &[(fetch.id_param, id)])
            .await
        {
            Ok(feed) => feed,
            Err(error) => return salesforce_unavailable(error),
        };
        let Some(source) = find_record(&feed, &fetch, id) else {
            return Ok(Verdict::Gone);
        };
        return resync_salesforce(run, kind, source).await;
    }
    if let Some(entity) = kind.avni_entity() {
        let deleted = |path: &str| {
            Ok(Verdict::AvniEntityDeleted {
                message: format!(
                    "{type_name} {id} no longer exists in Avni (GET /api/{path}/{id}: 404)"
                ),
            })
        };
        let resent = match (entity, kind) {
            (AvniEntity::Subject, _) => match run.avni.get_subject(id).await {
                Ok(None) => return deleted("subject"),
                Err(error) => return avni_unavailable(error),
                Ok(Some(subject)) => match kind {
                    EntityKind::Distribution => {
                        outbound::resync_one(run, &distribution::Distributions::default(), &subject)
                            .await
                    }
                    _ => outbound::resync_one(run, &activity::Activities, &subject).await,
                },
            },
            (AvniEntity::Encounter, _) => match run.avni.get_encounter(id).await {
                Ok(None) => return deleted("encounter"),
                Err(error) => return avni_unavailable(error),
                Ok(Some(encounter)) => {
                    outbound::resync_one(run, &receipt::Receipts, &encounter).await
                }
            },
        };
        return match resent {
            Ok(result) => Ok(verdict_of(result)),
            Err(StepError::Unavailable(reason)) => Ok(Verdict::Unreachable(reason)),
            Err(error) => Err(error),
        };
    }
    Ok(Verdict::Unsupported(format!(
        "no way to retry a {type_name}"
    )))
}

/// Sends a Salesforce record to Avni again.
async fn resync_salesforce(
    run: &GoonjRun,
    kind: EntityKind,
    source: Map<String, Value>,
) -> Result<Verdict, StepError> {
    match kind {
        EntityKind::Demand => {
            let request = match demand::subject_request(run, &source) {
                Ok(request) => request,
                Err(error) => {
                    return Ok(Verdict::Failed {
                        message: error.0,
                        payload: Value::Object(source),
                    })
                }
            };
            match run.avni.upsert_subject(&request, 3).await {
                Ok(_) => Ok(Verdict::Synced),
                Err(error @ (AvniError::Login(_) | AvniError::Config(_))) => Err(error.into()),
                Err(error) => Ok(Verdict::Failed {
                    message: error.to_string(),
                    payload: Value::Object(source),
                }),
            }
        }
        EntityKind::Dispatch => Ok(verdict_of(dispatch::sync_record(run, &source).await)),
        EntityKind::Inventory => Ok(verdict_of(inventory::sync_record(run, &source).await)),
        other => Ok(Verdict::Unsupported(format!(
            "{} is not a Salesforce entity",
            other.name()
        ))),
    }
}

/// A sync step's record result as the error job's verdict.
fn verdict_of(result: RecordResult) -> Verdict {
    match result {
        // Skipped counts as success, as in the steps: nothing is left to retry.
        RecordResult::Synced | RecordResult::Skipped => Verdict::Synced,
        RecordResult::Failed { message, payload } => Verdict::Failed { message, payload },
    }
}

fn salesforce_unavailable(error: SalesforceError) -> Result<Verdict, StepError> {
    match error {
        SalesforceError::Login(_) => Err(error.into()),
        e if e.is_transient() => Ok(Verdict::Unreachable(e.to_string())),
        e => Ok(Verdict::Postponed(format!(
            "fetching it from Salesforce failed: {e}"
        ))),
    }
}

fn avni_unavailable(error: AvniError) -> Result<Verdict, StepError> {
    match error {
        AvniError::Login(_) | AvniError::Config(_) => Err(error.into()),
        e if e.is_transient() => Ok(Verdict::Unreachable(e.to_string())),
        e => Ok(Verdict::Postponed(format!(
            "looking it up in Avni failed: {e}"
        ))),
    }
}

/// Stores one record's verdict in a transaction of its own.
async fn apply(
    ctx: &JobContext,
    run: &GoonjRun,
    deleted_type: Option<i32>,
    record: &DueRecord,
    verdict: Verdict,
    total: &mut StepOutcome,
) -> Result<(), StepError> {
    let tenant = ctx.tenant.id;
    let entity = FailedEntity::Integrating {
        entity_type: record.integrating_entity_type.clone().unwrap_or_default(),
        id: record.entity_id.clone(),
    };
    let config = &run.config;
    let mut tx = ctx.store.pool().begin().await.map_err(StoreError::from)?;
    let postpone = |reason: &str| {
        tracing::warn!(record = record.id, entity = ?entity, %reason, "error record not retried; its attempt counts");
    };
    let mut count_attempt = false;
    match verdict {
        Verdict::Synced => {
            error_store::clear(&mut tx, tenant, &entity).await?;
            tracing::info!(record = record.id, entity = ?entity, "error record retried successfully; deleted");
            total.synced += 1;
        }
        Verdict::Gone => {
            error_store::clear(&mut tx, tenant, &entity).await?;
            tracing::info!(record = record.id, entity = ?entity, "entity gone from Salesforce; error record deleted");
        }
        Verdict::Failed { message, payload } => match run.classifier.classify(&message) {
            Some(error_type) => {
                error_store::record(
                    &mut tx,
                    tenant,
                    &entity,
                    error_type.id,
                    &message,
                    Some(&payload),
                )
                .await?;
                tracing::info!(record = record.id, entity = ?entity, error_type = %error_type.name, %message, "retry failed; classified");
                total.failed += 1;
                count_attempt = true;
            }
            None => {
                postpone(&format!(
                    "unclassified failure (no error type matches and goonj_bypass_errors is off): {message}"
                ));
                count_attempt = true;
            }
        },
        Verdict::AvniEntityDeleted { message } => match deleted_type {
            Some(type_id) => {
                error_store::record(&mut tx, tenant, &entity, type_id, &message, None).await?;
                tracing::info!(record = record.id, entity = ?entity, "entity deleted in Avni; recorded as {}", errors::ENTITY_IS_DELETED);
            }
            None => {
                postpone(&format!(
                    "{message}; the tenant has no {} error type to record it with",
                    errors::ENTITY_IS_DELETED
                ));
                count_attempt = true;
            }
        },
        Verdict::Postponed(reason) => {
            postpone(&reason);
            count_attempt = true;
        }
        Verdict::Unreachable(reason) => {
            tracing::warn!(record = record.id, entity = ?entity, %reason, "error record could not be retried (Salesforce or Avni not answering); left for the next run");
        }
        Verdict::Unsupported(reason) => {
            tracing::warn!(record = record.id, entity = ?entity, %reason, "error record left untouched");
        }
    }
    if count_attempt {
        let gave_up = error_store::retry_failed(
            &mut tx,
            tenant,
            record.id,
            config.retry_base,
            config.retry_max_delay,
            config.retry_max_attempts,
        )
        .await?;
        if gave_up {
            tracing::warn!(record = record.id, entity = ?entity, attempts = record.retry_count + 1, "error record given up after its maximum attempts; disabled");
        }
    }
    tx.commit().await.map_err(StoreError::from)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn entity_kinds_round_trip_and_split_into_salesforce_and_avni() {
        for kind in EntityKind::ALL {
            assert_eq!(EntityKind::parse(kind.name()), Some(kind));
            assert!(
                kind.single_fetch().is_some() != kind.avni_entity().is_some(),
                "{kind:?} is exactly one of the two"
            );
        }
        assert_eq!(EntityKind::parse("demand"), None, "names are exact");
        assert_eq!(
            EntityKind::DispatchReceipt.avni_entity(),
            Some(AvniEntity::Encounter)
        );
        assert_eq!(
            EntityKind::Activity.avni_entity(),
            Some(AvniEntity::Subject)
        );
    }

    #[test]
    fn single_fetches_follow_the_contract() {
        let params = |k: EntityKind| {
            let f = k.single_fetch().unwrap();
            (f.path, f.id_param)
        };
        assert_eq!(
            params(EntityKind::Demand),
            ("DemandService/getDemands", "demandId")
        );
        assert_eq!(
            params(EntityKind::Dispatch),
            ("DispatchService/getDispatches", "dispatchStatusId")
        );
        assert_eq!(
            params(EntityKind::Inventory),
            (
                "ImplementationInventoryService/getImplementationInventories",
                "inventoryId"
            )
        );
    }

    #[test]
    fn a_record_is_found_only_when_listed_under_its_id() {
        let fetch = EntityKind::Demand.single_fetch().unwrap();
        let feed = json!({"Demands": [{"DemandId": "a1", "State": "Bihar"}], "DeletedDemands": []});
        assert_eq!(find_record(&feed, &fetch, "a1").unwrap()["State"], "Bihar");
        assert!(find_record(&feed, &fetch, "a2").is_none());
        let deleted = json!({"Demands": [], "DeletedDemands": ["a1"]});
        assert!(find_record(&deleted, &fetch, "a1").is_none());
        assert!(find_record(&json!({}), &fetch, "a1").is_none());

        let fetch = EntityKind::Dispatch.single_fetch().unwrap();
        let feed = json!({"DispatchStatuses": [{"DispatchStatusId": "d1"}],
                          "DeletedObjects": {"DeletedDispatchStatuses": []}});
        assert!(find_record(&feed, &fetch, "d1").is_some());
        // A line-deletion failure is keyed by the line id: no status has it, so it clears.
        assert!(find_record(&feed, &fetch, "line-1").is_none());

        let fetch = EntityKind::Inventory.single_fetch().unwrap();
        let feed = json!({"ImplementationInventory": [{"ImplementationInventoryId": "i1"}]});
        assert!(find_record(&feed, &fetch, "i1").is_some());
    }

    #[test]
    fn only_login_failures_stop_the_step_and_outages_leave_records_alone() {
        let login = salesforce_unavailable(SalesforceError::Login("401".into()));
        assert!(login.is_err());
        let outage = salesforce_unavailable(SalesforceError::Http {
            status: 503,
            body: String::new(),
            retry_after: None,
        });
        assert!(matches!(outage, Ok(Verdict::Unreachable(_))));
        let refused = salesforce_unavailable(SalesforceError::Http {
            status: 400,
            body: "bad id".into(),
            retry_after: None,
        });
        assert!(matches!(refused, Ok(Verdict::Postponed(_))));
        assert!(avni_unavailable(AvniError::Login("no".into())).is_err());
        assert!(matches!(
            avni_unavailable(AvniError::Unexpected("?".into())),
            Ok(Verdict::Postponed(_))
        ));
    }
}
