//! Newtypes for the identifiers that cross process boundaries, so a job id is never a tenant id.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A tenant: a row of `integration_system`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, sqlx::Type,
)]
#[serde(transparent)]
#[sqlx(transparent)]
pub struct IntegrationSystemId(pub i32);

/// A row of the job ledger (`int_job`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, sqlx::Type,
)]
#[serde(transparent)]
#[sqlx(transparent)]
pub struct JobId(pub i64);

/// The process-unique name a worker or dispatcher uses as lease owner and leader identity.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct WorkerId(pub String);

impl WorkerId {
    /// `<prefix>-<hostname-ish>-<pid>-<random>`: unique across restarts of the same host.
    pub fn generate(prefix: &str) -> Self {
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "local".to_owned());
        let random = uuid::Uuid::new_v4().simple().to_string();
        WorkerId(format!(
            "{prefix}-{host}-{}-{}",
            std::process::id(),
            &random[..8]
        ))
    }
}

/// A module name (`goonj`, `amrit`, …). It becomes part of queue names and routing keys, so
/// only lowercase ASCII letters, digits and `_` are allowed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct ModuleName(String);

#[derive(Debug, thiserror::Error)]
#[error("invalid module name {0:?}: use lowercase letters, digits and '_' (1-64 characters)")]
pub struct InvalidModuleName(pub String);

impl ModuleName {
    pub fn new(name: impl Into<String>) -> Result<Self, InvalidModuleName> {
        let name = name.into();
        let valid = !name.is_empty()
            && name.len() <= 64
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if valid {
            Ok(ModuleName(name))
        } else {
            Err(InvalidModuleName(name))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for ModuleName {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        ModuleName::new(raw).map_err(serde::de::Error::custom)
    }
}

impl std::str::FromStr for ModuleName {
    type Err = InvalidModuleName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ModuleName::new(s)
    }
}

macro_rules! display_inner {
    ($($t:ty),*) => {$(
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }
    )*};
}
display_inner!(IntegrationSystemId, JobId, WorkerId, ModuleName);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_names_that_would_break_queue_names_are_refused() {
        assert!(ModuleName::new("goonj").is_ok());
        assert!(ModuleName::new("bahmni_v2").is_ok());
        for bad in ["", "Goonj", "a.b", "a b", "x#", &"a".repeat(65)] {
            assert!(ModuleName::new(bad).is_err(), "{bad:?} accepted");
        }
    }
}
