#!/usr/bin/env bash
# Smoke test of the response cache against a running LogFlow api:
#   scripts/test-cache.sh [API_URL]     (default http://127.0.0.1:8000)
# As the admin (LOGFLOW_ADMIN_USERNAME / LOGFLOW_ADMIN_PASSWORD): the
# overview over a window no one else asks for (window=<random>m, so a rerun
# starts cold) is a MISS, then a HIT with the same body; the cache stats
# count the hit; DELETE /api/v1/cache/clear empties the cache (all entries:
# every cached answer is recomputed once) and the next request is a MISS.
# Needs CACHE_TTL_OVERVIEW of a few seconds at least (default 30s).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=smoke-common.sh
source "$(dirname "$0")/smoke-common.sh"

window="$(python3 -c 'import secrets; print(1000 + secrets.randbelow(500000))')m"
route="/api/v1/metrics/overview?window=$window"

check "log in as the admin ($ADMIN_USERNAME)"
admin=$(admin_token)
ok

check "GET /api/v1/cache/stats"
req "$admin" GET /api/v1/cache/stats
expect_status 200
expect_fields backend hits misses hit_rate entries
hits_before=$(json 'd["hits"]')
ok "backend $(json 'd["backend"]'), $hits_before hits, $(json 'd["misses"]') misses, $(json 'd["entries"]') entries"

# cached GET LABEL EXPECTED: the overview answers 200 with X-Cache EXPECTED.
cached_get() {
  check "$1 GET $route is a $2"
  req "$admin" GET "$route"
  expect_status 200
  local x
  x=$(header X-Cache)
  [ -n "$x" ] || fail "$route: no X-Cache header"
  [ "$x" != BYPASS ] || fail "$route: X-Cache BYPASS (CACHE_TTL_OVERVIEW=0s, or Redis unreachable: see /health)"
  [ "$x" = "$2" ] || fail "$route: X-Cache $x, expected $2"
  ok "X-Cache: $x"
}

cached_get "first" MISS
cp "$SMOKE_TMP/body" "$SMOKE_TMP/first"
cached_get "second" HIT
check "the HIT has the body of the MISS"
cmp -s "$SMOKE_TMP/first" "$SMOKE_TMP/body" || fail "the cached answer differs from the computed one"
ok

check "the cache stats count the hit"
req "$admin" GET /api/v1/cache/stats
expect_status 200
expect_json 'd["hits"] > '"$hits_before"' and d["entries"] >= 1' "hits did not grow past $hits_before (or no entries)"
ok "$(json 'd["hits"]') hits, hit rate $(json 'round(d["hit_rate"], 3)'), $(json 'd["entries"]') entries"

check "DELETE /api/v1/cache/clear"
req "$admin" DELETE /api/v1/cache/clear
expect_status 200
expect_fields pattern cleared
expect_json 'd["cleared"] >= 1' "nothing was cleared, though the overview was cached"
ok "pattern $(json 'd["pattern"]'), $(json 'd["cleared"]') cleared"

cached_get "after the clear," MISS

passed
