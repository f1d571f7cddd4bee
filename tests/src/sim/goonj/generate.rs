//! Realistic generated records, shaped like the contract fixtures
//! (`goonj-demands-response.synth.json`, `goonj-dispatches-response.synth.json`). Deterministic
//! in the index `i`, so tests can predict them: places cycle through a fixed list, `IsVoided` is
//! the string `"false"` for every third record (Salesforce sends both forms), never true.

use super::{ist, sf_datetime};
use chrono::{DateTime, Utc};
use rand::distr::Alphanumeric;
use rand::Rng;
use serde_json::{json, Value};

/// (State, District, account code) — the places generated records are in.
pub const PLACES: [(&str, &str, &str); 6] = [
    ("Uttarakhand", "Dehradun", "UK-DDN"),
    ("Bihar", "Patna", "BR-PAT"),
    ("Maharashtra", "Palghar", "MH-PAL"),
    ("Assam", "Kamrup", "AS-KAM"),
    ("Odisha", "Puri", "OD-PUR"),
    ("Tamil Nadu", "Chennai", "TN-CHE"),
];

const COMMUNITIES: [&str; 4] = ["Rural;Tribal", "Urban", "Rural", "Tribal"];
const DISASTERS: [&str; 4] = ["Flood", "Cyclone", "Drought", "Earthquake"];

pub(crate) fn random_alnum(n: usize) -> String {
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(n)
        .map(char::from)
        .collect()
}

fn place(i: usize) -> (&'static str, &'static str, &'static str) {
    PLACES[i % PLACES.len()]
}

/// The account of a place: `Goonj <District>`, a stable id.
fn account(i: usize) -> (String, String) {
    let (_, district, _) = place(i);
    (
        format!("Goonj {district}"),
        format!("0015j{:010}EAZ", i % PLACES.len() + 1),
    )
}

fn is_voided(i: usize) -> Value {
    if i % 3 == 1 {
        json!("false")
    } else {
        json!(false)
    }
}

pub(crate) fn demand(id: &str, i: usize, at: DateTime<Utc>) -> Value {
    let (state, district, _) = place(i);
    let (account_name, account_id) = account(i);
    let disaster = DISASTERS[i % DISASTERS.len()];
    json!({
        "DemandId": id,
        "DemandName": format!("{disaster} relief kits - {district} #{}", i + 1),
        "State": state,
        "District": district,
        "TargetCommunity": COMMUNITIES[i % COMMUNITIES.len()],
        "IsVoided": is_voided(i),
        "DemandStatus": if i % 4 == 3 { "Closed" } else { "Open" },
        "DispatchStatus": (["Not Dispatched", "Partially Dispatched", "Dispatched"][i % 3]),
        "TypeOfDisaster": disaster,
        "NumberOfPeople": 20 + (i * 7) % 300,
        "AccountName": account_name,
        "AccountId": account_id,
        "LastUpdatedDateTime": sf_datetime(at),
    })
}

fn line(id: &str, j: usize, at: DateTime<Utc>) -> Value {
    let updated = sf_datetime(at);
    match j % 3 {
        0 => json!({
            "DispatchLineItemId": id,
            "TypeOfMaterial": "Kit",
            "ItemName": "Family Kit",
            "ItemCategory": "Kit",
            "Type": "Kit",
            "Quantity": 10 + j * 5,
            "Unit": "Nos",
            "KitId": format!("a0K5j{:010}EAE", j + 1),
            "KitName": "Family Kit",
            "KitSubType": "Flood",
            "MaterialId": null,
            "MaterialName": null,
            "PurchaseItemCategory": null,
            "OtherKitDetails": null,
            "ContributedItem": false,
            "LastUpdatedDateTime": updated,
        }),
        1 => json!({
            "DispatchLineItemId": id,
            "TypeOfMaterial": "Contributed Item",
            "ItemName": "Blankets",
            "ItemCategory": "Winter",
            "Type": "Material",
            "Quantity": 50 + j * 10,
            "Unit": "Nos",
            "KitId": null,
            "KitName": null,
            "KitSubType": null,
            "MaterialId": "a0M5j0000003BbbEAE",
            "MaterialName": "Blankets",
            "PurchaseItemCategory": null,
            "OtherKitDetails": null,
            "ContributedItem": true,
            "LastUpdatedDateTime": updated,
        }),
        _ => json!({
            "DispatchLineItemId": id,
            "TypeOfMaterial": "Purchased Item",
            "ItemName": "Rice",
            "ItemCategory": "Ration",
            "Type": "Material",
            "Quantity": 25,
            "Unit": "Kg",
            "KitId": null,
            "KitName": null,
            "KitSubType": null,
            "MaterialId": "a0M5j0000003BbcEAE",
            "MaterialName": "Rice",
            "PurchaseItemCategory": "Ration",
            "OtherKitDetails": null,
            "ContributedItem": false,
            "LastUpdatedDateTime": updated,
        }),
    }
}

pub(crate) fn dispatch(
    id: &str,
    demand_id: &str,
    line_ids: &[String],
    i: usize,
    at: DateTime<Utc>,
) -> Value {
    let (state, district, code) = place(i);
    let (account_name, account_id) = account(i);
    let disaster = DISASTERS[i % DISASTERS.len()];
    let dispatch_date = (at.with_timezone(&ist()) - chrono::Duration::days(1))
        .format("%Y-%m-%d")
        .to_string();
    json!({
        "DispatchStatusId": id,
        "DispatchStatusName": format!("DS-{:06}", i + 1),
        "DemandId": demand_id,
        "Demand": format!("{disaster} relief kits - {district} #{}", i + 1),
        "DispatchState": state,
        "DispatchDistrict": district,
        "DispatchDate": dispatch_date,
        "IsVoided": is_voided(i),
        "Status": "Dispatched",
        "DispatchStage": if i.is_multiple_of(2) { "In Transit" } else { "Delivered" },
        "TargetCommunity": COMMUNITIES[i % COMMUNITIES.len()],
        "LocalDemand": if i.is_multiple_of(5) { "Yes" } else { "No" },
        "DisasterType": disaster,
        "AccountId": account_id,
        "AccountName": account_name,
        "AccountCode": format!("{code}-{:02}", i % 7 + 1),
        "LoadingAndTruckImagesLink": null,
        "LastUpdatedDateTime": sf_datetime(at),
        "DispatchLineItems": line_ids
            .iter()
            .enumerate()
            .map(|(j, line_id)| line(line_id, i + j, at))
            .collect::<Vec<_>>(),
    })
}

pub(crate) fn inventory(id: &str, i: usize, at: DateTime<Utc>) -> Value {
    let (state, district, _) = place(i);
    let (account_name, _) = account(i);
    let source = [
        Value::Null,
        json!("Purchased"),
        json!("Contributed"),
        json!("Contributed_Track"),
        json!("Goonj Product"),
    ][i % 5]
        .clone();
    let (item, unit) = [("Family Kit", "Nos"), ("Rice", "Kg"), ("Blankets", "Nos")][i % 3];
    json!({
        "ImplementationInventoryId": id,
        "ImplementationInventoryName": format!("II-{:06}", i + 1),
        "CenterFieldOfficeName": account_name,
        "CenterFieldOfficeState": state,
        "CenterFieldOfficeDistrict": district,
        "CreatedDate": sf_datetime(at - chrono::Duration::days(2)),
        "CreatedBy": "Goonj Field Officer",
        "LastModifiedDate": sf_datetime(at),
        "LastModifiedBy": "Goonj Field Officer",
        "IsVoided": is_voided(i),
        "SourceOfMaterial": source,
        "ItemName": item,
        "Unit": unit,
        "CurrentQuantity": 5 + (i * 3) % 95,
    })
}
