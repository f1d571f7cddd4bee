#!/usr/bin/env bash
# Validate the deployment files with the tools that own their formats:
#   - promtool check rules  deploy/prometheus/alerts.yml
#   - promtool check config deploy/prometheus/prometheus.yml   (also loads the rule file)
#   - docker compose -f deploy/compose.yaml config -q           (only when docker compose exists)
# The structural checks (services, probes, grace periods, metric names against the code) are in
# tests/deploy_files/, which the test suite runs.
#
# promtool comes from Debian's `prometheus` package; when it is missing it is installed with
# apt-get (root or sudo needed) WITHOUT starting the Prometheus daemon the package ships: a
# policy-rc.d forbids starting services during the install, and the unit is disabled afterwards.
#
# Exits non-zero, saying which check failed, if any does.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

die() {
  printf 'check.sh: error: %s\n' "$*" >&2
  exit 1
}

is_root() {
  [ "$(id -u)" -eq 0 ]
}

as_root() {
  if is_root; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo -n "$@"
  else
    die "root is needed to run: $* (run this script as root, or install promtool by hand)"
  fi
}

POLICY_RC=/usr/sbin/policy-rc.d
POLICY_RC_OURS=0
remove_policy_rc() {
  if [ "$POLICY_RC_OURS" -eq 1 ]; then
    as_root rm -f "$POLICY_RC" || true
    POLICY_RC_OURS=0
  fi
}
trap remove_policy_rc EXIT

install_promtool() {
  command -v apt-get >/dev/null 2>&1 ||
    die "promtool not found and apt-get is not available: install Prometheus' promtool by hand, then re-run"
  echo "check.sh: promtool not found; installing Debian's prometheus package (daemon kept stopped) ..." >&2
  # Forbid invoke-rc.d from starting the daemon during the install (exit 101 = action denied).
  # An existing policy-rc.d (some images ship one that denies everything) is left as it is.
  if ! as_root test -e "$POLICY_RC"; then
    printf '#!/bin/sh\n# check.sh: no service starts while installing promtool\nexit 101\n' |
      as_root tee "$POLICY_RC" >/dev/null || die "could not write $POLICY_RC"
    as_root chmod 0755 "$POLICY_RC"
    POLICY_RC_OURS=1
  fi
  local apt=(env DEBIAN_FRONTEND=noninteractive apt-get -q -y -o DPkg::Lock::Timeout=300)
  as_root "${apt[@]}" update >&2 || die "apt-get update failed"
  as_root "${apt[@]}" install --no-install-recommends prometheus >&2 ||
    die "apt-get install prometheus (for promtool) failed"
  remove_policy_rc
  # Only promtool is wanted: make sure the daemon neither runs now nor starts at boot.
  if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
    as_root systemctl disable --now prometheus.service >/dev/null 2>&1 || true
  else
    if [ -x /etc/init.d/prometheus ]; then
      as_root /etc/init.d/prometheus stop >/dev/null 2>&1 || true
    fi
    # Debian's update-rc.d also removes the systemd unit's enablement symlink, so the daemon
    # does not start on a later boot under systemd either.
    if command -v update-rc.d >/dev/null 2>&1; then
      as_root update-rc.d prometheus disable >/dev/null 2>&1 || true
    fi
  fi
  command -v promtool >/dev/null 2>&1 || die "installed package prometheus but found no promtool"
}

command -v promtool >/dev/null 2>&1 || install_promtool
echo "check.sh: $(promtool --version 2>&1 | head -n 1)"

failed=()

echo "check.sh: promtool check rules deploy/prometheus/alerts.yml"
promtool check rules deploy/prometheus/alerts.yml || failed+=("promtool check rules deploy/prometheus/alerts.yml")

echo "check.sh: promtool check config deploy/prometheus/prometheus.yml"
promtool check config deploy/prometheus/prometheus.yml || failed+=("promtool check config deploy/prometheus/prometheus.yml")

if command -v docker >/dev/null 2>&1 && docker compose version >/dev/null 2>&1; then
  echo "check.sh: docker compose -f deploy/compose.yaml config -q"
  docker compose -f deploy/compose.yaml config -q || failed+=("docker compose -f deploy/compose.yaml config -q")
elif command -v docker >/dev/null 2>&1; then
  echo "check.sh: skipped docker compose config: docker is here but its compose plugin is not"
else
  echo "check.sh: skipped docker compose config: docker is not installed"
fi

if [ "${#failed[@]}" -gt 0 ]; then
  printf 'check.sh: FAILED: %s\n' "${failed[@]}" >&2
  exit 1
fi
echo "check.sh: deployment files OK"
