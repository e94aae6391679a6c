# What the browser tests share: Chromium and the pinned browser driver,
# and the server built and started on a free port with a scratch SQLite
# database. Source it from a script that defines fail MESSAGE and has
# `root` set to the project's root; it sets a trap that stops the server
# and removes its directory.
#
#   browser_prepare
#   browser_start_server HOST [VAR=value …]   # sets tmp, port, base, pid
#
# HOST is the host of APP_URL: 127.0.0.1, or localhost where WebAuthn needs
# a domain. Needs Go, Node, npm and curl; installs Debian's chromium when
# it is missing (as root) and puppeteer-core from scripts/browser/ with
# npm ci.

browser_prepare() {
	local tool
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
}

browser_cleanup() {
	if [ -n "${pid:-}" ]; then
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	rm -rf "${tmp:-}"
}

browser_start_server() {
	local host=$1
	shift
	tmp=$(mktemp -d)
	pid=
	trap browser_cleanup EXIT
	echo "building the server"
	"$root/scripts/build.sh" "$tmp/accountd" || fail "the build failed"
	port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
	base="http://$host:$port"
	echo "starting the server on 127.0.0.1:$port as $base"
	env DATABASE_URL="sqlite:$tmp/browser.db" LISTEN_ADDR="127.0.0.1:$port" APP_URL="$base" "$@" \
		"$tmp/accountd" >"$tmp/server.log" 2>&1 &
	pid=$!
	local ready=false
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
}
