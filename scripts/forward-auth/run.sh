#!/usr/bin/env bash
# Forward auth behind a real nginx: builds the server and starts it on a
# scratch SQLite database, starts a small app (upstream/) and nginx in
# front of it with auth_request asking GET /api/auth/verify about every
# request (nginx.conf.template), then checks with curl what a browser and
# a script get through the proxy. Prints one PASS/FAIL line per check and
# exits non-zero if any fails. Installs nginx with apt-get when it is
# missing (as root).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
export PATH="/usr/local/go/bin:$PATH:/usr/sbin:/sbin"

if ! command -v nginx >/dev/null 2>&1; then
  echo "== installing nginx"
  [ "$(id -u)" = 0 ] || { echo "nginx is missing and only root can install it (apt-get install nginx)" >&2; exit 1; }
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q nginx >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q nginx >/dev/null; }
fi
nginx_bin=$(command -v nginx)

tmp=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$tmp"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1]);s.close()'; }

# wait_for URL PID NAME LOG: until URL answers (any status) or PID exits.
wait_for() {
  for _ in $(seq 1 100); do
    if curl -s -o /dev/null "$1" 2>/dev/null; then
      return 0
    fi
    if ! kill -0 "$2" 2>/dev/null; then
      echo "$3 exited:" >&2
      tail -n 20 "$4" >&2
      exit 1
    fi
    sleep 0.1
  done
  echo "$3 did not answer on $1" >&2
  tail -n 20 "$4" >&2
  exit 1
}

echo "== building the server and the app"
scripts/build.sh "$tmp/accountd"
go build -o "$tmp/upstream" ./scripts/forward-auth/upstream

server_port=$(free_port)
upstream_port=$(free_port)
proxy_port=$(free_port)
api="http://127.0.0.1:$server_port"
proxy="http://127.0.0.1:$proxy_port"

# The per-IP API limit is small so the check below can spend it; nginx
# connects from 127.0.0.1, which is trusted to say who the client is.
DATABASE_URL="sqlite:$tmp/panel.db" LISTEN_ADDR="127.0.0.1:$server_port" APP_URL="$proxy" \
  TRUSTED_PROXIES=127.0.0.1/32 RATE_LIMIT_CLIENT=20/1m LOG_LEVEL=warn \
  "$tmp/accountd" serve >"$tmp/server.log" 2>&1 &
pids+=($!)
wait_for "$api/readyz" "${pids[-1]}" server "$tmp/server.log"

"$tmp/upstream" -addr "127.0.0.1:$upstream_port" >"$tmp/upstream.log" 2>&1 &
pids+=($!)
wait_for "http://127.0.0.1:$upstream_port/" "${pids[-1]}" upstream "$tmp/upstream.log"

sed -e "s|@TMP@|$tmp|g" -e "s|@LISTEN@|127.0.0.1:$proxy_port|g" \
  -e "s|@SERVER@|127.0.0.1:$server_port|g" -e "s|@UPSTREAM@|127.0.0.1:$upstream_port|g" \
  scripts/forward-auth/nginx.conf.template >"$tmp/nginx.conf"
"$nginx_bin" -p "$tmp" -c "$tmp/nginx.conf" -e "$tmp/error.log" -g 'daemon off;' >"$tmp/nginx.out" 2>&1 &
pids+=($!)
wait_for "$proxy/" "${pids[-1]}" nginx "$tmp/error.log"
echo "== $("$nginx_bin" -v 2>&1 | sed 's/^nginx version: //') on $proxy → app 127.0.0.1:$upstream_port; auth_request → accountd $api"

passed=0
failed=0
ok() {
  passed=$((passed + 1))
  printf 'PASS  %s\n' "$1"
}
bad() {
  failed=$((failed + 1))
  printf 'FAIL  %s\n      %s\n' "$1" "$2"
}

# req ARGS...: one curl request; sets $status and $body.
req() {
  status=$(curl -s -o "$tmp/body" -w '%{http_code}' "$@") || status=000
  body=$(cat "$tmp/body" 2>/dev/null || true)
}

# expect NAME STATUS [TEXT] -- CURL ARGS...: the answer's status, and a
# line of its body when TEXT is given.
expect() {
  local name=$1 want=$2 text=""
  shift 2
  if [ "$1" != "--" ]; then
    text=$1
    shift
  fi
  shift
  req "$@"
  if [ "$status" != "$want" ]; then
    bad "$name" "status $status, want $want; body: $(head -c 300 <<<"$body")"
  elif [ -n "$text" ] && ! grep -qxF -- "$text" <<<"$body"; then
    bad "$name" "the answer has no line \"$text\"; body: $(head -c 300 <<<"$body")"
  else
    ok "$name"
  fi
}

json='Content-Type: application/json'

expect "no credentials: 401" 401 -- "$proxy/"

req -H "$json" -d '{"username":"alice","email":"alice@example.com","name_first":"Alice","name_last":"Liddell","password":"correct horse"}' \
  -c "$tmp/jar" "$api/api/auth/register"
cookie=$(awk '$6 == "calagopus_session" { print $7 }' "$tmp/jar" 2>/dev/null || true)
if [ "$status" != 200 ] || [ -z "$cookie" ]; then
  bad "sign up over REST" "status $status, cookie '${cookie:0:4}…'; body: $body"
  echo "summary: $passed passed, $failed failed"
  exit 1
fi
ok "sign up over REST (POST /api/auth/register): a session cookie"
session="Cookie: calagopus_session=$cookie"

expect "session cookie: 200 from the app, which saw the username" 200 "X-User: alice" -- -H "$session" "$proxy/"
grep -qxF "X-Permissions: *" <<<"$body" && grep -qxF "X-User-Admin: true" <<<"$body" && grep -qxF "X-Key-Id: " <<<"$body" &&
  ok "session cookie: the app saw X-Permissions: *, X-User-Admin: true and no key id" ||
  bad "session cookie: the app's headers" "$body"
expect "session cookie, a POST with a body: 200 (the check itself is a bodiless GET)" 200 "upstream: POST /upload" -- \
  -H "$session" -H "$json" -d '{"file":"x"}' "$proxy/upload"
expect "session cookie, the location needing activity.read: 200" 200 "X-User: alice" -- -H "$session" "$proxy/activity/"
expect "a client's own X-User header is replaced by the check's answer" 200 "X-User: alice" -- -H "$session" -H "X-User: mallory" "$proxy/"
expect "the app's own query string does not reach the check" 200 "X-User: alice" -- -H "$session" "$proxy/search?q=x&permission=nope"

req -H "$session" -H "$json" -d '{"name":"proxy key","user_permissions":["account.infos"]}' "$api/api/client/account/api-keys"
key=$(grep -o '"key":"c7sp_[A-Za-z0-9]*"' <<<"$body" | cut -d'"' -f4 || true)
key_id=$(grep -o '"uuid":"[0-9a-f-]*"' <<<"$body" | head -n 1 | cut -d'"' -f4 || true)
if [ "$status" = 200 ] && [ -n "$key" ]; then
  ok "create an API key over REST (account.infos)"
else
  bad "create an API key over REST" "status $status; body: $body"
fi
expect "API key: 200 from the app, which saw the user" 200 "X-User: alice" -- -H "Authorization: Bearer $key" "$proxy/"
grep -qxF "X-Key-Id: $key_id" <<<"$body" && grep -qxF "X-Permissions: account.infos" <<<"$body" &&
  ok "API key: the app saw its id and X-Permissions: account.infos" ||
  bad "API key: the app's headers" "key $key_id; $body"
expect "API key without activity.read, the location needing it: 403" 403 -- -H "Authorization: Bearer $key" "$proxy/activity/"

req -H "$session" -H "$json" -d '{"name":"from two","allowed_ips":["127.0.0.2/32"]}' "$api/api/client/account/api-keys"
near=$(grep -o '"key":"c7sp_[A-Za-z0-9]*"' <<<"$body" | cut -d'"' -f4 || true)
expect "a key allowed from 127.0.0.2 only, used from 127.0.0.2 through nginx (X-Forwarded-For): 200" 200 "X-User: alice" -- \
  --interface 127.0.0.2 -H "Authorization: Bearer $near" "$proxy/"
expect "the same key from 127.0.0.3: 403" 403 -- --interface 127.0.0.3 -H "Authorization: Bearer $near" "$proxy/"

expect "a junk cookie: 401" 401 -- -H "Cookie: calagopus_session=junk" "$proxy/"
expect "an unknown key: 401" 401 -- -H "Authorization: Bearer c7sp_0000000000000000000000000000000000000000000" "$proxy/"

expect "logout over REST (POST /api/client/account/logout)" 200 -- -X POST -H "$session" "$api/api/client/account/logout"
expect "after logout, the same cookie: 401" 401 -- -H "$session" "$proxy/"

# A page with its assets: every request goes through the check, which
# does not count against the per-IP API limit (RATE_LIMIT_CLIENT=20/1m).
req -H "$json" -d '{"user":"alice","password":"correct horse"}' -c "$tmp/jar2" "$api/api/auth/login"
cookie2=$(awk '$6 == "calagopus_session" { print $7 }' "$tmp/jar2" 2>/dev/null || true)
codes=""
for i in $(seq 1 60); do
  req -H "Cookie: calagopus_session=$cookie2" "$proxy/assets/$i.js"
  codes="$codes $status"
done
summary=$(tr ' ' '\n' <<<"$codes" | sed '/^$/d' | sort | uniq -c | awk '{printf "%s×%s ", $1, $2}')
[ "$summary" = "60×200 " ] && ok "60 requests through nginx with a limit of 20/1m on the API: all 200" ||
  bad "60 requests through nginx with a limit of 20/1m on the API" "answers: $summary"
limited=0
for _ in $(seq 1 25); do
  req -H "Cookie: calagopus_session=$cookie2" "$api/api/client/account"
  [ "$status" = 429 ] && limited=$((limited + 1))
done
[ "$limited" -gt 0 ] && ok "the API itself is limited: $limited of 25 direct requests got 429" ||
  bad "the API itself is limited" "no 429 in 25 direct requests"
expect "with the API budget spent, the app still answers" 200 "X-User: alice" -- -H "Cookie: calagopus_session=$cookie2" "$proxy/"

errors=$(grep -c ' 500 ' "$tmp/access.log" || true)
[ "$errors" = 0 ] && ok "nginx answered no 500" || bad "nginx answered no 500" "$errors in its access log; error log: $(tail -n 5 "$tmp/error.log")"

echo
echo "summary: $passed passed, $failed failed"
if [ "$failed" -gt 0 ]; then
  echo "--- nginx error log (last 20 lines)"
  tail -n 20 "$tmp/error.log"
  echo "--- server log (last 20 lines)"
  tail -n 20 "$tmp/server.log"
  exit 1
fi
