//! Tenants (`integration_system`) and their settings (`integration_system_config`).

use super::StoreError;
use crate::ids::IntegrationSystemId;
use sqlx::PgPool;
use std::collections::BTreeMap;
use std::fmt;

/// One setting. Secret values never print: `Debug` shows `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct ConfigValue {
    pub value: String,
    pub secret: bool,
}

impl fmt::Debug for ConfigValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.secret {
            f.write_str("***")
        } else {
            fmt::Debug::fmt(&self.value, f)
        }
    }
}

/// A tenant with all of its settings, as a job sees it.
#[derive(Debug, Clone)]
pub struct Tenant {
    pub id: IntegrationSystemId,
    pub name: String,
    pub system_type: String,
    pub config: BTreeMap<String, ConfigValue>,
}

impl Tenant {
    pub fn config(&self, key: &str) -> Option<&str> {
        self.config.get(key).map(|v| v.value.as_str())
    }
}

/// Loads a tenant and its settings; `None` if it does not exist or is voided.
pub async fn load(pool: &PgPool, id: IntegrationSystemId) -> Result<Option<Tenant>, StoreError> {
    let row: Option<(String, String)> = sqlx::query_as(
        "SELECT coalesce(name, ''), system_type FROM integration_system
          WHERE id = $1 AND NOT coalesce(is_voided, false)",
    )
    .bind(id)
    .fetch_optional(pool)
    .await?;
    let Some((name, system_type)) = row else {
        return Ok(None);
    };
    let settings: Vec<(String, Option<String>, Option<bool>)> = sqlx::query_as(
        "SELECT key, value, is_secret FROM integration_system_config
          WHERE integration_system_id = $1 AND NOT coalesce(is_voided, false)",
    )
    .bind(id)
    .fetch_all(pool)
    .await?;
    let config = settings
        .into_iter()
        .map(|(key, value, secret)| {
            (
                key,
                ConfigValue {
                    value: value.unwrap_or_default(),
                    secret: secret.unwrap_or(false),
                },
            )
        })
        .collect();
    Ok(Some(Tenant {
        id,
        name,
        system_type,
        config,
    }))
}

/// What the scheduler needs to know of a tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleSource {
    pub id: IntegrationSystemId,
    pub name: String,
    pub system_type: String,
    pub int_env: Option<String>,
    pub main_cron: Option<String>,
    pub error_cron: Option<String>,
}

/// Config keys holding a DB-configured tenant's crons and environment guard.
pub const MAIN_CRON_KEY: &str = "main.scheduled.job.cron";
pub const ERROR_CRON_KEY: &str = "error.scheduled.job.cron";
pub const INT_ENV_KEY: &str = "int_env";

type ScheduleRow = (
    IntegrationSystemId,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// Every live tenant of the given system types, with its schedule settings.
pub async fn schedule_sources(
    pool: &PgPool,
    system_types: &[String],
) -> Result<Vec<ScheduleSource>, StoreError> {
    let rows: Vec<ScheduleRow> = sqlx::query_as(
        "SELECT s.id, coalesce(s.name, ''), s.system_type,
                    max(c.value) FILTER (WHERE c.key = $2),
                    max(c.value) FILTER (WHERE c.key = $3),
                    max(c.value) FILTER (WHERE c.key = $4)
               FROM integration_system s
               LEFT JOIN integration_system_config c
                 ON c.integration_system_id = s.id AND NOT coalesce(c.is_voided, false)
              WHERE s.system_type = ANY($1) AND NOT coalesce(s.is_voided, false)
              GROUP BY s.id, s.name, s.system_type
              ORDER BY s.id",
    )
    .bind(system_types)
    .bind(INT_ENV_KEY)
    .bind(MAIN_CRON_KEY)
    .bind(ERROR_CRON_KEY)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(id, name, system_type, int_env, main_cron, error_cron)| ScheduleSource {
                id,
                name,
                system_type,
                int_env,
                main_cron,
                error_cron,
            },
        )
        .collect())
}
