#!/usr/bin/env bash
# Builds the server, starts it on a free port with a scratch SQLite
# database, and runs the graphql-http audit against its /graphql.
set -euo pipefail
cd "$(dirname "$0")"
npm ci --no-audit --no-fund --silent
root=$(cd ../.. && pwd)
tmp=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$tmp"' EXIT
"$root/scripts/build.sh" "$tmp/accountd"
port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
DATABASE_URL="sqlite:$tmp/audit.db" LISTEN_ADDR="127.0.0.1:$port" RATE_LIMIT=off "$tmp/accountd" >"$tmp/server.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
  curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done
node audit.mjs "http://127.0.0.1:$port/graphql"
