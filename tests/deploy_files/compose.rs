//! The docker compose stack: its dispatchers and workers, their healthchecks, dependencies and
//! drain, the scrape targets in the Prometheus config, and the monitoring services' mounts.

use crate::env_vars::assert_known_env;
use crate::{
    at, deploy, map_at, read, scalar_text, seconds, seq_at, str_at, u64_at, yaml,
    DEFAULT_SHUTDOWN_GRACE_SECS,
};
use serde_norway::Value;
use std::collections::{BTreeMap, BTreeSet};

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
