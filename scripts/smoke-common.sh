# shellcheck shell=bash
# Shared helpers of the operator smoke scripts (test-*.sh, pipeline-status.sh):
# sourced, not run. The sourcing script's first argument is the api address
# (default http://127.0.0.1:8000); the admin is LOGFLOW_ADMIN_USERNAME
# (default admin) / LOGFLOW_ADMIN_PASSWORD, or an admin token in
# LOGFLOW_ADMIN_TOKEN (saves a login: /auth/login allows 20 per hour and
# client by default). Needs bash, curl and python3 (for JSON), nothing else.
# Functions that print a value are meant for `v=$(...)` under `set -e`: a
# failed check inside exits the script.

API=${1:-http://127.0.0.1:8000}
API=${API%/}
ADMIN_USERNAME=${LOGFLOW_ADMIN_USERNAME:-admin}
SMOKE_NAME=$(basename "$0" .sh)
SMOKE_TMP=$(mktemp -d "${TMPDIR:-/tmp}/$SMOKE_NAME.XXXXXX")
trap 'rm -rf "$SMOKE_TMP"' EXIT
CHECKS=0
# The last response: STATUS, its headers ($SMOKE_TMP/headers) and body ($SMOKE_TMP/body).
STATUS=000
LAST_REQUEST=

for tool in curl python3; do
  command -v "$tool" >/dev/null 2>&1 || { echo "$SMOKE_NAME: needs $tool" >&2; exit 2; }
done

# check DESCRIPTION: announce one check; `ok` or `fail` ends it.
check() {
  CHECKS=$((CHECKS + 1))
  printf '%s: %s ... ' "$SMOKE_NAME" "$*"
}
ok() { printf 'ok%s\n' "${*:+ ($*)}"; }
# fail MESSAGE: the check failed; say why, show the last response, exit 1.
# Everything goes to stderr, so that a failure inside $(...) is seen too.
fail() {
  {
    printf 'FAILED\n%s: FAIL: %s\n' "$SMOKE_NAME" "$*"
    if [ -n "$LAST_REQUEST" ]; then
      printf '  last request: %s -> %s\n' "$LAST_REQUEST" "$STATUS"
      [ -s "$SMOKE_TMP/body" ] && printf '  body: %s\n' "$(head -c 600 "$SMOKE_TMP/body")"
    fi
  } >&2
  exit 1
}
# passed: the closing line of a script whose checks all passed.
passed() { printf '%s: PASS (%d checks against %s)\n' "$SMOKE_NAME" "$CHECKS" "$API"; }

# req TOKEN METHOD PATH [CURL_ARGS...]: one request (TOKEN may be empty);
# sets STATUS and keeps headers and body. Never fails on an HTTP status;
# fails the check when the api cannot be reached.
req() {
  local token=$1 method=$2 path=$3
  shift 3
  local auth=()
  [ -n "$token" ] && auth=(-H "Authorization: Bearer $token")
  LAST_REQUEST="$method $path"
  : >"$SMOKE_TMP/headers"
  : >"$SMOKE_TMP/body"
  if ! STATUS=$(curl -sS --max-time 20 -o "$SMOKE_TMP/body" -D "$SMOKE_TMP/headers" \
    -w '%{http_code}' -X "$method" "${auth[@]}" "$@" "$API$path" 2>"$SMOKE_TMP/curl.err"); then
    STATUS=000
    fail "cannot reach $API$path: $(cat "$SMOKE_TMP/curl.err")"
  fi
}

# expect_status CODE...: the last response has one of these statuses.
expect_status() {
  local code
  for code in "$@"; do [ "$STATUS" = "$code" ] && return 0; done
  fail "$LAST_REQUEST answered $STATUS, expected $*"
}

# header NAME: the last response's header (case-insensitive), empty when absent.
header() {
  local name
  name=$(printf '%s' "$1" | tr '[:upper:]' '[:lower:]')
  tr -d '\r' <"$SMOKE_TMP/headers" |
    awk -v n="$name" 'index(tolower($0), n ":") == 1 { v = substr($0, length(n) + 2); sub(/^[ \t]+/, "", v); print v }' |
    tail -1
}

# expect_header NAME: the header is present and not empty; prints its value.
expect_header() {
  local v
  v=$(header "$1")
  [ -n "$v" ] || fail "$LAST_REQUEST: no $1 header"
  printf '%s' "$v"
}

# json EXPR: a Python expression over the last JSON body `d`; prints a
# string as is, anything else as JSON. Fails the check when the body is not
# JSON or the expression does not apply (a missing field).
json() {
  local out
  if ! out=$(python3 - "$1" "$SMOKE_TMP/body" 2>&1 <<'PY'
import json, sys
expr, path = sys.argv[1], sys.argv[2]
try:
    with open(path, encoding="utf-8") as f:
        d = json.load(f)
except Exception as e:
    sys.exit(f"the body is not JSON ({e})")
try:
    v = eval(expr, {"d": d})
except Exception as e:
    sys.exit(f"{expr}: {type(e).__name__} {e}")
print(v if isinstance(v, str) else json.dumps(v))
PY
  ); then
    fail "$LAST_REQUEST: $out"
  fi
  printf '%s' "$out"
}

# expect_json EXPR MESSAGE: the expression is true of the last body.
expect_json() {
  [ "$(json "bool($1)" 2>/dev/null || true)" = true ] || {
    json "$1" >/dev/null # a non-JSON body or a missing field says so
    fail "$LAST_REQUEST: $2"
  }
}

# expect_fields F1 F2 ...: the last JSON object has these top-level keys.
expect_fields() {
  local missing
  missing=$(python3 - "$SMOKE_TMP/body" "$@" 2>&1 <<'PY'
import json, sys
try:
    with open(sys.argv[1], encoding="utf-8") as f:
        d = json.load(f)
except Exception as e:
    print(f"(the body is not JSON: {e})")
    sys.exit()
if not isinstance(d, dict):
    print("(the body is not a JSON object)")
    sys.exit()
print(" ".join(k for k in sys.argv[2:] if k not in d))
PY
  )
  [ -z "$missing" ] || fail "$LAST_REQUEST: missing fields: $missing"
}

# json_body KEY VALUE ...: a JSON object of string values (safely quoted).
json_body() {
  python3 -c 'import json, sys; a = sys.argv[1:]; print(json.dumps(dict(zip(a[::2], a[1::2]))))' "$@"
}

# urlencode STRING
urlencode() {
  python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$1"
}

# random_suffix: 10 lowercase letters and digits.
random_suffix() {
  python3 -c 'import secrets, string; print("".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(10)))'
}

# strong_password: a long random password the api's strength check accepts.
strong_password() {
  python3 -c 'import secrets; print("Smoke-" + secrets.token_urlsafe(18) + "-9q")'
}

# login USERNAME PASSWORD [HINT]: a bearer token (form login); fails the check otherwise.
login() {
  req "" POST /api/v1/auth/login --data-urlencode "username=$1" --data-urlencode "password=$2"
  if [ "$STATUS" = 429 ]; then
    fail "login of $1 is rate limited (class login, RATE_LIMIT_LOGIN; Retry-After $(header Retry-After) s): wait, have an admin reset this client (DELETE /api/v1/rate-limits/reset/ip:<address>), or pass LOGFLOW_ADMIN_TOKEN"
  fi
  if [ "$STATUS" = 401 ]; then
    fail "login of $1 refused (401): wrong username or password${3:+; $3}"
  fi
  expect_status 200
  json 'd["access_token"]'
}

# admin_token: the admin's bearer token (LOGFLOW_ADMIN_TOKEN, or a login).
admin_token() {
  if [ -n "${LOGFLOW_ADMIN_TOKEN:-}" ]; then
    printf '%s' "$LOGFLOW_ADMIN_TOKEN"
    return 0
  fi
  [ -n "${LOGFLOW_ADMIN_PASSWORD:-}" ] ||
    fail "set LOGFLOW_ADMIN_PASSWORD (the password of admin user $ADMIN_USERNAME) or LOGFLOW_ADMIN_TOKEN"
  login "$ADMIN_USERNAME" "$LOGFLOW_ADMIN_PASSWORD" "check LOGFLOW_ADMIN_USERNAME and LOGFLOW_ADMIN_PASSWORD"
}

# register_user USERNAME PASSWORD: create an account; prints its id.
register_user() {
  req "" POST /api/v1/auth/register -H 'Content-Type: application/json' \
    --data "$(json_body username "$1" email "$1@example.com" password "$2" full_name "LogFlow smoke test")"
  if [ "$STATUS" = 429 ]; then
    fail "registration is rate limited (class register, RATE_LIMIT_REGISTER; Retry-After $(header Retry-After) s)"
  fi
  expect_status 201
  json 'd["id"]'
}
