//! Stored records, their JSON as Avni emits it (keys in Avni's order), and the validation of
//! write bodies.

use super::{format_ms, new_uuid, parse_query_datetime, Db};
use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};
use serde_json::{Map, Value};

/// A District under a State.
pub(crate) struct Location {
    pub uuid: String,
    pub state: String,
    pub district: String,
    pub state_uuid: String,
}

pub(crate) struct Concept {
    pub uuid: String,
    /// (name, uuid) of the answers of a coded concept.
    pub answers: Option<Vec<(String, String)>>,
    pub date: bool,
}

impl Concept {
    pub fn new(answers: Option<Vec<String>>, date: bool) -> Self {
        Concept {
            uuid: new_uuid(),
            answers: answers.map(|a| a.into_iter().map(|name| (name, new_uuid())).collect()),
            date,
        }
    }

    pub fn answer_uuid(&self, name: &str) -> Option<&str> {
        self.answers
            .as_ref()?
            .iter()
            .find(|(answer, _)| answer == name)
            .map(|(_, uuid)| uuid.as_str())
    }
}

#[derive(Clone)]
pub(crate) struct SubjectRec {
    /// Internal numeric id: the tie-breaker of the incremental-read order.
    pub id: u64,
    pub uuid: String,
    pub external_id: Option<String>,
    pub subject_type: String,
    pub voided: bool,
    pub registration_date: Option<String>,
    pub location: Option<usize>,
    pub first_name: Option<String>,
    pub middle_name: Option<String>,
    pub last_name: Option<String>,
    pub profile_picture: Option<String>,
    pub date_of_birth: Option<String>,
    pub gender: Option<String>,
    pub registration_coordinates: Option<Value>,
    pub subject_location: Option<Value>,
    pub observations: Vec<(String, Value)>,
    pub created_at: DateTime<Utc>,
    /// µs precision, as the database keeps it.
    pub last_modified: DateTime<Utc>,
    pub created_by: String,
    pub last_modified_by: String,
}

#[derive(Clone)]
pub(crate) struct EncounterRec {
    pub id: u64,
    pub uuid: String,
    pub external_id: Option<String>,
    pub encounter_type: String,
    pub subject_uuid: String,
    pub voided: bool,
    pub encounter_date_time: Option<DateTime<Utc>>,
    pub earliest_scheduled_date: Option<DateTime<Utc>>,
    pub max_scheduled_date: Option<DateTime<Utc>>,
    pub cancel_date_time: Option<DateTime<Utc>>,
    pub encounter_coordinates: Option<Value>,
    pub cancel_location: Option<Value>,
    pub observations: Vec<(String, Value)>,
    pub cancel_observations: Vec<(String, Value)>,
    pub created_at: DateTime<Utc>,
    pub last_modified: DateTime<Utc>,
    pub created_by: String,
    pub last_modified_by: String,
}

/// JSON whose object keys keep the order they were built in (serde_json sorts its maps here).
#[derive(Debug, Clone)]
pub(crate) enum J {
    V(Value),
    O(Vec<(String, J)>),
    A(Vec<J>),
}

impl J {
    pub fn obj() -> Self {
        J::O(Vec::new())
    }

    pub fn with(mut self, key: &str, value: impl Into<J>) -> Self {
        if let J::O(entries) = &mut self {
            entries.push((key.into(), value.into()));
        }
        self
    }

    pub fn into_value(self) -> Value {
        match self {
            J::V(v) => v,
            J::O(entries) => Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k, v.into_value()))
                    .collect(),
            ),
            J::A(items) => Value::Array(items.into_iter().map(J::into_value).collect()),
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

impl From<Value> for J {
    fn from(v: Value) -> Self {
        J::V(v)
    }
}

impl From<&str> for J {
    fn from(v: &str) -> Self {
        J::V(Value::String(v.into()))
    }
}

impl From<Option<String>> for J {
    fn from(v: Option<String>) -> Self {
        J::V(v.map(Value::String).unwrap_or(Value::Null))
    }
}

impl From<bool> for J {
    fn from(v: bool) -> Self {
        J::V(Value::Bool(v))
    }
}

impl From<usize> for J {
    fn from(v: usize) -> Self {
        J::V(Value::from(v))
    }
}

impl Serialize for J {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            J::V(v) => v.serialize(serializer),
            J::O(entries) => {
                let mut map = serializer.serialize_map(Some(entries.len()))?;
                for (k, v) in entries {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
            J::A(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
        }
    }
}

fn datetime(t: Option<DateTime<Utc>>) -> J {
    t.map(format_ms).into()
}

fn audit(
    created_at: DateTime<Utc>,
    last_modified: DateTime<Utc>,
    created_by: &str,
    last_modified_by: &str,
) -> J {
    J::obj()
        .with("Created at", format_ms(created_at).as_str())
        .with("Last modified at", format_ms(last_modified).as_str())
        .with("Created by", created_by)
        .with("Last modified by", last_modified_by)
}

/// Avni's server zone, as the contract's examples assume (IST).
fn server_zone() -> FixedOffset {
    FixedOffset::east_opt(5 * 3600 + 1800).unwrap_or_else(|| FixedOffset::east_opt(0).unwrap())
}

fn observation_value(db: &Db, name: &str, value: &Value, version: u32) -> Value {
    let is_date = db.concepts.get(name).is_some_and(|c| c.date);
    match value {
        Value::String(raw) if is_date && version >= 2 => match DateTime::parse_from_rfc3339(raw) {
            Ok(t) => Value::String(
                t.with_timezone(&server_zone())
                    .date_naive()
                    .format("%Y-%m-%d")
                    .to_string(),
            ),
            Err(_) => value.clone(),
        },
        _ => value.clone(),
    }
}

fn observations(db: &Db, obs: &[(String, Value)], version: u32, head: Vec<(String, J)>) -> J {
    let mut entries = head;
    entries.extend(
        obs.iter()
            .map(|(k, v)| (k.clone(), J::V(observation_value(db, k, v, version)))),
    );
    J::O(entries)
}

/// A subject as the API emits it. `with_type`: `Subject type` first (single GETs and writes,
/// lists without `subjectType`); `with_groups`: `Groups` last (lists, GET and DELETE).
pub(crate) fn subject_json(
    db: &Db,
    s: &SubjectRec,
    with_type: bool,
    with_groups: bool,
    version: u32,
) -> J {
    let mut j = J::obj();
    if with_type {
        j = j.with("Subject type", s.subject_type.as_str());
    }
    j = j
        .with("ID", s.uuid.as_str())
        .with("External ID", s.external_id.clone())
        .with("Voided", s.voided);
    if let Some(point) = &s.registration_coordinates {
        j = j.with("Registration Coordinates", point.clone());
    }
    if let Some(location) = &s.subject_location {
        j = j.with("Subject location", location.clone());
    }
    j = j.with("Registration date", s.registration_date.clone());
    let location = s.location.and_then(|i| db.locations.get(i));
    let location_map = match location {
        Some(l) => J::obj()
            .with("District", l.district.as_str())
            .with("District External ID", Value::Null)
            .with("State", l.state.as_str())
            .with("State External ID", Value::Null),
        None => J::obj(),
    };
    j = j
        .with("location", location_map)
        .with("Location ID", location.map(|l| l.uuid.clone()));
    let mut head: Vec<(String, J)> = vec![("First name".into(), s.first_name.clone().into())];
    if let Some(middle) = &s.middle_name {
        head.push(("Middle name".into(), middle.as_str().into()));
    }
    head.push(("Last name".into(), s.last_name.clone().into()));
    if let Some(picture) = &s.profile_picture {
        head.push(("Profile picture".into(), picture.as_str().into()));
    }
    if let Some(dob) = &s.date_of_birth {
        head.push(("Date of birth".into(), dob.as_str().into()));
    }
    if let Some(gender) = &s.gender {
        head.push(("Gender".into(), gender.as_str().into()));
    }
    let encounters: Vec<J> = db
        .encounters_of_subject
        .get(&s.uuid)
        .into_iter()
        .flatten()
        .filter_map(|&i| db.encounters.get(i))
        .map(|e| e.uuid.as_str().into())
        .collect();
    j = j
        .with(
            "observations",
            observations(db, &s.observations, version, head),
        )
        .with("encounters", J::A(encounters))
        .with("enrolments", J::A(Vec::new()))
        .with(
            "audit",
            audit(
                s.created_at,
                s.last_modified,
                &s.created_by,
                &s.last_modified_by,
            ),
        );
    if with_groups {
        j = j.with("Groups", J::A(Vec::new()));
    }
    j
}

pub(crate) fn encounter_json(db: &Db, e: &EncounterRec, version: u32) -> J {
    let subject = db
        .subject_by_uuid
        .get(&e.subject_uuid)
        .and_then(|&i| db.subjects.get(i));
    let mut j = J::obj()
        .with("ID", e.uuid.as_str())
        .with("Subject ID", e.subject_uuid.as_str())
        .with(
            "Subject external ID",
            subject.and_then(|s| s.external_id.clone()),
        )
        .with("Subject type", subject.map(|s| s.subject_type.clone()))
        .with("Voided", e.voided)
        .with("External ID", e.external_id.clone())
        .with("Encounter type", e.encounter_type.as_str());
    if let Some(point) = &e.encounter_coordinates {
        j = j.with("Encounter Coordinates", point.clone());
    }
    j = j
        .with("Encounter date time", datetime(e.encounter_date_time))
        .with(
            "Earliest scheduled date",
            datetime(e.earliest_scheduled_date),
        )
        .with("Max scheduled date", datetime(e.max_scheduled_date))
        .with(
            "observations",
            observations(db, &e.observations, version, Vec::new()),
        );
    if let Some(point) = &e.cancel_location {
        j = j.with("Cancel location", point.clone());
    }
    j.with("Cancel date time", datetime(e.cancel_date_time))
        .with(
            "cancelObservations",
            observations(db, &e.cancel_observations, version, Vec::new()),
        )
        .with(
            "audit",
            audit(
                e.created_at,
                e.last_modified,
                &e.created_by,
                &e.last_modified_by,
            ),
        )
}

/// Why a write is refused, mapped to Avni's status and body.
#[derive(Debug)]
pub(crate) enum WriteError {
    /// IllegalArgumentException / NPE: 500 with the exception text.
    Internal(String),
    /// ValidationException, unreadable body: 400 with the message.
    Invalid(String),
    /// A unique constraint: 409.
    Conflict(String),
}

fn illegal(message: String) -> WriteError {
    WriteError::Internal(format!("java.lang.IllegalArgumentException: {message}"))
}

/// `RequestUtils.createObservations`: concept names must exist (else an NPE), coded values
/// must be answer names (else a ValidationException).
fn check_observations(db: &Db, obs: &Map<String, Value>) -> Result<(), WriteError> {
    for (name, value) in obs {
        let Some(concept) = db.concepts.get(name) else {
            return Err(WriteError::Internal(
                "java.lang.NullPointerException: Cannot invoke \"org.avni.server.domain.Concept.getDataType()\" because \"concept\" is null"
                    .into(),
            ));
        };
        if concept.answers.is_none() || value.is_null() {
            continue;
        }
        let names: Vec<&Value> = match value {
            Value::Array(items) => items.iter().collect(),
            other => vec![other],
        };
        for answer in names {
            let known = answer
                .as_str()
                .is_some_and(|a| concept.answer_uuid(a).is_some());
            if !known {
                return Err(WriteError::Invalid(format!(
                    "Invalid answer '{}' for concept '{}'",
                    answer
                        .as_str()
                        .map(str::to_owned)
                        .unwrap_or(answer.to_string()),
                    name
                )));
            }
        }
    }
    Ok(())
}

fn object_field(body: &Map<String, Value>, key: &str) -> Result<Map<String, Value>, WriteError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(map)) => Ok(map.clone()),
        Some(_) => Err(WriteError::Invalid(format!(
            "JSON parse error: '{key}' must be an object"
        ))),
    }
}

fn string_field(body: &Map<String, Value>, key: &str) -> Result<Option<String>, WriteError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(_) => Err(WriteError::Invalid(format!(
            "JSON parse error: '{key}' must be a string"
        ))),
    }
}

fn bool_field(body: &Map<String, Value>, key: &str) -> Result<bool, WriteError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(WriteError::Invalid(format!(
            "JSON parse error: '{key}' must be a boolean"
        ))),
    }
}

fn date_field(body: &Map<String, Value>, key: &str) -> Result<Option<String>, WriteError> {
    match string_field(body, key)? {
        None => Ok(None),
        Some(s) => {
            let day = s.get(..10).unwrap_or(&s);
            NaiveDate::parse_from_str(day, "%Y-%m-%d")
                .map(|d| Some(d.to_string()))
                .map_err(|_| {
                    WriteError::Invalid(format!("JSON parse error: bad date '{s}' in '{key}'"))
                })
        }
    }
}

fn datetime_field(
    body: &Map<String, Value>,
    key: &str,
) -> Result<Option<DateTime<Utc>>, WriteError> {
    match string_field(body, key)? {
        None => Ok(None),
        Some(s) => parse_query_datetime(&s).map(Some).ok_or_else(|| {
            WriteError::Invalid(format!("JSON parse error: bad datetime '{s}' in '{key}'"))
        }),
    }
}

fn point_field(body: &Map<String, Value>, key: &str) -> Option<Value> {
    let point = body.get(key)?.as_object()?;
    let x = point.get("x").or_else(|| point.get("X"))?.clone();
    let y = point.get("y").or_else(|| point.get("Y"))?.clone();
    Some(serde_json::json!({"x": x, "y": y}))
}

/// Merges `changes` into `obs`: a `Null` deletes, other values replace or append.
pub(crate) fn merge_observations(obs: &mut Vec<(String, Value)>, changes: Map<String, Value>) {
    for (name, value) in changes {
        let existing = obs.iter().position(|(k, _)| *k == name);
        match (existing, value) {
            (Some(i), Value::Null) => {
                obs.remove(i);
            }
            (Some(i), value) => obs[i].1 = value,
            (None, Value::Null) => {}
            (None, value) => obs.push((name, value)),
        }
    }
}

fn subject_type_exists(db: &Db, name: Option<&str>) -> Result<String, WriteError> {
    match name {
        Some(name) if db.subject_types.contains_key(name) => Ok(name.to_owned()),
        other => Err(illegal(format!(
            "Subject type not found with name '{}'",
            other.unwrap_or("null")
        ))),
    }
}

/// Resolves the address of a subject write: `Address map` for `version >= 3`, `Address`
/// ("State, District", case-insensitive) before.
fn resolve_address(db: &Db, body: &Map<String, Value>, version: u32) -> Result<usize, WriteError> {
    if version >= 3 {
        let map = body.get("Address map").and_then(Value::as_object);
        let found = map.and_then(|m| {
            let state = m.get("State")?.as_str()?;
            let district = m.get("District")?.as_str()?;
            db.location_index(state, district)
        });
        found.ok_or_else(|| {
            let shown = match map {
                Some(m) => format!(
                    "{{{}}}",
                    m.iter()
                        .map(|(k, v)| format!(
                            "{k}={}",
                            v.as_str().map(str::to_owned).unwrap_or(v.to_string())
                        ))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                None => "null".into(),
            };
            illegal(format!("Address '{shown}' not found"))
        })
    } else {
        let address = body.get("Address").and_then(Value::as_str);
        let found = address.and_then(|a| {
            let mut parts = a.split(',').map(str::trim);
            let state = parts.next()?;
            let district = parts.next()?;
            if parts.next().is_some() {
                return None;
            }
            db.location_index(state, district)
        });
        found.ok_or_else(|| illegal(format!("Address '{}' not found", address.unwrap_or("null"))))
    }
}

/// `POST` and `PUT /api/subject`: every field from the body (absent ones become null).
pub(crate) fn apply_subject_write(
    db: &Db,
    subject: &mut SubjectRec,
    body: &Map<String, Value>,
    version: u32,
) -> Result<(), WriteError> {
    let subject_type = subject_type_exists(db, body.get("Subject type").and_then(Value::as_str))?;
    let location = resolve_address(db, body, version)?;
    let observations = object_field(body, "observations")?;
    check_observations(db, &observations)?;
    if let Some(ext) = string_field(body, "External ID")?.filter(|e| !e.trim().is_empty()) {
        subject.external_id = Some(ext.trim().to_owned());
    }
    subject.subject_type = subject_type;
    subject.location = Some(location);
    subject.first_name = string_field(body, "First name")?;
    subject.middle_name = string_field(body, "Middle name")?;
    subject.last_name = string_field(body, "Last name")?;
    subject.profile_picture = string_field(body, "Profile picture")?;
    subject.registration_date = date_field(body, "Registration date")?;
    subject.date_of_birth = date_field(body, "Date of birth")?;
    subject.gender = string_field(body, "Gender")?;
    subject.registration_coordinates = point_field(body, "Registration Coordinates")
        .or_else(|| point_field(body, "Registration location"));
    subject.subject_location = body
        .get("Subject location")
        .filter(|v| !v.is_null())
        .cloned();
    subject.observations = observations.into_iter().collect();
    subject.voided = bool_field(body, "Voided")?;
    Ok(())
}

/// `PATCH /api/subject/{id}`: only the keys sent; observations merged, a null deletes.
pub(crate) fn apply_subject_patch(
    db: &Db,
    subject: &mut SubjectRec,
    body: &Map<String, Value>,
) -> Result<(), WriteError> {
    if body.contains_key("Subject type") {
        subject.subject_type =
            subject_type_exists(db, body.get("Subject type").and_then(Value::as_str))?;
    }
    if let Some(ext) = string_field(body, "External ID")?.filter(|e| !e.trim().is_empty()) {
        subject.external_id = Some(ext.trim().to_owned());
    }
    let fields: [(&str, &mut Option<String>); 4] = [
        ("First name", &mut subject.first_name),
        ("Middle name", &mut subject.middle_name),
        ("Last name", &mut subject.last_name),
        ("Profile picture", &mut subject.profile_picture),
    ];
    for (key, field) in fields {
        if body.contains_key(key) {
            *field = string_field(body, key)?;
        }
    }
    if body.contains_key("Gender") {
        subject.gender = string_field(body, "Gender")?;
    }
    if body.contains_key("Registration date") {
        subject.registration_date = date_field(body, "Registration date")?;
    }
    if body.contains_key("Date of birth") {
        subject.date_of_birth = date_field(body, "Date of birth")?;
    }
    if body.contains_key("Address") || body.contains_key("Address map") {
        let version = if body.contains_key("Address") { 1 } else { 3 };
        subject.location = Some(resolve_address(db, body, version)?);
    }
    if let Some(point) = body.get("Registration Coordinates") {
        // PATCH reads {"X","Y"} (Point.fromMap); lower-case keys are an NPE.
        let upper = point
            .as_object()
            .and_then(|p| Some((p.get("X")?.clone(), p.get("Y")?.clone())));
        match upper {
            Some((x, y)) => {
                subject.registration_coordinates = Some(serde_json::json!({"x": x, "y": y}))
            }
            None if point.is_null() => subject.registration_coordinates = None,
            None => {
                return Err(WriteError::Internal(
                    "java.lang.NullPointerException: Point.fromMap: no \"X\"/\"Y\"".into(),
                ))
            }
        }
    }
    if body.contains_key("observations") {
        // Unknown names are an NPE even with a null value; nulls delete.
        let changes = object_field(body, "observations")?;
        check_observations(db, &changes)?;
        merge_observations(&mut subject.observations, changes);
    }
    if body.contains_key("Voided") {
        subject.voided = bool_field(body, "Voided")?;
    }
    Ok(())
}

/// The subject named by an encounter write: `Subject ID` (UUID or External ID), else
/// `Subject external ID`.
pub(crate) fn encounter_subject(db: &Db, body: &Map<String, Value>) -> Result<String, WriteError> {
    let id = string_field(body, "Subject ID")?.filter(|s| !s.is_empty());
    let ext = string_field(body, "Subject external ID")?.filter(|s| !s.is_empty());
    let found = id
        .as_deref()
        .and_then(|id| db.subject_index(id))
        .or_else(|| {
            ext.as_deref()
                .and_then(|e| db.subject_by_ext.get(e.trim()).copied())
        });
    match found {
        Some(index) => Ok(db.subjects[index].uuid.clone()),
        None => Err(illegal(format!(
            "Individual not found with UUID '{}' or External ID '{}'",
            id.as_deref().unwrap_or("null"),
            ext.as_deref().unwrap_or("null")
        ))),
    }
}

/// `POST`/`PUT /api/encounter`: every field from the body.
pub(crate) fn apply_encounter_write(
    db: &Db,
    encounter: &mut EncounterRec,
    body: &Map<String, Value>,
) -> Result<(), WriteError> {
    let encounter_type = body.get("Encounter type").and_then(Value::as_str);
    let encounter_type = match encounter_type {
        Some(name) if db.encounter_types.contains_key(name) => name.to_owned(),
        other => {
            return Err(illegal(format!(
                "Encounter type not found with name '{}'",
                other.unwrap_or("null")
            )))
        }
    };
    let observations = object_field(body, "observations")?;
    check_observations(db, &observations)?;
    let cancel_observations = object_field(body, "cancelObservations")?;
    check_observations(db, &cancel_observations)?;
    if let Some(ext) = string_field(body, "External ID")?.filter(|e| !e.trim().is_empty()) {
        encounter.external_id = Some(ext.trim().to_owned());
    }
    encounter.encounter_type = encounter_type;
    encounter.encounter_coordinates = point_field(body, "Encounter Coordinates")
        .or_else(|| point_field(body, "Encounter location"));
    encounter.cancel_location = point_field(body, "Cancel location");
    encounter.encounter_date_time = datetime_field(body, "Encounter date time")?;
    encounter.earliest_scheduled_date = datetime_field(body, "Earliest scheduled date")?;
    encounter.max_scheduled_date = datetime_field(body, "Max scheduled date")?;
    encounter.cancel_date_time =
        datetime_field(body, "Cancel date time")?.or(datetime_field(body, "Cancel datetime")?);
    encounter.observations = observations.into_iter().collect();
    encounter.cancel_observations = cancel_observations.into_iter().collect();
    encounter.voided = bool_field(body, "Voided")?;
    Ok(())
}

/// `PATCH /api/encounter/{id}`: only the keys sent.
pub(crate) fn apply_encounter_patch(
    db: &Db,
    encounter: &mut EncounterRec,
    body: &Map<String, Value>,
) -> Result<(), WriteError> {
    if body.contains_key("Encounter type") {
        let mut full = encounter.clone();
        let mut with_type = Map::new();
        with_type.insert("Encounter type".into(), body["Encounter type"].clone());
        apply_encounter_write(db, &mut full, &with_type)?;
        encounter.encounter_type = full.encounter_type;
    }
    if let Some(ext) = string_field(body, "External ID")?.filter(|e| !e.trim().is_empty()) {
        encounter.external_id = Some(ext.trim().to_owned());
    }
    let times: [(&str, &mut Option<DateTime<Utc>>); 4] = [
        ("Encounter date time", &mut encounter.encounter_date_time),
        (
            "Earliest scheduled date",
            &mut encounter.earliest_scheduled_date,
        ),
        ("Max scheduled date", &mut encounter.max_scheduled_date),
        ("Cancel date time", &mut encounter.cancel_date_time),
    ];
    for (key, field) in times {
        if body.contains_key(key) {
            *field = datetime_field(body, key)?;
        }
    }
    for (key, target) in [
        ("observations", &mut encounter.observations),
        ("cancelObservations", &mut encounter.cancel_observations),
    ] {
        if body.contains_key(key) {
            let changes = object_field(body, key)?;
            check_observations(db, &changes)?;
            merge_observations(target, changes);
        }
    }
    if body.contains_key("Voided") {
        encounter.voided = bool_field(body, "Voided")?;
    }
    Ok(())
}

/// The text form of a stored observation value for the `concepts` filter: coded answers by
/// answer UUID (what the database holds), other scalars as jsonb `->>` text.
pub(crate) fn stored_text(db: &Db, concept: &str, value: &Value) -> Option<String> {
    let coded = db.concepts.get(concept).filter(|c| c.answers.is_some());
    match (coded, value) {
        (Some(c), Value::String(answer)) => c.answer_uuid(answer).map(str::to_owned),
        (_, Value::String(s)) => Some(s.clone()),
        (_, Value::Number(n)) => Some(n.to_string()),
        (_, Value::Bool(b)) => Some(b.to_string()),
        _ => None,
    }
}

/// Whether the stored value is a JSON *string* equal to `wanted` (the `@>` path: numbers
/// never match).
pub(crate) fn stored_string_equals(db: &Db, concept: &str, value: &Value, wanted: &str) -> bool {
    value.is_string() && stored_text(db, concept, value).as_deref() == Some(wanted)
}
