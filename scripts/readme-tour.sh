#!/usr/bin/env bash
# Takes the README's short tour literally, twice, as its text says to: the
# server on its default database (data/panel.db, relative to where it
# runs), every shell block of "A short tour" run in order, then the server
# stopped, `rm -rf data`, started again and the tour run again. Every curl
# of the tour must answer 2xx (each gets -fsS), and the key it creates must
# read the activity. Only the port differs from the text: a free one
# instead of 8000.
#
#   scripts/readme-tour.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

work=$(mktemp -d)
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

scripts/build.sh "$work/accountd"
port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1]);s.close()')

# The tour's blocks, from its heading to the next section, as one script.
awk '/^## A short tour/{on=1; next} on && /^#+ /{exit} on && /^```sh$/{code=1; next} code && /^```$/{code=0; next} code{print}' \
  README.md |
  sed -e "s/127\.0\.0\.1:8000/127.0.0.1:$port/g" -e 's/^curl /curl -fsS /' >"$work/tour.sh"
grep -q 'api/auth/register' "$work/tour.sh" || { echo "no tour found in README.md" >&2; exit 1; }
grep -q 'Bearer \$KEY' "$work/tour.sh" || { echo "the tour has no API-key step" >&2; exit 1; }

start() {
  (cd "$work" && LISTEN_ADDR="127.0.0.1:$port" exec ./accountd >>server.log 2>&1) &
  server_pid=$!
  for _ in $(seq 100); do
    curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "server did not start:" >&2
  cat "$work/server.log" >&2
  exit 1
}
stop() {
  kill "$server_pid"
  wait "$server_pid" || true
  server_pid=""
}

for round in 1 2; do
  start
  echo "== tour, round $round"
  if ! (cd "$work" && bash -euo pipefail tour.sh >"tour-$round.out" 2>&1); then
    echo "the tour failed in round $round:" >&2
    cat "$work/tour-$round.out" >&2
    exit 1
  fi
  grep -q '"activities"' "$work/tour-$round.out" || { echo "the API key read no activity" >&2; cat "$work/tour-$round.out" >&2; exit 1; }
  stop
  # What the README says to do before taking the tour again.
  (cd "$work" && rm -rf data)
done
echo "the README's tour ran twice"
cd "$root"
