//! `probe`: a module that exists only in the tests. It talks to no partner; its behaviour is set
//! per tenant in `integration_system_config` (`probe.*` keys) and it records every step run in
//! `probe_run`, so tests can see exactly what ran where.

use avni_int_shared::store::cursors::{self, Cursor};
use avni_int_shared::store::tenants::Tenant;
use avni_int_shared::store::StoreError;
use avni_int_shared::{JobKind, ModuleName};
use avni_int_worker::context::JobContext;
use avni_int_worker::module::{Module, Step, StepError, StepOutcome};
use futures::future::BoxFuture;
use sqlx::PgPool;
use std::sync::Arc;
use std::time::Duration;

pub const SYSTEM_TYPE: &str = "probe";

pub fn name() -> ModuleName {
    ModuleName::new("probe").unwrap()
}

pub async fn create_tables(pool: &PgPool) {
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS probe_run (
            id bigserial PRIMARY KEY, job_id bigint NOT NULL, integration_system_id int NOT NULL,
            step text NOT NULL, attempt int NOT NULL, worker text NOT NULL,
            at timestamptz NOT NULL DEFAULT now())",
    )
    .execute(pool)
    .await
    .unwrap();
}

pub struct Probe {
    name: ModuleName,
}

impl Probe {
    pub fn module() -> Arc<dyn Module> {
        Arc::new(Probe { name: name() })
    }
}

impl Module for Probe {
    fn name(&self) -> &ModuleName {
        &self.name
    }

    fn steps(&self, kind: JobKind, tenant: &Tenant) -> Result<Vec<Arc<dyn Step>>, StepError> {
        if tenant.config("probe.bad_config").is_some() {
            return Err(StepError::Config("probe.bad_config is set".into()));
        }
        Ok(match kind {
            JobKind::Regular => vec![
                Arc::new(ProbeStep { name: "first" }),
                Arc::new(ProbeStep { name: "second" }),
            ],
            JobKind::Error => vec![Arc::new(ProbeStep { name: "retry" })],
        })
    }

    fn healthcheck_slug(&self, _kind: JobKind, tenant: &Tenant) -> Option<String> {
        tenant.config("probe.slug").map(str::to_owned)
    }
}

struct ProbeStep {
    name: &'static str,
}

fn setting<T: std::str::FromStr>(ctx: &JobContext, key: &str) -> Option<T> {
    ctx.tenant.config(key).and_then(|v| v.parse().ok())
}

impl Step for ProbeStep {
    fn name(&self) -> &str {
        self.name
    }

    fn run<'a>(&'a self, ctx: &'a JobContext) -> BoxFuture<'a, Result<StepOutcome, StepError>> {
        Box::pin(async move {
            let first = self.name == "first";
            if first && setting::<i32>(ctx, "probe.hang_on_attempt") == Some(ctx.job.attempt) {
                // Stands in for a partner call that never returns.
                std::future::pending::<()>().await;
            }
            if let Some(ms) = setting::<u64>(ctx, "probe.sleep_ms") {
                tokio::time::sleep(Duration::from_millis(ms)).await;
            }
            if first && ctx.tenant.config("probe.fail").is_some() {
                return Err(StepError::Failed("probe failure requested".into()));
            }
            if first && ctx.tenant.config("probe.panic").is_some() {
                panic!("probe panic requested");
            }
            let mut tx = ctx.store.pool().begin().await.map_err(StoreError::from)?;
            sqlx::query(
                "INSERT INTO probe_run (job_id, integration_system_id, step, attempt, worker)
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(ctx.job.id)
            .bind(ctx.job.integration_system_id)
            .bind(self.name)
            .bind(ctx.job.attempt)
            .bind(&ctx.worker.0)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::from)?;
            // "second" works through `probe.segments` segments, one per run while the budget
            // is spent, moving its cursor with each segment's outcome.
            let mut more = false;
            if self.name == "second" {
                if let Some(segments) = setting::<i32>(ctx, "probe.segments") {
                    let done =
                        cursors::load(&mut tx, ctx.job.integration_system_id, "ProbeSegment")
                            .await?
                            .and_then(|c| c.numeric)
                            .unwrap_or(0);
                    let next = done + 1;
                    cursors::save(
                        &mut tx,
                        ctx.job.integration_system_id,
                        "ProbeSegment",
                        &Cursor {
                            numeric: Some(next),
                            ..Cursor::default()
                        },
                    )
                    .await?;
                    more = next < segments;
                }
            }
            tx.commit().await.map_err(StoreError::from)?;
            Ok(StepOutcome {
                synced: 1,
                failed: 0,
                more,
            })
        })
    }
}
