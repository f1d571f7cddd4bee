#!/usr/bin/env bash
# Run the whole workspace test suite against local Postgres and RabbitMQ (started, or installed,
# by services.sh, which also installs headless Chromium for the web UI's tests). Extra arguments are passed to the test runner, e.g.
#   deploy/dev/test.sh -p avni-int-shared        deploy/dev/test.sh -E 'test(cursor)'
# Uses cargo-nextest (installed if missing); falls back to `cargo test` if it cannot be installed.
# Exits with the test runner's exit code.
#
# Env: DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres; tests create fresh
#      databases through it), AMQP_URL (default amqp://guest:guest@127.0.0.1:5672/%2f),
#      CI (when set and not "false": --no-fail-fast).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"

bash deploy/dev/services.sh --browser
# The deploy files are checked with the real tools (promtool) before the suite runs.
bash deploy/check.sh

# shellcheck source=deploy/dev/cargo-path.sh
. deploy/dev/cargo-path.sh
add_cargo_to_path || true

export DATABASE_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
export AMQP_URL=${AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/%2f}
export RUST_BACKTRACE=${RUST_BACKTRACE:-1}

runner_args=(--workspace --all-targets)
if [ -n "${CI:-}" ] && [ "${CI:-}" != "false" ]; then
  runner_args+=(--no-fail-fast)
fi

if ! cargo nextest --version >/dev/null 2>&1; then
  echo "test.sh: cargo-nextest not found; installing it (cargo install cargo-nextest --locked) ..."
  if ! cargo install cargo-nextest --locked; then
    echo "test.sh: could not install cargo-nextest; falling back to cargo test" >&2
  fi
fi

if cargo nextest --version >/dev/null 2>&1; then
  echo "test.sh: cargo nextest run ${runner_args[*]} $*"
  exec cargo nextest run "${runner_args[@]}" "$@"
else
  echo "test.sh: cargo test ${runner_args[*]} $*"
  exec cargo test "${runner_args[@]}" "$@"
fi
