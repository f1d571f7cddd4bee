//! Step `GoonjDemand`: Salesforce demands into Avni `Demand` subjects (contracts/goonj.md §3).
//! Deletions first, then upserts by `External ID` = `DemandId`, the cursor following each
//! record's `LastUpdatedDateTime` (as Salesforce's IST wall clock).

use super::mapping::{self, MappingError};
use super::outcome::{Outcome, Page, RecordResult};
use super::time;
use super::{GoonjRun, Shared};
use crate::avni::SubjectRequest;
use crate::context::JobContext;
use crate::module::{Step, StepError, StepOutcome};
use avni_int_shared::store::cursors::{self, Cursor};
use avni_int_shared::store::errors::FailedEntity;
use avni_int_shared::store::StoreError;
use chrono::{NaiveDate, NaiveDateTime, Utc};
use futures::future::BoxFuture;
use futures::{stream, StreamExt};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

pub const CURSOR_ENTITY: &str = "Demand";
const PATH: &str = "DemandService/getDemands";
const GROUP: &str = "Demand";
/// Fields the mapping never looks up (`DemandId` is looked up, as in the original).
const CORE: &[&str] = &[
    "DemandName",
    "State",
    "District",
    "IsVoided",
    "TargetCommunity",
];
/// Avni writes in flight per page.
const CONCURRENCY: usize = 16;

pub struct DemandStep {
    shared: Arc<Shared>,
}

impl DemandStep {
    pub fn arc(shared: Arc<Shared>) -> Arc<dyn Step> {
        Arc::new(DemandStep { shared })
    }
}

/// Where a first run starts: before any Goonj data.
pub fn initial_cursor() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2000, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .unwrap_or_default()
}

impl Step for DemandStep {
    fn name(&self) -> &str {
        "GoonjDemand"
    }

    fn failure_group(&self) -> Option<&str> {
        Some(super::group::DEMANDS_AND_DISPATCHES)
    }

    fn run<'a>(&'a self, ctx: &'a JobContext) -> BoxFuture<'a, Result<StepOutcome, StepError>> {
        Box::pin(async move {
            let run = self.shared.prepare(ctx).await?;
            sync(ctx, &run).await
        })
    }
}

async fn sync(ctx: &JobContext, run: &GoonjRun) -> Result<StepOutcome, StepError> {
    let tenant = ctx.tenant.id;
    let mut total = StepOutcome::default();
    loop {
        let mut conn = ctx.store.pool().acquire().await.map_err(StoreError::from)?;
        let cursor = cursors::load(&mut conn, tenant, CURSOR_ENTITY)
            .await?
            .and_then(|c| c.date_time)
            .unwrap_or_else(initial_cursor);
        drop(conn);
        let param = time::cursor_param(cursor);
        let feed = run
            .salesforce
            .get(
                PATH,
                &[("dateTimestamp", &param), ("state", ""), ("account", "")],
            )
            .await?;
        delete_demands(run, &feed).await;
        let demands: Vec<Map<String, Value>> = feed["Demands"]
            .as_array()
            .map(|list| list.iter().filter_map(|d| d.as_object().cloned()).collect())
            .unwrap_or_default();
        if demands.is_empty() {
            return Ok(total);
        }
        let outcomes: Vec<Outcome> = stream::iter(demands)
            .map(|demand| sync_one(run, demand, cursor))
            .buffered(CONCURRENCY)
            .collect()
            .await;
        let last_cursor = outcomes.last().and_then(|o| o.cursor_after.date_time);
        let page = Page {
            store: &ctx.store,
            tenant,
            classifier: &run.classifier,
            cursor_entity: CURSOR_ENTITY,
            move_cursor: true,
        };
        let done = page.commit(outcomes).await?;
        total.synced += done.synced;
        total.failed += done.failed;
        if last_cursor <= Some(cursor) {
            // A full page at one second: Salesforce's cursor cannot get past it.
            return Err(StepError::Failed(format!(
                "Salesforce returned a page of demands none of which is after the cursor {param}; more demands share one second than a page holds"
            )));
        }
        if ctx.should_yield() {
            total.more = true;
            return Ok(total);
        }
    }
}

/// Voids the deleted demands in Avni; all errors are ignored, as in the original.
async fn delete_demands(run: &GoonjRun, feed: &Value) {
    let Some(deleted) = feed["DeletedDemands"].as_array() else {
        return;
    };
    for id in deleted.iter().filter_map(Value::as_str) {
        if let Err(error) = run.avni.delete_subject(id).await {
            tracing::info!(demand = %id, %error, "deleting a demand in Avni failed; ignored");
        }
    }
}

async fn sync_one(run: &GoonjRun, demand: Map<String, Value>, cursor: NaiveDateTime) -> Outcome {
    let demand = &demand;
    let id = mapping::text(demand, "DemandId")
        .unwrap_or_default()
        .to_owned();
    let updated = mapping::text(demand, "LastUpdatedDateTime")
        .and_then(time::parse_sf)
        .map(time::ist_wall_clock)
        .unwrap_or(cursor);
    let result = match subject_request(run, demand) {
        Err(error) => RecordResult::Failed {
            message: error.0,
            payload: Value::Object(demand.clone()),
        },
        Ok(request) => match run.avni.upsert_subject(&request, 3).await {
            Ok(_) => RecordResult::Synced,
            Err(error) => RecordResult::Failed {
                message: error.to_string(),
                payload: Value::Object(demand.clone()),
            },
        },
    };
    Outcome {
        entity: FailedEntity::Integrating {
            entity_type: CURSOR_ENTITY.into(),
            id,
        },
        result,
        cursor_after: Cursor {
            date_time: Some(updated),
            ..Cursor::default()
        },
    }
}

/// The Avni subject for a demand.
pub fn subject_request(
    run: &GoonjRun,
    demand: &Map<String, Value>,
) -> Result<SubjectRequest, MappingError> {
    let state = mapping::text(demand, "State");
    let district = mapping::text(demand, "District");
    let (Some(state), Some(district)) = (state, district) else {
        return Err(MappingError("Invalid address value specified".into()));
    };
    let mut observations = mapping::observations(&run.mappings, GROUP, demand, CORE)?;
    if let Some(community) = mapping::text(demand, "TargetCommunity") {
        let values: Vec<Value> = community
            .split(';')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| Value::String(s.to_owned()))
            .collect();
        observations.insert("Target Community".into(), Value::Array(values));
    }
    Ok(SubjectRequest {
        external_id: mapping::text(demand, "DemandId").map(str::to_owned),
        subject_type: "Demand".into(),
        registration_date: Some(time::ist_date(Utc::now())),
        address_map: Some(BTreeMap::from([
            ("State".to_owned(), state.to_owned()),
            ("District".to_owned(), district.to_owned()),
        ])),
        first_name: mapping::text(demand, "DemandName").map(str::to_owned),
        observations,
        voided: mapping::is_voided(demand.get("IsVoided")),
        ..SubjectRequest::default()
    })
}
