//! A Goonj tenant's settings (contracts/goonj.md §1), read from its `integration_system_config`
//! with the original's defaults. A bad task list is a configuration error, not a crash.

use crate::module::StepError;
use avni_int_shared::store::tenants::Tenant;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// The six main-job steps, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum GoonjTask {
    GoonjDemand,
    GoonjDispatch,
    AvniActivity,
    AvniDispatchReceipt,
    AvniDistribution,
    GoonjInventory,
}

impl GoonjTask {
    pub const ALL: [GoonjTask; 6] = [
        GoonjTask::GoonjDemand,
        GoonjTask::GoonjDispatch,
        GoonjTask::AvniActivity,
        GoonjTask::AvniDispatchReceipt,
        GoonjTask::AvniDistribution,
        GoonjTask::GoonjInventory,
    ];

    pub fn name(self) -> &'static str {
        match self {
            GoonjTask::GoonjDemand => "GoonjDemand",
            GoonjTask::GoonjDispatch => "GoonjDispatch",
            GoonjTask::AvniActivity => "AvniActivity",
            GoonjTask::AvniDispatchReceipt => "AvniDispatchReceipt",
            GoonjTask::AvniDistribution => "AvniDistribution",
            GoonjTask::GoonjInventory => "GoonjInventory",
        }
    }
}

impl fmt::Display for GoonjTask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for GoonjTask {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        GoonjTask::ALL
            .into_iter()
            .find(|t| t.name() == s)
            .ok_or_else(|| s.to_owned())
    }
}

/// Parses `int_tasks`: `all`, or a comma list of exact task names. Anything else, including the
/// original's default `none`, is an error naming the bad entry and the valid ones.
pub fn parse_tasks(value: Option<&str>) -> Result<Vec<GoonjTask>, StepError> {
    let value = value.map(str::trim).unwrap_or("none");
    if value == "all" {
        return Ok(GoonjTask::ALL.to_vec());
    }
    let mut tasks = Vec::new();
    for entry in value.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let task: GoonjTask = entry.parse().map_err(|bad: String| {
            StepError::Config(format!(
                "int_tasks names an unknown task {bad:?}; use \"all\" or a comma list of {}",
                GoonjTask::ALL.map(GoonjTask::name).join(", ")
            ))
        })?;
        if !tasks.contains(&task) {
            tasks.push(task);
        }
    }
    if tasks.is_empty() {
        return Err(StepError::Config(
            "int_tasks is empty; use \"all\" or a comma list of task names".into(),
        ));
    }
    tasks.sort();
    Ok(tasks)
}

/// Salesforce login and endpoints.
#[derive(Clone, PartialEq, Eq)]
pub struct SalesforceConfig {
    pub auth_url: String,
    pub username: String,
    pub password: String,
    pub client_id: String,
    pub client_secret: String,
    /// `{app}`: the Apex REST root.
    pub app_url: String,
    pub token_expiry: Duration,
}

impl fmt::Debug for SalesforceConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SalesforceConfig")
            .field("auth_url", &self.auth_url)
            .field("username", &self.username)
            .field("client_id", &self.client_id)
            .field("app_url", &self.app_url)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone)]
pub struct GoonjConfig {
    pub tasks: Vec<GoonjTask>,
    pub salesforce: SalesforceConfig,
    pub media_url_prefix: String,
    pub s3_url_prefix: String,
    pub recreate_dispatch_receipt: bool,
    /// `goonj_bypass_errors`: unmatched errors become `UnclassifiedError`.
    pub bypass_errors: bool,
    /// Error job: first retry delay, doubling per attempt, and the attempts before giving up.
    pub retry_base: Duration,
    pub retry_max_delay: Duration,
    pub retry_max_attempts: i32,
}

const DUMMY: &str = "goonj-main-dummy";

fn setting<'a>(tenant: &'a Tenant, key: &str, default: &'a str) -> &'a str {
    tenant
        .config(key)
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .unwrap_or(default)
}

fn flag(tenant: &Tenant, key: &str, default: bool) -> bool {
    match tenant.config(key).map(|v| v.trim().to_ascii_lowercase()) {
        Some(v) if v == "true" => true,
        Some(v) if v == "false" => false,
        _ => default,
    }
}

fn number<T: FromStr>(tenant: &Tenant, key: &str, default: T) -> Result<T, StepError> {
    match tenant.config(key).map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(default),
        Some(v) => v
            .parse()
            .map_err(|_| StepError::Config(format!("{key} must be a number, got {v:?}"))),
    }
}

impl GoonjConfig {
    /// `token_expiry` is env `GOONJ_SF_TOKEN_EXPIRY` (the same for every tenant).
    pub fn from_tenant(tenant: &Tenant, token_expiry: Duration) -> Result<Self, StepError> {
        Ok(GoonjConfig {
            tasks: parse_tasks(tenant.config("int_tasks"))?,
            salesforce: SalesforceConfig {
                auth_url: setting(
                    tenant,
                    "sales_force_auth_url",
                    "https://test.salesforce.com/services/oauth2/token",
                )
                .to_owned(),
                username: setting(tenant, "sales_force_user", DUMMY).to_owned(),
                password: setting(tenant, "sales_force_password", DUMMY).to_owned(),
                client_id: setting(tenant, "sales_force_client_id", DUMMY).to_owned(),
                client_secret: setting(tenant, "sales_force_client_secret", DUMMY).to_owned(),
                app_url: setting(
                    tenant,
                    "sales_force_app_url",
                    "https://goonj--goonjstage.my.salesforce.com/services/apexrest/v1",
                )
                .trim_end_matches('/')
                .to_owned(),
                token_expiry,
            },
            media_url_prefix: setting(
                tenant,
                "sales_force_media_url_prefix",
                "https://staging.avniproject.org/web/media?url=",
            )
            .to_owned(),
            s3_url_prefix: setting(tenant, "avni_s3_url_prefix", "dummy").to_owned(),
            recreate_dispatch_receipt: flag(tenant, "recreate_dispatch_receipt_enabled", false),
            bypass_errors: flag(tenant, "goonj_bypass_errors", true),
            retry_base: Duration::from_secs(number(tenant, "error_retry_base_secs", 300u64)?),
            retry_max_delay: Duration::from_secs(number(
                tenant,
                "error_retry_max_delay_secs",
                86_400u64,
            )?),
            retry_max_attempts: number(tenant, "error_retry_max_attempts", 10i32)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use avni_int_shared::store::tenants::ConfigValue;
    use avni_int_shared::IntegrationSystemId;

    fn tenant(pairs: &[(&str, &str)]) -> Tenant {
        Tenant {
            id: IntegrationSystemId(1),
            name: "Goonj".into(),
            system_type: "Goonj".into(),
            config: pairs
                .iter()
                .map(|(k, v)| {
                    (
                        k.to_string(),
                        ConfigValue {
                            value: v.to_string(),
                            secret: false,
                        },
                    )
                })
                .collect(),
        }
    }

    #[test]
    fn tasks_parse_all_or_exact_names_in_step_order() {
        assert_eq!(parse_tasks(Some("all")).unwrap().len(), 6);
        assert_eq!(
            parse_tasks(Some("GoonjInventory, GoonjDemand")).unwrap(),
            [GoonjTask::GoonjDemand, GoonjTask::GoonjInventory]
        );
    }

    #[test]
    fn unknown_or_default_task_lists_are_config_errors_naming_the_entry() {
        let err = parse_tasks(Some("GoonjDemand,goonjdispatch")).unwrap_err();
        assert!(err.to_string().contains("\"goonjdispatch\""), "{err}");
        assert!(matches!(parse_tasks(None), Err(StepError::Config(_))));
        assert!(parse_tasks(Some("None")).is_err());
    }

    #[test]
    fn defaults_follow_the_original_and_secrets_do_not_print() {
        let config = GoonjConfig::from_tenant(
            &tenant(&[("int_tasks", "all"), ("sales_force_password", "hunter2")]),
            Duration::from_secs(3600),
        )
        .unwrap();
        assert!(config.bypass_errors);
        assert!(!config.recreate_dispatch_receipt);
        assert_eq!(config.salesforce.username, DUMMY);
        assert!(!format!("{:?}", config.salesforce).contains("hunter2"));
        let bad = GoonjConfig::from_tenant(
            &tenant(&[("int_tasks", "all"), ("error_retry_max_attempts", "many")]),
            Duration::from_secs(1),
        );
        assert!(bad
            .unwrap_err()
            .to_string()
            .contains("error_retry_max_attempts"));
    }
}
