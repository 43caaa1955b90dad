"""Video analysis benchmark (DESIGN §10: video analysis <= 0.2 x source duration).

Generates (once, cached under ``$FALA_BENCH_DIR`` or /tmp/fala_bench) a
5-minute 1080p30 H.264 source with audio (testsrc2 + sine, ~8 Mb/s), then:

1. times the floor, a bare decode ``ffmpeg -i IN -f null -``;
2. runs ``analyze_video`` on it and prints each step's time;
3. prints peak RSS (this process and the largest child, e.g. ffmpeg), the
   ratio to the bare decode and to the budget (0.2 x duration = 60 s).

Usage: ``python bench/bench_video.py [--seconds 300] [--shot-detector fast] [--json out.json]``.
Runs on 2 shared cores: note the load average printed with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import w5_source  # noqa: E402


def source(seconds: int) -> Path:
    return w5_source(seconds)


def cpu_seconds() -> float:
    """CPU time (user + system) of this process and its waited-for children."""
    s = resource.getrusage(resource.RUSAGE_SELF)
    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


def bare_decode(path: Path) -> tuple[float, float]:
    """(wall, cpu) seconds of ``ffmpeg -i IN -f null -``."""
    t0, c0 = time.perf_counter(), cpu_seconds()
    cmd = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-i", str(path), "-f", "null", "-"]
    subprocess.run(cmd, check=True)
    return time.perf_counter() - t0, cpu_seconds() - c0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=300)
    ap.add_argument("--shot-detector", default="fast", choices=["fast", "transnetv2"])
    ap.add_argument("--json", help="write the figures here")
    ap.add_argument("--skip-bare", action="store_true", help="do not time the bare decode")
    ap.add_argument("--threads", type=int, default=2, help="torch threads for the embedder")
    args = ap.parse_args()

    src = source(args.seconds)
    from fala_clip.media.probe import gate_video

    meta = gate_video(src)
    duration = float(meta["duration"])
    budget = 0.2 * duration
    print(
        f"source: {src.name}  {meta['video']['width']}x{meta['video']['height']} @ {meta['video']['fps']} fps, "
        f"{duration:.1f} s, {meta['size'] / 1e6:.0f} MB; load avg {os.getloadavg()[0]:.2f}",
        flush=True,
    )

    bare, bare_cpu = (None, None) if args.skip_bare else bare_decode(src)
    if bare is not None:
        print(f"bare decode (ffmpeg -i IN -f null -): {bare:.2f} s wall, {bare_cpu:.2f} s CPU", flush=True)

    from video.analysis.pipeline import analyze_video

    cpu_marks: list[tuple[str, float]] = []

    def on_step(name: str) -> None:
        cpu_marks.append((name, cpu_seconds()))

    t0, c0 = time.perf_counter(), cpu_seconds()
    result = analyze_video(src, meta=meta, shot_detector=args.shot_detector, on_step=on_step, threads=args.threads)
    total = time.perf_counter() - t0
    total_cpu = cpu_seconds() - c0
    cpu_marks.append(("end", cpu_seconds()))
    step_cpu = {cpu_marks[i][0]: cpu_marks[i + 1][1] - cpu_marks[i][1] for i in range(len(cpu_marks) - 1)}

    self_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    child_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print("\nstep timings (s):   wall      CPU")
    for k, v in result["timings"].items():
        cpu = step_cpu.get(k, total_cpu if k == "total" else float("nan"))
        print(f"  {k:<11} {v:8.2f} {cpu:8.2f}")
    print(
        f"\nanalyze_video total: {total:.2f} s for {duration:.0f} s of video "
        f"({total / duration:.3f} x duration; budget 0.2 x = {budget:.0f} s -> {total / budget:.2f} of budget)"
    )
    if bare is not None and bare_cpu:
        print(f"ratio to bare decode: {total / bare:.2f} wall, {total_cpu / bare_cpu:.2f} CPU")
    print(
        f"peak RSS: python {self_kb / 1024:.0f} MiB, largest child {child_kb / 1024:.0f} MiB, "
        f"sum {(self_kb + child_kb) / 1024:.0f} MiB"
    )
    print(
        f"cuts: {len(result['cuts'])}, impacts: {len(result['impacts'])}, onsets: {len(result['audio_onsets'])}, "
        f"embeddings: {result['embeddings']['count']}, json size: {len(json.dumps(result)) / 1e6:.1f} MB; "
        f"load avg now {os.getloadavg()[0]:.2f}"
    )
    figures = {
        "source": src.name,
        "duration_s": duration,
        "bare_decode_s": bare,
        "total_s": round(total, 2),
        "timings": result["timings"],
        "cpu": {k: round(v, 2) for k, v in step_cpu.items()},
        "total_cpu_s": round(total_cpu, 2),
        "bare_decode_cpu_s": bare_cpu,
        "budget_s": budget,
        "ratio_to_budget": round(total / budget, 3),
        "ratio_to_bare": round(total / bare, 3) if bare else None,
        "peak_rss_mib": {"self": round(self_kb / 1024), "largest_child": round(child_kb / 1024)},
        "loadavg": os.getloadavg(),
    }
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
