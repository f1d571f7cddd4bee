//! The environment variables the deployment files set, checked against the names our crates
//! read, so a misspelt variable fails here instead of being silently ignored in production.

use crate::{read, repo};
use regex::Regex;
use std::collections::BTreeSet;

/// Environment variables the deployment files may set that no crate of ours names as a string
/// literal, with who reads them.
const ENV_READ_ELSEWHERE: &[(&str, &str)] = &[("RUST_LOG", "tracing-subscriber's EnvFilter")];

/// Every string literal that looks like an environment variable name in our crates' sources.
fn env_names_in_code() -> BTreeSet<String> {
    let re = Regex::new(r#""([A-Z][A-Z0-9_]{2,})""#).unwrap();
    let mut names = BTreeSet::new();
    for dir in ["shared/src", "dispatcher/src", "worker/src"] {
        let mut stack = vec![repo().join(dir)];
        while let Some(path) = stack.pop() {
            if path.is_dir() {
                for entry in std::fs::read_dir(&path).unwrap() {
                    stack.push(entry.unwrap().path());
                }
            } else if path.extension().is_some_and(|e| e == "rs") {
                for cap in re.captures_iter(&read(&path)) {
                    names.insert(cap[1].to_owned());
                }
            }
        }
    }
    names
}

/// Fails on variables the code does not read (a typo there is silently ignored in production).
/// `<VAR>_FULL_ERROR` is read through `format!` from a module's cron variable.
pub(crate) fn assert_known_env(names: impl IntoIterator<Item = String>, file: &str) {
    let known = env_names_in_code();
    let unknown: Vec<String> = names
        .into_iter()
        .filter(|n| {
            let base = n.strip_suffix("_FULL_ERROR").unwrap_or(n);
            !known.contains(n)
                && !known.contains(base)
                && !ENV_READ_ELSEWHERE.iter().any(|(k, _)| k == n)
        })
        .collect();
    assert!(
        unknown.is_empty(),
        "{file} sets variables no avni-int code reads (typo?): {unknown:?}"
    );
}
