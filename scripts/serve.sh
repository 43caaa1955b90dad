#!/usr/bin/env bash
# Run the web app, exactly one heavy worker, a default worker and the
# scheduler in the foreground, restarting any that exits; Ctrl-C stops them all.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${DATABASE_URL:-}" ] || [ -z "${REDIS_URL:-}" ]; then
  services=$(scripts/services.sh start)
  [ -n "${DATABASE_URL:-}" ] && services=$(echo "$services" | grep -v DATABASE_URL)
  [ -n "${REDIS_URL:-}" ] && services=$(echo "$services" | grep -v REDIS_URL)
  eval "$services"
fi
# DEBUG stays off unless asked (`DEBUG=true make serve`): with it on, error pages
# list every URL pattern and, on a 500, the settings.
export DEBUG=${DEBUG:-false}
# One metrics directory for every process of this host (gunicorn workers, RQ workers and
# their work-horses): /metrics sums them.  Wiped here, before any process starts, so
# values of a previous run never mix in; see docs/operations.md "Metrics".
export PROMETHEUS_MULTIPROC_DIR=${PROMETHEUS_MULTIPROC_DIR:-$PWD/var/prometheus-multiproc}
rm -rf "$PROMETHEUS_MULTIPROC_DIR" && mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
PY=.venv/bin/python
$PY manage.py migrate --noinput
# Hashed, compressed static files into STATIC_ROOT (default var/static), served
# by WhiteNoise from gunicorn: the admin's CSS and the API docs' own assets.
$PY manage.py collectstatic --noinput -v 0
# Supervision: each process runs in its own restart loop.  A process that exits (a crash, an
# OOM kill, the heavy worker refused because the host's slot is still held) is started again
# after a backoff (1 s, doubling up to SERVE_RESTART_MAX_S = 30 s; back to 1 s once it ran
# SERVE_RESTART_RESET_S = 60 s), with a log line; the others keep running.  Ctrl-C / SIGTERM
# stops them all: each loop sends its process SIGTERM and waits for it (an RQ worker finishes
# its job first: a second Ctrl-C stops it at once).  See docs/operations.md "Supervision".
max_backoff=${SERVE_RESTART_MAX_S:-30}
reset_after=${SERVE_RESTART_RESET_S:-60}
log() { echo "serve.sh: $(date -u +%FT%TZ) $*" >&2; }
supervise() {
  local name=$1; shift
  local child=0 backoff=1 started rc
  trap 'trap - TERM INT; [ "$child" -gt 0 ] && kill -TERM "$child" 2>/dev/null; wait "$child" 2>/dev/null; exit 0' TERM INT
  while true; do
    started=$SECONDS
    "$@" & child=$!
    rc=0; wait "$child" || rc=$?
    child=0
    if [ $((SECONDS - started)) -ge "$reset_after" ]; then backoff=1; fi
    log "$name exited with status $rc; restarting in ${backoff} s"
    sleep "$backoff" & child=$!
    wait "$child" || true
    backoff=$((backoff * 2 > max_backoff ? max_backoff : backoff * 2))
  done
}
pids=()
stop_all() {
  trap - EXIT INT TERM
  log "stopping"
  kill -TERM "${pids[@]}" 2>/dev/null || true
  wait || true
}
trap stop_all EXIT INT TERM
supervise "heavy worker" $PY manage.py worker heavy & pids+=($!)
supervise "default worker" $PY manage.py worker default & pids+=($!)
supervise scheduler $PY manage.py scheduler & pids+=($!)
supervise web .venv/bin/gunicorn fala_clip.wsgi -c fala_clip/gunicorn_conf.py --bind "${BIND:-127.0.0.1:8000}" --workers "${WEB_WORKERS:-2}" --timeout 300 & pids+=($!)
echo "fala-clip on http://${BIND:-127.0.0.1:8000}  (API docs: /api/docs/ and /api/redoc/, admin: /admin/; DEBUG=$DEBUG)"
wait
