//! How to reach a tenant's Avni: base URL, credentials, timeouts, paging and retries, built
//! from the tenant's settings (`avni_api_url`, `avni_user`, `avni_password`,
//! `avni_auth_enabled`) with an error that names the setting at fault.

use avni_int_shared::store::tenants::ConfigValue;
use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

/// Avni caps `size` at this (Spring `Pageable` max); asking for more silently gets less.
pub const MAX_PAGE_SIZE: u32 = 2000;

pub const KEY_API_URL: &str = "avni_api_url";
pub const KEY_USER: &str = "avni_user";
pub const KEY_PASSWORD: &str = "avni_password";
pub const KEY_AUTH_ENABLED: &str = "avni_auth_enabled";
/// Not in the original: `generateToken` (default) or `keycloak`. The original discovered
/// Cognito/Keycloak through `/idp-details`; generateToken lets the server do the IdP login.
pub const KEY_AUTH_METHOD: &str = "avni_auth_method";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AvniConfigError {
    #[error("Avni configuration: setting `{key}` is missing or empty")]
    Missing { key: &'static str },
    #[error("Avni configuration: setting `{key}` = {value:?} is invalid (expected {expected})")]
    Invalid {
        key: &'static str,
        value: String,
        expected: &'static str,
    },
}

/// How the client proves who it is. `Debug` never prints a password.
#[derive(Clone, PartialEq, Eq)]
pub enum AvniCredentials {
    /// `POST /api/user/generateToken`: the server does the IdP login. The user needs
    /// `isAllowedToInvokeTokenGenerationAPI`.
    Password { username: String, password: String },
    /// Keycloak password grant, its realm discovered via `GET /idp-details`.
    Keycloak { username: String, password: String },
    /// `avni_auth_enabled=false` (an avni-server with `AVNI_IDP_TYPE=none`): a `USER-NAME`
    /// header and no token.
    NoAuth { username: String },
}

impl AvniCredentials {
    pub fn username(&self) -> &str {
        match self {
            AvniCredentials::Password { username, .. }
            | AvniCredentials::Keycloak { username, .. }
            | AvniCredentials::NoAuth { username } => username,
        }
    }

    /// Whether requests carry a token (and a 401 is worth a re-login).
    pub fn uses_token(&self) -> bool {
        !matches!(self, AvniCredentials::NoAuth { .. })
    }
}

impl fmt::Debug for AvniCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self {
            AvniCredentials::Password { .. } => "Password",
            AvniCredentials::Keycloak { .. } => "Keycloak",
            AvniCredentials::NoAuth { .. } => "NoAuth",
        };
        f.debug_struct(kind)
            .field("username", &self.username())
            .finish_non_exhaustive()
    }
}

/// Retries of transient failures: jittered exponential backoff between `min_delay` and
/// `max_delay`, `max_attempts` tries in all (1 = no retry).
/// Optional: records per page on incremental reads (default and maximum 2000). Smaller pages
/// hold less in memory at once; larger ones make fewer requests.
const KEY_PAGE_SIZE: &str = "avni_page_size";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub min_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 4,
            min_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(10),
        }
    }
}

#[derive(Debug, Clone)]
pub struct AvniConfig {
    /// e.g. `https://app.avniproject.org`; no trailing slash needed.
    pub base_url: String,
    pub auth: AvniCredentials,
    /// Per request, including reading the body.
    pub timeout: Duration,
    /// Records per page of incremental reads (clamped to 1..=`MAX_PAGE_SIZE`).
    pub page_size: u32,
    pub retry: RetryPolicy,
    /// `version` sent on reads. 1 returns Date obs as stored UTC instants; ≥2 renders them as
    /// dates in the server JVM's zone, which nobody configures, so 1 is the only zone-free choice.
    pub read_version: u32,
    /// Incremental reads end this long before now. Avni's own `live` profile uses 10 s so rows
    /// of transactions still committing are read on the next run rather than skipped.
    pub read_lag: Duration,
}

impl AvniConfig {
    pub fn new(base_url: impl Into<String>, auth: AvniCredentials) -> Self {
        AvniConfig {
            base_url: base_url.into().trim_end_matches('/').to_owned(),
            auth,
            timeout: Duration::from_secs(30),
            page_size: MAX_PAGE_SIZE,
            retry: RetryPolicy::default(),
            read_version: 1,
            read_lag: Duration::from_secs(10),
        }
    }

    /// From a tenant's settings (`Tenant::config`).
    pub fn from_tenant_config(
        settings: &BTreeMap<String, ConfigValue>,
    ) -> Result<Self, AvniConfigError> {
        Self::from_lookup(|key| settings.get(key).map(|v| v.value.as_str()))
    }

    /// From any key → value lookup; blank values count as missing.
    pub fn from_lookup<'a>(
        lookup: impl Fn(&str) -> Option<&'a str>,
    ) -> Result<Self, AvniConfigError> {
        let get = |key: &'static str| lookup(key).map(str::trim).filter(|v| !v.is_empty());
        let require = |key: &'static str| get(key).ok_or(AvniConfigError::Missing { key });
        let base_url = require(KEY_API_URL)?;
        if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
            return Err(AvniConfigError::Invalid {
                key: KEY_API_URL,
                value: base_url.to_owned(),
                expected: "an http(s) URL",
            });
        }
        let username = require(KEY_USER)?.to_owned();
        let auth_enabled = match get(KEY_AUTH_ENABLED) {
            None => true,
            Some(v) if v.eq_ignore_ascii_case("true") => true,
            Some(v) if v.eq_ignore_ascii_case("false") => false,
            Some(v) => {
                return Err(AvniConfigError::Invalid {
                    key: KEY_AUTH_ENABLED,
                    value: v.to_owned(),
                    expected: "true or false",
                })
            }
        };
        let auth = if !auth_enabled {
            AvniCredentials::NoAuth { username }
        } else {
            let password = require(KEY_PASSWORD)?.to_owned();
            match get(KEY_AUTH_METHOD) {
                None => AvniCredentials::Password { username, password },
                Some(m) if m.eq_ignore_ascii_case("generateToken") => {
                    AvniCredentials::Password { username, password }
                }
                Some(m) if m.eq_ignore_ascii_case("keycloak") => {
                    AvniCredentials::Keycloak { username, password }
                }
                Some(m) => {
                    return Err(AvniConfigError::Invalid {
                        key: KEY_AUTH_METHOD,
                        value: m.to_owned(),
                        expected: "generateToken or keycloak",
                    })
                }
            }
        };
        let mut config = AvniConfig::new(base_url, auth);
        if let Some(size) = get(KEY_PAGE_SIZE) {
            config.page_size = size
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=MAX_PAGE_SIZE).contains(n))
                .ok_or_else(|| AvniConfigError::Invalid {
                    key: KEY_PAGE_SIZE,
                    value: size.to_owned(),
                    expected: "a page size from 1 to 2000",
                })?;
        }
        Ok(config)
    }

    /// The page size actually sent.
    pub fn effective_page_size(&self) -> u32 {
        self.page_size.clamp(1, MAX_PAGE_SIZE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Result<AvniConfig, AvniConfigError> {
        let map: BTreeMap<String, ConfigValue> = pairs
            .iter()
            .map(|(k, v)| {
                let value = ConfigValue {
                    value: (*v).to_owned(),
                    secret: *k == KEY_PASSWORD,
                };
                ((*k).to_owned(), value)
            })
            .collect();
        AvniConfig::from_tenant_config(&map)
    }

    const URL: (&str, &str) = (KEY_API_URL, "https://avni.example.org/");
    const USER: (&str, &str) = (KEY_USER, "goonj@goonj");
    const PASSWORD: (&str, &str) = (KEY_PASSWORD, "s3cret");

    #[test]
    fn defaults_to_generate_token_with_auth_enabled() {
        let c = config(&[URL, USER, PASSWORD]).unwrap();
        assert_eq!(c.base_url, "https://avni.example.org");
        assert_eq!(
            c.auth,
            AvniCredentials::Password {
                username: "goonj@goonj".into(),
                password: "s3cret".into()
            }
        );
        assert_eq!(c.page_size, 2000);
        assert_eq!(c.read_version, 1);
    }

    #[test]
    fn missing_settings_are_named() {
        assert_eq!(
            config(&[USER, PASSWORD]).unwrap_err(),
            AvniConfigError::Missing { key: KEY_API_URL }
        );
        assert_eq!(
            config(&[URL, PASSWORD]).unwrap_err(),
            AvniConfigError::Missing { key: KEY_USER }
        );
        let err = config(&[URL, USER, (KEY_PASSWORD, "  ")]).unwrap_err();
        assert_eq!(err, AvniConfigError::Missing { key: KEY_PASSWORD });
        assert!(err.to_string().contains("avni_password"), "{err}");
    }

    #[test]
    fn auth_disabled_needs_no_password() {
        let c = config(&[URL, USER, (KEY_AUTH_ENABLED, "FALSE")]).unwrap();
        assert_eq!(
            c.auth,
            AvniCredentials::NoAuth {
                username: "goonj@goonj".into()
            }
        );
        assert!(!c.auth.uses_token());
        let err = config(&[URL, USER, (KEY_AUTH_ENABLED, "no")]).unwrap_err();
        assert!(matches!(
            err,
            AvniConfigError::Invalid {
                key: KEY_AUTH_ENABLED,
                ..
            }
        ));
    }

    #[test]
    fn keycloak_is_chosen_explicitly() {
        let c = config(&[URL, USER, PASSWORD, (KEY_AUTH_METHOD, "Keycloak")]).unwrap();
        assert!(matches!(c.auth, AvniCredentials::Keycloak { .. }));
        assert!(config(&[URL, USER, PASSWORD, (KEY_AUTH_METHOD, "srp")]).is_err());
    }

    #[test]
    fn rejects_a_url_without_scheme() {
        let err = config(&[(KEY_API_URL, "avni.example.org"), USER, PASSWORD]).unwrap_err();
        assert!(matches!(
            err,
            AvniConfigError::Invalid {
                key: KEY_API_URL,
                ..
            }
        ));
    }

    #[test]
    fn debug_hides_the_password() {
        let c = config(&[URL, USER, PASSWORD]).unwrap();
        let shown = format!("{c:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("goonj@goonj"), "{shown}");
    }

    #[test]
    fn page_size_is_clamped_to_the_server_cap() {
        let mut c = config(&[URL, USER, PASSWORD]).unwrap();
        c.page_size = 5000;
        assert_eq!(c.effective_page_size(), 2000);
        c.page_size = 0;
        assert_eq!(c.effective_page_size(), 1);
    }
}
