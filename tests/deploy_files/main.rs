//! Structural checks of the deployment files in `deploy/` against each other and against the
//! code: the compose stack's services and scrape targets, the Kubernetes manifests' probes, grace
//! periods and autoscaling, the systemd units, and that every metric the Grafana dashboard and
//! the alert rules use is one `shared/src/metrics.rs` exports (and the other way round), so a
//! renamed metric fails here instead of silently emptying a panel or an alert.
//!
//! Syntax is checked by the formats' own tools in `deploy/check.sh` (promtool, docker compose).
//! No services needed: these tests only read files.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod compose;
mod docker;
mod env_vars;
mod kubernetes;
mod metrics;
mod systemd;

use regex::Regex;
use serde::Deserialize;
use serde_norway::{Mapping, Value};
use std::path::{Path, PathBuf};

/// The worker's drain default (`SHUTDOWN_GRACE_SECS`, worker/src/lib.rs) when a file sets none.
const DEFAULT_SHUTDOWN_GRACE_SECS: u64 = 30;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

fn deploy(rel: &str) -> PathBuf {
    repo().join("deploy").join(rel)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

fn yaml(path: &Path) -> Value {
    let mut value: Value = serde_norway::from_str(&read(path))
        .unwrap_or_else(|e| panic!("{} is not valid YAML: {e}", path.display()));
    // Compose files use `<<: *anchor`; resolve merge keys as compose does. One pass leaves a
    // merge key that came in through another merge (an anchor that itself merges), so repeat
    // until nothing changes.
    for _ in 0..8 {
        let before = value.clone();
        value
            .apply_merge()
            .unwrap_or_else(|e| panic!("{}: bad YAML merge key: {e}", path.display()));
        if value == before {
            return value;
        }
    }
    panic!("{}: merge keys nest too deeply", path.display())
}

fn yaml_documents(path: &Path) -> Vec<Value> {
    let text = read(path);
    serde_norway::Deserializer::from_str(&text)
        .map(|doc| {
            Value::deserialize(doc)
                .unwrap_or_else(|e| panic!("{} is not valid YAML: {e}", path.display()))
        })
        .filter(|v| !v.is_null())
        .collect()
}

/// `value[a][b]...` by string keys (or sequence indexes written as numbers).
fn at<'a>(value: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(value, |v, key| match v {
        Value::Mapping(m) => m.get(*key),
        Value::Sequence(s) => key.parse::<usize>().ok().and_then(|i| s.get(i)),
        _ => None,
    })
}

fn str_at<'a>(value: &'a Value, path: &[&str]) -> Option<&'a str> {
    at(value, path).and_then(Value::as_str)
}

fn seq_at<'a>(value: &'a Value, path: &[&str]) -> &'a [Value] {
    at(value, path)
        .and_then(Value::as_sequence)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

fn map_at<'a>(value: &'a Value, path: &[&str]) -> Option<&'a Mapping> {
    at(value, path).and_then(Value::as_mapping)
}

/// A scalar as text (compose and Kubernetes accept numbers where strings are meant).
fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn u64_at(value: &Value, path: &[&str]) -> Option<u64> {
    at(value, path)
        .and_then(scalar_text)
        .and_then(|s| s.parse().ok())
}

/// Seconds in a compose duration ("60s", "1m30s") or a systemd time span ("60", "60s",
/// "1min", "2min 30s").
fn seconds(text: &str) -> u64 {
    let text = text.trim();
    if let Ok(n) = text.parse::<u64>() {
        return n;
    }
    let re = Regex::new(r"(\d+)\s*(h|min|m|s)").unwrap();
    let mut total = 0;
    let mut matched = 0;
    for cap in re.captures_iter(text) {
        let n: u64 = cap[1].parse().unwrap();
        total += n * match &cap[2] {
            "h" => 3600,
            "min" | "m" => 60,
            _ => 1,
        };
        matched += cap[0].len();
    }
    assert_eq!(
        matched,
        text.replace(' ', "").len(),
        "cannot read the duration {text:?}"
    );
    total
}
