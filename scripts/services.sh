#!/usr/bin/env bash
# Start (or stop) a local PostgreSQL and Redis for development and tests.
#
#   scripts/services.sh start   -> prints `export DATABASE_URL=… REDIS_URL=…`
#   scripts/services.sh stop
#
# Data lives under ./var/services; ports are 54329 (PostgreSQL) and 63790
# (Redis), loopback only.  When run as root (CI), PostgreSQL runs as the
# `postgres` system user, since it refuses to run as root.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
SVC="$ROOT/var/services"
PGDATA="$SVC/pg"
if [ "$(id -u)" = 0 ]; then
  # PostgreSQL runs as `postgres`, which may not be able to enter the checkout
  # (e.g. a clone under /root): keep its data in a world-traversable place,
  # one folder per checkout.
  PGDATA="/var/tmp/fala-clip-pg-$(printf '%s' "$ROOT" | sha1sum | cut -c1-12)"
fi
PGPORT=${FALA_PG_PORT:-54329}
REDISPORT=${FALA_REDIS_PORT:-63790}
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)

as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start() {
  mkdir -p "$SVC"
  if [ -z "$PGBIN" ]; then echo "PostgreSQL binaries not found (apt-get install postgresql)" >&2; exit 1; fi
  if [ ! -f "$PGDATA/PG_VERSION" ]; then
    mkdir -p "$PGDATA"
    if [ "$(id -u)" = 0 ]; then chown -R postgres:postgres "$PGDATA"; chmod 700 "$PGDATA"; fi
    as_pg "$PGBIN/initdb" -D "$PGDATA" -U fala --auth=trust -E UTF8 >/dev/null
  fi
  if ! as_pg "$PGBIN/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1; then
    as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -l "$PGDATA/server.log" -w \
      -o "-p $PGPORT -k /tmp -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" start >/dev/null
  fi
  if ! "$PGBIN/psql" -h 127.0.0.1 -p "$PGPORT" -U fala -d postgres -tAc "select 1 from pg_database where datname='fala'" | grep -q 1; then
    "$PGBIN/createdb" -h 127.0.0.1 -p "$PGPORT" -U fala fala
  fi
  if ! redis-cli -p "$REDISPORT" ping >/dev/null 2>&1; then
    mkdir -p "$SVC/redis"
    redis-server --port "$REDISPORT" --bind 127.0.0.1 --daemonize yes --save "" --appendonly no \
      --dir "$SVC/redis" --logfile "$SVC/redis/redis.log" --pidfile "$SVC/redis/redis.pid"
    for _ in $(seq 50); do redis-cli -p "$REDISPORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
  fi
  echo "export DATABASE_URL=postgres://fala@127.0.0.1:$PGPORT/fala"
  echo "export REDIS_URL=redis://127.0.0.1:$REDISPORT/0"
}

stop() {
  [ -n "$PGBIN" ] && [ -f "$PGDATA/PG_VERSION" ] && as_pg "$PGBIN/pg_ctl" -D "$PGDATA" stop -m fast >/dev/null 2>&1 || true
  redis-cli -p "$REDISPORT" shutdown nosave >/dev/null 2>&1 || true
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
