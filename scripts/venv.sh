#!/usr/bin/env bash
# `make venv`: .venv with the pinned packages, then the caches a first job would otherwise fill
# (scripts/warm.py). librosa's numba kernels take ~20 s of one core to compile; they only need
# librosa and Django's settings, so they are installed first and compiled beside the rest of the
# install (torch & co., mostly unpacking on the other core) instead of after it.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
PIP="$VENV/bin/pip"
# --no-compile: pip byte-compiles one file at a time (32 of its 61 s); step 3 compiles the
# packages and our code on both cores instead, beside the last warm-up.
flags=(-q --no-compile)
if [ -d /opt/wheels ]; then flags+=(--find-links /opt/wheels); fi

test -x "$VENV/bin/python" || "$PYTHON" -m venv "$VENV"
"$PIP" install -q --upgrade pip
# 1. what the numba warm-up imports, at the pinned versions
"$PIP" install "${flags[@]}" -c requirements.txt librosa Django django-environ
# 2. the kernels compile while the rest installs
log="$VENV/warm-numba.log"
"$VENV/bin/python" scripts/warm.py --skip whisper --skip prototypes >"$log" 2>&1 &
warm=$!
trap 'kill "$warm" 2>/dev/null || true' EXIT
"$PIP" install "${flags[@]}" -r requirements.txt -r requirements-dev.txt
"$PIP" install "${flags[@]}" --no-deps -r requirements-nodeps.txt
skip=(--skip numba)
if ! wait "$warm"; then
	skip=()  # e.g. a new import the early install lacked: compile now, with everything installed
	echo "warm: the numba warm-up beside the install failed (its log follows); it runs again below"
fi
trap - EXIT
cat "$log"
# 3. the bytecode of every package and of our code, beside the whisper join and the learning
# prototypes (they need the full install). Not left to the first import: where
# PYTHONDONTWRITEBYTECODE is set (this project's machines, the Dockerfile) Python never caches it,
# and every process compiled what it imported from source -- Django, torch, cv2, librosa and
# our apps: 6.5 s instead of 3.1 s of CPU at each start of the clip command, a worker, the
# track's analysis child or a test's subprocess.  Py2-only files in some packages fail to compile:
# ignored (nothing imports them).
"$VENV/bin/python" -m compileall -q -j 0 "$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')" \
	fala_clip music video rendering suggestions learning jobs metrics scripts bench tests manage.py >/dev/null 2>&1 &
compile=$!
trap 'kill "$compile" 2>/dev/null || true' EXIT
"$VENV/bin/python" scripts/warm.py "${skip[@]}" || echo "scripts/warm.py failed: the first job will do that work instead"
wait "$compile" || true
trap - EXIT
