#!/usr/bin/env bash
# Run the web app, exactly one heavy worker, a default worker and the
# scheduler in the foreground; Ctrl-C stops them all.
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
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait' EXIT INT TERM
$PY manage.py worker heavy & pids+=($!)
$PY manage.py worker default & pids+=($!)
$PY manage.py scheduler & pids+=($!)
.venv/bin/gunicorn fala_clip.wsgi -c fala_clip/gunicorn_conf.py --bind "${BIND:-127.0.0.1:8000}" --workers "${WEB_WORKERS:-2}" --timeout 300 & pids+=($!)
echo "fala-clip on http://${BIND:-127.0.0.1:8000}  (API docs: /api/docs/ and /api/redoc/, admin: /admin/; DEBUG=$DEBUG)"
wait -n
