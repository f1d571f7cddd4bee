//! The OpenAPI 3 document of the admin API (`GET /int/openapi.json`), built from one table of
//! endpoints so a route added to the server is one line here. A fleet test walks this document
//! against the running server, so the two cannot drift apart unnoticed.

use axum::Json;
use serde_json::{json, Map, Value};

/// What an endpoint answers on success.
#[derive(Clone, Copy)]
enum Answer {
    /// One object of the schema.
    One(&'static str),
    /// A Spring page of the schema (or a bare array when no `page`/`size` is given).
    Page(&'static str),
    /// A bare JSON array of the schema.
    Array(&'static str),
    /// An object whose shape is described inline by the schema name (`Accepted`, …).
    Status(u16, &'static str),
    /// A zip download.
    Zip,
}

struct Endpoint {
    method: &'static str,
    path: &'static str,
    tag: &'static str,
    summary: &'static str,
    query: &'static [(&'static str, &'static str)],
    body: Option<&'static str>,
    answer: Answer,
}

const PAGED: &[(&str, &str)] = &[("page", "integer"), ("size", "integer"), ("sort", "string")];
const PAGED_IDS: &[(&str, &str)] = &[
    ("page", "integer"),
    ("size", "integer"),
    ("sort", "string"),
    ("ids", "string"),
];

macro_rules! ep {
    ($m:literal $p:literal, $tag:literal, $summary:literal, $query:expr, $body:expr, $answer:expr) => {
        Endpoint {
            method: $m,
            path: $p,
            tag: $tag,
            summary: $summary,
            query: $query,
            body: $body,
            answer: $answer,
        }
    };
}

const ENDPOINTS: &[Endpoint] = &[
    ep!("post" "/int/login", "auth", "Form login (urlencoded email, password); sets the session cookie", &[], Some("LoginForm"), Answer::One("User")),
    ep!("get" "/int/logout", "auth", "Ends the session on the server", &[], None, Answer::One("LoggedOut")),
    ep!("get" "/int/currentUser", "auth", "The logged-in user", &[], None, Answer::One("User")),
    ep!("get" "/int/mappingMetadata", "mapping", "Mappings of the tenant", &[("page", "integer"), ("size", "integer"), ("sort", "string"), ("ids", "string"), ("q", "string")], None, Answer::Page("MappingMetadata")),
    ep!("post" "/int/mappingMetadata", "mapping", "Create (id absent or 0) or update a mapping", &[], Some("MappingMetadata"), Answer::One("MappingMetadata")),
    ep!("get" "/int/mappingMetadata/{id}", "mapping", "One mapping", &[], None, Answer::One("MappingMetadata")),
    ep!("put" "/int/mappingMetadata/{id}", "mapping", "Update a mapping", &[], Some("MappingMetadata"), Answer::One("MappingMetadata")),
    ep!("delete" "/int/mappingMetadata/{id}", "mapping", "Void a mapping", &[], None, Answer::One("MappingMetadata")),
    ep!("get" "/int/mappingMetadata/search/findByAvniValue", "mapping", "Mappings whose Avni value contains the text", &[("avniValue", "string"), ("page", "integer"), ("size", "integer"), ("sort", "string")], None, Answer::Page("MappingMetadata")),
    ep!("get" "/int/mappingMetadata/search/findByIntSystemValue", "mapping", "Mappings whose partner value contains the text", &[("intSystemValue", "string"), ("page", "integer"), ("size", "integer"), ("sort", "string")], None, Answer::Page("MappingMetadata")),
    ep!("get" "/int/mappingMetadata/search/find", "mapping", "Mappings matching every given filter", &[("avniValue", "string"), ("intSystemValue", "string"), ("mappingGroup", "integer"), ("mappingType", "integer"), ("page", "integer"), ("size", "integer"), ("sort", "string")], None, Answer::Page("MappingMetadata")),
    ep!("get" "/int/mappingGroup", "mapping", "Mapping groups", PAGED_IDS, None, Answer::Page("NamedRow")),
    ep!("post" "/int/mappingGroup", "mapping", "Create a mapping group", &[], Some("NamedRow"), Answer::One("NamedRow")),
    ep!("get" "/int/mappingGroup/{id}", "mapping", "One mapping group", &[], None, Answer::One("NamedRow")),
    ep!("put" "/int/mappingGroup/{id}", "mapping", "Rename a mapping group", &[], Some("NamedRow"), Answer::One("NamedRow")),
    ep!("delete" "/int/mappingGroup/{id}", "mapping", "Void a mapping group", &[], None, Answer::One("NamedRow")),
    ep!("get" "/int/mappingType", "mapping", "Mapping types", PAGED_IDS, None, Answer::Page("NamedRow")),
    ep!("post" "/int/mappingType", "mapping", "Create a mapping type", &[], Some("NamedRow"), Answer::One("NamedRow")),
    ep!("get" "/int/mappingType/{id}", "mapping", "One mapping type", &[], None, Answer::One("NamedRow")),
    ep!("put" "/int/mappingType/{id}", "mapping", "Rename a mapping type", &[], Some("NamedRow"), Answer::One("NamedRow")),
    ep!("delete" "/int/mappingType/{id}", "mapping", "Void a mapping type", &[], None, Answer::One("NamedRow")),
    ep!("get" "/int/errorType", "errors", "Error types with their required actions", PAGED_IDS, None, Answer::Page("ErrorType")),
    ep!("post" "/int/errorType", "errors", "Create an error type", &[], Some("ErrorType"), Answer::One("ErrorType")),
    ep!("get" "/int/errorType/{id}", "errors", "One error type", &[], None, Answer::One("ErrorType")),
    ep!("put" "/int/errorType/{id}", "errors", "Update an error type", &[], Some("ErrorType"), Answer::One("ErrorType")),
    ep!("delete" "/int/errorType/{id}", "errors", "Void an error type", &[], None, Answer::One("ErrorType")),
    ep!("post" "/int/errorType/{id}/retry", "errors", "Retry now every record whose latest error is of this type", &[], None, Answer::Status(202, "Retried")),
    ep!("get" "/int/errorRecordLog", "errors", "Classified errors, newest first", PAGED, None, Answer::Page("ErrorRecordLog")),
    ep!("get" "/int/errorRecordLog/{id}", "errors", "One classified error", &[], None, Answer::One("ErrorRecordLog")),
    ep!("put" "/int/errorRecordLog/{id}", "errors", "Set processingDisabled of the error's record", &[], Some("ErrorRecordLog"), Answer::One("ErrorRecordLog")),
    ep!("post" "/int/errorRecordLog/{id}/retry", "errors", "Retry this error's record now (enqueues the error job)", &[], None, Answer::Status(202, "Retried")),
    ep!("get" "/int/errorRecordLog/search/findByEntity", "errors", "Errors whose entity id contains the text", &[("entityId", "string"), ("page", "integer"), ("size", "integer"), ("sort", "string")], None, Answer::Page("ErrorRecordLog")),
    ep!("get" "/int/errorRecordLog/search/findByErrorType", "errors", "Errors of one type", &[("errorType", "integer"), ("page", "integer"), ("size", "integer"), ("sort", "string")], None, Answer::Page("ErrorRecordLog")),
    ep!("get" "/int/errorRecordLog/search/findByStartDate", "errors", "Errors logged on or after a day (yyyy-MM-dd)", &[("startDate", "string"), ("page", "integer"), ("size", "integer"), ("sort", "string")], None, Answer::Page("ErrorRecordLog")),
    ep!("get" "/int/errorRecordLog/search/findByEndDate", "errors", "Errors logged on or before a day (yyyy-MM-dd)", &[("endDate", "string"), ("page", "integer"), ("size", "integer"), ("sort", "string")], None, Answer::Page("ErrorRecordLog")),
    ep!("get" "/int/errorRecordLog/search/find", "errors", "Errors matching every given filter", &[("startDate", "string"), ("endDate", "string"), ("errorType", "integer"), ("entityId", "string"), ("page", "integer"), ("size", "integer"), ("sort", "string")], None, Answer::Page("ErrorRecordLog")),
    ep!("get" "/int/integrationSystem", "tenancy", "The caller's integration system", PAGED_IDS, None, Answer::Page("IntegrationSystem")),
    ep!("get" "/int/integrationSystem/{id}", "tenancy", "One integration system", &[], None, Answer::One("IntegrationSystem")),
    ep!("get" "/int/user", "tenancy", "Users of the caller's integration system", PAGED_IDS, None, Answer::Page("User")),
    ep!("post" "/int/user", "tenancy", "Create a user", &[], Some("NewUser"), Answer::One("User")),
    ep!("get" "/int/user/{id}", "tenancy", "One user", &[], None, Answer::One("User")),
    ep!("put" "/int/user/{id}", "tenancy", "Update a user", &[], Some("NewUser"), Answer::One("User")),
    ep!("delete" "/int/user/{id}", "tenancy", "Void a user and end their sessions", &[], None, Answer::One("User")),
    ep!("get" "/int/export", "bundle", "The tenant's mappings, error types and configs as <system>.zip (secrets blanked)", &[], None, Answer::Zip),
    ep!("post" "/int/import", "bundle", "Upsert a bundle by uuid (multipart field bundleZip); never overwrites secrets", &[], Some("BundleUpload"), Answer::One("Imported")),
    ep!("get" "/int/jobs", "jobs", "Job history, newest first", &[("module", "string"), ("kind", "string"), ("state", "string"), ("startDate", "string"), ("endDate", "string"), ("page", "integer"), ("size", "integer"), ("sort", "string")], None, Answer::Page("Job")),
    ep!("get" "/int/jobs/{id}", "jobs", "One job", &[], None, Answer::One("Job")),
    ep!("post" "/int/jobs/run", "jobs", "Run a module's regular or error job now", &[], Some("RunNow"), Answer::Status(202, "Enqueued")),
    ep!("get" "/int/modules", "jobs", "The tenant's modules: schedules and pause state", &[], None, Answer::Array("ModuleState")),
    ep!("post" "/int/modules/{module}/pause", "jobs", "Pause a module's schedules for the tenant", &[], None, Answer::One("ModuleState")),
    ep!("post" "/int/modules/{module}/resume", "jobs", "Resume a module's schedules for the tenant", &[], None, Answer::One("ModuleState")),
    ep!("get" "/int/queues", "jobs", "Messages waiting per queue, and dead letters", &[], None, Answer::Array("QueueDepth")),
    ep!("get" "/goonj/tasktype", "goonj", "The Goonj tasks an ad-hoc task may run", &[], None, Answer::Array("TaskName")),
    ep!("get" "/goonj/v1/task", "goonj", "The tenant's ad-hoc tasks", &[], None, Answer::Array("AdhocTask")),
    ep!("post" "/goonj/v1/task", "goonj", "Schedule an ad-hoc task (times yyyy-MM-dd HH:mm:ss IST)", &[], Some("NewAdhocTask"), Answer::Status(201, "AdhocTask")),
    ep!("get" "/goonj/v1/task/{uuid}", "goonj", "One ad-hoc task", &[], None, Answer::One("AdhocTask")),
    ep!("delete" "/goonj/v1/task/{uuid}", "goonj", "Cancel an ad-hoc task", &[], None, Answer::Status(202, "Deleted")),
];

fn schemas() -> Value {
    let s = |t: &str| json!({ "type": t });
    let ns = |t: &str| json!({ "type": t, "nullable": true });
    json!({
        "LoginForm": { "type": "object", "required": ["email", "password"],
            "properties": { "email": s("string"), "password": s("string") } },
        "LoggedOut": { "type": "object", "properties": { "loggedOut": s("boolean") } },
        "User": { "type": "object", "properties": { "id": s("integer"), "uuid": s("string"),
            "email": s("string"), "workingIntegrationSystemId": s("integer"), "voided": s("boolean") } },
        "NewUser": { "type": "object", "required": ["email", "workingIntegrationSystemId"],
            "properties": { "email": { "type": "string", "maxLength": 250 },
                "workingIntegrationSystemId": s("integer"), "password": s("string") } },
        "MappingMetadata": { "type": "object", "properties": { "id": s("integer"),
            "uuid": s("string"), "mappingGroup": s("integer"), "mappingType": s("integer"),
            "intSystemValue": { "type": "string", "maxLength": 250 },
            "avniValue": { "type": "string", "maxLength": 250 },
            "dataTypeHint": { "type": "string", "nullable": true,
                "enum": ["Coded", "Date", "Numeric", "Text", "Boolean", "NA", "DateTime", null] },
            "about": { "type": "string", "maxLength": 1000, "nullable": true },
            "voided": s("boolean"), "integrationSystemId": s("integer") } },
        "NamedRow": { "type": "object", "required": ["name"], "properties": { "id": s("integer"),
            "uuid": s("string"), "name": { "type": "string", "maxLength": 250 },
            "voided": s("boolean"), "integrationSystemId": s("integer") } },
        "ErrorType": { "type": "object", "required": ["name"], "properties": { "id": s("integer"),
            "uuid": s("string"), "name": { "type": "string", "maxLength": 250 },
            "comparisonOperator": { "type": "string", "nullable": true, "enum": ["EQUALS", "CONTAINS", "MATCHES", null] },
            "comparisonValue": ns("string"),
            "followUpStep": { "type": "string", "enum": ["Process", "Terminal", "Internal", "External"] },
            "requiredAction": ns("string"), "voided": s("boolean"), "integrationSystemId": s("integer") } },
        "ErrorRecordLog": { "type": "object", "properties": { "id": s("integer"),
            "errorType": s("integer"), "errorTypeName": s("string"), "requiredAction": ns("string"),
            "loggedAt": s("string"), "avniEntityType": ns("string"), "integratingEntityType": ns("string"),
            "entityId": s("string"), "errorMsg": ns("string"), "errorBody": {},
            "processingDisabled": s("boolean"), "retryCount": s("integer"), "nextRetryAt": ns("string"),
            "gaveUpAt": ns("string"), "integrationSystem": s("integer"), "integrationSystemInstance": s("string") } },
        "Retried": { "type": "object", "properties": { "retried": s("integer"),
            "job": ns("integer"), "alreadyRunning": s("boolean") } },
        "IntegrationSystem": { "type": "object", "properties": { "id": s("integer"),
            "type": s("string"), "instanceName": s("string") } },
        "BundleUpload": { "type": "object", "properties": { "bundleZip": { "type": "string", "format": "binary" } } },
        "Imported": { "type": "object", "additionalProperties": s("integer") },
        "Job": { "type": "object", "properties": { "id": s("integer"), "module": s("string"),
            "kind": { "type": "string", "enum": ["regular", "error"] }, "trigger": s("string"),
            "state": { "type": "string", "enum": ["scheduled", "queued", "running", "succeeded", "failed", "dead"] },
            "attempt": s("integer"), "parentJobId": ns("integer"), "scheduledAt": s("string"),
            "queuedAt": ns("string"), "startedAt": ns("string"), "finishedAt": ns("string"),
            "durationMs": ns("integer"), "recordsSynced": s("integer"), "recordsFailed": s("integer"),
            "lastError": ns("string"), "leaseOwner": ns("string") } },
        "RunNow": { "type": "object", "required": ["module", "kind"], "properties": {
            "module": s("string"), "kind": { "type": "string", "enum": ["regular", "error"] } } },
        "Enqueued": { "type": "object", "properties": { "job": s("integer") } },
        "ModuleState": { "type": "object", "properties": { "module": s("string"),
            "paused": s("boolean"), "pausedAt": ns("string"), "pausedBy": ns("string"),
            "regularCron": ns("string"), "errorCron": ns("string"),
            "regularLastFiredAt": ns("string"), "errorLastFiredAt": ns("string"),
            "regularSkippedCount": s("integer"), "errorSkippedCount": s("integer"),
            "regularLastSkippedAt": ns("string"), "errorLastSkippedAt": ns("string"),
            "skipReason": ns("string") } },
        "QueueDepth": { "type": "object", "properties": { "queue": s("string"),
            "module": s("string"), "kind": s("string"), "messages": s("integer"),
            "consumers": ns("integer"), "deadLetter": s("boolean"), "exists": s("boolean") } },
        "TaskName": s("string"),
        "NewAdhocTask": { "type": "object", "required": ["task", "triggerDateTime", "cutOffDateTime"],
            "properties": { "task": s("string"), "taskConfig": { "type": "object" },
                "triggerDateTime": s("string"), "cutOffDateTime": s("string") } },
        "AdhocTask": { "type": "object", "properties": { "uuid": s("string"), "task": s("string"),
            "taskConfig": {}, "triggerDateTime": s("string"), "cutOffDateTime": s("string"),
            "status": { "type": "string", "enum": ["CREATED", "COMPLETED", "ERROR"] } } },
        "Deleted": s("string"),
        "FieldErrors": { "type": "object", "description": "400: {field: message}",
            "additionalProperties": s("string") },
        "Error": { "type": "object", "properties": { "error": s("string") } },
    })
}

fn schema_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn success(answer: Answer) -> (String, Value) {
    let json_of =
        |schema: Value| json!({ "content": { "application/json": { "schema": schema } } });
    match answer {
        Answer::One(name) => (
            "200".into(),
            json_of(schema_ref(name)).with_description("OK"),
        ),
        Answer::Array(name) => (
            "200".into(),
            json_of(json!({ "type": "array", "items": schema_ref(name) })).with_description("OK"),
        ),
        Answer::Page(name) => (
            "200".into(),
            json_of(json!({ "oneOf": [
                { "type": "object", "required": ["content", "totalElements"], "properties": {
                    "content": { "type": "array", "items": schema_ref(name) },
                    "totalElements": { "type": "integer" }, "totalPages": { "type": "integer" },
                    "size": { "type": "integer" }, "number": { "type": "integer" } } },
                { "type": "array", "items": schema_ref(name) } ] }))
            .with_description("A Spring page; a bare array when neither page nor size is given"),
        ),
        Answer::Status(code, name) => (
            code.to_string(),
            json_of(schema_ref(name)).with_description("Accepted"),
        ),
        Answer::Zip => (
            "200".into(),
            json!({ "description": "<system>.zip", "content": { "application/zip": {
                "schema": { "type": "string", "format": "binary" } } } }),
        ),
    }
}

trait WithDescription {
    fn with_description(self, text: &str) -> Value;
}

impl WithDescription for Value {
    fn with_description(mut self, text: &str) -> Value {
        if let Some(map) = self.as_object_mut() {
            map.insert("description".into(), Value::String(text.into()));
        }
        self
    }
}

fn operation(endpoint: &Endpoint) -> Value {
    let mut parameters: Vec<Value> = endpoint
        .path
        .split('/')
        .filter_map(|part| part.strip_prefix('{')?.strip_suffix('}'))
        .map(|name| {
            let kind = if name == "id" { "integer" } else { "string" };
            json!({ "name": name, "in": "path", "required": true, "schema": { "type": kind } })
        })
        .collect();
    parameters.extend(endpoint.query.iter().map(|(name, kind)| {
        json!({ "name": name, "in": "query", "required": false, "schema": { "type": kind } })
    }));
    let (code, ok) = success(endpoint.answer);
    let error = |text: &str, schema: &str| {
        json!({ "description": text,
            "content": { "application/json": { "schema": schema_ref(schema) } } })
    };
    let mut responses = Map::new();
    responses.insert(code, ok);
    responses.insert(
        "400".into(),
        error("Bad input; the body names the field", "FieldErrors"),
    );
    if endpoint.path == "/int/login" {
        responses.insert("401".into(), error("Bad credentials", "Error"));
        responses.insert("429".into(), error("Too many failed logins", "Error"));
    } else {
        responses.insert(
            "403".into(),
            error("No session, or a cross-site request", "Error"),
        );
    }
    if endpoint.path.contains('{') {
        responses.insert(
            "404".into(),
            error("Not found in the caller's integration system", "Error"),
        );
    }
    let mut op = json!({
        "tags": [endpoint.tag],
        "summary": endpoint.summary,
        "operationId": format!("{}{}", endpoint.method, endpoint.path.replace(['/', '{', '}'], "_")),
        "parameters": parameters,
        "responses": responses,
    });
    if let Some(body) = endpoint.body {
        let media = match body {
            "LoginForm" => "application/x-www-form-urlencoded",
            "BundleUpload" => "multipart/form-data",
            _ => "application/json",
        };
        op["requestBody"] = json!({ "required": true,
            "content": { media: { "schema": schema_ref(body) } } });
    }
    if endpoint.path != "/int/login" && endpoint.path != "/int/logout" {
        op["security"] = json!([{ "session": [] }]);
    }
    op
}

/// The whole document.
pub fn document() -> Value {
    let mut paths = Map::new();
    for endpoint in ENDPOINTS {
        let item = paths
            .entry(endpoint.path.to_owned())
            .or_insert_with(|| json!({}));
        item[endpoint.method] = operation(endpoint);
    }
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "avni-int admin API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The original integration-service `/int` API (Spring paging: page, size, sort=field,ASC|DESC), plus jobs, queues, pause and retry now. Log in with POST /int/login; the session cookie authenticates the rest. Every call is scoped to the user's working integration system.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas(),
            "securitySchemes": { "session": { "type": "apiKey", "in": "cookie", "name": super::session::SESSION_COOKIE } },
        },
    })
}

/// `GET /int/openapi.json` (no session needed: it holds no data).
pub async fn handler() -> Json<Value> {
    Json(document())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_schema_referenced_exists() {
        let doc = document();
        let text = doc.to_string();
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        for part in text.split("#/components/schemas/").skip(1) {
            let name: String = part.chars().take_while(|c| c.is_alphanumeric()).collect();
            assert!(schemas.contains_key(&name), "missing schema {name}");
        }
    }

    #[test]
    fn operation_ids_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for e in ENDPOINTS {
            assert!(
                seen.insert((e.method, e.path)),
                "{} {} twice",
                e.method,
                e.path
            );
        }
    }
}
