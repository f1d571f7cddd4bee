//! `avni-int-sim`: the Avni and Goonj Salesforce simulators as one process, seeded with demo
//! data, for the local fleet (`deploy/dev/run.sh`) and manual exploration.
//!
//! Each simulator serves `GET/POST /_sim/faults` (a `FaultPlan` as JSON) to inject faults at
//! run time, e.g. `curl -XPOST localhost:6081/_sim/faults -d '{"error_rate":0.2}'`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use avni_int_tests::goonj_world::add_goonj_metadata;
use avni_int_tests::sim::avni::{AvniSim, AvniSimConfig};
use avni_int_tests::sim::faults::{FaultPlan, Faults};
use avni_int_tests::sim::goonj::{GoonjSim, GoonjSimConfig};
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use clap::Parser;

/// Avni and Goonj Salesforce simulators for the demo fleet.
#[derive(Parser)]
#[command(name = "avni-int-sim", version)]
struct Cli {
    /// Port of the Avni simulator.
    #[arg(long, env = "AVNI_SIM_PORT", default_value_t = 6081)]
    avni_port: u16,
    /// Port of the Goonj Salesforce simulator.
    #[arg(long, env = "GOONJ_SIM_PORT", default_value_t = 6082)]
    goonj_port: u16,
    /// Demands, dispatches and inventory items to seed in Salesforce.
    #[arg(long, env = "SIM_SEED_RECORDS", default_value_t = 30)]
    seed_records: usize,
    /// Registers (or updates) a "Goonj Demo" tenant pointing at these simulators in this
    /// database, so a local fleet syncs them.
    #[arg(long, env = "SIM_DEMO_DATABASE_URL")]
    demo_database_url: Option<String>,
    /// The demo tenant's `int_env` (the fleet's `AVNI_INT_ENV`).
    #[arg(long, env = "AVNI_INT_ENV", default_value = "demo")]
    int_env: String,
}

/// Inserts or updates the demo Goonj tenant: every task, the main job every minute and the
/// error job every five, against the simulators.
async fn register_demo_tenant(url: &str, cli: &Cli) -> anyhow::Result<()> {
    let pool = sqlx::PgPool::connect(url).await?;
    let id: i32 = match sqlx::query_scalar::<_, i32>(
        "SELECT id FROM integration_system WHERE name = 'Goonj Demo'",
    )
    .fetch_optional(&pool)
    .await?
    {
        Some(id) => id,
        None => {
            sqlx::query_scalar(
                "INSERT INTO integration_system (name, system_type, uuid)
                 VALUES ('Goonj Demo', 'Goonj', gen_random_uuid()::text) RETURNING id",
            )
            .fetch_one(&pool)
            .await?
        }
    };
    let goonj = format!("http://127.0.0.1:{}", cli.goonj_port);
    let settings = [
        ("int_env", cli.int_env.clone()),
        ("int_tasks", "all".to_owned()),
        ("main.scheduled.job.cron", "0 * * * * *".to_owned()),
        ("error.scheduled.job.cron", "30 */5 * * * *".to_owned()),
        (
            "sales_force_auth_url",
            format!("{goonj}/services/oauth2/token"),
        ),
        (
            "sales_force_app_url",
            format!("{goonj}/services/apexrest/v1"),
        ),
        (
            "avni_api_url",
            format!("http://127.0.0.1:{}", cli.avni_port),
        ),
        ("avni_user", "integration".to_owned()),
        ("avni_password", "password".to_owned()),
        ("goonj_bypass_errors", "true".to_owned()),
    ];
    for (key, value) in settings {
        sqlx::query(
            "INSERT INTO integration_system_config (integration_system_id, key, value, is_secret, uuid)
             VALUES ($1, $2, $3, $4, gen_random_uuid()::text)
             ON CONFLICT (integration_system_id, key) DO UPDATE SET value = EXCLUDED.value",
        )
        .bind(id)
        .bind(key)
        .bind(value)
        .bind(key.contains("password"))
        .execute(&pool)
        .await?;
    }
    // The demo's admin login (demo@example.org / demo), so the UI at :6013 shows this tenant.
    let hash = bcrypt::hash_with_result("demo", 10)?.format_for_version(bcrypt::Version::TwoA);
    sqlx::query(
        "INSERT INTO users (email, password, working_integration_system_id, uuid)
         SELECT 'demo@example.org', $1, $2, gen_random_uuid()::text
         WHERE NOT EXISTS (SELECT 1 FROM users WHERE email = 'demo@example.org')",
    )
    .bind(hash)
    .bind(id)
    .execute(&pool)
    .await?;
    tracing::info!(
        tenant = id,
        "demo Goonj tenant registered; admin login demo@example.org / demo"
    );
    Ok(())
}

async fn get_faults(State(faults): State<Faults>) -> Json<FaultPlan> {
    Json(faults.plan())
}

async fn set_faults(State(faults): State<Faults>, Json(plan): Json<FaultPlan>) -> Json<FaultPlan> {
    faults.set(plan.clone());
    tracing::info!(?plan, "fault plan changed");
    Json(plan)
}

fn with_controls(router: Router, faults: Faults) -> Router {
    Router::new()
        .route("/_sim/faults", get(get_faults).post(set_faults))
        .with_state(faults)
        .merge(router)
}

async fn serve(router: Router, port: u16) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    axum::serve(listener, router).await?;
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    avni_int_shared::telemetry::init(avni_int_shared::telemetry::LogFormat::parse(
        std::env::var("LOG_FORMAT").ok().as_deref(),
    ));
    if let Some(url) = &cli.demo_database_url {
        register_demo_tenant(url, &cli).await?;
    }
    let avni = AvniSim::new(AvniSimConfig::default());
    add_goonj_metadata(&avni);

    let goonj = GoonjSim::new(
        GoonjSimConfig::default(),
        format!("http://127.0.0.1:{}", cli.goonj_port),
    );
    let start = chrono::Utc::now() - chrono::Duration::days(1);
    goonj.seed_demands(cli.seed_records, start);
    goonj.seed_dispatches(cli.seed_records, start);
    goonj.seed_inventories(cli.seed_records, start);
    // Two demands ops will find in the error list, each with its required action.
    goonj.seed_demand(serde_json::json!({
        "DemandId": "a0BDEMO00000BLANKAD", "DemandName": "Demand without an address",
        "State": "", "District": "", "IsVoided": "false",
        "LastUpdatedDateTime": (start + chrono::Duration::hours(1)).to_rfc3339(),
    }));
    goonj.seed_demand(serde_json::json!({
        "DemandId": "a0BDEMO000000NOWHERE", "DemandName": "Demand in an unknown district",
        "State": "Bihar", "District": "Nowhere", "IsVoided": "false",
        "LastUpdatedDateTime": (start + chrono::Duration::hours(2)).to_rfc3339(),
    }));

    tracing::info!(
        avni = %format!("http://127.0.0.1:{}", cli.avni_port),
        salesforce_auth = %goonj.auth_url(),
        salesforce_app = %goonj.app_url(),
        seeded = cli.seed_records,
        "simulators ready"
    );
    let avni_router = with_controls(avni.router(), avni.faults());
    let goonj_router = with_controls(goonj.router(), goonj.faults());
    tokio::try_join!(
        serve(avni_router, cli.avni_port),
        serve(goonj_router, cli.goonj_port)
    )?;
    Ok(())
}
