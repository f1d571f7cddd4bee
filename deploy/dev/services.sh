#!/usr/bin/env bash
# Ensure the local services avni-int needs are up: PostgreSQL on 127.0.0.1:5432 (user postgres,
# trust auth) and RabbitMQ on 127.0.0.1:5672 (guest/guest). Idempotent: a service that already
# answers is left alone; one that is installed but down is started; one that is missing is
# installed with apt-get (Debian/Ubuntu) and started. Also checks that `cargo` is available.
#
# With --browser (the test suite passes it) also ensures headless Chromium and chromedriver
# (Debian's `chromium` and `chromium-driver`), which the built-in UI's end-to-end tests drive.
#
# Prints one line per service. Exits non-zero, with the reason on stderr, if something cannot be
# brought up within SERVICES_TIMEOUT seconds (default 120).
#
# Env: PG_HOST (127.0.0.1), PG_PORT (5432), AMQP_HOST (127.0.0.1), AMQP_PORT (5672),
#      SERVICES_TIMEOUT (120).
set -euo pipefail

PG_HOST=${PG_HOST:-127.0.0.1}
PG_PORT=${PG_PORT:-5432}
AMQP_HOST=${AMQP_HOST:-127.0.0.1}
AMQP_PORT=${AMQP_PORT:-5672}
SERVICES_TIMEOUT=${SERVICES_TIMEOUT:-120}

WITH_BROWSER=0
for arg in "$@"; do
  case "$arg" in
  --browser) WITH_BROWSER=1 ;;
  *)
    printf 'services.sh: error: unknown argument %s (known: --browser)\n' "$arg" >&2
    exit 2
    ;;
  esac
done

HBA_MARKER='# avni-int deploy/dev/services.sh: passwordless local access for development'

die() {
  printf 'services.sh: error: %s\n' "$*" >&2
  exit 1
}

warn() {
  printf 'services.sh: warning: %s\n' "$*" >&2
}

is_root() {
  [ "$(id -u)" -eq 0 ]
}

# Run a command as root (directly, or through non-interactive sudo).
as_root() {
  if is_root; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo -n "$@"
  else
    die "root is needed to run: $* (run this script as root, or install sudo)"
  fi
}

APT_UPDATED=0
apt_install() {
  command -v apt-get >/dev/null 2>&1 ||
    die "apt-get not found: install $* by hand, then re-run"
  local apt=(env DEBIAN_FRONTEND=noninteractive apt-get -q -y -o DPkg::Lock::Timeout=300)
  if [ "$APT_UPDATED" -eq 0 ]; then
    as_root "${apt[@]}" update >&2 || die "apt-get update failed"
    APT_UPDATED=1
  fi
  as_root "${apt[@]}" install --no-install-recommends "$@" >&2 ||
    die "apt-get install $* failed"
}

tcp_open() { # host port
  # shellcheck disable=SC2016  # $1 and $2 expand in the inner bash
  timeout 3 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$1" "$2" >/dev/null 2>&1
}

# Poll "$@" once a second until it succeeds or $1 seconds have passed.
wait_until() {
  local limit=$1
  shift
  local deadline=$((SECONDS + limit))
  until "$@"; do
    if ((SECONDS >= deadline)); then
      return 1
    fi
    sleep 1
  done
}

# ---------------------------------------------------------------------------------------------
# PostgreSQL

pg_up() {
  if command -v pg_isready >/dev/null 2>&1; then
    pg_isready -q -h "$PG_HOST" -p "$PG_PORT" -t 3 >/dev/null 2>&1
  else
    tcp_open "$PG_HOST" "$PG_PORT"
  fi
}

# Can user postgres log in over TCP without a password? (true when psql is absent: nothing to test.)
pg_login_ok() {
  command -v psql >/dev/null 2>&1 || return 0
  PGCONNECT_TIMEOUT=5 psql -X -w -h "$PG_HOST" -p "$PG_PORT" -U postgres -d postgres \
    -Atqc 'select 1' >/dev/null 2>&1
}

pg_server_installed() {
  compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null && command -v pg_ctlcluster >/dev/null 2>&1
}

# Prints "<version> <name>" of the local cluster configured for PG_PORT; fails if there is none.
pg_find_cluster() {
  command -v pg_lsclusters >/dev/null 2>&1 || return 1
  local line
  line=$(pg_lsclusters -h 2>/dev/null | awk -v p="$PG_PORT" '$3 == p { print $1, $2; exit }')
  [ -n "$line" ] || return 1
  printf '%s\n' "$line"
}

# Prints "<version> <name>" of the cluster for PG_PORT, creating one ("main", newest installed
# server) when there are no clusters at all.
pg_ensure_cluster() {
  local cluster version others
  if cluster=$(pg_find_cluster); then
    printf '%s\n' "$cluster"
    return 0
  fi
  others=$(pg_lsclusters -h 2>/dev/null | awk '{ printf " %s/%s (port %s)", $1, $2, $3 }')
  [ -z "$others" ] ||
    die "postgres: no local cluster uses port $PG_PORT; existing clusters:$others. Start one on $PG_PORT, or set PG_PORT"
  version=$(find /usr/lib/postgresql -mindepth 3 -maxdepth 3 -path '*/bin/postgres' 2>/dev/null |
    awk -F/ '{ print $5 }' | sort -V | tail -n 1)
  [ -n "$version" ] || die "postgres: no server found under /usr/lib/postgresql"
  as_root pg_createcluster -p "$PG_PORT" "$version" main >&2 ||
    die "postgres: pg_createcluster $version main failed"
  printf '%s main\n' "$version"
}

# Put trust rules for 127.0.0.1 and ::1 at the top of the cluster's pg_hba.conf (once).
pg_ensure_trust() { # version name
  local hba="/etc/postgresql/$1/$2/pg_hba.conf" current
  if ! as_root test -f "$hba"; then
    warn "postgres: $hba not found; cannot set up trust auth for 127.0.0.1"
    return 0
  fi
  if as_root grep -qF "$HBA_MARKER" "$hba"; then
    return 0
  fi
  current=$(as_root cat "$hba")
  # Rewrite in place (tee) so the file keeps its owner and mode.
  {
    printf '%s\n' "$HBA_MARKER"
    printf 'host    all             all             127.0.0.1/32            trust\n'
    printf 'host    all             all             ::1/128                 trust\n'
    printf '\n%s\n' "$current"
  } | as_root tee "$hba" >/dev/null || die "postgres: could not write $hba"
  # A running cluster picks the change up on reload; a stopped one when it starts.
  as_root pg_ctlcluster --skip-systemctl-redirect "$1" "$2" reload >/dev/null 2>&1 || true
}

pg_fail() { # version name start_output what_went_wrong
  {
    printf 'services.sh: error: postgres: cluster %s/%s %s\n' "$1" "$2" "$4"
    [ -z "$3" ] || printf 'pg_ctlcluster said:\n%s\n' "$3"
    local log="/var/log/postgresql/postgresql-$1-$2.log"
    if as_root test -f "$log"; then
      printf 'last lines of %s:\n' "$log"
      as_root tail -n 20 "$log" || true
    fi
  } >&2
  exit 1
}

ensure_postgres() {
  local how cluster version name out
  if pg_up; then
    how="already running"
    if ! pg_login_ok; then
      # Reachable but user postgres needs a password: fix a local cluster's pg_hba.conf.
      if pg_server_installed && cluster=$(pg_find_cluster); then
        read -r version name <<<"$cluster"
        pg_ensure_trust "$version" "$name"
        wait_until 10 pg_login_ok || true
      fi
      if pg_login_ok; then
        how="already running; enabled trust auth for 127.0.0.1"
      else
        warn "postgres: user postgres cannot log in to $PG_HOST:$PG_PORT without a password;" \
          "set DATABASE_URL with credentials, or allow trust auth for 127.0.0.1 in pg_hba.conf"
        how="already running; passwordless login as postgres FAILED"
      fi
    fi
    echo "postgres: up at $PG_HOST:$PG_PORT ($how)"
    return 0
  fi

  if pg_server_installed; then
    how="started"
  else
    echo "postgres: not installed; installing with apt-get ..." >&2
    apt_install postgresql
    pg_server_installed || die "postgres: installed package postgresql but found no server"
    how="installed and started"
  fi
  cluster=$(pg_ensure_cluster)
  read -r version name <<<"$cluster"
  pg_ensure_trust "$version" "$name"
  if ! out=$(as_root pg_ctlcluster --skip-systemctl-redirect "$version" "$name" start 2>&1); then
    # "already running" (e.g. started by the package's postinst) is fine; anything else is fatal.
    grep -qi 'already running' <<<"$out" || pg_fail "$version" "$name" "$out" "failed to start"
  fi
  wait_until "$SERVICES_TIMEOUT" pg_up || pg_fail "$version" "$name" "$out" \
    "did not accept connections on $PG_HOST:$PG_PORT within ${SERVICES_TIMEOUT}s"
  wait_until 10 pg_login_ok ||
    warn "postgres: user postgres cannot log in to $PG_HOST:$PG_PORT without a password"
  echo "postgres: up at $PG_HOST:$PG_PORT ($how cluster $version/$name)"
}

# ---------------------------------------------------------------------------------------------
# RabbitMQ

# rabbitmqctl/rabbitmq-diagnostics only work as root or as the rabbitmq user.
rabbit_cli_usable() { # command
  command -v "$1" >/dev/null 2>&1 && { is_root || [ "$(id -un)" = rabbitmq ]; }
}

# Run a rabbitmq CLI with a time limit. --foreground and </dev/null: the Erlang VM touches the
# terminal, and in timeout's own (background) process group it would be stopped by SIGTTOU.
rabbit_cli() { # seconds command args...
  local secs=$1
  shift
  timeout --foreground "$secs" "$@" </dev/null
}

rabbit_up() {
  tcp_open "$AMQP_HOST" "$AMQP_PORT" || return 1
  if rabbit_cli_usable rabbitmq-diagnostics; then
    rabbit_cli 20 rabbitmq-diagnostics -q ping >/dev/null 2>&1 || return 1
  fi
}

rabbit_installed() {
  command -v rabbitmq-server >/dev/null 2>&1
}

# Enable every feature flag (quorum queues, dead-letter strategies, ...). Failure is not fatal.
# Prints a short note for the service line.
rabbit_feature_flags() {
  local flags
  if ! rabbit_cli_usable rabbitmqctl; then
    echo "feature flags not checked: rabbitmqctl not usable here"
    return 0
  fi
  if ! flags=$(rabbit_cli 30 rabbitmqctl -q list_feature_flags name state 2>/dev/null); then
    echo "feature flags not checked: rabbitmqctl failed"
    return 0
  fi
  if ! grep -qw disabled <<<"$flags"; then
    echo "feature flags all enabled"
  elif rabbit_cli 60 rabbitmqctl -q enable_feature_flag all >/dev/null 2>&1; then
    echo "enabled all feature flags"
  else
    echo "could not enable all feature flags (ignored)"
  fi
}

rabbit_fail() { # start_output
  {
    printf 'services.sh: error: rabbitmq: did not answer on %s:%s within %ss\n' \
      "$AMQP_HOST" "$AMQP_PORT" "$SERVICES_TIMEOUT"
    [ -z "$1" ] || printf 'rabbitmq-server -detached said:\n%s\n' "$1"
    printf 'see the logs in %s/\n' "${RABBITMQ_LOG_BASE:-/var/log/rabbitmq}"
  } >&2
  exit 1
}

ensure_rabbitmq() {
  local how out
  if rabbit_up; then
    how="already running"
  else
    if rabbit_installed; then
      how="started"
    else
      echo "rabbitmq: not installed; installing with apt-get ..." >&2
      apt_install rabbitmq-server
      rabbit_installed || die "rabbitmq: installed package rabbitmq-server but found no rabbitmq-server"
      how="installed and started"
    fi
    # The package's postinst may already have started it; a second start just fails harmlessly.
    if rabbit_up; then
      out=""
    else
      out=$(as_root rabbitmq-server -detached </dev/null 2>&1) || true
    fi
    wait_until "$SERVICES_TIMEOUT" rabbit_up || rabbit_fail "$out"
  fi
  echo "rabbitmq: up at $AMQP_HOST:$AMQP_PORT ($how; $(rabbit_feature_flags))"
}

# ---------------------------------------------------------------------------------------------
# Rust toolchain

ensure_cargo() {
  # shellcheck source=deploy/dev/cargo-path.sh
  . "$(dirname "${BASH_SOURCE[0]}")/cargo-path.sh"
  add_cargo_to_path || true
  command -v cargo >/dev/null 2>&1 ||
    die "cargo not found: install the Rust toolchain with rustup (https://rustup.rs), then re-run"
  local version
  version=$(cargo --version 2>&1) ||
    die "cargo is installed but does not run (no default toolchain? try 'rustup default stable'): $version"
  echo "cargo: $version ($(command -v cargo))"
}

# ---------------------------------------------------------------------------------------------
# Headless Chromium (for the web UI's end-to-end tests)

chromium_present() {
  command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1
}

ensure_chromium() {
  local how version
  if chromium_present; then
    how="already installed"
  else
    echo "chromium: not installed; installing chromium and chromium-driver with apt-get ..." >&2
    apt_install chromium chromium-driver
    chromium_present ||
      die "chromium: installed packages chromium and chromium-driver but found no chromium or chromedriver"
    how="installed"
  fi
  # chromedriver answers --version without starting a browser (chromium's wrapper script may not).
  version=$(chromedriver --version 2>/dev/null | head -n 1) || version="chromedriver (version unknown)"
  echo "chromium: $how ($version)"
}

ensure_postgres
ensure_rabbitmq
ensure_cargo
if [ "$WITH_BROWSER" -eq 1 ]; then
  ensure_chromium
fi
