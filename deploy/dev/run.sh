#!/usr/bin/env bash
# Run the avni-int fleet locally: ensures Postgres and RabbitMQ (services.sh), builds the release
# binaries, creates and migrates the database avni_int_demo, then starts the partner simulator (if
# built), one dispatcher (admin API on http://127.0.0.1:6013) and $WORKERS workers.
#
# Logs of all processes are interleaved on this terminal, each line prefixed with its process.
# Ctrl-C / SIGTERM stops them all (SIGTERM, then SIGKILL after STOP_TIMEOUT seconds; a second
# Ctrl-C forces it at once). If any process exits on its own, the others are stopped and the script exits
# with that process's status (1 if it exited with 0).
#
# Env: WORKERS (2), AMQP_URL (amqp://guest:guest@127.0.0.1:5672/%2f), RUST_LOG (info),
#      LOG_FORMAT (pretty), STOP_TIMEOUT (20), SKIP_BUILD=1 to reuse the binaries already built.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"

WORKERS=${WORKERS:-2}
STOP_TIMEOUT=${STOP_TIMEOUT:-20}
DEMO_DB=avni_int_demo
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release"

log() {
  printf 'run.sh: %s\n' "$*"
}

die() {
  printf 'run.sh: error: %s\n' "$*" >&2
  exit 1
}

[[ "$WORKERS" =~ ^[0-9]+$ ]] || die "WORKERS must be a number, got '$WORKERS'"
[[ "$STOP_TIMEOUT" =~ ^[0-9]+$ ]] || die "STOP_TIMEOUT must be a number of seconds, got '$STOP_TIMEOUT'"
((BASH_VERSINFO[0] > 5 || (BASH_VERSINFO[0] == 5 && BASH_VERSINFO[1] >= 1))) ||
  die "bash 5.1 or later is needed (this is $BASH_VERSION)"

bash deploy/dev/services.sh

# shellcheck source=deploy/dev/cargo-path.sh
. deploy/dev/cargo-path.sh
add_cargo_to_path || true

if [ "${SKIP_BUILD:-}" != 1 ]; then
  log "building release binaries (cargo build --release --workspace --bins)"
  cargo build --release --workspace --bins
fi
for b in avni-int-dispatcher avni-int-worker; do
  [ -x "$BIN/$b" ] || die "$BIN/$b not found (did the build succeed?)"
done

# Database.
command -v psql >/dev/null 2>&1 || die "psql not found (apt-get install postgresql-client)"
psql_admin() {
  PGCONNECT_TIMEOUT=10 psql -X -w -q -At -v ON_ERROR_STOP=1 \
    -h 127.0.0.1 -p 5432 -U postgres -d postgres "$@"
}
exists=$(psql_admin -c "select 1 from pg_database where datname = '$DEMO_DB'") ||
  die "cannot query Postgres at 127.0.0.1:5432 as user postgres"
if [ "$exists" != 1 ]; then
  psql_admin -c "create database $DEMO_DB" || die "could not create database $DEMO_DB"
  log "created database $DEMO_DB"
fi

export DATABASE_URL="postgres://postgres@127.0.0.1:5432/$DEMO_DB"
export AMQP_URL=${AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/%2f}
export AVNI_INT_ENV=demo
export LOG_FORMAT=${LOG_FORMAT:-pretty}
export RUST_LOG=${RUST_LOG:-info,sqlx::postgres::notice=warn}
export AVNI_INT_SERVER_PORT=6013

log "migrating $DEMO_DB"
"$BIN/avni-int-dispatcher" migrate || die "avni-int-dispatcher migrate failed"

# Process supervision. Children stay in this script's process group; each one's stdout and stderr
# go through a sed that prefixes its name. The sed ignores INT/TERM so that a child's last words
# during shutdown still reach the terminal; it exits when the child closes its output.
PIDS=()
NAMES=()
COLORS=(36 33 35 32 34 31 96 93 95 92 94 91)

start() { # name command...
  local name=$1 prefix
  shift
  prefix=$(printf '%-10s| ' "$name")
  if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then
    prefix=$(printf '\033[%sm%s\033[0m' "${COLORS[${#PIDS[@]} % ${#COLORS[@]}]}" "$prefix")
  fi
  (
    # Ctrl-C reaches the whole foreground process group; children ignore it and get the SIGTERM
    # from stop_all instead, so every process shuts down the same way.
    trap '' INT
    exec "$@" </dev/null > >(
      trap '' INT TERM
      exec sed -u "s#^#$prefix#"
    ) 2>&1
  ) &
  PIDS+=("$!")
  NAMES+=("$name")
  log "started $name (pid $!): $*"
}

name_of() { # pid
  local i
  for i in "${!PIDS[@]}"; do
    if [ "${PIDS[$i]}" = "$1" ]; then
      printf '%s\n' "${NAMES[$i]}"
      return 0
    fi
  done
  printf 'pid %s\n' "$1"
}

any_alive() {
  local pid
  for pid in "${PIDS[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then
      return 0
    fi
  done
  return 1
}

FORCED=0
force_stop() {
  FORCED=1
  log "forcing: sending SIGKILL"
  kill -KILL "${PIDS[@]}" 2>/dev/null || true
}

stop_all() {
  # While stopping, a second Ctrl-C forces SIGKILL; a repeated SIGTERM (e.g. one sent both to this
  # script and to its process group) changes nothing.
  trap force_stop INT
  trap '' TERM
  if ((${#PIDS[@]} == 0)); then
    return 0
  fi
  kill -TERM "${PIDS[@]}" 2>/dev/null || true
  local deadline=$((SECONDS + STOP_TIMEOUT))
  while any_alive; do
    if ((FORCED == 0 && SECONDS >= deadline)); then
      log "still running after ${STOP_TIMEOUT}s"
      force_stop
    fi
    # A sleep killed by Ctrl-C would make bash abandon this loop; let it ignore SIGINT (this
    # script still gets it and runs force_stop).
    (
      trap '' INT
      exec sleep 0.2
    )
  done
  wait 2>/dev/null || true
  log "all processes stopped"
}

# shellcheck disable=SC2317  # invoked by the traps below
on_signal() { # signal number
  trap force_stop INT
  trap '' TERM
  echo
  log "got SIG$(kill -l "$1"); stopping all processes"
  stop_all
  exit $((128 + $1))
}
trap 'on_signal 2' INT
trap 'on_signal 15' TERM

if [ -x "$BIN/avni-int-sim" ]; then
  start sim env SIM_DEMO_DATABASE_URL="$DATABASE_URL" "$BIN/avni-int-sim"
fi
start dispatcher "$BIN/avni-int-dispatcher"
for ((n = 1; n <= WORKERS; n++)); do
  start "worker-$n" env WORKER_ID="worker-$n" WORKER_HTTP_PORT=$((6013 + n)) "$BIN/avni-int-worker"
done
log "fleet up: admin UI on http://localhost:${AVNI_INT_SERVER_PORT:-6013}/ (demo@example.org / demo), simulators on :6081 (Avni) and :6082 (Salesforce), tenant Goonj Demo syncs every minute; Ctrl-C to stop"

# Wait for the first child to exit (a trapped signal interrupts this and runs on_signal).
dead=""
status=0
while [ -z "$dead" ]; do
  status=0
  wait -n -p dead "${PIDS[@]}" || status=$?
  if [ -z "$dead" ] && ((status == 127)); then
    dead="?"
  fi
done
log "$(name_of "$dead") (pid $dead) exited with status $status; stopping the others"
stop_all
if ((status == 0)); then
  status=1
fi
exit "$status"
