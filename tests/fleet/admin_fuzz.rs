//! Property-based fuzzing of the admin API, driven by its own OpenAPI document: every operation
//! gets many generated requests (ids of the caller's tenant and of another, garbage path and
//! query values, schema-built bodies with mutations, raw and oversized bodies) and every answer
//! must hold: (1) no 5xx, (2) nothing of the other tenant B (marker strings, row ids, tenant
//! ids), (3) a 4xx has a JSON body and a 400 names a field, (4) no write touches B's rows, and
//! (5) the database is consistent afterwards. The seed is fixed, so a run is reproducible;
//! `ADMIN_FUZZ_CASES` and `ADMIN_FUZZ_SEED` explore further. A failure prints the request.

mod generate;
mod world;

use avni_int_shared::IntegrationSystemId;
use avni_int_tests::admin_client::AdminClient;
use avni_int_tests::fleet::{Running, TestApp, INT_ENV};
use generate::{any_request, operations, Body, Ids, Request};
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};
use reqwest::StatusCode;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use world::{b_uuid, B_IDS, MARKER};

/// What an ad-hoc task may run (`/goonj/tasktype`).
pub const GOONJ_TASKS: [&str; 6] = [
    "GoonjDemand",
    "GoonjDispatch",
    "AvniActivity",
    "AvniDispatchReceipt",
    "AvniDistribution",
    "GoonjInventory",
];

/// The default seed: CI runs exactly these cases.
const SEED: u64 = 0x00ad_f022_2026;

/// The caller's tenant A and the other tenant B, a session of A, and what A must never see.
struct Fuzz {
    app: TestApp,
    dispatcher: Option<Running>,
    a: IntegrationSystemId,
    b: IntegrationSystemId,
    client: AdminClient,
    anonymous: reqwest::Client,
    ids: Ids,
    a_is_goonj: bool,
    b_checksum: String,
    b_uuids: Vec<String>,
    /// `(operation, status) -> count`, printed at the end.
    statuses: Mutex<BTreeMap<(String, u16), usize>>,
}

impl Fuzz {
    async fn new(system_type: &str) -> Fuzz {
        let app = TestApp::new().await;
        let a = app
            .add_tenant("fuzz-a", system_type, &[("int_env", INT_ENV)])
            .await;
        let b = app.add_tenant("fuzz-b", system_type, &[]).await;
        let pool = app.db.pool().clone();
        world::seed_a(&pool, a).await;
        world::seed_b(&pool, b).await;
        let (dispatcher, client) = app.admin_session(a).await;
        // B's own session sees its markers and ids: what A must never see is really there.
        let b_client = AdminClient::new(dispatcher.admin.unwrap());
        app.add_user("fuzz-b-ops@example.org", "secret", b).await;
        b_client.login("fuzz-b-ops@example.org", "secret").await;
        let (status, own) = b_client.get("/int/mappingMetadata/7770001").await;
        assert_eq!(status, StatusCode::OK, "{own}");
        assert!(own.to_string().to_lowercase().contains(MARKER), "{own}");
        assert!(leak(&own, a.0, false).is_some(), "{own}");
        let a_user: i32 =
            sqlx::query_scalar("SELECT id FROM users WHERE working_integration_system_id = $1")
                .bind(a)
                .fetch_one(&pool)
                .await
                .unwrap();
        let export = client
            .http
            .get(client.url("/int/export"))
            .send()
            .await
            .unwrap();
        assert_eq!(export.status(), StatusCode::OK);
        let bundle =
            avni_int_dispatcher::admin::bundle::unzip_files(&export.bytes().await.unwrap())
                .unwrap();
        let ids = Ids {
            a: world::ids_of(&pool, a).await,
            b: world::ids_of(&pool, b).await,
            a_tenant: a.0,
            b_tenant: b.0,
            a_user,
            bundle,
        };
        let b_uuids = (1..=9)
            .flat_map(|table| (1..=3).map(move |n| b_uuid(table, n)))
            .collect();
        Fuzz {
            b_checksum: world::checksum(&pool, b).await,
            app,
            dispatcher: Some(dispatcher),
            a,
            b,
            client,
            anonymous: reqwest::Client::new(),
            ids,
            a_is_goonj: system_type == "Goonj",
            b_uuids,
            statuses: Mutex::default(),
        }
    }

    async fn send(&self, request: &Request) -> Result<(StatusCode, Vec<u8>), String> {
        let http = if request.template == "/int/login" {
            &self.anonymous
        } else {
            &self.client.http
        };
        let mut builder =
            http.request(request.method.clone(), self.client.url(&request.url_path()));
        if let Body::Raw {
            content_type,
            bytes,
        } = &request.body
        {
            if let Some(content_type) = content_type {
                builder = builder.header(reqwest::header::CONTENT_TYPE, content_type);
            }
            builder = builder.body(bytes.clone());
        }
        let answer = async {
            let response = builder.send().await.map_err(|e| format!("{e:?}"))?;
            let status = response.status();
            let bytes = response.bytes().await.map_err(|e| format!("{e:?}"))?;
            Ok::<_, String>((status, bytes.to_vec()))
        };
        tokio::time::timeout(Duration::from_secs(10), answer)
            .await
            .map_err(|_| "no answer within 10 s".to_owned())?
    }

    /// Runs one request and checks every per-request property.
    async fn case(&self, request: &Request) -> Result<(), TestCaseError> {
        let (status, bytes) = match self.send(request).await {
            Ok(answer) => answer,
            Err(e) => {
                return Err(TestCaseError::fail(format!(
                    "the request failed: {e}\n  request: {request:?}"
                )))
            }
        };
        *self
            .statuses
            .lock()
            .unwrap()
            .entry((
                format!("{} {}", request.method, request.template),
                status.as_u16(),
            ))
            .or_default() += 1;
        let shown: String = String::from_utf8_lossy(&bytes).chars().take(600).collect();
        if std::env::var_os("ADMIN_FUZZ_TRACE").is_some() {
            eprintln!("TRACE {request:?}\n  -> {status} {shown}");
        }
        let fail = |why: String| {
            TestCaseError::fail(format!(
                "{why}\n  request: {request:?}\n  answer: {status} {shown}"
            ))
        };
        if status.is_server_error() {
            return Err(fail("a 5xx".into()));
        }
        let json: Option<Value> = serde_json::from_slice(&bytes).ok();
        let mut texts = vec![String::from_utf8_lossy(&bytes).to_lowercase()];
        let mut trees: Vec<Value> = json.iter().cloned().collect();
        if request.template == "/int/export" && status.is_success() {
            let entries = avni_int_dispatcher::admin::bundle::unzip_files(&bytes)
                .map_err(|e| fail(format!("the export is no zip: {e}")))?;
            for (_, entry) in entries {
                texts.push(String::from_utf8_lossy(&entry).to_lowercase());
                trees.extend(serde_json::from_slice::<Value>(&entry).ok());
            }
        }
        if texts.iter().any(|text| text.contains(MARKER)) {
            return Err(fail(
                "(2) the answer holds the other tenant's marker".into(),
            ));
        }
        let integration_system =
            request.template.starts_with("/int/integrationSystem") && status.is_success();
        for tree in &trees {
            if let Some(leak) = leak(tree, self.a.0, integration_system) {
                return Err(fail(format!("(2) {leak}")));
            }
            for uuid in uuids_in(tree) {
                if self.b_uuids.contains(&uuid)
                    && !world::owns_uuid(self.app.db.pool(), self.a, &uuid).await
                {
                    return Err(fail(format!("(2) the answer holds B's row {uuid}")));
                }
            }
        }
        if status.is_client_error() {
            let Some(Value::Object(map)) = &json else {
                return Err(fail("(3) a 4xx without a JSON object body".into()));
            };
            if map.is_empty() {
                return Err(fail("(3) a 4xx with an empty JSON body".into()));
            }
            let adhoc = map.contains_key("messages") && request.template.starts_with("/goonj");
            if status == StatusCode::BAD_REQUEST
                && !adhoc
                && (map.contains_key("error") || !map.values().all(Value::is_string))
            {
                return Err(fail("(3) a 400 that names no field".into()));
            }
            let goonj_refused = request.template.starts_with("/goonj") && !self.a_is_goonj;
            if status == StatusCode::FORBIDDEN && !goonj_refused {
                return Err(fail(
                    "a 403 for a logged-in user: the session was lost".into(),
                ));
            }
        }
        if !request.is_read() {
            let now = world::checksum(self.app.db.pool(), self.b).await;
            if now != self.b_checksum {
                return Err(fail("(4) the other tenant's rows changed".into()));
            }
        }
        Ok(())
    }

    /// Property (5) and a last look at B's rows and A's session.
    async fn finish(mut self) {
        let pool = self.app.db.pool();
        for (what, sql) in world::INCONSISTENCIES {
            let count: i64 = sqlx::query_scalar(sql).fetch_one(pool).await.unwrap();
            assert_eq!(count, 0, "(5) {what}: {count} rows");
        }
        assert_eq!(world::checksum(pool, self.b).await, self.b_checksum);
        let (status, me) = self.client.get("/int/currentUser").await;
        assert_eq!(status, StatusCode::OK, "the session lasted the run: {me}");
        if let Some(dispatcher) = self.dispatcher.take() {
            dispatcher.stop().await;
        }
    }
}

/// A returned row of B: an `id`/`job` in B's id range, or a tenant id that is not A's.
fn leak(value: &Value, a: i32, integration_system: bool) -> Option<String> {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                let n = v.as_i64();
                match (key.as_str(), n) {
                    ("id" | "job" | "parentJobId", Some(n)) if B_IDS.contains(&n) => {
                        return Some(format!("`{key}: {n}` is a row of the other tenant"))
                    }
                    (
                        "integrationSystemId" | "integrationSystem" | "workingIntegrationSystemId",
                        Some(n),
                    ) if n != i64::from(a) => {
                        return Some(format!("`{key}: {n}` is not the caller's tenant"))
                    }
                    ("id", Some(n)) if integration_system && n != i64::from(a) => {
                        return Some(format!("integration system {n} is not the caller's"))
                    }
                    _ => {}
                }
                if let Some(found) = leak(v, a, integration_system) {
                    return Some(found);
                }
            }
            None
        }
        Value::Array(items) => items.iter().find_map(|v| leak(v, a, integration_system)),
        _ => None,
    }
}

/// The values of `uuid` and `…Uuid` keys, lower-cased.
fn uuids_in(value: &Value) -> Vec<String> {
    match value {
        Value::Object(map) => map
            .iter()
            .flat_map(|(key, v)| match v {
                Value::String(s) if key == "uuid" || key.ends_with("Uuid") => {
                    vec![s.to_lowercase()]
                }
                _ => uuids_in(v),
            })
            .collect(),
        Value::Array(items) => items.iter().flat_map(uuids_in).collect(),
        _ => Vec::new(),
    }
}

/// Runs `cases` generated requests over the operations under `prefixes` for a tenant A of
/// `system_type`, then checks the database.
fn fuzz(system_type: &str, prefixes: &[&str], cases: u32) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let started = Instant::now();
    let fuzz = runtime.block_on(Fuzz::new(system_type));
    let (_, doc) = runtime.block_on(fuzz.client.get("/int/openapi.json"));
    // Logging out would end the session the run needs; admin_auth covers it.
    let mut ops = operations(&doc, prefixes);
    ops.retain(|op| op.template != "/int/logout");
    assert!(!ops.is_empty());
    let strategy = any_request(&fuzz.ids, &ops);
    let env = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok());
    let config = Config {
        cases: env("ADMIN_FUZZ_CASES").map_or(cases, |n| n as u32),
        failure_persistence: None,
        max_shrink_iters: 200,
        ..Config::default()
    };
    let mut seed = [0u8; 32];
    seed[..8].copy_from_slice(&env("ADMIN_FUZZ_SEED").unwrap_or(SEED).to_le_bytes());
    let mut runner =
        TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &seed));
    // ADMIN_FUZZ_KEEP_GOING=1 lists every failing request instead of shrinking the first.
    let keep_going = std::env::var_os("ADMIN_FUZZ_KEEP_GOING").is_some();
    let failures = Mutex::new(Vec::new());
    let result = runner.run(&strategy, |request| {
        let outcome = runtime.block_on(fuzz.case(&request));
        match outcome {
            Err(failure) if keep_going => {
                failures.lock().unwrap().push(failure.to_string());
                Ok(())
            }
            other => other,
        }
    });
    let failures = failures.into_inner().unwrap();
    let statuses = std::mem::take(&mut *fuzz.statuses.lock().unwrap());
    let total: usize = statuses.values().sum();
    eprintln!(
        "admin fuzz ({system_type}): {} operations, {total} requests in {:.1} s",
        ops.len(),
        started.elapsed().as_secs_f64()
    );
    for ((op, status), count) in &statuses {
        eprintln!("  {op:<50} {status} x{count}");
    }
    for failure in &failures {
        eprintln!("FAILED: {failure}");
    }
    assert!(failures.is_empty(), "{} failing requests", failures.len());
    if let Err(error) = result {
        panic!("{error}");
    }
    let operations_hit: std::collections::BTreeSet<_> = statuses.keys().map(|(op, _)| op).collect();
    assert_eq!(
        operations_hit.len(),
        ops.len(),
        "every operation was fuzzed"
    );
    runtime.block_on(fuzz.finish());
}

#[test]
fn admin_fuzz_every_operation_keeps_tenants_apart_and_never_fails() {
    fuzz(
        avni_int_tests::probe::SYSTEM_TYPE,
        &["/int/", "/goonj/"],
        2_000,
    );
}

#[test]
fn admin_fuzz_goonj_adhoc_tasks_of_a_goonj_tenant() {
    fuzz("Goonj", &["/goonj/"], 600);
}

/// The requests the fuzzer found answered with a 5xx or a body that was not JSON, each with
/// the answer it gets now.
#[tokio::test]
async fn admin_fuzz_regressions_answer_4xx_with_json() {
    let app = TestApp::new().await;
    let a = app
        .add_tenant("fuzz-a", "Goonj", &[("int_env", INT_ENV)])
        .await;
    let (dispatcher, client) = app.admin_session(a).await;
    let raw = |method: reqwest::Method, path: &str, content_type: &str, body: &'static str| {
        let client = client.clone();
        let path = path.to_owned();
        let content_type = content_type.to_owned();
        async move {
            client
                .send_raw(method, &path, &content_type, body.to_owned())
                .await
        }
    };
    use reqwest::Method;
    let cases = [
        // NUL reached Postgres: 500.
        (
            raw(
                Method::POST,
                "/int/login",
                "application/x-www-form-urlencoded",
                "email=%00&password=x",
            )
            .await,
            400,
            "email",
        ),
        (
            client
                .get("/int/mappingMetadata/search/findByAvniValue?avniValue=%00&page=2")
                .await,
            400,
            "avniValue",
        ),
        (
            client
                .get("/int/errorRecordLog/search/find?entityId=a%00")
                .await,
            400,
            "entityId",
        ),
        (client.get("/goonj/v1/task/a%00b").await, 404, "messages"),
        (client.delete("/goonj/v1/task/%00").await, 404, "messages"),
        // Days Postgres cannot hold: 500.
        (
            client
                .get("/int/errorRecordLog/search/findByStartDate?startDate=-4713-01-01")
                .await,
            400,
            "startDate",
        ),
        (
            client.get("/int/jobs?endDate=-4713-01-01").await,
            400,
            "endDate",
        ),
        // axum's own rejections were plain text or empty.
        (client.get("/int/mappingMetadata/%C3%28").await, 400, "id"),
        (client.delete("/goonj/v1/task/%ff").await, 400, "uuid"),
        (
            raw(Method::POST, "/int/login", "application/json", "{}").await,
            415,
            "error",
        ),
        (client.get("/goonj/no/such/route").await, 404, "error"),
    ];
    for (i, ((status, body), expected, field)) in cases.into_iter().enumerate() {
        assert_eq!(status.as_u16(), expected, "case {i}: {body}");
        assert!(body.get(field).is_some(), "case {i}: {body} names {field}");
    }
    dispatcher.stop().await;
}
