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

# shellcheck source=lib/browser.sh
. "$root/scripts/lib/browser.sh"
browser_prepare
browser_start_server 127.0.0.1 GRAPHQL_INTROSPECTION=true

mkdir -p "$(dirname "$shot")"
if ! timeout 180 node "$root/scripts/browser/graphiql.mjs" "$base" "$shot"; then
	echo "--- server log (last 40 lines)" >&2
	tail -n 40 "$tmp/server.log" >&2
	fail "see above"
fi
echo "browser test passed"
