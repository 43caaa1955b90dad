"""Reframing: the crop window of the output aspect inside the source, and face tracking.

``mode="crop"`` windows are centred on the weighted median (score x area) of the face boxes
sampled in a segment, else on the frame centre; long segments may follow a moving face on a
smoothed, speed-limited path (:func:`crop_track`, turned into an ffmpeg expression of ``t`` by
:func:`crop_path_expr`).

:func:`reframe_for_clip` turns the one reframe vocabulary (``ReframeMode``: ``faces`` |
``center`` | ``letterbox``) into the renderer's settings and face input, with the precedence
the product wants: the artist's explicit upload choice, else the clip model's ``reframe``
param (from the effective profile), else ``faces``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from video.analysis.contracts import DEFAULT_REFRAME, FaceSample, ReframeMode, clean_reframe


@dataclass(frozen=True)
class Reframe:
    """The reframe decision for one variant: the mode, who chose it, what the renderer gets."""

    mode: ReframeMode
    source: str  # "upload" | "clip" | "default"

    @property
    def render_mode(self) -> str:
        """The renderer's ``mode`` setting: ``letterbox`` or ``crop``."""
        return "letterbox" if self.mode == "letterbox" else "crop"

    def faces(self, faces: list[FaceSample] | None) -> list[FaceSample] | None:
        """The face samples the crop follows: only in ``faces`` mode (``center`` crops the middle)."""
        return faces if self.mode == "faces" else None


def reframe_for_clip(upload_choice: Any, clip_params: Mapping[str, Any] | None) -> Reframe:
    """Upload choice (when the artist gave one) > the clip model's param > ``faces``."""
    mode = clean_reframe(upload_choice)
    if mode is not None:
        return Reframe(mode, "upload")
    mode = clean_reframe((clip_params or {}).get("reframe"))
    if mode is not None:
        return Reframe(mode, "clip")
    return Reframe(DEFAULT_REFRAME, "default")


def _weighted_median(values: Sequence[float], weights: Sequence[float]) -> float:
    pairs = sorted(zip(values, weights, strict=True))
    total = sum(w for _, w in pairs)
    acc = 0.0
    for value, weight in pairs:
        acc += weight
        if acc >= total / 2:
            return value
    return pairs[-1][0]


def face_centre(
    faces: Iterable[FaceSample] | None, start: float, end: float, *, min_score: float = 0.5
) -> tuple[float, float, int]:
    """Weighted median of face-box centres sampled in ``[start, end]``.

    Weight = score x box area, so the dominant (closest) face wins over small
    background faces.  Returns normalised ``(cx, cy, n_boxes)``; the frame
    centre ``(0.5, 0.5, 0)`` when no box qualifies.
    """
    xs: list[float] = []
    ys: list[float] = []
    ws: list[float] = []
    for sample in faces or ():
        t = float(sample.get("time", -1))
        if not (start <= t <= end):
            continue
        for box in sample.get("boxes") or ():
            x, y, w, h = (float(v) for v in box[:4])
            score = float(box[4]) if len(box) > 4 else 1.0
            if score < min_score or w <= 0 or h <= 0:
                continue
            xs.append(min(max(x + w / 2, 0.0), 1.0))
            ys.append(min(max(y + h / 2, 0.0), 1.0))
            ws.append(score * w * h)
    if not xs:
        return 0.5, 0.5, 0
    return _weighted_median(xs, ws), _weighted_median(ys, ws), len(xs)


def _even(v: float) -> int:
    return int(v) // 2 * 2


def crop_geometry(src_w: int, src_h: int, out_w: int, out_h: int, sar: float = 1.0) -> tuple[int, int]:
    """Largest window of the output aspect inside the source (source pixels, even)."""
    target = out_w / out_h
    display_w = src_w * sar
    if display_w / src_h > target:  # source wider: full height, cut the sides
        return min(_even(src_h * target / sar), src_w // 2 * 2), src_h // 2 * 2
    return src_w // 2 * 2, min(_even(display_w / target), src_h // 2 * 2)


def crop_offset(centre: float, size: int, crop: int) -> int:
    """Window offset centred on ``centre`` (normalised), clamped, even."""
    pos = centre * size - crop / 2
    pos = min(max(pos, 0.0), float(size - crop))
    return _even(round(pos))


def crop_track(
    faces: Iterable[FaceSample] | None,
    start: float,
    duration: float,
    *,
    axis: str,
    size: int,
    crop: int,
    step: float,
    min_score: float,
    max_speed: float,
    hold: float,
) -> tuple[tuple[float, int], ...] | None:
    """Smooth crop path for a long segment, or None when a constant window will do.

    Knots every ``step`` seconds take the weighted median face centre within
    +-step; gaps hold the nearest known value; then a 3-knot median and a
    3-knot mean remove detector jitter, and the speed is limited to
    ``max_speed * size`` pixels per second.  A path that moves less than
    ``hold * size`` collapses to a constant window (returns None).
    """
    n = max(1, math.ceil(duration / step - 1e-9))
    knots = [min(i * step, duration) for i in range(n + 1)]
    raw: list[float | None] = []
    for t in knots:
        cx, cy, count = face_centre(faces, start + t - step, start + t + step, min_score=min_score)
        raw.append((cx if axis == "x" else cy) if count else None)
    if sum(c is not None for c in raw) < 2:
        return None
    filled: list[float] = []
    last = next(c for c in raw if c is not None)
    for c in raw:
        last = c if c is not None else last
        filled.append(last)
    med = [sorted(filled[max(i - 1, 0) : i + 2])[len(filled[max(i - 1, 0) : i + 2]) // 2] for i in range(len(filled))]
    mean = [sum(med[max(i - 1, 0) : i + 2]) / len(med[max(i - 1, 0) : i + 2]) for i in range(len(med))]
    offsets = [float(crop_offset(c, size, crop)) for c in mean]
    for i in range(1, len(offsets)):
        limit = max_speed * size * (knots[i] - knots[i - 1])
        offsets[i] = min(max(offsets[i], offsets[i - 1] - limit), offsets[i - 1] + limit)
    if max(offsets) - min(offsets) <= hold * size:
        return None
    return tuple((round(t, 4), _even(o)) for t, o in zip(knots, offsets, strict=True))


def crop_path_expr(path: Sequence[tuple[float, int]]) -> str:
    """Piecewise-linear offset over ``t`` as a flat sum of clipped ramps (no nesting)."""
    expr = f"{path[0][1]}"
    for (t0, x0), (t1, x1) in zip(path[:-1], path[1:], strict=True):
        if x1 != x0 and t1 > t0:
            expr += f"+{(x1 - x0) / (t1 - t0):.4f}*clip(t-{t0:.4f},0,{t1 - t0:.4f})"
    return expr


def crop_path_at(path: Sequence[tuple[float, int]], t: float) -> float:
    """Python twin of :func:`crop_path_expr` (for tests and logs)."""
    value = float(path[0][1])
    for (t0, x0), (t1, x1) in zip(path[:-1], path[1:], strict=True):
        if t1 > t0:
            value += (x1 - x0) / (t1 - t0) * min(max(t - t0, 0.0), t1 - t0)
    return value
