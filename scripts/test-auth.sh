#!/usr/bin/env bash
# Smoke test of authentication against a running LogFlow api:
#   scripts/test-auth.sh [API_URL]     (default http://127.0.0.1:8000)
# Registers a fresh user (smoke-<random>, role user; it stays), logs it in
# with JSON and with a form, reads /auth/me, and checks that a wrong
# password and a missing or forged token get 401, the user gets 403 on an
# admin route and the admin (LOGFLOW_ADMIN_USERNAME / LOGFLOW_ADMIN_PASSWORD)
# 200. Uses 4 logins (RATE_LIMIT_LOGIN) and 1 registration (RATE_LIMIT_REGISTER).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=smoke-common.sh
source "$(dirname "$0")/smoke-common.sh"

user="smoke-$(random_suffix)"
pass=$(strong_password)

check "register a fresh user $user"
user_id=$(register_user "$user" "$pass")
expect_json 'd["username"] == "'"$user"'" and d["role"] == "user"' "the new account is not $user with role user"
expect_json 'not any(k in d for k in ("password", "password_hash", "hashed_password"))' "the account shows its password hash"
ok "201, id $user_id"

check "log in with JSON"
req "" POST /api/v1/auth/login -H 'Content-Type: application/json' --data "$(json_body username "$user" password "$pass")"
expect_status 200
expect_fields access_token token_type expires_in user
expect_json 'd["token_type"].lower() == "bearer" and len(d["access_token"]) > 20' "no bearer token"
expect_json 'd["user"]["username"] == "'"$user"'"' "the token's user is not $user"
ok "200, expires in $(json 'd["expires_in"]') s"

check "log in with a form (OAuth2 password grant)"
token=$(login "$user" "$pass")
ok 200

check "GET /api/v1/auth/me with the token"
req "$token" GET /api/v1/auth/me
expect_status 200
expect_json 'd["username"] == "'"$user"'" and d["role"] == "user" and d["id"] == '"$user_id" "/auth/me is not $user (id $user_id, role user)"
ok "200, $user"

check "a wrong password gets 401"
req "" POST /api/v1/auth/login --data-urlencode "username=$user" --data-urlencode "password=${pass}-wrong"
expect_status 401
expect_json 'isinstance(d["error"], str) and d["error"] != ""' "the 401 has no JSON error"
ok "401: $(json 'd["error"]')"

check "no token gets 401"
req "" GET /api/v1/auth/me
expect_status 401
expect_json 'd["error"] != ""' "the 401 has no JSON error"
ok 401

check "a forged token gets 401"
req "${token%.*}.bm90LXRoZS1zaWduYXR1cmU" GET /api/v1/auth/me
expect_status 401
ok 401

check "the user on an admin route (GET /api/v1/auth/users) gets 403"
req "$token" GET /api/v1/auth/users
expect_status 403
expect_json 'd["error"] != ""' "the 403 has no JSON error"
ok 403

check "the admin ($ADMIN_USERNAME) on GET /api/v1/auth/users gets 200"
admin=$(admin_token)
req "$admin" GET "/api/v1/auth/users?limit=1"
expect_status 200
expect_fields users total limit offset
expect_json 'd["total"] >= 2' "fewer than 2 accounts listed (the admin and $user)"
ok "200, $(json 'd["total"]') accounts"

passed
