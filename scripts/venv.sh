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
# --no-compile: byte-compiling the 2.6 GB of packages at install took 32 of pip's 61 s; step 3
# compiles what a run imports (scripts/warm.py's bytecode step).
flags=(-q --no-compile)
if [ -d /opt/wheels ]; then flags+=(--find-links /opt/wheels); fi

test -x "$VENV/bin/python" || "$PYTHON" -m venv "$VENV"
"$PIP" install -q --upgrade pip
# 1. what the numba warm-up imports, at the pinned versions
"$PIP" install "${flags[@]}" -c requirements.txt librosa Django django-environ
# 2. the kernels compile while the rest installs
log="$VENV/warm-numba.log"
"$VENV/bin/python" scripts/warm.py --skip whisper --skip prototypes --skip onnx --skip bytecode >"$log" 2>&1 &
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
# 3. the whisper join, the learning prototypes, the video analysers' ONNX files and the bytecode of what a run imports (they need
# the full install; scripts/warm.py says why the bytecode is written here and not left to Python)
"$VENV/bin/python" scripts/warm.py "${skip[@]}" || echo "scripts/warm.py failed: the first job will do that work instead"
