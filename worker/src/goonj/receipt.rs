//! Step `AvniDispatchReceipt`: Avni `Dispatch receipt` encounters into Salesforce dispatch
//! received statuses (`DispatchReceivedService/upsertDispatchReceivedStatus`,
//! contracts/goonj.md §4), keyed by `SourceId` = the encounter's `ID`, with one line per
//! `Received Material` entry. With `recreate_dispatch_receipt_enabled` the receipts are deleted
//! in Salesforce first (errors ignored). Failure messages name the encounter's subject.

use super::outbound::{self, put, Obs, Outbound, Prepared, Resource};
use super::GoonjRun;
use crate::avni::{AvniClient, AvniCursor, AvniError, Entity, IncrementalReader};
use crate::avni::{Encounter, EncounterQuery, EncounterSource};
use avni_int_shared::store::mappings::Mappings;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

pub const CURSOR_ENTITY: &str = "Dispatch receipt";
pub const ENCOUNTER_TYPE: &str = "Dispatch receipt";
/// Error records' `integrating_entity_type`.
pub const ENTITY_TYPE: &str = "DispatchReceipt";
/// Mapping group of `TypeOfMaterial` (`Observations`): Avni answer → Salesforce value.
pub const MAPPING_GROUP: &str = "Dispatch receipt";
pub const RESOURCE: Resource = Resource {
    path: "DispatchReceivedService/upsertDispatchReceivedStatus",
    wrapper: "DispatchReceivedStatus",
};
pub const TYPE_OF_MATERIAL_MISSING: &str =
    "Type of Material not specified or Mapping not found for Dispatch Receipt";
const RECEIVED_MATERIAL: &str = "Received Material";

/// Dispatch receipts as an [`Outbound`] entity.
pub struct Receipts;

impl Outbound for Receipts {
    type Record = Encounter;
    type Source = EncounterSource;
    const CURSOR: &'static str = CURSOR_ENTITY;
    const ENTITY_TYPE: &'static str = ENTITY_TYPE;
    const RESOURCE: Resource = RESOURCE;

    fn reader(&self, avni: &AvniClient, cursor: AvniCursor) -> IncrementalReader<EncounterSource> {
        avni.encounters_reader(EncounterQuery::of_type(ENCOUNTER_TYPE), cursor)
    }

    async fn prepare(&self, run: &GoonjRun, encounter: &Encounter) -> Result<Prepared, AvniError> {
        if encounter.voided() {
            return Ok(Prepared::Skip("voided"));
        }
        if encounter
            .str_field("Encounter date time")
            .is_none_or(|t| t.trim().is_empty())
        {
            return Ok(Prepared::Skip("no encounter date time"));
        }
        if let Some(subject_id) = encounter.subject_id() {
            // Only `Voided` is read of the subject: the rest would be parsed for nothing.
            match run.avni.subject_voided(subject_id).await {
                Ok(Some(true)) => return Ok(Prepared::Skip("its subject is voided")),
                Ok(Some(false)) => {}
                Ok(None) => return Ok(Prepared::Skip("its subject is not in Avni")),
                Err(error) if error.is_transient() => return Err(error),
                Err(error) => return Ok(Prepared::Fail(error.to_string())),
            }
        }
        Ok(match receipt(encounter, &run.mappings) {
            Ok(record) => Prepared::Send(Value::Object(record)),
            Err(message) => Prepared::Fail(message),
        })
    }

    fn message_prefix(&self, encounter: &Encounter) -> String {
        message_prefix(encounter)
    }

    async fn before_upsert(&self, run: &GoonjRun, records: &[Value]) {
        if !run.config.recreate_dispatch_receipt {
            return;
        }
        let ids: Vec<String> = records
            .iter()
            .filter_map(|r| r.get("SourceId").and_then(Value::as_str))
            .map(str::to_owned)
            .collect();
        if let Err(error) = run.salesforce.delete_receipts(&ids).await {
            tracing::info!(receipts = ids.len(), %error,
                "deleting dispatch receipts before recreating them failed; ignored");
        }
    }
}

/// `Subject IDs: <Subject external ID>, <Subject ID>. Message: ` (`null` for a missing one, as
/// the original printed it).
pub fn message_prefix(encounter: &Encounter) -> String {
    format!(
        "Subject IDs: {}, {}. Message: ",
        encounter.subject_external_id().unwrap_or("null"),
        encounter.subject_id().unwrap_or("null")
    )
}

/// The Salesforce dispatch received status of an encounter.
pub fn receipt(encounter: &Encounter, mappings: &Mappings) -> Result<Map<String, Value>, String> {
    let obs = Obs::of(encounter);
    let (created_by, modified_by) = outbound::audit_users(encounter);
    let entries = obs.groups(RECEIVED_MATERIAL);
    if entries.is_empty() {
        return Err(outbound::missing(RECEIVED_MATERIAL));
    }
    let lines = entries
        .into_iter()
        .map(|entry| line(Obs::new(Some(entry)), mappings))
        .collect::<Result<Vec<Value>, String>>()?;
    one_line_per_dispatch_line(&lines)?;
    let mut r = Map::new();
    put(&mut r, "SourceId", encounter.id().map(str::to_owned));
    put(&mut r, "DispatchStatusId", obs.text("Dispatch Status Id"));
    put(&mut r, "ReceivedDate", obs.date("Dispatch Received Date")?);
    put(&mut r, "Remarks", obs.text("Remarks"));
    put(&mut r, "CreatedBy", created_by);
    put(&mut r, "ModifiedBy", modified_by);
    r.insert(
        "DispatchReceivedStatusLineItems".into(),
        Value::Array(lines),
    );
    Ok(r)
}

/// Salesforce upserts receipt lines by their `SourceId` (the dispatch line), so of two
/// different lines for one dispatch line it would keep one and lose the other without a word.
/// Identical copies are left to Salesforce, which refuses "two identically equal elements".
fn one_line_per_dispatch_line(lines: &[Value]) -> Result<(), String> {
    let mut by_id: BTreeMap<&str, Vec<&Value>> = BTreeMap::new();
    for line in lines {
        if let Some(id) = line.get("SourceId").and_then(Value::as_str) {
            let versions = by_id.entry(id).or_default();
            if !versions.contains(&line) {
                versions.push(line);
            }
        }
    }
    match by_id.into_iter().find(|(_, versions)| versions.len() > 1) {
        Some((id, versions)) => Err(format!(
            "{RECEIVED_MATERIAL} has too many rows for Dispatch Line Item Id {id}: {} different lines where one is expected",
            versions.len()
        )),
        None => Ok(()),
    }
}

/// One `Received Material` entry.
fn line(e: Obs<'_>, mappings: &Mappings) -> Result<Value, String> {
    let avni_type = e.text("Type Of Material");
    let sf_type = avni_type
        .as_deref()
        .and_then(|t| mappings.by_avni_value(MAPPING_GROUP, t))
        .map(|m| m.int_system_value.clone())
        .ok_or_else(|| TYPE_OF_MATERIAL_MISSING.to_owned())?;
    let item_name = match avni_type.as_deref() {
        Some("Contributed item") => e.text("Contributed Item"),
        Some("Kit") => e.text("Kit Name"),
        _ => e.text("Material Name"),
    };
    let dispatched = e.double_or_zero("Quantity as per dispatch")?;
    let received = if e.text("Quantity matching").as_deref() == Some("Yes") {
        dispatched
    } else {
        e.double_or_zero("Quantity")?
    };
    let line_id = e.text("Dispatch Line Item Id");
    let mut l = Map::new();
    put(&mut l, "SourceId", line_id.clone());
    put(&mut l, "TypeOfMaterial", Some(sf_type));
    put(&mut l, "ItemName", item_name);
    put(&mut l, "DispatchStatusLineItem", line_id);
    l.insert("DispatchedQuantity".into(), json!(dispatched));
    l.insert("ReceivedQuantity".into(), json!(received));
    Ok(Value::Object(l))
}

#[cfg(test)]
mod tests {
    use super::*;
    use avni_int_shared::store::mappings::Mapping;

    fn mappings() -> Mappings {
        let mut m = Mappings::default();
        for (sf, avni) in [("Kit", "Kit"), ("Contributed", "Contributed item")] {
            m.insert(
                MAPPING_GROUP,
                Mapping {
                    int_system_value: sf.into(),
                    avni_value: avni.into(),
                    hint: None,
                },
            );
        }
        m
    }

    fn encounter(material: Value) -> Encounter {
        Encounter(json!({
            "ID": "rcpt-1", "Subject ID": "disp-uuid", "Subject external ID": "a0D5j001",
            "Voided": false, "Encounter date time": "2023-06-03T10:00:00.000Z",
            "observations": {
                "Dispatch Status Id": "a0D5j001",
                "Dispatch Received Date": "2023-06-03T18:30:00.000Z",
                "Received Material": material
            },
            "audit": {"Created by": "asha@goonj", "Last modified by": "ravi@goonj"}
        }))
    }

    #[test]
    fn a_receipt_with_its_lines() {
        let r = receipt(
            &encounter(json!([
                {"Dispatch Line Item Id": "L1", "Type Of Material": "Kit", "Kit Name": "Family kit",
                 "Material Name": "no", "Quantity as per dispatch": 10, "Quantity matching": "Yes",
                 "Quantity": 3},
                {"Dispatch Line Item Id": "L2", "Type Of Material": "Contributed item",
                 "Contributed Item": "Blanket", "Quantity as per dispatch": 5,
                 "Quantity matching": "No", "Quantity": 4}
            ])),
            &mappings(),
        )
        .unwrap();
        assert_eq!(
            Value::Object(r),
            json!({
                "SourceId": "rcpt-1", "DispatchStatusId": "a0D5j001", "ReceivedDate": "2023-06-04",
                "CreatedBy": "asha@goonj", "ModifiedBy": "ravi@goonj",
                "DispatchReceivedStatusLineItems": [
                    {"SourceId": "L1", "DispatchStatusLineItem": "L1", "TypeOfMaterial": "Kit",
                     "ItemName": "Family kit", "DispatchedQuantity": 10.0, "ReceivedQuantity": 10.0},
                    {"SourceId": "L2", "DispatchStatusLineItem": "L2",
                     "TypeOfMaterial": "Contributed", "ItemName": "Blanket",
                     "DispatchedQuantity": 5.0, "ReceivedQuantity": 4.0}
                ]
            })
        );
    }

    #[test]
    fn a_missing_type_of_material_mapping_fails_with_the_original_message() {
        for material in [
            json!([{"Dispatch Line Item Id": "L1", "Type Of Material": "Purchased item"}]),
            json!([{"Dispatch Line Item Id": "L1"}]),
        ] {
            assert_eq!(
                receipt(&encounter(material), &mappings()).unwrap_err(),
                TYPE_OF_MATERIAL_MISSING
            );
        }
        assert_eq!(
            receipt(&encounter(Value::Null), &mappings()).unwrap_err(),
            "Required observation \"Received Material\" is missing"
        );
    }

    #[test]
    fn different_lines_for_one_dispatch_line_are_too_many_rows_but_copies_go_to_salesforce() {
        let line = |quantity: i64| {
            json!({"Dispatch Line Item Id": "L1", "Type Of Material": "Kit",
                   "Quantity as per dispatch": 10, "Quantity": quantity})
        };
        assert_eq!(
            receipt(&encounter(json!([line(3), line(4), line(3)])), &mappings()).unwrap_err(),
            "Received Material has too many rows for Dispatch Line Item Id L1: 2 different lines where one is expected"
        );
        let copies = receipt(&encounter(json!([line(3), line(3)])), &mappings()).unwrap();
        assert_eq!(
            copies["DispatchReceivedStatusLineItems"]
                .as_array()
                .map(Vec::len),
            Some(2)
        );
    }

    #[test]
    fn messages_name_the_subject() {
        let e = encounter(json!([]));
        assert_eq!(
            message_prefix(&e),
            "Subject IDs: a0D5j001, disp-uuid. Message: "
        );
        let bare = Encounter(json!({"ID": "x"}));
        assert_eq!(message_prefix(&bare), "Subject IDs: null, null. Message: ");
    }

    #[test]
    fn material_name_is_the_default_item_name() {
        let r = receipt(
            &encounter(
                json!([{"Dispatch Line Item Id": "L1", "Type Of Material": "Kit",
                               "Material Name": "Rice"}]),
            ),
            &mappings(),
        )
        .unwrap();
        // A kit without a Kit Name has no item name.
        assert!(r["DispatchReceivedStatusLineItems"][0]
            .get("ItemName")
            .is_none());
        let mut m = mappings();
        m.insert(
            MAPPING_GROUP,
            Mapping {
                int_system_value: "Purchase".into(),
                avni_value: "Purchased item".into(),
                hint: None,
            },
        );
        let r = receipt(
            &encounter(json!([{"Dispatch Line Item Id": "L1",
                               "Type Of Material": "Purchased item", "Material Name": "Rice"}])),
            &m,
        )
        .unwrap();
        assert_eq!(r["DispatchReceivedStatusLineItems"][0]["ItemName"], "Rice");
        assert_eq!(
            r["DispatchReceivedStatusLineItems"][0]["DispatchedQuantity"],
            0.0
        );
    }
}
