"""Render benchmark for the reference workload of DESIGN.md section 10.

Generates (once, cached under /tmp/fala-bench/) a 5-minute 1080p30 H.264
source at 8 Mb/s with audio and a 3-minute music file, renders three ~30 s
variants at 1080x1920 with preset veryfast / CRF 20 (a highlight window, an
8-segment montage across the source, a montage with music) through the full
engine pipeline (loudness pass, encode, verify), and compares each with a
bare encode of the same length with the same settings:

    ffmpeg -ss X -t 30 -i SRC -vf crop=...,scale=1080:1920 -c:v libx264 -preset veryfast -crf 20 -c:a aac ...

A fourth row renders the montage with ``seek="trim"`` (one input, trim
filters) to show why the engine seeks per segment instead.

Usage:  .venv/bin/python bench/bench_render.py [--no-trim] [--dir /tmp/fala-bench]
        .venv/bin/python bench/bench_render.py --captions [--repeats 2] [--seconds 30]

``--captions`` instead renders the 30-s highlight at 1080x1920 with word-synced captions off and
on, alternately (``--repeats`` pairs), with a dense synthetic transcript (2.5 words/s over the
whole clip, so a caption is on screen in every frame: the worst case), and reports wall and CPU
time per variant, the caption build time and the overhead (the issue's budget: <= 15 %).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import w5_source, w5_track  # noqa: E402
from rendering.engine import render_variant  # noqa: E402
from rendering.engine.graph import crop_geometry  # noqa: E402

SRC_SECONDS = 300
MUSIC_SECONDS = 180
SETTINGS = {"preset": "veryfast", "crf": 20}


def child_cpu() -> float:
    """CPU seconds (user + sys) of all waited-for child processes so far."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def sh(cmd: list[str]) -> float:
    t = time.monotonic()
    proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{proc.stderr[-2000:]}")
    return time.monotonic() - t


def ensure_media(root: Path) -> tuple[Path, Path]:
    """The shared W5 source and track (``bench/common.py``); ``root`` is kept for the CLI."""
    return w5_source(SRC_SECONDS), w5_track()


def clip_from(cuts: list[tuple[float, float]], **extra) -> dict:
    edl, pos = [], 0.0
    for a, b in cuts:
        edl.append({"src_in": a, "src_out": b, "position": pos, "duration": b - a})
        pos += b - a
    return {"template": extra.pop("template", "bench"), "edl": edl, **extra}


def bare_encode(src: Path, start: float, seconds: float, out: Path) -> float:
    cw, ch = crop_geometry(1920, 1080, 1080, 1920)
    return sh(
        [
            "ffmpeg",
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-ss",
            f"{start}",
            "-t",
            f"{seconds}",
            "-i",
            str(src),
            "-vf",
            f"crop={cw}:{ch},scale=1080:1920",
            "-c:v",
            "libx264",
            "-preset",
            str(SETTINGS["preset"]),
            "-crf",
            str(SETTINGS["crf"]),
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-b:a",
            "192k",
            "-ar",
            "48000",
            "-movflags",
            "+faststart",
            str(out),
        ]
    )


def dense_words(start: float, seconds: float, rate: float = 2.5) -> list[tuple[float, float, str]]:
    """Synthetic speech: ``rate`` words a second of 2-11 letters, a short pause every 8 words."""
    import random

    rnd = random.Random(13)
    vocab = ["a", "festa", "musica", "verão", "noite", "dançar", "cidade", "amanhã", "coração", "sempre", "juntos"]
    out, t, i = [], start, 0
    while t < start + seconds - 0.3:
        dur = 0.7 / rate + rnd.random() * 0.5 / rate
        out.append((round(t, 3), round(t + dur, 3), rnd.choice(vocab) + ("." if i % 8 == 7 else "")))
        t += 1.0 / rate + (0.7 if i % 8 == 7 else 0.0)
        i += 1
    return out


def captions_compare(src: Path, out_dir: Path, repeats: int, seconds: float) -> None:
    """Render time of one 1080x1920 highlight variant with captions off vs on."""
    import statistics

    from rendering.engine import plan_render
    from rendering.engine.captions import build_captions, write_captions

    meta = {"fps": 30, "width": 1920, "height": 1080, "has_audio": True, "duration": float(SRC_SECONDS)}
    clip = clip_from([(60.0, 60.0 + seconds)], template="highlight")
    st = {**SETTINGS, "width": 1080, "height": 1920}
    print(f"cpu count {os.cpu_count()}, load avg {os.getloadavg()[0]:.2f} (machine shared: timings are noisy)")
    t0 = time.perf_counter()
    plan = plan_render(clip, meta, st)
    track = build_captions(dense_words(60.0, seconds), plan, clock="source", source="speech")
    paths = write_captions(track, out_dir, "bench-captions")
    build_s = time.perf_counter() - t0
    print(f"captions: {len(track.words)} words, {len(track.pages)} pages, built + written in {build_s * 1000:.0f} ms")
    res: dict[str, list[tuple[float, float]]] = {"off": [], "on": []}
    for k in range(repeats):
        for mode in ("off", "on") if k % 2 == 0 else ("on", "off"):
            cap = {"ass": paths["ass"], "fontsdir": paths["fontsdir"]} if mode == "on" else None
            cpu0 = child_cpu()
            r = render_variant(str(src), clip, str(out_dir / f"cap_{mode}.mp4"), meta=meta, settings=st, captions=cap)
            res[mode].append((r.timings["total"], child_cpu() - cpu0))
            print(f"  captions {mode}: total {r.timings['total']:.2f}s, cpu {res[mode][-1][1]:.2f}s", flush=True)
    med = {m: (statistics.median(x[0] for x in v), statistics.median(x[1] for x in v)) for m, v in res.items()}
    for m in ("off", "on"):
        print(f"captions {m:<3}: wall median {med[m][0]:.2f}s  cpu median {med[m][1]:.2f}s  (n={len(res[m])})")
    wall = 100 * (med["on"][0] / med["off"][0] - 1)
    cpu = 100 * (med["on"][1] / med["off"][1] - 1)
    print(f"overhead: wall {wall:+.1f} %, cpu {cpu:+.1f} % (+ {build_s * 1000:.0f} ms to build the captions)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", default="/tmp/fala-bench")
    ap.add_argument("--no-trim", action="store_true", help="skip the seek=trim comparison row")
    ap.add_argument("--captions", action="store_true", help="only compare a variant with captions off vs on")
    ap.add_argument("--repeats", type=int, default=2, help="--captions: off/on pairs")
    ap.add_argument("--seconds", type=float, default=30.0, help="--captions: variant length")
    args = ap.parse_args()
    root = Path(args.dir)
    src, music = ensure_media(root)
    if args.captions:
        (root / "out").mkdir(parents=True, exist_ok=True)
        captions_compare(src, root / "out", args.repeats, args.seconds)
        return
    out_dir = root / "out"
    out_dir.mkdir(exist_ok=True)
    meta = {"fps": 30, "width": 1920, "height": 1080, "has_audio": True, "duration": float(SRC_SECONDS)}

    montage = [(s, s + 3.75) for s in (12.0, 47.5, 83.0, 121.0, 158.5, 199.0, 236.0, 281.0)]
    music_cuts = [(s, s + 5.0) for s in (30.0, 95.0, 140.0, 175.0, 220.0, 262.0)]
    variants: list[tuple[str, dict, Path | None, dict]] = [
        ("highlight 1x30s", clip_from([(60.0, 90.0)], template="highlight"), None, {}),
        ("montage 8 cuts", clip_from(montage, template="beat_montage"), None, {}),
        ("music 6 cuts", clip_from(music_cuts, template="hook", music_offset=45.0, music_duration=30.0), music, {}),
    ]
    if not args.no_trim:
        variants.append(("montage seek=trim", clip_from(montage, template="beat_montage"), None, {"seek": "trim"}))

    print(f"cpu count {os.cpu_count()}, load avg {os.getloadavg()[0]:.2f} (machine shared: timings are noisy)")
    rows = []
    for name, clip, mus, extra in variants:
        out = out_dir / (name.split()[0] + ("_trim" if extra else "") + ".mp4")
        cpu0 = child_cpu()
        res = render_variant(
            str(src), clip, str(out), meta=meta, music=str(mus) if mus else None, settings={**SETTINGS, **extra}
        )
        start = clip["edl"][0]["src_in"] if len(clip["edl"]) == 1 else 60.0
        cpu1 = child_cpu()
        bare = bare_encode(src, start, res.duration, out_dir / "bare.mp4")
        cpu2 = child_cpu()
        rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        v = res.verify or {}
        rows.append(
            (
                name,
                len(clip["edl"]),
                res.duration,
                res.timings.get("loudness", 0.0),
                res.timings["encode"],
                res.timings.get("verify", 0.0),
                res.timings["total"],
                bare,
                res.timings["total"] / bare,
                v.get("av_offset_s"),
                v.get("loudness"),
                rss,
                cpu1 - cpu0,
                cpu2 - cpu1,
            )
        )
        print(f"  {name}: total {res.timings['total']:.1f}s, bare {bare:.1f}s", flush=True)

    head = (
        "variant",
        "segs",
        "dur s",
        "loud s",
        "encode s",
        "verify s",
        "total s",
        "bare s",
        "ratio",
        "av_off s",
        "LUFS",
        "max RSS MiB",
        "cpu s",
        "bare cpu s",
        "cpu ratio",
    )
    fmt = "{:<18} {:>4} {:>6} {:>7} {:>8} {:>8} {:>7} {:>6} {:>6} {:>8} {:>6} {:>11} {:>6} {:>10} {:>9}"
    print()
    print(fmt.format(*head))
    for r in rows:
        print(
            fmt.format(
                r[0],
                r[1],
                f"{r[2]:.2f}",
                f"{r[3]:.2f}",
                f"{r[4]:.2f}",
                f"{r[5]:.2f}",
                f"{r[6]:.2f}",
                f"{r[7]:.2f}",
                f"{r[8]:.2f}",
                r[9],
                r[10],
                f"{r[11]:.0f}",
                f"{r[12]:.1f}",
                f"{r[13]:.1f}",
                f"{r[12] / r[13]:.2f}",
            )
        )
    print(
        "\nwall times (s) compete with other work on this shared machine; 'cpu s' is user+sys of the ffmpeg/ffprobe"
        "\nchildren (render: loudness pass + encode + verify), the steadier comparison. max RSS is the largest"
        "\nchild so far, cumulative down the table."
    )


if __name__ == "__main__":
    main()
