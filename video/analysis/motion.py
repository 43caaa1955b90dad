"""Motion energy and visual novelty, per frame and per second.

Motion energy of a frame = mean absolute luma difference to the previous
frame on the small (160 px) frames, from :class:`FrameStats` — camera and
subject motion alike (fades count too: the picture changes). Frames at hard
cuts are replaced by their neighbours' median so that an edit is not counted
as motion. Per second the mean is mapped to 0..1 on an absolute scale,
``1 - exp(-x / MOTION_SCALE)`` (x in 0..255 grey levels), so that a calm
video stays calm instead of being stretched to the full range. Seen on Big
Buck Bunny's first 30 s: 0.02-0.2 for its calm shots, 0.4-0.6 for its
moving ones.

Visual novelty of a second = how different it looks from the preceding
``window_s`` seconds: cosine distance between its embedding and the mean of
the previous ones (embeddings from :mod:`video.analysis.embeddings`), or, as
a cheap fallback, the histogram distance to the previous seconds.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from video.analysis.framestats import FrameStats

__all__ = [
    "MOTION_SCALE",
    "motion_per_frame",
    "per_second_mean",
    "motion_per_second",
    "novelty_from_embeddings",
    "novelty_from_histograms",
]

MOTION_SCALE = 6.0


def motion_per_frame(fs: FrameStats, exclude_frames: list[int] | None = None) -> np.ndarray:
    """Motion energy per frame (0..255), with the given frames (cuts) patched."""
    m = fs.diff_y.astype(np.float32).copy()
    if m.size:
        m[0] = m[1] if m.size > 1 else 0.0
    excluded = set(exclude_frames or [])  # membership in O(1): linear in the number of cuts
    for f in exclude_frames or []:
        if 0 <= f < m.size:
            lo, hi = max(0, f - 3), min(m.size, f + 4)
            neigh = [m[j] for j in range(lo, hi) if j != f and j not in excluded]
            m[f] = float(np.median(neigh)) if neigh else 0.0
    return m


def per_second_mean(values: np.ndarray, fps: float, n_seconds: int) -> np.ndarray:
    """Mean of a per-frame series over each second [s, s+1)."""
    out = np.zeros(n_seconds, np.float64)
    if values.size == 0 or n_seconds == 0:
        return out
    sec = np.minimum((np.arange(values.size) / fps).astype(np.int64), n_seconds - 1)
    sums = np.bincount(sec, weights=values.astype(np.float64), minlength=n_seconds)
    cnt = np.bincount(sec, minlength=n_seconds)
    return np.where(cnt > 0, sums / np.maximum(cnt, 1), 0.0)


def motion_per_second(per_frame: np.ndarray, fps: float, n_seconds: int) -> list[float]:
    raw = per_second_mean(per_frame, fps, n_seconds)
    return (1.0 - np.exp(-raw / MOTION_SCALE)).tolist()


def _cosine_distance(a: np.ndarray, b: np.ndarray) -> float:
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    if na == 0 or nb == 0:
        return 0.0
    return float(1.0 - np.dot(a, b) / (na * nb))


def novelty_from_embeddings(
    vectors: np.ndarray, times: np.ndarray, n_seconds: int, *, window_s: float = 5.0
) -> list[float]:
    """Per second: cosine distance of the second's mean embedding to the previous ``window_s`` seconds.

    Scaled so 0.5 cosine distance (very different content for pooled CNN
    features) is 1.0; the first second is 0 (nothing to compare with);
    seconds without a sample inherit the previous value.
    """
    out = np.zeros(n_seconds, np.float64)
    if vectors.size == 0 or n_seconds == 0:
        return out.tolist()
    sec = np.minimum(times.astype(np.int64), n_seconds - 1)
    # One mean per second that has samples, stored compactly (at most one row per
    # embedding, not one per second of the source); rows in the order of the seconds.
    order = np.argsort(sec, kind="stable")
    order = order[sec[order] >= 0]
    secs, first = np.unique(sec[order], return_index=True)
    bounds = np.append(first, order.size)
    row = {int(s): r for r, s in enumerate(secs.tolist())}
    means = np.zeros((secs.size, vectors.shape[1]), np.float64)
    for i in range(secs.size):
        means[i] = vectors[order[bounds[i] : bounds[i + 1]]].mean(axis=0)
    w = max(1, int(math.ceil(window_s)))
    last = 0.0
    for s in range(n_seconds):
        r = row.get(s)
        if r is None:
            out[s] = last
            continue
        prev = [row[q] for q in range(max(0, s - w), s) if q in row]
        if not prev:
            out[s] = 0.0
        else:
            ref = means[prev].mean(axis=0)
            out[s] = min(1.0, _cosine_distance(means[r], ref) / 0.5)
        last = out[s]
    return out.tolist()


def novelty_from_histograms(fs: FrameStats, n_seconds: int, *, window_s: float = 5.0) -> list[float]:
    """Fallback novelty from colour histograms (0..1 total variation, x2, capped)."""
    out = np.zeros(n_seconds, np.float64)
    if fs.n == 0 or n_seconds == 0:
        return out.tolist()
    sec = np.minimum((np.arange(fs.n) / fs.fps).astype(np.int64), n_seconds - 1)
    # the frames of second s are the contiguous range starts[s]:starts[s + 1] (sec never decreases)
    starts = np.searchsorted(sec, np.arange(n_seconds + 1), side="left")
    starts[-1] = fs.n
    means = np.zeros((n_seconds, fs.hist.shape[1]), np.float64)
    for s in range(n_seconds):
        if starts[s + 1] > starts[s]:
            means[s] = fs.hist[starts[s] : starts[s + 1]].mean(axis=0)
    w = max(1, int(math.ceil(window_s)))
    for s in range(1, n_seconds):
        ref = means[max(0, s - w) : s].mean(axis=0)
        out[s] = min(1.0, 2.0 * float(np.abs(means[s] - ref).sum()) / 6.0)
    return out.tolist()


def motion_info() -> dict[str, Any]:
    return {"name": "frame-diff", "version": "1", "params": {"scale": MOTION_SCALE, "size": "small luma"}}
