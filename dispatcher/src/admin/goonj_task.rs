//! Goonj ad-hoc tasks (`/goonj/...`, contracts/goonj.md §7): create, list, read and cancel a
//! one-off run of a single Goonj task from a cut-off. Tasks are stored; the leader's firer runs
//! them at their trigger (crate::adhoc). Answers keep the original's shapes and messages.

use super::error::ApiError;
use super::extract::JsonBody;
use super::session::CurrentUser;
use super::AdminState;
use avni_int_shared::store::adhoc_tasks::{self, AdhocTask, NewAdhocTask};
use avni_int_shared::store::tenants;
use axum::extract::{OriginalUri, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{NaiveDateTime, Utc};
use serde_json::{json, Map, Value};

pub fn routes() -> Router<AdminState> {
    Router::new()
        .route("/tasktype", get(task_types))
        .route("/v1/task", get(list).post(create))
        .route("/v1/task/{uuid}", get(one).delete(delete))
}

/// The Goonj tasks, as the worker's `GoonjTask` names them (main-job order).
pub const TASKS: [&str; 6] = [
    "GoonjDemand",
    "GoonjDispatch",
    "AvniActivity",
    "AvniDispatchReceipt",
    "AvniDistribution",
    "GoonjInventory",
];
/// Tasks reading Salesforce, filtered by these `taskConfig` keys.
const SALESFORCE_TASKS: [&str; 3] = ["GoonjDemand", "GoonjDispatch", "GoonjInventory"];
const SALESFORCE_FILTERS: [&str; 2] = ["state", "account"];
const AVNI_FILTERS: [&str; 2] = ["concepts", "locationIds"];

/// `yyyy-MM-dd HH:mm:ss`, IST wall clock.
const FORMAT: &str = "%Y-%m-%d %H:%M:%S";

const NOT_GOONJ: &str = "User's working integration system is not a Goonj system";

/// The original's `GoonjAdhocException` answer: `{messages, httpStatus, path}`.
struct AdhocError {
    status: StatusCode,
    messages: String,
    path: String,
}

impl IntoResponse for AdhocError {
    fn into_response(self) -> Response {
        // Spring writes `HttpStatus` by its enum name.
        let name = match self.status {
            StatusCode::BAD_REQUEST => "BAD_REQUEST",
            StatusCode::FORBIDDEN => "FORBIDDEN",
            StatusCode::NOT_FOUND => "NOT_FOUND",
            _ => "INTERNAL_SERVER_ERROR",
        };
        (
            self.status,
            Json(json!({"messages": self.messages, "httpStatus": name, "path": self.path})),
        )
            .into_response()
    }
}

enum TaskError {
    Api(ApiError),
    Adhoc(AdhocError),
    /// Required fields missing: 400 `{field: message}` (Spring's bean-validation shape).
    Missing(Map<String, Value>),
}

impl From<ApiError> for TaskError {
    fn from(error: ApiError) -> Self {
        TaskError::Api(error)
    }
}

impl From<avni_int_shared::store::StoreError> for TaskError {
    fn from(error: avni_int_shared::store::StoreError) -> Self {
        TaskError::Api(error.into())
    }
}

impl IntoResponse for TaskError {
    fn into_response(self) -> Response {
        match self {
            TaskError::Api(error) => error.into_response(),
            TaskError::Adhoc(error) => error.into_response(),
            TaskError::Missing(fields) => {
                (StatusCode::BAD_REQUEST, Json(Value::Object(fields))).into_response()
            }
        }
    }
}

fn adhoc(status: StatusCode, messages: impl Into<String>, uri: &OriginalUri) -> TaskError {
    TaskError::Adhoc(AdhocError {
        status,
        messages: messages.into(),
        path: uri.0.path().to_owned(),
    })
}

/// Only users working on a Goonj tenant may see or change its tasks.
async fn require_goonj(
    state: &AdminState,
    user: &CurrentUser,
    uri: &OriginalUri,
) -> Result<(), TaskError> {
    let tenant = tenants::load(state.store.pool(), user.tenant).await?;
    match tenant {
        Some(t) if t.system_type == "Goonj" => Ok(()),
        _ => Err(adhoc(StatusCode::FORBIDDEN, NOT_GOONJ, uri)),
    }
}

fn to_json(task: &AdhocTask) -> Value {
    json!({
        "uuid": task.uuid,
        "task": task.integration_task,
        "taskConfig": task.task_config,
        "triggerDateTime": task.trigger_date_time.format(FORMAT).to_string(),
        "cutOffDateTime": task.cut_off_date_time.format(FORMAT).to_string(),
        "is_voided": task.voided(),
        "status": task.status,
    })
}

async fn task_types(user: CurrentUser) -> Json<Value> {
    let _ = user;
    Json(json!(TASKS))
}

async fn list(
    State(state): State<AdminState>,
    user: CurrentUser,
    uri: OriginalUri,
) -> Result<Json<Value>, TaskError> {
    require_goonj(&state, &user, &uri).await?;
    let tasks = adhoc_tasks::list(state.store.pool(), user.tenant).await?;
    Ok(Json(Value::Array(tasks.iter().map(to_json).collect())))
}

async fn one(
    State(state): State<AdminState>,
    user: CurrentUser,
    uri: OriginalUri,
    Path(uuid): Path<String>,
) -> Result<Json<Value>, TaskError> {
    require_goonj(&state, &user, &uri).await?;
    if uuid.contains('\0') {
        return Err(no_such_task(&uuid, &uri));
    }
    match adhoc_tasks::get(state.store.pool(), user.tenant, &uuid).await? {
        Some(task) => Ok(Json(to_json(&task))),
        None => Err(no_such_task(&uuid, &uri)),
    }
}

fn no_such_task(uuid: &str, uri: &OriginalUri) -> TaskError {
    adhoc(
        StatusCode::NOT_FOUND,
        format!("There is no Goonj Adhoc Task for: {uuid}"),
        uri,
    )
}

async fn delete(
    State(state): State<AdminState>,
    user: CurrentUser,
    uri: OriginalUri,
    Path(uuid): Path<String>,
) -> Result<Response, TaskError> {
    require_goonj(&state, &user, &uri).await?;
    // No stored uuid holds NUL (Postgres text cannot): such a path names no task.
    if uuid.contains('\0') || !adhoc_tasks::void(state.store.pool(), user.tenant, &uuid).await? {
        return Err(no_such_task(&uuid, &uri));
    }
    Ok((StatusCode::ACCEPTED, "DELETED").into_response())
}

async fn create(
    State(state): State<AdminState>,
    user: CurrentUser,
    uri: OriginalUri,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, TaskError> {
    require_goonj(&state, &user, &uri).await?;
    let Value::Object(body) = body else {
        return Err(ApiError::bad("body", "must be a JSON object").into());
    };
    let new = read_body(&body, user.tenant)?;
    let messages = rules(&new, Utc::now());
    if !messages.is_empty() {
        return Err(adhoc(StatusCode::BAD_REQUEST, messages.join(" & "), &uri));
    }
    let task = adhoc_tasks::insert(state.store.pool(), &new).await?;
    tracing::info!(tenant = %user.tenant, user = %user.email, task = %task.integration_task,
        uuid = %task.uuid, trigger = %task.trigger_date_time, "Goonj ad-hoc task created");
    Ok((StatusCode::CREATED, Json(to_json(&task))).into_response())
}

/// The body's fields; missing ones answer the original's bean-validation messages, all at once.
fn read_body(
    body: &Map<String, Value>,
    tenant: avni_int_shared::IntegrationSystemId,
) -> Result<NewAdhocTask, TaskError> {
    let text = |key: &str| match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.trim().to_owned())),
        Some(_) => Err(ApiError::bad(key, "must be a string")),
    };
    let task = text("task")?;
    let trigger = text("triggerDateTime")?;
    let cut_off = text("cutOffDateTime")?;
    let mut missing = Map::new();
    for (key, value, message) in [
        ("task", &task, "task can't be null or blank"),
        (
            "triggerDateTime",
            &trigger,
            "frequency can't be null or blank",
        ),
        (
            "cutOffDateTime",
            &cut_off,
            "cutoffdatetime can't be null or blank",
        ),
    ] {
        if value.is_none() {
            missing.insert(key.to_owned(), Value::String(message.to_owned()));
        }
    }
    let (Some(task), Some(trigger), Some(cut_off)) = (task, trigger, cut_off) else {
        return Err(TaskError::Missing(missing));
    };
    let time = |key: &str, value: &str| {
        NaiveDateTime::parse_from_str(value, FORMAT)
            .map_err(|_| ApiError::bad(key, format!("must be yyyy-MM-dd HH:mm:ss, got {value:?}")))
    };
    let task_config = match body.get("taskConfig") {
        None | Some(Value::Null) => None,
        Some(config @ Value::Object(_)) => Some(config.clone()),
        Some(_) => return Err(ApiError::bad("taskConfig", "must be a JSON object").into()),
    };
    if task.chars().count() > 255 {
        return Err(ApiError::bad("task", format!("{task} is not valid task")).into());
    }
    Ok(NewAdhocTask {
        tenant,
        trigger: time("triggerDateTime", &trigger)?,
        cut_off: time("cutOffDateTime", &cut_off)?,
        task,
        task_config,
    })
}

/// The original's business rules, every failing one's message in order.
fn rules(task: &NewAdhocTask, now: chrono::DateTime<Utc>) -> Vec<String> {
    let mut messages = Vec::new();
    let now_ist = adhoc_tasks::ist_wall_clock(now);
    // Whole days between now and the trigger, truncated (Joda's `Days.daysBetween`).
    let days = (task.trigger - now_ist).num_days();
    if !(-1..=1).contains(&days) {
        messages.push("Trigger DateTime should be within range of +/- 1 day".to_owned());
    }
    let known = TASKS.contains(&task.task.as_str());
    if !known {
        messages.push(format!("{} is not valid task", task.task));
    }
    if let (true, Some(Value::Object(config))) = (known, &task.task_config) {
        let salesforce = SALESFORCE_TASKS.contains(&task.task.as_str());
        let allowed: &[&str] = if salesforce {
            &SALESFORCE_FILTERS
        } else {
            &AVNI_FILTERS
        };
        if config.keys().any(|k| !allowed.contains(&k.as_str())) {
            messages.push(format!(
                "please enter valid task config value from [{}]",
                allowed.join(", ")
            ));
        }
        for (key, value) in config {
            if allowed.contains(&key.as_str()) && !valid_value(key, value) {
                messages.push(format!(
                    "please enter valid task config entry value for key {key}"
                ));
            }
        }
    }
    messages
}

/// What the worker can use: `state`/`account` text; `locationIds` a list of UUIDs or a comma
/// list; `concepts` an object of concept name → value (or that object as JSON text).
fn valid_value(key: &str, value: &Value) -> bool {
    match (key, value) {
        (_, Value::Null) => true,
        ("state" | "account", v) => v.is_string() || v.is_number(),
        ("locationIds", Value::String(_)) => true,
        ("locationIds", Value::Array(items)) => items.iter().all(Value::is_string),
        ("concepts", Value::Object(map)) => map.values().all(|v| !v.is_object() && !v.is_array()),
        ("concepts", Value::String(s)) => {
            matches!(serde_json::from_str::<Value>(s), Ok(Value::Object(_)))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use avni_int_shared::IntegrationSystemId;

    fn task(name: &str, trigger: &str, config: Option<Value>) -> NewAdhocTask {
        NewAdhocTask {
            tenant: IntegrationSystemId(1),
            task: name.into(),
            task_config: config,
            trigger: NaiveDateTime::parse_from_str(trigger, FORMAT).unwrap(),
            cut_off: NaiveDateTime::parse_from_str("2024-01-01 00:00:00", FORMAT).unwrap(),
        }
    }

    #[test]
    fn the_trigger_may_be_up_to_a_day_either_side_in_whole_days() {
        // 2024-03-10 12:00 IST
        let now = chrono::DateTime::parse_from_rfc3339("2024-03-10T06:30:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert!(rules(&task("GoonjDemand", "2024-03-12 11:59:59", None), now).is_empty());
        assert!(rules(&task("GoonjDemand", "2024-03-08 12:00:01", None), now).is_empty());
        assert_eq!(
            rules(&task("GoonjDemand", "2024-03-12 12:00:00", None), now),
            ["Trigger DateTime should be within range of +/- 1 day"]
        );
    }

    #[test]
    fn every_failing_rule_is_reported() {
        let now = Utc::now();
        let trigger = adhoc_tasks::ist_wall_clock(now + chrono::TimeDelta::days(5))
            .format(FORMAT)
            .to_string();
        assert_eq!(
            rules(&task("None", &trigger, None), now),
            [
                "Trigger DateTime should be within range of +/- 1 day",
                "None is not valid task"
            ]
        );
        let soon = adhoc_tasks::ist_wall_clock(now).format(FORMAT).to_string();
        assert_eq!(
            rules(
                &task(
                    "GoonjDemand",
                    &soon,
                    Some(json!({"state": "Bihar", "x": 1}))
                ),
                now
            ),
            ["please enter valid task config value from [state, account]"]
        );
        assert_eq!(
            rules(
                &task("AvniActivity", &soon, Some(json!({"state": "Bihar"}))),
                now
            ),
            ["please enter valid task config value from [concepts, locationIds]"]
        );
        assert!(rules(
            &task(
                "AvniDistribution",
                &soon,
                Some(json!({"locationIds": ["a"], "concepts": {"Type": "x"}}))
            ),
            now
        )
        .is_empty());
    }
}
