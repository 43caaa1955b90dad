"""Suggestion-engine benchmark: ``suggest_clips`` on the reference workload of DESIGN §10.

A synthetic analysis of a 5-minute source (shots every 2-8 s, per-second timelines, audio
onsets every 0.3 s, impacts, face samples, 1280-d embeddings every 2 s) and of a 3-minute
track (121 BPM with a little beat jitter, 0.1 s curves, sections with a peak chorus, singing
and lyric lines), built in code (no media, no models).  Times ``suggest_clips`` with the
track (3 models) and without it (2 models).  Budget: < 2 s per call on 2 CPU cores.

Usage: ``.venv/bin/python bench/bench_suggest.py [--repeat 5] [--json out.json]``
Exit status 1 when the median of a case is over budget.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from suggestions.engine import build_timeline, suggest_clips  # noqa: E402
from tests.suggestions.engine.synthetic import synthetic_music, synthetic_video  # noqa: E402

BUDGET_S = 2.0


def workload() -> tuple[dict, dict]:
    video = synthetic_video(
        300.0,
        fps=30.0,
        seed=42,
        peaks=[(47.0, 5.0, {"motion": 0.95, "audio_energy": 0.9}), (212.0, 8.0, {"speech": 0.9})],
        impacts=[(float(t), 0.8) for t in range(7, 300, 6)],
        onset_period=0.3,
    )
    # the analyser's shapes: onsets with strengths, face samples 5 per second, real-size vectors
    video["audio_onsets"] = [{"time": t, "strength": 0.5} for t in video["audio_onsets"]]
    video["faces"] = [
        {"time": i / 5.0, "boxes": [[0.42, 0.2, 0.16, 0.3, 0.9]] if (i // 50) % 2 else []} for i in range(1500)
    ]
    video["embeddings"] = {
        "model": "efficientnet-lite0",
        "dim": 1280,
        "count": 150,
        "times": [2.0 * i for i in range(150)],
        "vectors": [[0.01 * ((i * j) % 7) for j in range(1280)] for i in range(150)],
    }
    music = synthetic_music(180.0, tempo=121.0, first_beat=0.23, jitter=0.01, seed=7, peak=(92.0, 32.0))
    return video, music


def _time(fn, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--json", type=Path, help="write the figures here")
    args = ap.parse_args()

    video, music = workload()
    cases = {
        "timeline only (video + music)": lambda: build_timeline(video, music),
        "suggest_clips without music": lambda: suggest_clips(video),
        "suggest_clips with music": lambda: suggest_clips(video, music),
    }
    figures: dict[str, dict[str, float]] = {}
    ok = True
    print(f"workload: 300 s source, 180 s track; {args.repeat} runs each; budget {BUDGET_S} s")
    for name, fn in cases.items():
        runs = _time(fn, args.repeat)
        med = statistics.median(runs)
        figures[name] = {
            "median_s": round(med, 4),
            "min_s": round(min(runs), 4),
            "max_s": round(max(runs), 4),
        }
        verdict = "" if name.startswith("timeline") else ("OK" if med < BUDGET_S else "OVER")
        ok = ok and (verdict != "OVER")
        print(f"  {name:32s} median {med:6.3f} s  min {min(runs):6.3f}  max {max(runs):6.3f}  {verdict}")
    result = suggest_clips(video, music)
    for c in result.clips:
        print(
            f"  #{c['rank']} {c['template']:12s} start {c['start']:7.2f}  "
            f"{len(c['edl']):2d} segment(s)  {c['duration']:5.2f} s  score {c['score']:.3f}"
        )
    if args.json:
        args.json.write_text(json.dumps({"budget_s": BUDGET_S, "figures": figures}, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
