#!/usr/bin/env bash
# Database outage under load: starts a throwaway PostgreSQL, builds the
# server, and runs the driver (main.go), which puts steady mixed load on
# one server, stops PostgreSQL and starts it again, and reports what the
# clients saw. Arguments go to the driver, e.g. for a quick run:
#
#   scripts/outage/run.sh -duration 20s -stop-at 6s -start-at 11s
#   scripts/outage/run.sh -stop-mode immediate
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
url=$(pg_createdb outage)
scripts/build.sh "$tmp/accountd"
go build -o "$tmp/outage" ./scripts/outage
pguser=
[ "$(id -u)" = 0 ] && pguser=postgres
"$tmp/outage" -bin "$tmp/accountd" -db "$url" -pgctl "$PG_BIN/pg_ctl" -pgdata "$PG_DATA" -pglog "$PG_LOG" \
  -pguser "$pguser" -dir "$tmp" "$@"
