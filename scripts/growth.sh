#!/bin/sh
# Growth check of the authenticated read: does it stay as fast with
# 1,000,000 users, 5,000,000 sessions and 1,000,000 API keys as with 1,000
# users? It fills two scratch PostgreSQL databases (small and large), starts
# the server on each, signs one user up and gives them an API key through
# the API, and measures GET /api/client/account with the session cookie and
# with the key at one connection (wrk, 10 s each, after a warm-up), then
# prints p50/p99 of both and their ratio.
#
#   scripts/growth.sh                 # the full sizes (seeding takes a few minutes)
#   USERS=100000 scripts/growth.sh    # a smaller large database
#   KEEP=1 scripts/growth.sh          # keep both databases afterwards …
#   REUSE=1 scripts/growth.sh         # … and measure them again without seeding
#
# It needs psql, wrk, curl and a local PostgreSQL (PGURL, default the
# "postgres" database of 127.0.0.1 as the current user). Not part of the
# test suite: it takes minutes and several GB of disk.
set -eu
cd "$(dirname "$0")/.."
USERS=${USERS:-1000000}
SESSIONS=${SESSIONS:-$((USERS * 5))}
KEYS=${KEYS:-$USERS}
SMALL=${SMALL:-1000}
D=${D:-10}
: "${PGURL:=postgres://$(id -un)@127.0.0.1:5432/postgres?sslmode=disable}"
work=$(mktemp -d)
bin=$work/accountd
go build -o "$bin" .
pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	if [ -z "${KEEP:-}" ]; then
		for db in growth_small growth_large; do psql "$PGURL" -qc "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true; done
	fi
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

dburl() { printf '%s' "$PGURL" | sed "s#/postgres?#/$1?#"; }

# seed DB USERS SESSIONS KEYS: rows of other users, made in SQL. Their
# lookup prefixes come from md5, so they spread over the indexes as random
# tokens do.
seed() {
	psql "$(dburl "$1")" -q -v ON_ERROR_STOP=1 <<SQL
INSERT INTO users (id, username, username_key, email, email_key, name_first, name_last, password_hash, created, updated)
SELECT md5('u' || i)::uuid, 'user' || i, 'user' || i, 'user' || i || '@example.com', 'user' || i || '@example.com',
       'A', 'B', '\$argon2id\$v=19\$m=19456,t=2,p=1\$c2FsdA\$aGFzaA', now(), now()
FROM generate_series(1, $2) AS i;
INSERT INTO sessions (id, user_id, key_start, digest, ip, user_agent, last_used, last_used_hour, created)
SELECT md5('s' || i)::uuid, md5('u' || (1 + i % $2))::uuid, substr(md5('k' || i), 1, 16), sha256(('s' || i)::bytea),
       '10.0.0.1', 'seed', t, date_trunc('hour', t, 'UTC'), now() - interval '1 day'
FROM generate_series(1, $3) AS i, LATERAL (SELECT now() - (i % 86400) * interval '1 second' AS t) AS l;
INSERT INTO api_keys (id, user_id, name, key_start, digest, created)
SELECT md5('a' || i)::uuid, md5('u' || (1 + i % $2))::uuid, 'key ' || i, 'c7sp_' || substr(md5('q' || i), 1, 11),
       sha256(('a' || i)::bytea), now()
FROM generate_series(1, $4) AS i;
ANALYZE;
SQL
}

# measure NAME DB: start the server on DB, make the measured credentials
# through the API, and print one line per credential.
measure() {
	port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
	base=http://127.0.0.1:$port
	DATABASE_URL=$(dburl "$2") LISTEN_ADDR=127.0.0.1:$port APP_URL=$base RATE_LIMIT=off LOG_LEVEL=warn \
		"$bin" serve >"$work/$1.log" 2>&1 &
	pid=$!
	pids="$pids $pid"
	for _ in $(seq 100); do curl -fs "$base/healthz" >/dev/null 2>&1 && break; sleep 0.2; done
	jar=$work/$1.jar
	curl -fs -c "$jar" -H 'Content-Type: application/json' \
		-d '{"username":"measured","email":"measured@example.com","name_first":"M","name_last":"E","password":"correct horse"}' \
		"$base/api/auth/register" >/dev/null
	cookie=$(awk '$6 == "calagopus_session" {print $7}' "$jar")
	key=$(curl -fs -b "$jar" -H 'Content-Type: application/json' -d '{"name":"growth"}' \
		"$base/api/client/account/api-keys" | python3 -c 'import json,sys;print(json.load(sys.stdin)["key"])')
	for cred in cookie key; do
		if [ "$cred" = cookie ]; then h="Cookie: calagopus_session=$cookie"; else h="Authorization: Bearer $key"; fi
		wrk -t1 -c1 -d2s -H "$h" "$base/api/client/account" >/dev/null
		wrk -t1 -c1 -d"${D}s" --latency -H "$h" "$base/api/client/account" >"$work/$1-$cred.txt"
		p50=$(awk '$1 == "50%" {print $2}' "$work/$1-$cred.txt")
		p99=$(awk '$1 == "99%" {print $2}' "$work/$1-$cred.txt")
		rps=$(awk '/Requests\/sec/ {print $2}' "$work/$1-$cred.txt")
		non2xx=$(awk '/Non-2xx/ {print $NF}' "$work/$1-$cred.txt")
		[ -z "$non2xx" ] || { echo "$1 $cred: $non2xx non-2xx answers" >&2; exit 1; }
		echo "$1 $cred $p50 $p99 $rps"
	done
	kill "$pid"
}

if [ -z "${REUSE:-}" ]; then
	for db in growth_small growth_large; do
		psql "$PGURL" -qc "DROP DATABASE IF EXISTS $db" >/dev/null
		psql "$PGURL" -qc "CREATE DATABASE $db" >/dev/null
		# The server creates the schema on its first start.
		DATABASE_URL=$(dburl $db) "$bin" migrate >/dev/null 2>&1 || {
			echo "migrate $db failed" >&2
			exit 1
		}
	done
	echo "seeding: small $SMALL users; large $USERS users, $SESSIONS sessions, $KEYS API keys" >&2
	seed growth_small "$SMALL" "$SMALL" "$SMALL"
	start=$(date +%s)
	seed growth_large "$USERS" "$SESSIONS" "$KEYS"
	echo "seeded the large database in $(($(date +%s) - start)) s" >&2
else
	# The measured user of an earlier run goes; measure signs it up again.
	for db in growth_small growth_large; do
		psql "$(dburl $db)" -qc "DELETE FROM users WHERE username LIKE 'measured%'" >/dev/null
	done
fi
{
	measure small growth_small
	measure large growth_large
} >"$work/results"
python3 - "$work/results" <<'PY'
import sys
def us(v):
    for unit, f in (("us", 1), ("ms", 1000), ("s", 1e6)):
        if v.endswith(unit) and not (unit == "s" and v.endswith(("us", "ms"))):
            return float(v[:-len(unit)]) * f
    raise ValueError(v)
rows = {}
for line in open(sys.argv[1]):
    name, cred, p50, p99, rps = line.split()
    rows[(name, cred)] = (us(p50), us(p99), float(rps))
print("| credential | p50 small | p50 large | ratio | p99 small | p99 large | ratio |")
print("|---|---|---|---|---|---|---|")
worst = 0
for cred in ("cookie", "key"):
    s, l = rows[("small", cred)], rows[("large", cred)]
    worst = max(worst, l[0] / s[0])
    print(f"| {cred} | {s[0]:.0f} µs | {l[0]:.0f} µs | {l[0]/s[0]:.2f} | {s[1]:.0f} µs | {l[1]:.0f} µs | {l[1]/s[1]:.2f} |")
print(f"worst p50 ratio large/small: {worst:.2f}")
PY
