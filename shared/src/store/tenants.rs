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

#[derive(serde::Deserialize)]
struct Setting {
    key: Option<String>,
    value: Option<String>,
    secret: Option<bool>,
}

/// Loads a tenant and its settings; `None` if it does not exist or is voided.
pub async fn load(pool: &PgPool, id: IntegrationSystemId) -> Result<Option<Tenant>, StoreError> {
    // One round trip: the tenant and its settings as a JSON array.
    let row: Option<(String, String, sqlx::types::Json<Vec<Setting>>)> = sqlx::query_as(
        "SELECT coalesce(s.name, ''), s.system_type,
                coalesce((SELECT json_agg(json_build_object('key', c.key, 'value', c.value, 'secret', c.is_secret))
                            FROM integration_system_config c
                           WHERE c.integration_system_id = s.id AND NOT coalesce(c.is_voided, false)),
                         '[]'::json)
           FROM integration_system s
          WHERE s.id = $1 AND NOT coalesce(s.is_voided, false)",
    )
    .bind(id)
    .fetch_optional(pool)
    .await?;
    let Some((name, system_type, settings)) = row else {
        return Ok(None);
    };
    let config = settings
        .0
        .into_iter()
        .filter_map(|s| {
            Some((
                s.key?,
                ConfigValue {
                    value: s.value.unwrap_or_default(),
                    secret: s.secret.unwrap_or(false),
                },
            ))
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
