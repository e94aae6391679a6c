#!/usr/bin/env bash
# The passkey browser test: builds the server, starts it on a free port
# with a scratch SQLite database and APP_URL=http://localhost:PORT (so the
# WebAuthn RP ID is localhost, which browsers accept over plain http), and
# has headless Chromium, with the DevTools virtual authenticator, register
# a passkey, sign out, sign in without a username, turn TOTP on and answer
# the two-factor checkpoint with the key (scripts/browser/passkey.mjs).
#
#   scripts/passkey-browser-test.sh
#
# Needs Go, Node and npm; installs Debian's chromium when it is missing
# (as root) and the pinned puppeteer-core from scripts/browser/ with npm ci.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)

fail() {
	echo "passkey browser test FAILED: $*" >&2
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
base="http://localhost:$port"
echo "starting the server on 127.0.0.1:$port as $base"
DATABASE_URL="sqlite:$tmp/passkey.db" LISTEN_ADDR="127.0.0.1:$port" APP_URL="$base" \
	"$tmp/accountd" >"$tmp/server.log" 2>&1 &
pid=$!
ready=false
for _ in $(seq 1 300); do
	if curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; then
		ready=true
		break
	fi
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.1
done
if ! $ready; then
	cat "$tmp/server.log" >&2
	fail "the server did not become ready on 127.0.0.1:$port"
fi
if grep -q "security keys are off" "$tmp/server.log"; then
	cat "$tmp/server.log" >&2
	fail "the server started with security keys off"
fi

if ! timeout 180 node "$root/scripts/browser/passkey.mjs" "$base"; then
	echo "--- server log (last 40 lines)" >&2
	tail -n 40 "$tmp/server.log" >&2
	fail "see above"
fi
echo "passkey browser test passed"
