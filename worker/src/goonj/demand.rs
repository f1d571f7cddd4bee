//! Step `GoonjDemand`: Salesforce demands into Avni `Demand` subjects (contracts/goonj.md §3).
//! Deletions first (errors ignored, as in the original), then upserts by `External ID` =
//! `DemandId`, the cursor following each record's `LastUpdatedDateTime`.

use super::inbound::{self, DeletionErrors, InboundFeed};
use super::mapping::{self, MappingError};
use super::outcome::RecordResult;
use super::{time, GoonjRun};
use crate::avni::SubjectRequest;
use crate::context::JobContext;
use crate::module::{StepError, StepOutcome};
use chrono::Utc;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashSet};

pub const ENTITY: &str = "Demand";
const GROUP: &str = "Demand";
/// Fields the mapping never looks up (`DemandId` is looked up, as in the original).
const CORE: &[&str] = &[
    "DemandName",
    "State",
    "District",
    "IsVoided",
    "TargetCommunity",
];

/// The demand feed.
pub struct DemandFeed;

impl InboundFeed for DemandFeed {
    const PATH: &'static str = "DemandService/getDemands";
    const TIMESTAMP_PARAM: &'static str = "dateTimestamp";
    const RECORDS: &'static str = "Demands";
    const ID_FIELD: &'static str = "DemandId";
    const TIMESTAMP_FIELD: &'static str = "LastUpdatedDateTime";
    const ENTITY: &'static str = ENTITY;

    async fn apply_deletions(
        &self,
        _ctx: &JobContext,
        run: &GoonjRun,
        answer: &Value,
        done: &mut HashSet<String>,
    ) -> Result<StepOutcome, StepError> {
        let ids = inbound::id_list(&answer["DeletedDemands"]);
        let voided =
            inbound::void_subjects(run, ids, "demand", DeletionErrors::Ignore, done).await?;
        Ok(StepOutcome {
            synced: voided,
            ..StepOutcome::default()
        })
    }

    async fn sync_record(&self, run: &GoonjRun, demand: &Map<String, Value>) -> RecordResult {
        match subject_request(run, demand) {
            Ok(request) => inbound::upsert(run, &request, demand).await,
            Err(error) => inbound::mapping_failure(error, demand),
        }
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
