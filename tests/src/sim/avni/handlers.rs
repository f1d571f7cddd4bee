//! The routes: subjects, general encounters, media, and the layers every request goes
//! through (counting and recording, faults, auth).

use super::auth::{self, AuthUser};
use super::entities::{self, EncounterRec, SubjectRec, WriteError, J};
use super::{new_uuid, parse_query_datetime, Db, Inner, RecordedRequest};
use crate::sim::faults::inject;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Extension, Path, Query, Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::{from_fn_with_state, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::Router;
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

pub(crate) type Shared = Arc<Inner>;
type Params = Query<HashMap<String, String>>;
type Answer = Result<Response, Fail>;

pub(crate) fn router(shared: Shared) -> Router {
    Router::new()
        .route("/api/user/generateToken", post(auth::generate_token))
        .route("/idp-details", get(auth::idp_details))
        .route("/cognito-details", get(auth::cognito_details))
        .route(
            "/realms/{realm}/protocol/openid-connect/token",
            post(auth::keycloak_token_endpoint),
        )
        .route(
            "/auth/realms/{realm}/protocol/openid-connect/token",
            post(auth::keycloak_token_endpoint),
        )
        .route("/api/subjects", get(list_subjects))
        .route("/api/subject", post(post_subject))
        .route(
            "/api/subject/{id}",
            get(get_subject)
                .put(put_subject)
                .patch(patch_subject)
                .delete(delete_subject),
        )
        .route("/api/encounters", get(list_encounters))
        .route("/api/encounter", post(post_encounter))
        .route(
            "/api/encounter/{id}",
            get(get_encounter)
                .put(put_encounter)
                .patch(patch_encounter)
                .delete(delete_encounter),
        )
        .route("/media/uploadUrl/{file_name}", get(upload_url))
        .route("/_media/{file_name}", put(store_media).get(read_media))
        .fallback(|| async { StatusCode::NOT_FOUND })
        .layer(DefaultBodyLimit::max(256 * 1024 * 1024))
        .layer(from_fn_with_state(shared.clone(), auth::require_auth))
        .layer(from_fn_with_state(shared.faults.clone(), inject))
        .layer(from_fn_with_state(shared.clone(), count_and_record))
        .with_state(shared)
}

/// Outermost: counts every request and records every non-GET one with its final status.
async fn count_and_record(State(shared): State<Shared>, request: Request, next: Next) -> Response {
    shared.requests.fetch_add(1, Ordering::Relaxed);
    if request.method() == Method::GET || request.method() == Method::HEAD {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| parts.uri.path().to_owned());
    let recorded_body = if bytes.is_empty() || path.starts_with("/_media/") {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap_or_else(|_| match std::str::from_utf8(&bytes) {
            Ok(text) => Value::String(text.to_owned()),
            Err(_) => Value::Null,
        })
    };
    let index = {
        let mut db = shared.db();
        db.writes.push(RecordedRequest {
            method: parts.method.to_string(),
            path,
            body: recorded_body,
            status: 0,
        });
        db.writes.len() - 1
    };
    let response = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    if let Some(write) = shared.db().writes.get_mut(index) {
        write.status = response.status().as_u16();
    }
    response
}

pub(crate) fn text(status: StatusCode, body: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain;charset=UTF-8")],
        body.to_owned(),
    )
        .into_response()
}

/// A refusal: a status and a plain-text body (none when empty). Small, unlike `Response`.
pub(crate) struct Fail {
    status: StatusCode,
    body: String,
}

pub(crate) fn fail(status: StatusCode, body: &str) -> Fail {
    Fail {
        status,
        body: body.to_owned(),
    }
}

impl IntoResponse for Fail {
    fn into_response(self) -> Response {
        if self.body.is_empty() {
            self.status.into_response()
        } else {
            text(self.status, &self.body)
        }
    }
}

fn json(j: J) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        j.to_bytes(),
    )
        .into_response()
}

/// `http://<Host>` of the request: how the simulator names itself in URLs it hands out.
pub(crate) fn origin(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    format!("http://{host}")
}

fn write_error(error: WriteError) -> Fail {
    match error {
        WriteError::Internal(message) => fail(StatusCode::INTERNAL_SERVER_ERROR, &message),
        WriteError::Invalid(message) => fail(StatusCode::BAD_REQUEST, &message),
        WriteError::Conflict(message) => fail(StatusCode::CONFLICT, &message),
    }
}

fn bad_param(name: &str, value: &str) -> Fail {
    fail(
        StatusCode::BAD_REQUEST,
        &format!("Failed to convert value of type 'java.lang.String' to required type for parameter '{name}'; value '{value}'"),
    )
}

fn version(q: &HashMap<String, String>) -> Result<u32, Fail> {
    match q.get("version").map(String::as_str) {
        None | Some("") => Ok(1),
        Some(v) => v.trim().parse().map_err(|_| bad_param("version", v)),
    }
}

/// A JSON object body; Spring answers 415 for another content type, 400 for bad JSON.
fn json_body(headers: &HeaderMap, body: &Bytes) -> Result<Map<String, Value>, Fail> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/octet-stream");
    let lower = content_type.to_ascii_lowercase();
    if !lower.starts_with("application/json") && !lower.contains("+json") {
        return Err(fail(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            &format!("Content-Type '{content_type}' is not supported"),
        ));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(fail(
            StatusCode::BAD_REQUEST,
            "JSON parse error: Required request body is missing or unreadable",
        )),
    }
}

/// The common query of the list endpoints.
struct ListQuery {
    lmdt: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    page: usize,
    size: usize,
    version: u32,
    /// Concept name → wanted raw value.
    concepts: Vec<(String, String)>,
}

fn list_query(shared: &Shared, db: &Db, q: &HashMap<String, String>) -> Result<ListQuery, Fail> {
    let datetime = |name: &str| -> Result<Option<DateTime<Utc>>, Fail> {
        match q.get(name).map(String::as_str) {
            None | Some("") => Ok(None),
            Some(v) => parse_query_datetime(v)
                .map(Some)
                .ok_or_else(|| bad_param(name, v)),
        }
    };
    let lmdt = datetime("lastModifiedDateTime")?;
    // The interceptor: a missing or "null" `now` becomes server now minus the lag.
    let now = match q.get("now").map(String::as_str) {
        None | Some("null") => {
            let lag = TimeDelta::from_std(shared.config.now_lag).unwrap_or(TimeDelta::zero());
            db.now() - lag
        }
        Some(_) => datetime("now")?.unwrap_or_else(|| db.now()),
    };
    // Spring Pageable: unreadable values fall back to the defaults; size capped.
    let page = q
        .get("page")
        .and_then(|p| p.trim().parse::<i64>().ok())
        .unwrap_or(0)
        .max(0) as usize;
    let size = q
        .get("size")
        .and_then(|s| s.trim().parse::<i64>().ok())
        .filter(|&s| s >= 1)
        .map(|s| (s as usize).min(shared.config.max_page_size))
        .unwrap_or(20.min(shared.config.max_page_size));
    let mut concepts = Vec::new();
    if let Some(raw) = q.get("concepts").filter(|c| !c.is_empty()) {
        let Ok(Value::Object(map)) = serde_json::from_str::<Value>(raw) else {
            return Err(bad_param("concepts", raw));
        };
        for (name, value) in map {
            if !db.concepts.contains_key(&name) {
                return Err(fail(
                    StatusCode::BAD_REQUEST,
                    &format!("Concept with name '{name}' not found"),
                ));
            }
            let wanted = match value {
                Value::String(s) => s,
                other => other.to_string(),
            };
            concepts.push((name, wanted));
        }
    }
    Ok(ListQuery {
        lmdt,
        now,
        page,
        size,
        version: version(q)?,
        concepts,
    })
}

/// Orders, pages and wraps: `totalElements` is the count in this page.
fn page<T>(
    mut rows: Vec<&T>,
    query: &ListQuery,
    key: impl Fn(&T) -> (DateTime<Utc>, u64, &str),
    render: impl Fn(&T) -> J,
) -> Response {
    if query.lmdt.is_some() {
        rows.sort_by_key(|r| {
            let (t, id, _) = key(r);
            (t, id)
        });
    } else {
        // No ORDER BY without lastModifiedDateTime: any order; here by ID.
        rows.sort_by(|a, b| key(a).2.cmp(key(b).2));
    }
    let total = rows.len();
    let total_pages = total.div_ceil(query.size);
    let content: Vec<J> = rows
        .into_iter()
        .skip(query.page.saturating_mul(query.size))
        .take(query.size)
        .map(render)
        .collect();
    let count = content.len();
    json(
        J::obj()
            .with("content", J::A(content))
            .with("totalElements", count)
            .with("totalPages", total_pages)
            .with("pageSize", query.size),
    )
}

fn within(t: DateTime<Utc>, lmdt: DateTime<Utc>, now: DateTime<Utc>, inclusive: bool) -> bool {
    if inclusive {
        lmdt <= t && t <= now
    } else {
        lmdt < t && t < now
    }
}

async fn list_subjects(State(shared): State<Shared>, Query(q): Params) -> Answer {
    let db = shared.db();
    let query = list_query(&shared, &db, &q)?;
    let subject_type = q.get("subjectType").filter(|t| !t.is_empty());
    // `locationIds`: comma-separated location UUIDs, their children included.
    let location_ids: Vec<&str> = q
        .get("locationIds")
        .map(|ids| {
            ids.split(',')
                .map(str::trim)
                .filter(|id| !id.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let rows: Vec<&SubjectRec> = db
        .subjects
        .iter()
        .filter(|s| subject_type.is_none_or(|t| s.subject_type == *t))
        .filter(|s| {
            location_ids.is_empty()
                || s.location
                    .and_then(|i| db.locations.get(i))
                    .is_some_and(|l| {
                        location_ids.contains(&l.uuid.as_str())
                            || location_ids.contains(&l.state_uuid.as_str())
                    })
        })
        .filter(|s| {
            query
                .lmdt
                .is_none_or(|lmdt| within(s.last_modified, lmdt, query.now, false))
        })
        .filter(|s| {
            query.concepts.iter().all(|(name, wanted)| {
                s.observations.iter().any(|(k, v)| {
                    k == name && entities::stored_text(&db, k, v).as_deref() == Some(wanted)
                })
            })
        })
        .collect();
    Ok(page(
        rows,
        &query,
        |s| (s.last_modified, s.id, s.uuid.as_str()),
        |s| entities::subject_json(&db, s, subject_type.is_none(), true, query.version),
    ))
}

async fn get_subject(
    State(shared): State<Shared>,
    Path(id): Path<String>,
    Query(q): Params,
) -> Answer {
    let version = version(&q)?;
    let db = shared.db();
    match db.subject_index(&id) {
        Some(i) => Ok(json(entities::subject_json(
            &db,
            &db.subjects[i],
            true,
            true,
            version,
        ))),
        None => Ok(StatusCode::NOT_FOUND.into_response()),
    }
}

fn blank_subject() -> SubjectRec {
    let epoch = DateTime::<Utc>::UNIX_EPOCH;
    SubjectRec {
        id: 0,
        uuid: new_uuid(),
        external_id: None,
        subject_type: String::new(),
        voided: false,
        registration_date: None,
        location: None,
        first_name: None,
        middle_name: None,
        last_name: None,
        profile_picture: None,
        date_of_birth: None,
        gender: None,
        registration_coordinates: None,
        subject_location: None,
        observations: Vec::new(),
        created_at: epoch,
        last_modified: epoch,
        created_by: String::new(),
        last_modified_by: String::new(),
    }
}

/// Saves a validated subject: unique External ID, new stamp, audit.
fn save_subject(
    db: &mut Db,
    index: Option<usize>,
    mut subject: SubjectRec,
    user: &str,
) -> Result<usize, Fail> {
    if let Some(ext) = &subject.external_id {
        if let Some(&other) = db.subject_by_ext.get(ext) {
            if Some(other) != index {
                return Err(write_error(WriteError::Conflict(format!(
                    "duplicate key value violates unique constraint \"individual_legacy_id_organisation_id_key\": legacy_id '{ext}'"
                ))));
            }
        }
    }
    let stamp = db.stamp();
    if index.is_none() {
        subject.id = db.next_id();
        subject.created_at = stamp;
        subject.created_by = user.into();
    }
    subject.last_modified = stamp;
    subject.last_modified_by = user.into();
    Ok(db.put_subject(index, subject))
}

/// `findByUuid(id)`, then the body's `External ID`; missing is an IllegalArgumentException.
fn load_subject(db: &Db, id: &str, body: &Map<String, Value>) -> Result<usize, Fail> {
    let ext = body
        .get("External ID")
        .and_then(Value::as_str)
        .map(str::trim);
    db.subject_by_uuid
        .get(id)
        .or_else(|| ext.filter(|e| !e.is_empty()).and_then(|e| db.subject_by_ext.get(e)))
        .copied()
        .ok_or_else(|| {
            fail(
                StatusCode::INTERNAL_SERVER_ERROR,
                &format!(
                    "java.lang.IllegalArgumentException: Subject not found with id '{id}' or External ID '{}'",
                    ext.unwrap_or("null")
                ),
            )
        })
}

async fn post_subject(
    State(shared): State<Shared>,
    Query(q): Params,
    headers: HeaderMap,
    Extension(AuthUser(user)): Extension<AuthUser>,
    body: Bytes,
) -> Answer {
    let version = version(&q)?;
    let body = json_body(&headers, &body)?;
    let mut db = shared.db();
    let ext = body
        .get("External ID")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|e| !e.is_empty());
    let index = ext.and_then(|e| db.subject_by_ext.get(e).copied());
    let mut subject = index.map_or_else(blank_subject, |i| db.subjects[i].clone());
    entities::apply_subject_write(&db, &mut subject, &body, version).map_err(write_error)?;
    let index = save_subject(&mut db, index, subject, &user)?;
    Ok(json(entities::subject_json(
        &db,
        &db.subjects[index],
        true,
        false,
        version,
    )))
}

async fn put_subject(
    State(shared): State<Shared>,
    Path(id): Path<String>,
    Query(q): Params,
    headers: HeaderMap,
    Extension(AuthUser(user)): Extension<AuthUser>,
    body: Bytes,
) -> Answer {
    let version = version(&q)?;
    let body = json_body(&headers, &body)?;
    let mut db = shared.db();
    let index = load_subject(&db, &id, &body)?;
    let mut subject = db.subjects[index].clone();
    entities::apply_subject_write(&db, &mut subject, &body, version).map_err(write_error)?;
    let index = save_subject(&mut db, Some(index), subject, &user)?;
    Ok(json(entities::subject_json(
        &db,
        &db.subjects[index],
        true,
        false,
        version,
    )))
}

async fn patch_subject(
    State(shared): State<Shared>,
    Path(id): Path<String>,
    Query(q): Params,
    headers: HeaderMap,
    Extension(AuthUser(user)): Extension<AuthUser>,
    body: Bytes,
) -> Answer {
    let version = version(&q)?;
    let body = json_body(&headers, &body)?;
    let mut db = shared.db();
    let index = load_subject(&db, &id, &body)?;
    let mut subject = db.subjects[index].clone();
    entities::apply_subject_patch(&db, &mut subject, &body).map_err(write_error)?;
    let index = save_subject(&mut db, Some(index), subject, &user)?;
    Ok(json(entities::subject_json(
        &db,
        &db.subjects[index],
        true,
        false,
        version,
    )))
}

async fn delete_subject(
    State(shared): State<Shared>,
    Path(id): Path<String>,
    Query(q): Params,
    Extension(AuthUser(user)): Extension<AuthUser>,
) -> Answer {
    let version = version(&q)?;
    let mut db = shared.db();
    let Some(index) = db.subject_index(&id) else {
        return Ok(StatusCode::NOT_FOUND.into_response());
    };
    let mut subject = db.subjects[index].clone();
    subject.voided = true;
    let index = save_subject(&mut db, Some(index), subject, &user)?;
    Ok(json(entities::subject_json(
        &db,
        &db.subjects[index],
        true,
        true,
        version,
    )))
}

async fn list_encounters(State(shared): State<Shared>, Query(q): Params) -> Answer {
    let db = shared.db();
    let query = list_query(&shared, &db, &q)?;
    let encounter_type = q.get("encounterType").filter(|t| !t.is_empty());
    let subject_id = q.get("subjectId").filter(|t| !t.is_empty());
    // With `concepts` a SQL path: `observations @> {"uuid":"value"}` and an inclusive window.
    let inclusive = !query.concepts.is_empty();
    let rows: Vec<&EncounterRec> = db
        .encounters
        .iter()
        .filter(|e| encounter_type.is_none_or(|t| e.encounter_type == *t))
        .filter(|e| subject_id.is_none_or(|s| e.subject_uuid == *s))
        .filter(|e| {
            query
                .lmdt
                .is_none_or(|lmdt| within(e.last_modified, lmdt, query.now, inclusive))
        })
        .filter(|e| {
            query.concepts.iter().all(|(name, wanted)| {
                e.observations
                    .iter()
                    .any(|(k, v)| k == name && entities::stored_string_equals(&db, k, v, wanted))
            })
        })
        .collect();
    Ok(page(
        rows,
        &query,
        |e| (e.last_modified, e.id, e.uuid.as_str()),
        |e| entities::encounter_json(&db, e, query.version),
    ))
}

async fn get_encounter(
    State(shared): State<Shared>,
    Path(id): Path<String>,
    Query(q): Params,
) -> Answer {
    let version = version(&q)?;
    let db = shared.db();
    match db.encounter_index(&id) {
        Some(i) => Ok(json(entities::encounter_json(
            &db,
            &db.encounters[i],
            version,
        ))),
        None => Ok(StatusCode::NOT_FOUND.into_response()),
    }
}

fn blank_encounter() -> EncounterRec {
    let epoch = DateTime::<Utc>::UNIX_EPOCH;
    EncounterRec {
        id: 0,
        uuid: new_uuid(),
        external_id: None,
        encounter_type: String::new(),
        subject_uuid: String::new(),
        voided: false,
        encounter_date_time: None,
        earliest_scheduled_date: None,
        max_scheduled_date: None,
        cancel_date_time: None,
        encounter_coordinates: None,
        cancel_location: None,
        observations: Vec::new(),
        cancel_observations: Vec::new(),
        created_at: epoch,
        last_modified: epoch,
        created_by: String::new(),
        last_modified_by: String::new(),
    }
}

fn save_encounter(
    db: &mut Db,
    index: Option<usize>,
    mut encounter: EncounterRec,
    user: &str,
) -> Result<usize, Fail> {
    if let Some(ext) = &encounter.external_id {
        if let Some(&other) = db.encounter_by_ext.get(ext) {
            if Some(other) != index {
                return Err(write_error(WriteError::Conflict(format!(
                    "duplicate key value violates unique constraint \"encounter_legacy_id_organisation_id_key\": legacy_id '{ext}'"
                ))));
            }
        }
    }
    let stamp = db.stamp();
    if index.is_none() {
        encounter.id = db.next_id();
        encounter.created_at = stamp;
        encounter.created_by = user.into();
    }
    encounter.last_modified = stamp;
    encounter.last_modified_by = user.into();
    Ok(db.put_encounter(index, encounter))
}

/// `findByLegacyIdOrUuid(id)`, then the body's `External ID`; missing is a 500.
fn load_encounter(db: &Db, id: &str, body: &Map<String, Value>) -> Result<usize, Fail> {
    let ext = body
        .get("External ID")
        .and_then(Value::as_str)
        .map(str::trim);
    db.encounter_index(id)
        .or_else(|| {
            ext.filter(|e| !e.is_empty())
                .and_then(|e| db.encounter_by_ext.get(e).copied())
        })
        .ok_or_else(|| {
            fail(
                StatusCode::INTERNAL_SERVER_ERROR,
                &format!(
                    "java.lang.IllegalArgumentException: Encounter not found with id '{id}' or External ID '{}'",
                    ext.unwrap_or("null")
                ),
            )
        })
}

async fn post_encounter(
    State(shared): State<Shared>,
    Query(q): Params,
    headers: HeaderMap,
    Extension(AuthUser(user)): Extension<AuthUser>,
    body: Bytes,
) -> Answer {
    let version = version(&q)?;
    let body = json_body(&headers, &body)?;
    let mut db = shared.db();
    let ext = body
        .get("External ID")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|e| !e.is_empty());
    let index = ext.and_then(|e| db.encounter_by_ext.get(e).copied());
    let mut encounter = index.map_or_else(blank_encounter, |i| db.encounters[i].clone());
    encounter.subject_uuid = entities::encounter_subject(&db, &body).map_err(write_error)?;
    entities::apply_encounter_write(&db, &mut encounter, &body).map_err(write_error)?;
    let index = save_encounter(&mut db, index, encounter, &user)?;
    Ok(json(entities::encounter_json(
        &db,
        &db.encounters[index],
        version,
    )))
}

async fn put_encounter(
    State(shared): State<Shared>,
    Path(id): Path<String>,
    Query(q): Params,
    headers: HeaderMap,
    Extension(AuthUser(user)): Extension<AuthUser>,
    body: Bytes,
) -> Answer {
    let version = version(&q)?;
    let body = json_body(&headers, &body)?;
    let mut db = shared.db();
    let index = load_encounter(&db, &id, &body)?;
    let mut encounter = db.encounters[index].clone();
    entities::apply_encounter_write(&db, &mut encounter, &body).map_err(write_error)?;
    let index = save_encounter(&mut db, Some(index), encounter, &user)?;
    Ok(json(entities::encounter_json(
        &db,
        &db.encounters[index],
        version,
    )))
}

async fn patch_encounter(
    State(shared): State<Shared>,
    Path(id): Path<String>,
    Query(q): Params,
    headers: HeaderMap,
    Extension(AuthUser(user)): Extension<AuthUser>,
    body: Bytes,
) -> Answer {
    let version = version(&q)?;
    let body = json_body(&headers, &body)?;
    let mut db = shared.db();
    let index = load_encounter(&db, &id, &body)?;
    let mut encounter = db.encounters[index].clone();
    entities::apply_encounter_patch(&db, &mut encounter, &body).map_err(write_error)?;
    let index = save_encounter(&mut db, Some(index), encounter, &user)?;
    Ok(json(entities::encounter_json(
        &db,
        &db.encounters[index],
        version,
    )))
}

async fn delete_encounter(
    State(shared): State<Shared>,
    Path(id): Path<String>,
    Query(q): Params,
    Extension(AuthUser(user)): Extension<AuthUser>,
) -> Answer {
    let version = version(&q)?;
    let mut db = shared.db();
    let Some(index) = db.encounter_index(&id) else {
        return Ok(StatusCode::NOT_FOUND.into_response());
    };
    let mut encounter = db.encounters[index].clone();
    encounter.voided = true;
    let index = save_encounter(&mut db, Some(index), encounter, &user)?;
    Ok(json(entities::encounter_json(
        &db,
        &db.encounters[index],
        version,
    )))
}

/// `GET /media/uploadUrl/{fileName}`: a presigned S3-style PUT URL, as plain text, pointing at
/// the simulator's own `/_media/{fileName}`. The object URL to put in an observation is the
/// same URL without its query.
async fn upload_url(Path(file_name): Path<String>, headers: HeaderMap) -> Response {
    let now = Utc::now().format("%Y%m%dT%H%M%SZ");
    let signature = new_uuid().replace('-', "");
    text(
        StatusCode::OK,
        &format!(
            "{}/_media/{}?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date={now}&X-Amz-Expires=3600&X-Amz-SignedHeaders=host&X-Amz-Signature={signature}",
            origin(&headers),
            urlencoding::encode(&file_name)
        ),
    )
}

/// The presigned PUT: needs the signature query, as S3 does (else 403).
async fn store_media(
    State(shared): State<Shared>,
    Path(file_name): Path<String>,
    Query(q): Params,
    body: Bytes,
) -> Response {
    if !q.contains_key("X-Amz-Signature") {
        return text(
            StatusCode::FORBIDDEN,
            "<Error><Code>AccessDenied</Code></Error>",
        );
    }
    shared.db().media.insert(file_name, body.to_vec());
    StatusCode::OK.into_response()
}

async fn read_media(State(shared): State<Shared>, Path(file_name): Path<String>) -> Response {
    match shared.db().media.get(&file_name) {
        Some(bytes) => (StatusCode::OK, bytes.clone()).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
