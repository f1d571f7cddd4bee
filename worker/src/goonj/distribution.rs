//! Step `AvniDistribution`: Avni `Distribution` subjects into Salesforce distributions
//! (`DistributionService/upsertDistribution`, contracts/goonj.md §4), keyed by `sourceId` = the
//! subject's `ID`. Every field is sent, null when there is no value. Each line of
//! `Inventory details` names an `Inventory Item` subject, read from Avni for its External ID
//! (the Salesforce inventory id) and unit.

use super::outbound::{self, put, put_or_null, Obs, Outbound, Place, Prepared, Resource};
use super::GoonjRun;
use crate::avni::{AvniClient, AvniCursor, AvniError, Entity, IncrementalReader};
use crate::avni::{Subject, SubjectQuery, SubjectSource};
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::sync::Mutex;

pub const CURSOR_ENTITY: &str = "Distribution";
pub const SUBJECT_TYPE: &str = "Distribution";
/// Error records' `integrating_entity_type`.
pub const ENTITY_TYPE: &str = "Distribution";
pub const RESOURCE: Resource = Resource {
    path: "DistributionService/upsertDistribution",
    wrapper: "Distributions",
};
const INVENTORY_DETAILS: &str = "Inventory details";
const INVENTORY_ID: &str = "Inventory Id";

/// Distributions as an [`Outbound`] entity; inventories read once per run.
#[derive(Default)]
pub struct Distributions {
    inventories: Mutex<HashMap<String, Subject>>,
}

impl Distributions {
    /// The inventory subject (cached for the run); `None` if Avni has none.
    async fn inventory(&self, run: &GoonjRun, id: &str) -> Result<Option<Subject>, AvniError> {
        let cached = self
            .inventories
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned();
        if cached.is_some() {
            return Ok(cached);
        }
        let found = run.avni.get_subject(id).await?;
        if let Some(subject) = &found {
            self.inventories
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(id.to_owned(), subject.clone());
        }
        Ok(found)
    }
}

impl Outbound for Distributions {
    type Record = Subject;
    type Source = SubjectSource;
    const CURSOR: &'static str = CURSOR_ENTITY;
    const ENTITY_TYPE: &'static str = ENTITY_TYPE;
    const RESOURCE: Resource = RESOURCE;

    fn reader(&self, avni: &AvniClient, cursor: AvniCursor) -> IncrementalReader<SubjectSource> {
        avni.subjects_reader(SubjectQuery::of_type(SUBJECT_TYPE), cursor)
    }

    async fn prepare(&self, run: &GoonjRun, subject: &Subject) -> Result<Prepared, AvniError> {
        if let Some(reason) = outbound::subject_skip(subject) {
            return Ok(Prepared::Skip(reason));
        }
        let mut inventories = HashMap::new();
        for id in inventory_ids(subject) {
            match self.inventory(run, &id).await {
                Ok(Some(inventory)) => {
                    inventories.insert(id, inventory);
                }
                // The conversion names the missing inventory.
                Ok(None) => {}
                Err(error) if error.is_transient() => return Err(error),
                Err(error) => return Ok(Prepared::Fail(error.to_string())),
            }
        }
        Ok(
            match distribution(subject, &inventories, &run.config.media_url_prefix) {
                Ok(record) => Prepared::Send(Value::Object(record)),
                Err(message) => Prepared::Fail(message),
            },
        )
    }
}

/// The inventory subjects the lines name (`Inventory details[].Inventory Id`).
pub fn inventory_ids(subject: &Subject) -> Vec<String> {
    let mut ids: Vec<String> = Obs::of(subject)
        .groups(INVENTORY_DETAILS)
        .into_iter()
        .filter_map(|entry| Obs::new(Some(entry)).text(INVENTORY_ID))
        .collect();
    ids.dedup();
    ids
}

/// What a Type of initiative adds to the distribution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InitiativeFields {
    None,
    School,
    Vaapsi,
    SpecificInitiative,
}

/// `typeOfInitiative` and the fields it adds.
pub fn initiative(value: &str) -> (String, InitiativeFields) {
    use InitiativeFields as F;
    match value {
        "CFW" => ("Only CFW".into(), F::None),
        "NJPC" => ("Only NJPC".into(), F::None),
        "Rahat" => ("Only Rahat".into(), F::None),
        "S2S" => ("Only S2S".into(), F::School),
        "CFW-S2S" | "Education and Health" => (value.into(), F::School),
        "Vaapsi" => (value.into(), F::Vaapsi),
        "Specific Initiative" => (value.into(), F::SpecificInitiative),
        other => (other.into(), F::None),
    }
}

/// Fields only some initiatives fill; always sent (null otherwise).
const INITIATIVE_KEYS: &[&str] = &[
    "TypeOfSchool",
    "SchoolAanganwadiLearningCenterName",
    "surveyedBy",
    "monitoredByOrDistributor",
    "approvedOrVerifiedBy",
    "teamOrExternal",
    "nameOfPOC",
    "pocContactNo",
    "reachedTo",
    "anyOtherDocumentSubmitted",
    "name",
    "gender",
    "father_MotherName",
    "age",
    "phoneNumber",
    "presentOccupation",
    "noOfFamilyMember",
    "monthlyIncome",
    "groupName",
    "centreName",
    "IsCenteraSchoolAnganwadiLearning",
    "shareABriefProvidedMaterial",
    "howtheMaterialMakesaDifference",
    "materialGivenFor",
    "OtherDetails",
    "noOfFamiliesReached",
    "noOfIndividualReached",
];

fn int_or_null(obs: Obs<'_>, concept: &str) -> Result<Value, String> {
    Ok(obs.int(concept)?.map_or(Value::Null, Value::from))
}

/// The phone number of a phone-number observation (`{"phoneNumber": …, "verified": …}`).
fn phone(obs: Obs<'_>, concept: &str) -> Option<String> {
    match obs.value(concept)? {
        Value::Object(number) => number.get("phoneNumber").and_then(outbound::text_of),
        other => outbound::text_of(other),
    }
}

/// The Salesforce distribution of a subject; `inventories` holds the inventory subjects its
/// lines name, by `ID`.
pub fn distribution(
    subject: &Subject,
    inventories: &HashMap<String, Subject>,
    media_prefix: &str,
) -> Result<Map<String, Value>, String> {
    let obs = Obs::of(subject);
    let place = Place::of(subject);
    let id = subject.id().unwrap_or_default();
    let (created_by, modified_by) = outbound::audit_users(subject);
    let mut d = Map::new();
    d.insert("sourceId".into(), json!(id));
    put_or_null(&mut d, "state", place.state);
    put_or_null(&mut d, "district", place.district);
    put_or_null(&mut d, "block", place.block);
    put_or_null(&mut d, "localityVillageName", place.village);
    put_or_null(&mut d, "OtherBlock", place.other_block);
    put_or_null(&mut d, "OtherVillage", place.other_village);
    put_or_null(&mut d, "tolaMohalla", obs.text("Tola / Mohalla"));
    put_or_null(&mut d, "nameOfAccount", obs.text("Account  name"));
    put_or_null(&mut d, "dateOfDistribution", obs.date("Distribution Date")?);
    put_or_null(
        &mut d,
        "materialProvidedAsPartOfRahat",
        obs.text("The material provided as part of Rahat?"),
    );
    put_or_null(
        &mut d,
        "typeOfCommunity",
        obs.text("Type Of Community")
            .or_else(|| obs.text("Target Community")),
    );
    put_or_null(&mut d, "disasterType", obs.text("Type of Disaster"));
    put_or_null(
        &mut d,
        "photographInformation",
        obs.media("Distribution Images", media_prefix),
    );
    put_or_null(
        &mut d,
        "UndertakingFormPhotographs",
        obs.media("Undertaking Form Photographs", media_prefix),
    );
    put_or_null(
        &mut d,
        "ReceiverListPhotographs",
        obs.media("Receiver List Photographs", media_prefix),
    );
    d.insert(
        "totalNumberOfReceivers".into(),
        int_or_null(obs, "Total Number of Receivers")?,
    );
    put_or_null(
        &mut d,
        "reportsCrosschecked",
        obs.text("Reports Cross Checked"),
    );
    put_or_null(&mut d, "remarks", obs.text("Remarks"));
    put_or_null(&mut d, "createdBy", created_by);
    put_or_null(&mut d, "modifiedBy", modified_by);
    d.insert("accountCode".into(), Value::Null);
    d.insert(
        "DistributionLines".into(),
        Value::Array(lines(id, obs, inventories)?),
    );
    d.insert("Activities".into(), Value::Array(activities(obs)));
    for key in INITIATIVE_KEYS {
        d.insert((*key).to_owned(), Value::Null);
    }
    let (type_of_initiative, adds) = match obs.text("Type of initiative") {
        Some(value) => {
            let (sf, adds) = initiative(&value);
            (Some(sf), adds)
        }
        None => (None, InitiativeFields::None),
    };
    put_or_null(&mut d, "typeOfInitiative", type_of_initiative);
    match adds {
        InitiativeFields::None => {}
        InitiativeFields::School => {
            put_or_null(
                &mut d,
                "TypeOfSchool",
                obs.text("Type of Educational Institute"),
            );
            put_or_null(
                &mut d,
                "SchoolAanganwadiLearningCenterName",
                obs.text("School / Anganwadi / Learning Center Name"),
            );
        }
        InitiativeFields::Vaapsi => vaapsi(&mut d, obs)?,
        InitiativeFields::SpecificInitiative => specific_initiative(&mut d, obs)?,
    }
    Ok(d)
}

/// One line per `Inventory details` entry (required).
fn lines(
    id: &str,
    obs: Obs<'_>,
    inventories: &HashMap<String, Subject>,
) -> Result<Vec<Value>, String> {
    let entries = obs.groups(INVENTORY_DETAILS);
    if entries.is_empty() {
        return Err(outbound::missing(INVENTORY_DETAILS));
    }
    entries
        .into_iter()
        .map(|entry| {
            let e = Obs::new(Some(entry));
            let inventory_id = e
                .text(INVENTORY_ID)
                .ok_or_else(|| outbound::missing(&format!("{INVENTORY_DETAILS}.{INVENTORY_ID}")))?;
            let inventory = inventories.get(&inventory_id).ok_or_else(|| {
                format!("Inventory {inventory_id} of a distribution line is not in Avni")
            })?;
            let external_id = inventory
                .external_id()
                .filter(|e| !e.is_empty())
                .ok_or_else(|| {
                    format!("Inventory {inventory_id} of a distribution line has no External ID")
                })?;
            // Lines leave nulls out, as the original's line DTO did.
            let mut line = Map::new();
            put(&mut line, "sourceId", Some(format!("{id}#{external_id}")));
            put(&mut line, "distributedTo", e.text("Distributed to"));
            put(
                &mut line,
                "implementationInventoryId",
                Some(external_id.to_owned()),
            );
            put(
                &mut line,
                "avniImplementationInventory",
                inventory.id().map(str::to_owned),
            );
            line.insert("quantity".into(), json!(e.required_int("Quantity")?));
            put(&mut line, "unit", Obs::of(inventory).text("Unit"));
            Ok(Value::Object(line))
        })
        .collect()
}

/// Linked activities, only when `Is the activity available for linking?` says so.
fn activities(obs: Obs<'_>) -> Vec<Value> {
    let linkable = obs
        .text("Is the activity available for linking?")
        .is_some_and(|v| !v.trim().is_empty() && !v.trim().eq_ignore_ascii_case("No"));
    if !linkable {
        return Vec::new();
    }
    obs.groups("Activity details")
        .into_iter()
        .filter_map(|entry| Obs::new(Some(entry)).text("Activities Done"))
        .map(|activity| json!({ "ActivitySourceId": activity }))
        .collect()
}

fn vaapsi(d: &mut Map<String, Value>, obs: Obs<'_>) -> Result<(), String> {
    put_or_null(d, "surveyedBy", obs.text("Surveyed by"));
    put_or_null(
        d,
        "monitoredByOrDistributor",
        obs.text("Monitored by / Distributor"),
    );
    put_or_null(
        d,
        "approvedOrVerifiedBy",
        obs.text("Approved / Verified by"),
    );
    put_or_null(d, "teamOrExternal", obs.text("Team or external"));
    put_or_null(d, "nameOfPOC", obs.text("Name of POC"));
    put_or_null(d, "pocContactNo", phone(obs, "POC Contact No"));
    let reached_to = obs.text("Reached to");
    put_or_null(d, "reachedTo", reached_to.clone());
    put_or_null(
        d,
        "anyOtherDocumentSubmitted",
        obs.text("Any Other Document Submitted"),
    );
    match reached_to.as_deref() {
        Some("Individual") => {
            put_or_null(d, "name", obs.text("Name"));
            put_or_null(d, "gender", obs.text("Gender"));
            put_or_null(d, "father_MotherName", obs.text("Father/ Mother Name"));
            d.insert("age".into(), int_or_null(obs, "Age")?);
            put_or_null(d, "phoneNumber", phone(obs, "POC Contact No"));
            put_or_null(d, "presentOccupation", obs.text("Present Occupation"));
            d.insert(
                "noOfFamilyMember".into(),
                int_or_null(obs, "Number of family members")?,
            );
            d.insert("monthlyIncome".into(), int_or_null(obs, "Monthly Income")?);
        }
        Some("Group") => put_or_null(d, "groupName", obs.text("Group\u{2019}s Name")),
        _ => {}
    }
    Ok(())
}

fn specific_initiative(d: &mut Map<String, Value>, obs: Obs<'_>) -> Result<(), String> {
    put_or_null(d, "centreName", obs.text("Centre\u{2019}s Name"));
    put_or_null(
        d,
        "IsCenteraSchoolAnganwadiLearning",
        obs.text("Is Centre a School/Anganwadi/Learning Centre?"),
    );
    put_or_null(
        d,
        "shareABriefProvidedMaterial",
        obs.text("Share a Brief Provided Material"),
    );
    put_or_null(
        d,
        "howtheMaterialMakesaDifference",
        obs.text("How the Material Makes a Difference"),
    );
    put_or_null(d, "materialGivenFor", obs.text("Material Given for"));
    put_or_null(d, "OtherDetails", obs.text("Details for Any other (SI)"));
    d.insert(
        "noOfFamiliesReached".into(),
        int_or_null(obs, "Total Number of Families Reached")?,
    );
    d.insert(
        "noOfIndividualReached".into(),
        int_or_null(obs, "Total Number of Individuals Reached")?,
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PREFIX: &str = "https://media/?url=";

    fn subject(observations: Value) -> Subject {
        Subject(json!({
            "ID": "dist-1", "Voided": false, "Registration date": "2023-06-01",
            "location": {"State": "Bihar", "District": "Patna"},
            "observations": observations,
            "audit": {"Created by": "asha@goonj", "Last modified by": "ravi@goonj"}
        }))
    }

    fn inventories() -> HashMap<String, Subject> {
        HashMap::from([(
            "inv-uuid".to_owned(),
            Subject(json!({"ID": "inv-uuid", "External ID": "a0I5j000001",
                           "observations": {"Unit": "Kg"}})),
        )])
    }

    fn line(quantity: i64) -> Value {
        json!([{"Inventory Id": "inv-uuid", "Distributed to": "Families", "Quantity": quantity}])
    }

    #[test]
    fn initiatives_map_to_salesforce_values_and_their_fields() {
        use InitiativeFields as F;
        assert_eq!(initiative("CFW"), ("Only CFW".into(), F::None));
        assert_eq!(initiative("NJPC"), ("Only NJPC".into(), F::None));
        assert_eq!(initiative("Rahat"), ("Only Rahat".into(), F::None));
        assert_eq!(initiative("S2S"), ("Only S2S".into(), F::School));
        assert_eq!(initiative("CFW-S2S"), ("CFW-S2S".into(), F::School));
        assert_eq!(
            initiative("Education and Health"),
            ("Education and Health".into(), F::School)
        );
        assert_eq!(initiative("Vaapsi"), ("Vaapsi".into(), F::Vaapsi));
        assert_eq!(
            initiative("Specific Initiative"),
            ("Specific Initiative".into(), F::SpecificInitiative)
        );
        assert_eq!(initiative("Other"), ("Other".into(), F::None));
    }

    #[test]
    fn an_s2s_distribution_sends_every_field_with_nulls_lines_and_school() {
        let s = subject(json!({
            "Type of initiative": "S2S", "Distribution Date": "2023-05-31T18:30:00.000Z",
            "Inventory details": line(4), "Type Of Community": ["Rural", "Tribal"],
            "Target Community": "ignored", "Distribution Images": ["https://s3/d.jpg"],
            "Type of Educational Institute": "Government school", "Surveyed by": "not vaapsi",
            "Is the activity available for linking?": "Yes",
            "Activity details": [{"Activities Done": "act-1"}, {"Number of persons": 2}],
            "Total Number of Receivers": 30
        }));
        let d = distribution(&s, &inventories(), PREFIX).unwrap();
        assert_eq!(d["sourceId"], "dist-1");
        assert_eq!(d["typeOfInitiative"], "Only S2S");
        assert_eq!(d["TypeOfSchool"], "Government school");
        assert_eq!(d["dateOfDistribution"], "2023-06-01");
        assert_eq!(d["typeOfCommunity"], "Rural;Tribal");
        assert_eq!(
            d["photographInformation"],
            "https://media/?url=https://s3/d.jpg"
        );
        assert_eq!(d["totalNumberOfReceivers"], 30);
        assert_eq!(d["createdBy"], "asha@goonj");
        for null in [
            "accountCode",
            "block",
            "surveyedBy",
            "remarks",
            "centreName",
        ] {
            assert_eq!(d.get(null), Some(&Value::Null), "{null}");
        }
        assert_eq!(
            d["DistributionLines"],
            json!([{"sourceId": "dist-1#a0I5j000001", "distributedTo": "Families",
                    "implementationInventoryId": "a0I5j000001",
                    "avniImplementationInventory": "inv-uuid", "quantity": 4, "unit": "Kg"}])
        );
        assert_eq!(d["Activities"], json!([{"ActivitySourceId": "act-1"}]));
    }

    #[test]
    fn activities_need_the_linking_answer() {
        for answer in [json!("No"), json!(""), Value::Null] {
            let d = distribution(
                &subject(json!({"Inventory details": line(1),
                                "Is the activity available for linking?": answer,
                                "Activity details": [{"Activities Done": "act-1"}]})),
                &inventories(),
                PREFIX,
            )
            .unwrap();
            assert_eq!(d["Activities"], json!([]));
        }
    }

    #[test]
    fn vaapsi_individuals_and_groups() {
        let base = json!({
            "Type of initiative": "Vaapsi", "Inventory details": line(1),
            "Surveyed by": "Team A", "Reached to": "Individual", "Name": "Sita", "Age": 34,
            "POC Contact No": {"phoneNumber": "9876543210", "verified": false},
            "Group\u{2019}s Name": "Mahila Mandal"
        });
        let d = distribution(&subject(base.clone()), &inventories(), PREFIX).unwrap();
        assert_eq!(d["typeOfInitiative"], "Vaapsi");
        assert_eq!(d["surveyedBy"], "Team A");
        assert_eq!(d["name"], "Sita");
        assert_eq!(d["age"], 34);
        assert_eq!(d["pocContactNo"], "9876543210");
        assert_eq!(d["phoneNumber"], "9876543210");
        assert_eq!(d["groupName"], Value::Null);
        assert_eq!(d["TypeOfSchool"], Value::Null);
        let mut group = base;
        group["Reached to"] = json!("Group");
        let d = distribution(&subject(group), &inventories(), PREFIX).unwrap();
        assert_eq!(d["groupName"], "Mahila Mandal");
        assert_eq!(d["name"], Value::Null);
    }

    #[test]
    fn specific_initiative_fields() {
        let d = distribution(
            &subject(json!({
                "Type of initiative": "Specific Initiative", "Inventory details": line(1),
                "Centre\u{2019}s Name": "Sewa Kendra", "Details for Any other (SI)": "x",
                "Total Number of Families Reached": 12
            })),
            &inventories(),
            PREFIX,
        )
        .unwrap();
        assert_eq!(d["centreName"], "Sewa Kendra");
        assert_eq!(d["OtherDetails"], "x");
        assert_eq!(d["noOfFamiliesReached"], 12);
        assert_eq!(d["noOfIndividualReached"], Value::Null);
    }

    #[test]
    fn lines_are_required_and_need_a_known_inventory() {
        let err = distribution(&subject(json!({})), &inventories(), PREFIX).unwrap_err();
        assert_eq!(err, "Required observation \"Inventory details\" is missing");
        let unknown =
            subject(json!({"Inventory details": [{"Inventory Id": "gone", "Quantity": 1}]}));
        let err = distribution(&unknown, &inventories(), PREFIX).unwrap_err();
        assert!(err.contains("gone"), "{err}");
        assert_eq!(inventory_ids(&unknown), ["gone"]);
    }
}
