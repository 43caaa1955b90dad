"""Black/blank frames and fades, from the per-frame statistics of the decode.

Works on :class:`~video.analysis.framestats.FrameStats` (mean luma, luma/chroma
histograms, the small thumbnail) — no frame is decoded again, memory and time
are O(frames).  A clip must neither open nor close on such a frame, so the
suggestion engine moves its boundaries out of every interval listed here.

Kinds (``[{start, end, kind, frames: [f0, f1]}]``, source seconds, ``end`` is
the end of the last frame, ``f1`` inclusive):

* ``black`` — mean luma at or below ``BLACK_LUMA`` (video-range black is 16)
  with almost the whole luma histogram in the two darkest bins (0..31) and no
  structure in the thumbnail;
* ``blank`` — a uniform frame of any other level (white, a flat colour): one
  luma bin holds almost everything and the thumbnail is flat;
* ``fade_in`` / ``fade_out`` — the ramp of mean luma from / to a black or
  blank run: the frames next to the run whose luma keeps moving away from
  (fade-in) or towards (fade-out) the run's level by at least
  ``FADE_STEP`` per frame, over at least ``FADE_MIN_FRAMES`` frames and
  ``FADE_MIN_TOTAL`` levels (a hard cut out of black is one step: no fade);
* ``dissolve`` — a gradual transition (cross-fade) the shot detector found
  (``cuts`` of kind ``gradual`` with their frame span), passed in by the
  pipeline: its frames mix two pictures.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from video.analysis.framestats import Y_BINS, FrameStats

__all__ = ["BLANK_PARAMS", "blank_frames", "detect_blanks"]

BLACK_LUMA = 24.0  # mean luma (0..255) at or below which a flat dark frame is black
DARK_SHARE = 0.97  # share of pixels in luma bins 0..1 (0..31) for black
UNIFORM_SHARE = 0.97  # share of pixels in one luma bin for a blank (uniform) frame
THUMB_RANGE = 14.0  # max - min of the luma thumbnail (8x8 block means) of a flat frame
FADE_STEP = 0.35  # smoothed luma change per frame that still counts as a ramp
FADE_MIN_TOTAL = 6.0  # a ramp must change mean luma by at least this much
FADE_MIN_FRAMES = 3  # a hard cut out of black is one big step, not a fade
FADE_MAX_S = 3.0  # a ramp longer than this is content (a slow sunrise), not a fade
MIN_RUN = 1  # frames

BLANK_PARAMS: dict[str, float] = {
    "black_luma": BLACK_LUMA,
    "dark_share": DARK_SHARE,
    "uniform_share": UNIFORM_SHARE,
    "thumb_range": THUMB_RANGE,
    "fade_step": FADE_STEP,
    "fade_min_total": FADE_MIN_TOTAL,
    "fade_min_frames": FADE_MIN_FRAMES,
    "fade_max_s": FADE_MAX_S,
}


def _thumb_luma_range(fs: FrameStats) -> np.ndarray:
    """max - min of the luma part of each thumbnail (the first third: Y, then U, then V)."""
    if fs.thumb.ndim != 2 or fs.thumb.shape[1] < 3:
        return np.zeros(fs.n, np.float32)
    k = max(1, fs.thumb.shape[1] // 3)
    out = np.empty(fs.n, np.float32)
    step = 4096
    for i in range(0, fs.n, step):  # bounded temporaries
        part = fs.thumb[i : i + step, :k]
        out[i : i + step] = part.max(axis=1).astype(np.float32) - part.min(axis=1).astype(np.float32)
    return out


def blank_frames(fs: FrameStats) -> tuple[np.ndarray, np.ndarray]:
    """Per frame: ``(black, blank)`` boolean masks (``blank`` includes black)."""
    if fs.n == 0:
        return np.zeros(0, bool), np.zeros(0, bool)
    yh = fs.hist[:, :Y_BINS]
    flat = _thumb_luma_range(fs) <= THUMB_RANGE
    dark = yh[:, :2].sum(axis=1) >= DARK_SHARE
    black = (fs.luma <= BLACK_LUMA) & dark & flat
    uniform = (yh.max(axis=1) >= UNIFORM_SHARE) & flat
    return black, black | uniform


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Inclusive ``(f0, f1)`` runs of True."""
    if mask.size == 0:
        return []
    d = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(d == 1), np.flatnonzero(d == -1) - 1
    return [(int(a), int(b)) for a, b in zip(starts, ends, strict=True)]


def _ramp(luma: np.ndarray, edge: int, direction: int, level: float, max_frames: int) -> int:
    """How many frames from ``edge`` (exclusive) in ``direction`` keep moving away from ``level``.

    Walking away from a blank run, a fade's frames get further from the run's luma level
    frame after frame; the walk stops where the change per frame drops below ``FADE_STEP``.
    Returns the number of ramp frames (0 when the ramp is too small to be a fade).
    """
    n = luma.size
    count = 0
    prev_dist = 0.0
    i = edge + direction
    while 0 <= i < n and count < max_frames:
        dist = abs(float(luma[i]) - level)
        if dist - prev_dist < FADE_STEP:
            break
        prev_dist = dist
        count += 1
        i += direction
    return count if count >= FADE_MIN_FRAMES and prev_dist >= FADE_MIN_TOTAL else 0


def detect_blanks(
    fs: FrameStats, gradual_spans: Iterable[Sequence[int]] = (), fps: float | None = None
) -> list[dict[str, Any]]:
    """Black/blank runs, fades into and out of them, and dissolves; see the module doc.

    ``gradual_spans``: ``[f0, f1]`` frame spans of gradual transitions (the shot detector's
    ``cuts[...]["span"]`` of kind ``gradual``); listed as ``dissolve`` unless a fade covers them.
    """
    fps = float(fps or fs.fps or 25.0)
    n = fs.n
    if n == 0:
        return []
    black, blank = blank_frames(fs)
    luma = fs.luma.astype(np.float64)
    max_ramp = max(2, int(round(FADE_MAX_S * fps)))
    items: list[tuple[int, int, str]] = []
    covered = np.zeros(n, bool)
    runs = [(f0, f1, "black") for f0, f1 in _runs(black)] + [(f0, f1, "blank") for f0, f1 in _runs(blank & ~black)]
    for f0, f1, kind in sorted(runs):
        if f1 - f0 + 1 < MIN_RUN:
            continue
        items.append((f0, f1, kind))
        covered[f0 : f1 + 1] = True
        level = float(np.median(luma[f0 : f1 + 1]))
        k_out = _ramp(luma, f0, -1, level, max_ramp)  # frames before the run darken into it
        if k_out:
            a = f0 - k_out
            items.append((a, f0 - 1, "fade_out"))
            covered[a:f0] = True
        k_in = _ramp(luma, f1, +1, level, max_ramp)  # frames after the run brighten out of it
        if k_in:
            b = f1 + k_in
            items.append((f1 + 1, b, "fade_in"))
            covered[f1 + 1 : b + 1] = True
    for span in gradual_spans:
        a, b = max(0, int(span[0])), min(n - 1, int(span[1]))
        if b < a or covered[a : b + 1].all():
            continue
        items.append((a, b, "dissolve"))
    items.sort()
    return [
        {"start": round(f0 / fps, 4), "end": round((f1 + 1) / fps, 4), "kind": kind, "frames": [f0, f1]}
        for f0, f1, kind in items
    ]
