//! Configuration every process shares: where the database and broker are, read from the env
//! names deployments already set (contracts/original-service.md §2) plus our own.

use std::time::Duration;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("{name} is not a valid {expected}: {value:?}")]
    Invalid {
        name: String,
        expected: &'static str,
        value: String,
    },
    #[error(
        "AVNI_INT_DATASOURCE must look like jdbc:postgresql://host[:port]/database, got {0:?}"
    )]
    BadDatasource(String),
}

/// The default broker: the local RabbitMQ with the guest account.
pub const DEFAULT_AMQP_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";
/// Queue and exchange names start with this unless `QUEUE_PREFIX` says otherwise.
pub const DEFAULT_QUEUE_PREFIX: &str = "avni_int";

/// Reads settings through a lookup function, so tests and binaries share the parsing without
/// touching the process environment.
pub struct Env<'a> {
    lookup: Box<Lookup<'a>>,
}

type Lookup<'a> = dyn Fn(&str) -> Option<String> + 'a;

impl Env<'static> {
    /// The process environment. Empty values count as unset.
    pub fn process() -> Self {
        Env {
            lookup: Box::new(|name| std::env::var(name).ok().filter(|v| !v.trim().is_empty())),
        }
    }
}

impl<'a> Env<'a> {
    pub fn from_fn(lookup: impl Fn(&str) -> Option<String> + 'a) -> Self {
        Env {
            lookup: Box::new(lookup),
        }
    }

    pub fn get(&self, name: &str) -> Option<String> {
        (self.lookup)(name)
    }

    pub fn get_or(&self, name: &str, default: &str) -> String {
        self.get(name).unwrap_or_else(|| default.to_owned())
    }

    pub fn parse<T: std::str::FromStr>(
        &self,
        name: &str,
        expected: &'static str,
        default: T,
    ) -> Result<T, ConfigError> {
        match self.get(name) {
            None => Ok(default),
            Some(value) => value.trim().parse().map_err(|_| ConfigError::Invalid {
                name: name.to_owned(),
                expected,
                value,
            }),
        }
    }

    /// A duration given in (possibly fractional) seconds.
    pub fn seconds(&self, name: &str, default: Duration) -> Result<Duration, ConfigError> {
        let secs: f64 = self.parse(name, "number of seconds", default.as_secs_f64())?;
        Duration::try_from_secs_f64(secs).map_err(|_| ConfigError::Invalid {
            name: name.to_owned(),
            expected: "non-negative number of seconds",
            value: secs.to_string(),
        })
    }

    /// The Postgres URL: `DATABASE_URL`, else the original service's names
    /// (`AVNI_INT_DATASOURCE` as a JDBC URL, or `AVNI_INT_DATABASE` and
    /// `AVNI_INT_DATABASE_PORT` on localhost), with `AVNI_INT_DB_USER`/`AVNI_INT_DB_PASSWORD`.
    pub fn database_url(&self) -> Result<String, ConfigError> {
        if let Some(url) = self.get("DATABASE_URL") {
            return Ok(url);
        }
        let user = self.get_or("AVNI_INT_DB_USER", "avni_int");
        let password = self.get_or("AVNI_INT_DB_PASSWORD", "password");
        let (host_port, database) = match self.get("AVNI_INT_DATASOURCE") {
            Some(jdbc) => parse_jdbc(&jdbc)?,
            None => (
                format!(
                    "localhost:{}",
                    self.get_or("AVNI_INT_DATABASE_PORT", "5432")
                ),
                self.get_or("AVNI_INT_DATABASE", "avni_int"),
            ),
        };
        Ok(format!(
            "postgres://{}:{}@{host_port}/{database}",
            encode_userinfo(&user),
            encode_userinfo(&password)
        ))
    }

    pub fn amqp_url(&self) -> String {
        self.get_or("AMQP_URL", DEFAULT_AMQP_URL)
    }

    pub fn queue_prefix(&self) -> String {
        self.get_or("QUEUE_PREFIX", DEFAULT_QUEUE_PREFIX)
    }
}

/// `jdbc:postgresql://host:port/db?params` → (`host:port`, `db`).
fn parse_jdbc(jdbc: &str) -> Result<(String, String), ConfigError> {
    let bad = || ConfigError::BadDatasource(jdbc.to_owned());
    let rest = jdbc
        .strip_prefix("jdbc:postgresql://")
        .or_else(|| jdbc.strip_prefix("postgresql://"))
        .ok_or_else(bad)?;
    let (host_port, path) = rest.split_once('/').ok_or_else(bad)?;
    let database = path.split('?').next().unwrap_or_default();
    if host_port.is_empty() || database.is_empty() {
        return Err(bad());
    }
    let host_port = if host_port.contains(':') {
        host_port.to_owned()
    } else {
        format!("{host_port}:5432")
    };
    Ok((host_port, database.to_owned()))
}

/// Percent-encodes what would break the userinfo part of a URL.
fn encode_userinfo(raw: &str) -> String {
    raw.chars()
        .map(|c| match c {
            'A'..='Z' | 'a'..='z' | '0'..='9' | '-' | '.' | '_' | '~' => c.to_string(),
            other => {
                let mut buf = [0u8; 4];
                other
                    .encode_utf8(&mut buf)
                    .bytes()
                    .map(|b| format!("%{b:02X}"))
                    .collect()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> Env<'static> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Env::from_fn(move |name| map.get(name).cloned())
    }

    #[test]
    fn database_url_wins_over_the_original_names() {
        let e = env(&[
            ("DATABASE_URL", "postgres://a@b/c"),
            ("AVNI_INT_DATABASE", "x"),
        ]);
        assert_eq!(e.database_url().unwrap(), "postgres://a@b/c");
    }

    #[test]
    fn original_jdbc_datasource_and_credentials_are_understood() {
        let e = env(&[
            (
                "AVNI_INT_DATASOURCE",
                "jdbc:postgresql://db.internal:6543/avni_int?sslmode=disable",
            ),
            ("AVNI_INT_DB_USER", "svc"),
            ("AVNI_INT_DB_PASSWORD", "p@ss/word"),
        ]);
        assert_eq!(
            e.database_url().unwrap(),
            "postgres://svc:p%40ss%2Fword@db.internal:6543/avni_int"
        );
        let no_port = env(&[("AVNI_INT_DATASOURCE", "jdbc:postgresql://db/x")]);
        assert_eq!(
            no_port.database_url().unwrap(),
            "postgres://avni_int:password@db:5432/x"
        );
        let bad = env(&[("AVNI_INT_DATASOURCE", "mysql://db/x")]);
        assert!(matches!(
            bad.database_url(),
            Err(ConfigError::BadDatasource(_))
        ));
    }

    #[test]
    fn database_name_and_port_default_to_localhost() {
        let e = env(&[
            ("AVNI_INT_DATABASE", "integ"),
            ("AVNI_INT_DATABASE_PORT", "5433"),
        ]);
        assert_eq!(
            e.database_url().unwrap(),
            "postgres://avni_int:password@localhost:5433/integ"
        );
    }

    #[test]
    fn bad_numbers_name_the_variable() {
        let e = env(&[("JOB_TIME_BUDGET_SECS", "ten")]);
        let err = e
            .seconds("JOB_TIME_BUDGET_SECS", Duration::from_secs(1))
            .unwrap_err();
        assert!(err.to_string().contains("JOB_TIME_BUDGET_SECS"), "{err}");
        assert_eq!(env(&[]).amqp_url(), DEFAULT_AMQP_URL);
    }
}
