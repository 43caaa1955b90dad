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
export DEBUG=${DEBUG:-true}
PY=.venv/bin/python
$PY manage.py migrate --noinput
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait' EXIT INT TERM
$PY manage.py worker heavy & pids+=($!)
$PY manage.py worker default & pids+=($!)
$PY manage.py scheduler & pids+=($!)
.venv/bin/gunicorn fala_clip.wsgi --bind "${BIND:-127.0.0.1:8000}" --workers "${WEB_WORKERS:-2}" --timeout 300 & pids+=($!)
echo "fala-clip on http://${BIND:-127.0.0.1:8000}  (API docs: /api/docs/, admin: /admin/)"
wait -n
