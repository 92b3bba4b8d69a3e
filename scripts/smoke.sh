#!/usr/bin/env bash
# Smoke test of the whole local stack, each role as its own process on free
# ports in a temporary directory: a tansu broker (in memory), `logflow
# processor`, `logflow api`, `logflow alerting`, and `logflow generator
# --output stdout` piped into `logflow shipper --stdin`. The api and the alert
# engine share a fresh PostgreSQL database (created here, dropped
# afterwards) and the processor's data directory (the tantivy indexes);
# the cache and rate limits live in the local Redis under a key prefix of
# this run's own (deleted afterwards). Then: every role's /metrics passes
# `promtool check metrics`, a real Prometheus scrapes all four every second
# until each target is up, and
# the operator smoke scripts (test-auth, test-cache, test-rate-limit,
# test-metrics, test-tracing, pipeline-status) run against the api.
# Everything is stopped and removed on exit; exits 1 if anything failed
# (SMOKE_KEEP=1 keeps the directory and its logs then).
# Called by scripts/test.sh; LOGFLOW_BIN picks the binary (copied first, so
# a rebuild cannot swap it mid-run); LOGFLOW_TEST_PG_URL and
# LOGFLOW_TEST_REDIS_URL the servers, as for the tests.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
cd "$LOGFLOW_ROOT"

SRC_BIN=${LOGFLOW_BIN:-target/debug/logflow}
[ -x "$SRC_BIN" ] || { echo "smoke: no logflow binary at $SRC_BIN (cargo build, or set LOGFLOW_BIN)" >&2; exit 1; }
ensure_tansu
ensure_postgres
ensure_redis
ensure_promtool
command -v prometheus >/dev/null 2>&1 || { echo "smoke: prometheus is not installed (Debian package prometheus)" >&2; exit 1; }

# The stack is configured here alone: drop LogFlow settings inherited from
# the caller's environment (a DATABASE_URL, a LOGFLOW_METRICS_ADDR, …).
for name in $(compgen -e); do
  case $name in
    LOGFLOW_BIN | LOGFLOW_TEST_*) ;;
    LOGFLOW_* | KAFKA_* | RATE_LIMIT_* | CACHE_* | REDIS_* | ALERT_* | SMTP_* | ELASTICSEARCH_* | \
      DATABASE_URL | SECRET_KEY | ACCESS_TOKEN_EXPIRE_MINUTES | RETENTION_DAYS | LOG_LEVEL | TRUSTED_PROXIES)
      unset "$name" ;;
  esac
done

t0=$SECONDS
step() { log "[$((SECONDS - t0))s] $*"; }

work=$(mktemp -d "${TMPDIR:-/tmp}/logflow-smoke.XXXXXX")
PIDS=()
PG_BASE=${LOGFLOW_TEST_PG_URL:-postgres://root@127.0.0.1:5432/test}
DB_NAME="logflow_smoke_$$_$RANDOM"
DB_CREATED=
REDIS=${LOGFLOW_TEST_REDIS_URL:-redis://127.0.0.1:6379}
REDIS_PREFIX="logflow-smoke:$$:$RANDOM:"

dump_logs() {
  local f
  for f in "$work"/*.log; do
    [ -s "$f" ] || continue
    printf -- '--- %s (last 15 lines) ---\n' "${f##*/}" >&2
    tail -15 "$f" >&2
  done
}
die() {
  echo "smoke: FAIL: $*" >&2
  dump_logs
  exit 1
}
cleanup() {
  local rc=$? i p alive
  set +e
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do kill -TERM "${PIDS[i]}" 2>/dev/null; done
  for _ in $(seq 1 100); do
    alive=0
    for p in "${PIDS[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.1
  done
  for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
  wait 2>/dev/null
  if [ -n "$DB_CREATED" ]; then
    psql "$PG_BASE" -qAtc "DROP DATABASE IF EXISTS $DB_NAME WITH (FORCE)" >/dev/null 2>&1 ||
      echo "smoke: could not drop database $DB_NAME" >&2
  fi
  redis-cli -u "$REDIS" --scan --pattern "$REDIS_PREFIX*" 2>/dev/null |
    xargs -r redis-cli -u "$REDIS" unlink >/dev/null 2>&1
  if [ "$rc" != 0 ] && [ -n "${SMOKE_KEEP:-}" ]; then
    echo "smoke: kept $work (logs, data, prometheus.yml)" >&2
  else
    rm -rf "$work"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# wait_ok NAME PID URL SECONDS: until URL answers 200; fails at once when
# the process PID has exited.
wait_ok() {
  local name=$1 pid=$2 url=$3 deadline=$((SECONDS + $4))
  while [ "$SECONDS" -lt "$deadline" ]; do
    [ "$(curl -s -o /dev/null -m 2 -w '%{http_code}' "$url" || true)" = 200 ] && return 0
    kill -0 "$pid" 2>/dev/null || die "$name exited before $url answered"
    sleep 0.2
  done
  die "$name: $url did not answer 200 within $4 s"
}

# metric_sum URL FAMILY: the sum of a family's samples on a /metrics page (0 if none).
metric_sum() {
  curl -s -m 5 "$1" | awk -v f="$2" '$1 == f || index($1, f "{") == 1 { s += $NF } END { print s + 0 }'
}

BIN=$work/logflow
cp "$SRC_BIN" "$BIN"
mkdir -p "$work/data" "$work/input"

broker_port=$(free_port)
api_port=$(free_port)
processor_metrics=127.0.0.1:$(free_port)
alerting_metrics=127.0.0.1:$(free_port)
shipper_metrics=127.0.0.1:$(free_port)
prometheus_port=$(free_port)
api=http://127.0.0.1:$api_port
admin_password="smoke-$(python3 -c 'import secrets; print(secrets.token_urlsafe(18))')-7q"
secret_key=$(python3 -c 'import secrets; print(secrets.token_hex(32))')

step "database $DB_NAME on $PG_BASE, Redis prefix $REDIS_PREFIX"
psql "$PG_BASE" -qAtc "CREATE DATABASE $DB_NAME" >/dev/null || die "cannot create database $DB_NAME on $PG_BASE"
DB_CREATED=1
database_url="${PG_BASE%/*}/$DB_NAME"

common=(
  "KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:$broker_port" KAFKA_TOPIC=smoke.logs
  "LOGFLOW_DATA_DIR=$work/data" LOG_LEVEL=info
)

step "tansu broker on 127.0.0.1:$broker_port (memory)"
PIDS+=("$(start_broker "$broker_port" memory://tansu/ "$work/broker.log" "$work")")

step "processor (metrics on $processor_metrics)"
env "${common[@]}" "LOGFLOW_METRICS_ADDR=$processor_metrics" LOGFLOW_BATCH_WAIT=200ms \
  "$BIN" processor >"$work/processor.log" 2>&1 &
PIDS+=($!)
wait_ok processor $! "http://$processor_metrics/metrics" 60

step "api on $api"
env "${common[@]}" "LOGFLOW_API_ADDR=127.0.0.1:$api_port" "DATABASE_URL=$database_url" \
  "REDIS_URL=$REDIS" "REDIS_KEY_PREFIX=$REDIS_PREFIX" "SECRET_KEY=$secret_key" \
  LOGFLOW_ADMIN_USERNAME=admin "LOGFLOW_ADMIN_PASSWORD=$admin_password" LOGFLOW_BCRYPT_COST=4 \
  RATE_LIMIT_SEARCH=20/minute RATE_LIMIT_LOGIN=200/hour RATE_LIMIT_REGISTER=100/hour \
  "$BIN" api >"$work/api.log" 2>&1 &
PIDS+=($!)
wait_ok api $! "$api/health" 60

step "alert engine (metrics on $alerting_metrics)"
env "${common[@]}" "DATABASE_URL=$database_url" "LOGFLOW_METRICS_ADDR=$alerting_metrics" \
  ALERT_CHECK_INTERVAL=2s "$BIN" alerting >"$work/alerting.log" 2>&1 &
PIDS+=($!)
wait_ok alerting $! "http://$alerting_metrics/metrics" 60

# The generator writes stdout through a FIFO into `shipper --stdin` (two
# processes of their own, so each can be watched and stopped). The stdin
# shipper counts what it sent per 1024 records (or after a quiet second),
# so the rate is high enough for its counters to move within seconds.
step "generator | shipper --stdin (metrics on $shipper_metrics)"
mkfifo "$work/input/generator.fifo"
env "${common[@]}" "$BIN" generator --output stdout --rate 250 --duration 10m \
  --error-burst 5s --error-burst-duration 5s >"$work/input/generator.fifo" 2>"$work/generator.log" &
PIDS+=($!)
env "${common[@]}" "LOGFLOW_METRICS_ADDR=$shipper_metrics" \
  "$BIN" shipper --stdin --service smoke-generator <"$work/input/generator.fifo" >"$work/shipper.log" 2>&1 &
PIDS+=($!)
wait_ok shipper $! "http://$shipper_metrics/metrics" 60

step "shipped logs reach the store"
deadline=$((SECONDS + 30))
until [ "$(metric_sum "http://$shipper_metrics/metrics" shipper_records_acked_total)" -gt 0 ] &&
  [ "$(metric_sum "http://$processor_metrics/metrics" logs_indexed_total)" -gt 0 ]; do
  [ "$SECONDS" -lt "$deadline" ] ||
    die "after 30 s: shipper acknowledged $(metric_sum "http://$shipper_metrics/metrics" shipper_records_acked_total) records, processor indexed $(metric_sum "http://$processor_metrics/metrics" logs_indexed_total)"
  sleep 0.5
done
echo "shipper: $(metric_sum "http://$shipper_metrics/metrics" shipper_records_acked_total) records acknowledged;" \
  "processor: $(metric_sum "http://$processor_metrics/metrics" logs_indexed_total) indexed"

step "promtool check metrics on every role's /metrics"
for target in "api $api/metrics" "processor http://$processor_metrics/metrics" \
  "alerting http://$alerting_metrics/metrics" "shipper http://$shipper_metrics/metrics"; do
  role=${target%% *}
  url=${target#* }
  took=$(curl -fsS -m 10 -o "$work/metrics-$role.txt" -w '%{time_total}' "$url") || die "$role: GET $url failed"
  if awk -v t="$took" 'BEGIN { exit !(t > 1) }'; then
    echo "smoke: WARN: $role's /metrics took ${took} s (more than a 1 s scrape timeout allows)" >&2
  fi
  if ! promtool check metrics <"$work/metrics-$role.txt" >"$work/promtool-$role.out" 2>&1; then
    cat "$work/promtool-$role.out" >&2
    die "$role: promtool check metrics found problems in $url"
  fi
  echo "$role (${took} s): promtool clean: $(awk '$1 == "#" && $2 == "TYPE" { print $3 }' "$work/metrics-$role.txt" | sort | paste -sd ' ')"
done

# Every target, the api included, is scraped every second with a 1 s
# timeout (SMOKE_API_SCRAPE changes the api's).
api_scrape=${SMOKE_API_SCRAPE:-1s}
step "prometheus on 127.0.0.1:$prometheus_port, scraping every second (the api every $api_scrape)"
cat >"$work/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: logflow-api
    scrape_interval: $api_scrape
    scrape_timeout: $api_scrape
    static_configs: [{ targets: ["127.0.0.1:$api_port"] }]
  - job_name: logflow-processor
    static_configs: [{ targets: ["$processor_metrics"] }]
  - job_name: logflow-alerting
    static_configs: [{ targets: ["$alerting_metrics"] }]
  - job_name: logflow-shipper
    static_configs: [{ targets: ["$shipper_metrics"] }]
EOF
promtool check config "$work/prometheus.yml" >"$work/promtool-config.out" 2>&1 ||
  { cat "$work/promtool-config.out" >&2; die "promtool check config refused $work/prometheus.yml"; }
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/prometheus-data" \
  --web.listen-address="127.0.0.1:$prometheus_port" --log.level=warn >"$work/prometheus.log" 2>&1 &
PIDS+=($!)
wait_ok prometheus $! "http://127.0.0.1:$prometheus_port/-/ready" 30
cat >"$work/targets.py" <<'PY'
import json, sys
try:
    t = json.load(sys.stdin)["data"]["activeTargets"]
except Exception as e:
    print(f"no answer ({e})")
    sys.exit(1)
print(", ".join(f"{x['labels']['job']} {x['health']}" + (f" ({x['lastError']})" if x.get("lastError") else "")
                for x in t))
sys.exit(0 if len(t) == 4 and all(x["health"] == "up" for x in t) else 1)
PY
deadline=$((SECONDS + 60))
until targets=$(curl -s -m 5 "http://127.0.0.1:$prometheus_port/api/v1/targets?state=active" | python3 "$work/targets.py"); do
  [ "$SECONDS" -lt "$deadline" ] || die "prometheus targets not all up after 60 s: $targets"
  sleep 1
done
echo "targets: $targets"

step "operator smoke scripts against $api"
failed=()
for script in test-auth test-cache test-rate-limit test-metrics test-tracing pipeline-status; do
  s0=$SECONDS
  if LOGFLOW_ADMIN_USERNAME=admin LOGFLOW_ADMIN_PASSWORD="$admin_password" scripts/$script.sh "$api"; then
    step "$script passed ($((SECONDS - s0)) s)"
  else
    failed+=("$script")
    step "$script FAILED ($((SECONDS - s0)) s)"
  fi
done

for pid in "${PIDS[@]}"; do
  kill -0 "$pid" 2>/dev/null || failed+=("a process exited early (pid $pid)")
done
if [ "${#failed[@]}" -gt 0 ]; then
  die "${failed[*]} (after $((SECONDS - t0)) s)"
fi
step "smoke passed: 6 scripts, promtool on 4 roles, prometheus scraping 4 targets ($((SECONDS - t0)) s)"
