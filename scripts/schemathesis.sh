#!/usr/bin/env bash
# Fuzzes a running LogFlow api against its own OpenAPI document with
# schemathesis: a broker and `logflow standalone` on free ports, a few
# thousand generated logs, then every operation with generated (valid and
# invalid) input, authenticated as the admin. Fails on any 5xx, any status
# or content type the document does not list, and any body that breaks
# its schema. The cache and rate limits live in the local Redis (under a
# key prefix of this run's own, deleted afterwards), with limits high
# enough that the operations themselves are exercised rather than 429s.
# The alert engine never notifies (see ALERT_CHECK_INTERVAL below).
# Called by scripts/test.sh; LOGFLOW_BIN picks the binary.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$LOGFLOW_ROOT"

BIN=${LOGFLOW_BIN:-target/debug/logflow}
EXAMPLES=${ST_MAX_EXAMPLES:-40}
ensure_schemathesis

work=$(mktemp -d)
PIDS=()
export REDIS_URL=${LOGFLOW_TEST_REDIS_URL:-redis://127.0.0.1:6379}
export REDIS_KEY_PREFIX="schemathesis:$$:"
cleanup() {
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  redis-cli -u "$REDIS_URL" --scan --pattern "$REDIS_KEY_PREFIX*" | xargs -r redis-cli -u "$REDIS_URL" unlink >/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

broker_port=$(free_port)
api_port=$(free_port)
PIDS+=("$(start_broker "$broker_port" memory://tansu/ "$work/broker.log")")

export KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:$broker_port KAFKA_TOPIC=schemathesis.logs
export LOGFLOW_DATA_DIR=$work LOGFLOW_API_ADDR=127.0.0.1:$api_port
export LOGFLOW_ADMIN_PASSWORD=quartz-lantern-57-harbor LOGFLOW_BCRYPT_COST=4
export SECRET_KEY=schemathesis-secret-0123456789abcdef0123 LOG_LEVEL=warn
# The engine evaluates once at start, before any rule exists: the fuzzed
# rules' generated webhook URLs and addresses are never sent to.
export ALERT_CHECK_INTERVAL=24h
for class in DEFAULT SEARCH RECENT LOOKUP LOGIN REGISTER METRICS; do
  export "RATE_LIMIT_$class=100000/minute"
done
unset DATABASE_URL
"$BIN" standalone >"$work/standalone.log" 2>&1 &
PIDS+=($!)
wait_port 127.0.0.1 "$api_port" 60 || { cat "$work/standalone.log" >&2; exit 1; }
"$BIN" generator --count 3000 --rate 100000 >/dev/null 2>&1

base=http://127.0.0.1:$api_port
token=$(curl -fsS "$base/api/v1/auth/login" -d username=admin -d "password=$LOGFLOW_ADMIN_PASSWORD" |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])')

log "schemathesis: $EXAMPLES examples per operation"
status=0
st run "$base/api-docs/openapi.json" \
  --header "Authorization: Bearer $token" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,negative_data_rejection \
  --max-examples "$EXAMPLES" --workers 2 --seed 20261122 --no-color \
  --request-timeout 30 || status=$?
if [ "$status" -ne 0 ]; then
  echo "--- last lines of the api's log ---" >&2
  tail -40 "$work/standalone.log" >&2
fi
exit "$status"
