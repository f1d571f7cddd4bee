//! Step `GoonjDispatch`: Salesforce dispatch statuses into Avni `Dispatch` subjects
//! (contracts/goonj.md §3). Deleted statuses are voided, deleted lines dropped from
//! `Materials Dispatched` by a PATCH, then dispatches are upserted by `External ID` =
//! `DispatchStatusId` with their lines and images, the cursor following each record's
//! `LastUpdatedDateTime`.

use super::images;
use super::inbound::{
    id_list, mapping_failure, upsert, void_subjects, DeletionErrors, InboundFeed,
};
use super::mapping::{self, MappingError};
use super::outcome::RecordResult;
use super::{errors, time, GoonjRun};
use crate::avni::{Entity, SubjectRequest};
use crate::context::JobContext;
use crate::module::{StepError, StepOutcome};
use avni_int_shared::store::errors::{self as error_store, FailedEntity};
use avni_int_shared::store::mappings::Mappings;
use avni_int_shared::store::StoreError;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashSet};

pub const ENTITY: &str = "Dispatch";
const SUBJECT_TYPE: &str = "Dispatch";
const GROUP: &str = "Dispatch";
const LINE_GROUP: &str = "DispatchLineItem";
pub const MATERIALS_DISPATCHED: &str = "Materials Dispatched";
/// The line concept holding `DispatchLineItemId` when the mapping does not say otherwise.
pub const LINE_ID_CONCEPT: &str = "Dispatch Line Item Id";
/// Fields the mapping never looks up (`DispatchStatusId` is looked up, as in the original).
const CORE: &[&str] = &[
    "DispatchDate",
    "DispatchLineItems",
    "DispatchState",
    "DispatchDistrict",
    "LastUpdatedDateTime",
    "TargetCommunity",
    "LocalDemand",
    "DisasterType",
    "AccountId",
    "AccountCode",
    "LoadingAndTruckImagesLink",
];
/// The only line fields mapped into `Materials Dispatched`.
pub const LINE_FIELDS: &[&str] = &[
    "Unit",
    "TypeOfMaterial",
    "Type",
    "Quantity",
    "PurchaseItemCategory",
    "OtherKitDetails",
    "MaterialName",
    "MaterialId",
    "KitId",
    "KitSubType",
    "KitName",
    "ItemName",
    "ItemCategory",
    "DispatchLineItemId",
    "ContributedItem",
];

/// The dispatch feed.
pub struct DispatchFeed;

impl InboundFeed for DispatchFeed {
    const PATH: &'static str = "DispatchService/getDispatches";
    const TIMESTAMP_PARAM: &'static str = "dateTimestamp";
    const RECORDS: &'static str = "DispatchStatuses";
    const ID_FIELD: &'static str = "DispatchStatusId";
    const TIMESTAMP_FIELD: &'static str = "LastUpdatedDateTime";
    const ENTITY: &'static str = ENTITY;

    async fn apply_deletions(
        &self,
        ctx: &JobContext,
        run: &GoonjRun,
        answer: &Value,
        done: &mut HashSet<String>,
    ) -> Result<StepOutcome, StepError> {
        let deleted = &answer["DeletedObjects"];
        let statuses = id_list(&deleted["DeletedDispatchStatuses"]);
        let voided = void_subjects(run, statuses, "dispatch", DeletionErrors::Abort, done).await?;
        let mut outcome =
            delete_lines(ctx, run, &deleted["DeletedDispatchStatusLineItems"], done).await?;
        outcome.synced += voided;
        Ok(outcome)
    }

    async fn sync_record(&self, run: &GoonjRun, record: &Map<String, Value>) -> RecordResult {
        sync_record(run, record).await
    }
}

/// Writes one dispatch to Avni: the subject with its lines, and its images.
pub async fn sync_record(run: &GoonjRun, record: &Map<String, Value>) -> RecordResult {
    let mut request = match subject_request(&run.mappings, record) {
        Ok(request) => request,
        Err(error) => return mapping_failure(error, record),
    };
    let failed = |message: String| RecordResult::Failed {
        message,
        payload: Value::Object(record.clone()),
    };
    let sf_images = images::images_of(record);
    let stored = match (sf_images.is_empty(), request.external_id.as_deref()) {
        (false, Some(id)) => match run.avni.get_subject(id).await {
            Ok(current) => images::stored_urls(
                current
                    .as_ref()
                    .and_then(|s| s.observation(images::LOADING_AND_TRUCK_IMAGES)),
            ),
            Err(error) => return failed(error.to_string()),
        },
        _ => Vec::new(),
    };
    let outcome = match images::sync_images(run, &sf_images, &stored).await {
        Ok(outcome) => outcome,
        Err(message) => return failed(message),
    };
    request.observations.insert(
        images::LOADING_AND_TRUCK_IMAGES.into(),
        Value::from(outcome.urls),
    );
    request.observations.insert(
        images::INVALID_PHOTOGRAPH_URLS_RECEIVED.into(),
        Value::from(outcome.any_failed.to_string()),
    );
    upsert(run, &request, record).await
}

/// The Avni subject for a dispatch, without its images.
pub fn subject_request(
    mappings: &Mappings,
    dispatch: &Map<String, Value>,
) -> Result<SubjectRequest, MappingError> {
    let Some(id) = mapping::text(dispatch, "DispatchStatusId") else {
        return Err(MappingError("DispatchStatusId is missing".into()));
    };
    let state = mapping::text(dispatch, "DispatchState");
    let district = mapping::text(dispatch, "DispatchDistrict");
    let (Some(state), Some(district)) = (state, district) else {
        return Err(MappingError("Invalid address value specified".into()));
    };
    let registration_date = match mapping::text(dispatch, "DispatchDate") {
        None => None,
        Some(date) => Some(time::parse_sf_date(date).ok_or_else(|| {
            MappingError(format!("Invalid DispatchDate value specified: {date}"))
        })?),
    };
    let mut observations = mapping::observations(mappings, GROUP, dispatch, CORE)?;
    observations.insert(
        MATERIALS_DISPATCHED.into(),
        Value::Array(materials_dispatched(
            mappings,
            dispatch.get("DispatchLineItems"),
        )?),
    );
    Ok(SubjectRequest {
        external_id: Some(id.to_owned()),
        subject_type: SUBJECT_TYPE.into(),
        registration_date,
        address_map: Some(BTreeMap::from([
            ("State".to_owned(), state.to_owned()),
            ("District".to_owned(), district.to_owned()),
        ])),
        first_name: mapping::text(dispatch, "DispatchStatusName").map(str::to_owned),
        observations,
        voided: mapping::is_voided(dispatch.get("IsVoided")),
        ..SubjectRequest::default()
    })
}

/// `Materials Dispatched`: one entry per element of the (required) `DispatchLineItems`, its
/// [`LINE_FIELDS`] mapped through group `DispatchLineItem`.
pub fn materials_dispatched(
    mappings: &Mappings,
    lines: Option<&Value>,
) -> Result<Vec<Value>, MappingError> {
    // A value of the wrong JSON type is what the original failed on with a
    // ClassCastException; the rule of that name classifies these.
    let lines = match lines {
        None | Some(Value::Null) => {
            return Err(MappingError("DispatchLineItems is missing".into()))
        }
        Some(Value::Array(lines)) => lines,
        Some(other) => {
            return Err(MappingError(format!(
                "ClassCastException: DispatchLineItems is not a list: {other}"
            )))
        }
    };
    lines
        .iter()
        .map(|line| {
            let Value::Object(line) = line else {
                return Err(MappingError(format!(
                    "ClassCastException: a DispatchLineItems element is not an object: {line}"
                )));
            };
            let wanted: Map<String, Value> = line
                .iter()
                .filter(|(field, _)| LINE_FIELDS.contains(&field.as_str()))
                .map(|(field, value)| (field.clone(), value.clone()))
                .collect();
            mapping::observations(mappings, LINE_GROUP, &wanted, &[]).map(Value::Object)
        })
        .collect()
}

/// The line concept holding a line's id: the mapping's, else [`LINE_ID_CONCEPT`].
fn line_id_concept(mappings: &Mappings) -> &str {
    mappings
        .by_partner_value(LINE_GROUP, "DispatchLineItemId")
        .map(|row| row.avni_value.as_str())
        .unwrap_or(LINE_ID_CONCEPT)
}

/// `Materials Dispatched` without the line `line_id`; `None` when it has no such line.
pub fn without_line(materials: Option<&Value>, id_concept: &str, line_id: &str) -> Option<Value> {
    let lines = materials?.as_array()?;
    let kept: Vec<Value> = lines
        .iter()
        .filter(|line| line.get(id_concept).and_then(Value::as_str) != Some(line_id))
        .cloned()
        .collect();
    (kept.len() < lines.len()).then_some(Value::Array(kept))
}

/// Drops each deleted line from its Avni Dispatch. A removed (or already absent) line clears
/// its error record; a failure becomes `DispatchLineItemsDeletionFailure` keyed (`Dispatch`,
/// line id) with the deletion as payload. Both are committed before the upserts run.
async fn delete_lines(
    ctx: &JobContext,
    run: &GoonjRun,
    deleted: &Value,
    done: &mut HashSet<String>,
) -> Result<StepOutcome, StepError> {
    let mut outcome = StepOutcome::default();
    let mut results: Vec<(String, Value, Result<bool, String>)> = Vec::new();
    for deletion in deleted.as_array().map(Vec::as_slice).unwrap_or_default() {
        let field = |key: &str| {
            deletion
                .get(key)
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|s| !s.is_empty())
        };
        let (Some(line_id), Some(dispatch_id)) =
            (field("DispatchStatusLineItemId"), field("DispatchStatusId"))
        else {
            tracing::warn!(%deletion, "deleted dispatch line without its ids; skipped");
            continue;
        };
        let key = format!("{dispatch_id}/{line_id}");
        if done.contains(&key) {
            continue;
        }
        let result = remove_line(run, dispatch_id, line_id).await;
        done.insert(key);
        results.push((line_id.to_owned(), deletion.clone(), result));
    }
    if results.is_empty() {
        return Ok(outcome);
    }
    let tenant = ctx.tenant.id;
    let failure_type = if results.iter().any(|(_, _, r)| r.is_err()) {
        let types = error_store::error_types(ctx.store.pool(), tenant).await?;
        let found = types
            .into_iter()
            .find(|t| t.name == errors::DISPATCH_LINE_DELETION_FAILURE);
        Some(found.map(|t| t.id).ok_or_else(|| {
            StepError::Failed(format!(
                "the tenant has no error type {} to record a failed line deletion with",
                errors::DISPATCH_LINE_DELETION_FAILURE
            ))
        })?)
    } else {
        None
    };
    let mut tx = ctx.store.pool().begin().await.map_err(StoreError::from)?;
    for (line_id, deletion, result) in results {
        let entity = FailedEntity::Integrating {
            entity_type: ENTITY.into(),
            id: line_id.clone(),
        };
        match (result, failure_type) {
            (Ok(patched), _) => {
                error_store::clear(&mut tx, tenant, &entity).await?;
                outcome.synced += u64::from(patched);
            }
            (Err(message), Some(type_id)) => {
                tracing::info!(line = %line_id, %message, "dropping a deleted dispatch line failed; stored as a classified error");
                error_store::record(&mut tx, tenant, &entity, type_id, &message, Some(&deletion))
                    .await?;
                outcome.failed += 1;
            }
            (Err(_), None) => {}
        }
    }
    tx.commit().await.map_err(StoreError::from)?;
    Ok(outcome)
}

/// Drops one line from its Dispatch's `Materials Dispatched` with a PATCH (only that
/// observation is sent). `Ok(false)`: nothing to do (the Dispatch is not in Avni, or the line
/// is gone already); `Err`: the failure's message.
async fn remove_line(run: &GoonjRun, dispatch_id: &str, line_id: &str) -> Result<bool, String> {
    let context = |error: String| {
        format!("Dropping line {line_id} from Dispatch {dispatch_id} failed: {error}")
    };
    let Some(dispatch) = run
        .avni
        .get_subject(dispatch_id)
        .await
        .map_err(|e| context(e.to_string()))?
    else {
        tracing::info!(dispatch = %dispatch_id, line = %line_id,
            "a deleted dispatch line's Dispatch is not in Avni; nothing to drop");
        return Ok(false);
    };
    let id_concept = line_id_concept(&run.mappings);
    let Some(kept) = without_line(
        dispatch.observation(MATERIALS_DISPATCHED),
        id_concept,
        line_id,
    ) else {
        return Ok(false);
    };
    let target = dispatch.id().unwrap_or(dispatch_id);
    let patch = json!({ "observations": { MATERIALS_DISPATCHED: kept } });
    run.avni
        .patch_subject(target, &patch, 3)
        .await
        .map(|_| true)
        .map_err(|e| context(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use avni_int_shared::store::mappings::{DataTypeHint, Mapping};

    fn mappings(rows: &[(&str, &str, &str, Option<DataTypeHint>)]) -> Mappings {
        let mut mappings = Mappings::default();
        for (group, partner, avni, hint) in rows {
            mappings.insert(
                group,
                Mapping {
                    int_system_value: (*partner).into(),
                    avni_value: (*avni).into(),
                    hint: *hint,
                },
            );
        }
        mappings
    }

    fn dispatch() -> Map<String, Value> {
        json!({
            "DispatchStatusId": "a0D1", "DispatchStatusName": "DS-000123",
            "DispatchState": "Uttarakhand", "DispatchDistrict": "Dehradun",
            "DispatchDate": "2023-05-30", "IsVoided": "true", "LocalDemand": "No",
            "AccountCode": "UK-DDN-01", "Status": "Dispatched",
            "LastUpdatedDateTime": "2023-06-02T04:20:11.000Z",
            "DispatchLineItems": [{
                "DispatchLineItemId": "a0E1", "ItemName": "Family Kit", "Quantity": 40,
                "TypeOfMaterial": "Kit", "LastUpdatedDateTime": "2023-06-02T04:20:11.000Z",
                "Unmapped": "x"
            }, {
                "DispatchLineItemId": "a0E2", "ItemName": "Rice", "Quantity": 25,
                "TypeOfMaterial": "Purchased Item"
            }]
        })
        .as_object()
        .cloned()
        .unwrap()
    }

    fn all_mappings() -> Mappings {
        mappings(&[
            ("Dispatch", "DispatchStatusId", "Dispatch Status Id", None),
            ("Dispatch", "Status", "Dispatch Status", None),
            ("Dispatch", "LocalDemand", "Local Demand", None),
            (LINE_GROUP, "DispatchLineItemId", LINE_ID_CONCEPT, None),
            (LINE_GROUP, "ItemName", "Item Name", None),
            (LINE_GROUP, "Quantity", "Quantity", None),
            (
                LINE_GROUP,
                "TypeOfMaterial",
                "Type of Material",
                Some(DataTypeHint::Coded),
            ),
            (LINE_GROUP, "Kit", "Kit", None),
            (LINE_GROUP, "Purchased Item", "Purchased item", None),
            (LINE_GROUP, "LastUpdatedDateTime", "Line Updated", None),
        ])
    }

    #[test]
    fn lines_map_only_the_listed_fields_through_their_group() {
        let record = dispatch();
        let lines = materials_dispatched(&all_mappings(), record.get("DispatchLineItems")).unwrap();
        assert_eq!(
            lines,
            [
                json!({"Dispatch Line Item Id": "a0E1", "Item Name": "Family Kit",
                       "Quantity": 40, "Type of Material": "Kit"}),
                json!({"Dispatch Line Item Id": "a0E2", "Item Name": "Rice",
                       "Quantity": 25, "Type of Material": "Purchased item"}),
            ]
        );
        let missing = materials_dispatched(&all_mappings(), None).unwrap_err();
        assert!(missing.0.contains("DispatchLineItems"), "{missing}");
        let coded = mappings(&[(
            LINE_GROUP,
            "TypeOfMaterial",
            "Type of Material",
            Some(DataTypeHint::Coded),
        )]);
        let error = materials_dispatched(&coded, record.get("DispatchLineItems")).unwrap_err();
        assert_eq!(
            error.0,
            "Answer Mapping entry not found for coded concept answer field: TypeOfMaterial"
        );
    }

    #[test]
    fn the_subject_follows_the_contract() {
        let request = subject_request(&all_mappings(), &dispatch()).unwrap();
        let body = serde_json::to_value(&request).unwrap();
        assert_eq!(body["External ID"], "a0D1");
        assert_eq!(body["Subject type"], "Dispatch");
        assert_eq!(body["First name"], "DS-000123");
        assert_eq!(body["Registration date"], "2023-05-30");
        assert_eq!(
            body["Address map"],
            json!({"State": "Uttarakhand", "District": "Dehradun"})
        );
        assert_eq!(body["Voided"], true);
        let obs = &body["observations"];
        assert_eq!(obs["Dispatch Status Id"], "a0D1");
        assert_eq!(obs["Dispatch Status"], "Dispatched");
        assert!(
            obs.get("Local Demand").is_none(),
            "LocalDemand is not mapped"
        );
        assert_eq!(obs[MATERIALS_DISPATCHED].as_array().unwrap().len(), 2);
    }

    #[test]
    fn a_blank_address_or_a_bad_date_fails_the_record() {
        let mut blank = dispatch();
        blank.insert("DispatchDistrict".into(), json!("  "));
        assert_eq!(
            subject_request(&all_mappings(), &blank).unwrap_err().0,
            "Invalid address value specified"
        );
        let mut bad_date = dispatch();
        bad_date.insert("DispatchDate".into(), json!("yesterday"));
        assert!(subject_request(&all_mappings(), &bad_date)
            .unwrap_err()
            .0
            .contains("DispatchDate"));
        let mut no_id = dispatch();
        no_id.remove("DispatchStatusId");
        assert!(subject_request(&all_mappings(), &no_id).is_err());
    }

    #[test]
    fn lines_of_the_wrong_json_type_fail_like_a_class_cast() {
        let m = all_mappings();
        for (lines, message) in [
            (
                json!({"DispatchLineItemId": "a0E1"}),
                "ClassCastException: DispatchLineItems is not a list: {\"DispatchLineItemId\":\"a0E1\"}",
            ),
            (
                json!(["a0E1"]),
                "ClassCastException: a DispatchLineItems element is not an object: \"a0E1\"",
            ),
            (json!(null), "DispatchLineItems is missing"),
        ] {
            assert_eq!(
                materials_dispatched(&m, Some(&lines)).unwrap_err().0,
                message
            );
        }
        assert_eq!(
            materials_dispatched(&m, None).unwrap_err().0,
            "DispatchLineItems is missing"
        );
    }

    #[test]
    fn a_deleted_line_is_dropped_once() {
        let materials = json!([
            {"Dispatch Line Item Id": "a0E1", "Quantity": 1},
            {"Dispatch Line Item Id": "a0E2", "Quantity": 2},
        ]);
        assert_eq!(
            without_line(Some(&materials), LINE_ID_CONCEPT, "a0E1"),
            Some(json!([{"Dispatch Line Item Id": "a0E2", "Quantity": 2}]))
        );
        assert_eq!(
            without_line(Some(&materials), LINE_ID_CONCEPT, "a0E9"),
            None
        );
        assert_eq!(without_line(None, LINE_ID_CONCEPT, "a0E1"), None);
        assert_eq!(line_id_concept(&Mappings::default()), LINE_ID_CONCEPT);
        assert_eq!(
            line_id_concept(&mappings(&[(
                LINE_GROUP,
                "DispatchLineItemId",
                "Line Id",
                None
            )])),
            "Line Id"
        );
    }

    #[test]
    fn deletion_lists_keep_non_blank_strings() {
        assert_eq!(
            id_list(&json!(["a", "", 3, " b "])),
            ["a".to_owned(), "b".to_owned()]
        );
        assert!(id_list(&Value::Null).is_empty());
    }
}
