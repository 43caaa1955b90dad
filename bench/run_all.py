"""``make bench``: every benchmark, one after another (they share 2 cores).

``bench_length.py`` (cost vs source length: 1, 5, 20 and 60-minute sources,
~20 minutes in all, ~5 GB of generated sources) runs only when asked:
``bench/run_all.py --length`` or ``FALA_BENCH_LENGTH=1 make bench``.

``bench_soak.py`` (a real stack under concurrent API clients) runs only with ``--soak`` or
``FALA_BENCH_SOAK=1``, and then briefly (60 s, 20 clients); the issue's 10-minute, 50-client
soak is ``bench/bench_soak.py`` run by hand (docs/operations.md, "Soak").
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
SCRIPTS = [
    "bench_suggest.py",
    "bench_music.py",
    "bench_gtzan.py",
    "bench_video.py",
    "bench_render.py",
    "bench_w5.py",
    "bench_learning.py",
    "bench_metrics.py",
]
LENGTH_ENV = "FALA_BENCH_LENGTH"  # "1": also run bench_length.py, like --length
SOAK_ENV = "FALA_BENCH_SOAK"  # "1": also run a short bench_soak.py, like --soak
SOAK_SHORT = ["--duration", "60", "--clients", "20"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--length", action="store_true", help="also run bench_length.py (~20 min)")
    ap.add_argument("--soak", action="store_true", help="also run a short bench_soak.py (60 s, 20 clients)")
    args = ap.parse_args()
    scripts: list[tuple[str, list[str]]] = [(name, []) for name in SCRIPTS]
    if args.length or os.environ.get(LENGTH_ENV) == "1":
        scripts.append(("bench_length.py", []))
    if args.soak or os.environ.get(SOAK_ENV) == "1":
        scripts.append(("bench_soak.py", SOAK_SHORT))
    failed = []
    for name, extra in scripts:
        print(f"\n===== {name} {' '.join(extra)} =====", flush=True)
        rc = subprocess.run([sys.executable, str(BENCH / name), *extra], cwd=BENCH.parent).returncode
        if rc != 0:
            failed.append(f"{name} (exit {rc})")
    print("\nover budget or failed: " + (", ".join(failed) if failed else "none"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
