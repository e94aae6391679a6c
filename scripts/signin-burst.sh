#!/bin/sh
# Memory of a burst of sign-ins: starts the server (embedded SQLite, the
# production password hash), signs one user up, then sends N (default 50)
# password sign-ins at once (one account each) and samples the server's RSS every 10 ms. It
# prints the RSS before, the peak during the burst and the RSS once the
# burst has settled, in MiB.
#
#   scripts/signin-burst.sh            # N=50
#   N=200 HASH_CONCURRENCY=2 scripts/signin-burst.sh
set -eu
cd "$(dirname "$0")/.."
N=${N:-50}
work=$(mktemp -d)
trap 'kill $pid 2>/dev/null || true; rm -rf "$work"' EXIT INT TERM
go build -o "$work/accountd" .
port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
base=http://127.0.0.1:$port
HASH_CONCURRENCY=${HASH_CONCURRENCY:-} DATABASE_URL="sqlite:$work/data.db" LISTEN_ADDR=127.0.0.1:$port APP_URL=$base RATE_LIMIT=off LOG_LEVEL=warn \
	"$work/accountd" serve >"$work/server.log" 2>&1 &
pid=$!
for _ in $(seq 100); do curl -fs "$base/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
rss() { awk '/^VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$pid/status"; }
# One account per sign-in: parallel sign-ins of one account without a
# device cookie would meet its attempt budget (charged before each check).
i=0
while [ $i -lt "$N" ]; do
	curl -fs -o /dev/null -H 'Content-Type: application/json' \
		-d "{\"username\":\"burst$i\",\"email\":\"burst$i@example.com\",\"name_first\":\"B\",\"name_last\":\"U\",\"password\":\"correct horse\"}" \
		"$base/api/auth/register"
	i=$((i + 1))
done
sleep 2
before=$(rss)
python3 - "$pid" "$work/peak" <<'PY' &
import sys, time
pid, out = sys.argv[1], sys.argv[2]
peak = 0
end = time.time() + 60
while time.time() < end:
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmRSS"):
                peak = max(peak, int(line.split()[1]))
    except FileNotFoundError:
        break
    open(out, "w").write(str(peak))
    time.sleep(0.01)
PY
sampler=$!
i=0
logins=""
while [ $i -lt "$N" ]; do
	curl -fs -o /dev/null -H 'Content-Type: application/json' -d "{\"user\":\"burst$i\",\"password\":\"correct horse\"}" \
		"$base/api/auth/login" &
	logins="$logins $!"
	i=$((i + 1))
done
# shellcheck disable=SC2086
wait $logins
sleep 2
settled=$(rss)
kill $sampler 2>/dev/null || true
wait $sampler 2>/dev/null || true
peak=$(awk '{printf "%.1f", $1 / 1024}' "$work/peak")
echo "sign-ins=$N rss_before_mib=$before rss_peak_mib=$peak rss_settled_mib=$settled"
