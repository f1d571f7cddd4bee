//! Goonj ad-hoc tasks on the worker (contracts/goonj.md §7): a `regular` job carrying a task
//! (`ClaimedJob::adhoc_task_id`) runs only that task's step, from the task's cut-off with its
//! `taskConfig` filters, without reading or moving cursors, and gives the task its final
//! status: `COMPLETED` (also when the tenant's `int_tasks` leaves the task out: nothing to do)
//! or `ERROR` when the step fails. Per-record failures are classified errors, as in a main run.

use super::config::{parse_tasks, GoonjTask};
use super::inbound::{self, InboundScope};
use super::outbound::{self, Outbound, Prepared, Resource};
use super::{activity, demand, dispatch, distribution, inventory, receipt, time};
use super::{GoonjRun, Shared};
use crate::avni::{AvniClient, AvniCursor, AvniError, IncrementalReader};
use crate::avni::{Subject, SubjectQuery, SubjectSource};
use crate::context::JobContext;
use crate::module::{Step, StepError, StepOutcome};
use avni_int_shared::store::adhoc_tasks::{self, AdhocTask, TaskStatus};
use chrono::{DateTime, TimeZone, Utc};
use futures::future::BoxFuture;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

/// The step of a `regular` job that runs its ad-hoc task; a no-op in any other job (whose
/// task steps, in turn, do nothing in an ad-hoc job).
pub struct AdhocStep {
    shared: Arc<Shared>,
}

impl AdhocStep {
    pub fn arc(shared: Arc<Shared>) -> Arc<dyn Step> {
        Arc::new(AdhocStep { shared })
    }
}

/// True when the job runs an ad-hoc task rather than the main job.
pub fn is_adhoc(ctx: &JobContext) -> bool {
    ctx.job.adhoc_task_id.is_some()
}

impl Step for AdhocStep {
    fn name(&self) -> &str {
        "AdhocTask"
    }

    fn run<'a>(&'a self, ctx: &'a JobContext) -> BoxFuture<'a, Result<StepOutcome, StepError>> {
        Box::pin(async move {
            let Some(id) = ctx.job.adhoc_task_id else {
                return Ok(StepOutcome::default());
            };
            let pool = ctx.store.pool();
            let Some(task) = adhoc_tasks::get_by_id(pool, ctx.tenant.id, id).await? else {
                tracing::warn!(
                    task_id = id,
                    "the job's ad-hoc task is not the tenant's; nothing run"
                );
                return Ok(StepOutcome::default());
            };
            if task.voided() {
                tracing::info!(uuid = %task.uuid, "ad-hoc task deleted before it ran; not run");
                return Ok(StepOutcome::default());
            }
            if task.status != TaskStatus::Created.as_str() {
                // A redelivered job whose task already ended.
                tracing::info!(uuid = %task.uuid, status = %task.status, "ad-hoc task already ran");
                return Ok(StepOutcome::default());
            }
            let result = run_task(&self.shared, ctx, &task).await;
            let status = match &result {
                Ok(_) => TaskStatus::Completed,
                Err(_) => TaskStatus::Error,
            };
            adhoc_tasks::mark(pool, id, status).await?;
            tracing::info!(uuid = %task.uuid, task = %task.integration_task, status = status.as_str(),
                "ad-hoc task ended");
            result
        })
    }
}

async fn run_task(
    shared: &Shared,
    ctx: &JobContext,
    task: &AdhocTask,
) -> Result<StepOutcome, StepError> {
    let goonj_task: GoonjTask = task.integration_task.parse().map_err(|bad: String| {
        StepError::Config(format!("ad-hoc task names an unknown task {bad:?}"))
    })?;
    if !parse_tasks(ctx.tenant.config("int_tasks"))?.contains(&goonj_task) {
        tracing::info!(task = %goonj_task, "ad-hoc task is not in the tenant's int_tasks; nothing to do");
        return Ok(StepOutcome::default());
    }
    let run = shared.prepare(ctx).await?;
    let filters = Filters::of(task.task_config.as_ref());
    let cut_off = task.cut_off_date_time;
    let scope = InboundScope {
        from: cut_off,
        state: filters.state.clone(),
        account: filters.account.clone(),
    };
    let from = cut_off_instant(cut_off)
        .ok_or_else(|| StepError::Config(format!("cut-off {cut_off} is not an IST time")))?;
    match goonj_task {
        GoonjTask::GoonjDemand => {
            inbound::sync_feed_scoped(ctx, &run, &demand::DemandFeed, Some(&scope)).await
        }
        GoonjTask::GoonjDispatch => {
            inbound::sync_feed_scoped(ctx, &run, &dispatch::DispatchFeed, Some(&scope)).await
        }
        GoonjTask::GoonjInventory => {
            inbound::sync_feed_scoped(ctx, &run, &inventory::InventoryFeed, Some(&scope)).await
        }
        GoonjTask::AvniActivity => {
            let kind = filters.subjects(activity::Activities, activity::SUBJECT_TYPE);
            outbound::sync_scoped(ctx, &run, &kind, Some(from)).await
        }
        GoonjTask::AvniDistribution => {
            let kind = filters.subjects(
                distribution::Distributions::default(),
                distribution::SUBJECT_TYPE,
            );
            outbound::sync_scoped(ctx, &run, &kind, Some(from)).await
        }
        GoonjTask::AvniDispatchReceipt => {
            outbound::sync_scoped(ctx, &run, &receipt::Receipts, Some(from)).await
        }
    }
}

/// A task's `taskConfig` as query filters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filters {
    pub state: String,
    pub account: String,
    pub location_ids: Vec<String>,
    pub concepts: BTreeMap<String, String>,
}

fn text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

impl Filters {
    /// `state`/`account` as text; `locationIds` a list or a comma list; `concepts` an object
    /// (or its JSON text) of concept name → value. Anything else is ignored.
    pub fn of(config: Option<&Value>) -> Filters {
        let Some(Value::Object(config)) = config else {
            return Filters::default();
        };
        let get = |key: &str| config.get(key).and_then(text).unwrap_or_default();
        let location_ids = match config.get("locationIds") {
            Some(Value::Array(items)) => items.iter().filter_map(text).collect(),
            Some(Value::String(s)) => s.split(',').map(|id| id.trim().to_owned()).collect(),
            _ => Vec::new(),
        };
        let concepts: Map<String, Value> = match config.get("concepts") {
            Some(Value::Object(map)) => map.clone(),
            Some(Value::String(s)) => match serde_json::from_str(s) {
                Ok(Value::Object(map)) => map,
                _ => Map::new(),
            },
            _ => Map::new(),
        };
        Filters {
            state: get("state"),
            account: get("account"),
            location_ids: location_ids
                .into_iter()
                .filter(|id| !id.is_empty())
                .collect(),
            concepts: concepts
                .iter()
                .filter_map(|(k, v)| text(v).map(|v| (k.clone(), v)))
                .collect(),
        }
    }

    fn subjects<K>(&self, inner: K, subject_type: &'static str) -> FilteredSubjects<K> {
        FilteredSubjects {
            inner,
            subject_type,
            location_ids: self.location_ids.clone(),
            concepts: self.concepts.clone(),
        }
    }
}

/// An Avni → Salesforce subject step reading only the subjects the filters select.
pub struct FilteredSubjects<K> {
    inner: K,
    subject_type: &'static str,
    location_ids: Vec<String>,
    concepts: BTreeMap<String, String>,
}

impl<K> Outbound for FilteredSubjects<K>
where
    K: Outbound<Record = Subject, Source = SubjectSource>,
{
    type Record = Subject;
    type Source = SubjectSource;
    const CURSOR: &'static str = K::CURSOR;
    const ENTITY_TYPE: &'static str = K::ENTITY_TYPE;
    const RESOURCE: Resource = K::RESOURCE;

    fn reader(&self, avni: &AvniClient, cursor: AvniCursor) -> IncrementalReader<SubjectSource> {
        let mut query = SubjectQuery::of_type(self.subject_type);
        query.location_ids = self.location_ids.clone();
        query.concepts = self.concepts.clone();
        avni.subjects_reader(query, cursor)
    }

    fn prepare<'a>(
        &'a self,
        run: &'a GoonjRun,
        record: &'a Subject,
    ) -> impl Future<Output = Result<Prepared, AvniError>> + Send + 'a {
        self.inner.prepare(run, record)
    }

    fn message_prefix(&self, record: &Subject) -> String {
        self.inner.message_prefix(record)
    }

    fn before_upsert<'a>(
        &'a self,
        run: &'a GoonjRun,
        records: &'a [Value],
    ) -> impl Future<Output = ()> + Send + 'a {
        self.inner.before_upsert(run, records)
    }
}

/// The cut-off as the instant Avni reads from (IST → UTC).
pub fn cut_off_instant(cut_off: chrono::NaiveDateTime) -> Option<DateTime<Utc>> {
    time::ist()
        .from_local_datetime(&cut_off)
        .single()
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn task_config_becomes_filters() {
        let f = Filters::of(Some(&json!({
            "state": " Bihar ", "account": 42,
            "locationIds": ["a", "", "b"], "concepts": {"Type of initiative": "CFW", "n": 3}
        })));
        assert_eq!(f.state, "Bihar");
        assert_eq!(f.account, "42");
        assert_eq!(f.location_ids, ["a", "b"]);
        assert_eq!(f.concepts["Type of initiative"], "CFW");
        assert_eq!(f.concepts["n"], "3");
        let g = Filters::of(Some(&json!({
            "locationIds": "x, y", "concepts": "{\"A\":\"b\"}"
        })));
        assert_eq!(g.location_ids, ["x", "y"]);
        assert_eq!(g.concepts["A"], "b");
        assert_eq!(Filters::of(None), Filters::default());
    }

    #[test]
    fn the_cut_off_is_an_ist_wall_clock() {
        let at = chrono::NaiveDateTime::parse_from_str("2024-03-10 12:00:00", "%Y-%m-%d %H:%M:%S")
            .unwrap();
        assert_eq!(
            cut_off_instant(at).unwrap().to_rfc3339(),
            "2024-03-10T06:30:00+00:00"
        );
    }
}
