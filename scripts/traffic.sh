#!/bin/sh
# The account read under traffic shaped like production's rather than a
# benchmark's: many credentials in rotation and the per-IP limit on. It
# starts the server on a scratch PostgreSQL database, makes N sessions
# (default 1,000) for one user directly in the database, and measures
# GET /api/client/account with wrk for D seconds (default 10, C=16
# connections) in three cases:
#
#   one      one session cookie, RATE_LIMIT=off (the benchmark's case)
#   many     N cookies in rotation, RATE_LIMIT=on (a limit never reached)
#   junk     random cookies that name no session (401s), RATE_LIMIT=on
#
# For each it prints req/s, p50, and the CPU µs per request of the server
# and of PostgreSQL (all its processes), read from /proc, and then the
# ratios of "many" and "junk" to "one".
#
#   scripts/traffic.sh
#   N=5000 D=20 scripts/traffic.sh
set -eu
cd "$(dirname "$0")/.."
N=${N:-1000}
D=${D:-10}
C=${C:-16}
: "${PGURL:=postgres://$(id -un)@127.0.0.1:5432/postgres?sslmode=disable}"
work=$(mktemp -d)
db=traffic_$$
pid=""
cleanup() {
	[ -z "$pid" ] || kill "$pid" 2>/dev/null || true
	psql "$PGURL" -qc "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT INT TERM
go build -o "$work/accountd" .
psql "$PGURL" -qc "CREATE DATABASE $db" >/dev/null
dburl=$(printf '%s' "$PGURL" | sed "s#/postgres?#/$db?#")
port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
base=http://127.0.0.1:$port

start() { # start RATE_LIMIT
	DATABASE_URL=$dburl LISTEN_ADDR=127.0.0.1:$port APP_URL=$base RATE_LIMIT=$1 RATE_LIMIT_CLIENT=1000000000/1m \
		LOG_LEVEL=warn GOMAXPROCS=1 "$work/accountd" serve >"$work/server.log" 2>&1 &
	pid=$!
	for _ in $(seq 100); do curl -fs "$base/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
}
stop() { kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""; }

start off
curl -fs -o /dev/null -H 'Content-Type: application/json' \
	-d '{"username":"traffic","email":"traffic@example.com","name_first":"T","name_last":"R","password":"correct horse"}' \
	"$base/api/auth/register"
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
cat >"$work/rotate.lua" <<'LUA'
local tokens = {}
for line in io.lines(os.getenv("TOKENS")) do tokens[#tokens + 1] = line end
local i = 0
request = function()
  i = i % #tokens + 1
  return wrk.format("GET", "/api/client/account", {["Cookie"] = "calagopus_session=" .. tokens[i]})
end
LUA

ticks() { # CPU ticks of the server, of PostgreSQL
	awk '{print $14 + $15}' "/proc/$pid/stat"
	for p in $(pgrep -x postgres 2>/dev/null || pgrep postgres); do
		awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || true
	done | awk '{s += $1} END {print s}'
}

run() { # run NAME TOKENFILE
	TOKENS=$2 wrk -t1 -c"$C" -d2s -s "$work/rotate.lua" "$base" >/dev/null
	set -- "$1" "$2" $(ticks)
	TOKENS=$2 wrk -t1 -c"$C" -d"${D}s" --latency -s "$work/rotate.lua" "$base" >"$work/$1.txt"
	set -- "$@" $(ticks)
	hz=$(getconf CLK_TCK)
	python3 - "$work/$1.txt" "$1" "$3" "$4" "$5" "$6" "$hz" <<'PY'
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

{
	run one "$work/one.txt"
	stop
	start on
	run many "$work/valid.txt"
	run junk "$work/junk.txt"
} >"$work/results"
python3 - "$work/results" "$N" <<'PY'
import sys
rows = {l.split()[0]: l.split()[1:] for l in open(sys.argv[1])}
n = sys.argv[2]
print("| case | req/s | p50 | server CPU µs/req | PostgreSQL CPU µs/req | non-2xx |")
print("|---|---|---|---|---|---|")
names = {"one": "one cookie, RATE_LIMIT=off", "many": f"{n} cookies, RATE_LIMIT=on", "junk": f"{n} junk cookies, RATE_LIMIT=on"}
for k in ("one", "many", "junk"):
    r = rows[k]
    print(f"| {names[k]} | {r[0]} | {r[1]} | {r[2]} | {r[3]} | {r[4]} |")
one = rows["one"]
for k in ("many", "junk"):
    r = rows[k]
    print(f"{k}/one: server CPU {float(r[2]) / float(one[2]):.2f}, PostgreSQL CPU {float(r[3]) / float(one[3]):.2f}")
PY
