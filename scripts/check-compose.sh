#!/usr/bin/env bash
# Checks the docker compose stack's files without a Docker engine:
#   - docker-compose.yml is valid (`docker-compose config`, Debian's
#     docker-compose, installed when missing), every service has a health
#     check, every depends_on names a service (with a health check when it
#     waits for service_healthy), LogFlow's services read .env.docker;
#   - .env.docker sets what the stack needs, in a form compose reads the same
#     way in v1 and v2 (no quotes, no $), SECRET_KEY of at least 32 bytes;
#   - prometheus/prometheus.yml passes `promtool check config` and scrapes
#     api, processor, alerting, shipper and prometheus;
#   - Grafana: the datasource has uid `prometheus`, the dashboard provider
#     reads the folder docker-compose.yml mounts, and
#     grafana/dashboards/logflow.json parses, has a uid, and every panel has
#     the `prometheus` datasource and non-empty queries naming only metrics
#     LogFlow exports;
#   - the compose scripts pass `bash -n` and shellcheck.
# Exits non-zero, saying what is wrong, on the first failing check.
set -euo pipefail
cd "$(dirname "$0")/.."

fail() { printf 'check-compose: FAILED: %s\n' "$*" >&2; exit 1; }
ok() { printf 'check-compose: ok: %s\n' "$*"; }

# apt_install COMMAND PACKAGE: the Debian package providing COMMAND, when
# COMMAND is missing.
apt_install() {
  command -v "$1" >/dev/null 2>&1 && return 0
  printf 'check-compose: installing %s (Debian package %s)\n' "$1" "$2"
  [ "$(id -u)" = 0 ] || fail "$1 is missing and installing Debian's $2 needs root: apt-get install $2"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2"; } >/dev/null \
    || fail "cannot install Debian's $2"
  command -v "$1" >/dev/null 2>&1 || fail "$2 is installed but $1 is still not on PATH"
}

for f in Dockerfile .dockerignore docker-compose.yml .env.docker prometheus/prometheus.yml \
  grafana/provisioning/datasources/prometheus.yml grafana/provisioning/dashboards/logflow.yml \
  grafana/dashboards/logflow.json; do
  [ -f "$f" ] || fail "$f is missing"
done

# --- docker compose ------------------------------------------------------------
apt_install docker-compose docker-compose
resolved=$(mktemp)
trap 'rm -f "$resolved"' EXIT
# `config` resolves anchors, merges, env_file and interpolation; it needs no
# Docker engine. -q alone prints nothing; the full output is checked below.
if ! errors=$(docker-compose -f docker-compose.yml --env-file .env.docker config -q 2>&1); then
  printf '%s\n' "$errors" >&2
  fail "docker-compose config rejects docker-compose.yml"
fi
docker-compose -f docker-compose.yml --env-file .env.docker config >"$resolved" 2>/dev/null \
  || fail "docker-compose config cannot print the resolved docker-compose.yml"
ok "docker-compose.yml is valid ($(docker-compose version --short 2>/dev/null || echo '?'))"

# A Python with PyYAML: Debian's python3 has it once docker-compose (a Python
# program) is installed.
PY=
for candidate in python3 /usr/bin/python3; do
  if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import yaml' 2>/dev/null; then
    PY=$candidate
    break
  fi
done
[ -n "$PY" ] || fail "no python3 with PyYAML (apt-get install python3-yaml)"

"$PY" - "$resolved" <<'PYEOF' || fail "docker-compose.yml or .env.docker (see above)"
import re, sys, yaml

errors = []
resolved = yaml.safe_load(open(sys.argv[1]))
services = resolved.get("services", {})
for name in ["kafka", "elasticsearch", "postgres", "redis", "prometheus", "grafana",
             "api", "processor", "alerting", "shipper", "generator"]:
    if name not in services:
        errors.append(f"docker-compose.yml has no service {name}")
for name, svc in services.items():
    if not (svc.get("healthcheck") or {}).get("test"):
        errors.append(f"service {name} has no health check")
    deps = svc.get("depends_on") or {}
    if isinstance(deps, list):
        deps = {d: {"condition": "service_started"} for d in deps}
    for dep, how in deps.items():
        if dep not in services:
            errors.append(f"service {name} depends on {dep}, which is not a service")
            continue
        condition = (how or {}).get("condition", "service_started")
        if condition == "service_healthy" and not (services[dep].get("healthcheck") or {}).get("test"):
            errors.append(f"service {name} waits for {dep} to be healthy, but {dep} has no health check")
    if "build" in svc:
        env = svc.get("environment") or {}
        for key in ["KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL", "SECRET_KEY", "LOGFLOW_API_ADDR"]:
            if key not in env:
                errors.append(f"LogFlow service {name} does not get {key} (env_file: .env.docker?)")

# .env.docker: KEY=value lines that compose v1 and v2 read alike.
env = {}
for number, line in enumerate(open(".env.docker"), 1):
    line = line.rstrip("\n")
    if not line.strip() or line.lstrip().startswith("#"):
        continue
    m = re.fullmatch(r"([A-Z_][A-Z0-9_]*)=(.*)", line)
    if not m:
        errors.append(f".env.docker:{number}: not a KEY=value line: {line!r}")
        continue
    key, value = m.groups()
    if "$" in value:
        errors.append(f".env.docker:{number}: {key} contains $ (compose v2 would interpolate it)")
    if value[:1] in "\"'":
        errors.append(f".env.docker:{number}: {key} is quoted (compose v1 keeps the quotes)")
    env[key] = value
required = {
    "KAFKA_BOOTSTRAP_SERVERS": "kafka:9092",
    "ELASTICSEARCH_HOSTS": "http://elasticsearch:9200",
    "DATABASE_URL": None, "REDIS_URL": None, "SECRET_KEY": None,
    "LOGFLOW_ADMIN_PASSWORD": None,
    "LOGFLOW_API_ADDR": "0.0.0.0:8000",
    "LOGFLOW_METRICS_ADDR": "0.0.0.0:9100",
    "LOGFLOW_DATA_DIR": "/data",
}
for key, want in required.items():
    if not env.get(key):
        errors.append(f".env.docker does not set {key}")
    elif want is not None and env[key] != want:
        errors.append(f".env.docker: {key}={env[key]}, the stack needs {want}")
if len(env.get("SECRET_KEY", "").encode()) < 32:
    errors.append(".env.docker: SECRET_KEY must be at least 32 bytes")
if len(env.get("LOGFLOW_ADMIN_PASSWORD", "")) < 12:
    errors.append(".env.docker: LOGFLOW_ADMIN_PASSWORD is too short to be strong")

for e in errors:
    print(f"  {e}", file=sys.stderr)
sys.exit(1 if errors else 0)
PYEOF
ok "every service has a health check; depends_on and .env.docker are consistent"

# --- Prometheus ----------------------------------------------------------------
apt_install promtool prometheus
if ! out=$(promtool check config prometheus/prometheus.yml 2>&1); then
  printf '%s\n' "$out" >&2
  fail "promtool rejects prometheus/prometheus.yml"
fi
"$PY" - <<'PYEOF' || fail "prometheus/prometheus.yml (see above)"
import sys, yaml
config = yaml.safe_load(open("prometheus/prometheus.yml"))
jobs = {job["job_name"] for job in config.get("scrape_configs", [])}
missing = {"prometheus", "api", "processor", "alerting", "shipper"} - jobs
if missing:
    print(f"  no scrape job for {', '.join(sorted(missing))}", file=sys.stderr)
    sys.exit(1)
PYEOF
ok "prometheus/prometheus.yml: $(printf '%s' "$out" | grep -c SUCCESS) promtool SUCCESS, every job present"

# --- Grafana -------------------------------------------------------------------
"$PY" - "$resolved" <<'PYEOF' || fail "Grafana provisioning or dashboard (see above)"
import json, re, sys, yaml

# The metrics LogFlow exports (api /metrics, and the roles' LOGFLOW_METRICS_ADDR).
COUNTERS_AND_GAUGES = {
    "http_requests_total", "cache_hits_total", "cache_misses_total", "auth_attempts_total",
    "users_registered_total", "rate_limit_exceeded_total", "store_queries_total",
    "database_queries_total", "logs_processed_total", "logs_indexed_total",
    "logs_dead_lettered_total", "shipper_records_sent_total", "shipper_bytes_sent_total",
    "shipper_records_acked_total", "alerts_checked_total", "alerts_triggered_total",
    "notifications_sent_total", "kafka_consumer_lag",
}
HISTOGRAMS = {"http_request_duration_seconds", "store_query_duration_seconds"}
KNOWN = COUNTERS_AND_GAUGES | {h + s for h in HISTOGRAMS for s in ("_bucket", "_sum", "_count")}
# PromQL words that are neither metrics nor followed by "(".
KEYWORDS = {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring",
            "group_left", "group_right", "inf", "nan", "Inf", "NaN", "atan2", "start", "end"}

def metric_names(expr):
    s = re.sub(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|`[^`]*`', '""', expr)  # strings
    s = re.sub(r"\{[^}]*\}", " ", s)                                    # label matchers
    s = re.sub(r"\[[^\]]*\]", " ", s)                                   # ranges, subqueries
    s = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", s)
    s = re.sub(r"\boffset\s+-?[0-9a-z]+", " ", s)
    s = re.sub(r"@\s*\S+", " ", s)
    names = []
    for m in re.finditer(r"(?<![\w.])[A-Za-z_:][A-Za-z0-9_:]*", s):
        if s[m.end():].lstrip().startswith("("):
            continue  # a function or an aggregation
        if m.group(0) not in KEYWORDS:
            names.append(m.group(0))
    return names

errors = []
resolved = yaml.safe_load(open(sys.argv[1]))

ds = yaml.safe_load(open("grafana/provisioning/datasources/prometheus.yml"))
uids = {d.get("uid") for d in ds.get("datasources", [])}
if "prometheus" not in uids:
    errors.append("grafana/provisioning/datasources/prometheus.yml has no datasource with uid prometheus")

# The dashboard provider must read the folder where compose mounts grafana/dashboards.
mounts = {}
for volume in resolved["services"]["grafana"].get("volumes", []):
    if isinstance(volume, dict):
        source, target = volume.get("source", ""), volume.get("target", "")
    else:
        source, target = volume.split(":")[0], volume.split(":")[1]
    mounts[target.rstrip("/")] = source.rstrip("/")
providers = yaml.safe_load(open("grafana/provisioning/dashboards/logflow.yml")).get("providers", [])
for p in providers:
    path = (p.get("options") or {}).get("path", "").rstrip("/")
    if not mounts.get(path, "").endswith("grafana/dashboards"):
        errors.append(f"dashboard provider {p.get('name')} reads {path}, where compose mounts no grafana/dashboards")
if not providers:
    errors.append("grafana/provisioning/dashboards/logflow.yml has no provider")

try:
    dash = json.load(open("grafana/dashboards/logflow.json"))
except ValueError as e:
    errors.append(f"grafana/dashboards/logflow.json does not parse: {e}")
    dash = {}
if dash and not dash.get("uid"):
    errors.append("grafana/dashboards/logflow.json has no uid")

def panels(items):
    for p in items:
        if p.get("type") == "row":
            yield from panels(p.get("panels", []))
        else:
            yield p

count = queries = 0
ids = set()
for p in panels(dash.get("panels", [])):
    count += 1
    title = p.get("title") or f"panel id {p.get('id')}"
    if p.get("id") in ids:
        errors.append(f"panel {title!r}: duplicate id {p.get('id')}")
    ids.add(p.get("id"))
    if (p.get("datasource") or {}).get("uid") != "prometheus":
        errors.append(f"panel {title!r}: datasource uid is not prometheus")
    targets = p.get("targets") or []
    if not targets:
        errors.append(f"panel {title!r}: no queries")
    for t in targets:
        queries += 1
        expr = (t.get("expr") or "").strip()
        if not expr:
            errors.append(f"panel {title!r} query {t.get('refId')}: empty expr")
            continue
        if "datasource" in t and (t["datasource"] or {}).get("uid") != "prometheus":
            errors.append(f"panel {title!r} query {t.get('refId')}: datasource uid is not prometheus")
        names = metric_names(expr)
        if not names:
            errors.append(f"panel {title!r}: no metric in {expr!r}")
        for name in names:
            if name not in KNOWN:
                errors.append(f"panel {title!r}: {name!r} is not a metric LogFlow exports ({expr})")
if dash and count == 0:
    errors.append("grafana/dashboards/logflow.json has no panels")

for e in errors:
    print(f"  {e}", file=sys.stderr)
if errors:
    sys.exit(1)
print(f"check-compose: ok: dashboard uid {dash['uid']!r}: {count} panels, {queries} queries, every metric known")
PYEOF
ok "Grafana datasource and dashboard provider"

# --- scripts -------------------------------------------------------------------
apt_install shellcheck shellcheck
for script in scripts/start-all-docker.sh scripts/manage-db.sh scripts/check-compose.sh; do
  bash -n "$script" || fail "$script has a syntax error"
  shellcheck -x "$script" || fail "shellcheck: $script"
done
ok "bash -n and shellcheck: start-all-docker.sh, manage-db.sh, check-compose.sh"
echo "check-compose: all checks passed"
