"""``make bench``: every benchmark, one after another (they share 2 cores)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
SCRIPTS = [
    "bench_suggest.py",
    "bench_music.py",
    "bench_video.py",
    "bench_render.py",
    "bench_w5.py",
    "bench_learning.py",
]


def main() -> int:
    failed = []
    for name in SCRIPTS:
        print(f"\n===== {name} =====", flush=True)
        rc = subprocess.run([sys.executable, str(BENCH / name)], cwd=BENCH.parent).returncode
        if rc != 0:
            failed.append(f"{name} (exit {rc})")
    print("\nover budget or failed: " + (", ".join(failed) if failed else "none"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
