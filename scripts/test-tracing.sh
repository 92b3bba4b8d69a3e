#!/usr/bin/env bash
# Smoke test of request tracing against a running LogFlow api:
#   scripts/test-tracing.sh [API_URL]     (default http://127.0.0.1:8000)
# X-Request-ID and X-Correlation-ID are echoed (and made up when absent);
# as the admin (LOGFLOW_ADMIN_USERNAME / LOGFLOW_ADMIN_PASSWORD) an event
# posted to /api/v1/trace/log with a correlation id of our own goes through
# Kafka and the processor and becomes searchable by that id (polled up to
# 30 s), readable by its id, and shown by /api/v1/correlation/trace/{id}.
# Needs the whole pipeline (broker, processor) up, not only the api. Uses
# up to 17 requests of the search class.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=smoke-common.sh
source "$(dirname "$0")/smoke-common.sh"

suffix=$(random_suffix)
request_id="smoke-req-$suffix"
correlation_id="smoke-corr-$suffix"
service="smoke-tracing"
message="smoke tracing event $suffix"

check "X-Request-ID and X-Correlation-ID are echoed on /health"
req "" GET /health -H "X-Request-ID: $request_id" -H "X-Correlation-ID: $correlation_id"
expect_status 200 503
[ "$(header X-Request-ID)" = "$request_id" ] || fail "X-Request-ID '$(header X-Request-ID)', expected $request_id"
[ "$(header X-Correlation-ID)" = "$correlation_id" ] || fail "X-Correlation-ID '$(header X-Correlation-ID)', expected $correlation_id"
ok

check "both are made up when the caller sends none"
req "" GET /health
rid=$(expect_header X-Request-ID)
cid=$(expect_header X-Correlation-ID)
[ "$rid" != "$request_id" ] || fail "the previous request's X-Request-ID came back"
ok "X-Request-ID $rid, X-Correlation-ID $cid"

check "log in as the admin ($ADMIN_USERNAME)"
admin=$(admin_token)
ok

check "GET /api/v1/trace/context reports this request's ids"
req "$admin" GET /api/v1/trace/context -H "X-Request-ID: $request_id-2" -H "X-Correlation-ID: $correlation_id"
expect_status 200
[ "$(header X-Request-ID)" = "$request_id-2" ] || fail "X-Request-ID '$(header X-Request-ID)', expected $request_id-2"
expect_json 'd["request_id"] == "'"$request_id-2"'" and d["correlation_id"] == "'"$correlation_id"'"' "the context does not carry the ids sent"
expect_json 'd["user"] == "'"$ADMIN_USERNAME"'"' "the context's user is not $ADMIN_USERNAME"
ok

check "POST /api/v1/trace/log with X-Correlation-ID $correlation_id"
req "$admin" POST /api/v1/trace/log -H "X-Correlation-ID: $correlation_id" -H 'Content-Type: application/json' \
  --data "$(json_body message "$message" service "$service" level WARN)"
expect_status 202
[ "$(header X-Correlation-ID)" = "$correlation_id" ] || fail "X-Correlation-ID '$(header X-Correlation-ID)' on the answer"
expect_fields id correlation_id
expect_json 'd["correlation_id"] == "'"$correlation_id"'"' "the event does not carry $correlation_id"
event_id=$(json 'd["id"]')
ok "202, id $event_id"

check "the event becomes searchable by correlation_id (up to 30 s)"
deadline=$((SECONDS + 30))
polls=0
while :; do
  polls=$((polls + 1))
  req "$admin" GET "/api/v1/logs/search?correlation_id=$(urlencode "$correlation_id")&from=1h"
  [ "$STATUS" != 429 ] || fail "the search was rate limited after $polls polls (RATE_LIMIT_SEARCH)"
  expect_status 200
  [ "$(json 'd["total"]')" = 0 ] || break
  [ "$SECONDS" -lt "$deadline" ] || fail "no record with correlation_id $correlation_id after 30 s (is the processor consuming? see scripts/pipeline-status.sh)"
  sleep 2
done
expect_json 'd["total"] == 1 and d["hits"][0]["correlation_id"] == "'"$correlation_id"'"' "expected exactly one record with correlation_id $correlation_id"
expect_json 'd["hits"][0]["message"] == "'"$message"'" and d["hits"][0]["service"] == "'"$service"'" and d["hits"][0]["level"] == "WARN"' "the record is not the event posted"
expect_json 'd["hits"][0]["id"] == "'"$event_id"'"' "the record's id is not $event_id"
ok "after $polls polls"

check "GET /api/v1/logs/$event_id"
req "$admin" GET "/api/v1/logs/$(urlencode "$event_id")"
expect_status 200
expect_json 'd["id"] == "'"$event_id"'" and d["correlation_id"] == "'"$correlation_id"'"' "not the event"
ok

check "GET /api/v1/correlation/trace/$correlation_id shows it"
req "$admin" GET "/api/v1/correlation/trace/$(urlencode "$correlation_id")"
expect_status 200
expect_fields correlation_id records total_records truncated started_at ended_at duration_ms services
expect_json 'd["correlation_id"] == "'"$correlation_id"'" and d["total_records"] == 1' "the trace does not have the one record"
expect_json 'd["records"][0]["id"] == "'"$event_id"'" and d["records"][0]["message"] == "'"$message"'"' "the trace's record is not the event"
expect_json '[s["service"] for s in d["services"]] == ["'"$service"'"]' "the trace's services are not [$service]"
ok "$(json 'd["total_records"]') record, services $(json '[s["service"] for s in d["services"]]')"

passed
