"""Framing benchmark: how well each reframe mode keeps the important content, on generated scenes
with known content (``tests/framing_media.py``), for 9:16, 1:1 and 4:5; and what the saliency
and tracked-face steps cost per analysis sample.

The reel (six 4-s scenes, hard cuts) is analysed by the real pipeline (decode, faces, saliency),
then each scene's middle 3.6 s is planned as one segment.  Per output frame the window (the plan's
crop path; the whole frame for a fit segment) is compared with where the content truly is:

* ``inside``: share of frames whose every important box is >= 90 % inside the window
  (moving / off-centre / face: the subject; banner: the text; edges: both figures);
* ``layout``: crop or fit as chosen;
* ``jitter``: mean |second difference| of the window offset per output frame (px at 640 px);
* ``early``: frames where the window moved before the subject appeared (the ``late`` scene).

Before = the modes the previous code offered: ``center`` (no face) and ``faces`` (faces only,
the centre without one).  After = ``auto``.

Usage: ``.venv/bin/python bench/bench_framing.py``  (about 30 s)
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rendering.engine.edl import plan_render  # noqa: E402
from rendering.engine.reframe import crop_path_at  # noqa: E402
from tests.framing_media import SCENES, write_reel  # noqa: E402
from video.analysis.pipeline import analyze_video  # noqa: E402

SCENE_S = 4.0
ASPECTS = {"9:16": (1080, 1920), "1:1": (1080, 1080), "4:5": (1080, 1350)}


def measure(plan, scenes, scene_index: int) -> dict:
    seg = plan.segments[0]
    fps = float(plan.fps)
    inside, offs, early = [], [], 0
    first_offset = None
    seen = False
    for i in range(seg.frames):
        t_rel = i / fps
        t = seg.src_in + t_rel - scene_index * SCENE_S
        if seg.layout == "fit":
            x0, x1 = 0.0, float(plan.source_width)
        else:
            x0 = crop_path_at(seg.crop_path, t_rel) if seg.crop_path else float(seg.crop_x)
            x1 = x0 + plan.crop_w
        offs.append(x0)
        boxes = scenes[scene_index].boxes(t)
        if first_offset is None:
            first_offset = x0
        if boxes:
            seen = True
            inside.append(all(max(0.0, min(b[2], x1) - max(b[0], x0)) / (b[2] - b[0]) >= 0.9 for b in boxes))
        elif not seen and abs(x0 - first_offset) > 0.5:
            early += 1
    jitter = float(np.abs(np.diff(offs, 2)).mean()) if len(offs) > 2 else 0.0
    return {
        "layout": seg.layout,
        "inside": sum(inside) / len(inside) if inside else float("nan"),
        "jitter": jitter,
        "early": early,
    }


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        path, scenes = write_reel(Path(tmp) / "reel.mp4", SCENES, SCENE_S)
        t0 = time.perf_counter()
        analysis = analyze_video(path, with_embeddings=False, with_transcript=False)
        wall = time.perf_counter() - t0
    m = analysis["meta"]
    meta = {"fps": m["fps"], "width": m["width"], "height": m["height"], "duration": m["duration"], "has_audio": True}
    n_samples = len(analysis["saliency"]["samples"])
    tm = analysis["timings"]
    print(f"reel: {len(SCENES)} scenes x {SCENE_S:.0f} s, 640x360; analysis {wall:.1f} s, {n_samples} samples")
    print(
        f"  faces step {tm['faces'] * 1000 / n_samples:.1f} ms/sample, saliency step "
        f"{tm['saliency'] * 1000 / n_samples:.1f} ms/sample (W5, 600 samples: "
        f"{tm['saliency'] * 600 / n_samples:.2f} s saliency)"
    )
    for aspect, (w, h) in ASPECTS.items():
        print(f"\n{aspect}  (inside = share of frames with the content >= 90 % in the window)")
        print(f"  {'scene':<10} {'center':>16} {'faces':>16} {'auto':>22}  auto jitter px/frame^2  early frames")
        for k, kind in enumerate(SCENES):
            clip = {"edl": [{"src_in": k * SCENE_S + 0.2, "src_out": k * SCENE_S + 3.8}]}
            row = {}
            for mode in ("center", "faces", "auto"):
                plan = plan_render(
                    clip,
                    meta,
                    {"width": w, "height": h, "mode": mode},
                    faces=analysis["faces"],
                    saliency=analysis["saliency"],
                )
                row[mode] = measure(plan, scenes, k)
            a = row["auto"]
            print(
                f"  {kind:<10} {row['center']['inside']:>9.0%} ({row['center']['layout']})"
                f" {row['faces']['inside']:>9.0%} ({row['faces']['layout']})"
                f" {a['inside']:>15.0%} ({a['layout']})  {a['jitter']:>10.2f}  {a['early']:>12d}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
