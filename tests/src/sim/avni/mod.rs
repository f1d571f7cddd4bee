//! Avni server simulator, faithful to `shared/contracts/avni.md` (the contract wins over this
//! code): token login (`generateToken`, Keycloak password grant or `AVNI_IDP_TYPE=none`), the
//! subject and general-encounter APIs with their real quirks, and presigned media uploads.
//!
//! Quirks modelled on purpose, because clients must survive them:
//! - Incremental reads use the **strict** window `lastModifiedDateTime < t < now` on stored
//!   **µs** timestamps, ordered by (last modified, internal numeric id); the API shows only ms,
//!   so echoing the last `Last modified at` re-delivers the sub-ms rows of that ms.
//! - `totalElements` is the count in *this* page; `totalPages` and `pageSize` are real.
//! - `now` missing or `"null"` on a GET under `/api/**` becomes server now minus
//!   [`AvniSimConfig::now_lag`] (10 s on Avni's `live` profile).
//! - Query datetimes without an offset are read as **UTC** here; the real server reads them in
//!   its default zone, which nobody sets. Always send `Z`. A `+` not encoded as `%2B` arrives
//!   as a space and fails to parse: 400.
//! - Without `lastModifiedDateTime` there is no window and no defined order (here: by `ID`).
//! - Names are top-level in subject writes but inside `observations` in responses;
//!   `Subject type` is omitted from list items when `subjectType` was passed.
//! - `POST /api/subject` upserts by `External ID`; `version>=3` needs `Address map`, older
//!   versions `Address` ("State, District"); a wrong address or subject type is a 500, an
//!   unknown concept a 500 (NPE), an unknown coded answer a 400.
//! - Date-concept observations (see [`AvniSim::add_date_concept`]) come back raw with the
//!   default `version=1` and as `yyyy-MM-dd` in the server zone (IST) with `version>=2`.
//! - The `concepts` filter matches raw stored values: coded answers by answer **UUID** (see
//!   [`AvniSim::concept_uuid`]); on `/api/encounters` it is string-typed and inclusive.
//! - Auth: unknown, expired or revoked tokens answer 401 (revoked/expired bodies mention
//!   `TokenExpiredException`); a well-formed JWT this instance never issued (for example from a
//!   restarted simulator) fails verification: 500. Expiry uses the real clock, not the
//!   overridden one, so a client comparing `exp` with its clock agrees with the server. The real
//!   server allows 240 s of leeway; the simulator allows none unless
//!   [`AvniSim::set_token_leeway`] says so.
//! - Writes need `Content-Type: application/json` (else 415, as Spring does).

mod auth;
mod entities;
mod handlers;
#[cfg(test)]
mod tests;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::sim::faults::Faults;
use entities::{Concept, EncounterRec, Location, SubjectRec};

/// How the simulated server is configured.
#[derive(Debug, Clone)]
pub struct AvniSimConfig {
    pub auth: AvniAuth,
    /// Avni's `live` profile injects `now = server now - 10 s` when a GET has no `now`.
    pub now_lag: Duration,
    /// Spring's page-size cap (2000 in Avni).
    pub max_page_size: usize,
}

impl Default for AvniSimConfig {
    fn default() -> Self {
        AvniSimConfig {
            auth: AvniAuth::Token {
                username: "integration".into(),
                password: "password".into(),
                token_ttl: Duration::from_secs(3600),
            },
            now_lag: Duration::ZERO,
            max_page_size: 2000,
        }
    }
}

/// Which identity provider the simulated server uses.
#[derive(Debug, Clone)]
pub enum AvniAuth {
    /// Cognito behind `POST /api/user/generateToken` (`idpType: cognito`).
    Token {
        username: String,
        password: String,
        token_ttl: Duration,
    },
    /// `AVNI_IDP_TYPE=none`: no token; `USER-NAME` header, default `admin`.
    None,
    /// Keycloak password grant at `/auth/realms/{realm}/protocol/openid-connect/token`
    /// (also served without the `/auth` prefix); `generateToken` works too.
    Keycloak {
        realm: String,
        client_id: String,
        username: String,
        password: String,
        token_ttl: Duration,
    },
}

impl AvniAuth {
    fn credentials(&self) -> Option<(&str, &str, Duration)> {
        match self {
            AvniAuth::Token {
                username,
                password,
                token_ttl,
            }
            | AvniAuth::Keycloak {
                username,
                password,
                token_ttl,
                ..
            } => Some((username, password, *token_ttl)),
            AvniAuth::None => None,
        }
    }
}

/// A subject to seed directly into the store (no validation; unknown subject types, locations
/// and concepts are registered on the fly).
#[derive(Debug, Clone, Default)]
pub struct SeedSubject {
    pub subject_type: String,
    /// The UUID (`ID`); random when unset.
    pub id: Option<String>,
    pub external_id: Option<String>,
    pub first_name: Option<String>,
    pub middle_name: Option<String>,
    pub last_name: Option<String>,
    /// `yyyy-MM-dd`.
    pub date_of_birth: Option<String>,
    pub gender: Option<String>,
    /// `yyyy-MM-dd`; the creation date when unset.
    pub registration_date: Option<String>,
    /// (State, District).
    pub location: Option<(String, String)>,
    /// Concept name → value as the API shows it (coded answers by name).
    pub observations: Map<String, Value>,
    pub voided: bool,
    /// Server now when unset.
    pub created_at: Option<DateTime<Utc>>,
    /// Stored with µs precision; `created_at` (or server now) when unset.
    pub last_modified_at: Option<DateTime<Utc>>,
    pub created_by: Option<String>,
    pub last_modified_by: Option<String>,
}

impl SeedSubject {
    pub fn new(subject_type: &str) -> Self {
        SeedSubject {
            subject_type: subject_type.into(),
            ..SeedSubject::default()
        }
    }
}

/// A general encounter to seed directly into the store.
#[derive(Debug, Clone, Default)]
pub struct SeedEncounter {
    pub encounter_type: String,
    /// The subject's `ID` or `External ID` (it must exist).
    pub subject: String,
    pub id: Option<String>,
    pub external_id: Option<String>,
    pub encounter_date_time: Option<DateTime<Utc>>,
    pub earliest_scheduled_date: Option<DateTime<Utc>>,
    pub max_scheduled_date: Option<DateTime<Utc>>,
    pub cancel_date_time: Option<DateTime<Utc>>,
    pub observations: Map<String, Value>,
    pub cancel_observations: Map<String, Value>,
    pub voided: bool,
    pub created_at: Option<DateTime<Utc>>,
    pub last_modified_at: Option<DateTime<Utc>>,
    pub created_by: Option<String>,
    pub last_modified_by: Option<String>,
}

impl SeedEncounter {
    pub fn new(encounter_type: &str, subject: &str) -> Self {
        SeedEncounter {
            encounter_type: encounter_type.into(),
            subject: subject.into(),
            ..SeedEncounter::default()
        }
    }
}

/// A non-GET request as the simulator received it.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedRequest {
    pub method: String,
    /// Path and query, as sent.
    pub path: String,
    /// The body as JSON; a non-JSON body as a JSON string (form posts), `Null` when empty or
    /// binary (media uploads: see [`AvniSim::media`]).
    pub body: Value,
    /// The response status, 0 while the request is still being answered (or hung by a fault).
    pub status: u16,
}

/// The Avni server simulator. Cheap to clone; clones share the state.
#[derive(Clone)]
pub struct AvniSim {
    /// `http://127.0.0.1:<port>` after [`AvniSim::start`]; empty for [`AvniSim::new`].
    pub base_url: String,
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    config: AvniSimConfig,
    faults: Faults,
    requests: AtomicU64,
    /// Random per instance: the Cognito pool in token issuers and idp-details.
    pool_id: String,
    db: Mutex<Db>,
}

impl Inner {
    fn db(&self) -> MutexGuard<'_, Db> {
        // A panic while holding the lock can only come from a test assertion; the data stays
        // consistent (every mutation completes under the lock), so recover it.
        self.db
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[derive(Default)]
pub(crate) struct Db {
    now_override: Option<DateTime<Utc>>,
    last_stamp: Option<DateTime<Utc>>,
    next_id: u64,
    locations: Vec<Location>,
    subject_types: BTreeMap<String, String>,
    encounter_types: BTreeMap<String, String>,
    concepts: HashMap<String, Concept>,
    subjects: Vec<SubjectRec>,
    subject_by_uuid: HashMap<String, usize>,
    subject_by_ext: HashMap<String, usize>,
    encounters: Vec<EncounterRec>,
    encounter_by_uuid: HashMap<String, usize>,
    encounter_by_ext: HashMap<String, usize>,
    /// Subject UUID → its encounters (indexes), in creation order.
    encounters_of_subject: HashMap<String, Vec<usize>>,
    tokens: HashMap<String, auth::Issued>,
    token_leeway_secs: i64,
    token_api_forbidden: bool,
    writes: Vec<RecordedRequest>,
    media: HashMap<String, Vec<u8>>,
}

impl Db {
    fn now(&self) -> DateTime<Utc> {
        self.now_override.unwrap_or_else(Utc::now)
    }

    /// The timestamp of a write: server now at µs precision, strictly after the previous
    /// write's (so rows keep distinct, ordered stamps, as `current_timestamp` mostly gives).
    fn stamp(&mut self) -> DateTime<Utc> {
        let now = truncate_us(self.now());
        let stamp = match self.last_stamp {
            Some(last) if now <= last => last + TimeDelta::microseconds(1),
            _ => now,
        };
        self.last_stamp = Some(stamp);
        stamp
    }

    fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    fn location_index(&self, state: &str, district: &str) -> Option<usize> {
        self.locations.iter().position(|l| {
            l.state.eq_ignore_ascii_case(state.trim())
                && l.district.eq_ignore_ascii_case(district.trim())
        })
    }

    fn ensure_location(&mut self, state: &str, district: &str) -> usize {
        if let Some(index) = self.location_index(state, district) {
            return index;
        }
        let state_uuid = self
            .locations
            .iter()
            .find(|l| l.state.eq_ignore_ascii_case(state))
            .map(|l| l.state_uuid.clone())
            .unwrap_or_else(new_uuid);
        self.locations.push(Location {
            uuid: new_uuid(),
            state: state.into(),
            district: district.into(),
            state_uuid,
        });
        self.locations.len() - 1
    }

    fn ensure_concept(&mut self, name: &str) {
        if !self.concepts.contains_key(name) {
            self.concepts.insert(name.into(), Concept::new(None, false));
        }
    }

    fn subject_index(&self, id_or_external_id: &str) -> Option<usize> {
        self.subject_by_uuid
            .get(id_or_external_id)
            .or_else(|| self.subject_by_ext.get(id_or_external_id))
            .copied()
    }

    fn encounter_index(&self, id_or_external_id: &str) -> Option<usize> {
        self.encounter_by_uuid
            .get(id_or_external_id)
            .or_else(|| self.encounter_by_ext.get(id_or_external_id))
            .copied()
    }

    /// Stores a new or changed subject and keeps the indexes right.
    fn put_subject(&mut self, index: Option<usize>, subject: SubjectRec) -> usize {
        let index = match index {
            Some(index) => {
                let old = &self.subjects[index];
                if old.external_id != subject.external_id {
                    if let Some(ext) = &old.external_id {
                        self.subject_by_ext.remove(ext);
                    }
                }
                self.subjects[index] = subject;
                index
            }
            None => {
                self.subjects.push(subject);
                self.subjects.len() - 1
            }
        };
        let subject = &self.subjects[index];
        self.subject_by_uuid.insert(subject.uuid.clone(), index);
        if let Some(ext) = &subject.external_id {
            self.subject_by_ext.insert(ext.clone(), index);
        }
        index
    }

    fn put_encounter(&mut self, index: Option<usize>, encounter: EncounterRec) -> usize {
        let index = match index {
            Some(index) => {
                let old = &self.encounters[index];
                if old.external_id != encounter.external_id {
                    if let Some(ext) = &old.external_id {
                        self.encounter_by_ext.remove(ext);
                    }
                }
                if old.subject_uuid != encounter.subject_uuid {
                    if let Some(list) = self.encounters_of_subject.get_mut(&old.subject_uuid) {
                        list.retain(|&i| i != index);
                    }
                }
                self.encounters[index] = encounter;
                index
            }
            None => {
                self.encounters.push(encounter);
                self.encounters.len() - 1
            }
        };
        let encounter = &self.encounters[index];
        let of_subject = self
            .encounters_of_subject
            .entry(encounter.subject_uuid.clone())
            .or_default();
        if !of_subject.contains(&index) {
            of_subject.push(index);
        }
        self.encounter_by_uuid.insert(encounter.uuid.clone(), index);
        if let Some(ext) = &encounter.external_id {
            self.encounter_by_ext.insert(ext.clone(), index);
        }
        index
    }
}

impl AvniSim {
    /// A simulator that is not listening yet: serve [`AvniSim::router`] yourself (the demo
    /// binary does, on a fixed port). URLs it hands out are built from the `Host` header.
    pub fn new(config: AvniSimConfig) -> AvniSim {
        AvniSim {
            base_url: String::new(),
            inner: Arc::new(Inner {
                config,
                faults: Faults::default(),
                requests: AtomicU64::new(0),
                pool_id: format!("ap-south-1_sim{}", &new_uuid()[..8]),
                db: Mutex::new(Db::default()),
            }),
        }
    }

    /// Starts the simulator on `127.0.0.1:0`.
    pub async fn start(config: AvniSimConfig) -> AvniSim {
        let mut sim = AvniSim::new(config);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        sim.base_url = format!("http://{addr}");
        let app = sim.router();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        sim
    }

    pub fn faults(&self) -> Faults {
        self.inner.faults.clone()
    }

    /// Every route, behind request counting and recording, fault injection and auth.
    pub fn router(&self) -> axum::Router {
        handlers::router(self.inner.clone())
    }

    pub fn config(&self) -> &AvniSimConfig {
        &self.inner.config
    }

    fn db(&self) -> MutexGuard<'_, Db> {
        self.inner.db()
    }

    // ----- seeding -----

    /// A valid `Address map` target: `{"State": state, "District": district}` (or `Address`
    /// `"state, district"` before version 3). Matching is case-insensitive.
    pub fn add_location(&self, state: &str, district: &str) {
        self.db().ensure_location(state, district);
    }

    /// The UUID of a district (`Some(district)`) or of a state: what `locationIds` takes.
    pub fn location_uuid(&self, state: &str, district: Option<&str>) -> Option<String> {
        let db = self.db();
        let location = db.locations.iter().find(|l| {
            l.state.eq_ignore_ascii_case(state)
                && district.is_none_or(|d| l.district.eq_ignore_ascii_case(d))
        })?;
        Some(match district {
            Some(_) => location.uuid.clone(),
            None => location.state_uuid.clone(),
        })
    }

    pub fn add_subject_type(&self, name: &str) {
        self.db()
            .subject_types
            .entry(name.into())
            .or_insert_with(new_uuid);
    }

    pub fn add_encounter_type(&self, name: &str) {
        self.db()
            .encounter_types
            .entry(name.into())
            .or_insert_with(new_uuid);
    }

    /// A concept; coded concepts list their answer names (a value may also be an array of
    /// answers: multi-select).
    pub fn add_concept(&self, name: &str, answers: Option<&[&str]>) {
        let answers = answers.map(|a| a.iter().map(|s| s.to_string()).collect());
        self.db()
            .concepts
            .insert(name.into(), Concept::new(answers, false));
    }

    /// A Date concept: values come back raw with `version=1`, as `yyyy-MM-dd` (IST) with 2+.
    pub fn add_date_concept(&self, name: &str) {
        self.db()
            .concepts
            .insert(name.into(), Concept::new(None, true));
    }

    /// The UUID of a concept, or with `answer` of one of its coded answers: what the
    /// `concepts` query filter must be given for coded values.
    pub fn concept_uuid(&self, concept: &str, answer: Option<&str>) -> Option<String> {
        let db = self.db();
        let concept = db.concepts.get(concept)?;
        match answer {
            None => Some(concept.uuid.clone()),
            Some(answer) => concept.answer_uuid(answer).map(str::to_owned),
        }
    }

    pub fn seed_subject(&self, seed: SeedSubject) -> String {
        let mut db = self.db();
        let created_at = seed.created_at.unwrap_or_else(|| db.stamp());
        let last_modified = truncate_us(seed.last_modified_at.unwrap_or(created_at));
        let location = seed
            .location
            .as_ref()
            .map(|(state, district)| db.ensure_location(state, district));
        db.subject_types
            .entry(seed.subject_type.clone())
            .or_insert_with(new_uuid);
        for name in seed.observations.keys() {
            db.ensure_concept(name);
        }
        let user = self.default_user();
        let subject = SubjectRec {
            id: db.next_id(),
            uuid: seed.id.unwrap_or_else(new_uuid),
            external_id: seed.external_id.filter(|e| !e.trim().is_empty()),
            subject_type: seed.subject_type,
            voided: seed.voided,
            registration_date: seed
                .registration_date
                .or_else(|| Some(created_at.date_naive().to_string())),
            location,
            first_name: seed.first_name,
            middle_name: seed.middle_name,
            last_name: seed.last_name,
            profile_picture: None,
            date_of_birth: seed.date_of_birth,
            gender: seed.gender,
            registration_coordinates: None,
            subject_location: None,
            observations: seed.observations.into_iter().collect(),
            created_at,
            last_modified,
            created_by: seed.created_by.unwrap_or_else(|| user.clone()),
            last_modified_by: seed.last_modified_by.unwrap_or(user),
        };
        let uuid = subject.uuid.clone();
        db.put_subject(None, subject);
        uuid
    }

    /// Panics when `encounter.subject` is not a known subject `ID` or `External ID`.
    pub fn seed_encounter(&self, seed: SeedEncounter) -> String {
        let mut db = self.db();
        let subject = db
            .subject_index(&seed.subject)
            .unwrap_or_else(|| panic!("seed_encounter: no subject {}", seed.subject));
        let subject_uuid = db.subjects[subject].uuid.clone();
        let created_at = seed.created_at.unwrap_or_else(|| db.stamp());
        let last_modified = truncate_us(seed.last_modified_at.unwrap_or(created_at));
        db.encounter_types
            .entry(seed.encounter_type.clone())
            .or_insert_with(new_uuid);
        for name in seed
            .observations
            .keys()
            .chain(seed.cancel_observations.keys())
        {
            db.ensure_concept(name);
        }
        let user = self.default_user();
        let encounter = EncounterRec {
            id: db.next_id(),
            uuid: seed.id.unwrap_or_else(new_uuid),
            external_id: seed.external_id.filter(|e| !e.trim().is_empty()),
            encounter_type: seed.encounter_type,
            subject_uuid,
            voided: seed.voided,
            encounter_date_time: seed.encounter_date_time,
            earliest_scheduled_date: seed.earliest_scheduled_date,
            max_scheduled_date: seed.max_scheduled_date,
            cancel_date_time: seed.cancel_date_time,
            encounter_coordinates: None,
            cancel_location: None,
            observations: seed.observations.into_iter().collect(),
            cancel_observations: seed.cancel_observations.into_iter().collect(),
            created_at,
            last_modified,
            created_by: seed.created_by.unwrap_or_else(|| user.clone()),
            last_modified_by: seed.last_modified_by.unwrap_or(user),
        };
        let uuid = encounter.uuid.clone();
        db.put_encounter(None, encounter);
        uuid
    }

    /// `count` subjects stamped `ms(at) + i µs` (i = 0..count, in id order): a bulk server
    /// update (avni.md §2.3). They all show the same `Last modified at`. `count` ≤ 1000 so
    /// they stay within one millisecond.
    pub fn seed_subjects_same_millisecond(
        &self,
        subject_type: &str,
        count: usize,
        at: DateTime<Utc>,
    ) -> Vec<String> {
        assert!(
            count <= 1000,
            "at most 1000 rows fit in one ms at 1 µs apart"
        );
        let base = truncate_ms(at);
        (0..count)
            .map(|i| {
                self.seed_subject(SeedSubject {
                    first_name: Some(format!("Bulk {i}")),
                    created_at: Some(base - TimeDelta::days(1)),
                    last_modified_at: Some(base + TimeDelta::microseconds(i as i64)),
                    ..SeedSubject::new(subject_type)
                })
            })
            .collect()
    }

    /// An edit made in Avni (by a field worker): merges `observations` (a `Null` value deletes)
    /// and bumps last-modified to server now. False when the subject is unknown.
    pub fn edit_subject(&self, id_or_external_id: &str, observations: Map<String, Value>) -> bool {
        let mut db = self.db();
        let Some(index) = db.subject_index(id_or_external_id) else {
            return false;
        };
        for name in observations.keys() {
            db.ensure_concept(name);
        }
        let stamp = db.stamp();
        let subject = &mut db.subjects[index];
        entities::merge_observations(&mut subject.observations, observations);
        subject.last_modified = stamp;
        true
    }

    /// [`AvniSim::edit_subject`] for an encounter.
    pub fn edit_encounter(
        &self,
        id_or_external_id: &str,
        observations: Map<String, Value>,
    ) -> bool {
        let mut db = self.db();
        let Some(index) = db.encounter_index(id_or_external_id) else {
            return false;
        };
        for name in observations.keys() {
            db.ensure_concept(name);
        }
        let stamp = db.stamp();
        let encounter = &mut db.encounters[index];
        entities::merge_observations(&mut encounter.observations, observations);
        encounter.last_modified = stamp;
        true
    }

    // ----- inspection -----

    /// The subject as `GET /api/subject/{id}` (version 1) returns it.
    pub fn subject(&self, id_or_external_id: &str) -> Option<Value> {
        let db = self.db();
        let index = db.subject_index(id_or_external_id)?;
        Some(entities::subject_json(&db, &db.subjects[index], true, true, 1).into_value())
    }

    /// The encounter as `GET /api/encounter/{id}` (version 1) returns it.
    pub fn encounter(&self, id_or_external_id: &str) -> Option<Value> {
        let db = self.db();
        let index = db.encounter_index(id_or_external_id)?;
        Some(entities::encounter_json(&db, &db.encounters[index], 1).into_value())
    }

    /// The stored (µs) last-modified time of a subject.
    pub fn subject_last_modified(&self, id_or_external_id: &str) -> Option<DateTime<Utc>> {
        let db = self.db();
        db.subject_index(id_or_external_id)
            .map(|i| db.subjects[i].last_modified)
    }

    /// Number of subjects stored (voided ones included).
    pub fn subject_count(&self) -> usize {
        self.db().subjects.len()
    }

    pub fn encounter_count(&self) -> usize {
        self.db().encounters.len()
    }

    /// Every non-GET request, in arrival order.
    pub fn writes(&self) -> Vec<RecordedRequest> {
        self.db().writes.clone()
    }

    /// All requests received, faulted ones included.
    pub fn requests(&self) -> u64 {
        self.inner.requests.load(Ordering::Relaxed)
    }

    /// Bytes uploaded to the presigned URL for `file_name`.
    pub fn media(&self, file_name: &str) -> Option<Vec<u8>> {
        self.db().media.get(file_name).cloned()
    }

    // ----- knobs -----

    /// Every token issued so far is invalid from now on (the next call with it answers 401).
    pub fn expire_tokens(&self) {
        for issued in self.db().tokens.values_mut() {
            issued.revoked = true;
        }
    }

    /// Accept tokens up to `leeway` past `exp` (the real server: 240 s). Default 0.
    pub fn set_token_leeway(&self, leeway: Duration) {
        self.db().token_leeway_secs = i64::try_from(leeway.as_secs()).unwrap_or(i64::MAX);
    }

    /// `false` models a user without `isAllowedToInvokeTokenGenerationAPI`: generateToken 403.
    pub fn set_token_api_allowed(&self, allowed: bool) {
        self.db().token_api_forbidden = !allowed;
    }

    /// The server clock (write stamps, injected `now`); `None` is the real clock. Writes keep
    /// strictly increasing stamps, so under a frozen clock they land at now, now+1µs, … and
    /// stay outside the default window (`< now`) until the clock moves past them.
    pub fn set_now_override(&self, now: Option<DateTime<Utc>>) {
        let mut db = self.db();
        db.now_override = now;
        db.last_stamp = None;
    }

    /// Server now (the override when set).
    pub fn now(&self) -> DateTime<Utc> {
        self.db().now()
    }

    fn default_user(&self) -> String {
        match self.inner.config.auth.credentials() {
            Some((user, _, _)) => user.into(),
            None => "admin".into(),
        }
    }
}

pub(crate) fn new_uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

pub(crate) fn truncate_us(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(t.timestamp_micros()).unwrap_or(t)
}

pub(crate) fn truncate_ms(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(t.timestamp_millis()).unwrap_or(t)
}

/// ISO UTC with exactly three (truncated) fraction digits and `Z`, as Avni writes datetimes.
pub fn format_ms(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// Parses a query datetime the way Joda's `new DateTime(s)` would accept it (any ISO form,
/// `Z` or an offset, date only), truncated to ms (Joda's precision). Without an offset the
/// value is taken as UTC (the real server uses its default zone).
pub fn parse_query_datetime(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(truncate_ms(t.with_timezone(&Utc)));
    }
    let zoned = match s.strip_suffix(['Z', 'z']) {
        Some(rest) => format!("{rest}+00:00"),
        None => s.to_owned(),
    };
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f%#z",
        "%Y-%m-%dT%H:%M%#z",
        "%Y-%m-%dT%H:%M:%S%.f%z",
        "%Y-%m-%dT%H:%M%z",
    ] {
        if let Ok(t) = DateTime::parse_from_str(&zoned, format) {
            return Some(truncate_ms(t.with_timezone(&Utc)));
        }
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(s, format) {
            return Some(truncate_ms(t.and_utc()));
        }
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
}
