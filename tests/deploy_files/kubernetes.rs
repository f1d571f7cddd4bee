//! The Kubernetes manifests in `deploy/k8s`: the kustomization, the config and secret
//! templates, the Deployments' probes, grace periods and scrape annotations, and KEDA's
//! autoscaling on the job queues.

use crate::env_vars::assert_known_env;
use crate::{
    at, deploy, map_at, scalar_text, seq_at, str_at, u64_at, yaml_documents,
    DEFAULT_SHUTDOWN_GRACE_SECS,
};
use avni_int_shared::broker::Topology;
use avni_int_shared::config::Env;
use regex::Regex;
use serde_norway::{Mapping, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

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
