#!/usr/bin/env bash
# Starts LogFlow's scale-out stack with docker compose: Kafka (KRaft),
# Elasticsearch, PostgreSQL, Redis, Prometheus, Grafana, and the LogFlow
# roles (processor, api, alerting, shipper, and a generator writing demo
# logs for the shipper), all built from the one Dockerfile.
#
#   scripts/start-all-docker.sh                        # build and start everything
#   scripts/start-all-docker.sh --scale processor=3    # extra `docker compose up` flags
#   LOGFLOW_PUBLISH_ADDR=0.0.0.0 scripts/start-all-docker.sh   # reachable from other machines
#
# LogFlow's settings are in .env.docker (committed; change SECRET_KEY and
# LOGFLOW_ADMIN_PASSWORD before the stack is reachable by anyone else).
# Waits until the api's /health answers (LOGFLOW_START_TIMEOUT seconds,
# default 600, after the containers are up), then prints where everything is.
# The first build compiles LogFlow and librdkafka: expect several minutes.
# Stop: `docker compose down` (add -v to delete the data volumes too).
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/lib.sh
source scripts/lib.sh
find_compose
[ -f .env.docker ] || die ".env.docker is missing: it is part of the repository (git checkout -- .env.docker)"
command -v curl >/dev/null 2>&1 || die "curl is needed to wait for the api"

log "building and starting the stack (${COMPOSE[*]} up -d --build $*)"
"${COMPOSE[@]}" up -d --build "$@"

publish=${LOGFLOW_PUBLISH_ADDR:-127.0.0.1}
# A wildcard listen address is reached through the loopback.
case $publish in 0.0.0.0 | "::" | "[::]") host=127.0.0.1 ;; *) host=$publish ;; esac
timeout=${LOGFLOW_START_TIMEOUT:-600}
log "waiting for the api at http://$host:8000/health (up to ${timeout}s)"
deadline=$((SECONDS + timeout))
until health=$(curl -fs --max-time 5 "http://$host:8000/health"); do
  if [ "$SECONDS" -ge "$deadline" ]; then
    "${COMPOSE[@]}" ps >&2 || true
    "${COMPOSE[@]}" logs --tail 40 api >&2 || true
    die "the api did not become healthy within ${timeout}s (see above; \`${COMPOSE[*]} logs\` for all)"
  fi
  sleep 2
done

admin=$(sed -n 's/^LOGFLOW_ADMIN_USERNAME=//p' .env.docker)
cat <<EOF

LogFlow is up. /health: $health

  REST API       http://$host:8000
  Swagger UI     http://$host:8000/docs    (log in as ${admin:-admin}, password LOGFLOW_ADMIN_PASSWORD in .env.docker)
  Grafana        http://$host:3000         (admin/admin the first time; dashboard "LogFlow")
  Prometheus     http://$host:9090
  Elasticsearch  http://$host:9200
  Kafka          $host:29092               (for producers and shippers on this machine)

  ${COMPOSE[*]} ps | logs -f processor | down
  scripts/manage-db.sh shell | backup
EOF
