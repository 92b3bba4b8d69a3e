#!/usr/bin/env bash
# What the LogFlow pipeline is doing, from a running api:
#   scripts/pipeline-status.sh [API_URL]     (default http://127.0.0.1:8000)
# Prints the health of each dependency (/health), the processors' consumer
# lag per partition and the store (/api/v1/metrics/system), the ingest of
# the last 5 minutes (/api/v1/metrics/overview) and the latest ERROR and
# CRITICAL records. Exits 1 when /health is not 200 (the store or the
# database is down) or a section could not be read; 0 otherwise, also when
# something is only degraded (printed). The admin is LOGFLOW_ADMIN_USERNAME /
# LOGFLOW_ADMIN_PASSWORD (or LOGFLOW_ADMIN_TOKEN). Reads are cached by the
# api (system 45 s, overview 30 s by default): X-Cache says so.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=smoke-common.sh
source "$(dirname "$0")/smoke-common.sh"

# show SECTION: print the last body as SECTION (see the Python below).
show() {
  python3 - "$1" "$SMOKE_TMP/body" <<'PY'
import json, sys
section, path = sys.argv[1], sys.argv[2]
with open(path, encoding="utf-8") as f:
    d = json.load(f)

def size(n):
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024

if section == "health":
    print(f"  overall: {d['status']}   version {d['version']}, up {d['uptime_seconds']} s")
    for name, c in sorted(d["checks"].items()):
        detail = f"   {c['detail']}" if c.get("detail") else ""
        print(f"  {name:<10} {c['status']:<9} {c['latency_ms']:>5} ms{detail}")
elif section == "system":
    s = d["store"]
    print(f"  store: {s['documents']} documents, {size(s['size_bytes'])}, "
          f"{len(s['indexes'])} indexes ({', '.join(s['indexes'][-3:]) or 'none'}{', …' if len(s['indexes']) > 3 else ''})")
    print(f"  database: {d['database']}")
    ing = d.get("ingest")
    if ing is None:
        print(f"  consumer lag: unknown ({d.get('ingest_error') or 'no answer from the broker'})")
    else:
        print(f"  consumer lag of group {ing['consumer_group']} on {ing['topic']}: {ing['total_lag']} records")
        print(f"    {'partition':>9} {'committed':>12} {'high watermark':>15} {'lag':>10}")
        for p in ing["partitions"]:
            committed = "-" if p.get("committed_offset") is None else p["committed_offset"]
            print(f"    {p['partition']:>9} {committed:>12} {p['high_watermark']:>15} {p['lag']:>10}")
    rss = d["process"].get("memory_rss_bytes")
    print(f"  api process: up {d['process']['uptime_seconds']} s" + (f", {size(rss)} resident" if rss else ""))
elif section == "overview":
    print(f"  {d['total_logs']} logs ({d['logs_per_second']:.1f}/s, {d['logs_per_minute']:.0f}/min), "
          f"{d['error_count']} errors ({100 * d['error_rate']:.1f} %)")
    levels = ", ".join(f"{k} {v}" for k, v in sorted(d["by_level"].items(), key=lambda kv: -kv[1]))
    print(f"  levels: {levels or 'none'}")
    services = ", ".join(f"{s['key']} {s['count']}" for s in d["services"])
    print(f"  {d['active_services']} active services: {services or 'none'}")
    for e in d["top_errors"][:5]:
        print(f"  top error: {e['count']:>6} × {e['key']}")
elif section == "errors":
    if not d["hits"]:
        print("  none")
    for h in d["hits"]:
        msg = h["message"].replace("\n", " ⏎ ")
        if len(msg) > 120:
            msg = msg[:119] + "…"
        print(f"  {h['timestamp'][:23]}  {h['level']:<8} {h['service']:<22} {msg}")
    if d["total"] > len(d["hits"]):
        print(f"  … {d['total']} in all")
PY
}

status=0
# section TITLE TOKEN PATH NAME: fetch PATH and show it, or say why not.
section() {
  printf '\n%s\n' "$1"
  req "$2" GET "$3"
  if [ "$STATUS" != 200 ]; then
    printf '  unavailable: %s answered %s: %s\n' "$3" "$STATUS" "$(head -c 300 "$SMOKE_TMP/body")"
    status=1
    return 0
  fi
  show "$4" || status=1
}

printf 'LogFlow pipeline status: %s at %s\n' "$API" "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
printf '\nhealth (GET /health)\n'
req "" GET /health
health_status=$STATUS
case $health_status in
  200) show health || status=1 ;;
  503) show health || true; status=1 ;;
  *)
    printf '  unavailable: /health answered %s: %s\n' "$health_status" "$(head -c 300 "$SMOKE_TMP/body")"
    echo "$SMOKE_NAME: /health answered $health_status" >&2
    exit 1
    ;;
esac

printf '\n'
check "log in as the admin ($ADMIN_USERNAME)"
admin=$(admin_token)
ok "token"

section "consumer lag and store (GET /api/v1/metrics/system)" "$admin" /api/v1/metrics/system system
section "ingest, last 5 minutes (GET /api/v1/metrics/overview?window=5m)" "$admin" "/api/v1/metrics/overview?window=5m" overview
section "latest errors, last 5 minutes (GET /api/v1/logs/search?level=ERROR,CRITICAL&from=5m)" "$admin" \
  "/api/v1/logs/search?level=ERROR,CRITICAL&from=5m&limit=10" errors

printf '\n'
if [ "$health_status" != 200 ]; then
  echo "$SMOKE_NAME: /health answered $health_status: the store or the database is down" >&2
elif [ "$status" != 0 ]; then
  echo "$SMOKE_NAME: some sections could not be read" >&2
else
  echo "$SMOKE_NAME: ok"
fi
exit "$status"
