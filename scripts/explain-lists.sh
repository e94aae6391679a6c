#!/bin/sh
# Fills a scratch PostgreSQL schema with 1,000,000 activity rows, 100,000
# sessions and 20,000 API keys, then prints the EXPLAIN ANALYZE plan of each
# list's first page and of each revoke, as the store runs them, and fails if
# any of them scans a table sequentially.
#
#   TEST_DATABASE_URL=postgres://user@host/db scripts/explain-lists.sh
#
# Without TEST_DATABASE_URL it uses the local server's "test" database.
set -eu
cd "$(dirname "$0")/.."
: "${TEST_DATABASE_URL:=postgres://$(id -un)@127.0.0.1:5432/test?sslmode=disable}"
export TEST_DATABASE_URL
exec go test -tags explain -run '^TestExplainListPlans$' -count=1 -v -timeout 20m ./db
