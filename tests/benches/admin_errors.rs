//! Admin error list latency benchmark (not a test): 1,000,000 error logs over 20 tenants
//! (~50,000 each, ~10 error types per tenant, some records with several logs), then the admin
//! app's error list calls through a real dispatcher and a logged-in client, end to end (HTTP,
//! session check, page query and its count).
//!
//! `cargo bench -p avni-int-tests --bench admin_errors`
//! Env: BENCH_REQUESTS (300 per query kind), BENCH_LOGS (1000000).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use avni_int_shared::IntegrationSystemId;
use avni_int_tests::admin_client::AdminClient;
use avni_int_tests::fleet::TestApp;
use hdrhistogram::Histogram;
use rand::Rng;
use reqwest::StatusCode;
use std::time::Instant;

const TENANTS: i64 = 20;
const TYPES_PER_TENANT: i64 = 10;

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Tenants `bench-0..19`, their types, 70% as many records as logs (so 30% of records have
/// a second log), logs one every 30 s back from now; each record's logs are its tenant's.
fn fill_sql(logs: i64) -> String {
    let records = logs * 7 / 10;
    format!(
        "INSERT INTO integration_system (name, system_type, uuid)
         SELECT 'bench-' || t, 'probe', gen_random_uuid()::text FROM generate_series(0, {last_tenant}) t;
         CREATE TEMP TABLE bench_tenant AS
         SELECT (substr(name, 7))::int AS n, id FROM integration_system WHERE name LIKE 'bench-%';
         INSERT INTO error_type (name, integration_system_id, comparison_operator, comparison_value,
                                 follow_up_step, required_action, uuid)
         SELECT 'Type' || k, bt.id, '1', 'needle ' || k, (k % 4)::text, 'Fix thing ' || k,
                gen_random_uuid()::text
           FROM bench_tenant bt CROSS JOIN generate_series(0, {last_type}) k ORDER BY bt.n, k;
         ALTER TABLE bench_tenant ADD COLUMN type_base int;
         UPDATE bench_tenant bt SET type_base = (SELECT min(id) FROM error_type t
                                                  WHERE t.integration_system_id = bt.id);
         INSERT INTO error_record (integrating_entity_type, avni_entity_type, entity_id,
                                   processing_disabled, integration_system_id, uuid)
         SELECT CASE WHEN g % 3 = 0 THEN NULL ELSE 'Demand' END,
                CASE WHEN g % 3 = 0 THEN 'Subject' END,
                'ENT-' || g, g % 50 = 0, bt.id, md5(g::text)
           FROM generate_series(0, {last_record}) g JOIN bench_tenant bt ON bt.n = g % {TENANTS}
          ORDER BY g;
         CREATE TEMP TABLE bench_rec AS SELECT id AS base FROM error_record WHERE uuid = md5('0');
         INSERT INTO error_record_log (logged_at, error_record_id, error_type_id, error_msg,
                                       error_body, uuid)
         SELECT now()::timestamp - make_interval(secs => g * 30), br.base + (g % {records}),
                bt.type_base + (g / {TENANTS}) % {TYPES_PER_TENANT},
                'Failed on needle ' || ((g / {TENANTS}) % {TYPES_PER_TENANT}) || ' for ENT-'
                    || (g % {records}) || ': 500 : \"something went wrong on the far side\"',
                jsonb_build_object('id', g, 'name', 'record ' || g), md5('l' || g)
           FROM generate_series(0, {last_log}) g CROSS JOIN bench_rec br
           JOIN bench_tenant bt ON bt.n = (g % {records}) % {TENANTS};",
        last_tenant = TENANTS - 1,
        last_type = TYPES_PER_TENANT - 1,
        last_record = records - 1,
        last_log = logs - 1,
    )
}

struct Measured {
    name: &'static str,
    histogram: Histogram<u64>,
    total_elements: i64,
}

async fn measure(
    name: &'static str,
    clients: &[AdminClient],
    requests: u64,
    mut path: impl FnMut(usize) -> String,
) -> Measured {
    let mut histogram = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
    let mut total_elements = 0;
    let warmup = 20;
    for i in 0..(warmup + requests) as usize {
        let client = &clients[i % clients.len()];
        let path = path(i % clients.len());
        let started = Instant::now();
        let (status, body) = client.get(&path).await;
        let micros = started.elapsed().as_micros() as u64;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        assert!(
            !body["content"].as_array().unwrap().is_empty(),
            "{path} found nothing"
        );
        if i as u64 >= warmup {
            histogram.record(micros.max(1)).unwrap();
            total_elements = body["totalElements"].as_i64().unwrap();
        }
    }
    Measured {
        name,
        histogram,
        total_elements,
    }
}

fn ms(micros: u64) -> f64 {
    micros as f64 / 1000.0
}

#[tokio::main]
async fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let requests = env_num("BENCH_REQUESTS", 300);
    let logs = env_num("BENCH_LOGS", 1_000_000) as i64;

    let app = TestApp::new().await;
    let started = Instant::now();
    sqlx::raw_sql(&fill_sql(logs))
        .execute(app.db.pool())
        .await
        .unwrap();
    // As autovacuum would have by the time anyone looks: statistics and the visibility map.
    sqlx::raw_sql("VACUUM ANALYZE error_type")
        .execute(app.db.pool())
        .await
        .unwrap();
    sqlx::raw_sql("VACUUM ANALYZE error_record")
        .execute(app.db.pool())
        .await
        .unwrap();
    sqlx::raw_sql("VACUUM ANALYZE error_record_log")
        .execute(app.db.pool())
        .await
        .unwrap();
    eprintln!(
        "filled {logs} logs in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // Four tenants' users, taking turns.
    let tenants: Vec<(i32, i32)> = sqlx::query_as(
        "SELECT s.id, min(t.id) FROM integration_system s JOIN error_type t
             ON t.integration_system_id = s.id
          WHERE s.name IN ('bench-3', 'bench-8', 'bench-12', 'bench-17') GROUP BY s.id ORDER BY s.id",
    )
    .fetch_all(app.db.pool())
    .await
    .unwrap();
    let (dispatcher, first) = app.admin_session(IntegrationSystemId(tenants[0].0)).await;
    let addr = dispatcher.admin.unwrap();
    let mut clients = vec![first];
    for (tenant, _) in &tenants[1..] {
        let client = AdminClient::new(addr);
        let email = format!("bench-{tenant}@example.org");
        app.add_user(&email, "secret", IntegrationSystemId(*tenant))
            .await;
        client.login(&email, "secret").await;
        clients.push(client);
    }
    let type_bases: Vec<i32> = tenants.iter().map(|(_, base)| *base).collect();
    let today = chrono::Utc::now().date_naive();
    let start = today - chrono::Days::new(200);
    let end = today - chrono::Days::new(100);
    let deep_page = logs / TENANTS / 10 * 4 / 5;
    let records = logs * 7 / 10;
    let mut rng = rand::rng();

    let results = vec![
        measure("first page", &clients, requests, |_| {
            "/int/errorRecordLog?page=0&size=10&sort=loggedAt,DESC".to_owned()
        })
        .await,
        measure("errorType + date range", &clients, requests, |c| {
            let error_type = type_bases[c] + (c as i32 * 3 + 1) % TYPES_PER_TENANT as i32;
            format!(
                "/int/errorRecordLog/search/find?errorType={error_type}&startDate={start}\
                     &endDate={end}&page=0&size=10&sort=loggedAt,DESC"
            )
        })
        .await,
        measure("deep page", &clients, requests, |_| {
            format!("/int/errorRecordLog?page={deep_page}&size=10&sort=loggedAt,DESC")
        })
        .await,
        measure("entity search", &clients, requests, |c| {
            // An entity id of this client's tenant (ids are spread over tenants by g % 20).
            let tenant_n: i64 = [3, 8, 12, 17][c];
            let g = rng.random_range(0..records / TENANTS) * TENANTS + tenant_n;
            format!(
                "/int/errorRecordLog/search/findByEntity?entityId=ENT-{g}&page=0&size=10\
                 &sort=loggedAt,DESC"
            )
        })
        .await,
    ];
    dispatcher.stop().await;

    println!();
    println!(
        "{logs} error logs over {TENANTS} tenants; {requests} requests per query over HTTP \
         (after 20 warm-up), 4 tenants in turn"
    );
    println!();
    println!("| query | totalElements | p50 | p99 | max |");
    println!("|---|---|---|---|---|");
    for m in &results {
        println!(
            "| {} | {} | {:.1} ms | {:.1} ms | {:.1} ms |",
            m.name,
            m.total_elements,
            ms(m.histogram.value_at_quantile(0.5)),
            ms(m.histogram.value_at_quantile(0.99)),
            ms(m.histogram.max())
        );
    }
}
