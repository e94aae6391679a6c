# Sourced by the scripts that need a PostgreSQL server of their own: a
# throwaway cluster in a temporary directory, on a free port of 127.0.0.1,
# with trust authentication. It never touches another server on the
# machine, so it is safe where other tests use the system's PostgreSQL.
#
#   pg_throwaway_start      sets PG_BIN, PG_DATA, PG_LOG, PG_PORT, PG_URL
#   pg_createdb NAME        creates database NAME and prints its URL
#   pg_throwaway_stop       stops it and removes its files (call from a trap)
#   pg_as_postgres CMD...   runs CMD as the postgres user (initdb refuses root)

pg_as_postgres() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

pg_find_bin() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  if [ -z "$d" ] || [ ! -x "$d/initdb" ]; then
    echo "== installing PostgreSQL" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >&2
    apt-get install -y -q postgresql >&2
    d=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  fi
  PG_BIN=$d
}

# pg_free_port prints a TCP port nothing listens on at 127.0.0.1.
pg_free_port() {
  local port
  for _ in $(seq 1 200); do
    port=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return 0
    fi
  done
  echo "no free port found" >&2
  return 1
}

pg_throwaway_start() {
  pg_find_bin
  # The cluster's directory belongs to the postgres user when we are root.
  PG_DIR=$(pg_as_postgres mktemp -d)
  PG_DATA=$PG_DIR/data
  PG_LOG=$PG_DIR/postgres.log
  PG_PORT=$(pg_free_port)
  pg_as_postgres "$PG_BIN/initdb" -D "$PG_DATA" -U postgres -A trust -E UTF8 --no-sync >/dev/null
  # Settings live in the cluster's own file, so a plain `pg_ctl start`
  # (the outage script restarts it) comes back on the same port.
  pg_as_postgres sh -c "cat >> '$PG_DATA/postgresql.conf'" <<EOF
port = $PG_PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$PG_DIR'
max_connections = 200
fsync = off
EOF
  pg_as_postgres "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w -t 60 start >/dev/null
  PG_URL="postgres://postgres@127.0.0.1:$PG_PORT/postgres?sslmode=disable"
  export PG_BIN PG_DATA PG_LOG PG_PORT PG_URL
}

pg_createdb() {
  "$PG_BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres "$1"
  echo "postgres://postgres@127.0.0.1:$PG_PORT/$1?sslmode=disable"
}

pg_throwaway_stop() {
  if [ -n "${PG_DATA:-}" ] && [ -f "$PG_DATA/postmaster.pid" ]; then
    pg_as_postgres "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w stop >/dev/null 2>&1 || true
  fi
  if [ -n "${PG_DIR:-}" ]; then
    rm -rf "$PG_DIR"
  fi
}
