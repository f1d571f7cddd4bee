//! Which modules exist, which tenants (by `system_type`) each serves, and where its crons come
//! from: env variables (Amrit, Bahmni, Power, Lahi) or the tenant's config rows (Goonj, RWB,
//! Wati), as the original service reads them.

use avni_int_shared::config::Env;
use avni_int_shared::ModuleName;

/// Where a module's crons are configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CronSource {
    /// `main.scheduled.job.cron` / `error.scheduled.job.cron` per tenant, guarded by `int_env`.
    TenantConfig,
    /// One cron pair for every tenant of the system type, read from env at start. No
    /// `int_env` guard (the original has none for these).
    Env {
        main: Option<String>,
        error: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleSpec {
    pub module: ModuleName,
    /// `integration_system.system_type` of the tenants it serves (case-sensitive, as stored).
    pub system_type: String,
    pub crons: CronSource,
}

impl ModuleSpec {
    pub fn tenant_config(module: ModuleName, system_type: &str) -> Self {
        ModuleSpec {
            module,
            system_type: system_type.to_owned(),
            crons: CronSource::TenantConfig,
        }
    }

    /// Reads `<var>` and `<var>_FULL_ERROR` from `env`.
    pub fn from_env(module: ModuleName, system_type: &str, env: &Env<'_>, var: &str) -> Self {
        ModuleSpec {
            module,
            system_type: system_type.to_owned(),
            crons: CronSource::Env {
                main: env.get(var),
                error: env.get(&format!("{var}_FULL_ERROR")),
            },
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("module {0:?} in DISPATCHER_MODULES is not one this dispatcher knows (known: {1})")]
pub struct UnknownModule(String, String);

/// The modules of the original service, with their env names (contracts/original-service.md §2).
/// `only` (from `DISPATCHER_MODULES`, comma-separated) narrows the list.
pub fn builtin(env: &Env<'_>, only: Option<&str>) -> Result<Vec<ModuleSpec>, UnknownModule> {
    let table: [(&str, &str, Option<&str>); 7] = [
        ("goonj", "Goonj", None),
        ("rwb", "rwb", None),
        ("wati", "wati", None),
        ("amrit", "Amrit", Some("AMRIT_SCHEDULE_CRON")),
        ("bahmni", "bahmni", Some("BAHMNI_SCHEDULE_CRON")),
        ("power", "power", Some("POWER_INT_SCHEDULE_CRON")),
        ("lahi", "lahi", Some("LAHI_INT_SCHEDULE_CRON")),
    ];
    let mut specs = Vec::new();
    for (name, system_type, var) in table {
        // The names above are valid module names by construction (lowercase ASCII).
        let Ok(module) = ModuleName::new(name) else {
            continue;
        };
        specs.push(match var {
            Some(var) => ModuleSpec::from_env(module, system_type, env, var),
            None => ModuleSpec::tenant_config(module, system_type),
        });
    }
    let Some(only) = only else { return Ok(specs) };
    let wanted: Vec<&str> = only
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    let known = specs
        .iter()
        .map(|s| s.module.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    if let Some(unknown) = wanted
        .iter()
        .find(|w| !specs.iter().any(|s| s.module.as_str() == **w))
    {
        return Err(UnknownModule((*unknown).to_owned(), known));
    }
    specs.retain(|s| wanted.contains(&s.module.as_str()));
    Ok(specs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_modules_read_their_original_cron_names() {
        let env = Env::from_fn(|name| match name {
            "BAHMNI_SCHEDULE_CRON" => Some("0 */5 * * * *".to_owned()),
            "BAHMNI_SCHEDULE_CRON_FULL_ERROR" => Some("-".to_owned()),
            _ => None,
        });
        let specs = builtin(&env, None).unwrap();
        let bahmni = specs
            .iter()
            .find(|s| s.module.as_str() == "bahmni")
            .unwrap();
        assert_eq!(
            bahmni.crons,
            CronSource::Env {
                main: Some("0 */5 * * * *".into()),
                error: Some("-".into())
            }
        );
        let goonj = specs.iter().find(|s| s.module.as_str() == "goonj").unwrap();
        assert_eq!(goonj.crons, CronSource::TenantConfig);
        assert_eq!(goonj.system_type, "Goonj");
    }

    #[test]
    fn module_filter_keeps_named_modules_and_refuses_unknown_ones() {
        let env = Env::from_fn(|_| None);
        let only = builtin(&env, Some("goonj, amrit")).unwrap();
        assert_eq!(only.len(), 2);
        let err = builtin(&env, Some("gooj")).unwrap_err();
        assert!(err.to_string().contains("gooj"));
    }
}
