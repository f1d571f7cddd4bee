# shellcheck shell=bash
# Sourced by the dev scripts: puts cargo on PATH when rustup installed it outside PATH.
add_cargo_to_path() {
  local dir
  command -v cargo >/dev/null 2>&1 && return 0
  for dir in "${CARGO_HOME:-}/bin" "${HOME:-}/.cargo/bin" /root/.cargo/bin /usr/local/cargo/bin; do
    if [ -x "$dir/cargo" ]; then
      PATH="$dir:$PATH"
      return 0
    fi
  done
  return 1
}
