"""Scoring (Σ weight × normalised feature, with breakdown) and the diverse joint selection.

Score of a clip
    ``score = Σ_f w'_f · x_f`` where ``x_f`` (0..1) is feature ``f`` averaged over the clip —
    video features over the source seconds the clip's EDL uses (duration-weighted), music
    features over the track span ``[music_offset, music_offset + music_duration]`` — and ``w'`` is
    the template's effective weight normalised to sum to 1 over the features *available* for
    this clip (see ``features``).  ``breakdown[f] = w'_f · x_f``, so the breakdown sums to the
    score (up to the 1e-6 rounding of stored values) and scores of all templates share one 0..1
    scale.

Selection
    Each template offers a short list of candidates (best first).  ``select_diverse`` picks one
    per template maximising ``Σ score − OVERLAP_PENALTY · Σ_pairs overlap`` subject to the hard
    rule that every pair of source ``start`` values is at least ``gap`` apart.  ``overlap`` is
    the shared source time of the two clips' EDL segments divided by the shorter clip.  The
    search is exhaustive over the candidate lists (at most a few ten thousand combinations,
    vectorised), so it is exact and deterministic; ties go to the earlier candidate of each
    list, which is the better-scoring (then earlier-starting) one.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .contracts import ClipModelSpec, EdlSegment
from .features import MUSIC_FEATURES, VIDEO_FEATURES, Curve, FeatureTimeline

OVERLAP_PENALTY = 0.3
OVERLAP_RES_S = 0.1  # resolution of the source-coverage grid used for overlap
DECIMALS = 6  # times and scores are stored rounded to the microsecond / 1e-6


def rnd(x: float) -> float:
    """Round for storage; also turns -0.0 into 0.0 so outputs compare and serialise cleanly."""
    return round(float(x), DECIMALS) + 0.0


@dataclass
class Segment:
    """One EDL entry: source ``[src_in, src_out)`` placed at output ``position``."""

    src_in: float
    src_out: float
    position: float
    duration: float

    def as_dict(self) -> EdlSegment:
        return {
            "src_in": self.src_in,
            "src_out": self.src_out,
            "position": self.position,
            "duration": self.duration,
        }


@dataclass
class Candidate:
    """A clip model in the making (times already rounded with ``rnd``)."""

    template: str
    segments: list[Segment]
    music_offset: float | None = None
    music_duration: float | None = None
    params: dict[str, Any] = field(default_factory=dict)
    score: float = 0.0
    breakdown: dict[str, float] = field(default_factory=dict)
    values: dict[str, float] = field(default_factory=dict)

    @property
    def start(self) -> float:
        return min(s.src_in for s in self.segments)

    @property
    def end(self) -> float:
        return max(s.src_out for s in self.segments)

    @property
    def duration(self) -> float:
        return rnd(sum(s.duration for s in self.segments))

    def spans(self) -> list[tuple[float, float]]:
        return [(s.src_in, s.src_out) for s in self.segments]

    def to_model(self, rank: int) -> ClipModelSpec:
        return {
            "template": self.template,
            "rank": rank,
            "start": self.start,
            "end": self.end,
            "duration": self.duration,
            "score": self.score,
            "breakdown": dict(self.breakdown),
            "feature_values": dict(self.values),
            "edl": [s.as_dict() for s in self.segments],
            "music_offset": self.music_offset,
            "music_duration": self.music_duration,
            "params": dict(self.params),
        }


def single_segment(start: float, end: float) -> list[Segment]:
    s, e = rnd(start), rnd(end)
    return [Segment(s, e, 0.0, rnd(e - s))]


class Scorer:
    """Normalised weights of one template for one timeline, and the maths to apply them."""

    def __init__(self, tl: FeatureTimeline, weights: Mapping[str, float], use_music: bool):
        self.tl = tl
        self.use_music = bool(use_music and tl.music is not None)
        self.video_features = [f for f in VIDEO_FEATURES if f in weights and f in tl.available]
        music_avail = tl.music.available if (self.use_music and tl.music) else frozenset()
        self.music_features = [f for f in MUSIC_FEATURES if f in weights and f in music_avail]
        total = sum(max(0.0, weights[f]) for f in self.video_features + self.music_features)
        self.weights = {
            f: (max(0.0, weights[f]) / total if total > 0 else 0.0) for f in self.video_features + self.music_features
        }
        n = tl.n_seconds
        v: np.ndarray = np.zeros(n)
        for f in self.video_features:
            v = v + self.weights[f] * tl.features[f]
        self.video_curve = Curve(v)
        if self.use_music and tl.music is not None:
            m: np.ndarray = np.zeros(tl.music.features["music_energy"].size)
            for f in self.music_features:
                m = m + self.weights[f] * tl.music.features[f]
            self.music_curve: Curve | None = Curve(m)
        else:
            self.music_curve = None

    def video_mean(self, a: np.ndarray | float, b: np.ndarray | float) -> np.ndarray:
        """Weighted video part of the score for source windows ``[a, b)`` (vectorised)."""
        return self.video_curve.mean(a, b)

    def music_mean(self, offset: np.ndarray | float, length: float) -> np.ndarray:
        if self.music_curve is None:
            return np.zeros(np.shape(offset))
        o = np.asarray(offset, dtype=float)
        return self.music_curve.mean(o, o + length)

    def feature_values(
        self, spans: Sequence[tuple[float, float]], music_span: tuple[float, float] | None
    ) -> dict[str, float]:
        """{feature: mean value 0..1} over the clip, for the features this scorer uses."""
        total = sum(b - a for a, b in spans)
        out: dict[str, float] = {}
        for f in self.video_features:
            curve = self.tl.curves[f]
            covered = sum(float(curve.integral(b) - curve.integral(a)) for a, b in spans)
            out[f] = covered / total if total > 0 else 0.0
        if self.music_features and self.tl.music is not None and music_span is not None:
            o, length = music_span
            for f in self.music_features:
                out[f] = float(self.tl.music.curves[f].mean(o, o + length)) if length > 0 else 0.0
        return out

    def breakdown(
        self, spans: Sequence[tuple[float, float]], music_span: tuple[float, float] | None
    ) -> tuple[float, dict[str, float], dict[str, float]]:
        """(score, {feature: contribution}, {feature: value}) for a clip using ``spans``."""
        values = self.feature_values(spans, music_span)
        out = {f: self.weights[f] * x for f, x in values.items()}
        score = sum(out.values())
        return rnd(score), {k: rnd(v) for k, v in out.items()}, {k: rnd(v) for k, v in values.items()}


def score_with(values: Mapping[str, float], weights: Mapping[str, float]) -> float:
    """The score a clip with feature ``values`` gets under ``weights`` (normalised as the Scorer does).

    ``values`` are the clip's ``feature_values`` (the features its template scored), so
    ``score_with(clip["feature_values"], profile.weights_for(template))`` reproduces its score,
    and the same call with another profile says what that profile would have given it.
    """
    total = sum(max(0.0, float(weights.get(f, 0.0))) for f in values)
    if total <= 0:
        return 0.0
    return rnd(sum(max(0.0, float(weights.get(f, 0.0))) / total * float(x) for f, x in values.items()))


def finalize(cands: list[Candidate]) -> list[Candidate]:
    """Drop duplicate starts (keep the best) and order best first, then earlier start."""
    best: dict[float, Candidate] = {}
    for c in cands:
        cur = best.get(c.start)
        if cur is None or c.score > cur.score:
            best[c.start] = c
    return sorted(best.values(), key=lambda c: (-c.score, c.start))


def nms_starts(starts: np.ndarray, scores: np.ndarray, k: int, spacing: float) -> list[int]:
    """Indices of up to ``k`` best windows whose starts are at least ``spacing`` apart."""
    order = sorted(range(len(starts)), key=lambda i: (-round(float(scores[i]), 9), starts[i]))
    picked: list[int] = []
    for i in order:
        if all(abs(starts[i] - starts[j]) >= spacing for j in picked):
            picked.append(i)
            if len(picked) >= k:
                break
    return picked


# --------------------------------------------------------------------------- diversity


def _coverage(cands: Sequence[Candidate], n_bins: int) -> np.ndarray:
    """(len(cands), n_bins) share of each OVERLAP_RES_S bin covered by each candidate."""
    cov = np.zeros((len(cands), n_bins))
    res = OVERLAP_RES_S
    for row, c in enumerate(cands):
        for a, b in c.spans():
            i0 = max(0, int(math.floor(a / res)))
            i1 = min(n_bins, int(math.ceil(b / res)))
            if i1 <= i0:
                continue
            lo = np.arange(i0, i1) * res
            cov[row, i0:i1] += np.clip(np.minimum(b, lo + res) - np.maximum(a, lo), 0, res) / res
    return np.minimum(cov, 1.0)


def overlap_matrix(a: Sequence[Candidate], b: Sequence[Candidate], duration: float) -> np.ndarray:
    """Shared source time / shorter clip, for every pair (rows: ``a``, cols: ``b``)."""
    n_bins = max(1, int(math.ceil(duration / OVERLAP_RES_S)) + 1)
    ca, cb = _coverage(a, n_bins), _coverage(b, n_bins)
    shared = (ca @ cb.T) * OVERLAP_RES_S
    la = np.array([max(c.duration, 1e-9) for c in a])
    lb = np.array([max(c.duration, 1e-9) for c in b])
    return np.clip(shared / np.minimum(la[:, None], lb[None, :]), 0.0, 1.0)


def select_diverse(lists: Sequence[Sequence[Candidate]], gap: float, duration: float) -> list[Candidate] | None:
    """One candidate per list, starts pairwise ``>= gap`` apart, best total; None if impossible."""
    if not lists or any(len(lst) == 0 for lst in lists):
        return None
    n = len(lists)
    total = np.zeros([len(lst) for lst in lists])
    for t, lst in enumerate(lists):
        shape = [1] * n
        shape[t] = len(lst)
        total = total + np.array([c.score for c in lst]).reshape(shape)
    for t in range(n):
        for u in range(t + 1, n):
            st = np.array([c.start for c in lists[t]])
            su = np.array([c.start for c in lists[u]])
            ok = np.abs(st[:, None] - su[None, :]) >= gap  # exact: stored starts are rounded
            pen = OVERLAP_PENALTY * overlap_matrix(lists[t], lists[u], duration)
            pair = np.where(ok, -pen, -np.inf)
            shape = [1] * n
            shape[t], shape[u] = len(lists[t]), len(lists[u])
            total = total + pair.reshape(shape)
    total = np.round(total, 9)  # near-ties must not depend on BLAS summation order
    flat = int(np.argmax(total))
    if not np.isfinite(total.flat[flat]):
        return None
    idx = np.unravel_index(flat, total.shape)
    return [lists[t][int(i)] for t, i in enumerate(idx)]
