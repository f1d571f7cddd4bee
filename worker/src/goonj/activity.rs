//! Step `AvniActivity`: Avni `Activity` subjects into Salesforce activities
//! (`ActivityService/upsertActivity`, contracts/goonj.md §4), keyed by `SourceId` = the subject's
//! `ID`. Nulls and empty strings are left out; the numbers of the activity's initiative (CFW,
//! S2S, NJPC) are always sent.

use super::outbound::{self, put, Obs, Outbound, Place, Prepared, Resource};
use super::GoonjRun;
use crate::avni::{AvniClient, AvniCursor, AvniError, Entity, IncrementalReader};
use crate::avni::{Subject, SubjectQuery, SubjectSource};
use avni_int_shared::store::mappings::Mappings;
use serde_json::{Map, Value};

pub const CURSOR_ENTITY: &str = "Activity";
pub const SUBJECT_TYPE: &str = "Activity";
/// Error records' `integrating_entity_type`.
pub const ENTITY_TYPE: &str = "Activity";
/// Mapping group of `ActivityType` (`Observations`): Avni answer → Salesforce picklist value.
pub const MAPPING_GROUP: &str = "Activity";
pub const RESOURCE: Resource = Resource {
    path: "ActivityService/upsertActivity",
    wrapper: "Activities",
};

/// Activities as an [`Outbound`] entity.
pub struct Activities;

impl Outbound for Activities {
    type Record = Subject;
    type Source = SubjectSource;
    const CURSOR: &'static str = CURSOR_ENTITY;
    const ENTITY_TYPE: &'static str = ENTITY_TYPE;
    const RESOURCE: Resource = RESOURCE;

    fn reader(&self, avni: &AvniClient, cursor: AvniCursor) -> IncrementalReader<SubjectSource> {
        avni.subjects_reader(SubjectQuery::of_type(SUBJECT_TYPE), cursor)
    }

    async fn prepare(&self, run: &GoonjRun, record: &Subject) -> Result<Prepared, AvniError> {
        Ok(prepare(run, record))
    }
}

/// Skips, fails or converts one subject.
pub fn prepare(run: &GoonjRun, subject: &Subject) -> Prepared {
    if let Some(reason) = outbound::subject_skip(subject) {
        return Prepared::Skip(reason);
    }
    match activity(subject, &run.mappings, &run.config.media_url_prefix) {
        Ok(record) => Prepared::Send(Value::Object(record)),
        Err(message) => Prepared::Fail(message),
    }
}

/// The Salesforce activity of a subject.
pub fn activity(
    subject: &Subject,
    mappings: &Mappings,
    media_prefix: &str,
) -> Result<Map<String, Value>, String> {
    let obs = Obs::of(subject);
    let place = Place::of(subject);
    let (created_by, modified_by) = outbound::audit_users(subject);
    let mut a = Map::new();
    put(&mut a, "SourceId", subject.id().map(str::to_owned));
    put(&mut a, "State", place.state);
    put(&mut a, "District", place.district);
    put(&mut a, "Block", place.block);
    put(&mut a, "LocalityVillageName", place.village);
    put(&mut a, "OtherBlock", place.other_block);
    put(&mut a, "OtherVillage", place.other_village);
    put(&mut a, "tolaMohalla", obs.text("Tola / Mohalla"));
    put(&mut a, "nameOfAccount", obs.text("Account  name"));
    let initiative = obs.text("Type of initiative");
    put(&mut a, "TypeofInitiative", initiative.clone());
    put(
        &mut a,
        "ActivityStartDate",
        obs.date("Activity Start Date")?,
    );
    put(&mut a, "ActivityEndDate", obs.date("Activity End Date")?);
    put(
        &mut a,
        "ActivityConductedWithStudents",
        obs.text("Activity Conducted With Students"),
    );
    put(&mut a, "OtherDetails", obs.text("Specify other activity"));
    put(
        &mut a,
        "SchoolAanganwadiLearningCenterName",
        obs.text("School / Anganwadi / Learning Center Name"),
    );
    put(
        &mut a,
        "WasUndertakingFormFilled",
        obs.text("Was Undertaking Form Filled?"),
    );
    put(&mut a, "Remarks", obs.text("Remarks"));
    put(&mut a, "CreatedBy", created_by);
    put(&mut a, "ModifiedBy", modified_by);
    match initiative.as_deref() {
        Some("CFW") => cfw(&mut a, obs, mappings, media_prefix)?,
        Some("S2S") => s2s(&mut a, obs, media_prefix)?,
        Some("NJPC") => njpc(&mut a, obs, media_prefix)?,
        _ => {}
    }
    Ok(a)
}

fn set(a: &mut Map<String, Value>, key: &str, value: impl Into<Value>) {
    a.insert(key.to_owned(), value.into());
}

/// Cash for work.
fn cfw(
    a: &mut Map<String, Value>,
    obs: Obs<'_>,
    mappings: &Mappings,
    media_prefix: &str,
) -> Result<(), String> {
    set(a, "NoofWorkingDays", obs.int_or_zero("No of working days")?);
    set(
        a,
        "NoofparticipantsMaleCFW",
        obs.required_int("Number of Participants (Male)")?,
    );
    set(
        a,
        "NoofparticipantsFemaleCFW",
        obs.required_int("Number of Participants (Female)")?,
    );
    set(
        a,
        "NoofparticipantsCFWOther",
        obs.required_int("Number of Participants (Other)")?,
    );
    put(a, "ActivityCategory", obs.text("Activity category"));
    put(a, "ActivityType", activity_type(obs, mappings));
    put(a, "ActivitySubType", obs.text("Activity sub type"));
    put(a, "OtherSubType", obs.text("Specify Other Sub Type"));
    put(a, "FormCrossChecked", obs.text("Form Cross Checked?"));
    put(
        a,
        "ObjectiveofCFWwork",
        obs.text("Work Objective")
            .or_else(|| obs.text("Objective of Work")),
    );
    put(
        a,
        "OtherObjective",
        obs.text("Any other not given above, Specify other"),
    );
    put(a, "MeasurementType", obs.text("Measurements Type"));
    if let Some(nos) = obs.int("Nos")? {
        set(a, "Nos", nos);
    }
    set(a, "Breadth", obs.double_or_zero("Breadth")?);
    set(a, "Diameter", obs.double_or_zero("Diameter")?);
    set(a, "Length", obs.double_or_zero("Length")?);
    set(a, "DepthHeight", obs.double_or_zero("Height / Depth")?);
    put(
        a,
        "BeforeImplementationPhotograph",
        obs.media("Before implementation", media_prefix),
    );
    put(
        a,
        "DuringImplementationPhotograph",
        obs.media("During Implementation", media_prefix),
    );
    put(
        a,
        "AfterImplementationPhotograph",
        obs.media("After implementation", media_prefix),
    );
    Ok(())
}

/// `ActivityType`: the Salesforce value mapped to the Avni answer; none when unmapped.
fn activity_type(obs: Obs<'_>, mappings: &Mappings) -> Option<String> {
    let answer = obs.text("Activity Type")?;
    let mapped = mappings.by_avni_value(MAPPING_GROUP, &answer);
    if mapped.is_none() {
        tracing::info!(%answer, "no Activity mapping for this Activity Type; ActivityType left out");
    }
    mapped.map(|m| m.int_system_value.clone())
}

/// School to school.
fn s2s(a: &mut Map<String, Value>, obs: Obs<'_>, media_prefix: &str) -> Result<(), String> {
    set(
        a,
        "NumberofPlantationS2S",
        obs.int_or_zero("Number of Plantation - S2S")?,
    );
    set(
        a,
        "NumberofSeedBallsS2S",
        obs.int_or_zero("Number of Seed Balls - S2S")?,
    );
    set(
        a,
        "NoofparticipantsS2S",
        obs.int_or_zero("Number of Participants")?,
    );
    set(
        a,
        "NoofdaysofParticipationS2S",
        obs.int_or_zero("Number of Days of Participation")?,
    );
    put(a, "S2SPhotograph", obs.media("Photograph", media_prefix));
    put(a, "TypeOfSchool", obs.text("Type of Educational Institute"));
    Ok(())
}

/// Not just a piece of cloth.
fn njpc(a: &mut Map<String, Value>, obs: Obs<'_>, media_prefix: &str) -> Result<(), String> {
    set(
        a,
        "NoofdaysofParticipationNJPC",
        obs.int_or_zero("Number of Days of Participation")?,
    );
    set(
        a,
        "NoofparticipantsMaleNJPC",
        obs.required_int("Number of Participants (Male)")?,
    );
    set(
        a,
        "NoofparticipantsFemaleNJPC",
        obs.required_int("Number of Participants (Female)")?,
    );
    set(
        a,
        "NoofparticipantsNJPCOther",
        obs.required_int("Number of Participants (Other)")?,
    );
    put(a, "NJPCPhotograph", obs.media("Photograph", media_prefix));
    let education_and_health = obs.text("Education And Health").as_deref() == Some("Yes");
    set(a, "EducationandHealth", education_and_health);
    if education_and_health {
        let male = obs.int_or_zero("Number of students (Male)")?;
        let female = obs.int_or_zero("Number of students (Female)")?;
        set(a, "NumberOfStudentsMale", male);
        set(a, "NumberOfStudentsFemale", female);
        let participants = obs.int("Number of Participants")?.unwrap_or(male + female);
        set(a, "NoofparticipantsNJPC", participants);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use avni_int_shared::store::mappings::Mapping;
    use serde_json::json;

    const PREFIX: &str = "https://media/?url=";

    fn subject(observations: Value) -> Subject {
        Subject(json!({
            "ID": "act-1", "Voided": false, "Registration date": "2023-06-01",
            "location": {"State": "Bihar", "District": "Patna", "Block": "Other",
                         "Village": "Other"},
            "observations": observations,
            "audit": {"Created by": "asha@goonj", "Last modified by": "ravi@goonj",
                      "Last modified at": "2023-06-03T09:30:00.000Z"}
        }))
    }

    fn mappings() -> Mappings {
        let mut m = Mappings::default();
        m.insert(
            MAPPING_GROUP,
            Mapping {
                int_system_value: "Pond Cleaning".into(),
                avni_value: "Pond cleaning".into(),
                hint: None,
            },
        );
        m
    }

    #[test]
    fn a_cfw_activity_carries_every_converted_field() {
        let s = subject(json!({
            "Type of initiative": "CFW", "Other Block": "Nayi", "Other Village": "Gaon",
            "Tola / Mohalla": "Tola 3", "Account  name": "Gram Sabha",
            "Activity Start Date": "2023-05-31T18:30:00.000Z",
            "Activity End Date": "2023-06-02T18:30:00.000+00:00",
            "Activity Conducted With Students": ["Drawing", "Plantation"],
            "Number of Participants (Male)": 5, "Number of Participants (Female)": 6.0,
            "Number of Participants (Other)": 0, "Activity Type": "Pond cleaning",
            "Work Objective": ["Water", "Health"], "Objective of Work": "ignored",
            "Nos": 3, "Breadth": 2.5, "Before implementation": ["https://s3/a.jpg"],
            "Remarks": "", "Specify other activity": null
        }));
        let a = activity(&s, &mappings(), PREFIX).unwrap();
        assert_eq!(
            Value::Object(a),
            json!({
                "SourceId": "act-1", "State": "Bihar", "District": "Patna", "Block": "Other",
                "LocalityVillageName": "Other", "OtherBlock": "Nayi", "OtherVillage": "Gaon",
                "tolaMohalla": "Tola 3", "nameOfAccount": "Gram Sabha", "TypeofInitiative": "CFW",
                "ActivityStartDate": "2023-06-01", "ActivityEndDate": "2023-06-03",
                "ActivityConductedWithStudents": "Drawing;Plantation",
                "CreatedBy": "asha@goonj", "ModifiedBy": "ravi@goonj",
                "NoofWorkingDays": 0, "NoofparticipantsMaleCFW": 5,
                "NoofparticipantsFemaleCFW": 6, "NoofparticipantsCFWOther": 0,
                "ActivityType": "Pond Cleaning", "ObjectiveofCFWwork": "Water;Health",
                "Nos": 3, "Breadth": 2.5, "Diameter": 0.0, "Length": 0.0, "DepthHeight": 0.0,
                "BeforeImplementationPhotograph": "https://media/?url=https://s3/a.jpg"
            })
        );
    }

    #[test]
    fn an_unmapped_activity_type_is_left_out_and_missing_participants_fail() {
        let mut o = json!({
            "Type of initiative": "CFW", "Activity Type": "Unknown",
            "Number of Participants (Male)": 1, "Number of Participants (Female)": 1,
            "Number of Participants (Other)": 1, "Objective of Work": "Roads"
        });
        let a = activity(&subject(o.clone()), &mappings(), PREFIX).unwrap();
        assert!(!a.contains_key("ActivityType"));
        assert_eq!(a["ObjectiveofCFWwork"], "Roads");
        o["Number of Participants (Female)"] = Value::Null;
        assert_eq!(
            activity(&subject(o), &mappings(), PREFIX).unwrap_err(),
            "Required observation \"Number of Participants (Female)\" is missing"
        );
    }

    #[test]
    fn s2s_numbers_default_to_zero() {
        let a = activity(
            &subject(
                json!({"Type of initiative": "S2S", "Number of Participants": 40,
                            "Photograph": "https://s3/p.jpg",
                            "Type of Educational Institute": "Government school"}),
            ),
            &mappings(),
            PREFIX,
        )
        .unwrap();
        assert_eq!(a["NumberofPlantationS2S"], 0);
        assert_eq!(a["NumberofSeedBallsS2S"], 0);
        assert_eq!(a["NoofparticipantsS2S"], 40);
        assert_eq!(a["NoofdaysofParticipationS2S"], 0);
        assert_eq!(a["S2SPhotograph"], "https://media/?url=https://s3/p.jpg");
        assert_eq!(a["TypeOfSchool"], "Government school");
        assert!(!a.contains_key("NoofparticipantsMaleCFW"));
    }

    #[test]
    fn njpc_participants_fall_back_to_the_students() {
        let base = json!({
            "Type of initiative": "NJPC", "Number of Participants (Male)": 2,
            "Number of Participants (Female)": 3, "Number of Participants (Other)": 0,
            "Education And Health": "Yes", "Number of students (Male)": 10,
            "Number of students (Female)": 12
        });
        let a = activity(&subject(base.clone()), &mappings(), PREFIX).unwrap();
        assert_eq!(a["EducationandHealth"], true);
        assert_eq!(a["NumberOfStudentsMale"], 10);
        assert_eq!(a["NoofparticipantsNJPC"], 22);
        assert_eq!(a["NoofdaysofParticipationNJPC"], 0);
        let mut given = base.clone();
        given["Number of Participants"] = json!(30);
        let a = activity(&subject(given), &mappings(), PREFIX).unwrap();
        assert_eq!(a["NoofparticipantsNJPC"], 30);
        let mut no = base;
        no["Education And Health"] = json!("No");
        let a = activity(&subject(no), &mappings(), PREFIX).unwrap();
        assert_eq!(a["EducationandHealth"], false);
        assert!(!a.contains_key("NoofparticipantsNJPC"));
        assert!(!a.contains_key("NumberOfStudentsMale"));
    }

    #[test]
    fn other_block_is_only_sent_for_an_other_block() {
        let mut s = subject(json!({"Other Block": "Nayi"}));
        s.0["location"]["Block"] = json!("Sadar");
        let a = activity(&s, &mappings(), PREFIX).unwrap();
        assert_eq!(a["Block"], "Sadar");
        assert!(!a.contains_key("OtherBlock"));
        assert!(!a.contains_key("TypeofInitiative"));
    }

    #[test]
    fn an_unparseable_date_fails_the_record() {
        let err = activity(
            &subject(json!({"Activity Start Date": "next week"})),
            &mappings(),
            PREFIX,
        )
        .unwrap_err();
        assert!(err.contains("Activity Start Date"), "{err}");
    }
}
