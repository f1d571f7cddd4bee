//! What every chaos scenario checks once the fleet is idle: each source record at its
//! destination exactly once (by idempotency key), each bad record a classified error, no job
//! left running, cursors that never moved backwards (sampled during the run), and a dead-letter
//! queue holding only what the test poisoned. The pure checks are unit-tested below, so a
//! broken invariant is known to fail them.

use super::fleet::ChaosFleet;
use super::world::{Backlog, DEMAND_ERROR, RECEIPT_ERROR};
use avni_int_shared::IntegrationSystemId;
use chrono::NaiveDateTime;
use sqlx::postgres::PgPoolOptions;
use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Polls `check` every 100 ms until it returns `Ok`; after `within` panics with `what` and the
/// last `Err` (a progress report).
pub async fn until<T, F, Fut>(what: &str, within: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let status = match check().await {
            Ok(value) => return value,
            Err(status) => status,
        };
        if tokio::time::Instant::now() >= deadline {
            panic!("timed out after {within:?} waiting for {what}; last seen: {status}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// (entity type, date time, seen ids) as read from `integrating_entity_status`.
type CursorRow = (String, Option<NaiveDateTime>, Option<String>);
/// (id, state, attempt, lease owner, last error) of a live job.
type LiveJob = (i64, String, i32, Option<String>, Option<String>);

/// One reading of one cursor row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CursorSample {
    pub entity: String,
    pub date_time: Option<NaiveDateTime>,
    /// JSON list of the IDs already read at `date_time`'s millisecond (Avni cursors).
    pub seen_ids: Option<String>,
}

/// Reads the tenant's cursors every 25 ms on a connection of its own (misses while the
/// database is down are skipped) until [`CursorWatch::finish`].
pub struct CursorWatch {
    samples: Arc<Mutex<Vec<CursorSample>>>,
    stop: CancellationToken,
    handle: tokio::task::JoinHandle<()>,
}

impl CursorWatch {
    pub fn start(database_url: &str, tenant: IntegrationSystemId) -> Self {
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(1))
            .connect_lazy(database_url)
            .unwrap();
        let samples = Arc::new(Mutex::new(Vec::new()));
        let stop = CancellationToken::new();
        let handle = tokio::spawn({
            let (samples, stop) = (samples.clone(), stop.clone());
            async move {
                while !stop.is_cancelled() {
                    let rows: Result<Vec<CursorRow>, _> = sqlx::query_as(
                        "SELECT entity_type, read_upto_date_time, read_upto_seen_ids::text
                               FROM integrating_entity_status WHERE integration_system_id = $1
                              ORDER BY entity_type",
                    )
                    .bind(tenant)
                    .fetch_all(&pool)
                    .await;
                    if let Ok(rows) = rows {
                        let mut all = samples.lock().unwrap();
                        all.extend(rows.into_iter().map(|(entity, date_time, seen_ids)| {
                            CursorSample {
                                entity,
                                date_time,
                                seen_ids,
                            }
                        }));
                    }
                    tokio::select! {
                        _ = stop.cancelled() => {}
                        _ = tokio::time::sleep(Duration::from_millis(25)) => {}
                    }
                }
                pool.close().await;
            }
        });
        CursorWatch {
            samples,
            stop,
            handle,
        }
    }

    /// Stops sampling; panics if any cursor moved backwards or the watch saw too little to
    /// judge (every cursor must have been seen moving).
    pub async fn finish(self) {
        self.stop.cancel();
        let _ = self.handle.await;
        let samples = self.samples.lock().unwrap().clone();
        if let Some(regression) = cursor_regression(&samples) {
            panic!("a cursor moved backwards: {regression}");
        }
        let mut moves: HashMap<&str, BTreeSet<&Option<NaiveDateTime>>> = HashMap::new();
        for s in &samples {
            moves.entry(&s.entity).or_default().insert(&s.date_time);
        }
        for entity in ["Demand", "Dispatch receipt"] {
            let distinct = moves.get(entity).map_or(0, BTreeSet::len);
            assert!(
                distinct >= 3,
                "the watch saw cursor {entity:?} at only {distinct} positions: nothing to judge"
            );
        }
    }
}

fn seen_set(seen: &Option<String>) -> BTreeSet<String> {
    seen.as_deref()
        .and_then(|text| serde_json::from_str::<Vec<String>>(text).ok())
        .unwrap_or_default()
        .into_iter()
        .collect()
}

/// The first backwards move in `samples` (in the order read), per cursor: an earlier time, a
/// time going away, or at the same time IDs already read forgotten.
pub fn cursor_regression(samples: &[CursorSample]) -> Option<String> {
    let mut last: HashMap<&str, &CursorSample> = HashMap::new();
    for sample in samples {
        if let Some(previous) = last.get(sample.entity.as_str()) {
            let backwards = match (previous.date_time, sample.date_time) {
                (Some(_), None) => true,
                (Some(a), Some(b)) if b < a => true,
                (Some(a), Some(b)) if a == b => {
                    !seen_set(&previous.seen_ids).is_subset(&seen_set(&sample.seen_ids))
                }
                _ => false,
            };
            if backwards {
                return Some(format!("{previous:?} then {sample:?}"));
            }
        }
        last.insert(&sample.entity, sample);
    }
    None
}

/// `expected` all present, `forbidden` all absent, and nothing else at the destination
/// (`total` counts every record there): each source record exactly once.
pub fn exactly_once(
    what: &str,
    expected: &[String],
    forbidden: &[String],
    present: impl Fn(&str) -> bool,
    total: usize,
) -> Result<(), String> {
    let missing: Vec<&String> = expected.iter().filter(|id| !present(id)).collect();
    if !missing.is_empty() {
        return Err(format!(
            "{} of {} {what} missing at the destination, e.g. {:?}",
            missing.len(),
            expected.len(),
            &missing[..missing.len().min(5)]
        ));
    }
    let leaked: Vec<&String> = forbidden.iter().filter(|id| present(id)).collect();
    if !leaked.is_empty() {
        return Err(format!("bad {what} reached the destination: {leaked:?}"));
    }
    if total != expected.len() {
        return Err(format!(
            "{total} {what} at the destination for {} source records: duplicates under other keys",
            expected.len()
        ));
    }
    Ok(())
}

/// Waits until every good record has arrived.
pub async fn wait_for_arrival(backlog: &Backlog, within: Duration) {
    until("every good record to arrive", within, || async {
        if backlog.arrived() {
            Ok(())
        } else {
            Err(format!(
                "{}/{} demands in Avni, {}/{} receipts in Salesforce",
                backlog.demands_in_avni(),
                backlog.demands.len(),
                backlog.receipts_in_salesforce(),
                backlog.receipts.len()
            ))
        }
    })
    .await;
}

/// Stops the schedule and waits until no job of the tenant is live: nothing stuck in
/// `running` (or waiting for a message that never comes).
pub async fn wait_for_quiescence(fleet: &ChaosFleet, backlog: &Backlog, within: Duration) {
    backlog.unschedule(fleet).await;
    let unscheduled_at: chrono::DateTime<chrono::Utc> = sqlx::query_scalar("SELECT now()")
        .fetch_one(fleet.pool())
        .await
        .unwrap();
    until("every job to end", within, || async {
        let live: Vec<LiveJob> = sqlx::query_as(
            "SELECT id, state, attempt, lease_owner, last_error FROM int_job
              WHERE integration_system_id = $1 AND state IN ('scheduled', 'queued', 'running')",
        )
        .bind(backlog.tenant)
        .fetch_all(fleet.pool())
        .await
        .map_err(|e| e.to_string())?;
        // Ticks the scheduler claimed before it reloaded the crons may still be enqueued for
        // a moment after the schedule is turned off: idle means idle after that.
        let now: chrono::DateTime<chrono::Utc> = sqlx::query_scalar("SELECT now()")
            .fetch_one(fleet.pool())
            .await
            .map_err(|e| e.to_string())?;
        let settled = now - unscheduled_at > chrono::Duration::seconds(2);
        if live.is_empty() && settled {
            Ok(())
        } else {
            Err(format!(
                "live jobs (id, state, attempt, owner, error): {live:?}"
            ))
        }
    })
    .await;
}

/// Every check of an idle fleet. `poisoned`: messages the test deliberately dead-letters.
pub async fn assert_invariants(fleet: &ChaosFleet, backlog: &Backlog, poisoned: u32) {
    // Exactly once, by idempotency key.
    let demands = exactly_once(
        "demands",
        &backlog.demands,
        &backlog.bad_demands,
        |id| {
            backlog
                .avni
                .subject(id)
                .is_some_and(|s| s["Subject type"] == "Demand" && s["Voided"] == false)
        },
        backlog.demands_in_avni(),
    );
    assert_eq!(demands, Ok(()));
    let receipts = exactly_once(
        "receipts",
        &backlog.receipts,
        &backlog.bad_receipts,
        |id| {
            backlog.salesforce.dispatch_receipt(id).is_some_and(|r| {
                r["DispatchReceivedStatusLineItems"]
                    .as_array()
                    .is_some_and(|lines| lines.len() == 1)
            })
        },
        backlog.receipts_in_salesforce(),
    );
    assert_eq!(receipts, Ok(()));

    // Every per-record failure is a classified error, and only the bad records failed.
    let logged: Vec<(String, String)> = sqlx::query_as(
        "SELECT DISTINCT r.entity_id, t.name
           FROM error_record r JOIN error_record_log l ON l.error_record_id = r.id
           JOIN error_type t ON t.id = l.error_type_id
          WHERE r.integration_system_id = $1",
    )
    .bind(backlog.tenant)
    .fetch_all(fleet.pool())
    .await
    .unwrap();
    let logged: BTreeSet<(String, String)> = logged.into_iter().collect();
    let expected: BTreeSet<(String, String)> = backlog
        .bad_demands
        .iter()
        .map(|id| (id.clone(), DEMAND_ERROR.to_owned()))
        .chain(
            backlog
                .bad_receipts
                .iter()
                .map(|id| (id.clone(), RECEIPT_ERROR.to_owned())),
        )
        .collect();
    assert_eq!(logged, expected, "error records (entity, type)");
    let records: i64 =
        sqlx::query_scalar("SELECT count(*) FROM error_record WHERE integration_system_id = $1")
            .bind(backlog.tenant)
            .fetch_one(fleet.pool())
            .await
            .unwrap();
    assert_eq!(
        records as usize,
        expected.len(),
        "one error record per bad record"
    );

    // No job left running.
    let running: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM int_job WHERE integration_system_id = $1 AND state = 'running'",
    )
    .bind(backlog.tenant)
    .fetch_one(fleet.pool())
    .await
    .unwrap();
    assert_eq!(running, 0, "jobs stuck in running");

    // A scheduled tick never produced two jobs (leader hand-overs included).
    let doubled: Vec<(chrono::DateTime<chrono::Utc>, i64)> = sqlx::query_as(
        "SELECT scheduled_at, count(*) FROM int_job
          WHERE integration_system_id = $1 AND trigger = 'schedule'
          GROUP BY scheduled_at HAVING count(*) > 1",
    )
    .bind(backlog.tenant)
    .fetch_all(fleet.pool())
    .await
    .unwrap();
    assert!(doubled.is_empty(), "ticks that fired twice: {doubled:?}");

    // The dead-letter queue holds only what the test poisoned.
    assert_eq!(fleet.dead_letters().await, poisoned, "dead letters");
}

/// The tenant's live jobs and the outbox backlog, for a timed-out wait's message.
pub async fn fleet_status(fleet: &ChaosFleet, tenant: IntegrationSystemId) -> String {
    type Live = (i64, String, String, i32, Option<String>, Option<String>);
    let live: Result<Vec<Live>, _> = sqlx::query_as(
        "SELECT id, trigger, state, attempt, lease_owner, queued_at::text FROM int_job
          WHERE integration_system_id = $1 AND state IN ('scheduled', 'queued', 'running')",
    )
    .bind(tenant)
    .fetch_all(fleet.pool())
    .await;
    let outbox: Result<i64, _> = sqlx::query_scalar("SELECT count(*) FROM int_outbox")
        .fetch_one(fleet.pool())
        .await;
    let queue = fleet.topology.queue(
        &crate::goonj_world::goonj(),
        avni_int_shared::JobKind::Regular,
    );
    let broker = match avni_int_shared::broker::connect(&fleet.amqp_url, "chaos-status").await {
        Ok(conn) => {
            let answer = match conn.create_channel().await {
                Ok(channel) => channel
                    .queue_declare(
                        queue.as_str().into(),
                        lapin::options::QueueDeclareOptions {
                            passive: true,
                            ..Default::default()
                        },
                        lapin::types::FieldTable::default(),
                    )
                    .await
                    .map(|q| (q.message_count(), q.consumer_count()))
                    .map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            let _ = conn.close(200, "status".into()).await;
            answer
        }
        Err(e) => Err(e.to_string()),
    };
    format!(
        "live jobs (id, trigger, state, attempt, owner, queued at) {live:?}, outbox rows {outbox:?}, \
         {queue} (ready messages, consumers) {broker:?}"
    )
}

/// How the tenant's jobs ended, for the test's log: (state, count).
pub async fn job_summary(fleet: &ChaosFleet, tenant: IntegrationSystemId) -> Vec<(String, i64)> {
    sqlx::query_as(
        "SELECT state, count(*) FROM int_job WHERE integration_system_id = $1
          GROUP BY state ORDER BY state",
    )
    .bind(tenant)
    .fetch_all(fleet.pool())
    .await
    .unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> Option<NaiveDateTime> {
        chrono::DateTime::from_timestamp(1_700_000_000 + secs, 0).map(|t| t.naive_utc())
    }

    fn sample(entity: &str, secs: i64, seen: Option<&str>) -> CursorSample {
        CursorSample {
            entity: entity.into(),
            date_time: at(secs),
            seen_ids: seen.map(str::to_owned),
        }
    }

    #[test]
    fn cursors_moving_forward_or_gaining_ids_at_one_time_pass() {
        let samples = [
            sample("Demand", 1, None),
            sample("Dispatch receipt", 5, Some(r#"["a"]"#)),
            sample("Demand", 1, None),
            sample("Dispatch receipt", 5, Some(r#"["a", "b"]"#)),
            sample("Demand", 3, None),
            sample("Dispatch receipt", 6, Some(r#"["c"]"#)),
        ];
        assert_eq!(cursor_regression(&samples), None);
    }

    #[test]
    fn an_earlier_time_or_forgotten_ids_or_a_vanished_cursor_is_a_regression() {
        let earlier = [sample("Demand", 3, None), sample("Demand", 2, None)];
        assert!(cursor_regression(&earlier).is_some());
        let forgotten = [
            sample("Dispatch receipt", 5, Some(r#"["a", "b"]"#)),
            sample("Dispatch receipt", 5, Some(r#"["a"]"#)),
        ];
        assert!(cursor_regression(&forgotten).is_some());
        let vanished = [
            sample("Demand", 3, None),
            CursorSample {
                date_time: None,
                ..sample("Demand", 0, None)
            },
        ];
        assert!(cursor_regression(&vanished).is_some());
        // Other cursors do not mask it.
        let interleaved = [
            sample("Demand", 3, None),
            sample("Dispatch receipt", 1, None),
            sample("Demand", 2, None),
        ];
        assert!(cursor_regression(&interleaved).is_some());
    }

    #[test]
    fn exactly_once_catches_missing_leaked_and_duplicated_records() {
        let ids: Vec<String> = vec!["a".into(), "b".into()];
        let bad: Vec<String> = vec!["x".into()];
        assert_eq!(exactly_once("r", &ids, &bad, |id| id != "x", 2), Ok(()));
        assert!(exactly_once("r", &ids, &bad, |id| id == "a", 1).is_err());
        assert!(exactly_once("r", &ids, &bad, |_| true, 3).is_err());
        assert!(exactly_once("r", &ids, &bad, |id| id != "x", 3).is_err());
    }
}
