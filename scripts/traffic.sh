#!/bin/sh
# The account read under traffic shaped like production's rather than a
# benchmark's: many credentials in rotation and the per-IP limit on. It
# starts the server on a scratch PostgreSQL database, makes N sessions
# (default 1,000) for one user directly in the database, and measures
# GET /api/client/account with wrk for D seconds (default 10, C=16
# connections) in three cases:
#
#   one      one session cookie, RATE_LIMIT=off (the benchmark's case)
#   one-limited  the same with RATE_LIMIT=on
#   many     N cookies in rotation, RATE_LIMIT=on (a limit never reached)
#   junk     random cookies that name no session (401s), RATE_LIMIT=on
#
# Two servers run on the same database, one per RATE_LIMIT setting, pinned
# to CPU 1 with GOMAXPROCS=1, while wrk and PostgreSQL run on CPU 0; the
# cases run in R rounds (default 3). For each case it prints the medians
# over the rounds of req/s, p50, and the CPU µs per request of the server
# and of PostgreSQL (all its processes), read from /proc, and then the
# ratios of the others to "one".
#
#   scripts/traffic.sh
#   N=5000 D=20 R=5 scripts/traffic.sh
set -eu
cd "$(dirname "$0")/.."
N=${N:-1000}
D=${D:-10}
C=${C:-16}
R=${R:-3}
: "${PGURL:=postgres://$(id -un)@127.0.0.1:5432/postgres?sslmode=disable}"
work=$(mktemp -d)
db=traffic_$$
pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	psql "$PGURL" -qc "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT INT TERM
go build -o "$work/accountd" .
psql "$PGURL" -qc "CREATE DATABASE $db" >/dev/null
dburl=$(printf '%s' "$PGURL" | sed "s#/postgres?#/$db?#")
freeport() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

start() { # start RATE_LIMIT PORT: prints the server's pid
	DATABASE_URL=$dburl LISTEN_ADDR=127.0.0.1:$2 APP_URL=http://127.0.0.1:$2 RATE_LIMIT=$1 \
		RATE_LIMIT_CLIENT=1000000000/1m LOG_LEVEL=warn GOMAXPROCS=1 \
		taskset -c 1 "$work/accountd" serve >"$work/server-$1.log" 2>&1 &
	echo $!
	for _ in $(seq 100); do curl -fs "http://127.0.0.1:$2/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
}
port_off=$(freeport)
pid_off=$(start off "$port_off")
port_on=$(freeport)
pid_on=$(start on "$port_on")
pids="$pid_off $pid_on"
for p in $(pgrep -x postgres || true); do taskset -p -c 0 "$p" >/dev/null 2>&1 || true; done
taskset -p -c 0 $$ >/dev/null
curl -fs -o /dev/null -H 'Content-Type: application/json' \
	-d '{"username":"traffic","email":"traffic@example.com","name_first":"T","name_last":"R","password":"correct horse"}' \
	"http://127.0.0.1:$port_off/api/auth/register"
# N sessions of that user, made as the server makes them (the digest is the
# token's SHA-256, the lookup key its first 16 characters).
python3 - "$N" "$work" <<'PY'
import secrets, string, sys
n, work = int(sys.argv[1]), sys.argv[2]
alphabet = string.ascii_letters + string.digits
tok = lambda: "".join(secrets.choice(alphabet) for _ in range(48))
valid = [tok() for _ in range(n)]
open(f"{work}/valid.txt", "w").write("\n".join(valid) + "\n")
open(f"{work}/one.txt", "w").write(valid[0] + "\n")
open(f"{work}/junk.txt", "w").write("\n".join(tok() for _ in range(n)) + "\n")
with open(f"{work}/sessions.sql", "w") as f:
    f.write("INSERT INTO sessions (id, user_id, key_start, digest, ip, user_agent, last_used, last_used_hour, created) VALUES\n")
    f.write(",\n".join(
        f"(gen_random_uuid(), (SELECT id FROM users WHERE username = 'traffic'), '{t[:16]}', sha256('{t}'::bytea), "
        f"'127.0.0.1', 'traffic', now(), date_trunc('hour', now(), 'UTC'), now())" for t in valid) + ";\n")
PY
psql "$dburl" -q -v ON_ERROR_STOP=1 -f "$work/sessions.sql"
# Settle the new rows now, so that autovacuum does not pick this moment
# of a later case to analyze them.
psql "$dburl" -qc "VACUUM ANALYZE"
# rotate FILE: a wrk script sending the cookies of FILE in turn.
rotate() {
	cat <<LUA
local tokens = {}
for line in io.lines("$1") do tokens[#tokens + 1] = line end
local i = 0
request = function()
  i = i % #tokens + 1
  return wrk.format("GET", "/api/client/account", {["Cookie"] = "calagopus_session=" .. tokens[i]})
end
LUA
}

ticks() { # ticks PID: CPU ticks of the server, of PostgreSQL
	awk '{print $14 + $15}' "/proc/$1/stat"
	for p in $(pgrep -x postgres 2>/dev/null || pgrep postgres); do
		awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || true
	done | awk '{s += $1} END {print s}'
}

run() { # run NAME TOKENFILE RATE_LIMIT
	if [ "$3" = on ]; then pid=$pid_on base=http://127.0.0.1:$port_on; else pid=$pid_off base=http://127.0.0.1:$port_off; fi
	rotate "$2" >"$work/$1.lua"
	wrk -t1 -c"$C" -d2s -s "$work/$1.lua" "$base" >/dev/null
	set -- "$1" "$2" $(ticks "$pid")
	wrk -t1 -c"$C" -d"${D}s" --latency -s "$work/$1.lua" "$base" >"$work/$1.out"
	set -- "$@" $(ticks "$pid")
	hz=$(getconf CLK_TCK)
	python3 - "$work/$1.out" "$1" "$3" "$4" "$5" "$6" "$hz" <<'PY'
import re, sys
out, name, s0, p0, s1, p1, hz = sys.argv[1], sys.argv[2], *map(float, sys.argv[3:7]), float(sys.argv[7])
text = open(out).read()
reqs = int(re.search(r"(\d+) requests in", text).group(1))
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
p50 = re.search(r"50%\s+(\S+)", text).group(1)
non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
print(f"{name} {rps:.0f} {p50} {(s1 - s0) / hz * 1e6 / reqs:.1f} {(p1 - p0) / hz * 1e6 / reqs:.1f} {non2xx.group(1) if non2xx else 0}")
PY
}

# Each round starts one case later, so that no case always runs first or
# last.
cases="one:one:off one-limited:one:on many:valid:on junk:junk:on"
for round in $(seq "$R"); do
	order=$cases
	k=1
	while [ $k -lt "$round" ]; do
		# shellcheck disable=SC2086
		set -- $order
		first=$1
		shift
		order="$* $first"
		k=$((k + 1))
	done
	for c in $order; do
		IFS=: read -r name file limit <<CASE
$c
CASE
		run "$name" "$work/$file.txt" "$limit"
	done
done >"$work/results"
python3 - "$work/results" "$N" <<'PY'
import sys
import statistics
runs = {}
for l in open(sys.argv[1]):
    f = l.split()
    runs.setdefault(f[0], []).append(f[1:])
def med(vals, unit=False):
    if unit:
        us = [float(v[:-2]) * (1000 if v.endswith("ms") else 1) if v.endswith(("ms", "us")) else float(v[:-1]) * 1e6 for v in vals]
        return f"{statistics.median(us):.0f}us"
    return f"{statistics.median(float(v) for v in vals):.1f}"
rows = {k: [med([r[0] for r in v]), med([r[1] for r in v], True), med([r[2] for r in v]), med([r[3] for r in v]),
            med([r[4] for r in v])] for k, v in runs.items()}
n = sys.argv[2]
print(f"medians of {len(runs['one'])} rounds")
print("| case | req/s | p50 | server CPU µs/req | PostgreSQL CPU µs/req | non-2xx |")
print("|---|---|---|---|---|---|")
names = {"one": "one cookie, RATE_LIMIT=off", "one-limited": "one cookie, RATE_LIMIT=on",
         "many": f"{n} cookies, RATE_LIMIT=on", "junk": f"{n} junk cookies, RATE_LIMIT=on"}
for k in ("one", "one-limited", "many", "junk"):
    r = rows[k]
    print(f"| {names[k]} | {r[0]} | {r[1]} | {r[2]} | {r[3]} | {r[4]} |")
one = rows["one"]
for k in ("one-limited", "many", "junk"):
    r = rows[k]
    print(f"{k}/one: server CPU {float(r[2]) / float(one[2]):.2f}, PostgreSQL CPU {float(r[3]) / float(one[3]):.2f}")
PY
