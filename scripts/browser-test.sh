#!/usr/bin/env bash
# The GraphiQL browser test: builds the server, starts it on a free port
# with a scratch SQLite database, and has headless Chromium sign up, open
# /graphiql with the session cookie, run { viewer { username email } },
# check the answer and that the page requested nothing from another host.
# It saves a screenshot of the result (docs/graphiql.png unless a path is
# given).
#
#   scripts/browser-test.sh [SCREENSHOT_PATH]
#
# Needs Go, Node and npm; installs Debian's chromium when it is missing
# (as root) and the pinned puppeteer-core from scripts/browser/ with npm ci.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
shot=${1:-$root/docs/graphiql.png}

fail() {
	echo "browser test FAILED: $*" >&2
	exit 1
}

for tool in go node npm curl; do
	command -v "$tool" >/dev/null || fail "$tool is required"
done

export CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$CHROMIUM" ]; then
	echo "installing chromium"
	[ "$(id -u)" = 0 ] || fail "chromium is missing and only root can install it (apt-get install chromium)"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q >/dev/null || fail "apt-get update failed"
	apt-get install -y -q chromium >/dev/null || fail "apt-get install chromium failed"
	[ -x "$CHROMIUM" ] || fail "chromium was installed but $CHROMIUM is not there"
fi

echo "installing the browser driver (npm ci)"
(cd "$root/scripts/browser" && npm ci --no-audit --no-fund --silent) || fail "npm ci in scripts/browser failed"

tmp=$(mktemp -d)
pid=
cleanup() {
	if [ -n "$pid" ]; then
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT

echo "building the server"
"$root/scripts/build.sh" "$tmp/accountd" || fail "the build failed"

port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
base="http://127.0.0.1:$port"
echo "starting the server on $base"
DATABASE_URL="sqlite:$tmp/browser.db" LISTEN_ADDR="127.0.0.1:$port" APP_URL="$base" \
	GRAPHQL_INTROSPECTION=true "$tmp/accountd" >"$tmp/server.log" 2>&1 &
pid=$!
ready=false
for _ in $(seq 1 300); do
	if curl -fs "$base/readyz" >/dev/null 2>&1; then
		ready=true
		break
	fi
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.1
done
if ! $ready; then
	cat "$tmp/server.log" >&2
	fail "the server did not become ready on $base"
fi

mkdir -p "$(dirname "$shot")"
if ! timeout 180 node "$root/scripts/browser/graphiql.mjs" "$base" "$shot"; then
	echo "--- server log (last 40 lines)" >&2
	tail -n 40 "$tmp/server.log" >&2
	fail "see above"
fi
echo "browser test passed"
