#!/usr/bin/env bash
# Several servers on one database: starts a throwaway PostgreSQL, builds
# the server once and runs the driver (main.go), which starts three
# servers at the same moment behind a round-robin proxy and prints one
# PASS/FAIL line per check. Exits non-zero if any check fails.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
export PATH="/usr/local/go/bin:$PATH"
. scripts/lib/postgres.sh

tmp=$(mktemp -d)
cleanup() { pg_throwaway_stop; rm -rf "$tmp"; }
trap cleanup EXIT

pg_throwaway_start
echo "== PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PG_PORT (throwaway)"
url=$(pg_createdb replicas)
scripts/build.sh "$tmp/accountd"
go build -o "$tmp/replicas" ./scripts/replicas
"$tmp/replicas" -bin "$tmp/accountd" -db "$url" -dir "$tmp"
