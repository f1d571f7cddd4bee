//! Goonj Salesforce simulator (`contracts/goonj.md`): the OAuth password grant, the Apex REST
//! feeds the integration reads (Demands, Dispatches, Implementation Inventories, with their
//! deletions), the upserts it writes (Activities, Distributions, Dispatch receipts), the receipt
//! deletion service and the image links of dispatches. Seedable, recording every request, with
//! Salesforce's failure shapes and the shared fault injection (`super::faults`) on every route.
//!
//! **Time.** Salesforce stores UTC: records carry `LastUpdatedDateTime` (Inventory:
//! `LastModifiedDate`) as seeded, or `yyyy-MM-ddTHH:mm:ss.SSSZ` (UTC) when the sim stamps it.
//! The feeds' cursor parameter (`dateTimestamp`, Inventory `dateTimeStamp`) is read as an
//! **IST wall clock without zone** (`yyyy-MM-ddTHH:mm:ss`, optional fraction, `T` or space):
//! `2023-06-01T15:45:30` is `2023-06-01T10:15:30Z`. A cursor carrying a zone (`Z`, `+05:30`) is
//! rejected with 400, so an integration that echoes the UTC digits (or sends UTC) is caught: it
//! would re-read 5½ hours of records. Comparison is at whole seconds (the cursor's precision):
//! a record is returned iff its timestamp truncated to the second is strictly after the cursor
//! truncated to the second. Deletions likewise compare their deletion time.
//!
//! **Paging.** A feed answers at most `page_limit` (default 200) changed records, oldest first
//! (ties in insertion order); deletion lists are not capped. The integration pages by moving its
//! cursor to each record's timestamp; records sharing the 200th record's second that did not fit
//! are skipped by the next strictly-after page, as with the real Apex.
//!
//! **Upserts** are all-or-none per request: one stored record per key (`SourceId`, Distribution
//! `sourceId`); a repeat merges into it like a Salesforce upsert: fields sent overwrite, fields
//! omitted keep their old value, and child lists keyed by `SourceId`/`sourceId`/`ActivitySourceId`
//! are upserted line by line (lines not sent stay: only delete-and-recreate removes them).
//! Checked in order: JSON, list present, `batch_limit`, key present (`REQUIRED_FIELD_MISSING`),
//! identical elements in the list or in a child list across the request (`System.ListException:
//! … two identically equal elements`), repeated keys (`DUPLICATE_EXTERNAL_ID`), then the
//! [`Rejection`] rules. Success is 200 `[{"Id", <key>, "created", "success": true}]`.
//!
//! **Single fetch** (`demandId`, `dispatchStatusId`, `inventoryId`) ignores the cursor and
//! filters: zero or one record, and its id in the deleted list if it was deleted (line
//! deletions are not listed). The receipt deletion service answers 404 `NOT_FOUND` when none
//! of the ids exists (the integration ignores its errors).

pub mod generate;
mod routes;
mod store;
#[cfg(test)]
mod tests;

use crate::sim::faults::Faults;
use axum::body::Bytes;
use axum::Router;
use chrono::{DateTime, FixedOffset, NaiveDateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use store::{Feed, Upserts, DEMAND, DISPATCH, INVENTORY};

/// Path of the OAuth token endpoint.
pub const AUTH_PATH: &str = "/services/oauth2/token";
/// Path prefix of the Apex REST application (`{app}` in goonj.md).
pub const APP_PATH: &str = "/services/apexrest/v1";
/// Path prefix of the image links handed out by [`GoonjSim::add_image`].
pub const IMAGE_PATH: &str = "/sfc/servlet.shepherd/version/download";

#[derive(Debug, Clone)]
pub struct GoonjSimConfig {
    pub username: String,
    pub password: String,
    pub client_id: String,
    pub client_secret: String,
    /// A token is accepted for this long after it was issued (zero: never).
    pub token_ttl: Duration,
    /// Max records per upsert request; more answers 400 `LIMIT_EXCEEDED`.
    pub batch_limit: usize,
    /// Max changed records per feed response.
    pub page_limit: usize,
}

impl Default for GoonjSimConfig {
    /// The contract's defaults (`goonj-main-dummy` credentials), Salesforce's default 2 h
    /// session, 200-record batches and pages.
    fn default() -> Self {
        GoonjSimConfig {
            username: "goonj-main-dummy".into(),
            password: "goonj-main-dummy".into(),
            client_id: "goonj-main-dummy".into(),
            client_secret: "goonj-main-dummy".into(),
            token_ttl: Duration::from_secs(2 * 3600),
            batch_limit: 200,
            page_limit: 200,
        }
    }
}

/// One request as the sim received it (faulted ones included, with the status they got).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    /// The JSON body; a form body (the OAuth call) as an object with `password` and
    /// `client_secret` masked; other bodies as a string; `null` when empty.
    pub body: Value,
    /// The status answered; `None` while in flight (or hung by a fault).
    pub status: Option<u16>,
    pub at: DateTime<Utc>,
}

/// Makes upserts fail like Salesforce does. A rule matches a record whose `field` (at the top
/// level or in any element of a child list) equals `value`, or has `value` as one of its
/// `;`-separated parts (multi-select picklists); `value` `*` matches any non-null value. The
/// answer is `status` (Salesforce answers failures as 200 or 400 depending on the service) with
/// `[{"errorCode": error_code, "message": "Upsert failed. First exception on row N; first
/// error: <error_code>, <message>: [<field>]"}]`, and nothing of the request is stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    pub field: String,
    pub value: String,
    pub error_code: String,
    pub message: String,
    pub status: u16,
    /// Only upserts whose path contains this (e.g. `upsertActivity`); all when unset.
    pub path_contains: Option<String>,
}

impl Default for Rejection {
    fn default() -> Self {
        Rejection {
            field: String::new(),
            value: "*".into(),
            error_code: "FIELD_CUSTOM_VALIDATION_EXCEPTION".into(),
            message: String::new(),
            status: 400,
            path_contains: None,
        }
    }
}

impl Rejection {
    /// `INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST, bad value for restricted picklist field: <value>`.
    pub fn picklist(field: &str, value: &str) -> Self {
        Rejection {
            field: field.into(),
            value: value.into(),
            error_code: "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST".into(),
            message: format!("bad value for restricted picklist field: {value}"),
            ..Rejection::default()
        }
    }

    /// `FIELD_CUSTOM_VALIDATION_EXCEPTION, <rule>` for records where `field` = `value`.
    pub fn validation(field: &str, value: &str, rule: &str) -> Self {
        Rejection {
            field: field.into(),
            value: value.into(),
            error_code: "FIELD_CUSTOM_VALIDATION_EXCEPTION".into(),
            message: rule.into(),
            ..Rejection::default()
        }
    }

    /// Answer with this HTTP status (200 models the services that report errors in a 200).
    pub fn with_status(mut self, status: u16) -> Self {
        self.status = status;
        self
    }

    /// Only for upserts whose path contains `path`.
    pub fn on(mut self, path: &str) -> Self {
        self.path_contains = Some(path.into());
        self
    }
}

/// The simulator: cheap to clone, all clones share one state.
#[derive(Clone)]
pub struct GoonjSim {
    pub base_url: String,
    shared: Arc<Shared>,
}

pub(crate) struct Shared {
    config: GoonjSimConfig,
    base_url: String,
    faults: Faults,
    requests: AtomicU64,
    inner: Mutex<Inner>,
}

pub(crate) struct Inner {
    demands: Feed,
    dispatches: Feed,
    inventories: Feed,
    /// (deleted at, line id, dispatch id)
    deleted_lines: Vec<(DateTime<Utc>, String, String)>,
    activities: Upserts,
    distributions: Upserts,
    receipts: Upserts,
    tokens: HashMap<String, Instant>,
    images: HashMap<String, (String, Bytes)>,
    rejections: Vec<Rejection>,
    log: Vec<RecordedRequest>,
    clock: Option<DateTime<Utc>>,
    /// Random per sim, so two sims never hand out the same ids.
    tag: String,
    next_id: u64,
}

impl Inner {
    fn now(&self) -> DateTime<Utc> {
        self.clock.unwrap_or_else(now_ms)
    }

    /// An 18-character Salesforce-looking id: key prefix (5), sim tag (4), counter, `EAx`.
    fn new_id(&mut self, prefix: &str) -> String {
        self.next_id += 1;
        format!("{prefix}{}{:06}EAG", self.tag, self.next_id)
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Only a test assertion can panic while holding this lock; the state stays usable.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl GoonjSim {
    /// Serves on `127.0.0.1:0`.
    pub async fn start(config: GoonjSimConfig) -> GoonjSim {
        GoonjSim::start_at(config, "127.0.0.1:0").await
    }

    /// Serves on `addr` (the demo binary picks a fixed port).
    pub async fn start_at(config: GoonjSimConfig, addr: &str) -> GoonjSim {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .unwrap_or_else(|e| panic!("Goonj simulator cannot bind {addr}: {e}"));
        let local = listener
            .local_addr()
            .expect("bound listener has an address");
        let sim = GoonjSim::new(config, format!("http://{local}"));
        let app = sim.router();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        sim
    }

    /// A sim that is not served yet; `base_url` is what it puts in token responses and image
    /// links. Serve [`GoonjSim::router`] there.
    pub fn new(config: GoonjSimConfig, base_url: String) -> GoonjSim {
        let tag = generate::random_alnum(4);
        let inner = Inner {
            demands: Feed::new(&DEMAND),
            dispatches: Feed::new(&DISPATCH),
            inventories: Feed::new(&INVENTORY),
            deleted_lines: Vec::new(),
            activities: Upserts::new(),
            distributions: Upserts::new(),
            receipts: Upserts::new(),
            tokens: HashMap::new(),
            images: HashMap::new(),
            rejections: Vec::new(),
            log: Vec::new(),
            clock: None,
            tag,
            next_id: 0,
        };
        GoonjSim {
            base_url: base_url.clone(),
            shared: Arc::new(Shared {
                config,
                base_url,
                faults: Faults::default(),
                requests: AtomicU64::new(0),
                inner: Mutex::new(inner),
            }),
        }
    }

    /// All routes, with fault injection and request recording applied.
    pub fn router(&self) -> Router {
        routes::router(self.shared.clone())
    }

    pub fn faults(&self) -> Faults {
        self.shared.faults.clone()
    }

    pub fn config(&self) -> &GoonjSimConfig {
        &self.shared.config
    }

    /// `{base}/services/oauth2/token`
    pub fn auth_url(&self) -> String {
        format!("{}{AUTH_PATH}", self.base_url)
    }

    /// `{base}/services/apexrest/v1`
    pub fn app_url(&self) -> String {
        format!("{}{APP_PATH}", self.base_url)
    }

    /// Fixes the sim's clock (deletion times, timestamps stamped on records seeded without
    /// one); `None` goes back to the real clock. Token expiry always uses the real clock.
    pub fn set_now(&self, now: Option<DateTime<Utc>>) {
        self.shared.lock().clock = now;
    }

    // ---- Demands ----

    /// Adds or replaces a Demand (by `DemandId`, required). Without `LastUpdatedDateTime` it is
    /// stamped with the sim's clock. Re-seeding a deleted id undeletes it.
    pub fn seed_demand(&self, demand: Value) {
        let mut inner = self.shared.lock();
        let now = inner.now();
        inner.demands.put(demand, now);
    }

    /// `n` realistic Demands updated at `start`, `start`+1 s, …; returns their ids in order.
    pub fn seed_demands(&self, n: usize, start: DateTime<Utc>) -> Vec<String> {
        let mut inner = self.shared.lock();
        (0..n)
            .map(|i| {
                let id = inner.new_id("a0B5j");
                let at = start + chrono::Duration::seconds(i as i64);
                inner.demands.put(generate::demand(&id, i, at), at)
            })
            .collect()
    }

    /// Removes the Demand; it is listed in `DeletedDemands` for cursors before now.
    pub fn delete_demand(&self, id: &str) {
        let mut inner = self.shared.lock();
        let now = inner.now();
        inner.demands.delete(id, now);
    }

    pub fn demand(&self, id: &str) -> Option<Value> {
        self.shared.lock().demands.get(id).cloned()
    }

    // ---- Dispatches ----

    /// Adds or replaces a Dispatch status (by `DispatchStatusId`); as [`GoonjSim::seed_demand`].
    pub fn seed_dispatch(&self, dispatch: Value) {
        let mut inner = self.shared.lock();
        let now = inner.now();
        inner.dispatches.put(dispatch, now);
    }

    /// `n` realistic Dispatches (1–3 line items each) updated at `start`, `start`+1 s, ….
    pub fn seed_dispatches(&self, n: usize, start: DateTime<Utc>) -> Vec<String> {
        let mut inner = self.shared.lock();
        (0..n)
            .map(|i| {
                let id = inner.new_id("a0D5j");
                let demand_id = inner.new_id("a0B5j");
                let lines: Vec<String> = (0..1 + i % 3).map(|_| inner.new_id("a0E5j")).collect();
                let at = start + chrono::Duration::seconds(i as i64);
                let dispatch = generate::dispatch(&id, &demand_id, &lines, i, at);
                inner.dispatches.put(dispatch, at)
            })
            .collect()
    }

    /// Removes the Dispatch status; listed in `DeletedObjects.DeletedDispatchStatuses`.
    pub fn delete_dispatch(&self, id: &str) {
        let mut inner = self.shared.lock();
        let now = inner.now();
        inner.dispatches.delete(id, now);
    }

    /// Removes the line from the Dispatch's `DispatchLineItems` (without touching the
    /// Dispatch's `LastUpdatedDateTime`) and lists it in `DeletedDispatchStatusLineItems`.
    pub fn delete_dispatch_line(&self, dispatch_id: &str, line_id: &str) {
        let mut inner = self.shared.lock();
        let now = inner.now();
        if let Some(Value::Array(lines)) = inner
            .dispatches
            .get_mut(dispatch_id)
            .and_then(|d| d.get_mut("DispatchLineItems"))
        {
            lines.retain(|l| l.get("DispatchLineItemId").and_then(Value::as_str) != Some(line_id));
        }
        inner
            .deleted_lines
            .retain(|(_, line, _)| line.as_str() != line_id);
        inner
            .deleted_lines
            .push((now, line_id.to_owned(), dispatch_id.to_owned()));
    }

    pub fn dispatch(&self, id: &str) -> Option<Value> {
        self.shared.lock().dispatches.get(id).cloned()
    }

    // ---- Implementation inventories ----

    /// Adds or replaces an Implementation Inventory (by `ImplementationInventoryId`); its
    /// cursor field is `LastModifiedDate`.
    pub fn seed_inventory(&self, inv: Value) {
        let mut inner = self.shared.lock();
        let now = inner.now();
        inner.inventories.put(inv, now);
    }

    /// `n` realistic inventories modified at `start`, `start`+1 s, ….
    pub fn seed_inventories(&self, n: usize, start: DateTime<Utc>) -> Vec<String> {
        let mut inner = self.shared.lock();
        (0..n)
            .map(|i| {
                let id = inner.new_id("a0I5j");
                let at = start + chrono::Duration::seconds(i as i64);
                inner.inventories.put(generate::inventory(&id, i, at), at)
            })
            .collect()
    }

    pub fn delete_inventory(&self, id: &str) {
        let mut inner = self.shared.lock();
        let now = inner.now();
        inner.inventories.delete(id, now);
    }

    pub fn inventory(&self, id: &str) -> Option<Value> {
        self.shared.lock().inventories.get(id).cloned()
    }

    // ---- Images ----

    /// Serves `bytes` as `content_type` at the returned link (to put in a Dispatch's
    /// `ImagesLink[].Link`); fetching it needs the bearer token.
    pub fn add_image(&self, image_id: &str, content_type: &str, bytes: Vec<u8>) -> String {
        self.shared.lock().images.insert(
            image_id.to_owned(),
            (content_type.to_owned(), Bytes::from(bytes)),
        );
        format!(
            "{}{IMAGE_PATH}/{}",
            self.base_url,
            urlencoding::encode(image_id)
        )
    }

    // ---- What the integration wrote ----

    /// Current Activities, one per `SourceId`, in order of first upsert.
    pub fn activities(&self) -> Vec<Value> {
        self.shared.lock().activities.all()
    }

    /// Current Distributions, one per `sourceId`.
    pub fn distributions(&self) -> Vec<Value> {
        self.shared.lock().distributions.all()
    }

    /// Current Dispatch received statuses, one per `SourceId`.
    pub fn dispatch_receipts(&self) -> Vec<Value> {
        self.shared.lock().receipts.all()
    }

    pub fn activity(&self, source_id: &str) -> Option<Value> {
        self.shared.lock().activities.get(source_id)
    }

    pub fn distribution(&self, source_id: &str) -> Option<Value> {
        self.shared.lock().distributions.get(source_id)
    }

    pub fn dispatch_receipt(&self, source_id: &str) -> Option<Value> {
        self.shared.lock().receipts.get(source_id)
    }

    /// Every POST received (OAuth included), in arrival order.
    pub fn writes(&self) -> Vec<RecordedRequest> {
        self.shared
            .lock()
            .log
            .iter()
            .filter(|r| r.method == "POST")
            .cloned()
            .collect()
    }

    /// Every request received, any method.
    pub fn recorded(&self) -> Vec<RecordedRequest> {
        self.shared.lock().log.clone()
    }

    /// Number of requests received (faulted ones included).
    pub fn requests(&self) -> u64 {
        self.shared.requests.load(Ordering::SeqCst)
    }

    // ---- Failure modes ----

    pub fn reject_when(&self, rule: Rejection) {
        self.shared.lock().rejections.push(rule);
    }

    pub fn clear_rejections(&self) {
        self.shared.lock().rejections.clear();
    }

    /// Invalidates every token issued so far: the next app call answers 401 `INVALID_SESSION_ID`.
    pub fn expire_tokens(&self) {
        self.shared.lock().tokens.clear();
    }
}

/// Now, at Salesforce's millisecond precision.
fn now_ms() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap_or(now)
}

fn ist() -> FixedOffset {
    FixedOffset::east_opt(5 * 3600 + 1800).expect("+05:30 is a valid offset")
}

/// The cursor the integration should send for `t`: its IST wall clock, `yyyy-MM-ddTHH:mm:ss`.
pub fn ist_wall_clock(t: DateTime<Utc>) -> String {
    t.with_timezone(&ist())
        .format("%Y-%m-%dT%H:%M:%S")
        .to_string()
}

/// Reads a cursor as the sim does: an IST wall clock without zone (`T` or space, optional
/// fraction). `None` for anything else, a zone included.
pub fn parse_ist_wall_clock(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim().replacen(' ', "T", 1);
    let naive = NaiveDateTime::parse_from_str(&s, "%Y-%m-%dT%H:%M:%S%.f").ok()?;
    naive
        .and_local_timezone(ist())
        .single()
        .map(|t| t.with_timezone(&Utc))
}

/// Salesforce's JSON rendering of a datetime: `yyyy-MM-ddTHH:mm:ss.SSSZ`, UTC.
pub fn sf_datetime(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// Parses a record timestamp: RFC 3339 (`Z` or offset), `+0000`-style offsets, no zone (UTC)
/// or a bare date (midnight UTC).
pub fn parse_sf_datetime(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    if let Ok(t) = DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f%z") {
        return Some(t.with_timezone(&Utc));
    }
    if let Ok(t) = NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f") {
        return Some(t.and_utc());
    }
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
}
