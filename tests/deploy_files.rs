//! Structural checks of the deployment files in `deploy/` against each other and against the
//! code: the compose stack's services and scrape targets, the Kubernetes manifests' probes, grace
//! periods and autoscaling, the systemd units, and that every metric the Grafana dashboard and
//! the alert rules use is one `shared/src/metrics.rs` exports (and the other way round), so a
//! renamed metric fails here instead of silently emptying a panel or an alert.
//!
//! Syntax is checked by the formats' own tools in `deploy/check.sh` (promtool, docker compose).
//! No services needed: these tests only read files.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use avni_int_shared::broker::Topology;
use avni_int_shared::config::Env;
use regex::Regex;
use serde::Deserialize;
use serde_json::Value as Json;
use serde_norway::{Mapping, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Exported metrics deliberately absent from both the dashboard and the alert rules, with why.
/// Empty today: every exported metric is shown or alerted on.
const NOT_SHOWN: &[(&str, &str)] = &[];

/// Environment variables the deployment files may set that no crate of ours names as a string
/// literal, with who reads them.
const ENV_READ_ELSEWHERE: &[(&str, &str)] = &[("RUST_LOG", "tracing-subscriber's EnvFilter")];

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

// ---------------------------------------------------------------------------------------------
// Metrics

/// The metric names `shared/src/metrics.rs` registers, read from its source: the first string
/// literal given to `Opts::new`, `HistogramOpts::new` or a plain metric's `::new`. Returns
/// (all names, histogram names).
fn exported_metrics() -> (BTreeSet<String>, BTreeSet<String>) {
    let source = read(&repo().join("shared/src/metrics.rs"));
    let re = Regex::new(
        r#"\b(Opts|HistogramOpts|IntGauge|Gauge|IntCounter|Counter)::new\(\s*"([a-z_:][a-z0-9_:]*)""#,
    )
    .unwrap();
    let mut all = BTreeSet::new();
    let mut histograms = BTreeSet::new();
    for cap in re.captures_iter(&source) {
        all.insert(cap[2].to_owned());
        if &cap[1] == "HistogramOpts" {
            histograms.insert(cap[2].to_owned());
        }
    }
    // Guard the reader itself: if metrics.rs changed shape and the regex found little, the
    // checks below would pass vacuously.
    let registered = source.matches("registry.register(").count();
    assert!(
        registered > 0 && all.len() == registered,
        "read {} metric names from shared/src/metrics.rs but it registers {registered}: \
         update exported_metrics() in tests/deploy_files.rs to the new way metrics are declared",
        all.len()
    );
    (all, histograms)
}

/// Every `avni_int_*` name in a PromQL expression, with histogram series suffixes removed where
/// the base name is a histogram.
fn metric_names_in(expr: &str, histograms: &BTreeSet<String>) -> BTreeSet<String> {
    let re = Regex::new(r"avni_int_[a-z_]+").unwrap();
    re.find_iter(expr)
        .map(|m| {
            let name = m.as_str();
            for suffix in ["_bucket", "_sum", "_count"] {
                if let Some(base) = name.strip_suffix(suffix) {
                    if histograms.contains(base) {
                        return base.to_owned();
                    }
                }
            }
            name.to_owned()
        })
        .collect()
}

/// PromQL of the dashboard: panel targets and template variable queries.
fn dashboard_exprs(dashboard: &Json) -> Vec<String> {
    fn walk(value: &Json, out: &mut Vec<String>) {
        match value {
            Json::Object(map) => {
                for (key, v) in map {
                    match (key.as_str(), v) {
                        ("expr" | "definition", Json::String(s)) => out.push(s.clone()),
                        ("query", Json::String(s)) => out.push(s.clone()),
                        _ => walk(v, out),
                    }
                }
            }
            Json::Array(items) => items.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(dashboard, &mut out);
    out
}

fn dashboard() -> Json {
    let path = deploy("grafana/dashboards/avni-int.json");
    serde_json::from_str(&read(&path))
        .unwrap_or_else(|e| panic!("{} is not valid JSON: {e}", path.display()))
}

fn alert_rules() -> Vec<Value> {
    let rules = yaml(&deploy("prometheus/alerts.yml"));
    let groups = seq_at(&rules, &["groups"]);
    assert!(!groups.is_empty(), "alerts.yml has no rule groups");
    groups
        .iter()
        .flat_map(|g| seq_at(g, &["rules"]).to_vec())
        .collect()
}

#[test]
fn dashboard_and_alerts_use_only_exported_metrics_and_show_them_all() {
    let (exported, histograms) = exported_metrics();
    let mut used: BTreeMap<String, Vec<String>> = BTreeMap::new();

    for expr in dashboard_exprs(&dashboard()) {
        for name in metric_names_in(&expr, &histograms) {
            used.entry(name)
                .or_default()
                .push("the Grafana dashboard".into());
        }
    }
    for rule in alert_rules() {
        let name = str_at(&rule, &["alert"])
            .or_else(|| str_at(&rule, &["record"]))
            .unwrap_or("?")
            .to_owned();
        let expr =
            str_at(&rule, &["expr"]).unwrap_or_else(|| panic!("alert rule {name} has no expr"));
        for metric in metric_names_in(expr, &histograms) {
            used.entry(metric)
                .or_default()
                .push(format!("alert {name}"));
        }
    }

    let unknown: Vec<String> = used
        .iter()
        .filter(|(name, _)| !exported.contains(*name))
        .map(|(name, places)| format!("{name} (used by {})", places.join(", ")))
        .collect();
    assert!(
        unknown.is_empty(),
        "metrics used by deploy/ that shared/src/metrics.rs does not export: {unknown:?}\nexported: {exported:?}"
    );

    for (name, reason) in NOT_SHOWN {
        assert!(
            exported.contains(*name),
            "NOT_SHOWN lists {name}, which is not exported"
        );
        assert!(!reason.is_empty());
    }
    let invisible: Vec<&String> = exported
        .iter()
        .filter(|name| !used.contains_key(*name))
        .filter(|name| !NOT_SHOWN.iter().any(|(n, _)| n == name))
        .collect();
    assert!(
        invisible.is_empty(),
        "exported metrics that neither the Grafana dashboard nor an alert uses: {invisible:?} \
         (add a panel or an alert, or list them in NOT_SHOWN with the reason)"
    );
}

#[test]
fn dashboard_panels_have_queries_and_unique_ids() {
    let dashboard = dashboard();
    assert_eq!(dashboard["uid"], "avni-int");
    let panels = dashboard["panels"].as_array().expect("panels");
    let mut ids = BTreeSet::new();
    for panel in panels {
        let title = panel["title"].as_str().unwrap_or("?");
        assert!(
            ids.insert(panel["id"].as_i64().expect("panel id")),
            "duplicate id at {title}"
        );
        if panel["type"] == "row" {
            continue;
        }
        let targets = panel["targets"].as_array().map(Vec::len).unwrap_or(0);
        assert!(targets > 0, "panel {title:?} has no query");
        assert_eq!(
            panel["datasource"]["uid"], "${datasource}",
            "panel {title:?} must use the dashboard's datasource variable"
        );
    }
    // The required views (issue 5).
    let titles: Vec<String> = panels
        .iter()
        .filter_map(|p| p["title"].as_str())
        .map(str::to_lowercase)
        .collect();
    for wanted in [
        "queue depth",
        "dead letters",
        "job outcomes",
        "job lag",
        "job duration",
        "records synced",
        "classified errors",
        "latency p95",
        "error rate",
        "outbox backlog",
        "leader",
    ] {
        assert!(
            titles.iter().any(|t| t.contains(wanted)),
            "no dashboard panel about {wanted:?}; titles: {titles:?}"
        );
    }
}

#[test]
fn alert_rules_cover_the_required_conditions() {
    let rules = alert_rules();
    let exprs: Vec<(String, String)> = rules
        .iter()
        .map(|r| {
            (
                str_at(r, &["alert"]).unwrap_or_default().to_owned(),
                str_at(r, &["expr"]).unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let has = |what: &str, test: &dyn Fn(&str) -> bool| {
        assert!(
            exprs.iter().any(|(_, e)| test(e)),
            "no alert rule for {what}; rules: {:?}",
            exprs.iter().map(|(n, _)| n).collect::<Vec<_>>()
        );
    };
    has("failed jobs", &|e| {
        e.contains("avni_int_jobs_total") && e.contains(r#"outcome="failed""#)
    });
    has("a module not running on schedule", &|e| {
        e.contains("avni_int_schedule_fired_total") && e.contains("avni_int_jobs_total")
    });
    has("queue depth growing", &|e| {
        e.contains("avni_int_queue_depth")
    });
    has("dead letters", &|e| e.contains("avni_int_dead_letters"));
    has("partner error rate", &|e| {
        e.contains("avni_int_http_requests_total") && e.contains("5xx")
    });
    has("no leader", &|e| {
        e.contains("avni_int_dispatcher_is_leader")
    });
    has("broker disconnected", &|e| {
        e.contains("avni_int_broker_connected")
    });
    for rule in &rules {
        let name = str_at(rule, &["alert"]).unwrap_or("?");
        assert!(
            str_at(rule, &["labels", "severity"]).is_some(),
            "alert {name} has no severity"
        );
        assert!(
            str_at(rule, &["annotations", "summary"]).is_some(),
            "alert {name} has no summary"
        );
    }
    // Queue gauges come from every dispatcher replica: summing them would double-count.
    for (name, expr) in &exprs {
        for gauge in [
            "avni_int_queue_depth",
            "avni_int_dead_letters",
            "avni_int_outbox_backlog",
        ] {
            assert!(
                !(expr.contains(gauge) && expr.contains("sum(") && !expr.contains("max")),
                "alert {name} sums {gauge}, which every dispatcher replica exports: use max()"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Environment variables

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
fn assert_known_env(names: impl IntoIterator<Item = String>, file: &str) {
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

// ---------------------------------------------------------------------------------------------
// docker compose

#[derive(Debug)]
enum Role {
    Dispatcher,
    Worker,
    Other,
}

fn compose() -> Value {
    yaml(&deploy("compose.yaml"))
}

fn command_words(service: &Value) -> Vec<String> {
    match at(service, &["command"]) {
        Some(Value::Sequence(words)) => words.iter().filter_map(scalar_text).collect(),
        Some(Value::String(line)) => line.split_whitespace().map(str::to_owned).collect(),
        _ => Vec::new(),
    }
}

fn role(service: &Value) -> Role {
    let words = command_words(service);
    match words
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["avni-int-dispatcher"] | ["avni-int-dispatcher", "run", ..] => Role::Dispatcher,
        ["avni-int-worker", ..] => Role::Worker,
        _ => Role::Other,
    }
}

fn env_of(service: &Value) -> BTreeMap<String, String> {
    match at(service, &["environment"]) {
        Some(Value::Mapping(m)) => m
            .iter()
            .filter_map(|(k, v)| Some((k.as_str()?.to_owned(), scalar_text(v).unwrap_or_default())))
            .collect(),
        Some(Value::Sequence(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
        _ => BTreeMap::new(),
    }
}

/// Bind mounts of a service as (source relative to deploy/, target).
fn binds(service: &Value) -> Vec<(String, String)> {
    seq_at(service, &["volumes"])
        .iter()
        .filter_map(Value::as_str)
        .filter_map(|v| {
            let mut parts = v.split(':');
            let source = parts.next()?;
            let target = parts.next()?;
            source
                .starts_with('.')
                .then(|| (source.to_owned(), target.to_owned()))
        })
        .collect()
}

/// (host, port) pairs Prometheus scrapes: static targets and DNS-discovered names.
fn prometheus_targets() -> BTreeSet<(String, u16)> {
    let config = yaml(&deploy("prometheus/prometheus.yml"));
    let mut targets = BTreeSet::new();
    for job in seq_at(&config, &["scrape_configs"]) {
        for sc in seq_at(job, &["static_configs"]) {
            for t in seq_at(sc, &["targets"]).iter().filter_map(Value::as_str) {
                let (host, port) = t.rsplit_once(':').expect("target host:port");
                targets.insert((host.to_owned(), port.parse().expect("port")));
            }
        }
        for sd in seq_at(job, &["dns_sd_configs"]) {
            let port = u64_at(sd, &["port"]).expect("dns_sd_configs needs a port for A records");
            for name in seq_at(sd, &["names"]).iter().filter_map(Value::as_str) {
                targets.insert((name.to_owned(), u16::try_from(port).unwrap()));
            }
        }
    }
    targets
}

#[test]
fn compose_runs_the_fleet_with_monitoring() {
    let compose = compose();
    let services = map_at(&compose, &["services"]).expect("compose.yaml has services");
    let named = |name: &str| {
        services
            .get(name)
            .unwrap_or_else(|| panic!("compose.yaml has no {name} service"))
    };

    let mut dispatchers = 0;
    let mut workers = 0;
    let targets = prometheus_targets();
    let mut all_env = BTreeSet::new();
    for (name, service) in services {
        let name = name.as_str().unwrap();
        let env = env_of(service);
        all_env.extend(env.keys().cloned());
        let replicas = u64_at(service, &["deploy", "replicas"]).unwrap_or(1);
        let (port, var) = match role(service) {
            Role::Dispatcher => {
                dispatchers += replicas;
                (6013, "AVNI_INT_SERVER_PORT")
            }
            Role::Worker => {
                workers += replicas;
                (6014, "WORKER_HTTP_PORT")
            }
            Role::Other => continue,
        };
        let port: u16 = env.get(var).map_or(port, |p| p.parse().unwrap());
        assert!(
            targets.contains(&(name.to_owned(), port)),
            "Prometheus does not scrape compose service {name} on {port}; targets: {targets:?}"
        );
        assert_eq!(
            str_at(service, &["build", "dockerfile"]),
            Some("deploy/Dockerfile"),
            "{name} is not built from deploy/Dockerfile"
        );
        let test = seq_at(service, &["healthcheck", "test"])
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(" ");
        assert!(
            test.contains(&format!(":{port}/readyz")),
            "{name}'s healthcheck must ask /readyz on {port}: {test:?}"
        );
        for (dependency, condition) in [
            ("postgres", "service_healthy"),
            ("rabbitmq", "service_healthy"),
            ("migrate", "service_completed_successfully"),
        ] {
            assert_eq!(
                str_at(service, &["depends_on", dependency, "condition"]),
                Some(condition),
                "{name} must depend on {dependency} being {condition}"
            );
        }
        if matches!(role(service), Role::Worker) {
            let drain = env
                .get("SHUTDOWN_GRACE_SECS")
                .map_or(DEFAULT_SHUTDOWN_GRACE_SECS, |s| s.parse().unwrap());
            let grace = str_at(service, &["stop_grace_period"]).map_or(10, seconds);
            assert!(
                grace > drain,
                "{name}: stop_grace_period {grace}s must exceed SHUTDOWN_GRACE_SECS {drain}s"
            );
        }
    }
    assert_eq!(dispatchers, 2, "compose.yaml should run two dispatchers");
    assert_eq!(workers, 3, "compose.yaml should run three workers");
    assert_known_env(
        all_env.into_iter().filter(|k| {
            // The images' own variables.
            !k.starts_with("POSTGRES_") && !k.starts_with("RABBITMQ_") && !k.starts_with("GF_")
        }),
        "compose.yaml",
    );

    // The one-shot migration the others wait for.
    assert_eq!(
        command_words(named("migrate")),
        ["avni-int-dispatcher", "migrate"]
    );

    // Postgres and RabbitMQ with healthchecks (everything waits for them).
    for name in ["postgres", "rabbitmq"] {
        assert!(
            at(named(name), &["healthcheck", "test"]).is_some(),
            "{name} has no healthcheck"
        );
    }
    let rabbitmq = named("rabbitmq");
    let image = str_at(rabbitmq, &["image"]).unwrap();
    assert!(
        image.contains("management"),
        "rabbitmq image {image} lacks the management plugin"
    );
    let plugins_file = binds(rabbitmq)
        .into_iter()
        .find(|(_, target)| target == "/etc/rabbitmq/enabled_plugins")
        .map(|(source, _)| deploy(&source))
        .expect("rabbitmq mounts an enabled_plugins file");
    let plugins = read(&plugins_file);
    for plugin in ["rabbitmq_prometheus", "rabbitmq_management"] {
        assert!(
            plugins.contains(plugin),
            "{} does not enable {plugin}",
            plugins_file.display()
        );
    }
    assert!(
        targets.contains(&("rabbitmq".to_owned(), 15692)),
        "Prometheus does not scrape RabbitMQ's metrics on :15692"
    );

    // Prometheus gets deploy/prometheus; Grafana its provisioning and the dashboard folder the
    // provisioning points at.
    let prometheus = named("prometheus");
    assert!(
        binds(prometheus)
            .iter()
            .any(|(s, t)| s == "./prometheus" && t == "/etc/prometheus"),
        "prometheus must mount ./prometheus at /etc/prometheus"
    );
    let grafana = named("grafana");
    let grafana_binds = binds(grafana);
    assert!(grafana_binds
        .iter()
        .any(|(s, t)| s == "./grafana/provisioning" && t == "/etc/grafana/provisioning"));
    let provider = yaml(&deploy("grafana/provisioning/dashboards/avni-int.yml"));
    let dashboards_path = str_at(&provider, &["providers", "0", "options", "path"]).unwrap();
    assert!(
        grafana_binds
            .iter()
            .any(|(s, t)| s == "./grafana/dashboards" && t == dashboards_path),
        "grafana must mount ./grafana/dashboards where the provider reads ({dashboards_path})"
    );
    let datasources = yaml(&deploy("grafana/provisioning/datasources/prometheus.yml"));
    assert_eq!(
        str_at(&datasources, &["datasources", "0", "url"]),
        Some("http://prometheus:9090")
    );

    // Every bind-mounted file or folder exists.
    for (name, service) in services {
        for (source, _) in binds(service) {
            assert!(
                deploy(&source).exists(),
                "{} mounts {source}, which does not exist",
                name.as_str().unwrap()
            );
        }
    }
}

#[test]
fn prometheus_rule_files_resolve_from_the_config() {
    let config = yaml(&deploy("prometheus/prometheus.yml"));
    let files = seq_at(&config, &["rule_files"]);
    assert!(!files.is_empty(), "prometheus.yml loads no rule files");
    for file in files.iter().filter_map(Value::as_str) {
        assert!(
            deploy("prometheus").join(file).is_file(),
            "rule file {file} does not exist next to prometheus.yml"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Kubernetes

struct K8s {
    docs: Vec<(String, Value)>,
}

impl K8s {
    fn load() -> Self {
        let dir = deploy("k8s");
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
            .collect();
        files.sort();
        let mut docs = Vec::new();
        for file in files {
            let name = file.file_name().unwrap().to_string_lossy().into_owned();
            for doc in yaml_documents(&file) {
                assert!(
                    str_at(&doc, &["kind"]).is_some() && str_at(&doc, &["apiVersion"]).is_some(),
                    "a document in {name} has no kind or apiVersion"
                );
                docs.push((name.clone(), doc));
            }
        }
        K8s { docs }
    }

    fn all(&self, kind: &str) -> Vec<&Value> {
        self.docs
            .iter()
            .map(|(_, d)| d)
            .filter(|d| str_at(d, &["kind"]) == Some(kind))
            .collect()
    }

    fn one(&self, kind: &str, name: &str) -> &Value {
        self.all(kind)
            .into_iter()
            .find(|d| str_at(d, &["metadata", "name"]) == Some(name))
            .unwrap_or_else(|| panic!("no {kind} named {name} in deploy/k8s"))
    }

    /// The Deployment whose container runs `binary`.
    fn deployment_running(&self, binary: &str) -> &Value {
        self.all("Deployment")
            .into_iter()
            .find(|d| {
                seq_at(d, &["spec", "template", "spec", "containers"])
                    .iter()
                    .any(|c| str_at(c, &["command", "0"]) == Some(binary))
            })
            .unwrap_or_else(|| panic!("no Deployment runs {binary}"))
    }
}

fn labels_match(selector: Option<&Mapping>, labels: Option<&Mapping>) -> bool {
    match (selector, labels) {
        (Some(selector), Some(labels)) => {
            !selector.is_empty() && selector.iter().all(|(k, v)| labels.get(k) == Some(v))
        }
        _ => false,
    }
}

/// The container's value of `var`: its own `env`, else the ConfigMaps and Secrets of `envFrom`.
fn container_env(k8s: &K8s, container: &Value, var: &str) -> Option<String> {
    let direct = seq_at(container, &["env"])
        .iter()
        .find(|e| str_at(e, &["name"]) == Some(var))
        .and_then(|e| str_at(e, &["value"]).map(str::to_owned));
    direct.or_else(|| {
        seq_at(container, &["envFrom"]).iter().find_map(|from| {
            if let Some(name) = str_at(from, &["configMapRef", "name"]) {
                at(k8s.one("ConfigMap", name), &["data", var]).and_then(scalar_text)
            } else if let Some(name) = str_at(from, &["secretRef", "name"]) {
                at(k8s.one("Secret", name), &["stringData", var]).and_then(scalar_text)
            } else {
                None
            }
        })
    })
}

/// Checks a Deployment's probes, resources, scrape annotations, PDB and env references; returns
/// its (only) container.
fn check_deployment<'a>(k8s: &'a K8s, deployment: &'a Value, port: u16) -> &'a Value {
    let name = str_at(deployment, &["metadata", "name"]).unwrap();
    let pod = at(deployment, &["spec", "template"]).unwrap();
    let containers = seq_at(pod, &["spec", "containers"]);
    assert_eq!(containers.len(), 1, "{name}: one container expected");
    let container = &containers[0];

    // Probes on the container's port (by name or number).
    let port_names: BTreeMap<String, u64> = seq_at(container, &["ports"])
        .iter()
        .map(|p| {
            (
                str_at(p, &["name"]).unwrap_or_default().to_owned(),
                u64_at(p, &["containerPort"]).unwrap(),
            )
        })
        .collect();
    assert!(
        port_names.values().any(|p| *p == u64::from(port)),
        "{name} does not expose {port}"
    );
    for (probe, path) in [("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")] {
        assert_eq!(
            str_at(container, &[probe, "httpGet", "path"]),
            Some(path),
            "{name}: {probe} must GET {path}"
        );
        let probe_port = at(container, &[probe, "httpGet", "port"]).and_then(scalar_text);
        let resolved = probe_port
            .as_deref()
            .and_then(|p| p.parse::<u64>().ok().or_else(|| port_names.get(p).copied()));
        assert_eq!(
            resolved,
            Some(u64::from(port)),
            "{name}: {probe} is not on port {port}"
        );
    }

    for bound in ["requests", "limits"] {
        for resource in ["cpu", "memory"] {
            assert!(
                at(container, &["resources", bound, resource]).is_some(),
                "{name}: no {bound}.{resource}"
            );
        }
    }

    assert_eq!(
        str_at(pod, &["metadata", "annotations", "prometheus.io/scrape"]),
        Some("true"),
        "{name}: pods are not annotated for scraping"
    );
    assert_eq!(
        str_at(pod, &["metadata", "annotations", "prometheus.io/port"]),
        Some(port.to_string().as_str()),
        "{name}: prometheus.io/port is not {port}"
    );

    let pod_labels = map_at(pod, &["metadata", "labels"]);
    assert!(
        labels_match(
            map_at(deployment, &["spec", "selector", "matchLabels"]),
            pod_labels
        ),
        "{name}: selector does not match its pod labels"
    );
    assert!(
        k8s.all("PodDisruptionBudget")
            .iter()
            .any(|pdb| labels_match(
                map_at(pdb, &["spec", "selector", "matchLabels"]),
                pod_labels
            )),
        "no PodDisruptionBudget covers {name}'s pods"
    );
    assert!(
        k8s.all("Service").iter().any(|svc| {
            labels_match(map_at(svc, &["spec", "selector"]), pod_labels)
                && seq_at(svc, &["spec", "ports"])
                    .iter()
                    .any(|p| u64_at(p, &["port"]) == Some(u64::from(port)))
        }),
        "no Service selects {name}'s pods on port {port}"
    );

    assert_eq!(
        at(pod, &["spec", "securityContext", "runAsNonRoot"]).and_then(Value::as_bool),
        Some(true),
        "{name}: pods must run as non-root"
    );
    container
}

#[test]
fn kubernetes_manifests_deploy_the_fleet() {
    let k8s = K8s::load();

    // Every file is listed in the kustomization, and everything listed exists.
    let kustomization = k8s
        .docs
        .iter()
        .find(|(_, d)| str_at(d, &["kind"]) == Some("Kustomization"))
        .map(|(_, d)| d)
        .expect("deploy/k8s/kustomization.yaml");
    let listed: BTreeSet<String> = seq_at(kustomization, &["resources"])
        .iter()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    let files: BTreeSet<String> = k8s
        .docs
        .iter()
        .map(|(f, _)| f.clone())
        .filter(|f| f != "kustomization.yaml")
        .collect();
    assert_eq!(
        listed, files,
        "kustomization.yaml resources and deploy/k8s files differ"
    );
    for (file, doc) in &k8s.docs {
        assert!(
            at(doc, &["metadata", "namespace"]).is_none(),
            "{file}: manifests name no namespace (kubectl -n chooses it)"
        );
    }

    // ConfigMap and Secret templates: every variable is one the code reads; secrets are
    // placeholders only.
    let config = k8s.one("ConfigMap", "avni-int-config");
    let secret = k8s.one("Secret", "avni-int-secrets");
    let config_keys: Vec<String> = map_at(config, &["data"])
        .expect("ConfigMap data")
        .keys()
        .filter_map(|k| k.as_str().map(str::to_owned))
        .collect();
    for (key, value) in map_at(config, &["data"]).unwrap() {
        assert!(
            value.is_string(),
            "ConfigMap value of {key:?} must be a string"
        );
    }
    assert_known_env(config_keys, "k8s/configmap.yaml");
    let secret_data = map_at(secret, &["stringData"]).expect("Secret stringData");
    for (key, value) in secret_data {
        let key = key.as_str().unwrap();
        let value = value.as_str().unwrap_or_default();
        assert!(
            value.contains("REPLACE_ME") || value == "dummy",
            "Secret {key} must be a placeholder (REPLACE_ME), not a value"
        );
    }
    // RABBITMQ_MANAGEMENT_URL is KEDA's, not the fleet's.
    assert_known_env(
        secret_data
            .keys()
            .filter_map(|k| k.as_str().map(str::to_owned))
            .filter(|k| k != "RABBITMQ_MANAGEMENT_URL"),
        "k8s/secret.yaml",
    );

    // The dispatcher: two replicas behind a Service on 6013.
    let dispatcher = k8s.deployment_running("avni-int-dispatcher");
    assert_eq!(u64_at(dispatcher, &["spec", "replicas"]), Some(2));
    check_deployment(&k8s, dispatcher, 6013);

    // The worker: drains before the kubelet kills it.
    let worker = k8s.deployment_running("avni-int-worker");
    let container = check_deployment(&k8s, worker, 6014);
    let drain = container_env(&k8s, container, "SHUTDOWN_GRACE_SECS")
        .map_or(DEFAULT_SHUTDOWN_GRACE_SECS, |s| s.parse().unwrap());
    let grace = u64_at(
        worker,
        &["spec", "template", "spec", "terminationGracePeriodSeconds"],
    )
    .unwrap_or(30);
    assert!(
        grace > drain,
        "worker terminationGracePeriodSeconds {grace} must exceed SHUTDOWN_GRACE_SECS {drain}"
    );
    assert!(
        at(container, &["resources", "limits", "memory"]).is_some(),
        "workers need a memory limit"
    );
    let worker_name = str_at(worker, &["metadata", "name"]).unwrap();
    assert!(
        k8s.all("Service").iter().any(|svc| {
            str_at(svc, &["spec", "clusterIP"]) == Some("None")
                && labels_match(
                    map_at(svc, &["spec", "selector"]),
                    map_at(worker, &["spec", "template", "metadata", "labels"]),
                )
        }),
        "no headless Service for the workers' metrics"
    );

    // KEDA scales the worker Deployment on the job queues' length, not on the dead letters.
    let scaled = k8s
        .all("ScaledObject")
        .into_iter()
        .find(|s| str_at(s, &["spec", "scaleTargetRef", "name"]) == Some(worker_name))
        .expect("a KEDA ScaledObject targeting the worker Deployment");
    assert_eq!(str_at(scaled, &["apiVersion"]), Some("keda.sh/v1alpha1"));
    let (min, max) = (
        u64_at(scaled, &["spec", "minReplicaCount"]).unwrap(),
        u64_at(scaled, &["spec", "maxReplicaCount"]).unwrap(),
    );
    assert!(min >= 1 && max > min, "replica range {min}..{max}");
    let triggers = seq_at(scaled, &["spec", "triggers"]);
    let rabbit: Vec<&Value> = triggers
        .iter()
        .filter(|t| str_at(t, &["type"]) == Some("rabbitmq"))
        .collect();
    assert!(
        !rabbit.is_empty(),
        "the ScaledObject has no rabbitmq trigger"
    );

    let prefix = str_at(config, &["data", "QUEUE_PREFIX"]).unwrap_or("avni_int");
    let topology = Topology::new(prefix, 5);
    let modules: Vec<_> = avni_int_dispatcher::catalog::builtin(&Env::from_fn(|_| None), None)
        .unwrap()
        .into_iter()
        .map(|spec| spec.module)
        .collect();
    let queues: Vec<String> = topology.queues(&modules).collect();
    let covered = |queue: &str| {
        rabbit.iter().any(|t| {
            let name = str_at(t, &["metadata", "queueName"]).unwrap_or_default();
            if str_at(t, &["metadata", "useRegex"]) == Some("true") {
                Regex::new(name).unwrap().is_match(queue)
            } else {
                name == queue
            }
        })
    };
    for trigger in &rabbit {
        assert_eq!(str_at(trigger, &["metadata", "mode"]), Some("QueueLength"));
        if str_at(trigger, &["metadata", "useRegex"]) == Some("true") {
            assert_eq!(
                str_at(trigger, &["metadata", "protocol"]),
                Some("http"),
                "KEDA's useRegex works only over the management API (protocol http)"
            );
            assert_eq!(str_at(trigger, &["metadata", "operation"]), Some("sum"));
        }
        let auth = str_at(trigger, &["authenticationRef", "name"]).expect("authenticationRef");
        let auth = k8s.one("TriggerAuthentication", auth);
        for target in seq_at(auth, &["spec", "secretTargetRef"]) {
            let secret_name = str_at(target, &["name"]).unwrap();
            let key = str_at(target, &["key"]).unwrap();
            assert!(
                at(k8s.one("Secret", secret_name), &["stringData", key]).is_some(),
                "TriggerAuthentication reads {secret_name}/{key}, which the Secret lacks"
            );
        }
    }
    for queue in &queues {
        assert!(covered(queue), "KEDA does not count queue {queue}");
    }
    let dead = topology.dead_letter_queue();
    assert!(
        !covered(&dead),
        "KEDA must not scale workers on the dead-letter queue {dead}"
    );
}

// ---------------------------------------------------------------------------------------------
// systemd

/// A unit file's settings: key → values in order (a key may repeat).
fn unit(path: &Path) -> BTreeMap<String, Vec<String>> {
    let mut settings: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in read(path).lines() {
        let line = line.trim();
        if line.is_empty()
            || line.starts_with('#')
            || line.starts_with(';')
            || line.starts_with('[')
        {
            continue;
        }
        let (key, value) = line
            .split_once('=')
            .unwrap_or_else(|| panic!("{}: unreadable line {line:?}", path.display()));
        settings
            .entry(key.trim().to_owned())
            .or_default()
            .push(value.trim().to_owned());
    }
    settings
}

/// KEY=value lines of an env file.
fn env_file(path: &Path) -> BTreeMap<String, String> {
    read(path)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (k, v) = l
                .split_once('=')
                .unwrap_or_else(|| panic!("{}: unreadable line {l:?}", path.display()));
            (k.trim().to_owned(), v.trim().to_owned())
        })
        .collect()
}

#[test]
fn systemd_units_run_the_binaries_and_outlast_the_drain() {
    let example = env_file(&deploy("systemd/avni-int.env.example"));
    assert_known_env(example.keys().cloned(), "systemd/avni-int.env.example");
    for per_instance in ["WORKER_HTTP_PORT", "WORKER_ID", "DISPATCHER_ID"] {
        assert!(
            !example.contains_key(per_instance),
            "the shared env file must not set {per_instance}: it would override every unit's own"
        );
    }
    // The original service's names, so its env file keeps working.
    for original in [
        "AVNI_INT_DATASOURCE",
        "AVNI_INT_DB_USER",
        "AVNI_INT_DB_PASSWORD",
        "AVNI_INT_ENV",
        "AVNI_INT_SERVER_PORT",
        "BUGSNAG_API_KEY",
        "BUGSNAG_RELEASE_STAGE",
        "HEALTHCHECK_PING_KEY",
    ] {
        assert!(
            example.contains_key(original),
            "avni-int.env.example lacks {original}"
        );
    }

    let mut env_files = BTreeSet::new();
    for (file, binary) in [
        ("avni-int-dispatcher.service", "avni-int-dispatcher"),
        ("avni-int-worker@.service", "avni-int-worker"),
    ] {
        let settings = unit(&deploy(&format!("systemd/{file}")));
        let get = |key: &str| -> Vec<String> { settings.get(key).cloned().unwrap_or_default() };
        let exec = get("ExecStart");
        assert_eq!(exec.len(), 1, "{file}: one ExecStart");
        let program = exec[0].split_whitespace().next().unwrap_or_default();
        assert!(
            program.starts_with('/') && Path::new(program).file_name() == Some(binary.as_ref()),
            "{file}: ExecStart runs {program}, not {binary} by absolute path"
        );
        let files = get("EnvironmentFile");
        assert_eq!(files.len(), 1, "{file}: one EnvironmentFile");
        env_files.insert(files[0].clone());
        assert_eq!(get("Restart"), ["on-failure"], "{file}");
        assert_eq!(get("KillSignal"), ["SIGTERM"], "{file}");
        assert_eq!(get("NoNewPrivileges"), ["yes"], "{file}");
        assert_eq!(get("ProtectSystem"), ["strict"], "{file}");

        // The drain as the process will see it: the unit's Environment=, overridden by the
        // env file (systemd gives EnvironmentFile= precedence).
        let unit_env: BTreeMap<String, String> = get("Environment")
            .iter()
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        assert_known_env(unit_env.keys().cloned(), file);
        let drain = example
            .get("SHUTDOWN_GRACE_SECS")
            .or_else(|| unit_env.get("SHUTDOWN_GRACE_SECS"))
            .map_or(DEFAULT_SHUTDOWN_GRACE_SECS, |s| s.parse().unwrap());
        let stop = get("TimeoutStopSec");
        assert_eq!(stop.len(), 1, "{file}: set TimeoutStopSec");
        let stop = seconds(&stop[0]);
        if binary == "avni-int-worker" {
            // Only the worker drains (the dispatcher just releases its lease and exits).
            assert!(
                stop > drain,
                "{file}: TimeoutStopSec {stop}s must exceed SHUTDOWN_GRACE_SECS {drain}s"
            );
            assert_eq!(
                unit_env.get("WORKER_HTTP_PORT").map(String::as_str),
                Some("%i"),
                "{file}: each instance needs its own WORKER_HTTP_PORT"
            );
        }
    }
    assert_eq!(
        env_files.len(),
        1,
        "dispatcher and workers must read the same env file: {env_files:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Image

#[test]
fn dockerfile_builds_both_binaries_into_a_non_root_image() {
    let dockerfile = read(&deploy("Dockerfile"));
    let stages = dockerfile
        .lines()
        .filter(|l| l.trim_start().to_uppercase().starts_with("FROM "))
        .count();
    assert!(stages >= 2, "the Dockerfile should be multi-stage");
    for binary in ["avni-int-dispatcher", "avni-int-worker"] {
        assert!(
            dockerfile.contains(&format!("-p {binary}")),
            "the Dockerfile does not build {binary}"
        );
    }
    let user = dockerfile
        .lines()
        .rev()
        .find_map(|l| l.trim().strip_prefix("USER "))
        .expect("the runtime stage sets USER");
    let uid = user.split(':').next().unwrap().trim();
    assert!(uid != "0" && uid != "root", "the image runs as root");
    let exposed: BTreeSet<&str> = dockerfile
        .lines()
        .filter_map(|l| l.trim().strip_prefix("EXPOSE "))
        .flat_map(str::split_whitespace)
        .collect();
    assert!(
        exposed.contains("6013") && exposed.contains("6014"),
        "EXPOSE 6013 6014"
    );
    let ignore = read(&repo().join(".dockerignore"));
    assert!(
        ignore
            .lines()
            .any(|l| l.trim().trim_end_matches('/') == "target"),
        ".dockerignore must keep target/ out of the build context"
    );
}
