#!/usr/bin/env bash
# The whole test suite: format, lints, and every test on SQLite and PostgreSQL, plus the browser
# tests in headless Chromium. Installs what it needs where it is missing (PostgreSQL server,
# Chromium and its driver, CJK fonts for the screenshots); a prerequisite that cannot be had
# fails the run, it is never skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need_apt+=(postgresql)
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need_apt+=(chromium-driver)
[ -d /usr/share/fonts/opentype/noto ] || need_apt+=(fonts-noto-cjk)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "installing: ${need_apt[*]}"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${need_apt[@]}"
fi

# A fresh throwaway PostgreSQL cluster for this run (the tests start it on first use and
# share it; see crates/store/src/testing.rs). Stopped at the end whatever happens.
pg_root="${TMPDIR:-/tmp}/yanglao-test-pg-$(id -u)"
stop_pg() {
  if [ -f "$pg_root/data/PG_VERSION" ]; then
    bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
    if [ "$(id -u)" -eq 0 ]; then
      runuser -u postgres -- "$bin/pg_ctl" -D "$pg_root/data" -m immediate stop >/dev/null 2>&1 || true
    else
      "$bin/pg_ctl" -D "$pg_root/data" -m immediate stop >/dev/null 2>&1 || true
    fi
  fi
}
stop_pg
rm -rf "$pg_root"
trap stop_pg EXIT

# axe-core for the accessibility checks in the browser tests (WCAG 2.1 AA), from npm.
if [ ! -f target/axe/node_modules/axe-core/axe.min.js ]; then
  command -v npm >/dev/null 2>&1 || need_npm=1
  if [ "${need_npm:-0}" = 1 ]; then
    sudo_cmd=""
    [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq npm
  fi
  mkdir -p target/axe
  npm install --prefix target/axe --no-audit --no-fund --silent axe-core@4.14.1
fi

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
if command -v cargo-nextest >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast
  cargo test --workspace --doc --locked
else
  cargo test --workspace --locked --no-fail-fast
fi
