//! The Grafana dashboard and the Prometheus alert rules against the metrics
//! `shared/src/metrics.rs` exports, and the views and alerts issue 5 requires of them.

use crate::{deploy, read, repo, seq_at, str_at, yaml};
use regex::Regex;
use serde_json::Value as Json;
use serde_norway::Value;
use std::collections::{BTreeMap, BTreeSet};

/// Exported metrics deliberately absent from both the dashboard and the alert rules, with why.
/// Empty today: every exported metric is shown or alerted on.
const NOT_SHOWN: &[(&str, &str)] = &[];

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
         update exported_metrics() in tests/deploy_files/metrics.rs to the new way metrics are declared",
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
