"""Feature timeline: one normalised, per-second view of a video analysis and a music analysis.

Everything the suggestion engine scores comes from here.  The analysers hand us JSON-like dicts
(see ``suggest_clips``); this module turns them into

* per-second arrays in **source time** for the video features (second ``i`` covers ``[i, i+1)``),
* per-second arrays in **track time** for the music features,
* a beat grid (times, downbeat flags, position in bar, strength) — the per-beat timeline,
* a few event lists the templates snap to (shot boundaries, audio onsets, speech pauses).

"Normalised" means a *fixed* mapping of every feature onto ``0..1`` (documented per feature in
``FEATURES``), not a per-video rescaling: a learned weight must mean the same thing on every
video, and the per-feature breakdown shown to artists must be readable ("motion 0.8" is a lot of
motion whatever else the video holds).  The only exception is the music onset/energy curves,
whose analyser units are raw (RMS, spectral flux); they are divided by the track's maximum.

A feature is *available* only when its source data is present and non-empty (and, for the
original-audio features, when the video has audio).  Unavailable features are left out of the
score entirely — they neither add nor dilute — so a silent video or an instrumental track is
not punished for what it cannot have.

Every list in the inputs may be empty or missing; malformed numbers (None, NaN) count as absent.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

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
DOWNBEAT_MATCH_S = 0.07  # a beat this close to a listed downbeat is that downbeat


# --------------------------------------------------------------------------- small helpers


def _num(value: Any, default: float | None = None) -> float | None:
    try:
        f = float(value)
    except (TypeError, ValueError):
        return default
    return f if math.isfinite(f) else default


def _floats(values: Any) -> np.ndarray:
    """A 1-d float array from a possibly messy list; None/NaN/garbage become 0."""
    if values is None:
        return np.zeros(0)
    out = [_num(v, 0.0) for v in values] if isinstance(values, Iterable) else []
    return np.asarray(out, dtype=float)


def _time_of(value: Any) -> float | None:
    """An event time: a number, or a dict with a ``time`` key (e.g. ``{"time", "strength"}``)."""
    if isinstance(value, Mapping):
        return _num(value.get("time"))
    return _num(value)


def _times(values: Any, lo: float = 0.0, hi: float = math.inf) -> np.ndarray:
    """Sorted unique event times in ``[lo, hi]``; entries that are not times are dropped."""
    if not values or not isinstance(values, Iterable):
        return np.zeros(0)
    out = [f for f in (_time_of(v) for v in values) if f is not None and lo <= f <= hi]
    return np.unique(np.asarray(out, dtype=float))


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> Sequence[Any]:
    return value if isinstance(value, (list, tuple)) else []


def resample_per_second(values: Any, hop_s: float, n_seconds: int) -> np.ndarray:
    """Average a curve sampled every ``hop_s`` (sample k covers [k*hop, (k+1)*hop)) into
    ``n_seconds`` one-second bins.  Time not covered by the curve counts as 0."""
    v = _floats(values)
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


def interval_coverage(intervals: Any, n_seconds: int) -> np.ndarray:
    """Share of each second ``[i, i+1)`` covered by the union of ``[[start, end], ...]``."""
    cov = np.zeros(max(n_seconds, 0))
    spans: list[tuple[float, float]] = []
    for item in _list(intervals):
        if isinstance(item, Mapping):
            s, e = _num(item.get("start")), _num(item.get("end"))
        elif isinstance(item, (list, tuple)) and len(item) >= 2:
            s, e = _num(item[0]), _num(item[1])
        else:
            continue
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


# --------------------------------------------------------------------------- timeline types


@dataclass(frozen=True)
class BeatGrid:
    """The track's beats (per-beat timeline), in track seconds, sorted.

    ``pos_in_bar`` is 0 on a downbeat.  ``synthetic`` is True when the track listed no beats
    and the grid was built from its tempo (so cuts are on the tempo grid, not detected beats).
    """

    times: np.ndarray
    is_downbeat: np.ndarray
    pos_in_bar: np.ndarray
    strength: np.ndarray
    beats_per_bar: int = 4
    synthetic: bool = False

    @property
    def period(self) -> float:
        """Median beat period in seconds (0.5 s when fewer than two beats)."""
        if self.times.size < 2:
            return 0.5
        return float(np.median(np.diff(self.times)))

    def __len__(self) -> int:
        return int(self.times.size)


@dataclass(frozen=True)
class MusicTimeline:
    """Per-second music features (track time) plus the beat grid and sections."""

    duration: float
    features: dict[str, np.ndarray]
    curves: dict[str, Curve]
    available: frozenset[str]
    beats: BeatGrid
    sections: tuple[dict[str, Any], ...]


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

    @property
    def n_seconds(self) -> int:
        return int(self.features["motion"].size)

    def in_speech(self, t: float) -> bool:
        i = int(math.floor(t))
        return 0 <= i < self.speech.size and self.speech[i] >= SPEECH_ON

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


def _video_duration(video: Mapping[str, Any]) -> float:
    meta = _dict(video.get("meta"))
    d = _num(meta.get("duration"))
    if d is not None and d > 0:
        return d
    # Fall back to whatever else tells us how long the source is.
    timeline = _dict(video.get("timeline"))
    hop = _num(timeline.get("hop_s"), 1.0) or 1.0
    guess = 0.0
    for key in ("motion", "audio_energy", "speech", "faces", "novelty"):
        guess = max(guess, len(_list(timeline.get(key))) * hop)
    for shot in _list(video.get("shots")):
        guess = max(guess, _num(_dict(shot).get("end"), 0.0) or 0.0)
    return guess


def _face_points(video: Mapping[str, Any], width: float) -> tuple[np.ndarray, np.ndarray]:
    times: list[float] = []
    xs: list[float] = []
    for entry in _list(video.get("faces")):
        entry = _dict(entry)
        t = _num(entry.get("time"))
        if t is None:
            continue
        best: tuple[float, float] | None = None  # (weight, centre)
        for box in _list(entry.get("boxes")):
            if not isinstance(box, (list, tuple)) or len(box) < 4:
                continue
            x, _y, w, h = (_num(v, 0.0) or 0.0 for v in box[:4])
            score = _num(box[4], 1.0) if len(box) > 4 else 1.0
            cx = x + w / 2.0
            if cx > 1.0 or w > 1.0:  # pixel coordinates
                cx = cx / width if width > 0 else 0.5
            weight = abs(w * h) * (score or 0.0)
            if best is None or weight > best[0]:
                best = (weight, cx)
        if best is not None:
            times.append(t)
            xs.append(min(1.0, max(0.0, best[1])))
    order = np.argsort(np.asarray(times), kind="stable")
    return np.asarray(times, dtype=float)[order], np.asarray(xs, dtype=float)[order]


def _build_music(music: Mapping[str, Any]) -> MusicTimeline:
    beats_raw = _times(music.get("beats"))
    onset = _dict(music.get("onset_curve"))
    energy = _dict(music.get("energy_curve"))
    onset_vals, energy_vals = _floats(onset.get("values")), _floats(energy.get("values"))
    onset_hop = _num(onset.get("hop_s"), 0.0) or 0.0
    energy_hop = _num(energy.get("hop_s"), 1.0) or 1.0
    sections: list[dict[str, Any]] = [dict(_dict(s)) for s in _list(music.get("sections"))]

    duration = _num(music.get("duration"), 0.0) or 0.0
    if duration <= 0:
        duration = max(
            [0.0, float(beats_raw[-1]) if beats_raw.size else 0.0]
            + [onset_vals.size * onset_hop, energy_vals.size * energy_hop]
            + [_num(s.get("end"), 0.0) or 0.0 for s in sections]
        )
    n = int(math.ceil(duration)) if duration > 0 else 0
    beats_raw = beats_raw[beats_raw <= duration + 1e-9]

    # ---- beat grid
    synthetic = False
    tempo = _num(music.get("tempo"), 0.0) or 0.0
    if beats_raw.size == 0 and tempo > 0 and duration > 0:
        beats_raw = np.arange(0.0, duration + 1e-9, 60.0 / tempo)
        synthetic = True
    nb = beats_raw.size
    is_down: np.ndarray = np.zeros(nb, dtype=bool)
    positions = _list(music.get("beat_positions"))
    raw_beats_list = _list(music.get("beats"))
    downbeats = _times(music.get("downbeats"))
    if downbeats.size and nb:
        idx = np.clip(np.searchsorted(downbeats, beats_raw), 1, downbeats.size) - 1
        nearest = np.minimum(
            np.abs(beats_raw - downbeats[idx]),
            np.abs(beats_raw - downbeats[np.minimum(idx + 1, downbeats.size - 1)]),
        )
        is_down = nearest <= DOWNBEAT_MATCH_S
    elif not synthetic and positions and len(positions) == len(raw_beats_list):
        # beat_positions is parallel to the analyser's beats list, 1-based (1 = downbeat) as
        # music.analysis.rhythm writes it; a 0-based list (it holds a 0) marks downbeats with 0.
        pv_all = [_num(p) for p in positions]
        first = 0 if any(p is not None and round(p) == 0 for p in pv_all) else 1
        pos_map = {}
        for b, pv in zip(raw_beats_list, pv_all, strict=False):
            bt = _num(b)
            if bt is not None and pv is not None:
                pos_map[bt] = round(pv) == first
        is_down = np.array([pos_map.get(float(t), False) for t in beats_raw], dtype=bool)
    meter = _num(music.get("meter"))
    bpb = int(min(12, max(2, round(meter)))) if meter else 4
    if nb and not is_down.any():
        is_down[::bpb] = True  # no bar information: assume the meter (4/4) from the first beat
    down_idx = np.flatnonzero(is_down)
    if down_idx.size >= 2:
        bpb = int(min(12, max(2, round(float(np.median(np.diff(down_idx)))))))
    pos = np.zeros(nb, dtype=int)
    if nb:
        last = -1
        first = int(down_idx[0]) if down_idx.size else 0
        for k in range(nb):
            if is_down[k]:
                last = k
            pos[k] = (k - last) if last >= 0 else (bpb - (first - k) % bpb) % bpb
    # beat strength
    if onset_vals.size and onset_hop > 0 and onset_vals.max() > 0:
        onorm = np.clip(onset_vals / onset_vals.max(), 0.0, 1.0)
        idx = np.clip(np.round(beats_raw / onset_hop).astype(int), 0, onorm.size - 1)
        lo, hi = np.maximum(idx - 1, 0), np.minimum(idx + 1, onorm.size - 1)
        strength = np.maximum(np.maximum(onorm[lo], onorm[idx]), onorm[hi])
    else:
        strength = np.where(is_down, 1.0, 0.5)
    beats = BeatGrid(
        times=beats_raw,
        is_downbeat=is_down,
        pos_in_bar=pos,
        strength=np.asarray(strength, dtype=float),
        beats_per_bar=bpb,
        synthetic=synthetic,
    )

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
    if nb and n:
        sec = np.minimum(beats_raw.astype(int), n - 1)
        sums = np.bincount(sec, weights=beats.strength, minlength=n)[:n]
        counts = np.bincount(sec, minlength=n)[:n]
        bs = np.divide(sums, counts, out=np.zeros(n), where=counts > 0)
        available.add("beat_strength")
    feats["beat_strength"] = bs
    activity = _dict(music.get("activity"))
    singing = _list(activity.get("singing"))
    feats["singing"] = interval_coverage(singing, n)
    if singing:
        available.add("singing")
    peaks = [s for s in sections if s.get("is_peak")]
    feats["section_peak"] = interval_coverage(peaks, n)
    if sections:
        available.add("section_peak")
    segments = _list(_dict(music.get("transcription")).get("segments"))
    feats["lyric_line"] = interval_coverage(segments, n)
    if segments:
        available.add("lyric_line")
    feats = {k: np.clip(np.nan_to_num(v), 0.0, 1.0) for k, v in feats.items()}
    ordered = {k: feats[k] for k in MUSIC_FEATURES}
    return MusicTimeline(
        duration=float(duration),
        features=ordered,
        curves={k: Curve(v) for k, v in ordered.items()},
        available=frozenset(available),
        beats=beats,
        sections=tuple(sections),
    )


def build_timeline(video: Mapping[str, Any], music: Mapping[str, Any] | None = None) -> FeatureTimeline:
    """Build the feature timeline from a video analysis and an optional music analysis."""
    video = _dict(video)
    meta = _dict(video.get("meta"))
    duration = max(0.0, _video_duration(video))
    n = int(math.ceil(duration - 1e-9)) if duration > 0 else 0
    fps = _num(meta.get("fps"), 30.0) or 30.0
    if fps <= 0:
        fps = 30.0
    width = _num(meta.get("width"), 0.0) or 0.0
    has_audio = meta.get("has_audio", True) is not False
    timeline = _dict(video.get("timeline"))
    hop = _num(timeline.get("hop_s"), 1.0) or 1.0

    feats: dict[str, np.ndarray] = {}
    available: set[str] = set()
    for name in ("motion", "novelty", "faces", "audio_energy", "speech"):
        raw = _list(timeline.get(name))
        feats[name] = np.clip(resample_per_second(raw, hop, n), 0.0, 1.0)
        if raw and (has_audio or name not in ("audio_energy", "speech")):
            available.add(name)
    if not has_audio:
        feats["audio_energy"] = np.zeros(n)
        feats["speech"] = np.zeros(n)

    impacts = _list(video.get("impacts"))
    imp_sum = np.zeros(n)
    for item in impacts:
        item = _dict(item)
        t = _num(item.get("time"))
        if t is None or not 0 <= t < max(duration, 1e-9) or n == 0:
            continue
        strength = min(1.0, max(0.0, _num(item.get("strength"), 1.0) or 0.0))
        imp_sum[min(int(t), n - 1)] += strength
    feats["impact"] = 1.0 - np.exp(-IMPACT_GAIN * imp_sum)
    if impacts:
        available.add("impact")

    # Shot boundaries: listed cuts, plus shot starts (the same information when both exist).
    frame = 1.0 / fps
    cut_candidates = [_dict(c).get("time") for c in _list(video.get("cuts"))]
    cut_candidates += [_dict(s).get("start") for s in _list(video.get("shots"))]
    raw_cuts = _times(cut_candidates, lo=frame / 2, hi=max(0.0, duration - frame / 2))
    if raw_cuts.size > 1:  # merge boundaries closer than a frame (same cut listed twice)
        keep = np.concatenate([[True], np.diff(raw_cuts) > frame * 0.99])
        raw_cuts = raw_cuts[keep]
    feats["shot_change"] = np.clip(window_rate(raw_cuts, n, SHOT_RATE_WINDOW) / SHOT_RATE_FULL, 0.0, 1.0)
    if _list(video.get("cuts")) or _list(video.get("shots")):
        available.add("shot_change")

    onsets = _times(video.get("audio_onsets"), 0.0, duration) if has_audio else np.zeros(0)
    feats["onset_density"] = np.clip(window_rate(onsets, n, ONSET_WINDOW) / ONSET_RATE_FULL, 0, 1)
    if has_audio and _list(video.get("audio_onsets")):
        available.add("onset_density")

    feats = {k: np.clip(np.nan_to_num(feats[k]), 0.0, 1.0) for k in VIDEO_FEATURES}
    speech = feats["speech"]
    pauses = np.flatnonzero(speech < SPEECH_PAUSE).astype(float) + 0.5 if "speech" in available else np.zeros(0)
    pauses = pauses[pauses <= duration]
    face_t, face_x = _face_points(video, width)

    music_tl = _build_music(_dict(music)) if music is not None else None
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
    )
