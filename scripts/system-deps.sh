#!/usr/bin/env bash
# Install the system packages fala-clip needs, only when they are missing:
# ffmpeg/ffprobe, the captions' font, espeak-ng (the demo sample's spoken line),
# PostgreSQL (server binaries), Redis; with --test also Debian's
# chromium + chromium-driver for the browser test (tests/e2e/test_browser.py) and
# prometheus (promtool + the server) for the alert-rule tests (tests/metrics/).
# Needs root (or sudo).
set -euo pipefail
need=()
if [ "${1:-}" = "--test" ]; then
  [ -x /usr/bin/chromium ] || need+=(chromium)
  [ -x /usr/bin/chromedriver ] || need+=(chromium-driver)
  # Debian's prometheus ships promtool and the server.  Its postinst asks invoke-rc.d to
  # start a service: Debian container images refuse that (policy-rc.d exits 101) and the
  # install still succeeds; the tests start their own server on a free port anyway.
  { command -v promtool >/dev/null && [ -x /usr/bin/prometheus ]; } || need+=(prometheus)
fi
# espeak-ng: the spoken Portuguese line of `make demo`'s sample (captions, cuts in the pauses);
# the tests use it too (German lyrics, English speech at known times: tests/speech_factory.py)
command -v espeak-ng >/dev/null || need+=(espeak-ng)
command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null || need+=(ffmpeg)
# DejaVu Sans Bold: the burned-in captions' font (rendering/engine/captions.py)
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf ] || need+=(fonts-dejavu-core)
if [ -z "${DATABASE_URL:-}" ]; then
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
  command -v psql >/dev/null || need+=(postgresql-client)
fi
if [ -z "${REDIS_URL:-}" ]; then
  command -v redis-server >/dev/null || need+=(redis-server)
fi
command -v redis-cli >/dev/null || need+=(redis-tools)
[ ${#need[@]} -eq 0 ] && exit 0
echo "installing system packages: ${need[*]}"
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
