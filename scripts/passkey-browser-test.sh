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

# shellcheck source=lib/browser.sh
. "$root/scripts/lib/browser.sh"
browser_prepare
browser_start_server localhost
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
