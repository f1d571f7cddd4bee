//! The systemd units and their shared env file: the binaries they run, their hardening, and a
//! stop timeout that outlasts the worker's drain.

use crate::env_vars::assert_known_env;
use crate::{deploy, read, seconds, DEFAULT_SHUTDOWN_GRACE_SECS};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

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
