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
  ``FADE_MIN_TOTAL`` levels (a hard cut out of black is one step: no fade); a
  source that opens / ends on such a ramp from / to near-black (``NEAR_BLACK``)
  without a black frame has it as a fade too;
* ``dissolve`` — a gradual transition (cross-fade) the shot detector found
  (``cuts`` of kind ``gradual`` with their frame span), passed in by the
  pipeline: its frames mix two pictures.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from video.analysis.framestats import C_BINS, Y_BINS, FrameStats

__all__ = ["BLANK_PARAMS", "blank_frames", "detect_blanks"]

BLACK_LUMA = 24.0  # mean luma (0..255) at or below which a flat dark frame is black
NEAR_BLACK = 48.0  # a first/last frame this dark may be the end of a fade that never reaches black
DARK_SHARE = 0.97  # share of pixels in luma bins 0..1 (0..31) for black
UNIFORM_SHARE = 0.97  # share of pixels in one luma bin for a blank (uniform) frame
THUMB_RANGE = 14.0  # max - min of the luma thumbnail (8x8 block means) of a flat frame
FADE_STEP = 0.35  # smoothed luma change per frame that still counts as a ramp
FADE_MIN_TOTAL = 6.0  # a ramp must change mean luma by at least this much
FADE_MIN_FRAMES = 3  # a hard cut out of black is one big step, not a fade
FADE_MAX_S = 3.0  # a ramp longer than this is content (a slow sunrise), not a fade
MIN_RUN = 1  # frames

_RANK = {"dissolve": 1, "fade_out": 2, "fade_in": 3, "blank": 4, "black": 5}
_KIND = {v: k for k, v in _RANK.items()}

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
    uh, vh = fs.hist[:, Y_BINS : Y_BINS + C_BINS], fs.hist[:, Y_BINS + C_BINS :]
    flat = _thumb_luma_range(fs) <= THUMB_RANGE
    dark = yh[:, :2].sum(axis=1) >= DARK_SHARE
    black = (fs.luma <= BLACK_LUMA) & dark & flat
    # one colour: luma *and* both chroma planes in one bin (a gradient between two colours of
    # the same brightness is a picture, not a blank)
    one_colour = (
        (yh.max(axis=1) >= UNIFORM_SHARE) & (uh.max(axis=1) >= UNIFORM_SHARE) & (vh.max(axis=1) >= UNIFORM_SHARE)
    )
    return black, black | (one_colour & flat)


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
    # One label per frame (0 = picture), the strongest claim wins: black > blank > fade > dissolve.
    # Runs of equal labels are the result, so the spans never overlap.
    label = np.zeros(n, np.int8)
    runs = [(f0, f1, "black") for f0, f1 in _runs(black)] + [(f0, f1, "blank") for f0, f1 in _runs(blank & ~black)]
    for f0, f1, kind in sorted(runs):
        if f1 - f0 + 1 < MIN_RUN:
            continue
        label[f0 : f1 + 1] = _RANK[kind]
        level = float(np.median(luma[f0 : f1 + 1]))
        k_out = _ramp(luma, f0, -1, level, max_ramp)  # frames before the run darken into it
        if k_out:
            seg = label[f0 - k_out : f0]
            np.maximum(seg, _RANK["fade_out"], out=seg, where=seg < _RANK["fade_in"])
        k_in = _ramp(luma, f1, +1, level, max_ramp)  # frames after the run brighten out of it
        if k_in:
            seg = label[f1 + 1 : f1 + 1 + k_in]
            np.maximum(seg, _RANK["fade_in"], out=seg, where=seg < _RANK["fade_in"])
    # A source that opens with a fade up from (near) black or ends fading down to it without
    # a black frame: the ramp runs to the first / last frame.
    black_level = float(np.median(luma[black])) if black.any() else 16.0
    if luma[-1] <= NEAR_BLACK and not blank[-1]:
        k = _ramp(luma, n, -1, black_level, max_ramp)
        seg = label[n - k :]
        np.maximum(seg, _RANK["fade_out"], out=seg, where=seg < _RANK["fade_in"])
    if luma[0] <= NEAR_BLACK and not blank[0]:
        k = _ramp(luma, -1, +1, black_level, max_ramp)
        seg = label[:k]
        np.maximum(seg, _RANK["fade_in"], out=seg, where=seg < _RANK["fade_in"])
    for span in gradual_spans:
        a, b = max(0, int(span[0])), min(n - 1, int(span[1]))
        if b >= a:
            seg = label[a : b + 1]
            np.maximum(seg, _RANK["dissolve"], out=seg)
    items: list[tuple[int, int, str]] = []
    d = np.flatnonzero(np.diff(label)) + 1
    bounds = np.concatenate([[0], d, [n]])
    for f0, f1 in zip(bounds[:-1], bounds[1:], strict=True):
        if label[f0]:
            items.append((int(f0), int(f1) - 1, _KIND[int(label[f0])]))
    items.sort()
    return [
        {"start": round(f0 / fps, 4), "end": round((f1 + 1) / fps, 4), "kind": kind, "frames": [f0, f1]}
        for f0, f1, kind in items
    ]
