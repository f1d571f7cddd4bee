//! Adopting a database the Java service's Flyway migrations created: our migrations add what
//! is missing and change or lose nothing that was there.

use avni_int_shared::store::ledger::{self, NewJob};
use avni_int_shared::{IntegrationSystemId, JobKind, JobTrigger};
use avni_int_tests::database::TestDb;
use avni_int_tests::probe;
use sqlx::PgPool;
use std::collections::BTreeMap;

const FLYWAY_SCHEMA: &str = include_str!("../fixtures/legacy/flyway_schema.sql");
const OPERATOR_DATA: &str = include_str!("../fixtures/legacy/operator_data.sql");

/// Every row of every table, as JSON text over the columns the table had before migrating,
/// plus each sequence's position.
async fn snapshot(
    pool: &PgPool,
    columns: &BTreeMap<String, Vec<String>>,
) -> BTreeMap<String, String> {
    let mut snapshot = BTreeMap::new();
    for (table, cols) in columns {
        let list = cols
            .iter()
            .map(|c| format!("\"{c}\""))
            .collect::<Vec<_>>()
            .join(", ");
        let rows: Option<String> = sqlx::query_scalar(&format!(
            "SELECT json_agg(x ORDER BY x::text)::text FROM (SELECT {list} FROM \"{table}\") x"
        ))
        .fetch_one(pool)
        .await
        .unwrap();
        snapshot.insert(table.clone(), rows.unwrap_or_default());
    }
    let sequences: Vec<(String, Option<i64>)> = sqlx::query_as(
        "SELECT sequencename::text, last_value FROM pg_sequences WHERE schemaname = 'public'",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    for (name, value) in sequences {
        if !name.starts_with("int_") {
            snapshot.insert(format!("sequence {name}"), format!("{value:?}"));
        }
    }
    snapshot
}

async fn table_columns(pool: &PgPool) -> BTreeMap<String, Vec<String>> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT table_name::text, column_name::text FROM information_schema.columns
          WHERE table_schema = 'public' ORDER BY table_name, ordinal_position",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let mut columns: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (table, column) in rows {
        columns.entry(table).or_default().push(column);
    }
    columns
}

#[tokio::test]
async fn migrating_a_flyway_database_keeps_every_row_and_running_twice_is_a_no_op() {
    let db = TestDb::empty().await;
    sqlx::raw_sql(FLYWAY_SCHEMA)
        .execute(db.pool())
        .await
        .unwrap();
    sqlx::raw_sql(OPERATOR_DATA)
        .execute(db.pool())
        .await
        .unwrap();
    let before_columns = table_columns(db.pool()).await;
    assert!(before_columns.contains_key("error_record_log"));
    assert!(before_columns.contains_key("flyway_schema_history"));
    let before = snapshot(db.pool(), &before_columns).await;
    let mut total_rows = 0i64;
    for table in before_columns.keys() {
        let count: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM \"{table}\""))
            .fetch_one(db.pool())
            .await
            .unwrap();
        total_rows += count;
    }
    assert!(
        total_rows > 50,
        "the fixture holds real operator data ({total_rows} rows)"
    );

    db.store
        .migrate()
        .await
        .expect("migrations adopt the Flyway schema");
    let after_first = snapshot(db.pool(), &before_columns).await;
    assert_eq!(before, after_first, "no row changed or disappeared");
    let schema_after_first = table_columns(db.pool()).await;

    db.store.migrate().await.expect("running again is fine");
    assert_eq!(snapshot(db.pool(), &before_columns).await, before);
    assert_eq!(
        table_columns(db.pool()).await,
        schema_after_first,
        "second run changed nothing"
    );

    // What the migrations added is there and works on the adopted data.
    for (table, column) in [
        ("error_type", "required_action"),
        ("int_job", "lease_expires_at"),
        ("int_outbox", "payload"),
        ("int_leader_lease", "holder"),
        ("int_schedule_state", "skipped_count"),
    ] {
        assert!(
            schema_after_first[table].iter().any(|c| c == column),
            "{table}.{column} missing"
        );
    }
    let tenant: i32 = sqlx::query_scalar("SELECT min(id) FROM integration_system")
        .fetch_one(db.pool())
        .await
        .unwrap();
    let mut tx = db.pool().begin().await.unwrap();
    let job = ledger::enqueue(
        &mut tx,
        &NewJob {
            integration_system_id: IntegrationSystemId(tenant),
            module: probe::name(),
            kind: JobKind::Regular,
            trigger: JobTrigger::Manual,
            parent: None,
            resume_step: None,
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert!(job.is_some());
}

#[tokio::test]
async fn a_fresh_database_migrates_and_a_second_run_is_a_no_op() {
    let db = TestDb::empty().await;
    db.store.migrate().await.unwrap();
    let first = table_columns(db.pool()).await;
    db.store.migrate().await.unwrap();
    assert_eq!(table_columns(db.pool()).await, first);
    for table in [
        "integration_system",
        "integration_system_config",
        "integrating_entity_status",
        "mapping_group",
        "mapping_type",
        "mapping_metadata",
        "error_type",
        "error_record",
        "error_record_log",
        "users",
        "constants",
        "ignored_integrating_concept",
        "goonj_adhoc_task",
        "markers",
        "failed_events",
    ] {
        assert!(first.contains_key(table), "{table} missing");
    }
}
