#!/usr/bin/env bash
# From a fresh clone: build LogFlow, start the local broker (tansu, durable
# in ./data/broker), the standalone server (processor + api) and a
# generator, wait until logs are searchable, and print the Swagger UI
# address and a working curl example. Ctrl-C stops everything.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$LOGFLOW_ROOT"

export LOGFLOW_DATA_DIR=${LOGFLOW_DATA_DIR:-./data}
PORT=${KAFKA_PORT:-9092}
export KAFKA_BOOTSTRAP_SERVERS=${KAFKA_BOOTSTRAP_SERVERS:-127.0.0.1:$PORT}
RATE=${RATE:-200}
export LOGFLOW_API_ADDR=${LOGFLOW_API_ADDR:-127.0.0.1:8000}
API=http://$LOGFLOW_API_ADDR
mkdir -p "$LOGFLOW_DATA_DIR/broker"
DATA_ABS=$(cd "$LOGFLOW_DATA_DIR" && pwd)

# The first admin's password: yours (LOGFLOW_ADMIN_PASSWORD), or one made up
# on the first run and kept, readable only by you, in the data directory.
PASS_FILE=$LOGFLOW_DATA_DIR/admin-password
if [ -z "${LOGFLOW_ADMIN_PASSWORD:-}" ]; then
  if [ ! -s "$PASS_FILE" ]; then
    (umask 077 && python3 -c 'import secrets; print(secrets.token_urlsafe(18))' >"$PASS_FILE")
  fi
  export LOGFLOW_ADMIN_PASSWORD=$(cat "$PASS_FILE")
fi

ensure_tansu
log "building LogFlow (release)"
cargo build --release --locked --bin logflow
BIN=target/release/logflow

PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
  log "a broker already listens on 127.0.0.1:$PORT; using it"
else
  log "starting the broker on 127.0.0.1:$PORT (data in $LOGFLOW_DATA_DIR/broker)"
  PIDS+=("$(start_broker "$PORT" "sqlite://tansu.db" "$DATA_ABS/broker.log" "$DATA_ABS/broker")")
fi

log "starting logflow standalone (logs in $LOGFLOW_DATA_DIR/standalone.log)"
$BIN standalone >>"$LOGFLOW_DATA_DIR/standalone.log" 2>&1 &
PIDS+=($!)
log "starting the generator at $RATE logs/s (logs in $LOGFLOW_DATA_DIR/generator.log)"
$BIN generator --rate "$RATE" >>"$LOGFLOW_DATA_DIR/generator.log" 2>&1 &
PIDS+=($!)

log "waiting until logs are searchable through the api"
token=""
for _ in $(seq 1 120); do
  token=$(curl -fsS "$API/api/v1/auth/login" -d username="${LOGFLOW_ADMIN_USERNAME:-admin}" \
    --data-urlencode password="$LOGFLOW_ADMIN_PASSWORD" 2>/dev/null |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])' 2>/dev/null || true)
  if [ -n "$token" ]; then
    n=$(curl -fsS -H "Authorization: Bearer $token" "$API/api/v1/logs/search?limit=1" 2>/dev/null |
      python3 -c 'import json, sys; print(json.load(sys.stdin)["total"])' 2>/dev/null || echo 0)
    if [ "${n:-0}" -gt 0 ]; then break; fi
  fi
  sleep 1
done
[ "${n:-0}" -gt 0 ] || { echo "no logs became searchable; see $LOGFLOW_DATA_DIR/*.log" >&2; exit 1; }

cat <<EOT

LogFlow is running: $n logs indexed so far (data in $LOGFLOW_DATA_DIR).

  Swagger UI:  $API/docs   (log in as ${LOGFLOW_ADMIN_USERNAME:-admin}; the password is in $PASS_FILE
               unless you set LOGFLOW_ADMIN_PASSWORD; press Authorize and paste the access_token)

Try, in another terminal:
  TOKEN=\$(curl -s $API/api/v1/auth/login -d username=${LOGFLOW_ADMIN_USERNAME:-admin} --data-urlencode password="\$(cat $PASS_FILE)" \\
          | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
  curl -s -H "Authorization: Bearer \$TOKEN" '$API/api/v1/logs/search?level=ERROR&from=15m&limit=5'
  curl -s -H "Authorization: Bearer \$TOKEN" '$API/api/v1/metrics/overview?window=15m'
  $BIN search 'payment' --level error --since 15m     # the same store from the command line
  $BIN shipper --file '/var/log/*.log'                # ship your own logs
Press Ctrl-C to stop.
EOT
wait
