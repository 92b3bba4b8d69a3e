#!/usr/bin/env bash
# The docker compose stack's PostgreSQL (service `postgres`, database, user
# and password `logflow`, see docker-compose.yml and DATABASE_URL in
# .env.docker).
#
#   scripts/manage-db.sh init           # create the database if missing, migrate it, create the admin
#   scripts/manage-db.sh shell [ARGS]   # psql in the database (ARGS go to psql, e.g. -c 'select 1')
#   scripts/manage-db.sh backup         # pg_dump to backups/logflow-YYYYmmdd-HHMMSS.sql
#   scripts/manage-db.sh reset [--yes]  # drop and recreate the database, empty (asks first)
#
# LogFlow has no separate migration command: the api and the alert engine
# apply store/migrations/postgres themselves when they start, and the api
# creates the first admin (LOGFLOW_ADMIN_USERNAME/PASSWORD) when there is
# none. So `init` creates the database when it is missing (the postgres image
# creates it only on a fresh volume), then starts the api and the alert
# engine with `docker compose up -d api alerting` (which brings up what they
# depend on: Kafka, Elasticsearch, Redis, the processor), waits for the api's
# /health, and lists the migrations the database records.
#
# `reset` stops the api and the alert engine (they hold connections), drops
# the database and creates it empty. Run `init` afterwards to migrate it, or
# restore a backup first: `scripts/manage-db.sh shell < backups/FILE.sql`,
# then `init`.
set -euo pipefail
cd "$(dirname "$0")/.."

DB=logflow
DB_USER=logflow

# shellcheck source=scripts/lib.sh
source scripts/lib.sh
usage() {
  cat >&2 <<'EOF'
usage: scripts/manage-db.sh init | shell [PSQL ARGS] | backup | reset [--yes]
  init    create the database if missing, start the api and alert engine (they migrate it)
  shell   psql in the database
  backup  pg_dump to backups/logflow-YYYYmmdd-HHMMSS.sql
  reset   drop and recreate the database, empty (asks unless --yes)
EOF
  exit 2
}

case ${1:-} in init | shell | backup | reset) ;; *) usage ;; esac

find_compose

# psql and friends inside the postgres container; -T (no terminal) unless
# this script talks to one, so input can be piped in.
pg_exec() {
  local tty=(-T)
  if [ -t 0 ] && [ -t 1 ]; then tty=(); fi
  "${COMPOSE[@]}" exec "${tty[@]}" postgres "$@"
}

# Starts the postgres service when needed and waits until it accepts
# connections.
ensure_postgres() {
  "${COMPOSE[@]}" up -d postgres >/dev/null
  for _ in $(seq 1 60); do
    if "${COMPOSE[@]}" exec -T postgres pg_isready -U "$DB_USER" -d postgres >/dev/null 2>&1; then
      return 0
    fi
    sleep 1
  done
  die "PostgreSQL (compose service postgres) is not ready after 60s: ${COMPOSE[*]} logs postgres"
}

database_exists() {
  [ "$("${COMPOSE[@]}" exec -T postgres psql -U "$DB_USER" -d postgres -tAc \
        "SELECT 1 FROM pg_database WHERE datname = '$DB'")" = 1 ]
}

cmd_init() {
  command -v curl >/dev/null 2>&1 || die "curl is needed to wait for the api"
  ensure_postgres
  if database_exists; then
    log "database $DB exists"
  else
    log "creating database $DB"
    "${COMPOSE[@]}" exec -T postgres createdb -U "$DB_USER" "$DB"
  fi
  log "starting the api and the alert engine, which migrate the database (the api creates the first admin)"
  "${COMPOSE[@]}" up -d api alerting
  local publish=${LOGFLOW_PUBLISH_ADDR:-127.0.0.1} host
  case $publish in 0.0.0.0 | "::" | "[::]") host=127.0.0.1 ;; *) host=$publish ;; esac
  local deadline=$((SECONDS + ${LOGFLOW_START_TIMEOUT:-600}))
  until curl -fs --max-time 5 -o /dev/null "http://$host:8000/health"; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      "${COMPOSE[@]}" logs --tail 40 api >&2 || true
      die "the api did not become healthy (see its log above)"
    fi
    sleep 2
  done
  log "migrations applied (sqlx's _sqlx_migrations):"
  "${COMPOSE[@]}" exec -T postgres psql -U "$DB_USER" -d "$DB" -c \
    "SELECT version, description, success, installed_on FROM _sqlx_migrations ORDER BY version"
}

cmd_shell() {
  ensure_postgres
  pg_exec psql -U "$DB_USER" -d "$DB" "$@"
}

cmd_backup() {
  ensure_postgres
  mkdir -p backups
  local file
  file="backups/$DB-$(date -u +%Y%m%d-%H%M%S).sql"
  log "pg_dump $DB > $file"
  if ! "${COMPOSE[@]}" exec -T postgres pg_dump -U "$DB_USER" -d "$DB" --no-owner --no-privileges >"$file.partial"; then
    rm -f "$file.partial"
    die "pg_dump failed"
  fi
  mv "$file.partial" "$file"
  printf '%s (%s bytes)\n' "$file" "$(wc -c <"$file" | tr -d ' ')"
}

cmd_reset() {
  local yes=false
  case ${1:-} in
    --yes | -y) yes=true ;;
    "") ;;
    *) usage ;;
  esac
  if ! $yes; then
    [ -t 0 ] || die "reset deletes every user, rule and alert: confirm with --yes when not on a terminal"
    local answer
    read -r -p "Drop database $DB with every user, alert rule and triggered alert? Type 'yes': " answer
    [ "$answer" = yes ] || die "not reset"
  fi
  ensure_postgres
  log "stopping the api and the alert engine (they hold connections)"
  "${COMPOSE[@]}" stop api alerting
  log "dropping and recreating database $DB"
  "${COMPOSE[@]}" exec -T postgres psql -U "$DB_USER" -d postgres -v ON_ERROR_STOP=1 \
    -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB OWNER $DB_USER"
  log "database $DB is empty; scripts/manage-db.sh init migrates it and starts the api again"
}

[ $# -ge 1 ] || usage
command=$1
shift
case $command in
  init) [ $# -eq 0 ] || usage; cmd_init ;;
  shell) cmd_shell "$@" ;;
  backup) [ $# -eq 0 ] || usage; cmd_backup ;;
  reset) [ $# -le 1 ] || usage; cmd_reset "$@" ;;
  -h | --help | help) usage ;;
  *) usage ;;
esac
