"""Feature timeline: one normalised, per-second view of a video analysis and a music analysis.

Everything the suggestion engine scores comes from here.  The analysers hand us their typed
results (``VideoAnalysisInput``, ``MusicAnalysisInput``: see ``contracts.py``); this module turns
them into

* per-second arrays in **source time** for the video features (second ``i`` covers ``[i, i+1)``),
* per-second arrays in **track time** for the music features,
* a beat grid (times, downbeat flags, position in bar, strength; ``beatgrid.py``) — the per-beat
  timeline,
* a few event lists the templates snap to (shot boundaries, audio onsets, speech pauses),
* the spans no clip edge may fall in: ``blanks`` (black/blank frames, fades, dissolves),
  ``talk`` (fine speech activity runs and transcript words) and the track's sung ``phrases``.

"Normalised" means a *fixed* mapping of every feature onto ``0..1`` (documented per feature in
``FEATURES``), not a per-video rescaling: a learned weight must mean the same thing on every
video, and the per-feature breakdown shown to artists must be readable ("motion 0.8" is a lot of
motion whatever else the video holds).  The only exception is the music onset/energy curves,
whose analyser units are raw (RMS, spectral flux); they are divided by the track's maximum.

A feature is *available* only when its source data is present and non-empty (and, for the
original-audio features, when the video has audio).  Unavailable features are left out of the
score entirely — they neither add nor dilute — so a silent video or an instrumental track is
not punished for what it cannot have.

Every key of the inputs may be missing and every list empty; a number that is None or NaN in
stored JSON counts as absent (``_values.py``).  Face boxes are normalised to the frame (0..1).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._values import floats, num, times
from .beatgrid import BeatGrid, build_beat_grid
from .contracts import MusicAnalysisInput, VideoAnalysisInput

FEATURES_VERSION = "1"


@dataclass(frozen=True)
class FeatureSpec:
    """What one feature means.  ``domain`` says which clock it runs on."""

    name: str
    domain: str  # "video": per source second; "music": per track second
    meaning: str
    range: tuple[float, float] = (0.0, 1.0)


def _spec(name: str, domain: str, meaning: str) -> tuple[str, FeatureSpec]:
    return name, FeatureSpec(name=name, domain=domain, meaning=meaning)


#: The features a weight may name, in a stable order.  All values lie in ``range`` (0..1).
FEATURES: dict[str, FeatureSpec] = dict(
    [
        _spec("motion", "video", "amount of movement in the frame (timeline.motion, clipped)"),
        _spec("novelty", "video", "visual novelty vs. the recent past (timeline.novelty)"),
        _spec(
            "faces",
            "video",
            "face presence (timeline.faces clipped to 0..1; the analyser writes face counts, so one face or more = 1)",
        ),
        _spec("audio_energy", "video", "loudness of the original audio (timeline.audio_energy)"),
        _spec("speech", "video", "share of the second with speech (timeline.speech)"),
        _spec(
            "impact",
            "video",
            "impact density: 1 - exp(-2 * sum of impact strengths in the second); one full-strength impact gives 0.86",
        ),
        _spec(
            "shot_change",
            "video",
            "shot-change rate: cuts per second in a centred 5 s window, 1 cut/s or more = 1",
        ),
        _spec(
            "onset_density",
            "video",
            "original-audio onsets per second in a centred 3 s window, 4/s or more = 1",
        ),
        _spec("music_energy", "music", "track energy curve, per-second mean / track maximum"),
        _spec(
            "beat_strength",
            "music",
            "mean strength of the beats in the second (onset curve at the beat / track max; "
            "without an onset curve: downbeat 1.0, other beats 0.5); 0 where there is no beat",
        ),
        _spec("singing", "music", "share of the second covered by singing activity"),
        _spec("section_peak", "music", "share of the second inside a section marked is_peak"),
        _spec("lyric_line", "music", "share of the second covered by a transcribed lyric line"),
    ]
)

VIDEO_FEATURES: tuple[str, ...] = tuple(n for n, s in FEATURES.items() if s.domain == "video")
MUSIC_FEATURES: tuple[str, ...] = tuple(n for n, s in FEATURES.items() if s.domain == "music")

# Fixed scales of the derived features (see FEATURES meanings).
IMPACT_GAIN = 2.0
SHOT_RATE_WINDOW = (-2.0, 3.0)  # seconds around the second's start -> a 5 s window
SHOT_RATE_FULL = 1.0  # cuts per second that map to 1.0
ONSET_WINDOW = (-1.0, 2.0)
ONSET_RATE_FULL = 4.0
SPEECH_ON = 0.5  # speech value above which a second is "in speech"
SPEECH_PAUSE = 0.3  # below which it is a pause
FINE_SPEECH_ON = 0.5  # fine activity (speech probability per window) at or above: speech
TALK_PAD_S = 0.04  # a word / speech run is widened by this much on each side
TALK_JOIN_S = 0.08  # pauses shorter than this are no pause (between syllables)
PAUSE_POINT_MIN_S = 0.12  # a pause this long or longer offers a cut point (its middle)


# --------------------------------------------------------------------------- small helpers


def resample_per_second(values: Iterable[Any] | None, hop_s: float, n_seconds: int) -> np.ndarray:
    """Average a curve sampled every ``hop_s`` (sample k covers [k*hop, (k+1)*hop)) into
    ``n_seconds`` one-second bins.  Time not covered by the curve counts as 0."""
    v = floats(values)
    if n_seconds <= 0:
        return np.zeros(0)
    if v.size == 0:
        return np.zeros(n_seconds)
    hop = hop_s if hop_s and hop_s > 0 else 1.0
    if abs(hop - 1.0) < 1e-9:
        out = np.zeros(n_seconds)
        k = min(n_seconds, v.size)
        out[:k] = v[:k]
        return out
    edges = np.arange(v.size + 1) * hop
    cum = np.concatenate([[0.0], np.cumsum(v * hop)])
    at = np.interp(np.arange(n_seconds + 1, dtype=float), edges, cum)
    return np.diff(at)


def interval_coverage(intervals: Iterable[Any] | None, n_seconds: int) -> np.ndarray:
    """Share of each second ``[i, i+1)`` covered by the union of ``[[start, end], ...]``
    (or of ``[{"start", "end"}, ...]``: sections, lyric lines)."""
    cov = np.zeros(max(n_seconds, 0))
    spans: list[tuple[float, float]] = []
    for item in intervals or ():
        if isinstance(item, dict):
            s, e = num(item.get("start")), num(item.get("end"))
        else:
            s, e = num(item[0]), num(item[1])
        if s is None or e is None or e <= s:
            continue
        spans.append((max(0.0, s), min(float(n_seconds), e)))
    if not spans or n_seconds <= 0:
        return cov
    spans.sort()
    merged: list[list[float]] = []
    for s, e in spans:
        if merged and s <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], e)
        elif e > s:
            merged.append([s, e])
    lo = np.arange(n_seconds, dtype=float)
    for s, e in merged:
        i0, i1 = int(math.floor(s)), min(n_seconds, int(math.ceil(e)))
        if i1 <= i0:
            continue
        seg = lo[i0:i1]
        cov[i0:i1] += np.clip(np.minimum(e, seg + 1.0) - np.maximum(s, seg), 0.0, 1.0)
    return np.clip(cov, 0.0, 1.0)


def window_rate(events: np.ndarray, n_seconds: int, window: tuple[float, float]) -> np.ndarray:
    """Events per second in the window ``[i + window[0], i + window[1])`` for each second i."""
    if n_seconds <= 0:
        return np.zeros(0)
    starts = np.arange(n_seconds, dtype=float)
    lo = np.searchsorted(events, starts + window[0], side="left")
    hi = np.searchsorted(events, starts + window[1], side="left")
    return (hi - lo) / (window[1] - window[0])


class Curve:
    """A piecewise-constant per-second signal with O(1) window means (prefix integral)."""

    __slots__ = ("_cum", "_grid", "values")

    def __init__(self, values: np.ndarray) -> None:
        self.values = np.asarray(values, dtype=float)
        self._cum = np.concatenate([[0.0], np.cumsum(self.values)])
        self._grid = np.arange(self._cum.size, dtype=float)

    def integral(self, t: np.ndarray | float) -> np.ndarray:
        """∫_0^t of the signal (exact: linear interpolation of the prefix sums)."""
        return np.interp(t, self._grid, self._cum)

    def mean(self, a: np.ndarray | float, b: np.ndarray | float) -> np.ndarray:
        a_arr, b_arr = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
        span = np.maximum(b_arr - a_arr, 1e-12)
        return (self.integral(b_arr) - self.integral(a_arr)) / span


def merge_spans(spans: Iterable[tuple[float, float]], pad: float = 0.0, join: float = 0.0) -> np.ndarray:
    """Sorted, merged ``(k, 2)`` spans; each widened by ``pad``; gaps up to ``join`` closed."""
    items = sorted((a - pad, b + pad) for a, b in spans if b > a)
    out: list[list[float]] = []
    for a, b in items:
        if out and a <= out[-1][1] + join:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return np.asarray(out, dtype=float).reshape(-1, 2)


def span_at(spans: np.ndarray, t: float) -> int | None:
    """Index of the span of merged ``spans`` with ``start <= t < end``, else None."""
    if spans.size == 0:
        return None
    k = int(np.searchsorted(spans[:, 0], t, side="right")) - 1
    return k if k >= 0 and t < spans[k, 1] else None


def nearest_outside(spans: np.ndarray, t: float, lo: float, hi: float) -> float | None:
    """The point of ``[lo, hi]`` closest to ``t`` outside every span of merged ``spans``
    (a span's edges count as outside), or None when the whole range is covered."""
    if hi < lo:
        return None
    t = min(max(t, lo), hi)
    k = span_at(spans, t)
    if k is None or t == spans[k, 0]:
        return t
    best: float | None = None
    a, b = float(spans[k, 0]), float(spans[k, 1])
    for c in (a, b):
        if lo <= c <= hi and (best is None or abs(c - t) < abs(best - t)):
            best = c
    return best


# --------------------------------------------------------------------------- timeline types


@dataclass(frozen=True)
class MusicTimeline:
    """Per-second music features (track time) plus the beat grid and sections."""

    duration: float
    features: dict[str, np.ndarray]
    curves: dict[str, Curve]
    available: frozenset[str]
    beats: BeatGrid
    sections: tuple[dict[str, Any], ...]
    #: merged sung phrases (track s, (k, 2)): transcribed lyric lines, or their words when the
    #: lines are missing; a music edge inside one cuts a phrase
    phrases: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))

    def in_phrase(self, t: float) -> bool:
        """``t`` falls strictly inside a sung phrase (its edges are clean)."""
        k = span_at(self.phrases, t)
        return k is not None and self.phrases[k, 0] + 1e-6 < t < self.phrases[k, 1] - 1e-6


@dataclass(frozen=True)
class FeatureTimeline:
    """Everything the templates and the scorer read.  Build it with ``build_timeline``."""

    duration: float
    fps: float
    width: float
    features: dict[str, np.ndarray]  # video features, per source second
    curves: dict[str, Curve]
    available: frozenset[str]  # video features that are available (see module doc)
    cut_times: np.ndarray  # shot boundaries (source seconds, > 0, < duration)
    onsets: np.ndarray  # original-audio onsets
    speech_pauses: np.ndarray  # centres of quiet seconds (only when speech is available)
    speech: np.ndarray
    face_times: np.ndarray
    face_x: np.ndarray  # horizontal face centre 0..1 at face_times
    music: MusicTimeline | None = None
    version: str = FEATURES_VERSION
    #: merged black/blank/fade/dissolve spans (source s, shape (k, 2)): no clip edge inside
    blanks: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))
    #: merged spans where someone speaks (source s, (k, 2)): fine VAD runs and transcript
    #: words, each padded by ``TALK_PAD_S``; empty when neither is known (then ``speech``)
    talk: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))
    fine_speech: bool = False  # ``talk`` comes from the fine activity / the word times

    @property
    def n_seconds(self) -> int:
        return int(self.features["motion"].size)

    def in_speech(self, t: float) -> bool:
        """Someone speaks at ``t`` (inside a word / a VAD speech run when the fine activity or
        the transcript is known, else in a mostly-speech second)."""
        if self.fine_speech:
            return span_at(self.talk, t) is not None
        i = int(math.floor(t))
        return 0 <= i < self.speech.size and self.speech[i] >= SPEECH_ON

    def in_blank(self, t: float) -> bool:
        """The frame at ``t`` is black/blank or fading."""
        return span_at(self.blanks, t) is not None

    def clean_start(self, t: float) -> float:
        """``t``, or the end of the blank/fade span that holds the frame at ``t``."""
        k = span_at(self.blanks, t)
        return float(self.blanks[k, 1]) if k is not None else float(t)

    def clean_end(self, t: float) -> float:
        """``t``, or the start of the blank/fade span that holds the frame just before ``t``."""
        k = span_at(self.blanks, t - 0.5 / max(self.fps, 1.0))
        return float(self.blanks[k, 0]) if k is not None else float(t)

    def face_center(self, spans: Sequence[tuple[float, float]]) -> float | None:
        """Median horizontal face centre (0..1) over the given source spans, None if no face."""
        if self.face_times.size == 0:
            return None
        mask = np.zeros(self.face_times.size, dtype=bool)
        for a, b in spans:
            mask |= (self.face_times >= a) & (self.face_times < b)
        if not mask.any():
            return None
        return float(np.median(self.face_x[mask]))

    def beat_table(self) -> list[dict[str, Any]]:
        """The per-beat timeline: one row per track beat with the music features at that beat."""
        if self.music is None:
            return []
        m = self.music
        rows = []
        for k, t in enumerate(m.beats.times):
            i = min(int(t), max(0, int(math.ceil(m.duration)) - 1))
            row: dict[str, Any] = {
                "time": float(t),
                "downbeat": bool(m.beats.is_downbeat[k]),
                "pos_in_bar": int(m.beats.pos_in_bar[k]),
                "strength": float(m.beats.strength[k]),
            }
            for name in MUSIC_FEATURES:
                if name != "beat_strength" and m.features[name].size:
                    row[name] = float(m.features[name][i])
            rows.append(row)
        return rows

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly dump (for storage/debugging; the engine never reads it back)."""
        out: dict[str, Any] = {
            "version": self.version,
            "hop_s": 1.0,
            "duration": self.duration,
            "video": {n: [round(float(x), 4) for x in v] for n, v in self.features.items()},
            "video_available": sorted(self.available),
            "cut_times": [float(x) for x in self.cut_times],
        }
        if self.music is not None:
            out["music"] = {n: [round(float(x), 4) for x in v] for n, v in self.music.features.items()}
            out["music_available"] = sorted(self.music.available)
            out["beats"] = self.beat_table()
        return out


# --------------------------------------------------------------------------- builders


def _video_duration(video: VideoAnalysisInput) -> float:
    d = num((video.get("meta") or {}).get("duration"))
    if d is not None and d > 0:
        return d
    # Fall back to whatever else tells us how long the source is.
    timeline: dict[str, Any] = dict(video.get("timeline") or {})
    hop = num(timeline.get("hop_s"), 1.0) or 1.0
    guess = 0.0
    for key in ("motion", "audio_energy", "speech", "faces", "novelty"):
        guess = max(guess, len(timeline.get(key) or ()) * hop)
    for shot in video.get("shots") or ():
        guess = max(guess, num(shot.get("end"), 0.0) or 0.0)
    return guess


def _face_points(video: VideoAnalysisInput) -> tuple[np.ndarray, np.ndarray]:
    """Per face sample: its time and the horizontal centre of its dominant (score x area) face."""
    face_times: list[float] = []
    xs: list[float] = []
    for entry in video.get("faces") or ():
        t = num(entry.get("time"))
        if t is None:
            continue
        best: tuple[float, float] | None = None  # (weight, centre)
        for box in entry.get("boxes") or ():
            x, _y, w, h = (num(v, 0.0) or 0.0 for v in box[:4])
            score = num(box[4], 1.0) if len(box) > 4 else 1.0
            weight = abs(w * h) * (score or 0.0)
            if best is None or weight > best[0]:
                best = (weight, x + w / 2.0)
        if best is not None:
            face_times.append(t)
            xs.append(min(1.0, max(0.0, best[1])))
    order = np.argsort(np.asarray(face_times), kind="stable")
    return np.asarray(face_times, dtype=float)[order], np.asarray(xs, dtype=float)[order]


def _spans(items: Iterable[Any] | None) -> list[tuple[float, float]]:
    """``[(start, end)]`` of ``[{"start", "end", ...}]`` entries with finite, ordered times."""
    out = []
    for item in items or ():
        if not isinstance(item, dict):
            continue
        a, b = num(item.get("start")), num(item.get("end"))
        if a is not None and b is not None and b > a:
            out.append((a, b))
    return out


def _talk_spans(video: VideoAnalysisInput) -> tuple[np.ndarray, bool]:
    """Where someone speaks: runs of the fine activity at or above ``FINE_SPEECH_ON`` and the
    transcript's words, merged (pauses under ``TALK_JOIN_S`` closed) and padded."""
    spans: list[tuple[float, float]] = []
    known = False
    act = video.get("speech_activity") or {}
    hop = num(act.get("hop_s"), 0.0) or 0.0
    values = floats(act.get("values"))
    if hop > 0 and values.size:
        known = True
        on = np.concatenate([[False], values >= FINE_SPEECH_ON, [False]])
        d = np.diff(on.astype(np.int8))
        for a, b in zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1), strict=True):
            spans.append((a * hop, b * hop))
    words = (video.get("transcript") or {}).get("words") or []
    word_spans = _spans(words)
    if word_spans:
        known = True
        spans += word_spans
    return merge_spans(spans, pad=TALK_PAD_S, join=TALK_JOIN_S), known


def _build_music(music: MusicAnalysisInput) -> MusicTimeline:
    onset = music.get("onset_curve") or {"hop_s": 0.0, "values": []}
    energy = music.get("energy_curve") or {"hop_s": 1.0, "values": []}
    onset_vals, energy_vals = floats(onset.get("values")), floats(energy.get("values"))
    onset_hop = num(onset.get("hop_s"), 0.0) or 0.0
    energy_hop = num(energy.get("hop_s"), 1.0) or 1.0
    sections: list[dict[str, Any]] = [dict(s) for s in music.get("sections") or ()]

    duration = num(music.get("duration"), 0.0) or 0.0
    if duration <= 0:
        listed = times(music.get("beats"))
        duration = max(
            [0.0, float(listed[-1]) if listed.size else 0.0]
            + [onset_vals.size * onset_hop, energy_vals.size * energy_hop]
            + [num(s.get("end"), 0.0) or 0.0 for s in sections]
        )
    n = int(math.ceil(duration)) if duration > 0 else 0
    beats = build_beat_grid(music, duration, onset_vals, onset_hop)

    # ---- per-second features
    feats: dict[str, np.ndarray] = {}
    available: set[str] = set()
    e = resample_per_second(energy_vals, energy_hop, n)
    if energy_vals.size and e.max() > 0:
        feats["music_energy"] = np.clip(e / e.max(), 0.0, 1.0)
        available.add("music_energy")
    else:
        feats["music_energy"] = np.zeros(n)
    bs: np.ndarray = np.zeros(n)
    if len(beats) and n:
        sec = np.minimum(beats.times.astype(int), n - 1)
        sums = np.bincount(sec, weights=beats.strength, minlength=n)[:n]
        counts = np.bincount(sec, minlength=n)[:n]
        bs = np.divide(sums, counts, out=np.zeros(n), where=counts > 0)
        available.add("beat_strength")
    feats["beat_strength"] = bs
    singing = (music.get("activity") or {}).get("singing") or []
    feats["singing"] = interval_coverage(singing, n)
    if singing:
        available.add("singing")
    peaks = [s for s in sections if s.get("is_peak")]
    feats["section_peak"] = interval_coverage(peaks, n)
    if sections:
        available.add("section_peak")
    segments = (music.get("transcription") or {}).get("segments") or []
    feats["lyric_line"] = interval_coverage(segments, n)
    if segments:
        available.add("lyric_line")
    feats = {k: np.clip(np.nan_to_num(v), 0.0, 1.0) for k, v in feats.items()}
    ordered = {k: feats[k] for k in MUSIC_FEATURES}
    phrase_spans = _spans(segments)
    if not phrase_spans:
        phrase_spans = _spans(w for seg in segments for w in (seg.get("words") or ()))
    return MusicTimeline(
        duration=float(duration),
        features=ordered,
        curves={k: Curve(v) for k, v in ordered.items()},
        available=frozenset(available),
        beats=beats,
        sections=tuple(sections),
        phrases=merge_spans(phrase_spans),
    )


def build_timeline(video: VideoAnalysisInput, music: MusicAnalysisInput | None = None) -> FeatureTimeline:
    """Build the feature timeline from a video analysis and an optional music analysis."""
    meta = video.get("meta") or {}
    duration = max(0.0, _video_duration(video))
    n = int(math.ceil(duration - 1e-9)) if duration > 0 else 0
    fps = num(meta.get("fps"), 30.0) or 30.0
    if fps <= 0:
        fps = 30.0
    width = num(meta.get("width"), 0.0) or 0.0
    has_audio = meta.get("has_audio", True) is not False
    timeline: dict[str, Any] = dict(video.get("timeline") or {})
    hop = num(timeline.get("hop_s"), 1.0) or 1.0

    feats: dict[str, np.ndarray] = {}
    available: set[str] = set()
    for name in ("motion", "novelty", "faces", "audio_energy", "speech"):
        raw = timeline.get(name) or []
        feats[name] = np.clip(resample_per_second(raw, hop, n), 0.0, 1.0)
        if raw and (has_audio or name not in ("audio_energy", "speech")):
            available.add(name)
    if not has_audio:
        feats["audio_energy"] = np.zeros(n)
        feats["speech"] = np.zeros(n)

    impacts = video.get("impacts") or []
    imp_sum = np.zeros(n)
    for item in impacts:
        t = num(item.get("time"))
        if t is None or not 0 <= t < max(duration, 1e-9) or n == 0:
            continue
        strength = min(1.0, max(0.0, num(item.get("strength"), 1.0) or 0.0))
        imp_sum[min(int(t), n - 1)] += strength
    feats["impact"] = 1.0 - np.exp(-IMPACT_GAIN * imp_sum)
    if impacts:
        available.add("impact")

    # Shot boundaries: listed cuts, plus shot starts (the same information when both exist).
    frame = 1.0 / fps
    cuts, shots = video.get("cuts") or [], video.get("shots") or []
    cut_candidates = [c.get("time") for c in cuts] + [s.get("start") for s in shots]
    raw_cuts = times(cut_candidates, lo=frame / 2, hi=max(0.0, duration - frame / 2))
    if raw_cuts.size > 1:  # merge boundaries closer than a frame (same cut listed twice)
        keep = np.concatenate([[True], np.diff(raw_cuts) > frame * 0.99])
        raw_cuts = raw_cuts[keep]
    feats["shot_change"] = np.clip(window_rate(raw_cuts, n, SHOT_RATE_WINDOW) / SHOT_RATE_FULL, 0.0, 1.0)
    if cuts or shots:
        available.add("shot_change")

    listed_onsets = video.get("audio_onsets") or []
    onsets = times(listed_onsets, 0.0, duration) if has_audio else np.zeros(0)
    feats["onset_density"] = np.clip(window_rate(onsets, n, ONSET_WINDOW) / ONSET_RATE_FULL, 0, 1)
    if has_audio and listed_onsets:
        available.add("onset_density")

    feats = {k: np.clip(np.nan_to_num(feats[k]), 0.0, 1.0) for k in VIDEO_FEATURES}
    speech = feats["speech"]
    pauses = np.flatnonzero(speech < SPEECH_PAUSE).astype(float) + 0.5 if "speech" in available else np.zeros(0)
    pauses = pauses[pauses <= duration]
    face_t, face_x = _face_points(video)

    blanks = merge_spans(_spans(video.get("blanks")))
    talk, fine = _talk_spans(video) if "speech" in available else (np.zeros((0, 2)), False)
    if fine:  # cut points: the middles of the pauses between speech runs (and the ends)
        gaps_a = np.concatenate([[0.0], talk[:, 1]])
        gaps_b = np.concatenate([talk[:, 0], [duration]])
        ok = gaps_b - gaps_a >= PAUSE_POINT_MIN_S
        pauses = np.clip((gaps_a[ok] + gaps_b[ok]) / 2.0, 0.0, duration)

    music_tl = _build_music(music) if music is not None else None
    return FeatureTimeline(
        duration=float(duration),
        fps=float(fps),
        width=float(width),
        features=feats,
        curves={k: Curve(v) for k, v in feats.items()},
        available=frozenset(available),
        cut_times=raw_cuts,
        onsets=onsets,
        speech_pauses=pauses,
        speech=speech,
        face_times=face_t,
        face_x=face_x,
        music=music_tl,
        blanks=blanks,
        talk=talk,
        fine_speech=fine,
    )
