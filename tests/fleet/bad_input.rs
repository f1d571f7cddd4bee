//! The bad-input corpus (issue 6): for each Salesforce feed and each Avni read, responses that
//! are truncated, of the wrong shape, with wrong types, missing keys, unknown enum values,
//! invalid or zone-less dates, 10 MB strings and lying page totals. A bad record becomes a
//! classified error with its payload, the cursor moving past it; a bad response is retried
//! within the job or fails the job cleanly (Bugsnag, cursor unchanged) until it passes.

mod avni;
mod memory;
mod salesforce;

use avni_int_shared::store::errors::keyless_entity_id;
use avni_int_shared::JobKind;
use avni_int_tests::goonj_world::{ErrorRow, GoonjWorld};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

/// A 10 MB string field.
fn huge() -> String {
    "x".repeat(10 * 1024 * 1024)
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    /// The record is in Avni.
    Synced,
    /// A classified error of this type, payload = the record.
    Error(&'static str),
}

type Mutation = Box<dyn Fn(&mut Map<String, Value>)>;

/// The error job leaves the error of a record that had no id (`(no DemandId) …`) as it is, for
/// a human to fix at the source: with nothing to fetch it by, it must neither delete it as gone
/// nor record it as deleted in Avni.
async fn assert_error_job_keeps_keyless_errors(w: &GoonjWorld, id_field: &str) {
    // The errors of this feed's keyless records: "(no <id field>) <time>".
    let prefix = keyless_entity_id(id_field, "");
    let keyless = |errors: Vec<ErrorRow>| -> Vec<ErrorRow> {
        errors
            .into_iter()
            .filter(|e| e.0.starts_with(prefix.trim_end()))
            .collect()
    };
    let before = keyless(w.errors().await);
    assert_eq!(
        before.len(),
        1,
        "{id_field}: one record had no id: {before:?}"
    );
    assert_eq!(w.run_job(JobKind::Error).await, "succeeded", "{id_field}");
    assert_eq!(keyless(w.errors().await), before, "{id_field}");
}

async fn error_log_count(w: &GoonjWorld) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM error_record_log l JOIN error_record r ON r.id = l.error_record_id
          WHERE r.integration_system_id = $1",
    )
    .bind(w.tenant)
    .fetch_one(w.app.db.pool())
    .await
    .unwrap()
}

/// No job of the tenant ended with a panic.
async fn assert_no_panic(w: &GoonjWorld) {
    for job in w.app.jobs(w.tenant).await {
        let error = job.last_error.unwrap_or_default();
        assert!(!error.contains("panicked"), "job {}: {error}", job.id);
    }
}

fn whole_seconds(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(t.timestamp(), 0).unwrap()
}

/// The job failed cleanly: Bugsnag heard of it (beyond `notices` earlier notices), no panic.
async fn assert_failed_cleanly(w: &GoonjWorld, notices: usize) {
    avni_int_tests::poll::until(
        "a Bugsnag notice",
        std::time::Duration::from_secs(10),
        || async { (w.app.bugsnag.received().len() > notices).then_some(()) },
    )
    .await;
    assert_no_panic(w).await;
}

fn obs(value: Value) -> Map<String, Value> {
    value.as_object().cloned().unwrap()
}
