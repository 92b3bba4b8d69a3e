# shellcheck shell=bash
# Shared helpers for LogFlow's scripts: sourced, not run.
# Installs and starts what the local stack and the tests need.

LOGFLOW_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$HOME/.cargo/bin:$PATH"

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# find_compose: sets COMPOSE to docker compose v2 (the plugin) or the older
# standalone docker-compose, and checks that a Docker engine answers.
find_compose() {
  # COMPOSE is for the caller.
  # shellcheck disable=SC2034
  if docker compose version >/dev/null 2>&1; then
    COMPOSE=(docker compose)
  elif command -v docker-compose >/dev/null 2>&1; then
    COMPOSE=(docker-compose)
    # docker-compose v1 builds with BuildKit (the Dockerfile's cache mounts)
    # only when told to.
    export DOCKER_BUILDKIT=1 COMPOSE_DOCKER_CLI_BUILD=1
  else
    die "docker compose is not installed (https://docs.docker.com/compose/install/)"
  fi
  docker info >/dev/null 2>&1 \
    || die "the Docker engine is not reachable (is it running, and may this user use it?)"
}

# tansu is the Kafka-protocol broker for one machine and for the tests.
# Installing it compiles it once (about 12 minutes); then it is cached.
ensure_tansu() {
  if command -v tansu >/dev/null 2>&1; then return 0; fi
  log "installing the tansu broker (once, about 12 minutes)"
  cargo install tansu --locked --features dynostore,libsql,postgres
}

# PostgreSQL and Redis run on the development machines; start them when
# they are down (the API and caching issues' tests use them).
ensure_postgres() {
  if pg_isready -h 127.0.0.1 -p 5432 >/dev/null 2>&1; then return 0; fi
  log "starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start
  for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 >/dev/null 2>&1 && return 0; sleep 1; done
  echo "PostgreSQL did not come up on 127.0.0.1:5432" >&2; return 1
}

ensure_redis() {
  if redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then return 0; fi
  log "starting Redis"
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  for _ in $(seq 1 30); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && return 0; sleep 1; done
  echo "Redis did not come up on 127.0.0.1:6379" >&2; return 1
}

# wait_port HOST PORT SECONDS: until something listens there.
wait_port() {
  local host=$1 port=$2 secs=${3:-30}
  for _ in $(seq 1 $((secs * 10))); do
    (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "nothing listens on $host:$port after ${secs}s" >&2; return 1
}

# start_broker PORT STORAGE LOGFILE [DIR]: a tansu broker in the background,
# run in DIR (default: here); prints its pid. STORAGE is memory://tansu/ or
# sqlite://FILE, where tansu reads FILE relative to DIR.
start_broker() {
  local port=$1 storage=$2 logfile=$3 dir=${4:-.}
  (cd "$dir" && exec tansu broker --storage-engine "$storage" \
    --listener-url "tcp://127.0.0.1:$port" \
    --advertised-listener-url "tcp://127.0.0.1:$port") >"$logfile" 2>&1 &
  local pid=$!
  wait_port 127.0.0.1 "$port" 30 || { cat "$logfile" >&2; return 1; }
  echo "$pid"
}

# free_port: a TCP port nothing listens on right now.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# schemathesis fuzzes the api against its OpenAPI document (PyPI).
SCHEMATHESIS_VERSION=4.32.5
ensure_schemathesis() {
  if st --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then return 0; fi
  log "installing schemathesis $SCHEMATHESIS_VERSION (PyPI)"
  python3 -m pip install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
}

# aiosmtpd (PyPI) is the SMTP server the email-alert tests send to.
AIOSMTPD_VERSION=1.4.6
ensure_aiosmtpd() {
  if python3 -c "import aiosmtpd, sys; sys.exit(aiosmtpd.__version__ != '$AIOSMTPD_VERSION')" 2>/dev/null; then return 0; fi
  log "installing aiosmtpd $AIOSMTPD_VERSION (PyPI) for the email-alert tests"
  python3 -m pip install --quiet --disable-pip-version-check "aiosmtpd==$AIOSMTPD_VERSION"
}

# promtool (Debian's prometheus package) checks every /metrics answer.
ensure_promtool() {
  if command -v promtool >/dev/null 2>&1; then return 0; fi
  log "installing promtool (Debian package prometheus) for the metrics tests"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus
}

# Chromium (Debian's) for the browser test of Swagger UI at /docs.
ensure_chromium() {
  if [ -x /usr/bin/chromium ]; then return 0; fi
  log "installing Chromium (Debian package) for the browser tests"
  apt-get update -qq && apt-get install -y -qq chromium
}
