#!/usr/bin/env bash
# From a fresh clone: build LogFlow, start the local broker (tansu, durable
# in ./data/broker), the standalone server and a generator, wait until logs
# are searchable, and print how to search them. Ctrl-C stops everything.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$LOGFLOW_ROOT"

export LOGFLOW_DATA_DIR=${LOGFLOW_DATA_DIR:-./data}
PORT=${KAFKA_PORT:-9092}
export KAFKA_BOOTSTRAP_SERVERS=${KAFKA_BOOTSTRAP_SERVERS:-127.0.0.1:$PORT}
RATE=${RATE:-200}
mkdir -p "$LOGFLOW_DATA_DIR/broker"
DATA_ABS=$(cd "$LOGFLOW_DATA_DIR" && pwd)

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

log "waiting until logs are searchable"
for _ in $(seq 1 120); do
  n=$($BIN search --count 2>/dev/null || echo 0)
  if [ "${n:-0}" -gt 0 ]; then break; fi
  sleep 1
done
[ "${n:-0}" -gt 0 ] || { echo "no logs became searchable; see $LOGFLOW_DATA_DIR/*.log" >&2; exit 1; }

cat <<EOT

LogFlow is running: $n logs indexed so far (data in $LOGFLOW_DATA_DIR).
Try, in another terminal:
  $BIN search 'payment' --level error --since 15m
  $BIN search --service gateway --limit 5 --json
  $BIN search --histogram 1m --since 10m
  $BIN shipper --file '/var/log/*.log'        # ship your own logs
Press Ctrl-C to stop.
EOT
wait
