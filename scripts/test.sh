#!/usr/bin/env bash
# The whole check: lint, types, then the test suite against real PostgreSQL and
# Redis (started locally unless DATABASE_URL / REDIS_URL are given).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${DATABASE_URL:-}" ] || [ -z "${REDIS_URL:-}" ]; then
  services=$(scripts/services.sh start)
  [ -n "${DATABASE_URL:-}" ] && services=$(echo "$services" | grep -v DATABASE_URL)
  [ -n "${REDIS_URL:-}" ] && services=$(echo "$services" | grep -v REDIS_URL)
  eval "$services"
fi
export DJANGO_SETTINGS_MODULE=fala_clip.settings.test
# our code's bytecode, where it changed since `make venv` (scripts/venv.sh says why; ~0.5 s)
.venv/bin/python -m compileall -q fala_clip music video rendering suggestions learning jobs metrics tests manage.py >/dev/null || true
echo "== ruff ($(date +%T))"; .venv/bin/ruff check . && .venv/bin/ruff format --check .
echo "== layers ($(date +%T))"; .venv/bin/lint-imports --no-cache
echo "== mypy ($(date +%T))"; .venv/bin/mypy
echo "== migrations ($(date +%T))"; .venv/bin/python manage.py makemigrations --check --dry-run >/dev/null
echo "== pytest ($(date +%T))"; .venv/bin/python -m pytest -p no:cacheprovider --durations=15 "$@"
