#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for integration tests, from Debian's package.
#
#   deploy/postgres.sh start    initdb on first use, start, create the database
#   deploy/postgres.sh stop
#   deploy/postgres.sh url      print the SQLAlchemy URL
#
# Environment: ANBU_PG_PORT (default 55432), ANBU_PG_DIR (default var/postgres).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PORT="${ANBU_PG_PORT:-55432}"
DIR="${ANBU_PG_DIR:-$ROOT/var/postgres}"
DB="anbu_test"
say() { printf 'postgres: %s\n' "$*" >&2; }

bindir() {
  local initdb
  initdb="$(compgen -G "/usr/lib/postgresql/*/bin/initdb" | sort -V | tail -n1 || true)"
  [[ -n "$initdb" ]] || { say "PostgreSQL is not installed: run deploy/install.sh test"; exit 1; }
  dirname "$initdb"
}

# PostgreSQL refuses to run as root: as root, run the cluster as the 'postgres' user.
as_owner() {
  if [[ "$(id -u)" == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start() {
  local bin
  bin="$(bindir)"
  mkdir -p "$DIR"
  if [[ "$(id -u)" == 0 ]]; then chown -R postgres: "$DIR"; fi
  if [[ ! -f "$DIR/data/PG_VERSION" ]]; then
    as_owner "$bin/initdb" -D "$DIR/data" -U anbu -A trust -E UTF8 --locale=C.UTF-8 >"$DIR/initdb.log" 2>&1 \
      || { cat "$DIR/initdb.log" >&2; exit 1; }
  fi
  if ! as_owner "$bin/pg_ctl" -D "$DIR/data" status >/dev/null 2>&1; then
    as_owner "$bin/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 60 start \
      -o "-p $PORT -k $DIR -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" >/dev/null
  fi
  if ! psql -h 127.0.0.1 -p "$PORT" -U anbu -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='$DB'" | grep -q 1; then
    psql -h 127.0.0.1 -p "$PORT" -U anbu -d postgres -qc "CREATE DATABASE $DB" >/dev/null
  fi
  say "up on 127.0.0.1:$PORT ($(url))"
}

stop() {
  [[ -f "$DIR/data/PG_VERSION" ]] || return 0
  as_owner "$(bindir)/pg_ctl" -D "$DIR/data" -m fast -w stop >/dev/null 2>&1 || true
  say "stopped"
}

url() { echo "postgresql+psycopg://anbu@127.0.0.1:$PORT/$DB"; }

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  url) url ;;
  *) echo "usage: $0 start|stop|url" >&2; exit 2 ;;
esac
