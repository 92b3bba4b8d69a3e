#!/usr/bin/env bash
# Smoke test of the rate limits against a running LogFlow api:
#   scripts/test-rate-limit.sh [API_URL]     (default http://127.0.0.1:8000)
# Registers a fresh user (smoke-rl-<random>; it stays) and sends it to the
# `search` class (GET /api/v1/logs/search: RATE_LIMIT_SEARCH, 50/minute by
# default) until it gets 429, at most the configured limit plus 5 requests;
# checks the RateLimit-* headers on the way, Retry-After and the JSON error
# naming the class on the 429; then the admin (LOGFLOW_ADMIN_USERNAME /
# LOGFLOW_ADMIN_PASSWORD) resets that user (DELETE
# /api/v1/rate-limits/reset/user:<id>) and the route answers again.
# Takes about limit × one search; a low RATE_LIMIT_SEARCH makes it quick.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=smoke-common.sh
source "$(dirname "$0")/smoke-common.sh"

route="/api/v1/logs/search?limit=1&from=5m"
margin=5

check "log in as the admin ($ADMIN_USERNAME)"
admin=$(admin_token)
ok

check "GET /api/v1/rate-limits/status: the search class's limit"
req "$admin" GET /api/v1/rate-limits/status
expect_status 200
expect_fields enabled backend limits clients
[ "$(json 'd["enabled"]')" = true ] || fail "rate limiting is off (RATE_LIMIT_ENABLED=false)"
limit=$(json '[c["limit"] for c in d["limits"] if c["class"] == "search"][0]')
window=$(json '[c["window_seconds"] for c in d["limits"] if c["class"] == "search"][0]')
[ "$limit" -ge 1 ] || fail "the search class allows $limit requests"
ok "$limit per ${window}s, backend $(json 'd["backend"]')"

user="smoke-rl-$(random_suffix)"
pass=$(strong_password)
check "register and log in a fresh user $user"
user_id=$(register_user "$user" "$pass")
token=$(login "$user" "$pass")
identity="user:$user_id"
ok "$identity"

check "GET $route until 429 (at most $((limit + margin)) requests)"
n=0
while :; do
  n=$((n + 1))
  [ "$n" -le $((limit + margin)) ] || fail "no 429 after $((n - 1)) requests; the limit is $limit"
  req "$token" GET "$route"
  [ "$STATUS" = 429 ] && break
  expect_status 200
  l=$(header RateLimit-Limit)
  r=$(header RateLimit-Remaining)
  [ "$l" = "$limit" ] || fail "request $n: RateLimit-Limit '$l', expected $limit"
  case $r in '' | *[!0-9]*) fail "request $n: RateLimit-Remaining '$r' is not a count" ;; esac
  [ "$r" -lt "$limit" ] || fail "request $n: RateLimit-Remaining $r, expected less than $limit"
  [ "$n" -gt 1 ] || [ "$r" = $((limit - 1)) ] || fail "first request: RateLimit-Remaining $r, expected $((limit - 1))"
  [ -n "$(header RateLimit-Reset)" ] || fail "request $n: no RateLimit-Reset"
  [ -n "$(header RateLimit-Policy)" ] || fail "request $n: no RateLimit-Policy"
done
[ "$n" -gt "$limit" ] || fail "429 at request $n, though the limit is $limit"
ok "429 at request $n"

check "the 429's headers and body"
retry=$(expect_header Retry-After)
case $retry in '' | *[!0-9]*) fail "Retry-After '$retry' is not a number of seconds" ;; esac
if [ "$retry" -lt 1 ] || [ "$retry" -gt "$window" ]; then fail "Retry-After $retry outside 1..$window"; fi
[ "$(header RateLimit-Limit)" = "$limit" ] || fail "RateLimit-Limit '$(header RateLimit-Limit)' on the 429"
[ "$(header RateLimit-Remaining)" = 0 ] || fail "RateLimit-Remaining '$(header RateLimit-Remaining)' on the 429, expected 0"
reset=$(expect_header RateLimit-Reset)
policy=$(expect_header RateLimit-Policy)
[ "$policy" = "$limit;w=$window" ] || fail "RateLimit-Policy '$policy', expected '$limit;w=$window'"
case $(header Content-Type) in application/json*) ;; *) fail "the 429 is not JSON: $(header Content-Type)" ;; esac
expect_json 'd["error"] != "" and d["detail"]["class"] == "search"' "the 429's error does not name the class search"
ok "Retry-After $retry, RateLimit-Reset $reset, policy $policy, error '$(json 'd["error"]')'"

check "the admin sees $identity exhausted"
req "$admin" GET "/api/v1/rate-limits/status?identity=$(urlencode "$identity")"
expect_status 200
expect_json 'any(c["identity"] == "'"$identity"'" and c["class"] == "search" and c["remaining"] == 0 for c in d["clients"])' "$identity's search class is not listed with 0 remaining"
ok

check "the admin resets $identity"
req "$admin" DELETE "/api/v1/rate-limits/reset/$(urlencode "$identity")"
expect_status 200
expect_json 'd["reset"] >= 1' "no counter of $identity was reset"
ok "$(json 'd["reset"]') counters"

check "$user is served again"
req "$token" GET "$route"
expect_status 200
[ "$(header RateLimit-Remaining)" = $((limit - 1)) ] || fail "RateLimit-Remaining '$(header RateLimit-Remaining)' after the reset, expected $((limit - 1))"
ok "200, $(header RateLimit-Remaining) remaining"

passed
