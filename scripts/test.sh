#!/usr/bin/env bash
# The one test command: starts what the tests need, then checks the compose
# stack's files, runs fmt, clippy, every test of the workspace, schemathesis
# against a running api, and the smoke run of the local stack.
# Tests start their own broker instances (tansu, in memory, on random ports)
# through the test harness.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$LOGFLOW_ROOT"

ensure_tansu
ensure_postgres
ensure_redis
ensure_chromium
ensure_aiosmtpd
ensure_promtool
export TANSU_BIN="$(command -v tansu)"

log "docker compose stack files (docker-compose config, promtool, dashboard)"
scripts/check-compose.sh
log "cargo fmt --check"
cargo fmt --all -- --check
log "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings
log "tests"
if command -v cargo-nextest >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast
else
  cargo test --workspace --locked --no-fail-fast
fi
log "schemathesis against a running api"
LOGFLOW_BIN=target/debug/logflow scripts/schemathesis.sh
log "smoke: the local stack as separate processes, promtool, a real Prometheus, the operator scripts"
LOGFLOW_BIN=target/debug/logflow scripts/smoke.sh
