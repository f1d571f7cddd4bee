//! HTTP: the OAuth endpoint, the Apex REST services, image links, recording and faults.

use super::store::{find_duplicate, line_key, Duplicate, Feed, Filter, UpsertSpec, Upserts};
use super::store::{ACTIVITY, DISTRIBUTION, RECEIPT};
use super::{generate, parse_ist_wall_clock, Inner, RecordedRequest, Shared};
use super::{APP_PATH, AUTH_PATH, IMAGE_PATH};
use crate::sim::faults::inject;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::{Json, Router};
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

const DEMANDS: &str = "DemandService/getDemands";
const DISPATCHES: &str = "DispatchService/getDispatches";
const INVENTORIES: &str = "ImplementationInventoryService/getImplementationInventories";
const UPSERT_ACTIVITY: &str = "ActivityService/upsertActivity";
const UPSERT_DISTRIBUTION: &str = "DistributionService/upsertDistribution";
const UPSERT_RECEIPT: &str = "DispatchReceivedService/upsertDispatchReceivedStatus";
const DELETE_RECEIPT: &str = "deleteDispatchReceivedStatusService";

/// Largest request body the sim reads.
const BODY_LIMIT: usize = 64 << 20;

pub(super) fn router(shared: Arc<Shared>) -> Router {
    let faults = shared.faults.clone();
    Router::new()
        .route(AUTH_PATH, post(token))
        .route(&format!("{APP_PATH}/{{*resource}}"), any(apex))
        .route(&format!("{IMAGE_PATH}/{{image_id}}"), get(image))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(faults, inject))
        .layer(middleware::from_fn_with_state(shared.clone(), record))
        .with_state(shared)
}

/// A Salesforce error answer (small, unlike a `Response`, so it travels in `Err`).
struct Failure(StatusCode, Value);

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        (self.0, Json(self.1)).into_response()
    }
}

/// Salesforce's error body: `[{"errorCode": …, "message": …}]`.
fn sf_error(status: StatusCode, code: &str, message: &str) -> Failure {
    Failure(status, json!([{ "errorCode": code, "message": message }]))
}

fn invalid_session() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        Json(
            json!([{ "message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID" }]),
        ),
    )
        .into_response()
}

async fn not_found() -> Response {
    sf_error(
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
        "Could not find a match for URL",
    )
    .into_response()
}

// ---- Recording ----

/// Outermost layer: counts every request and records it (body buffered), then its status.
async fn record(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    shared.requests.fetch_add(1, Ordering::SeqCst);
    let (parts, body) = request.into_parts();
    let bytes = match axum::body::to_bytes(body, BODY_LIMIT).await {
        Ok(bytes) => bytes,
        Err(_) => return StatusCode::PAYLOAD_TOO_LARGE.into_response(),
    };
    let recorded_body = if bytes.is_empty() {
        Value::Null
    } else if let Ok(json) = serde_json::from_slice::<Value>(&bytes) {
        json
    } else if parts.uri.path() == AUTH_PATH {
        let fields = parse_form(content_type(&parts.headers), &bytes)
            .into_iter()
            .map(|(k, v)| {
                let v = if k == "password" || k == "client_secret" {
                    "***".to_owned()
                } else {
                    v
                };
                (k, Value::String(v))
            })
            .collect::<Map<String, Value>>();
        Value::Object(fields)
    } else {
        Value::String(String::from_utf8_lossy(&bytes).into_owned())
    };
    let index = {
        let mut inner = shared.lock();
        let at = inner.now();
        inner.log.push(RecordedRequest {
            method: parts.method.to_string(),
            path: parts.uri.path().to_owned(),
            query: parts.uri.query().map(str::to_owned),
            body: recorded_body,
            status: None,
            at,
        });
        inner.log.len() - 1
    };
    let response = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    if let Some(entry) = shared.lock().log.get_mut(index) {
        entry.status = Some(response.status().as_u16());
    }
    response
}

// ---- OAuth ----

fn content_type(headers: &HeaderMap) -> &str {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// `a=1&b=x+y%21` → pairs (`+` is a space).
pub(super) fn parse_urlencoded(text: &str) -> Vec<(String, String)> {
    let decode = |s: &str| {
        let s = s.replace('+', " ");
        urlencoding::decode(&s).map(|d| d.into_owned()).unwrap_or(s)
    };
    text.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k), decode(v))
        })
        .collect()
}

/// A `key=value` parameter of a header value (`multipart/form-data; boundary="x"`).
fn header_param<'a>(value: &'a str, name: &str) -> Option<&'a str> {
    value.split(';').skip(1).find_map(|p| {
        let (k, v) = p.trim().split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().trim_matches('"'))
    })
}

/// The text fields of a `multipart/form-data` body (Spring's `FormHttpMessageConverter`
/// sends the OAuth call this way). Files and malformed parts are skipped.
pub(super) fn parse_multipart(body: &[u8], boundary: &str) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(body);
    let delimiter = format!("--{boundary}");
    let mut fields = Vec::new();
    for part in text.split(delimiter.as_str()) {
        if part.starts_with("--") {
            break; // the closing delimiter
        }
        let part = part
            .strip_prefix("\r\n")
            .or_else(|| part.strip_prefix('\n'))
            .unwrap_or(part);
        let Some((head, value)) = part
            .split_once("\r\n\r\n")
            .or_else(|| part.split_once("\n\n"))
        else {
            continue;
        };
        let Some(name) = head
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with("content-disposition"))
            .and_then(|l| header_param(l, "name"))
        else {
            continue;
        };
        let value = value
            .strip_suffix("\r\n")
            .or_else(|| value.strip_suffix('\n'))
            .unwrap_or(value);
        fields.push((name.to_owned(), value.to_owned()));
    }
    fields
}

/// Form fields of a urlencoded or multipart body.
pub(super) fn parse_form(content_type: &str, body: &[u8]) -> Vec<(String, String)> {
    if content_type
        .to_ascii_lowercase()
        .starts_with("multipart/form-data")
    {
        return header_param(content_type, "boundary")
            .map(|b| parse_multipart(body, b))
            .unwrap_or_default();
    }
    parse_urlencoded(&String::from_utf8_lossy(body))
}

fn oauth_error(error: &str, description: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({ "error": error, "error_description": description })),
    )
        .into_response()
}

/// The username-password flow, checked in Salesforce's order: grant type, client id, client
/// secret, then the user. Parameters may come in the query, a urlencoded or a multipart body.
async fn token(
    State(shared): State<Arc<Shared>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut params: HashMap<String, String> = parse_urlencoded(uri.query().unwrap_or(""))
        .into_iter()
        .collect();
    params.extend(parse_form(content_type(&headers), &body));
    let param = |k: &str| params.get(k).map(String::as_str).unwrap_or("");
    let config = &shared.config;
    if param("grant_type") != "password" {
        return oauth_error("unsupported_grant_type", "grant type not supported");
    }
    if param("client_id") != config.client_id {
        return oauth_error("invalid_client_id", "client identifier invalid");
    }
    if param("client_secret") != config.client_secret {
        return oauth_error("invalid_client", "invalid client credentials");
    }
    if param("username") != config.username || param("password") != config.password {
        return oauth_error("invalid_grant", "authentication failure");
    }
    let access_token = format!("00D5j000000AbCd!AQ0AQ{}", generate::random_alnum(96));
    let issued_at = chrono::Utc::now().timestamp_millis();
    shared
        .lock()
        .tokens
        .insert(access_token.clone(), Instant::now());
    Json(json!({
        "access_token": access_token,
        "instance_url": shared.base_url,
        "id": format!("{}/id/00D5j000000AbCdEAK/0055j000000XyZwAAK", shared.base_url),
        "token_type": "Bearer",
        "issued_at": issued_at.to_string(),
        "signature": base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            generate::random_alnum(32),
        ),
    }))
    .into_response()
}

/// `Authorization: Bearer <token>` (or `OAuth <token>`) issued less than `token_ttl` ago.
fn authorized(shared: &Shared, headers: &HeaderMap) -> bool {
    let Some((scheme, token)) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().split_once(' '))
    else {
        return false;
    };
    if !scheme.eq_ignore_ascii_case("bearer") && !scheme.eq_ignore_ascii_case("oauth") {
        return false;
    }
    shared
        .lock()
        .tokens
        .get(token.trim())
        .is_some_and(|issued| issued.elapsed() < shared.config.token_ttl)
}

// ---- Images ----

async fn image(
    State(shared): State<Arc<Shared>>,
    Path(image_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if !authorized(&shared, &headers) {
        return invalid_session();
    }
    let found = shared.lock().images.get(&image_id).cloned();
    match found {
        Some((content_type, bytes)) => {
            ([(header::CONTENT_TYPE, content_type)], bytes).into_response()
        }
        None => sf_error(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "The requested resource does not exist",
        )
        .into_response(),
    }
}

// ---- Apex REST ----

async fn apex(
    State(shared): State<Arc<Shared>>,
    method: Method,
    Path(resource): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !authorized(&shared, &headers) {
        return invalid_session();
    }
    let resource = resource.trim_end_matches('/');
    let allowed = match resource {
        DEMANDS | DISPATCHES | INVENTORIES => Method::GET,
        UPSERT_ACTIVITY | UPSERT_DISTRIBUTION | UPSERT_RECEIPT | DELETE_RECEIPT => Method::POST,
        _ => return not_found().await,
    };
    if method != allowed {
        return sf_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "METHOD_NOT_ALLOWED",
            &format!("HTTP Method '{method}' not allowed. Allowed are {allowed}"),
        )
        .into_response();
    }
    let params: HashMap<String, String> = parse_urlencoded(uri.query().unwrap_or(""))
        .into_iter()
        .collect();
    let result = match resource {
        DEMANDS => get_demands(&shared, &params),
        DISPATCHES => get_dispatches(&shared, &params),
        INVENTORIES => get_inventories(&shared, &params),
        UPSERT_ACTIVITY => upsert(&shared, &ACTIVITY, resource, &body),
        UPSERT_DISTRIBUTION => upsert(&shared, &DISTRIBUTION, resource, &body),
        UPSERT_RECEIPT => upsert(&shared, &RECEIPT, resource, &body),
        _ => delete_receipts(&shared, &body),
    };
    result.unwrap_or_else(IntoResponse::into_response)
}

type Answer = Result<Response, Failure>;

fn apex_error(message: &str) -> Failure {
    sf_error(StatusCode::BAD_REQUEST, "APEX_ERROR", message)
}

fn non_empty<'a>(params: &'a HashMap<String, String>, name: &str) -> Option<&'a str> {
    params.get(name).map(|v| v.trim()).filter(|v| !v.is_empty())
}

/// The cursor parameter, an IST wall clock (see the module docs).
fn cursor(
    params: &HashMap<String, String>,
    name: &str,
) -> Result<chrono::DateTime<chrono::Utc>, Failure> {
    let raw = non_empty(params, name).ok_or_else(|| {
        apex_error(&format!(
            "System.NullPointerException: Attempt to de-reference a null object (query parameter {name} is required)"
        ))
    })?;
    parse_ist_wall_clock(raw).ok_or_else(|| {
        apex_error(&format!(
            "System.TypeException: Invalid date/time: {raw} ({name} is an IST wall clock yyyy-MM-ddTHH:mm:ss without zone)"
        ))
    })
}

fn filter(params: &HashMap<String, String>) -> Filter {
    Filter {
        state: non_empty(params, "state").map(str::to_owned),
        account: non_empty(params, "account").map(str::to_owned),
    }
}

/// One record by id (and its id in the deleted list if it was deleted), or a page after the
/// cursor with every deletion after it.
fn feed_page(
    shared: &Shared,
    params: &HashMap<String, String>,
    id_param: &str,
    cursor_param: &str,
    pick: impl Fn(&Inner) -> &Feed,
) -> Result<(Vec<Value>, Vec<String>), Failure> {
    let inner = shared.lock();
    let feed = pick(&inner);
    if let Some(id) = non_empty(params, id_param) {
        let records = feed.get(id).cloned().into_iter().collect();
        let deleted = if feed.is_deleted(id) {
            vec![id.to_owned()]
        } else {
            Vec::new()
        };
        return Ok((records, deleted));
    }
    let after = cursor(params, cursor_param)?;
    Ok((
        feed.changed_after(after, &filter(params), shared.config.page_limit),
        feed.deleted_after(after),
    ))
}

fn get_demands(shared: &Shared, params: &HashMap<String, String>) -> Answer {
    let (demands, deleted) =
        feed_page(shared, params, "demandId", "dateTimestamp", |i| &i.demands)?;
    Ok(Json(json!({ "Demands": demands, "DeletedDemands": deleted })).into_response())
}

fn get_dispatches(shared: &Shared, params: &HashMap<String, String>) -> Answer {
    let (dispatches, deleted) =
        feed_page(shared, params, "dispatchStatusId", "dateTimestamp", |i| {
            &i.dispatches
        })?;
    let deleted_lines: Vec<Value> = if non_empty(params, "dispatchStatusId").is_some() {
        Vec::new()
    } else {
        let after = cursor(params, "dateTimestamp")?;
        let after = super::store::second(after);
        shared
            .lock()
            .deleted_lines
            .iter()
            .filter(|(at, _, _)| super::store::second(*at) > after)
            .map(|(_, line, dispatch)| {
                json!({ "DispatchStatusLineItemId": line, "DispatchStatusId": dispatch })
            })
            .collect()
    };
    Ok(Json(json!({
        "DispatchStatuses": dispatches,
        "DeletedObjects": {
            "DeletedDispatchStatuses": deleted,
            "DeletedDispatchStatusLineItems": deleted_lines,
        },
    }))
    .into_response())
}

fn get_inventories(shared: &Shared, params: &HashMap<String, String>) -> Answer {
    let (inventories, deleted) = feed_page(shared, params, "inventoryId", "dateTimeStamp", |i| {
        &i.inventories
    })?;
    Ok(Json(json!({
        "ImplementationInventory": inventories,
        "deletedImplementationInventory": deleted,
    }))
    .into_response())
}

fn upsert_failed(row: usize, code: &str, message: &str, field: &str) -> String {
    format!(
        "Upsert failed. First exception on row {row}; first error: {code}, {message}: [{field}]"
    )
}

fn value_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn field_matches(record: &Value, field: &str, wanted: &str) -> bool {
    match record.get(field) {
        None | Some(Value::Null) => false,
        Some(_) if wanted == "*" => true,
        Some(value) => {
            let text = value_text(value);
            text == wanted || text.split(';').any(|part| part.trim() == wanted)
        }
    }
}

fn rule_matches(rule: &super::Rejection, resource: &str, record: &Value) -> bool {
    if rule
        .path_contains
        .as_deref()
        .is_some_and(|p| !resource.contains(p))
    {
        return false;
    }
    field_matches(record, &rule.field, &rule.value)
        || record.as_object().is_some_and(|fields| {
            fields.values().any(|v| {
                v.as_array().is_some_and(|list| {
                    list.iter()
                        .any(|element| field_matches(element, &rule.field, &rule.value))
                })
            })
        })
}

fn duplicate_error(duplicate: Duplicate, field: &str) -> Failure {
    match duplicate {
        Duplicate::Identical => apex_error(
            "System.ListException: Before Insert or Upsert list must not have two identically equal elements",
        ),
        Duplicate::SameKey { row, key } => sf_error(
            StatusCode::BAD_REQUEST,
            "DUPLICATE_EXTERNAL_ID",
            &upsert_failed(
                row,
                "DUPLICATE_EXTERNAL_ID",
                &format!("Duplicate external id specified: {key}"),
                field,
            ),
        ),
    }
}

fn upsert(shared: &Shared, spec: &UpsertSpec, resource: &str, body: &[u8]) -> Answer {
    let request: Value = serde_json::from_slice(body).map_err(|e| {
        sf_error(
            StatusCode::BAD_REQUEST,
            "JSON_PARSER_ERROR",
            &format!("Unexpected character in the request body: {e}"),
        )
    })?;
    let records = request
        .get(spec.list)
        .and_then(Value::as_array)
        .ok_or_else(|| {
            apex_error(&format!(
                "System.NullPointerException: Attempt to de-reference a null object (no \"{}\" list)",
                spec.list
            ))
        })?;
    if records.len() > shared.config.batch_limit {
        return Err(sf_error(
            StatusCode::BAD_REQUEST,
            "LIMIT_EXCEEDED",
            &format!(
                "Too many records in one request: {} (at most {})",
                records.len(),
                shared.config.batch_limit
            ),
        ));
    }
    let mut keys = Vec::with_capacity(records.len());
    for (row, record) in records.iter().enumerate() {
        match record
            .get(spec.key)
            .and_then(Value::as_str)
            .filter(|k| !k.trim().is_empty())
        {
            Some(key) => keys.push(key.to_owned()),
            None => {
                return Err(sf_error(
                    StatusCode::BAD_REQUEST,
                    "REQUIRED_FIELD_MISSING",
                    &upsert_failed(
                        row,
                        "REQUIRED_FIELD_MISSING",
                        &format!("Required fields are missing: [{}]", spec.key),
                        spec.key,
                    ),
                ))
            }
        }
    }
    if let Some(duplicate) = find_duplicate(records, |r| r.get(spec.key).and_then(Value::as_str)) {
        return Err(duplicate_error(duplicate, spec.key));
    }
    // Apex upserts the child lines of all records as one list per child field.
    let mut children: HashMap<&str, Vec<&Value>> = HashMap::new();
    for record in records {
        for (field, value) in record.as_object().into_iter().flatten() {
            if let Some(list) = value.as_array() {
                children
                    .entry(field.as_str())
                    .or_default()
                    .extend(list.iter().filter(|e| e.is_object()));
            }
        }
    }
    for (field, elements) in &children {
        if let Some(duplicate) = find_duplicate(elements.iter().copied(), line_key) {
            return Err(duplicate_error(duplicate, field));
        }
    }
    let mut inner = shared.lock();
    for (row, record) in records.iter().enumerate() {
        if let Some(rule) = inner
            .rejections
            .iter()
            .find(|rule| rule_matches(rule, resource, record))
        {
            let status = StatusCode::from_u16(rule.status).unwrap_or(StatusCode::BAD_REQUEST);
            return Err(sf_error(
                status,
                &rule.error_code,
                &upsert_failed(row, &rule.error_code, &rule.message, &rule.field),
            ));
        }
    }
    let mut results = Vec::with_capacity(records.len());
    for (key, record) in keys.iter().zip(records) {
        let fresh =
            (!upserts(&mut inner, spec).contains(key)).then(|| inner.new_id(spec.id_prefix));
        let (sf_id, created) = upserts(&mut inner, spec).apply(key, record.clone(), fresh);
        results.push(json!({ "Id": sf_id, (spec.key): key, "created": created, "success": true }));
    }
    Ok(Json(Value::Array(results)).into_response())
}

fn upserts<'a>(inner: &'a mut Inner, spec: &UpsertSpec) -> &'a mut Upserts {
    match spec.list {
        "Activities" => &mut inner.activities,
        "Distributions" => &mut inner.distributions,
        _ => &mut inner.receipts,
    }
}

/// `{"recordId":[Salesforce ids],"sourceId":[SourceIds]}`: deletes those receipts (with their
/// lines). 404 when none of them exists.
fn delete_receipts(shared: &Shared, body: &[u8]) -> Answer {
    let request: Value = serde_json::from_slice(body).map_err(|e| {
        sf_error(
            StatusCode::BAD_REQUEST,
            "JSON_PARSER_ERROR",
            &format!("Unexpected character in the request body: {e}"),
        )
    })?;
    let ids = |field: &str| -> Vec<String> {
        request
            .get(field)
            .and_then(Value::as_array)
            .map(|list| {
                list.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut inner = shared.lock();
    let mut deleted = Vec::new();
    for id in ids("recordId") {
        deleted.extend(inner.receipts.remove(&id, true));
    }
    for key in ids("sourceId") {
        deleted.extend(inner.receipts.remove(&key, false));
    }
    if deleted.is_empty() {
        return Err(sf_error(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "No DispatchReceivedStatus found for the given recordId/sourceId",
        ));
    }
    let results: Vec<Value> = deleted
        .into_iter()
        .map(|(id, key)| json!({ "Id": id, "SourceId": key, "success": true }))
        .collect();
    Ok(Json(Value::Array(results)).into_response())
}
