//! Step `GoonjInventory`: Salesforce implementation inventories into Avni `Inventory Item`
//! subjects (contracts/goonj.md §3). Deleted inventories are voided, then inventories are
//! upserted by `External ID` = `ImplementationInventoryId`, the cursor following each record's
//! `LastModifiedDate` (when it has one). The feed loop is the one in `dispatch`.

use super::inbound::{
    id_list, mapping_failure, upsert, void_subjects, DeletionErrors, InboundFeed,
};
use super::mapping::{self, MappingError};
use super::outcome::RecordResult;
use super::{time, GoonjRun};
use crate::avni::SubjectRequest;
use crate::context::JobContext;
use crate::module::{StepError, StepOutcome};
use avni_int_shared::store::mappings::Mappings;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashSet};

pub const ENTITY: &str = "Inventory";
const SUBJECT_TYPE: &str = "Inventory Item";
const GROUP: &str = "Inventory Item";
pub const IMPLEMENTATION_INVENTORY_ID: &str = "Implementation Inventory Id";
pub const TYPE_OF_MATERIAL: &str = "Type Of Material";
/// The Avni concept whose 0 voids the item.
pub const CURRENT_QUANTITY: &str = "Current Quantity";
/// Fields the mapping never looks up, by exact name.
const CORE: &[&str] = &[
    "ImplementationInventoryName",
    "ImplementationInventoryId",
    "CreatedDate",
    "CreatedBy",
    "IsVoided",
    "SourceOfMaterial",
];
/// Fields the mapping never looks up, by prefix (`CenterFieldOffice*`, `LastModified*`).
const CORE_PREFIXES: &[&str] = &["CenterFieldOffice", "LastModified"];

/// The implementation inventory feed.
pub struct InventoryFeed;

impl InboundFeed for InventoryFeed {
    const PATH: &'static str = "ImplementationInventoryService/getImplementationInventories";
    const TIMESTAMP_PARAM: &'static str = "dateTimeStamp";
    const RECORDS: &'static str = "ImplementationInventory";
    const ID_FIELD: &'static str = "ImplementationInventoryId";
    const TIMESTAMP_FIELD: &'static str = "LastModifiedDate";
    const ENTITY: &'static str = ENTITY;

    async fn apply_deletions(
        &self,
        _ctx: &JobContext,
        run: &GoonjRun,
        answer: &Value,
        done: &mut HashSet<String>,
    ) -> Result<StepOutcome, StepError> {
        let ids = id_list(&answer["deletedImplementationInventory"]);
        let voided = void_subjects(run, ids, "inventory", DeletionErrors::Abort, done).await?;
        Ok(StepOutcome {
            synced: voided,
            ..StepOutcome::default()
        })
    }

    async fn sync_record(&self, run: &GoonjRun, record: &Map<String, Value>) -> RecordResult {
        sync_record(run, record).await
    }
}

/// Writes one inventory to Avni.
pub async fn sync_record(run: &GoonjRun, record: &Map<String, Value>) -> RecordResult {
    match subject_request(&run.mappings, record) {
        Ok(request) => upsert(run, &request, record).await,
        Err(error) => mapping_failure(error, record),
    }
}

/// `Type Of Material` from `SourceOfMaterial`: blank is a `Kit`, Salesforce's names become
/// Avni's answers, anything else is sent as it is.
pub fn type_of_material(source: Option<&str>) -> &str {
    match source.map(str::trim).unwrap_or_default() {
        "" => "Kit",
        "Purchased" => "Purchased item",
        "Contributed" => "Contributed item",
        "Contributed_Track" => "Contributed track",
        "Goonj Product" => "Goonj product",
        other => other,
    }
}

/// A quantity of zero, given as a number or a numeric string.
pub fn is_zero(value: Option<&Value>) -> bool {
    match value {
        Some(Value::Number(n)) => n.as_f64() == Some(0.0),
        Some(Value::String(s)) => s.trim().parse::<f64>().ok() == Some(0.0),
        _ => false,
    }
}

/// The Avni subject for an implementation inventory.
pub fn subject_request(
    mappings: &Mappings,
    inventory: &Map<String, Value>,
) -> Result<SubjectRequest, MappingError> {
    let Some(id) = mapping::text(inventory, "ImplementationInventoryId") else {
        return Err(MappingError("ImplementationInventoryId is missing".into()));
    };
    let state = mapping::text(inventory, "CenterFieldOfficeState");
    let district = mapping::text(inventory, "CenterFieldOfficeDistrict");
    let (Some(state), Some(district)) = (state, district) else {
        return Err(MappingError("Invalid address value specified".into()));
    };
    let registration_date =
        match mapping::text(inventory, "CreatedDate") {
            None => None,
            Some(date) => Some(time::parse_sf_date(date).ok_or_else(|| {
                MappingError(format!("Invalid CreatedDate value specified: {date}"))
            })?),
        };
    let mappable: Map<String, Value> = inventory
        .iter()
        .filter(|(field, _)| !CORE_PREFIXES.iter().any(|p| field.starts_with(p)))
        .map(|(field, value)| (field.clone(), value.clone()))
        .collect();
    let mut observations = mapping::observations(mappings, GROUP, &mappable, CORE)?;
    observations.insert(IMPLEMENTATION_INVENTORY_ID.into(), Value::from(id));
    observations.insert(
        TYPE_OF_MATERIAL.into(),
        Value::from(type_of_material(mapping::text(
            inventory,
            "SourceOfMaterial",
        ))),
    );
    // `Current Quantity` is the mapped observation; Salesforce calls it `CurrentQuantity`.
    let quantity = observations
        .get(CURRENT_QUANTITY)
        .or_else(|| inventory.get("CurrentQuantity"));
    let voided = mapping::is_voided(inventory.get("IsVoided")) || is_zero(quantity);
    Ok(SubjectRequest {
        external_id: Some(id.to_owned()),
        subject_type: SUBJECT_TYPE.into(),
        registration_date,
        address_map: Some(BTreeMap::from([
            ("State".to_owned(), state.to_owned()),
            ("District".to_owned(), district.to_owned()),
        ])),
        first_name: mapping::text(inventory, "ImplementationInventoryName").map(str::to_owned),
        observations,
        voided,
        ..SubjectRequest::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use avni_int_shared::store::mappings::Mapping;
    use serde_json::json;

    fn inventory() -> Map<String, Value> {
        json!({
            "ImplementationInventoryId": "a0I1", "ImplementationInventoryName": "II-000001",
            "CenterFieldOfficeName": "Goonj Dehradun",
            "CenterFieldOfficeState": "Uttarakhand", "CenterFieldOfficeDistrict": "Dehradun",
            "CreatedDate": "2023-05-31T20:00:00.000Z", "CreatedBy": "Officer",
            "LastModifiedDate": "2023-06-02T04:20:11.000Z", "LastModifiedBy": "Officer",
            "IsVoided": false, "SourceOfMaterial": "Purchased",
            "ItemName": "Rice", "Unit": "Kg", "CurrentQuantity": 12
        })
        .as_object()
        .cloned()
        .unwrap()
    }

    fn mappings() -> Mappings {
        let mut mappings = Mappings::default();
        for (partner, avni) in [
            ("ItemName", "Item Name"),
            ("Unit", "Unit"),
            ("CurrentQuantity", CURRENT_QUANTITY),
            ("CenterFieldOfficeName", "Center"),
            ("LastModifiedBy", "Modified By"),
            ("CreatedBy", "Created By"),
        ] {
            mappings.insert(
                GROUP,
                Mapping {
                    int_system_value: partner.into(),
                    avni_value: avni.into(),
                    hint: None,
                },
            );
        }
        mappings
    }

    #[test]
    fn source_of_material_converts_per_the_table() {
        for (source, expected) in [
            (None, "Kit"),
            (Some("  "), "Kit"),
            (Some("Purchased"), "Purchased item"),
            (Some("Contributed"), "Contributed item"),
            (Some("Contributed_Track"), "Contributed track"),
            (Some("Goonj Product"), "Goonj product"),
            (Some("Something else"), "Something else"),
        ] {
            assert_eq!(type_of_material(source), expected, "{source:?}");
        }
    }

    #[test]
    fn the_subject_follows_the_contract() {
        let request = subject_request(&mappings(), &inventory()).unwrap();
        let body = serde_json::to_value(&request).unwrap();
        assert_eq!(body["External ID"], "a0I1");
        assert_eq!(body["Subject type"], "Inventory Item");
        assert_eq!(body["First name"], "II-000001");
        // 20:00 UTC on 31 May is 1 June in India.
        assert_eq!(body["Registration date"], "2023-06-01");
        assert_eq!(
            body["Address map"],
            json!({"State": "Uttarakhand", "District": "Dehradun"})
        );
        assert_eq!(body["Voided"], false);
        assert_eq!(
            body["observations"],
            json!({
                "Implementation Inventory Id": "a0I1", "Type Of Material": "Purchased item",
                "Item Name": "Rice", "Unit": "Kg", "Current Quantity": 12
            }),
            "CenterFieldOffice*, LastModified* and CreatedBy are never mapped"
        );
    }

    #[test]
    fn voided_when_salesforce_says_so_or_nothing_is_left() {
        let mut empty = inventory();
        empty.insert("CurrentQuantity".into(), json!(0));
        assert!(subject_request(&mappings(), &empty).unwrap().voided);
        assert!(
            subject_request(&Mappings::default(), &empty)
                .unwrap()
                .voided,
            "the raw field counts without a mapping"
        );
        let mut voided = inventory();
        voided.insert("IsVoided".into(), json!("true"));
        assert!(subject_request(&mappings(), &voided).unwrap().voided);
        assert!(is_zero(Some(&json!("0.0"))));
        assert!(!is_zero(Some(&json!("5"))));
        assert!(!is_zero(Some(&Value::Null)));
        assert!(!is_zero(None));
    }

    #[test]
    fn a_blank_address_fails_the_record() {
        let mut blank = inventory();
        blank.remove("CenterFieldOfficeState");
        assert_eq!(
            subject_request(&mappings(), &blank).unwrap_err().0,
            "Invalid address value specified"
        );
    }
}
