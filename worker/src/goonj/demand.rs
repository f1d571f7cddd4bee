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
/// The Avni concept of `TargetCommunity`.
pub const TARGET_COMMUNITY: &str = "Target Community";
/// The failure of a demand that lists `TargetCommunity` without a community.
pub const TARGET_COMMUNITY_IS_NULL: &str = "Target Community is null";
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
    let voided = mapping::is_voided(demand.get("IsVoided"));
    match target_community(demand) {
        Ok(Some(communities)) => {
            observations.insert(TARGET_COMMUNITY.into(), Value::Array(communities));
        }
        Ok(None) => {}
        // A voided demand is only withdrawn from Avni: there is nothing for Goonj to fill.
        Err(error) if voided && error.0 == TARGET_COMMUNITY_IS_NULL => {}
        Err(error) => return Err(error),
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
        voided,
        ..SubjectRequest::default()
    })
}

/// `Target Community` = `TargetCommunity` split on `;`. Goonj's service lists the field on every
/// demand, null when nobody filled it: such a demand (null, blank, or only separators) fails
/// with [`TARGET_COMMUNITY_IS_NULL`] for Goonj to fill it. A record without the field at all
/// carries no community to check and gets no observation.
pub fn target_community(demand: &Map<String, Value>) -> Result<Option<Vec<Value>>, MappingError> {
    let Some(value) = demand.get("TargetCommunity") else {
        return Ok(None);
    };
    let text = match value {
        Value::Null => "",
        Value::String(text) => text.as_str(),
        // The message names the field, not the concept: the Target Community rule precedes
        // the ClassCastException one.
        other => {
            return Err(MappingError(format!(
                "ClassCastException: TargetCommunity is not a text: {other}"
            )))
        }
    };
    let communities: Vec<Value> = text
        .split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| Value::String(s.to_owned()))
        .collect();
    if communities.is_empty() {
        return Err(MappingError(TARGET_COMMUNITY_IS_NULL.into()));
    }
    Ok(Some(communities))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn demand(fields: Value) -> Map<String, Value> {
        fields.as_object().cloned().unwrap()
    }

    #[test]
    fn target_community_is_split_and_required_once_listed() {
        assert_eq!(
            target_community(&demand(json!({"TargetCommunity": "Rural; Tribal;"}))).unwrap(),
            Some(vec![json!("Rural"), json!("Tribal")])
        );
        for empty in [json!(null), json!(""), json!(" ; ")] {
            assert_eq!(
                target_community(&demand(json!({ "TargetCommunity": empty })))
                    .unwrap_err()
                    .0,
                TARGET_COMMUNITY_IS_NULL
            );
        }
        assert_eq!(target_community(&demand(json!({}))).unwrap(), None);
        assert!(
            target_community(&demand(json!({"TargetCommunity": ["Rural"]})))
                .unwrap_err()
                .0
                .starts_with("ClassCastException: TargetCommunity is not a text")
        );
    }
}
